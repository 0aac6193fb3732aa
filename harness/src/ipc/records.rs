//! The seed's critical region, made checkable: processes append fixed-size
//! records to one file, each record written in several write(2) calls, and
//! a check reads the file back record by record. The same records written
//! to a pipe, one write(2) each, show PIPE_BUF atomicity (pipe(7)). Guarded by a semaphore,
//! every record is whole; unguarded, the chunks of concurrent writers
//! interleave, which the check counts.
//!
//! A record of `size` bytes is `r<instance>-<seq>|`, then filler bytes that
//! depend on the writer, then a newline; so a record made of two writers'
//! chunks, or shifted by another's chunk, does not read back as one.

use super::StepError;
use crate::sys;

pub const MIN_SIZE: u32 = 16;

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub size: usize,
    pub chunks: usize,
}

fn record(instance: u32, seq: u32, size: usize) -> Vec<u8> {
    let mut r = format!("r{instance}-{seq}|").into_bytes();
    let fill = b'a' + (instance % 26) as u8;
    r.resize(size - 1, fill);
    r.truncate(size - 1);
    r.push(b'\n');
    r
}

/// Append `records` records; with `guard`, each inside a P/V on semaphore 0.
pub fn append(fd: i32, guard: Option<i32>, shape: Shape, instance: u32, records: u32) -> Result<(), StepError> {
    sys::set_append(fd)?;
    let per_chunk = shape.size.div_ceil(shape.chunks);
    for seq in 0..records {
        if let Some(id) = guard {
            sys::semop(id, &[sys::SemBuf { num: 0, op: -1, flags: libc::SEM_UNDO as i16 }], None)?;
        }
        for chunk in record(instance, seq, shape.size).chunks(per_chunk) {
            sys::write_all(fd, chunk)?;
        }
        if let Some(id) = guard {
            sys::semop(id, &[sys::SemBuf { num: 0, op: 1, flags: libc::SEM_UNDO as i16 }], None)?;
        }
    }
    Ok(())
}

/// Read the file from the start, or a pipe (`stream`) until end of file:
/// (records examined, records broken). A record is broken if it is not
/// exactly what its header says its writer wrote; missing or extra records
/// against `expected` count as broken too.
pub fn check(fd: i32, stream: bool, size: usize, expected: u64) -> Result<(u64, u64), StepError> {
    let bytes = if stream { sys::read_to_end(fd)? } else { sys::read_whole(fd)? };
    let mut examined = 0;
    let mut broken = 0;
    for r in bytes.chunks(size) {
        examined += 1;
        if !whole(r, size) {
            broken += 1;
        }
    }
    Ok((examined, broken + examined.abs_diff(expected)))
}

fn whole(r: &[u8], size: usize) -> bool {
    let Some(bar) = r.iter().position(|b| *b == b'|') else { return false };
    let header = String::from_utf8_lossy(&r[..bar]);
    let Some((i, s)) = header.strip_prefix('r').and_then(|h| h.split_once('-')) else { return false };
    match (i.parse::<u32>(), s.parse::<u32>()) {
        (Ok(instance), Ok(seq)) => r == record(instance, seq, size).as_slice(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_check_whole_and_catch_interleaving() {
        let a = record(1, 7, 64);
        assert_eq!(a.len(), 64);
        assert!(whole(&a, 64));
        let b = record(2, 7, 64);
        let mut mixed = a[..32].to_vec();
        mixed.extend_from_slice(&b[32..]);
        assert!(!whole(&mixed, 64), "a record of two writers' halves");
        let mut shifted = a[8..].to_vec();
        shifted.extend_from_slice(&b[..8]);
        assert!(!whole(&shifted, 64), "a record shifted by another's chunk");
    }
}
