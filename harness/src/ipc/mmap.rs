//! Anonymous memory mappings (`mmap(2)` with MAP_ANONYMOUS): shared with
//! forked children under MAP_SHARED, copied on write under MAP_PRIVATE. They
//! have no name in the kernel, so nothing outlives the processes that map
//! them and there is no [`super::Lifecycle`].

use super::{Mapping, StepError};
use crate::sys;

#[derive(Debug)]
pub struct Live {
    pub size: u64,
    pub shared: bool,
    pub mapping: Option<Mapping>,
}

impl Live {
    pub fn new(size: u64, shared: bool) -> Self {
        Live { size, shared, mapping: None }
    }

    pub fn map(&mut self, at: sys::Placement) -> Result<(), StepError> {
        let addr = sys::mmap_anonymous(self.size as usize, self.shared, at)?;
        self.mapping = Some(Mapping { addr, len: self.size as usize });
        Ok(())
    }

    pub fn unmap(&mut self) -> Result<(), StepError> {
        Mapping::unmap(&mut self.mapping)
    }
}
