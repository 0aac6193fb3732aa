//! Handoff choreographies shared by every kind that can carry them: strict
//! ping-pong over two semaphores or two message channels, and numbered
//! messages from several producers checked for exactly-once, in-order
//! delivery. Each kind supplies only its calls; the counting lives here, so
//! SysV and POSIX are judged by the same rules.

use super::StepError;
use crate::exec::trace::Outcome;

/// `rounds` of strict alternation over two semaphores. The first side posts
/// its own and waits for the other's; the second side waits, then posts
/// back. The value counts rounds where, once the first side's wait
/// returned, its own post had not been taken: the other side answered
/// without waiting.
pub fn ping_pong_semaphores(
    rounds: u32,
    first: bool,
    mut post_mine: impl FnMut() -> Result<(), StepError>,
    mut wait_theirs: impl FnMut() -> Result<(), StepError>,
    mut value_of_mine: impl FnMut() -> Result<i64, StepError>,
) -> Result<Outcome, StepError> {
    let mut violations = 0;
    for _ in 0..rounds {
        if first {
            post_mine()?;
            wait_theirs()?;
            if value_of_mine()? != 0 {
                violations += 1;
            }
        } else {
            wait_theirs()?;
            post_mine()?;
        }
    }
    Ok(Outcome { examined: Some(u64::from(rounds)), ..Outcome::ok(violations) })
}

/// `rounds` of ping-pong over two message channels: the first side sends
/// the round's number and takes the reply, the second side takes and sends
/// it back. The value counts messages that carried another round.
pub fn ping_pong_messages(
    rounds: u32,
    first: bool,
    mut send: impl FnMut(&[u8]) -> Result<(), StepError>,
    mut take: impl FnMut() -> Result<Vec<u8>, StepError>,
) -> Result<Outcome, StepError> {
    let mut violations = 0;
    for r in 0..rounds {
        let round = r.to_string();
        if first {
            send(round.as_bytes())?;
        }
        if take()? != round.as_bytes() {
            violations += 1;
        }
        if !first {
            send(round.as_bytes())?;
        }
    }
    Ok(Outcome { examined: Some(u64::from(rounds)), ..Outcome::ok(violations) })
}

/// Send `p<instance>-<n>` for n in 0..messages.
pub fn send_numbered(instance: u32, messages: u32, mut send: impl FnMut(&[u8]) -> Result<(), StepError>) -> Result<Outcome, StepError> {
    for n in 0..messages {
        send(format!("p{instance}-{n}").as_bytes())?;
    }
    Ok(Outcome::ok(i64::from(messages)))
}

/// Take `messages` messages and count what breaks exactly-once, in-order
/// delivery per producer: a message out of its producer's order (or, for
/// the only consumer, after a gap), one that is not a numbered message, and,
/// when `alone`, any message still there after all were taken (`leftover`
/// takes one without waiting). Returns the count, with the messages examined.
pub fn receive_numbered(
    messages: u32,
    per_producer: u32,
    alone: bool,
    mut take: impl FnMut() -> Result<Vec<u8>, StepError>,
    mut leftover: impl FnMut() -> Result<Option<Vec<u8>>, StepError>,
) -> Result<Outcome, StepError> {
    let mut next: std::collections::BTreeMap<u32, u32> = std::collections::BTreeMap::new();
    let mut violations = 0i64;
    for _ in 0..messages {
        let text = take()?;
        let parsed = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.strip_prefix('p'))
            .and_then(|t| t.split_once('-'))
            .and_then(|(p, n)| Some((p.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
        match parsed {
            Some((p, n)) if n < per_producer && (n == *next.get(&p).unwrap_or(&0) || (!alone && n >= *next.get(&p).unwrap_or(&0))) => {
                next.insert(p, n + 1);
            }
            _ => violations += 1,
        }
    }
    // The only consumer must find nothing left: a duplicate or an extra
    // message would be.
    if alone {
        while leftover()?.is_some() {
            violations += 1;
        }
    }
    Ok(Outcome { examined: Some(u64::from(messages)), ..Outcome::ok(violations) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(msgs: &[&str]) -> impl FnMut() -> Result<Vec<u8>, StepError> {
        let mut it: Vec<Vec<u8>> = msgs.iter().rev().map(|m| m.as_bytes().to_vec()).collect();
        move || it.pop().ok_or_else(|| StepError::Misuse("drained".to_owned()))
    }

    #[test]
    fn numbered_in_order_is_clean_and_gaps_count_for_a_lone_consumer() {
        let ok = receive_numbered(4, 2, true, feed(&["p0-0", "p1-0", "p0-1", "p1-1"]), || Ok(None)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.result, Ok(0));
        let gap = receive_numbered(3, 3, true, feed(&["p0-0", "p0-2", "p0-1"]), || Ok(None)).unwrap_or_else(|e| panic!("{e}"));
        // p0-2 arrives where p0-1 is due: one violation; p0-1 is then in order.
        assert_eq!(gap.result, Ok(1));
        let mut extra = vec![Some(b"p0-0".to_vec()), None];
        let dup = receive_numbered(1, 1, true, feed(&["p0-0"]), move || Ok(extra.remove(0))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dup.result, Ok(1));
    }

    #[test]
    fn ping_pong_counts_foreign_rounds() {
        let o = ping_pong_messages(3, false, |_| Ok(()), feed(&["0", "2", "2"])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((o.result, o.examined), (Ok(1), Some(3)));
    }
}
