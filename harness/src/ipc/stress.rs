//! Stress without handshakes: several processes write and check the same
//! shared pages at once, each owning every n-th 64-byte block, so every
//! page is written by all of them concurrently (as LTP's mmapstress
//! programs do with random pages). A block that does not hold what its
//! owner wrote means the mapping lost, mixed or misplaced data.

use super::Mapping;
use crate::sys;

pub const BLOCK: usize = 64;
pub const MAX_ROUNDS: u32 = 100_000;

/// Rounds of writing this writer's blocks and checking them; returns the
/// number of block checks that failed.
pub fn stress(m: Mapping, writers: u32, me: u32, rounds: u32) -> i64 {
    let mut wrong = 0;
    for round in 1..=rounds {
        for b in own_blocks(m, writers, me) {
            sys::write_mapped(m.addr + b * BLOCK, &pattern(round, b));
        }
        wrong += own_blocks(m, writers, me).filter(|&b| sys::read_mapped(m.addr + b * BLOCK, BLOCK) != pattern(round, b)).count();
    }
    wrong as i64
}

/// How many blocks of the whole mapping do not hold round `round`'s pattern.
pub fn check(m: Mapping, round: u32) -> i64 {
    (0..m.len / BLOCK).filter(|&b| sys::read_mapped(m.addr + b * BLOCK, BLOCK) != pattern(round, b)).count() as i64
}

fn own_blocks(m: Mapping, writers: u32, me: u32) -> impl Iterator<Item = usize> {
    (me as usize..m.len / BLOCK).step_by(writers.max(1) as usize)
}

/// The bytes of block `b` in round `round`: both numbers, then bytes that
/// differ from the previous round's and from zero.
fn pattern(round: u32, b: usize) -> [u8; BLOCK] {
    let mut p = [0u8; BLOCK];
    p[..4].copy_from_slice(&round.to_le_bytes());
    p[4..12].copy_from_slice(&(b as u64).to_le_bytes());
    for (k, x) in p[12..].iter_mut().enumerate() {
        *x = ((u64::from(round) * 7 + b as u64 * 13 + k as u64) % 251) as u8 + 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_differ_between_rounds_and_blocks() {
        for round in 1..300 {
            for b in 0..64 {
                assert_ne!(pattern(round, b), pattern(round + 1, b));
                assert_ne!(pattern(round, b), pattern(round, b + 1));
                assert!(pattern(round, b)[12..].iter().all(|x| *x != 0));
            }
        }
    }
}
