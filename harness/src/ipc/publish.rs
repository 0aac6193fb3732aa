//! The publication check: how a record written by one process becomes
//! visible, whole, to another through shared memory.
//!
//! A writer fills a record with plain stores and then publishes it by
//! storing the number of records with release ordering; the reader waits
//! for that number with acquire loads and only then reads the record. The
//! release/acquire pair is what makes every byte of the record visible
//! before the count (C11 and Rust atomics; the kernel maps the same page
//! frames into both processes, so the CPU's ordering rules are the only
//! ones). On x86 stores are never reordered with each other, so a torn
//! record there means broken sharing or a compiler that moved the stores;
//! on arm64 and POWER a missing barrier shows up as torn records.
//!
//! Layout from the ring's offset: a 64-byte header (the published count at
//! +0, the consumed count at +8, on their own cache line) and then slots of
//! 64 bytes, record `n` in slot `n % slots`. The writer never overwrites a
//! slot the reader has not consumed, so every record is checked exactly once.

use std::time::{Duration, Instant};

use super::{Mapping, StepError};
use crate::sys;

pub const HEADER: usize = 64;
pub const SLOT: usize = 64;
pub const MAX_RECORDS: u64 = 10_000_000;

/// Publish records `1..=records`. With `fill_after_publish` the protocol is
/// broken on purpose: the count goes out first and the slot is filled only
/// after the reader took it, so every record it reads is stale.
pub fn publish(m: Mapping, offset: u64, records: u64, fill_after_publish: bool, bound: Duration) -> Result<i64, StepError> {
    let ring = Ring::new(m, offset)?;
    let deadline = Instant::now() + bound;
    for n in 1..=records {
        if fill_after_publish {
            sys::store_release_u64(ring.published(), n);
            ring.wait(deadline, n, || sys::load_acquire_u64(ring.consumed()) >= n)?;
            sys::write_mapped(ring.slot(n), &record(n));
        } else {
            ring.wait(deadline, n, || n - sys::load_acquire_u64(ring.consumed()) <= ring.slots)?;
            sys::write_mapped(ring.slot(n), &record(n));
            sys::store_release_u64(ring.published(), n);
        }
    }
    Ok(0)
}

/// Take records `1..=records`; the value is how many were torn or stale.
pub fn consume(m: Mapping, offset: u64, records: u64, bound: Duration) -> Result<i64, StepError> {
    let ring = Ring::new(m, offset)?;
    let deadline = Instant::now() + bound;
    let mut torn = 0;
    for n in 1..=records {
        ring.wait(deadline, n, || sys::load_acquire_u64(ring.published()) >= n)?;
        if sys::read_mapped(ring.slot(n), SLOT) != record(n) {
            torn += 1;
        }
        sys::store_release_u64(ring.consumed(), n);
    }
    Ok(torn)
}

/// The bytes of record `n`: its number, then a pattern that differs from
/// every nearby record's in every byte.
fn record(n: u64) -> [u8; SLOT] {
    let mut r = [0u8; SLOT];
    r[..8].copy_from_slice(&n.to_le_bytes());
    for (k, b) in r[8..].iter_mut().enumerate() {
        *b = (n.wrapping_mul(131).wrapping_add(k as u64) % 251) as u8 + 1;
    }
    r
}

struct Ring {
    base: usize,
    slots: u64,
}

impl Ring {
    fn new(m: Mapping, offset: u64) -> Result<Ring, StepError> {
        let offset = offset as usize;
        let room = m.len.saturating_sub(offset + HEADER) / SLOT;
        if room == 0 || (m.addr + offset) % 64 != 0 {
            return Err(StepError::Misuse(format!("no room for a publication ring at offset {offset} of a {}-byte mapping", m.len)));
        }
        Ok(Ring { base: m.addr + offset, slots: room as u64 })
    }
    fn published(&self) -> usize {
        self.base
    }
    fn consumed(&self) -> usize {
        self.base + 8
    }
    fn slot(&self, n: u64) -> usize {
        self.base + HEADER + (n % self.slots) as usize * SLOT
    }

    /// Spin until `ready`, yielding the CPU between rounds (the peer may
    /// share it); give up at the deadline.
    fn wait(&self, deadline: Instant, n: u64, mut ready: impl FnMut() -> bool) -> Result<(), StepError> {
        let mut rounds = 0u32;
        while !ready() {
            rounds = rounds.wrapping_add(1);
            if rounds % 64 == 0 {
                if Instant::now() > deadline {
                    return Err(StepError::Misuse(format!("record {n}: the other side made no progress before the scenario's timeout")));
                }
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_differ_in_every_pattern_byte_from_their_neighbours_and_from_zero() {
        for n in 1..5000u64 {
            for other in [n + 1, n + 62, n + 63] {
                let (a, b) = (record(n), record(other));
                assert!(a[8..].iter().zip(b[8..].iter()).all(|(x, y)| x != y), "records {n} and {other}");
            }
            assert!(record(n)[8..].iter().all(|b| *b != 0));
        }
    }
}
