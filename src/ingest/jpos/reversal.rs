//! Reversals and what they reverse: a terminal or host sends a reversal (0400, or the advice
//! 0420; 1400/1420 in ISO 8583:1993) to undo a transaction it could not complete, typically
//! one whose response never came or came too late.
//!
//! A reversal is *linked* when the transaction it names was seen earlier in the same log:
//! - by field 90 (original data elements: original MTI, 4 digits; original STAN, 6;
//!   original transmission date/time (field 7), 10; then acquirer and forwarding institution
//!   ids) when it is there: an earlier card request or response with that STAN, of the same
//!   version, class and function family as the original MTI (0200 names a 0200, its repeat
//!   0201 or its response 0210), whose field 7, terminal and merchant do not contradict the
//!   reversal's (a field 7 of zeros says nothing);
//! - otherwise by terminal (41) and STAN (11): an earlier card request or response with the
//!   same terminal and STAN whose RRN (37) does not contradict it.
//!
//! Field 90 that does not start with ten digits, or names MTI `0000`, counts as absent.
//! A repeat (0401, 0421) of a reversal already counted, with the same terminal, STAN, RRN
//! and field 90, is the same reversal sent again and is not counted twice. Events without a
//! readable time are neither remembered nor found.
//!
//! Memory is bounded: the last [`MAX_EARLIER`] card messages within [`EARLIER_WINDOW_MS`]
//! (a reversal advice is retried until acknowledged, which can take a while).

use super::link::{Recent, MAX_REQUESTS};
use super::Msg;

/// How far back a reversal looks for what it reverses.
const EARLIER_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// At most this many earlier card messages are remembered, about 0.2 KB each.
const MAX_EARLIER: usize = MAX_REQUESTS;

/// A card message seen earlier, with what linking compares.
struct Earlier {
    mti: String,
    /// Elements 7, 37, 41, 42, 90 (trimmed), in that order.
    values: [Option<String>; 5],
    reversal: bool,
}

const KEPT: [u32; 5] = [7, 37, 41, 42, 90];

impl Earlier {
    fn get(&self, id: u32) -> Option<&str> {
        let i = KEPT.iter().position(|&k| k == id)?;
        self.values[i].as_deref()
    }
}

/// The card messages seen so far, by STAN.
pub(super) struct History {
    earlier: Recent<Earlier>,
}

impl Default for History {
    fn default() -> Self {
        History {
            earlier: Recent::new(MAX_EARLIER, EARLIER_WINDOW_MS),
        }
    }
}

/// Is this MTI (4 digits) a reversal: class 4, a request or an advice?
pub(super) fn is_reversal(mti: &str) -> bool {
    let b = mti.as_bytes();
    b.len() == 4 && b[1] == b'4' && matches!(b[2], b'0' | b'2')
}

/// The key a STAN is kept under: leading zeros dropped, so `451` finds `000451`.
fn stan_key(stan: &str) -> String {
    let t = stan.trim().trim_start_matches('0');
    if t.is_empty() { "0" } else { t }.to_string()
}

/// Version, class and function family (request and response alike; advice and advice
/// response alike) of a 4-digit MTI.
fn family(mti: &str) -> Option<(u8, u8, u8)> {
    let b = mti.as_bytes();
    (b.len() == 4 && b.iter().all(u8::is_ascii_digit)).then(|| (b[0], b[1], (b[2] - b'0') / 2))
}

impl History {
    /// Remember a card message (a request at its first sighting, a response as its record).
    pub(super) fn remember(&mut self, msg: &Msg, ms: Option<i64>) {
        let (Some(ms), Some(stan), Some(mti)) = (ms, msg.trimmed(11), msg.trimmed(0)) else {
            return;
        };
        let earlier = Earlier {
            mti: mti.to_string(),
            values: KEPT.map(|id| msg.trimmed(id).map(str::to_string)),
            // a reversal or its response: never what a reversal reverses
            reversal: mti.as_bytes().get(1) == Some(&b'4'),
        };
        self.earlier.push(stan_key(stan), ms, earlier);
    }

    /// A reversal request seen for the first time: None if it is a repeat of one already
    /// counted, else whether it is linked to what it reverses. It is remembered either way.
    pub(super) fn reversal(&mut self, msg: &Msg, ms: Option<i64>) -> Option<bool> {
        let repeat = msg.trimmed(0).is_some_and(|m| m.ends_with('1'));
        let counted_before = repeat && self.is_resent(msg);
        let linked = match original(msg) {
            Some(orig) => self.find(orig.stan, |e| {
                family(&e.mti).is_some_and(|f| Some(f) == family(orig.mti))
                    && not_contradicting(orig.f7, e.get(7))
                    && not_contradicting(msg.trimmed(41), e.get(41))
                    && not_contradicting(msg.trimmed(42), e.get(42))
            }),
            None => match (msg.trimmed(41), msg.trimmed(11)) {
                (Some(terminal), Some(stan)) => self.find(stan, |e| {
                    e.get(41) == Some(terminal) && not_contradicting(msg.trimmed(37), e.get(37))
                }),
                _ => false,
            },
        };
        self.remember(msg, ms);
        (!counted_before).then_some(linked)
    }

    /// Was a card message (not a reversal) with this STAN seen that passes `test`?
    fn find(&self, stan: &str, test: impl Fn(&Earlier) -> bool) -> bool {
        self.earlier
            .get(&stan_key(stan))
            .is_some_and(|mut all| all.any(|e| !e.reversal && test(e)))
    }

    /// Was this reversal (a repeat) counted already: a reversal with the same terminal, RRN
    /// and field 90 under its STAN?
    fn is_resent(&self, msg: &Msg) -> bool {
        let Some(stan) = msg.trimmed(11) else {
            return false;
        };
        self.earlier.get(&stan_key(stan)).is_some_and(|mut all| {
            all.any(|e| {
                e.reversal
                    && family(&e.mti) == msg.trimmed(0).and_then(family)
                    && [37, 41, 90].iter().all(|&id| e.get(id) == msg.trimmed(id))
            })
        })
    }
}

/// Equal where both are known.
fn not_contradicting(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// What field 90 says about the original transaction.
struct Original<'a> {
    mti: &'a str,
    stan: &'a str,
    /// Its field 7, unless absent or zeros.
    f7: Option<&'a str>,
}

fn original(msg: &Msg) -> Option<Original<'_>> {
    let v = msg.trimmed(90)?;
    let head = v.get(..10)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) || &head[..4] == "0000" {
        return None;
    }
    let f7 = v
        .get(10..20)
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()) && t.bytes().any(|b| b != b'0'));
    Some(Original {
        mti: &head[..4],
        stan: &head[4..10],
        f7,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Direction;
    use super::*;

    fn msg(fields: &[(u32, &str)]) -> Msg {
        let mut m = Msg::new(1, Direction::Receive);
        for &(id, v) in fields {
            m.set(id, v.to_string());
        }
        m
    }

    #[test]
    fn linked_by_field_90_or_by_terminal_and_stan() {
        let mut h = History::default();
        h.remember(
            &msg(&[(0, "0200"), (7, "0603091407"), (11, "000451"), (41, "T1")]),
            Some(0),
        );
        h.remember(
            &msg(&[
                (0, "0210"),
                (11, "000452"),
                (37, "R2"),
                (41, "T1"),
                (39, "00"),
            ]),
            Some(1),
        );
        let rev = |fields: &[(u32, &str)]| {
            let mut all = vec![(0, "0420")];
            all.extend_from_slice(fields);
            msg(&all)
        };
        let f90 = |s: &str| format!("{s}{}", "0".repeat(22));
        // by 90: the original MTI, STAN and field 7
        let ok = f90("02000004510603091407");
        assert_eq!(
            h.reversal(&rev(&[(11, "000900"), (41, "T1"), (90, &ok)]), Some(5)),
            Some(true)
        );
        // 90 names another field 7, another family (0100), another terminal: not linked
        for (bad, tid) in [
            (f90("02000004510603091408"), "T1"),
            (f90("01000004510603091407"), "T1"),
            (ok.clone(), "T9"),
        ] {
            assert_eq!(
                h.reversal(&rev(&[(11, "000901"), (41, tid), (90, &bad)]), Some(6)),
                Some(false),
                "{bad} {tid}"
            );
        }
        // zeros in field 7 say nothing; 90 of zeros is absent: terminal + STAN then
        let zeros = f90("02000004510000000000");
        assert_eq!(
            h.reversal(&rev(&[(11, "000902"), (41, "T1"), (90, &zeros)]), Some(7)),
            Some(true)
        );
        let none = "0".repeat(42);
        assert_eq!(
            h.reversal(
                &msg(&[(0, "0400"), (11, "000452"), (41, "T1"), (90, &none)]),
                Some(8)
            ),
            Some(true)
        );
        // by terminal + STAN: the RRN must not contradict; a reversal is no target
        assert_eq!(
            h.reversal(
                &msg(&[(0, "0400"), (11, "452"), (37, "R2"), (41, "T1")]),
                Some(9)
            ),
            Some(true)
        );
        assert_eq!(
            h.reversal(
                &msg(&[(0, "0400"), (11, "000452"), (37, "R3"), (41, "T1")]),
                Some(9)
            ),
            Some(false)
        );
        assert_eq!(
            h.reversal(&msg(&[(0, "0400"), (11, "000452"), (41, "T2")]), Some(9)),
            Some(false)
        );
        assert_eq!(
            h.reversal(&msg(&[(0, "0400"), (11, "000900")]), Some(9)),
            Some(false)
        );
        assert_eq!(
            h.reversal(&msg(&[(0, "0400"), (11, "000903"), (41, "T1")]), Some(9)),
            Some(false)
        );
    }

    #[test]
    fn a_repeat_of_a_counted_reversal_is_not_counted_again() {
        let mut h = History::default();
        let first = msg(&[(0, "0420"), (11, "000777"), (41, "T1")]);
        assert_eq!(h.reversal(&first, Some(0)), Some(false));
        let again = msg(&[(0, "0421"), (11, "000777"), (41, "T1")]);
        assert_eq!(h.reversal(&again, Some(30_000)), None);
        // a repeat of a reversal not seen (the log starts after it) counts
        let lone = msg(&[(0, "0421"), (11, "000778"), (41, "T1")]);
        assert_eq!(h.reversal(&lone, Some(30_000)), Some(false));
    }
}
