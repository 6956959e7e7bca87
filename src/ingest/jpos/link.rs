//! What ties the messages of one jPOS log together: a response takes the terminal and merchant
//! its request carried, and the same message (a response, or a request) logged twice is
//! recognised as one.
//!
//! Both look back only: a request is logged before its response (the side that receives it
//! logs it before answering), and the first sighting of a message is the one that counts.
//! Memory is bounded by time and by count: requests are kept for [`PAIR_WINDOW_MS`] and at
//! most [`MAX_REQUESTS`] of them, sightings of messages for [`DUMP_WINDOW_MS`] and at most
//! [`MAX_SIGHTINGS`]; whichever limit is reached first evicts the oldest.

use std::collections::{HashMap, VecDeque};

use super::{Direction, Msg};

/// A response is paired with a request logged at most this long before it. Hosts and MUXes
/// time a request out after 30–60 s; twice that leaves room for slow issuers.
pub(super) const PAIR_WINDOW_MS: i64 = 120_000;

/// Two sightings of one message on channels (server `send` + client `receive` in one JVM,
/// or a server and its channel both logging) are a few milliseconds apart.
pub(super) const ECHO_WINDOW_MS: i64 = 2_000;

/// A transaction manager dumps its context when the transaction ends, which can be well after
/// the response went out (participants that run after `SendResponse`).
pub(super) const DUMP_WINDOW_MS: i64 = 30_000;

/// At most this many requests are remembered: two minutes at 150 requests a second, about
/// 1 KB each (20 MB at the limit).
pub(super) const MAX_REQUESTS: usize = 20_000;

/// At most this many messages (responses and card requests) are remembered for recognising
/// their second sightings, about 0.4 KB each.
pub(super) const MAX_SIGHTINGS: usize = 20_000;

/// At most this many requests per STAN, and sightings per message content, are kept (the
/// newest): a test client that reuses STAN 000001 at 100 messages a second would otherwise
/// make every response scan thousands of them.
const MAX_PER_KEY: usize = 64;

/// One message is logged from a few vantage points at most (client, server, channel,
/// transaction manager); more sightings than this start a new message. It keeps the work per
/// event bounded on hostile input.
const MAX_VANTAGES: usize = 8;

/// The data elements a response without them takes from its request: amount, entry mode,
/// terminal, merchant, merchant name/location, currency. Never the PAN.
pub(super) const INHERITED: [u32; 6] = [4, 22, 41, 42, 43, 49];

/// Data elements a request is kept with: [`INHERITED`] and what pairing compares.
const KEPT: [u32; 8] = [0, 4, 22, 37, 41, 42, 43, 49];

/// Data elements that must be equal (trimmed; absent equals absent) for two sightings to be
/// one message: MTI, amount, transmission date/time, STAN, local time and date, RRN, response
/// code, terminal, merchant. Copies of one message agree on all of them; two transactions of
/// a test client that reuses STAN 000001 rarely do (7/12/13 and 37 move on).
pub(super) const ECHO_KEY: [u32; 10] = [0, 4, 7, 11, 12, 13, 37, 39, 41, 42];

/// Elements that, when a request and a response both carry them, must agree for the pair.
const MUST_AGREE: [u32; 3] = [37, 41, 42];

/// Recent requests and response sightings of one log.
pub(super) struct Link {
    /// Requests by STAN.
    requests: Recent<Request>,
    /// Sightings of responses and of card requests by [`ECHO_KEY`] (a request's key never
    /// equals a response's: the MTIs differ).
    sightings: Recent<Sighting>,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            requests: Recent::new(MAX_REQUESTS, PAIR_WINDOW_MS + ECHO_WINDOW_MS),
            sightings: Recent::new(MAX_SIGHTINGS, DUMP_WINDOW_MS + ECHO_WINDOW_MS),
        }
    }
}

struct Request {
    /// Only the [`KEPT`] elements (boxed: the queues stay small when they grow and shrink).
    msg: Box<Msg>,
    realm: String,
    ms: i64,
}

/// One message seen from one or more vantage points.
struct Sighting {
    first_ms: i64,
    /// Where it was seen: (direction, realm).
    seen: Vec<(Direction, String)>,
    /// What the reader noted about the message at its first sighting, for its copies: for a
    /// request, the number of its entry among the requests awaiting an answer (plus one; 0:
    /// none); for a response, 1 once it has answered a request.
    tag: u64,
}

impl Sighting {
    fn has_dump(&self) -> bool {
        self.seen.iter().any(|(d, _)| *d == Direction::Dump)
    }
}

impl Link {
    /// Keep a card request (a message with STAN and terminal or merchant) for pairing.
    /// Requests without a usable time cannot be paired within a window and are not kept.
    pub(super) fn remember(&mut self, msg: &Msg, realm: &str, ms: Option<i64>) {
        let (Some(ms), Some(stan)) = (ms, msg.trimmed(11)) else {
            return;
        };
        if msg.trimmed(41).is_none() && msg.trimmed(42).is_none() {
            return; // nothing a response could take from it
        }
        let key = stan.to_string();
        let request = Request {
            msg: Box::new(msg.only(&KEPT)),
            realm: realm.to_string(),
            ms,
        };
        self.requests.push(key, ms, request);
    }

    /// Is this message a second sighting of one already seen? Then the vantage point is
    /// added to it, and its tag (see [`Sighting::tag`]) is handed back to read or update.
    /// `key` is the message's [`echo_key`], taken from its own fields, before anything was
    /// inherited from a request.
    ///
    /// It is, when an earlier sighting has the same [`ECHO_KEY`], is within
    /// [`ECHO_WINDOW_MS`] ([`DUMP_WINDOW_MS`] when either is a dump), and was not seen from
    /// this vantage point (direction + realm) yet. The oldest such message takes it: copies
    /// are matched first in, first out, so two identical transactions a second apart, each
    /// logged twice, stay two. Without a time nothing is a copy.
    pub(super) fn copy_of(
        &mut self,
        key: &str,
        direction: Direction,
        realm: &str,
        ms: Option<i64>,
    ) -> Option<&mut u64> {
        let ms = ms?;
        let earlier = self.sightings.get_mut(key)?;
        for s in earlier {
            let window = if s.has_dump() || direction == Direction::Dump {
                DUMP_WINDOW_MS
            } else {
                ECHO_WINDOW_MS
            };
            if (ms - s.first_ms).abs() <= window
                && s.seen.len() < MAX_VANTAGES
                && !s.seen.iter().any(|(d, r)| *d == direction && r == realm)
            {
                s.seen.push((direction, realm.to_string()));
                return Some(&mut s.tag);
            }
        }
        None
    }

    /// Remember a message that [`Link::copy_of`] found no earlier sighting of, with its tag.
    /// Without a time it is not remembered (it could not be matched within a window).
    pub(super) fn first_sighting(
        &mut self,
        key: String,
        direction: Direction,
        realm: &str,
        ms: Option<i64>,
        tag: u64,
    ) {
        let Some(ms) = ms else {
            return;
        };
        let sighting = Sighting {
            first_ms: ms,
            seen: vec![(direction, realm.to_string())],
            tag,
        };
        self.sightings.push(key, ms, sighting);
    }

    /// Is this response a second sighting of one already seen? If not, it is remembered as a
    /// first sighting ([`Link::copy_of`] and [`Link::first_sighting`] in one).
    #[cfg(test)]
    pub(super) fn is_echo(&mut self, msg: &Msg, realm: &str, ms: Option<i64>) -> bool {
        let key = echo_key(msg);
        if self.copy_of(&key, msg.direction, realm, ms).is_some() {
            return true;
        }
        self.first_sighting(key, msg.direction, realm, ms, 0);
        false
    }

    /// Give a response the [`INHERITED`] elements it lacks from its request: the latest
    /// request with the same STAN whose MTI it answers (0200 → 0210, 0220 → 0230, 1100 →
    /// 1110), logged at most [`PAIR_WINDOW_MS`] before it, whose RRN, terminal and merchant do
    /// not contradict it. A request on the response's realm (its channel) is preferred;
    /// otherwise the candidates must agree on terminal and merchant, or the response stays
    /// unpaired rather than be given to the wrong terminal.
    ///
    /// The time of the request it was paired with, if any (for the response's latency); a
    /// request chosen that had nothing to give still counts.
    pub(super) fn pair(&self, msg: &mut Msg, realm: &str, ms: Option<i64>) -> Option<i64> {
        let (Some(ms), Some(stan)) = (ms, msg.trimmed(11)) else {
            return None;
        };
        let requests = self.requests.get(stan)?;
        let candidates: Vec<&Request> = requests
            .rev()
            .filter(|r| answers(&r.msg, msg))
            .filter(|r| (-ECHO_WINDOW_MS..=PAIR_WINDOW_MS).contains(&(ms - r.ms)))
            .filter(|r| agree(&r.msg, msg))
            .collect();
        let chosen = candidates.iter().find(|r| r.realm == realm).or_else(|| {
            let first = candidates.first()?;
            let same_as_first = |r: &Request| {
                [41, 42]
                    .iter()
                    .all(|&id| r.msg.trimmed(id) == first.msg.trimmed(id))
            };
            candidates.iter().all(|r| same_as_first(r)).then_some(first)
        });
        let request = chosen?;
        msg.inherit(&request.msg, &INHERITED);
        Some(request.ms)
    }
}

/// Do a request and a response not contradict each other: RRN, terminal and merchant equal
/// where both carry them ([`MUST_AGREE`])?
pub(super) fn agree(req: &Msg, resp: &Msg) -> bool {
    MUST_AGREE
        .iter()
        .all(|&id| match (req.trimmed(id), resp.trimmed(id)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        })
}

/// Does a response with MTI `resp` answer a request with MTI `req`? Same version and class,
/// function request (0) → response (1) or advice (2) → advice response (3); the origin digit
/// may differ (a repeat 0201 is answered by 0210).
pub(super) fn answers(req: &Msg, resp: &Msg) -> bool {
    let (Some(q), Some(r)) = (req.trimmed(0), resp.trimmed(0)) else {
        return false;
    };
    let (q, r) = (q.as_bytes(), r.as_bytes());
    q.len() == 4
        && r.len() == 4
        && q[..2] == r[..2]
        && matches!((q[2], r[2]), (b'0', b'1') | (b'2', b'3'))
}

/// The content two sightings of one message share ([`ECHO_KEY`], trimmed, absent as empty).
pub(super) fn echo_key(msg: &Msg) -> String {
    let mut key = String::new();
    for id in ECHO_KEY {
        key.push_str(msg.trimmed(id).unwrap_or(""));
        key.push('\u{1f}');
    }
    key
}

/// Items by key, remembered in arrival order; the oldest go first once there are more than
/// `cap` or they are more than `max_age` ms older than the newest, and the oldest of a key
/// once it has more than [`MAX_PER_KEY`].
pub(super) struct Recent<T> {
    by_key: HashMap<String, VecDeque<(u64, T)>>,
    /// (sequence number, key, ms) in arrival order.
    order: VecDeque<(u64, String, i64)>,
    next: u64,
    newest: i64,
    cap: usize,
    max_age: i64,
}

impl<T> Recent<T> {
    pub(super) fn new(cap: usize, max_age: i64) -> Self {
        Recent {
            by_key: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            newest: i64::MIN,
            cap,
            max_age,
        }
    }

    pub(super) fn push(&mut self, key: String, ms: i64, item: T) {
        self.newest = self.newest.max(ms);
        let items = self.by_key.entry(key.clone()).or_default();
        items.push_back((self.next, item));
        if items.len() > MAX_PER_KEY {
            // its entry in `order` stays until it reaches the front, then finds nothing
            items.pop_front();
        }
        self.order.push_back((self.next, key, ms));
        self.next += 1;
        self.evict();
    }

    fn evict(&mut self) {
        let oldest_kept = self.newest.saturating_sub(self.max_age);
        while let Some((_, _, ms)) = self.order.front() {
            if self.order.len() <= self.cap && *ms >= oldest_kept {
                break;
            }
            let Some((seq, key, _)) = self.order.pop_front() else {
                break;
            };
            if let Some(items) = self.by_key.get_mut(&key) {
                // Items of one key are in arrival order too, so the evicted one is the front
                // (unless the per-key limit took it already).
                if items.front().is_some_and(|(s, _)| *s == seq) {
                    items.pop_front();
                }
                if items.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// The items of `key`, oldest first.
    pub(super) fn get(&self, key: &str) -> Option<impl DoubleEndedIterator<Item = &T>> {
        self.by_key
            .get(key)
            .map(|items| items.iter().map(|(_, t)| t))
    }

    /// The items of `key`, oldest first, mutable.
    fn get_mut(&mut self, key: &str) -> Option<impl Iterator<Item = &mut T>> {
        self.by_key
            .get_mut(key)
            .map(|items| items.iter_mut().map(|(_, t)| t))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(direction: Direction, fields: &[(u32, &str)]) -> Msg {
        let mut m = Msg::new(1, direction);
        for &(id, v) in fields {
            m.set(id, v.to_string());
        }
        m
    }

    #[test]
    fn recent_is_bounded_by_count_and_age() {
        let mut r: Recent<u32> = Recent::new(3, 1_000);
        for i in 0..5 {
            r.push("k".into(), i64::from(i), i);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.get("k").unwrap().copied().collect::<Vec<_>>(), [2, 3, 4]);
        r.push("other".into(), 10_000, 9);
        assert_eq!(r.len(), 1);
        assert!(r.get("k").is_none());
        assert!(r.by_key.len() == 1);

        let mut r: Recent<usize> = Recent::new(1_000, 1_000);
        for i in 0..MAX_PER_KEY + 10 {
            r.push("same".into(), 0, i);
        }
        let kept: Vec<usize> = r.get("same").unwrap().copied().collect();
        assert_eq!(kept, (10..MAX_PER_KEY + 10).collect::<Vec<_>>());
        for i in 0..1_000 {
            r.push(format!("k{i}"), 1, i);
        }
        assert!(r.get("same").is_none());
        assert_eq!(r.len(), 1_000);
    }

    #[test]
    fn memory_stays_bounded_over_a_long_log() {
        let mut link = Link::default();
        for i in 0..100_000i64 {
            let stan = format!("{:06}", i % 1_000_000);
            let req = msg(Direction::Receive, &[(0, "0200"), (11, &stan), (41, "T1")]);
            link.remember(&req, "c", Some(i * 5));
            let resp = msg(Direction::Send, &[(0, "0210"), (11, &stan), (39, "00")]);
            assert!(!link.is_echo(&resp, "c", Some(i * 5 + 1)));
        }
        assert!(link.requests.len() <= MAX_REQUESTS);
        assert!(link.sightings.len() <= MAX_SIGHTINGS);
        assert!(link.requests.by_key.len() <= MAX_REQUESTS);
    }

    #[test]
    fn mti_pairs() {
        let m = |mti| msg(Direction::Send, &[(0, mti)]);
        for (req, resp, ok) in [
            ("0200", "0210", true),
            ("0201", "0210", true),
            ("0100", "0110", true),
            ("0220", "0230", true),
            ("0420", "0430", true),
            ("1200", "1210", true),
            ("0200", "0230", false),
            ("0100", "0210", false),
            ("1200", "0210", false),
            ("0210", "0210", false),
        ] {
            assert_eq!(answers(&m(req), &m(resp)), ok, "{req} {resp}");
        }
    }
}
