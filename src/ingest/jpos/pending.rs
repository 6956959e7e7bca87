//! Card requests waiting for their response, and the items held back behind them.
//!
//! A request's item (a skipped event, or a `NO_RESPONSE` row) is only known once its response
//! came or its timeout passed, up to a minute of log later. Items leave in the order of the
//! file all the same: everything read after the oldest undecided request is held until that
//! one is decided, so a log where every request is answered at once holds almost nothing.
//!
//! Memory is bounded: at most [`MAX_HELD`] items are held; past that the oldest undecided
//! request is decided as if the log ended there (see [`Fate`]). At most [`MAX_PER_STAN`]
//! undecided requests of one STAN can be answered (a test client that reuses STAN 000001);
//! an older one is decided the same way.

use std::collections::{HashMap, VecDeque};

use super::link::{agree, answers, ECHO_WINDOW_MS};
use super::Msg;
use crate::ingest::normalize::NO_RESPONSE;
use crate::ingest::schema::{Field, Item, Note};

/// A card request with no response logged within this long is unanswered. Terminals and hosts
/// time a request out after 30-60 s; past the longer of them the terminal has given up.
pub const RESPONSE_TIMEOUT_MS: i64 = 60_000;

/// Events are not logged in strict time order (each thread logs its own), so a request is
/// decided unanswered only once an event this much later than its timeout has been read: a
/// response logged a moment after a later event still answers it. It is the tolerance pairing
/// already allows a response logged before its request.
const SKEW_MS: i64 = ECHO_WINDOW_MS;

/// At most this many items are held behind an undecided request: a minute of a busy host (in
/// the order of 150 requests a second, each with its response and a copy or two), about
/// 0.4 KB each.
pub(super) const MAX_HELD: usize = 50_000;

/// At most this many undecided requests per STAN are candidates for a response.
const MAX_PER_STAN: usize = 64;

/// A card request remembered until it is decided.
pub(super) struct Waiting {
    /// Line of its event.
    pub line: u64,
    pub ms: i64,
    /// The event's `at`, converted: the timestamp of its `NO_RESPONSE` row.
    pub at: Option<String>,
    /// The request (every data element the reader keeps, PAN included: the pipeline masks it
    /// like a response's).
    pub msg: Msg,
    /// The realms (channels) it was logged on: a response on one of them is its own.
    pub realms: Vec<String>,
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Waiting,
    Answered,
    /// No response within [`RESPONSE_TIMEOUT_MS`]: a `NO_RESPONSE` row.
    Unanswered,
    /// Given up before its timeout passed (the log ended, or a memory bound was reached): not
    /// a failure; a skipped event with [`Note::PendingAtEnd`].
    Pending,
}

// Every record passes through here, so boxing it would cost an allocation per record; the
// slots only add up while items are held, at most MAX_HELD of them (17 MB of slots).
#[allow(clippy::large_enum_variant)]
enum Held {
    Item(Item),
    Request(Box<Waiting>, Fate),
}

/// The items of one log on their way out, in file order, and the requests among them that
/// wait for an answer.
pub(super) struct Pending {
    held: VecDeque<Held>,
    /// Sequence number of `held[0]`; every request is known by its sequence number.
    first: u64,
    /// Undecided requests by STAN, oldest first (a decided one is removed).
    by_stan: HashMap<String, VecDeque<u64>>,
    /// Undecided requests in arrival order, for their timeouts (decided ones are dropped when
    /// they reach the front).
    order: VecDeque<u64>,
    /// The latest event time read.
    latest: i64,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            held: VecDeque::new(),
            first: 0,
            by_stan: HashMap::new(),
            order: VecDeque::new(),
            latest: i64::MIN,
        }
    }
}

impl Pending {
    /// Queue an item that is ready as it is.
    pub(super) fn push(&mut self, item: Item) {
        self.held.push_back(Held::Item(item));
    }

    /// Queue a card request (with a STAN) to wait for its response; its sequence number.
    pub(super) fn wait(&mut self, request: Waiting) -> u64 {
        let seq = self.first + self.held.len() as u64;
        let stan = request.msg.trimmed(11).unwrap_or("").to_string();
        self.held
            .push_back(Held::Request(Box::new(request), Fate::Waiting));
        self.order.push_back(seq);
        let same = self.by_stan.entry(stan).or_default();
        same.push_back(seq);
        if same.len() > MAX_PER_STAN {
            if let Some(oldest) = same.pop_front() {
                self.give_up(oldest);
            }
        }
        seq
    }

    /// A copy of request `seq` was logged on `realm`.
    pub(super) fn seen_on(&mut self, seq: u64, realm: &str) {
        if let Some((w, Fate::Waiting)) = self.request_mut(seq) {
            // bounded: copies are bounded per message by the sightings' vantage limit
            if !w.realms.iter().any(|r| r == realm) {
                w.realms.push(realm.to_string());
            }
        }
    }

    /// An event logged at `ms` was read: the requests whose timeout (and [`SKEW_MS`]) lies
    /// before it are unanswered.
    pub(super) fn tick(&mut self, ms: i64) {
        self.latest = self.latest.max(ms);
        while let Some(&seq) = self.order.front() {
            // (answered or given up already: just dropped from the order)
            if let Some((w, Fate::Waiting)) = self.request(seq) {
                if w.ms.saturating_add(RESPONSE_TIMEOUT_MS + SKEW_MS) >= self.latest {
                    break;
                }
                self.decide(seq, Fate::Unanswered);
            }
            self.order.pop_front();
        }
    }

    /// A response (its own fields plus what it inherited from its request) logged at `ms` on
    /// `realm`: mark the request it answers. That is an undecided request with its STAN whose
    /// MTI it answers (see `link::answers`), logged at most [`RESPONSE_TIMEOUT_MS`] before it
    /// (or [`SKEW_MS`] after), whose RRN, terminal and merchant do not contradict it: the
    /// latest one logged on the response's realm, else the latest one. True if it answered
    /// one.
    ///
    /// One response answers one request, so counts stay exact even where it cannot be told
    /// which of two candidates it answered (two terminals with one STAN on other channels).
    pub(super) fn answer(&mut self, resp: &Msg, realm: &str, ms: Option<i64>) -> bool {
        let (Some(ms), Some(stan)) = (ms, resp.trimmed(11)) else {
            return false;
        };
        let Some(seqs) = self.by_stan.get(stan) else {
            return false;
        };
        let mut latest = None;
        let mut on_realm = None;
        for &seq in seqs.iter().rev() {
            let Some(Held::Request(w, Fate::Waiting)) = self.get(seq) else {
                continue;
            };
            if answers(&w.msg, resp)
                && (-SKEW_MS..=RESPONSE_TIMEOUT_MS).contains(&(ms - w.ms))
                && agree(&w.msg, resp)
            {
                latest.get_or_insert(seq);
                if w.realms.iter().any(|r| r == realm) {
                    on_realm = Some(seq);
                    break;
                }
            }
        }
        let Some(seq) = on_realm.or(latest) else {
            return false;
        };
        self.decide(seq, Fate::Answered);
        true
    }

    /// Hand out the items that are ready, in file order; while the held items are over
    /// [`MAX_HELD`], the oldest undecided request is given up first.
    pub(super) fn release<E>(
        &mut self,
        emit: &mut dyn FnMut(Item) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            match self.held.front() {
                None => return Ok(()),
                Some(Held::Request(_, Fate::Waiting)) => {
                    if self.held.len() <= MAX_HELD {
                        return Ok(());
                    }
                    self.give_up(self.first);
                }
                Some(_) => {
                    if let Some(held) = self.held.pop_front() {
                        self.first += 1;
                        emit(into_item(held))?;
                    }
                }
            }
        }
    }

    /// The log has ended: every undecided request is decided by the last time read, and
    /// everything goes out.
    pub(super) fn finish<E>(
        &mut self,
        emit: &mut dyn FnMut(Item) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(seq) = self.order.pop_front() {
            self.give_up(seq);
        }
        self.release(emit)
    }

    /// Stop waiting for request `seq`: unanswered if the log has already gone on for its
    /// whole timeout, else pending.
    fn give_up(&mut self, seq: u64) {
        if let Some((w, Fate::Waiting)) = self.request(seq) {
            let fate = if self.latest.saturating_sub(w.ms) >= RESPONSE_TIMEOUT_MS {
                Fate::Unanswered
            } else {
                Fate::Pending
            };
            self.decide(seq, fate);
        }
    }

    fn decide(&mut self, seq: u64, fate: Fate) {
        let Some(i) = self.index(seq) else {
            return;
        };
        if let Some(Held::Request(w, f)) = self.held.get_mut(i) {
            *f = fate;
            let stan = w.msg.trimmed(11).unwrap_or("");
            if let Some(same) = self.by_stan.get_mut(stan) {
                same.retain(|&s| s != seq);
                if same.is_empty() {
                    self.by_stan.remove(stan);
                }
            }
        }
    }

    fn index(&self, seq: u64) -> Option<usize> {
        let i = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        (i < self.held.len()).then_some(i)
    }

    fn get(&self, seq: u64) -> Option<&Held> {
        self.held.get(self.index(seq)?)
    }

    fn request(&self, seq: u64) -> Option<(&Waiting, Fate)> {
        match self.get(seq)? {
            Held::Request(w, f) => Some((w, *f)),
            Held::Item(_) => None,
        }
    }

    fn request_mut(&mut self, seq: u64) -> Option<(&mut Waiting, Fate)> {
        let i = self.index(seq)?;
        match self.held.get_mut(i) {
            Some(Held::Request(w, f)) => Some((w, *f)),
            _ => None,
        }
    }
}

/// The item of a decided request (or of a plain item).
fn into_item(held: Held) -> Item {
    match held {
        Held::Item(item) => item,
        Held::Request(w, fate) => {
            let Waiting { line, at, msg, .. } = *w;
            match fate {
                Fate::Unanswered => {
                    let mut fields = msg.into_fields(at);
                    fields.set(Field::ResponseCode, NO_RESPONSE);
                    Item::Record { line, fields }
                }
                Fate::Pending => Item::Skip {
                    line,
                    note: Some(Note::PendingAtEnd),
                },
                Fate::Answered | Fate::Waiting => Item::Skip { line, note: None },
            }
        }
    }
}
