//! jPOS XML log reader: one `<log>` event per unit, a card transaction per ISO 8583 response.
//!
//! jPOS (`XMLLogListener`, `ProtectedLogListener`, Q2's `LoggerAdaptor`) writes events like
//!
//! ```xml
//! <log realm="channel/10.0.0.1:8000" at="2014-01-04T19:00:08.515-03:00" lifespan="2ms">
//!   <receive>
//!     <isomsg direction="incoming">
//!       <!-- org.jpos.iso.packager.GenericPackager -->
//!       <field id="0" value="0210"/>
//!       <field id="4" value="000000001250"/>
//!       <field id="11" value="000123"/>
//!       <field id="37" value="401912345678"/>
//!       <field id="39" value="00"/>
//!       <field id="41" value="T0000017"/>
//!       <field id="42" value="M000000000042  "/>
//!     </isomsg>
//!   </receive>
//! </log>
//! ```
//!
//! A file is either wrapped in `<logger class="...">` … `</logger>` or is a bare sequence of
//! `<log>` elements with no root (not one well-formed document; quick-xml reads it anyway
//! because nothing here insists on a single root). Besides messages, events carry `<connect>`,
//! `<session-start/>`, `<info>`, `<warn>`, `<exception>` (raw Java stack traces), `<trace>`,
//! `<peer-disconnect/>`, comments and text.
//!
//! # Which events are transactions
//!
//! An event is a transaction iff it contains a *card response*: an `<isomsg>` (not nested in
//! another `<isomsg>`) whose MTI (field 0) is four digits with a message function (third
//! digit) of `1` (response) or `3` (advice response) — 0110, 0210, 0230, 0410, 1110, 1210,
//! 1430, … — and which carries field 39. Network-management messages (message class `8`,
//! e.g. 0810 echo or 1814 sign-on responses) are *not* card transactions: even with field 39
//! they are skipped, as are answered requests (0200, 1200), session events and every other
//! event: each gives one [`Item::Skip`] (counted as `events_skipped`). If one event holds
//! several card responses, the first one counts; one event never yields more than one item.
//! A response that is a second sighting of one already counted (below) is a skip too. The one
//! other transaction is a card request that got no response (below): a record with code
//! [`NO_RESPONSE`].
//!
//! A card response becomes an [`Item::Record`] with:
//!
//! | field | from |
//! |---|---|
//! | timestamp | the event's `at` attribute, converted (below) |
//! | terminal_id | field 41, trimmed at both ends only (`TERM 001` keeps its space); else the request's; else [`NO_TERMINAL`] `(none)` |
//! | response_code | field 39, trimmed, as text (`05` stays `05`, ISO 8583:1993's `000` stays `000`) |
//! | merchant_id | field 42, trimmed (it is space-padded to 15); else the request's |
//! | merchant_name | field 43 (the first 25 characters of the 40-character layout); else the request's |
//! | amount | field 4 as-is: **minor units** (`000000001250` = 12.50); else the request's |
//! | txn_id | field 37 (RRN) trimmed, or field 11 (STAN) when 37 is absent or blank |
//! | txn_type | the MTI; its first digit is the ISO 8583 version (0 = 1987, 1 = 1993, 2 = 2003) |
//! | currency | field 49, else the `currency` attribute of field 4; else the request's |
//! | entry_mode | field 22 as logged (`051`, `801`, `071`, 1993's `A10101A04001`), trimmed; else the request's |
//! | latency_ms | the response's `at` minus its request's (the one it was paired with, below), in whole milliseconds; unset without a request, without both times, or when negative (logged out of order) |
//! | pan | field 2 as-is (the pipeline masks it); never taken from the request |
//!
//! A field that is absent or blank is left unset. Values are not validated here.
//! Only those data elements (and 7, 12, 13 for telling copies apart, 90 for reversals) are
//! ever decoded: track 2
//! (35), track 3 (36), track 1 (45), PIN block (52), EMV data (55) and everything else are
//! skipped without reading their value. Only top-level fields of the outer `<isomsg>` count:
//! subfields of nested `<isomsg id="127">` / `<isomsg id="48">` are ignored.
//!
//! Field 4 written by jPOS's `ISOAmount` (`type="amount"`, `value="12.50"`, with a
//! `currency` attribute) is in major units; it is passed through as-is, so the pipeline can
//! tell it by its decimal point.
//!
//! # A response takes what it lacks from its request
//!
//! Switches often answer with only the MTI, STAN (11), RRN (37) and field 39: the terminal
//! and merchant are in the request, logged a few milliseconds before on the same channel.
//! Every card request (function `0` or `2`, not network management) with a STAN and a field
//! 41 or 42 is remembered — also one inside a transaction manager's `<context>` — and a
//! response takes the fields above it lacks from *its* request: the latest one with the
//! same STAN whose MTI it answers (0200 → 0210, 0100 → 0110, 0220 → 0230, 1200 → 1210; a
//! repeat 0201 counts as 0200), logged at most 120 s before it, whose RRN, field 41 and
//! field 42 do not contradict the response's. A request from the response's own realm (its
//! channel, named after the peer's address) is preferred, so two terminals using the same
//! STAN at once on two connections are not mixed up; failing that, all candidates must agree
//! on terminal and merchant, or the response stays unpaired. A response with neither its own
//! field 41 nor a request is kept with terminal id `(none)` rather than rejected (analysis
//! never flags it). Memory is bounded: the last 20 000 requests within 120 s (see `link.rs`).
//!
//! # The same message logged twice counts once
//!
//! When a jPOS server and its client run in one JVM, every response is logged by both: the
//! server's channel `send` and the client's `receive`, usually on different realms, a few
//! milliseconds apart. A transaction manager may dump the same message again in its
//! `<context>` when the transaction ends, and a server and its channel may both log it. Such a
//! second sighting is an [`Item::Skip`]: it is one log line of a transaction seen twice, not a
//! transaction, so it is not a row (`rows_read` does not count it; `events_skipped` does).
//!
//! A card response is a second sighting iff an earlier one
//! - has the same MTI, STAN, RRN, field 39, field 41, field 42, amount (4), transmission
//!   date/time (7) and local time/date (12, 13), trimmed, absent equal to absent (the
//!   response's own fields, before anything is taken from a request);
//! - was logged within 2 s of it (30 s when either is a dump — a message outside
//!   `<send>`/`<receive>`, e.g. in a `<context>` — as the dump is written when the
//!   transaction ends);
//! - and was not yet seen from the same vantage point: direction (`send`, `receive`, dump)
//!   and realm. Copies are matched to the oldest such message first (first in, first out).
//!
//! So a test client that reuses STAN 000001 for every message keeps each transaction: one
//! with a different RRN, amount, code or time (more than 2 s later) is another message, and
//! even two identical ones a second apart stay two, because each vantage point logs each of
//! them once. The same event from the same vantage twice (a log concatenated with itself) is
//! not a second sighting here; the pipeline's duplicate rule deals with it. Events whose `at`
//! cannot be read are never second sightings. The *first* sighting is the record: its line,
//! its `at`, and pairing done for it.
//!
//! # Requests that got no response
//!
//! A *card request* — an authorisation or financial request (MTI `x100`/`x200`) or its repeat
//! (`x101`/`x201`), 1987 or 1993 form; not network management, not an advice (0220), not a
//! reversal — that gets no response in the log within [`RESPONSE_TIMEOUT_MS`] (60 s) is
//! *unanswered*: a failure the terminal saw that no field 39 records. Its event becomes an
//! [`Item::Record`] instead of a skip, with code [`NO_RESPONSE`] (class `network` in the
//! built-in catalogs), the request's `at` as timestamp, and the request's terminal, merchant,
//! merchant name, amount, currency, txn id, entry mode and PAN as in the table above (txn_type
//! is the request's MTI; no latency). Only requests with a STAN and a readable `at` are
//! followed; any other stays a plain skip.
//!
//! - **Answered**: a response answers an undecided request with the same STAN whose MTI it
//!   answers (as in pairing: 0200 or 0201 → 0210, 1100 → 1110), logged at most 60 s after it
//!   (or up to 2 s before: threads), whose RRN (37), terminal (41) and merchant (42) do not
//!   contradict the response's — the response's own, or what it took from its request. The
//!   latest such request logged on the response's realm is taken, else the latest such
//!   request anywhere: one response answers one request, so counts stay exact even where it
//!   is unclear which of two requests it answered. A second sighting of a response answers
//!   a request only if its first sighting answered none.
//! - **Logged twice**: copies of one request (client `send` and server `receive` in one JVM,
//!   a transaction manager's dump) are recognised as copies of responses are (same content,
//!   within 2 s, or 30 s for a dump, from another vantage point) and are one request; a
//!   response on any of their realms is theirs. A request inside an event that also holds a
//!   card response (a context dump) is that transaction's and never waits.
//! - **Unanswered**: decided once an event logged more than 62 s (the timeout plus 2 s of
//!   logging skew) after the request has been read without an answer; at the end of the log,
//!   when the last event read is at least 60 s after the request.
//! - **Pending at the end**: a request without a response when the log ends less than 60 s
//!   after it is not unanswered (the log was simply cut): a skip with [`Note::PendingAtEnd`].
//!   A request the reader had to stop watching before its timeout passed — more than
//!   `pending::MAX_HELD` (50 000) events read behind it, or more than 64 undecided requests
//!   with its STAN — is decided the same way at that moment.
//!
//! A late response (after the timeout) is still a record with its own code, paired for the
//! fields it lacks; its request is unanswered all the same, since the terminal had given up.
//!
//! Items leave in file order: everything after the oldest undecided request is held until it
//! is decided (a fraction of a second when hosts answer; a minute of log behind an unanswered
//! request), at most `MAX_HELD` of them.
//!
//! # Reversals
//!
//! A reversal request (0400, 0420, repeats 0401, 0421; 1400, 1420, 1421 in ISO 8583:1993)
//! stays a skipped event, with [`Note::Reversal`]: counted once (copies logged twice are one;
//! a repeat of a reversal already counted is not counted again), and *linked* when what it
//! reverses was seen earlier in the log: by field 90 (original MTI, STAN and field 7) when it
//! is there, else by terminal + STAN (+ RRN). See `reversal.rs`. Reversal responses (0410,
//! 0430) are transactions like any response.
//!
//! # The `at` timestamp
//!
//! Every form jPOS has written is read (details and examples in `at.rs`):
//! - ISO 8601 with 0–9 fraction digits, naive (jPOS 2.x writes `LocalDateTime`, which drops
//!   `:00` seconds: `2020-10-08T17:49` becomes `…T17:49:00`) or with `Z`/`±HH:MM`/`±HHMM`/`±HH`
//!   (a `[Region/City]` suffix is dropped, the offset is kept);
//! - `java.util.Date.toString()` plus jPOS 1.x's unpadded `.millis` (`Sat Jan 04 19:00:08 CST
//!   2014.515`; `.5` means 5 ms and becomes `.005`);
//! - `EEE MMM dd HH:mm:ss.SSS zzz yyyy` (`Thu Oct 08 17:49:39.830 EAT 2020`), and both without
//!   milliseconds.
//!
//! The Java forms become `2014-01-04 19:00:08.515`, a *naive* local time: zone abbreviations
//! are dropped on purpose (`CST` is China, US Central or Cuba, `IST` India, Ireland or Israel)
//! and the pipeline reads the time in the user's `--tz`. Unambiguous zones are kept: `UTC`,
//! `GMT`, `UT`, `Z` give `…Z`, and `GMT+08:00` (what Java prints for a custom offset) gives
//! `…+08:00`. The millisecond fraction is always kept in the text, so two responses a few
//! milliseconds apart keep different timestamps. Missing `at`: timestamp unset. Anything
//! else: passed through as-is; the pipeline rejects it with a clear reason.
//!
//! Fields 12/13 (local transaction time/date) are not used for the timestamp even when
//! present: in ISO 8583:1987 they carry no year and no zone (`hhmmss`, `MMDD`; 1993's field 12
//! `YYMMDDhhmmss` still has no zone), and they are the terminal's clock, which drifts and is
//! set by hand; `at` is the host's clock, with a year, one clock for every terminal in the
//! log, and the time the response was actually logged.
//!
//! # Broken input
//!
//! Data problems never return `Err`; only I/O errors and `emit`'s own errors do.
//!
//! - **Truncated file** (a crashed host): every complete event before the cut is emitted; the
//!   incomplete last event is one [`Item::Reject`] `truncated XML event` at its start line. An
//!   event that is never closed before the next `<log` starts (a host that died and was
//!   restarted, appending) gets the same reject, and reading goes on with the new event.
//! - **Mismatched tags inside an event** (`</send>` while `<isomsg>` is open, `</sned>`): the
//!   event is rejected with the parser's message (`malformed XML: expected </isomsg>, …`) and
//!   reading resynchronises at its `</log>` or at the next `<log`. One leniency: jPOS prints
//!   Java stack traces unescaped, so `<init>`/`<clinit>` frames look like unclosed elements;
//!   an end tag that closes such stray elements implicitly is accepted as long as no
//!   `<isomsg>` or `<field>` is among them (otherwise every exception event would be a reject).
//! - Malformed attributes or undecodable bytes in the values we read reject the event.
//! - If the parser cannot continue at all (`<!x` markup), the rest of the input is one
//!   reject and reading stops. Never a panic, never a loop without progress.
//! - Content outside any `<log>` (a file that starts mid-event, stray text) is one reject per
//!   run of such content: `truncated XML event: its start is missing` when it ends in
//!   `</log>`, else `unexpected content outside <log> events`.
//!
//! Line numbers are those of the `<log` start tag (1-based), counted from the bytes the parser
//! consumed. The input is streamed through one reused buffer; memory does not grow with the
//! file (the remembered requests and responses, the requests waiting for an answer and the
//! items held behind them are bounded by count and age). A rejected event is remembered
//! neither as a request nor as a sighting, and does not move the clock of timeouts. Reject excerpts are the
//! event's raw text from `<log`, with the values of the sensitive fields above replaced by
//! `***`, cut to 200 characters.
//!
//! `mapping` is accepted for a uniform reader signature but unused: jPOS fields are numbered,
//! not named.

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use quick_xml::encoding::Decoder;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::schema::{Field, Item, Mapping, Note, RawFields};

mod at;
mod link;
mod pending;
mod reversal;

use link::Link;
use pending::{Pending, Waiting};
use reversal::History;

pub use super::normalize::NO_RESPONSE;
pub use pending::RESPONSE_TIMEOUT_MS;

/// The terminal id of a response that carries no field 41 and whose request was not found.
/// Analysis never flags it; data quality reports it.
pub const NO_TERMINAL: &str = "(none)";

/// Excerpts are cut to this many characters.
const EXCERPT_CHARS: usize = 200;

/// Raw bytes of the current unit kept for its excerpt. Generous next to [`EXCERPT_CHARS`] so
/// that the masking of sensitive fields sees every tag that reaches into the excerpt whole.
const CAPTURE_BYTES: usize = 4096;

/// Deeper element nesting than this inside one event is treated as malformed; it bounds the
/// memory one hostile event can take.
const MAX_DEPTH: usize = 256;

/// The data elements we read; every other field's value is never decoded.
const WANTED: [u32; 15] = [0, 2, 4, 7, 11, 12, 13, 22, 37, 39, 41, 42, 43, 49, 90];

/// At most this many requests of one event are considered for pairing (a transaction
/// manager's context holds one or two); it bounds the memory of a hostile event.
const MAX_EVENT_REQUESTS: usize = 16;

/// Sensitive data elements (PCI DSS): track 2, track 3, track 1, PIN block, ICC/EMV data.
/// They are not in [`WANTED`], so never read; this list drives the masking of excerpts.
const SENSITIVE: [u32; 5] = [35, 36, 45, 52, 55];

/// Read a jPOS XML log from `input`, calling `emit` once per `<log>` event (and once per run
/// of content outside events).
pub fn read<R: BufRead, E: From<io::Error>>(
    input: R,
    _mapping: &Mapping,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<(), E> {
    let mut reader = Reader::from_reader(Tap::new(input));
    let config = reader.config_mut();
    // We match end tags ourselves, to recover from unescaped `<init>` in stack traces and to
    // word the rejects; quick-xml's own check would also reject `</log>` closing a cut event.
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    // A raw `&` in an exception message is not worth losing an event over.
    config.allow_dangling_amp = true;

    let mut state = State::default();
    // Every item goes through here, to leave in file order once the requests before it are
    // decided.
    let mut out = Pending::default();
    let mut buf = Vec::new();
    let mut last_error_at = None;
    loop {
        buf.clear();
        // Every event starts where the previous one ended: text is its own event, so the line
        // counted before the call is the line of the event's first byte (or of its `<`).
        let line = 1 + reader.get_ref().newlines;
        let mark = reader.get_ref().captured();
        let decoder = reader.decoder();
        let step = match reader.read_event_into(&mut buf) {
            Ok(event) => Step::Event(event),
            Err(XmlError::Io(e)) => return Err(E::from(unwrap_io(e))),
            Err(XmlError::IllFormed(e)) => {
                // quick-xml reads on after these, having consumed the bad markup; should it
                // ever not move, stop rather than loop.
                let pos = reader.buffer_position();
                let stuck = last_error_at.replace(pos) == Some(pos);
                let reason = format!("malformed XML: {e}");
                if stuck {
                    Step::Fatal(reason, buf.clone())
                } else {
                    Step::IllFormed(reason)
                }
            }
            Err(e) => {
                // The parser has stopped. Syntax errors mean EOF inside markup, except `<!x`
                // (unknown markup), which is only a cut file if nothing follows.
                let eof = reader.get_mut().fill_buf().is_ok_and(|b| b.is_empty());
                let reason = match e {
                    XmlError::Syntax(SyntaxError::InvalidBangMarkup) if !eof => {
                        format!("malformed XML: {e}")
                    }
                    XmlError::Syntax(_) => TRUNCATED.to_string(),
                    _ => format!("malformed XML: {e}"),
                };
                Step::Fatal(reason, buf.clone())
            }
        };
        let mut cx = Cx {
            tap: reader.get_mut(),
            out: &mut out,
            line,
            mark,
            decoder,
        };
        let done = match step {
            Step::Event(event) => state.on_event(event, &mut cx),
            Step::IllFormed(reason) => {
                state.ill_formed(reason);
                false
            }
            Step::Fatal(reason, partial) => {
                state.fatal(reason, &partial, &mut cx);
                true
            }
        };
        if done {
            return out.finish(emit);
        }
        out.release(emit)?;
    }
}

/// What one parser call produced.
enum Step<'b> {
    Event(Event<'b>),
    /// The current event is malformed, but the parser can read on.
    IllFormed(String),
    /// The parser cannot go on: the reason, and the bytes of the markup it choked on.
    Fatal(String, Vec<u8>),
}

const TRUNCATED: &str = "truncated XML event";

fn unwrap_io(e: Arc<io::Error>) -> io::Error {
    Arc::try_unwrap(e).unwrap_or_else(|shared| io::Error::new(shared.kind(), shared.to_string()))
}

/// A pass-through reader that counts the newlines the parser consumes (for line numbers) and
/// keeps the raw bytes of the current unit (for its excerpt).
struct Tap<R> {
    inner: R,
    newlines: u64,
    capture: Vec<u8>,
    capturing: bool,
}

impl<R> Tap<R> {
    fn new(inner: R) -> Self {
        Tap {
            inner,
            newlines: 0,
            capture: Vec::new(),
            capturing: false,
        }
    }

    fn captured(&self) -> usize {
        self.capture.len()
    }

    /// Start keeping bytes for a new unit whose first bytes (already consumed) are `head`.
    fn begin(&mut self, head: &[u8]) {
        self.capture.clear();
        self.capturing = true;
        keep(&mut self.capture, head);
    }

    /// Stop capturing without an excerpt (the unit was fine).
    fn stop(&mut self) {
        self.capturing = false;
        self.capture.clear();
    }

    /// Stop capturing; the excerpt of the unit from the first `upto` captured bytes.
    fn finish(&mut self, upto: usize) -> String {
        self.capturing = false;
        let end = upto.min(self.capture.len());
        let text = String::from_utf8_lossy(&self.capture[..end]).into_owned();
        self.capture.clear();
        // PANs are masked before the cut, so a card number straddling it cannot survive.
        excerpt(&super::normalize::scrub_pans(&mask_sensitive(&text)))
    }
}

/// Append to a capture, up to [`CAPTURE_BYTES`].
fn keep(capture: &mut Vec<u8>, bytes: &[u8]) {
    let room = CAPTURE_BYTES.saturating_sub(capture.len());
    capture.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

// quick-xml only uses the BufRead side; Read is there because BufRead requires it.
impl<R: Read> Read for Tap<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.newlines += count_newlines(&out[..n]);
        if self.capturing {
            keep(&mut self.capture, &out[..n]);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tap<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if amt > 0 {
            // The bytes being consumed are the head of the inner buffer; fill_buf hands the
            // same buffer back without I/O because it is not empty.
            if let Ok(avail) = self.inner.fill_buf() {
                let seen = &avail[..amt.min(avail.len())];
                self.newlines += count_newlines(seen);
                if self.capturing {
                    keep(&mut self.capture, seen);
                }
            }
        }
        self.inner.consume(amt);
    }
}

/// What one step of the loop needs besides the reader state.
struct Cx<'a, R> {
    tap: &'a mut Tap<R>,
    out: &'a mut Pending,
    /// Line where the event being handled starts.
    line: u64,
    /// Captured length before this event: where a unit ends that this event does not belong to.
    mark: usize,
    decoder: Decoder,
}

#[derive(Default)]
struct State {
    /// The `<log>` event being read.
    open: Option<Open>,
    /// Start line of content seen outside any `<log>` that is not yet reported.
    orphan: Option<u64>,
    /// Recent requests and responses, for pairing and for recognising second sightings.
    link: Link,
    /// Card messages seen so far, for linking reversals.
    history: History,
}

impl State {
    /// Handle one parser event; true when the input is exhausted.
    fn on_event<R>(&mut self, event: Event<'_>, cx: &mut Cx<'_, R>) -> bool {
        match event {
            Event::Start(s) => {
                let name = s.name();
                let name = name.as_ref();
                if name == b"log" {
                    self.close_unit(cx, TRUNCATED);
                    self.open = Some(Open::new(cx.line, &s, cx.decoder));
                    cx.tap.begin(&tag_text(b"<", &s, b">"));
                } else if let Some(open) = &mut self.open {
                    open.start(name, &s, cx.decoder);
                } else if name != b"logger" {
                    self.orphan_content(cx, &tag_text(b"<", &s, b">"));
                } else {
                    self.flush_orphan(cx, cx.mark);
                }
            }
            Event::Empty(s) => {
                let name = s.name();
                let name = name.as_ref();
                if name == b"log" {
                    // `<log .../>`: an event without content, so not a transaction
                    self.close_unit(cx, TRUNCATED);
                    cx.out.push(Item::Skip {
                        line: cx.line,
                        note: None,
                    });
                } else if let Some(open) = &mut self.open {
                    open.empty(name, &s, cx.decoder);
                } else if name != b"logger" {
                    self.orphan_content(cx, &tag_text(b"<", &s, b"/>"));
                }
            }
            Event::End(e) => {
                let name = e.name();
                let name = name.as_ref();
                if let Some(open) = &mut self.open {
                    if open.end(name) {
                        if let Some(open) = self.open.take() {
                            open.finish(cx.tap, &mut self.link, &mut self.history, cx.out);
                        }
                    }
                } else if name == b"log" {
                    // `</log>` with no `<log`: the file starts in the middle of an event
                    let line = match self.orphan.take() {
                        Some(line) => line,
                        None => {
                            cx.tap.begin(b"</log>");
                            cx.line
                        }
                    };
                    let all = cx.tap.captured();
                    cx.out.push(Item::Reject {
                        line,
                        reason: format!("{TRUNCATED}: its start is missing"),
                        excerpt: cx.tap.finish(all),
                    });
                } else if name == b"logger" {
                    self.flush_orphan(cx, cx.mark);
                } else {
                    self.orphan_content(cx, &[b"</", name, b">"].concat());
                }
            }
            Event::Text(t) => {
                if self.open.is_none() {
                    let raw: &[u8] = &t;
                    if let Some(first) = raw.iter().position(|b| !b.is_ascii_whitespace()) {
                        let line = cx.line + count_newlines(&raw[..first]);
                        self.orphan_at(cx, line, &raw[first..]);
                    }
                }
            }
            Event::CData(c) => {
                if self.open.is_none() {
                    self.orphan_content(cx, &c);
                }
            }
            Event::GeneralRef(r) => {
                if self.open.is_none() {
                    self.orphan_content(cx, &[b"&", &*r, b";"].concat());
                }
            }
            Event::Eof => {
                self.close_unit(cx, TRUNCATED);
                return true;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        false
    }

    /// An ill-formedness quick-xml reported but can read past.
    fn ill_formed(&mut self, reason: String) {
        // Outside events it can only be an odd declaration or doctype: harmless.
        if let Some(open) = &mut self.open {
            open.mark_bad(reason);
        }
    }

    /// The parser stopped: report whatever is pending as one unit.
    fn fatal<R>(&mut self, reason: String, partial: &[u8], cx: &mut Cx<'_, R>) {
        if let Some(open) = self.open.take() {
            let all = cx.tap.captured();
            cx.out.push(Item::Reject {
                line: open.line,
                reason,
                excerpt: cx.tap.finish(all),
            });
            return;
        }
        self.flush_orphan(cx, cx.mark);
        // A `<log` start tag cut short is a truncated event; a cut `</logger` or comment at
        // the very end is not worth a reject. Anything that is not an EOF problem is.
        let starts_log = b"log".starts_with(partial)
            || partial.strip_prefix(b"log").is_some_and(|rest| {
                rest.first()
                    .is_none_or(|b| b.is_ascii_whitespace() || *b == b'/')
            });
        if starts_log || reason != TRUNCATED {
            cx.tap.begin(&[b"<", partial].concat());
            let all = cx.tap.captured();
            cx.out.push(Item::Reject {
                line: cx.line,
                reason,
                excerpt: cx.tap.finish(all),
            });
        }
    }

    /// End the open event (if any) as a reject with `reason`, or report pending orphan
    /// content; both end before the current parser event (`cx.mark`).
    fn close_unit<R>(&mut self, cx: &mut Cx<'_, R>, reason: &str) {
        if let Some(open) = self.open.take() {
            cx.out.push(Item::Reject {
                line: open.line,
                reason: reason.to_string(),
                excerpt: cx.tap.finish(cx.mark),
            });
        }
        self.flush_orphan(cx, cx.mark);
    }

    fn orphan_content<R>(&mut self, cx: &mut Cx<'_, R>, raw: &[u8]) {
        self.orphan_at(cx, cx.line, raw);
    }

    fn orphan_at<R>(&mut self, cx: &mut Cx<'_, R>, line: u64, raw: &[u8]) {
        if self.orphan.is_none() {
            self.orphan = Some(line);
            cx.tap.begin(raw);
        }
    }

    fn flush_orphan<R>(&mut self, cx: &mut Cx<'_, R>, upto: usize) {
        if let Some(line) = self.orphan.take() {
            cx.out.push(Item::Reject {
                line,
                reason: "unexpected content outside <log> events".into(),
                excerpt: cx.tap.finish(upto),
            });
        }
    }
}

/// `open` + the raw tag content + `close`, e.g. `<log realm="x">`.
fn tag_text(open: &[u8], s: &BytesStart<'_>, close: &[u8]) -> Vec<u8> {
    [open, &**s, close].concat()
}

/// One `<log>` event being read.
struct Open {
    line: u64,
    at: Option<String>,
    /// The `realm` attribute (lossily decoded: it is only compared, never output).
    realm: String,
    /// Names of the open elements, `log` first.
    stack: Vec<Vec<u8>>,
    /// The outermost `<isomsg>` being read.
    msg: Option<Msg>,
    /// The first card response seen in this event.
    response: Option<Msg>,
    /// Card requests seen in this event (a context dump holds the request too).
    requests: Vec<Msg>,
    /// Why this event is a reject, once it is known to be one.
    bad: Option<String>,
}

impl Open {
    fn new(line: u64, s: &BytesStart<'_>, decoder: Decoder) -> Self {
        let realm = match raw_attribute(s, b"realm") {
            Ok(Some(raw)) => String::from_utf8_lossy(&raw).into_owned(),
            _ => String::new(),
        };
        let mut open = Open {
            line,
            at: None,
            realm,
            stack: vec![b"log".to_vec()],
            msg: None,
            response: None,
            requests: Vec::new(),
            bad: None,
        };
        match attribute(s, b"at", decoder) {
            Ok(at) => open.at = at,
            Err(reason) => open.mark_bad(reason),
        }
        open
    }

    fn mark_bad(&mut self, reason: String) {
        self.bad.get_or_insert(reason);
    }

    /// Is the element about to be opened (or an empty one) a direct child of the outer isomsg?
    fn in_top_isomsg(&self) -> bool {
        self.msg
            .as_ref()
            .is_some_and(|m| m.depth == self.stack.len())
    }

    fn start(&mut self, name: &[u8], s: &BytesStart<'_>, decoder: Decoder) {
        if self.stack.len() >= MAX_DEPTH {
            self.mark_bad(format!(
                "malformed XML: elements nested deeper than {MAX_DEPTH}"
            ));
            return;
        }
        if name == b"field" && self.in_top_isomsg() {
            self.field(s, decoder);
        }
        if name == b"isomsg" && self.msg.is_none() {
            let direction = match self.stack.last().map(Vec::as_slice) {
                Some(b"send") => Direction::Send,
                Some(b"receive") => Direction::Receive,
                _ => Direction::Dump,
            };
            self.stack.push(name.to_vec());
            self.msg = Some(Msg::new(self.stack.len(), direction));
        } else {
            self.stack.push(name.to_vec());
        }
    }

    fn empty(&mut self, name: &[u8], s: &BytesStart<'_>, decoder: Decoder) {
        if name == b"field" && self.in_top_isomsg() {
            self.field(s, decoder);
        }
        // An empty `<isomsg/>` has no fields: nothing to consider.
    }

    /// Handle an end tag; true when it closed the event.
    fn end(&mut self, name: &[u8]) -> bool {
        let top = self.stack.last().cloned().unwrap_or_default();
        let Some(k) = self.stack.iter().rposition(|n| n == name) else {
            self.mark_bad(mismatch(&top, name));
            return false;
        };
        // Elements left open inside the one being closed. Stray `<init>` from a stack trace
        // is fine; an unclosed message or field means the message cannot be trusted.
        if self.stack[k + 1..]
            .iter()
            .any(|n| n == b"isomsg" || n == b"field")
        {
            self.mark_bad(mismatch(&top, name));
        }
        self.stack.truncate(k);
        if self
            .msg
            .as_ref()
            .is_some_and(|m| self.stack.len() < m.depth)
        {
            if let Some(msg) = self.msg.take() {
                if msg.is_card_response() {
                    self.response.get_or_insert(msg);
                } else if msg.is_card_request() && self.requests.len() < MAX_EVENT_REQUESTS {
                    self.requests.push(msg);
                }
            }
        }
        self.stack.is_empty()
    }

    /// A `<field id=".." value=".."/>` of the outer isomsg. The value is decoded only for the
    /// data elements we use, so sensitive ones are never read.
    fn field(&mut self, s: &BytesStart<'_>, decoder: Decoder) {
        let id = match raw_attribute(s, b"id") {
            Ok(Some(raw)) => parse_id(&raw),
            Ok(None) => None,
            Err(reason) => {
                self.mark_bad(reason);
                return;
            }
        };
        let Some(id) = id.filter(|id| WANTED.contains(id)) else {
            return;
        };
        let value = match attribute(s, b"value", decoder) {
            Ok(v) => v,
            Err(reason) => {
                self.mark_bad(reason);
                return;
            }
        };
        let currency = if id == 4 {
            match attribute(s, b"currency", decoder) {
                Ok(c) => c,
                Err(reason) => {
                    self.mark_bad(reason);
                    return;
                }
            }
        } else {
            None
        };
        if let (Some(msg), Some(value)) = (&mut self.msg, value) {
            msg.set(id, value);
            if currency.is_some() {
                msg.amount_currency = currency;
            }
        }
    }

    /// The unit's item, once its `</log>` has been read: its requests are remembered, its
    /// card response, unless it is a second sighting, becomes a record, and a card request
    /// (in an event without a response) waits for its answer.
    fn finish<R>(
        self,
        tap: &mut Tap<R>,
        link: &mut Link,
        history: &mut History,
        out: &mut Pending,
    ) {
        let line = self.line;
        if let Some(reason) = self.bad {
            let all = tap.captured();
            out.push(Item::Reject {
                line,
                reason,
                excerpt: tap.finish(all),
            });
            return;
        }
        tap.stop();
        let stamp = self.at.as_deref().map(at::convert);
        let ms = stamp.as_ref().and_then(|s| s.ms);
        let at = stamp.map(|s| s.text);
        if let Some(ms) = ms {
            // Before this event's response is matched: a response after the timeout does
            // not answer.
            out.tick(ms);
        }
        for request in &self.requests {
            link.remember(request, &self.realm, ms);
        }
        let realm = self.realm.as_str();
        if let Some(mut msg) = self.response {
            // The copy key is the response's own content, before it inherits anything.
            let key = link::echo_key(&msg);
            let request_ms = link.pair(&mut msg, realm, ms);
            if let Some(answered) = link.copy_of(&key, msg.direction, realm, ms) {
                // A second sighting is not a record, but it answers the request if its
                // first sighting could not (it was logged before the request, say).
                if *answered == 0 && out.answer(&msg, realm, ms) {
                    *answered = 1;
                }
                out.push(Item::Skip { line, note: None });
                return;
            }
            let answered = out.answer(&msg, realm, ms);
            link.first_sighting(key, msg.direction, realm, ms, u64::from(answered));
            history.remember(&msg, ms);
            let mut fields = msg.into_fields(at);
            // Latency: from the request it was paired with, when both times are known; a
            // response logged before its request (threads) has none.
            if let (Some(resp), Some(req)) = (ms, request_ms) {
                if resp >= req && fields.get(Field::LatencyMs).is_none() {
                    fields.set(Field::LatencyMs, (resp - req).to_string());
                }
            }
            out.push(Item::Record { line, fields });
            return;
        }
        // An event without a response: its first card request decides its item.
        let Some(msg) = self.requests.into_iter().next() else {
            out.push(Item::Skip { line, note: None });
            return;
        };
        let key = link::echo_key(&msg);
        if let Some(entry) = link.copy_of(&key, msg.direction, realm, ms) {
            // The same request logged again (client and server, a context dump): one request.
            if let Some(seq) = entry.checked_sub(1) {
                out.seen_on(seq, realm);
            }
            out.push(Item::Skip { line, note: None });
            return;
        }
        let direction = msg.direction;
        match (msg.kind(), ms) {
            (Kind::Card, Some(at_ms)) if msg.trimmed(11).is_some() => {
                history.remember(&msg, ms);
                let seq = out.wait(Waiting {
                    line,
                    ms: at_ms,
                    at,
                    msg,
                    realms: vec![realm.to_string()],
                });
                link.first_sighting(key, direction, realm, ms, seq + 1);
            }
            (Kind::Reversal, _) => {
                let note = history
                    .reversal(&msg, ms)
                    .map(|linked| Note::Reversal { linked });
                link.first_sighting(key, direction, realm, ms, 0);
                out.push(Item::Skip { line, note });
            }
            // An advice, or a request that cannot be matched (no time, no STAN).
            _ => {
                history.remember(&msg, ms);
                link.first_sighting(key, direction, realm, ms, 0);
                out.push(Item::Skip { line, note: None });
            }
        }
    }
}

/// What a card request is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An authorisation or financial request (0100, 0200, their repeats 0101, 0201; 1100,
    /// 1200 in ISO 8583:1993): it expects a response, and is unanswered without one.
    Card,
    /// A reversal (0400, 0420, repeats 0401, 0421; 1400, 1420, …): counted and linked.
    Reversal,
    /// Anything else (advices such as 0220, file updates, …).
    Other,
}

fn mismatch(expected: &[u8], found: &[u8]) -> String {
    let e = IllFormedError::MismatchedEndTag {
        expected: String::from_utf8_lossy(expected).into_owned(),
        found: String::from_utf8_lossy(found).into_owned(),
    };
    format!("malformed XML: {e}")
}

/// The decoded (unescaped, UTF-8) value of attribute `key`, if present.
fn attribute(s: &BytesStart<'_>, key: &[u8], decoder: Decoder) -> Result<Option<String>, String> {
    for attr in s.attributes() {
        let attr = attr.map_err(|e| format!("malformed XML: {e}"))?;
        if attr.key.as_ref() == key {
            return match attr.decode_and_unescape_value(decoder) {
                Ok(v) => Ok(Some(v.into_owned())),
                Err(XmlError::Encoding(_)) => Err("undecodable bytes (not UTF-8)".into()),
                Err(e) => Err(format!("malformed XML: {e}")),
            };
        }
    }
    Ok(None)
}

/// The raw bytes of attribute `key`, if present, without decoding.
fn raw_attribute(s: &BytesStart<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
    for attr in s.attributes() {
        let attr = attr.map_err(|e| format!("malformed XML: {e}"))?;
        if attr.key.as_ref() == key {
            return Ok(Some(attr.value.into_owned()));
        }
    }
    Ok(None)
}

/// A field id: ASCII digits, surrounding spaces allowed. Subfield-style ids (`48.1`) are not
/// top-level data elements and give `None`.
fn parse_id(raw: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(raw).ok()?.trim();
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Where an outer `<isomsg>` was logged: as a channel's traffic (`<send>`/`<receive>`), or
/// anywhere else — a transaction manager's `<context>`, an `<info>`, straight in `<log>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Send,
    Receive,
    Dump,
}

/// The wanted data elements of one outer `<isomsg>`.
struct Msg {
    /// Length of the element stack with this isomsg open (its index + 1).
    depth: usize,
    direction: Direction,
    values: [Option<String>; WANTED.len()],
    /// `currency` attribute of an `ISOAmount` field 4.
    amount_currency: Option<String>,
}

impl Msg {
    fn new(depth: usize, direction: Direction) -> Self {
        Msg {
            depth,
            direction,
            values: Default::default(),
            amount_currency: None,
        }
    }

    /// A copy with only the data elements `ids`.
    fn only(&self, ids: &[u32]) -> Msg {
        let mut m = Msg::new(self.depth, self.direction);
        for &id in ids {
            if let Some(v) = self.get(id) {
                m.set(id, v.to_string());
            }
        }
        if ids.contains(&4) {
            m.amount_currency = self.amount_currency.clone();
        }
        m
    }

    /// Take the data elements `ids` this message lacks (absent or blank) from `other`.
    fn inherit(&mut self, other: &Msg, ids: &[u32]) {
        for &id in ids {
            if self.trimmed(id).is_some() {
                continue;
            }
            if let Some(v) = other.trimmed(id) {
                self.set(id, v.to_string());
                if id == 4 {
                    self.amount_currency = other.amount_currency.clone();
                }
            }
        }
    }

    fn set(&mut self, id: u32, value: String) {
        if let Some(i) = WANTED.iter().position(|&w| w == id) {
            self.values[i] = Some(value);
        }
    }

    fn get(&self, id: u32) -> Option<&str> {
        let i = WANTED.iter().position(|&w| w == id)?;
        self.values[i].as_deref()
    }

    /// Trimmed and non-blank.
    fn trimmed(&self, id: u32) -> Option<&str> {
        self.get(id).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A response (function digit 1) or advice response (3) that is not network management
    /// (class 8: echo, sign-on, key exchange) and carries field 39.
    fn is_card_response(&self) -> bool {
        let Some(mti) = self.trimmed(0) else {
            return false;
        };
        let b = mti.as_bytes();
        b.len() == 4
            && b.iter().all(u8::is_ascii_digit)
            && matches!(b[2], b'1' | b'3')
            && b[1] != b'8'
            && self.get(39).is_some()
    }

    /// A request (function digit 0) or advice (2) that is not network management; the
    /// requests a response can be paired with.
    fn is_card_request(&self) -> bool {
        let Some(mti) = self.trimmed(0) else {
            return false;
        };
        let b = mti.as_bytes();
        b.len() == 4
            && b.iter().all(u8::is_ascii_digit)
            && matches!(b[2], b'0' | b'2')
            && b[1] != b'8'
    }

    /// What a card request (see [`Msg::is_card_request`]) is.
    fn kind(&self) -> Kind {
        let Some(mti) = self.trimmed(0) else {
            return Kind::Other;
        };
        let b = mti.as_bytes();
        if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) || b[1] == b'8' {
            Kind::Other
        } else if reversal::is_reversal(mti) {
            Kind::Reversal
        } else if matches!(b[1], b'1' | b'2') && b[2] == b'0' && matches!(b[3], b'0' | b'1') {
            Kind::Card
        } else {
            Kind::Other
        }
    }

    fn into_fields(self, at: Option<String>) -> RawFields {
        let mut f = RawFields::default();
        if let Some(at) = at {
            f.set(Field::Timestamp, at);
        }
        let trimmed = [
            (Field::TerminalId, 41),
            (Field::ResponseCode, 39),
            (Field::MerchantId, 42),
            (Field::TxnType, 0),
            (Field::EntryMode, 22),
            (Field::Currency, 49),
        ];
        for (field, id) in trimmed {
            if let Some(v) = self.trimmed(id) {
                f.set(field, v);
            }
        }
        if f.get(Field::TerminalId).is_none() {
            f.set(Field::TerminalId, NO_TERMINAL);
        }
        if let Some(id) = self.trimmed(37).or_else(|| self.trimmed(11)) {
            f.set(Field::TxnId, id);
        }
        // Field 43, card acceptor name/location: in the ISO layout (40 characters) the name is
        // the first 25, followed by city and country; shorter values are taken as the name.
        if let Some(v) = self.get(43) {
            let name: String = if v.chars().count() >= 38 {
                v.chars().take(25).collect()
            } else {
                v.to_string()
            };
            let name = name.trim();
            if !name.is_empty() {
                f.set(Field::MerchantName, name);
            }
        }
        if f.get(Field::Currency).is_none() {
            if let Some(c) = self.amount_currency.as_deref().map(str::trim) {
                if !c.is_empty() {
                    f.set(Field::Currency, c);
                }
            }
        }
        // as-is: amount in minor units (leading zeros are the pipeline's business), PAN
        for (field, id) in [(Field::Amount, 4), (Field::Pan, 2)] {
            if let Some(v) = self.get(id).filter(|v| !v.trim().is_empty()) {
                f.set(field, v);
            }
        }
        f
    }
}

/// At most [`EXCERPT_CHARS`] characters (cut on a char boundary).
fn excerpt(s: &str) -> String {
    s.chars().take(EXCERPT_CHARS).collect()
}

/// Replace the `value` of sensitive fields (by id, see [`SENSITIVE`]), and every value inside
/// an `<isomsg id="..">` with a sensitive id, by `***`. Works on raw, possibly cut text.
fn mask_sensitive(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // depth of isomsg elements while inside a sensitive one
    let mut inside_sensitive: Option<usize> = None;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        let end = rest.find('>').map_or(rest.len(), |i| i + 1);
        let tag = &rest[..end];
        rest = &rest[end..];

        let body = &tag[1..];
        let (closing, body) = match body.strip_prefix('/') {
            Some(b) => (true, b),
            None => (false, body),
        };
        let name_end = body
            .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .unwrap_or(body.len());
        let is_isomsg = &body[..name_end] == "isomsg";
        let self_closing = tag.ends_with("/>");
        let sensitive_id = tag_id(tag).is_some_and(|id| SENSITIVE.contains(&id));

        if is_isomsg && !self_closing {
            inside_sensitive = match (closing, inside_sensitive) {
                (false, None) if sensitive_id => Some(1),
                (false, Some(d)) => Some(d + 1),
                (true, Some(d)) => d.checked_sub(1).filter(|&d| d > 0),
                (_, other) => other,
            };
        }
        if sensitive_id || inside_sensitive.is_some() {
            out.push_str(&mask_value(tag));
        } else {
            out.push_str(tag);
        }
    }
    out.push_str(rest);
    out
}

/// The numeric `id` attribute of a raw tag, if any.
fn tag_id(tag: &str) -> Option<u32> {
    let mut search = tag;
    while let Some(i) = search.find("id=") {
        let before = search[..i].chars().next_back();
        let after = &search[i + 3..];
        search = after;
        if !before.is_some_and(|c| c.is_ascii_whitespace()) {
            continue; // e.g. `xid=`
        }
        let quote = after.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let value = &after[1..];
        let value = &value[..value.find(quote).unwrap_or(value.len())];
        return parse_id(value.as_bytes());
    }
    None
}

/// `value="..."` in a raw tag with its content replaced by `***` (to the end of the tag if the
/// closing quote is missing).
fn mask_value(tag: &str) -> String {
    let mut search_from = 0;
    while let Some(i) = tag[search_from..].find("value=").map(|i| i + search_from) {
        let start = i + "value=".len();
        let preceded_ok = tag[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_whitespace());
        let quote = tag[start..].chars().next();
        match quote {
            Some(q @ ('"' | '\'')) if preceded_ok => {
                let content = start + 1;
                let close = tag[content..].find(q).map_or(tag.len(), |j| content + j);
                return format!("{}***{}", &tag[..content], &tag[close..]);
            }
            _ => search_from = start,
        }
    }
    tag.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = include_str!("../../tests/fixtures/jpos/q2-session.xml");
    const LEGACY: &str = include_str!("../../tests/fixtures/jpos/legacy-bare.xml");
    const TRUNCATED_LOG: &str = include_str!("../../tests/fixtures/jpos/truncated.xml");
    const MALFORMED: &str = include_str!("../../tests/fixtures/jpos/malformed.xml");
    const TODAY_AT: &str = include_str!("../../tests/fixtures/jpos/q2-today-at.xml");
    const NO_41: &str = include_str!("../../tests/fixtures/jpos/switch-no-41.xml");
    const ONE_JVM: &str = include_str!("../../tests/fixtures/jpos/one-jvm-double.xml");
    const ISO93: &str = include_str!("../../tests/fixtures/jpos/iso1993-switch.xml");
    const UNANSWERED: &str = include_str!("../../tests/fixtures/jpos/unanswered.xml");

    fn read_bytes(input: &[u8]) -> Vec<Item> {
        let mut items = Vec::new();
        read::<_, io::Error>(input, &Mapping::default(), &mut |it| {
            items.push(it);
            Ok(())
        })
        .expect("in-memory input cannot fail");
        items
    }

    fn parse(input: &str) -> Vec<Item> {
        read_bytes(input.as_bytes())
    }

    fn records(items: &[Item]) -> Vec<(u64, &RawFields)> {
        items
            .iter()
            .filter_map(|it| match it {
                Item::Record { line, fields } => Some((*line, fields)),
                _ => None,
            })
            .collect()
    }

    fn skips(items: &[Item]) -> Vec<u64> {
        items
            .iter()
            .filter_map(|it| match it {
                Item::Skip { line, .. } => Some(*line),
                _ => None,
            })
            .collect()
    }

    fn rejects(items: &[Item]) -> Vec<(u64, &str, &str)> {
        items
            .iter()
            .filter_map(|it| match it {
                Item::Reject {
                    line,
                    reason,
                    excerpt,
                } => Some((*line, reason.as_str(), excerpt.as_str())),
                _ => None,
            })
            .collect()
    }

    fn line_of(item: &Item) -> u64 {
        match item {
            Item::Record { line, .. } | Item::Reject { line, .. } | Item::Skip { line, .. } => {
                *line
            }
        }
    }

    fn without_notes(items: &[Item]) -> Vec<Item> {
        items
            .iter()
            .map(|it| match it {
                Item::Skip { line, .. } => Item::Skip {
                    line: *line,
                    note: None,
                },
                other => other.clone(),
            })
            .collect()
    }

    /// Line number of the n-th (0-based) `<log` in `text`.
    fn log_line(text: &str, n: usize) -> u64 {
        let pos = text
            .match_indices("<log ")
            .nth(n)
            .expect("fixture has it")
            .0;
        1 + text[..pos].matches('\n').count() as u64
    }

    #[test]
    fn q2_session_records_with_exact_fields() {
        let items = parse(SESSION);
        let recs = records(&items);
        assert_eq!(recs.len(), 4, "{items:#?}");

        let (line, f) = recs[0];
        assert_eq!(line, log_line(SESSION, 3));
        assert_eq!(
            f.get(Field::Timestamp),
            Some("2024-03-01T10:15:02.291+08:00")
        );
        assert_eq!(f.get(Field::TerminalId), Some("T0000017"));
        assert_eq!(f.get(Field::ResponseCode), Some("00"));
        assert_eq!(f.get(Field::MerchantId), Some("104110053990001"));
        assert_eq!(f.get(Field::Amount), Some("000000001250"));
        assert_eq!(f.get(Field::TxnId), Some("406110000123"));
        assert_eq!(f.get(Field::TxnType), Some("0210"));
        assert_eq!(f.get(Field::Currency), Some("156"));
        assert_eq!(f.get(Field::EntryMode), Some("051"));
        assert_eq!(f.get(Field::Pan), Some("4761739001010119"));
        assert_eq!(f.get(Field::MerchantName), None);
        assert_eq!(f.get(Field::CardScheme), None);
        // Issue 12: the response's time minus its request's (10:15:01.877 → 10:15:02.291)
        assert_eq!(f.get(Field::LatencyMs), Some("414"));

        // no RRN: STAN is the id; "05" stays text
        let (line, f) = recs[1];
        assert_eq!(line, log_line(SESSION, 6));
        assert_eq!(f.get(Field::ResponseCode), Some("05"));
        assert_eq!(f.get(Field::TxnId), Some("000125"));
        assert_eq!(f.get(Field::MerchantName), Some("HARBOUR BISTRO"));
        assert_eq!(f.get(Field::Amount), Some("000000089900"));
        assert_eq!(f.get(Field::EntryMode), Some("071"));

        // reversal response; merchant id space padding trimmed
        let (_, f) = recs[2];
        assert_eq!(f.get(Field::TxnType), Some("0410"));
        assert_eq!(f.get(Field::MerchantId), Some("M000000000042"));
        assert_eq!(f.get(Field::TerminalId), Some("T0000023"));
        assert_eq!(f.get(Field::Pan), None);

        // a response without field 41 and without a request is still a record
        let (_, f) = recs[3];
        assert_eq!(f.get(Field::TxnType), Some("0110"));
        assert_eq!(f.get(Field::TerminalId), Some(NO_TERMINAL));
        assert_eq!(f.get(Field::ResponseCode), Some("91"));
    }

    #[test]
    fn requests_session_events_and_0810_are_skipped_and_counted() {
        let items = parse(SESSION);
        // info, session-start, 0200, 0800, 0810 (with field 39), exception, peer-disconnect
        let expected: Vec<u64> = [0, 1, 2, 4, 5, 7, 8]
            .iter()
            .map(|&n| log_line(SESSION, n))
            .collect();
        assert_eq!(skips(&items), expected);
        assert!(rejects(&items).is_empty(), "{:#?}", rejects(&items));
        assert_eq!(items.len(), 11);
    }

    #[test]
    fn nested_isomsg_subfields_are_ignored() {
        let items = parse(SESSION);
        let dump = format!("{items:?}");
        assert!(!dump.contains("NESTED01"), "{dump}");
        assert!(!dump.contains("0000301234"), "{dump}");
        assert_eq!(records(&items)[0].1.get(Field::ResponseCode), Some("00"));
    }

    #[test]
    fn sensitive_fields_never_appear() {
        let mut all = String::new();
        for text in [
            SESSION,
            LEGACY,
            TRUNCATED_LOG,
            MALFORMED,
            TODAY_AT,
            NO_41,
            ONE_JVM,
            ISO93,
            UNANSWERED,
        ] {
            all.push_str(&format!("{:?}", parse(text)));
        }
        // and in rejects too: cut the session log right inside field 55 and after 35/52
        for marker in ["9F2608C2B1A4", "<field id=\"52\""] {
            let cut = SESSION.find(marker).unwrap() + marker.len() + 3;
            all.push_str(&format!("{:?}", parse(&SESSION[..cut])));
        }
        for secret in [
            "25122011143857589",
            "9A3F00C1D2E4B7F0",
            "9F2608C2B1A4",
            "[WIPED]",
        ] {
            assert!(!all.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    fn legacy_at_format_in_a_bare_sequence() {
        let items = parse(LEGACY);
        let recs = records(&items);
        assert_eq!(recs.len(), 3, "{items:#?}");
        let ts: Vec<_> = recs.iter().map(|(_, f)| f.get(Field::Timestamp)).collect();
        assert_eq!(
            ts,
            [
                Some("2014-01-04 19:00:08.515"),       // CST: ambiguous, dropped
                Some("2014-01-04T22:00:09.005Z"),      // GMT, unpadded millis
                Some("2014-01-05T06:00:10.042+08:00"), // custom offset kept
            ]
        );
        let (line, f) = recs[0];
        assert_eq!(line, log_line(LEGACY, 2));
        assert_eq!(f.get(Field::TxnId), Some("401912345678"));
        assert_eq!(f.get(Field::MerchantId), Some("M000000000042"));
        assert_eq!(f.get(Field::Amount), Some("000000001250"));
        assert_eq!(recs[2].1.get(Field::TxnType), Some("0230"));
        // connect, 0200 request, rotate-log-listener message
        assert_eq!(
            skips(&items),
            [
                log_line(LEGACY, 0),
                log_line(LEGACY, 1),
                log_line(LEGACY, 5)
            ]
        );
    }

    #[test]
    fn truncated_last_event_is_one_reject_after_all_records() {
        let items = parse(TRUNCATED_LOG);
        assert_eq!(records(&items).len(), 2, "{items:#?}");
        let rej = rejects(&items);
        assert_eq!(rej.len(), 1, "{items:#?}");
        let (line, reason, excerpt) = rej[0];
        assert_eq!(line, log_line(TRUNCATED_LOG, 2));
        assert_eq!(reason, "truncated XML event");
        assert!(
            excerpt.starts_with(
                "<log realm=\"channel/10.20.1.17:41877\" at=\"2024-03-01T23:59:59.730+08:00\""
            ),
            "{excerpt}"
        );
        assert!(!excerpt.contains("25122011143857589"), "{excerpt}");
        assert!(matches!(items.last(), Some(Item::Reject { .. })));
    }

    #[test]
    fn unclosed_event_followed_by_a_new_one_resynchronises() {
        let marker = r#"value="000303"/>"#;
        let head = &TRUNCATED_LOG[..TRUNCATED_LOG.find(marker).unwrap() + marker.len()];
        let input = format!(
            "{head}\n{}",
            &TRUNCATED_LOG[TRUNCATED_LOG.find("<log ").unwrap()..]
        );
        let items = parse(&input);
        let rej = rejects(&items);
        assert_eq!(rej.len(), 2, "{items:#?}"); // the cut one, and the cut one again at the end
        assert_eq!(rej[0].0, log_line(&input, 2));
        assert_eq!(rej[0].1, "truncated XML event");
        assert_eq!(records(&items).len(), 4);
        assert_eq!(records(&items)[2].0, log_line(&input, 3));
    }

    #[test]
    fn mismatched_tags_reject_only_their_event() {
        let items = parse(MALFORMED);
        let kinds: Vec<(u64, &str)> = items
            .iter()
            .map(|it| match it {
                Item::Record { line, .. } => (*line, "record"),
                Item::Skip { line, .. } => (*line, "skip"),
                Item::Reject { line, reason, .. } => (*line, reason.as_str()),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (1, "record"),
                (
                    11,
                    "malformed XML: expected `</isomsg>`, but `</send>` was found"
                ),
                (
                    20,
                    "malformed XML: expected `</send>`, but `</sned>` was found"
                ),
                (30, "record"),
            ]
        );
        assert_eq!(records(&items)[1].1.get(Field::TxnId), Some("000004"));
    }

    #[test]
    fn stack_trace_init_frames_do_not_break_an_event() {
        // the exception event in the session fixture holds `<init>`: it must be a plain skip
        let items = parse(SESSION);
        assert!(skips(&items).contains(&log_line(SESSION, 7)));
    }

    #[test]
    fn first_card_response_in_an_event_wins() {
        let input = r#"<log realm="txnmgr" at="2024-03-01T10:00:00Z">
  <commit>
    <context>
      REQUEST:
      <isomsg><field id="0" value="0200"/><field id="41" value="T1"/></isomsg>
      NETWORK:
      <isomsg><field id="0" value="0810"/><field id="39" value="00"/></isomsg>
      RESPONSE:
      <isomsg><field id="0" value="0210"/><field id="39" value="51"/><field id="41" value="T1"/></isomsg>
      LATER:
      <isomsg><field id="0" value="0210"/><field id="39" value="00"/><field id="41" value="T2"/></isomsg>
    </context>
  </commit>
</log>"#;
        let items = parse(input);
        assert_eq!(items.len(), 1);
        let (_, f) = records(&items)[0];
        assert_eq!(f.get(Field::ResponseCode), Some("51"));
        assert_eq!(f.get(Field::TerminalId), Some("T1"));
    }

    /// (terminal, merchant, code, amount, txn type) of each record.
    fn summary(items: &[Item]) -> Vec<[Option<&str>; 5]> {
        records(items)
            .iter()
            .map(|(_, f)| {
                [
                    f.get(Field::TerminalId),
                    f.get(Field::MerchantId),
                    f.get(Field::ResponseCode),
                    f.get(Field::Amount),
                    f.get(Field::TxnType),
                ]
            })
            .collect()
    }

    fn timestamps(items: &[Item]) -> Vec<&str> {
        records(items)
            .iter()
            .map(|(_, f)| f.get(Field::Timestamp).unwrap_or(""))
            .collect()
    }

    #[test]
    fn todays_at_form_with_millis_before_the_zone() {
        let items = parse(TODAY_AT);
        assert_eq!(
            timestamps(&items),
            [
                "2020-10-08 17:49:39.830",
                "2020-10-08 17:50:02.104",
                "2020-10-08 17:52:10",
                "2020-10-08 17:52:10.004",
                "2020-10-08 17:56:12.663",
            ]
        );
        assert_eq!(skips(&items).len(), 10);
        assert!(rejects(&items).is_empty());
        let codes: Vec<_> = summary(&items).iter().map(|r| r[2]).collect();
        assert_eq!(
            codes,
            [Some("00"), Some("51"), Some("05"), Some("00"), Some("91")]
        );
    }

    #[test]
    fn responses_without_41_take_it_from_their_request() {
        let items = parse(NO_41);
        let m17 = Some("104110058120018");
        let m22 = Some("104110058120022");
        assert_eq!(
            summary(&items),
            [
                // two terminals used STAN 000451 at once: each response is on its channel
                [
                    Some("POS00022"),
                    m22,
                    Some("51"),
                    Some("000000012800"),
                    Some("0210")
                ],
                [
                    Some("POS00017"),
                    m17,
                    Some("00"),
                    Some("000000003500"),
                    Some("0210")
                ],
                [
                    Some("POS00017"),
                    m17,
                    Some("05"),
                    Some("000000060000"),
                    Some("0110")
                ],
                [
                    Some("POS00017"),
                    m17,
                    Some("00"),
                    Some("000000003500"),
                    Some("0410")
                ],
                // has 41, lacks 42
                [
                    Some("POS00022"),
                    m22,
                    Some("00"),
                    Some("000000002000"),
                    Some("0210")
                ],
                // no request at all
                [Some(NO_TERMINAL), None, Some("91"), None, Some("0210")],
            ]
        );
        let recs = records(&items);
        assert_eq!(recs[0].1.get(Field::TxnId), Some("415509000452"));
        assert_eq!(recs[0].1.get(Field::EntryMode), Some("071"));
        assert_eq!(recs[0].1.get(Field::Currency), Some("156"));
        assert_eq!(
            recs[0].1.get(Field::Pan),
            None,
            "the PAN is never inherited"
        );
        assert_eq!(skips(&items).len(), 8);
    }

    /// `(realm, at, wrapper, fields)`: the wrapper is `send`/`receive`, or `info` for a
    /// message outside both (a dump).
    type LogLine<'a> = (&'a str, &'a str, &'a str, &'a [(u32, &'a str)]);

    /// A log of one-message events.
    fn events(list: &[LogLine<'_>]) -> String {
        let mut out = String::new();
        for (realm, at, wrapper, fields) in list {
            let fields: String = fields
                .iter()
                .map(|(id, v)| format!(r#"<field id="{id}" value="{v}"/>"#))
                .collect();
            out.push_str(&format!(
                r#"<log realm="{realm}" at="{at}"><{wrapper}><isomsg>{fields}</isomsg></{wrapper}></log>"#
            ));
            out.push('\n');
        }
        out
    }

    fn terminals(items: &[Item]) -> Vec<&str> {
        summary(items).iter().map(|r| r[0].unwrap_or("")).collect()
    }

    #[test]
    fn pairing_needs_the_same_stan_an_answering_mti_and_no_contradiction() {
        let req: &[(u32, &str)] = &[(0, "0200"), (11, "000001"), (37, "111"), (41, "T1")];
        let resp = |mti, rrn| vec![(0, mti), (11, "000001"), (37, rrn), (39, "00")];
        let (r1, r2, r3) = (
            resp("0210", "111"),
            resp("0110", "111"),
            resp("0210", "222"),
        );
        let input = events(&[
            ("a", "2024-03-01T10:00:00.000", "receive", req),
            ("a", "2024-03-01T10:00:00.100", "send", &r1),
            ("a", "2024-03-01T10:00:01.000", "send", &r2), // 0110 does not answer 0200
            ("a", "2024-03-01T10:00:02.000", "send", &r3), // another RRN
        ]);
        assert_eq!(terminals(&parse(&input)), ["T1", NO_TERMINAL, NO_TERMINAL]);
    }

    #[test]
    fn pairing_window_is_120_seconds() {
        let req: &[(u32, &str)] = &[(0, "0200"), (11, "000001"), (41, "T1")];
        let resp: &[(u32, &str)] = &[(0, "0210"), (11, "000001"), (39, "00")];
        let input = events(&[
            ("a", "2024-03-01T10:00:00.000", "receive", req),
            ("a", "2024-03-01T10:02:00.000", "send", resp),
            ("a", "2024-03-01T10:02:00.001", "send", resp),
        ]);
        // the second is 120.001 s after the request; it is not a copy (same vantage)
        let items = parse(&input);
        // Issue 12: and the request, answered only after 120 s (past the 60 s timeout), is
        // also a NO_RESPONSE row of its own, first (at its line)
        assert_eq!(terminals(&items), ["T1", "T1", NO_TERMINAL]);
        let codes: Vec<_> = summary(&items).iter().map(|r| r[2]).collect();
        assert_eq!(codes, [Some(NO_RESPONSE), Some("00"), Some("00")]);
    }

    #[test]
    fn ambiguous_requests_on_other_channels_leave_the_response_unpaired() {
        let req = |tid| vec![(0, "0200"), (11, "000001"), (41, tid)];
        let (t1, t2) = (req("T1"), req("T2"));
        let resp = |rrn| vec![(0, "0210"), (11, "000001"), (37, rrn), (39, "00")];
        let (r1, r2, r3) = (resp("1"), resp("2"), resp("3"));
        let input = events(&[
            ("a", "2024-03-01T10:00:00.000", "receive", &t1),
            ("b", "2024-03-01T10:00:00.010", "receive", &t2),
            ("c", "2024-03-01T10:00:00.100", "send", &r1), // neither a's nor b's: ambiguous
            ("b", "2024-03-01T10:00:01.100", "send", &r2), // b's own channel
            ("a", "2024-03-01T10:00:02.100", "send", &r3), // a's own channel
        ]);
        assert_eq!(terminals(&parse(&input)), [NO_TERMINAL, "T2", "T1"]);
        // the same terminal on both channels (one JVM, client and server): not ambiguous
        let input = events(&[
            ("a", "2024-03-01T10:00:00.000", "send", &t1),
            ("b", "2024-03-01T10:00:00.010", "receive", &t1),
            ("c", "2024-03-01T10:00:00.100", "send", &r1),
        ]);
        assert_eq!(terminals(&parse(&input)), ["T1"]);
    }

    #[test]
    fn double_logging_and_context_dumps_count_once() {
        let items = parse(ONE_JVM);
        let recs = records(&items);
        // the server's `send` is seen first each time; client receive and dump are skips
        let lines: Vec<u64> = recs.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            lines,
            [5, 10, 15, 20].map(|n| log_line(ONE_JVM, n)),
            "{items:#?}"
        );
        assert_eq!(
            timestamps(&items),
            [
                "2024-05-20T10:00:00.140",
                "2024-05-20T10:00:01.031",
                "2024-05-20T10:00:05.527",
                "2024-05-20T10:00:40.120417",
            ]
        );
        let codes: Vec<_> = summary(&items).iter().map(|r| (r[2], r[3])).collect();
        assert_eq!(
            codes,
            [
                (Some("00"), Some("000000001000")),
                (Some("00"), Some("000000001000")),
                (Some("51"), Some("000000002500")),
                (Some("00"), Some("000000001000")),
            ]
        );
        assert!(recs
            .iter()
            .all(|(_, f)| f.get(Field::TxnId) == Some("000001")));
        assert_eq!(skips(&items).len(), 3 + 4 * 4);
        assert!(rejects(&items).is_empty());
    }

    #[test]
    fn what_is_not_a_second_sighting() {
        let resp: &[(u32, &str)] = &[(0, "0210"), (11, "000001"), (39, "00"), (41, "T1")];
        let other_code: &[(u32, &str)] = &[(0, "0210"), (11, "000001"), (39, "05"), (41, "T1")];
        let input = events(&[
            ("s", "2024-03-01T10:00:00.000", "send", resp),
            ("s", "2024-03-01T10:00:00.001", "send", resp), // same vantage: another message
            ("c", "2024-03-01T10:00:00.002", "receive", other_code), // other content
            ("c", "2024-03-01T10:00:03.000", "receive", resp), // 3 s later: too late for a copy
            ("c", "2024-03-01T10:00:03.004", "send", resp), // the other direction: a copy
            ("t", "2024-03-01T10:00:25.000", "info", resp), // a dump within 30 s: a copy
            ("t", "2024-03-01T10:00:25.001", "info", resp), // (of the next one)
            ("t", "2024-03-01T10:00:26.000", "info", resp), // (and the next)
            ("t", "2024-03-01T10:00:27.000", "info", resp), // all taken: a record
            ("s", "not a time", "send", resp),
            ("c", "not a time", "receive", resp), // no time: never a copy
        ]);
        let items = parse(&input);
        let kinds: Vec<bool> = items
            .iter()
            .map(|it| matches!(it, Item::Record { .. }))
            .collect();
        assert_eq!(
            kinds,
            [true, true, true, true, false, false, false, false, true, true, true]
        );
    }

    #[test]
    fn a_load_test_with_one_stan_and_identical_messages_counts_each() {
        // 100 identical transactions a second, STAN 000001, no RRN, each logged by client
        // and server: every one counts once, and the work per event stays small.
        let req: &[(u32, &str)] = &[(0, "0200"), (4, "100"), (11, "000001"), (41, "T1")];
        let resp: &[(u32, &str)] = &[(0, "0210"), (4, "100"), (11, "000001"), (39, "00")];
        let n = 3000;
        let mut lines = Vec::new();
        let at = |ms: i64| {
            let t = chrono::DateTime::from_timestamp_millis(1_709_287_200_000 + ms).unwrap();
            t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
        };
        for i in 0..n {
            let t = i * 10;
            lines.push(("client", at(t), "send", req));
            lines.push(("server", at(t + 1), "receive", req));
            lines.push(("server", at(t + 4), "send", resp));
            lines.push(("client", at(t + 5), "receive", resp));
        }
        let list: Vec<LogLine<'_>> = lines
            .iter()
            .map(|(realm, at, wrapper, fields)| (*realm, at.as_str(), *wrapper, *fields))
            .collect();
        let items = parse(&events(&list));
        assert_eq!(records(&items).len(), n as usize);
        assert_eq!(skips(&items).len(), 3 * n as usize);
        assert!(terminals(&items).iter().all(|t| *t == "T1"));
    }

    #[test]
    fn iso_8583_1993_switch() {
        let items = parse(ISO93);
        let m = Some("MERCH0000000001");
        assert_eq!(
            summary(&items),
            [
                [
                    Some("TERM 001"),
                    m,
                    Some("000"),
                    Some("000000004000"),
                    Some("1110")
                ],
                [
                    Some("TERM 001"),
                    m,
                    Some("116"),
                    Some("000000001999"),
                    Some("1210")
                ],
                [
                    Some("TRM 02"),
                    m,
                    Some("100"),
                    Some("000000000850"),
                    Some("1210")
                ],
                [
                    Some("TRM 02"),
                    m,
                    Some("911"),
                    Some("000000012000"),
                    Some("1210")
                ],
                // no field 41: from its request
                [
                    Some("TRM 02"),
                    m,
                    Some("000"),
                    Some("000000012000"),
                    Some("1210")
                ],
            ]
        );
        assert_eq!(skips(&items).len(), 8); // session-start, 5 requests, 1804, 1814
        let dump = format!("{items:?}");
        assert!(
            !dump.contains("NESTED48") && !dump.contains("\"999\""),
            "{dump}"
        );
        assert_eq!(timestamps(&items)[0], "2021-06-14T09:12:03.417+02:00");
    }

    #[test]
    fn isoamount_field_4_keeps_its_text_and_currency() {
        let input = r#"<log realm="r" at="2024-03-01T10:00:00Z"><send><isomsg>
<field id="0" value="0210"/><field id="4" currency="840" type="amount" value="12.50"/>
<field id="39" value="00"/><field id="41" value="T1"/></isomsg></send></log>"#;
        let items = parse(input);
        let (_, f) = records(&items)[0];
        assert_eq!(f.get(Field::Amount), Some("12.50"));
        assert_eq!(f.get(Field::Currency), Some("840"));
    }

    #[test]
    fn bom_crlf_and_empty_input() {
        assert!(parse("").is_empty());
        assert!(parse("\u{feff}").is_empty());
        assert!(parse("  \r\n").is_empty());
        let crlf = format!("\u{feff}{}", LEGACY.replace('\n', "\r\n"));
        assert_eq!(parse(&crlf), parse(LEGACY));
    }

    #[test]
    fn file_starting_mid_event_and_stray_text() {
        let start = SESSION.find("<field id=\"39\"").unwrap();
        let input = format!("{}\nsome stray text\n", &SESSION[start..]);
        let items = parse(&input);
        let rej = rejects(&items);
        assert_eq!(rej[0].0, 1);
        assert_eq!(rej[0].1, "truncated XML event: its start is missing");
        assert!(rej[0].2.starts_with("<field id=\"39\""), "{}", rej[0].2);
        let last = rej.last().unwrap();
        assert_eq!(last.1, "unexpected content outside <log> events");
        assert_eq!(last.0, 1 + input.matches('\n').count() as u64 - 1);
        assert_eq!(records(&items).len(), 3);
    }

    #[test]
    fn unrecoverable_markup_rejects_the_rest_and_stops() {
        let input = format!("{}<!bogus>\n{}", LEGACY, LEGACY);
        let items = parse(&input);
        assert_eq!(records(&items).len(), 3);
        let rej = rejects(&items);
        assert_eq!(rej.len(), 1);
        assert_eq!(rej[0].0, 1 + LEGACY.matches('\n').count() as u64);
        assert!(rej[0].1.starts_with("malformed XML: "), "{}", rej[0].1);
    }

    #[test]
    fn bad_bytes_and_attributes_reject_the_event() {
        let ok = r#"<log at="2024-03-01T10:00:00Z"><send><isomsg><field id="0" value="0210"/><field id="39" value="00"/><field id="41" value="T1"/></isomsg></send></log>"#;
        let mut input = Vec::new();
        input.extend_from_slice(ok.replace("T1", "T\u{e9}").as_bytes());
        input.push(b'\n');
        // Latin-1 é in terminal id
        input.extend_from_slice(
            &ok.replace("T1", "T\u{1}")
                .as_bytes()
                .iter()
                .map(|&b| if b == 1 { 0xe9 } else { b })
                .collect::<Vec<u8>>(),
        );
        input.push(b'\n');
        input.extend_from_slice(ok.replace(r#"value="00""#, r#"value=00"#).as_bytes());
        input.push(b'\n');
        input.extend_from_slice(ok.replace(r#"value="00""#, r#"value="&bogus;""#).as_bytes());
        input.push(b'\n');
        input.extend_from_slice(ok.as_bytes());
        let items = read_bytes(&input);
        assert_eq!(items.len(), 5, "{items:#?}");
        assert_eq!(records(&items)[0].1.get(Field::TerminalId), Some("Té"));
        let rej = rejects(&items);
        assert_eq!(rej[0].0, 2);
        assert_eq!(rej[0].1, "undecodable bytes (not UTF-8)");
        assert_eq!(rej[1].0, 3);
        assert!(rej[1].1.starts_with("malformed XML: "), "{}", rej[1].1);
        assert_eq!(rej[2].0, 4);
        assert!(rej[2].1.starts_with("malformed XML: "), "{}", rej[2].1);
        assert_eq!(records(&items)[1].0, 5);
    }

    #[test]
    fn many_events_stream_through() {
        let event = &SESSION[SESSION.find("<log realm=\"channel/10.20.1.23").unwrap()..];
        let event = &event[..event.find("</log>").unwrap() + "</log>".len()];
        let input = format!("{event}\n").repeat(5000);
        let items = parse(&input);
        assert_eq!(records(&items).len(), 5000);
        let per_event = 1 + event.matches('\n').count() as u64;
        assert_eq!(line_of(&items[4999]), 1 + 4999 * per_event);
    }

    #[test]
    fn small_read_buffers_give_the_same_items() {
        for text in [SESSION, LEGACY, TRUNCATED_LOG, MALFORMED, ONE_JVM, NO_41] {
            let want = parse(text);
            for cap in [1, 3, 64] {
                let mut got = Vec::new();
                let input = io::BufReader::with_capacity(cap, text.as_bytes());
                read::<_, io::Error>(input, &Mapping::default(), &mut |it| {
                    got.push(it);
                    Ok(())
                })
                .unwrap();
                assert_eq!(got, want, "capacity {cap}");
            }
        }
    }

    #[test]
    fn reject_excerpts_mask_sensitive_fields() {
        let input = concat!(
            r#"<log at="2024-03-01T10:00:00Z"><receive><isomsg><field id="0" value="0200"/>"#,
            r#"<field id="35" value="4761739001010119=2512201"/><field id="52" value="9A3F00C1D2E4B7F0" type="binary"/>"#,
            r#"<isomsg id="55"><field id="1" value="9F2608C2B1A4"/></isomsg><field id="41" value="T1"/>"#,
        );
        let items = parse(input);
        let rej = rejects(&items);
        assert_eq!(rej.len(), 1);
        let excerpt = rej[0].2;
        assert!(
            excerpt.contains(r#"<field id="35" value="***"/>"#),
            "{excerpt}"
        );
        assert!(
            excerpt.contains(r#"<field id="52" value="***" type="binary"/>"#),
            "{excerpt}"
        );
        assert!(
            excerpt.contains(r#"<field id="1" value="***"/>"#),
            "{excerpt}"
        );
        // the sensitive region ends with its isomsg
        let masked = mask_sensitive(input);
        assert!(
            masked.ends_with(r#"</isomsg><field id="41" value="T1"/>"#),
            "{masked}"
        );
        // cut inside the value: masked to the end
        assert_eq!(
            mask_sensitive(r#"<field id='35' value='47617390"#),
            r#"<field id='35' value='***"#
        );
        let not_an_id = r#"<field xid="35" value="x"/>"#;
        assert_eq!(mask_sensitive(not_an_id), not_an_id);
    }

    #[test]
    fn io_errors_propagate() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let r = read::<_, io::Error>(
            io::BufReader::new(Failing),
            &Mapping::default(),
            &mut |_| Ok(()),
        );
        assert_eq!(r.unwrap_err().to_string(), "disk on fire");
    }

    #[test]
    fn every_truncation_is_safe_and_lines_increase() {
        for text in [SESSION, LEGACY, MALFORMED] {
            let full = parse(text);
            for cut in 0..=text.len() {
                let items = read_bytes(&text.as_bytes()[..cut]);
                let lines: Vec<u64> = items.iter().map(line_of).collect();
                assert!(
                    lines.windows(2).all(|w| w[0] < w[1]),
                    "cut {cut}: {lines:?}"
                );
                // whatever came out before the cut point is what the whole file gives, but for
                // the notes: a request cut off from its response is pending at the end
                let complete = items.len().saturating_sub(1);
                assert_eq!(
                    without_notes(&items[..complete]),
                    without_notes(&full[..complete]),
                    "cut {cut}"
                );
            }
        }
    }

    /// The notes of the skipped events: (line, note).
    fn notes(items: &[Item]) -> Vec<(u64, Note)> {
        items
            .iter()
            .filter_map(|it| match it {
                Item::Skip {
                    line,
                    note: Some(n),
                } => Some((*line, *n)),
                _ => None,
            })
            .collect()
    }

    /// Issue 12, on a Q2 log: 10 requests answered, 5 unanswered on two terminals (two of
    /// them logged twice, by a gateway client and the server in one JVM; one answered 65 s
    /// late), 2 in the last minute of the log, 3 reversals.
    #[test]
    fn unanswered_requests_become_no_response_records() {
        let items = parse(UNANSWERED);
        assert!(rejects(&items).is_empty(), "{items:#?}");
        assert_eq!(items.len(), 50, "one item per event");
        let recs = records(&items);
        assert_eq!(recs.len(), 19);
        let lines: Vec<u64> = items.iter().map(line_of).collect();
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "file order: {lines:?}"
        );

        let none: Vec<(u64, [Option<&str>; 8])> = recs
            .iter()
            .filter(|(_, f)| f.get(Field::ResponseCode) == Some(NO_RESPONSE))
            .map(|(line, f)| {
                (
                    *line,
                    [
                        f.get(Field::TerminalId),
                        f.get(Field::Timestamp),
                        f.get(Field::TxnType),
                        f.get(Field::TxnId),
                        f.get(Field::Amount),
                        f.get(Field::EntryMode),
                        f.get(Field::Pan),
                        f.get(Field::MerchantId),
                    ],
                )
            })
            .collect();
        let m31 = Some("104110058130031");
        let m32 = Some("104110058130032");
        assert_eq!(
            none,
            [
                (
                    log_line(UNANSWERED, 17),
                    [
                        Some("POS00031"),
                        Some("2024-07-15T10:05:00.000+08:00"),
                        Some("0200"),
                        Some("000103"),
                        Some("000000006600"),
                        Some("051"),
                        Some("6222021001115547"), // raw here; the pipeline masks it
                        m31,
                    ]
                ),
                (
                    log_line(UNANSWERED, 24),
                    [
                        Some("POS00031"),
                        Some("2024-07-15T10:12:00.000+08:00"),
                        Some("0100"),
                        Some("000105"),
                        Some("000000030000"),
                        Some("051"),
                        None,
                        m31,
                    ]
                ),
                // answered 65.3 s later: too late
                (
                    log_line(UNANSWERED, 27),
                    [
                        Some("POS00031"),
                        Some("2024-07-15T10:20:00.500+08:00"),
                        Some("0200"),
                        Some("000106"),
                        Some("000000004500"),
                        Some("071"),
                        None,
                        m31,
                    ]
                ),
                // logged twice: the first sighting (the gateway's send) is the row
                (
                    log_line(UNANSWERED, 35),
                    [
                        Some("POS00032"),
                        Some("2024-07-15T10:30:00.100+08:00"),
                        Some("0200"),
                        Some("000204"),
                        Some("000000015000"),
                        Some("051"),
                        Some("6259071234567895"),
                        m32,
                    ]
                ),
                (
                    log_line(UNANSWERED, 37),
                    [
                        Some("POS00032"),
                        Some("2024-07-15T10:31:10.000+08:00"),
                        Some("0200"),
                        Some("000205"),
                        Some("000000015000"),
                        Some("051"),
                        None,
                        m32,
                    ]
                ),
            ]
        );
        let (_, u1) = recs[5];
        assert_eq!(u1.get(Field::MerchantName), Some("LOTUS TEA HOUSE"));
        assert_eq!(u1.get(Field::Currency), Some("156"));
        assert_eq!(u1.get(Field::LatencyMs), None);
        // field 22 as logged (a chip card read by magstripe: 801), taken from the request
        // by a response without it
        let (line, a3) = recs[2];
        assert_eq!(line, log_line(UNANSWERED, 11));
        assert_eq!(a3.get(Field::EntryMode), Some("801"));
        // the late response is a transaction of its own
        let (line, late) = recs[11];
        assert_eq!(line, log_line(UNANSWERED, 28));
        assert_eq!(late.get(Field::ResponseCode), Some("00"));

        assert_eq!(
            notes(&items),
            [
                (log_line(UNANSWERED, 18), Note::Reversal { linked: true }), // 0400, same STAN
                (log_line(UNANSWERED, 29), Note::Reversal { linked: true }), // 0420, field 90
                (log_line(UNANSWERED, 41), Note::Reversal { linked: false }), // 90: not in the log
                (log_line(UNANSWERED, 47), Note::PendingAtEnd),              // 45 s before the end
                (log_line(UNANSWERED, 48), Note::PendingAtEnd),              // 15 s before the end
            ]
        );
    }

    /// Issue 12: a paired response's latency is its `at` minus its request's, in whole
    /// milliseconds; through the gateway, from the server's own copy of the request.
    #[test]
    fn latency_from_the_paired_request() {
        let items = parse(UNANSWERED);
        let latency: Vec<(u64, Option<&str>)> = records(&items)
            .iter()
            .filter(|(_, f)| f.get(Field::ResponseCode) != Some(NO_RESPONSE))
            .map(|(line, f)| (*line, f.get(Field::LatencyMs)))
            .collect();
        let want: Vec<(u64, Option<&str>)> = [
            (6, "362"),
            (8, "911"),
            (11, "309"), // server send .611 - server receive .302 (the gateway sent at .300)
            (14, "750"),
            (16, "240"), // a response without 41 still has its request
            (19, "290"), // 0410 from its 0400
            (22, "247"),
            (26, "1204"),
            (28, "65300"), // the late one
            (30, "300"),
            (33, "178"),
            (40, "321"),
            (42, "200"),
            (44, "410"),
        ]
        .iter()
        .map(|&(n, ms)| (log_line(UNANSWERED, n), Some(ms)))
        .collect();
        assert_eq!(latency, want);
        // no request, or no time: no latency
        let items = parse(NO_41);
        let orphan = records(&items).last().unwrap().1;
        assert_eq!(orphan.get(Field::TerminalId), Some(NO_TERMINAL));
        assert_eq!(orphan.get(Field::LatencyMs), None);
        let req: &[(u32, &str)] = &[(0, "0200"), (11, "000001"), (41, "T1")];
        let resp: &[(u32, &str)] = &[(0, "0210"), (11, "000001"), (39, "00")];
        let items = parse(&events(&[
            ("a", "2024-03-01T10:00:00.500", "receive", req),
            ("a", "2024-03-01T10:00:00.200", "send", resp), // logged before its request
        ]));
        assert_eq!(records(&items)[0].1.get(Field::TerminalId), Some("T1"));
        assert_eq!(records(&items)[0].1.get(Field::LatencyMs), None);
    }

    /// The kinds of the items, for the timing tests: `R` record (with its code), `S` skip,
    /// `P` pending skip.
    fn kinds(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|it| match it {
                Item::Record { fields, .. } => {
                    format!("R{}", fields.get(Field::ResponseCode).unwrap_or(""))
                }
                Item::Skip {
                    note: Some(Note::PendingAtEnd),
                    ..
                } => "P".into(),
                Item::Skip { .. } => "S".into(),
                Item::Reject { .. } => "X".into(),
            })
            .collect()
    }

    #[test]
    fn the_timeout_is_60_seconds() {
        let req: &[(u32, &str)] = &[(0, "0200"), (11, "000001"), (41, "T1")];
        let resp: &[(u32, &str)] = &[(0, "0210"), (11, "000001"), (39, "00"), (41, "T1")];
        let info: &[(u32, &str)] = &[];
        // times are minutes:seconds after 10:00
        let run = |list: &[LogLine<'_>]| {
            let times: Vec<String> = list
                .iter()
                .map(|(_, at, _, _)| format!("2024-03-01T10:{at}"))
                .collect();
            let lines: Vec<LogLine<'_>> = list
                .iter()
                .zip(&times)
                .map(|((realm, _, w, f), at)| (*realm, at.as_str(), *w, *f))
                .collect();
            kinds(&parse(&events(&lines)))
        };
        // a response at 60.000 s answers; at 60.001 s it is late
        assert_eq!(
            run(&[
                ("a", "00:00.000", "receive", req),
                ("a", "01:00.000", "send", resp)
            ]),
            ["S", "R00"]
        );
        assert_eq!(
            run(&[
                ("a", "00:00.000", "receive", req),
                ("a", "01:00.001", "send", resp)
            ]),
            ["RNO_RESPONSE", "R00"]
        );
        // the log ends 59.999 s after the request: pending; 60 s or more: unanswered
        assert_eq!(
            run(&[
                ("a", "00:00.000", "receive", req),
                ("q", "00:59.999", "info", info)
            ]),
            ["P", "S"]
        );
        assert_eq!(
            run(&[
                ("a", "00:00.000", "receive", req),
                ("q", "01:00.000", "info", info)
            ]),
            ["RNO_RESPONSE", "S"]
        );
        assert_eq!(run(&[("a", "00:00.000", "receive", req)]), ["P"]);
        // events logged out of order: a response within the timeout, logged after an event
        // up to 2 s past it, still answers
        assert_eq!(
            run(&[
                ("a", "00:00.000", "receive", req),
                ("q", "01:01.900", "info", info),
                ("a", "00:59.000", "send", resp),
            ]),
            ["S", "S", "R00"]
        );
        assert_eq!(
            run(&[
                ("a", "00:00.000", "receive", req),
                ("q", "01:02.001", "info", info),
                ("a", "00:59.000", "send", resp),
            ]),
            ["RNO_RESPONSE", "S", "R00"]
        );
        // a request without a STAN or without a time cannot be followed: a plain skip
        let no_stan: &[(u32, &str)] = &[(0, "0200"), (41, "T1")];
        assert_eq!(
            run(&[
                ("a", "00:00.000", "receive", no_stan),
                ("q", "05:00.000", "info", info)
            ]),
            ["S", "S"]
        );
        let items = parse(&events(&[
            ("a", "not a time", "receive", req),
            ("q", "2024-03-01T10:05:00", "info", info),
        ]));
        assert_eq!(kinds(&items), ["S", "S"]);
        // advices and network management never wait
        let advice: &[(u32, &str)] = &[(0, "0220"), (11, "000001"), (41, "T1")];
        let echo: &[(u32, &str)] = &[(0, "0800"), (11, "000001"), (41, "T1")];
        assert_eq!(
            run(&[
                ("a", "00:00.000", "receive", advice),
                ("a", "00:00.100", "receive", echo),
                ("q", "05:00.000", "info", info)
            ]),
            ["S", "S", "S"]
        );
    }

    #[test]
    fn one_response_answers_one_request() {
        let req = |tid| vec![(0, "0200"), (11, "000001"), (41, tid)];
        let (t1, t2) = (req("T1"), req("T2"));
        let resp: &[(u32, &str)] = &[(0, "0210"), (11, "000001"), (39, "00")];
        let info: &[(u32, &str)] = &[];
        // two terminals, one STAN, a response on a third realm: one is answered (the
        // latest), the other is not; which one cannot be told, the count can
        let items = parse(&events(&[
            ("a", "2024-03-01T10:00:00.000", "receive", &t1),
            ("b", "2024-03-01T10:00:00.010", "receive", &t2),
            ("c", "2024-03-01T10:00:00.100", "send", resp),
            ("q", "2024-03-01T10:05:00.000", "info", info),
        ]));
        assert_eq!(kinds(&items), ["RNO_RESPONSE", "S", "R00", "S"]);
        // on a realm of its own, the response answers that realm's request
        let items = parse(&events(&[
            ("a", "2024-03-01T10:00:00.000", "receive", &t1),
            ("b", "2024-03-01T10:00:00.010", "receive", &t2),
            ("a", "2024-03-01T10:00:00.100", "send", resp),
            ("q", "2024-03-01T10:05:00.000", "info", info),
        ]));
        assert_eq!(kinds(&items), ["S", "RNO_RESPONSE", "R00", "S"]);
        assert_eq!(
            records(&items)[0].1.get(Field::TerminalId),
            Some("T2"),
            "{items:#?}"
        );
        // a response that names another terminal, RRN or MTI answers nothing
        for other in [
            vec![(0, "0210"), (11, "000001"), (39, "00"), (41, "T9")],
            vec![(0, "0110"), (11, "000001"), (39, "00"), (41, "T1")],
            vec![(0, "0210"), (11, "000002"), (39, "00"), (41, "T1")],
        ] {
            let items = parse(&events(&[
                ("a", "2024-03-01T10:00:00.000", "receive", &t1),
                ("a", "2024-03-01T10:00:00.100", "send", &other),
                ("q", "2024-03-01T10:05:00.000", "info", info),
            ]));
            assert_eq!(kinds(&items)[0], "RNO_RESPONSE", "{other:?}");
        }
    }

    #[test]
    fn requests_logged_twice_wait_once_and_any_copy_of_the_response_answers() {
        let req: &[(u32, &str)] = &[(0, "0200"), (4, "100"), (11, "000001"), (41, "T1")];
        let resp: &[(u32, &str)] = &[(0, "0210"), (4, "100"), (11, "000001"), (39, "00")];
        let info: &[(u32, &str)] = &[];
        // client send, server receive, never answered: one unanswered request
        let items = parse(&events(&[
            ("client", "2024-03-01T10:00:00.000", "send", req),
            ("server", "2024-03-01T10:00:00.002", "receive", req),
            ("txnmgr", "2024-03-01T10:00:20.000", "info", req), // a dump of it, later
            ("q", "2024-03-01T10:05:00.000", "info", info),
        ]));
        assert_eq!(kinds(&items), ["RNO_RESPONSE", "S", "S", "S"]);
        // answered on the server's realm, where the first sighting was the client's
        let items = parse(&events(&[
            ("client", "2024-03-01T10:00:00.000", "send", req),
            ("server", "2024-03-01T10:00:00.002", "receive", req),
            ("server", "2024-03-01T10:00:00.040", "send", resp),
            ("client", "2024-03-01T10:00:00.042", "receive", resp),
            ("q", "2024-03-01T10:05:00.000", "info", info),
        ]));
        assert_eq!(kinds(&items), ["S", "S", "R00", "S", "S"]);
        // the response's first sighting came before the request was logged (threads: too
        // early to answer); its copy answers
        let items = parse(&events(&[
            ("server", "2024-03-01T10:00:00.040", "send", resp),
            ("client", "2024-03-01T10:00:00.045", "send", req),
            ("client", "2024-03-01T10:00:00.046", "receive", resp),
            ("q", "2024-03-01T10:05:00.000", "info", info),
        ]));
        assert_eq!(kinds(&items), ["R00", "S", "S", "S"]);
        // ... but a copy never answers a second request when its first sighting answered one
        let items = parse(&events(&[
            ("client", "2024-03-01T10:00:00.000", "send", req),
            ("client", "2024-03-01T10:00:00.010", "send", req), // another request (same vantage)
            ("client", "2024-03-01T10:00:00.040", "receive", resp),
            ("server", "2024-03-01T10:00:00.041", "send", resp),
            ("q", "2024-03-01T10:05:00.000", "info", info),
        ]));
        assert_eq!(kinds(&items), ["RNO_RESPONSE", "S", "R00", "S", "S"]);
    }

    /// The reader holds items behind an undecided request, at most `MAX_HELD` of them: past
    /// that the request is given up as pending, though the log goes on past its timeout.
    #[test]
    fn items_held_behind_a_request_are_bounded() {
        let req: &[(u32, &str)] = &[(0, "0200"), (11, "999999"), (41, "T1")];
        let info: &[(u32, &str)] = &[];
        let at = |ms: i64| {
            let t = chrono::DateTime::from_timestamp_millis(1_709_287_200_000 + ms).unwrap();
            t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
        };
        let n = pending::MAX_HELD + 10;
        let mut times = vec![at(0)];
        times.extend((0..n).map(|i| at(1 + i as i64 / 1_000))); // within 51 s
        times.push(at(70_000));
        let mut list: Vec<LogLine<'_>> = vec![("a", times[0].as_str(), "receive", req)];
        for t in &times[1..] {
            list.push(("q", t.as_str(), "info", info));
        }
        let items = parse(&events(&list));
        assert_eq!(items.len(), n + 2);
        // held to the end, it would be unanswered: the last event is 70 s after it
        assert_eq!(
            items[0],
            Item::Skip {
                line: 1,
                note: Some(Note::PendingAtEnd)
            }
        );
    }

    /// Cheap deterministic fuzzing: splice markup-ish bytes, invalid UTF-8 and deletions into
    /// the fixtures. Nothing may panic or hang, and line numbers never go backwards.
    #[test]
    fn mutated_input_never_panics() {
        let base = [SESSION, LEGACY, TRUNCATED_LOG, MALFORMED]
            .concat()
            .into_bytes();
        for input in crate::ingest::mutate::mutations(&base, 1500) {
            let items = read_bytes(&input);
            let lines: Vec<u64> = items.iter().map(line_of).collect();
            assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
        }
    }
}
