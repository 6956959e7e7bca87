//! The sample's jPOS host log: a separate merchant's host-connected terminals, written as
//! Q2's LoggerAdaptor logs them (the layout of `tests/fixtures/jpos/q2-session.xml`), with
//! requests the host never answered and the log ending while requests are pending.

use std::fmt::Write as _;

use chrono::{Datelike, Duration, NaiveDate};

use super::{
    day_instant, last_four, local_midnight, rfc3339, start_date, Customer, Kind, Rng, BINS,
    DECLINES,
};
use crate::cli::SampleArgs;

/// The jPOS host log's merchant (in no CSV export) and its terminals.
pub(super) const HOST_MERCHANT: &str = "MH001";
const HOST_MERCHANT_NAME: &str = "HARBOUR MALL FOOD COURT";
const HOST_TERMINALS: [&str; 4] = ["H0001", "H0002", "H0003", "H0004"];
/// The host terminal with a burst of requests never answered, one evening.
const HOST_BURST: usize = 2;
/// A response comes this many milliseconds after its request (inclusive).
const HOST_RESPONSE_MS: (i64, i64) = (150, 900);

/// What the host log holds, counted while writing it.
pub(super) struct HostTruth {
    file: String,
    from: NaiveDate,
    to: NaiveDate,
    tz: Option<chrono_tz::Tz>,
    /// Per host terminal: 0200 requests (answered, unanswered and pending), 0210 responses,
    /// requests never answered (pending ones not included), 0420 reversals.
    requests: [u64; 4],
    answered: [u64; 4],
    unanswered: [u64; 4],
    reversals: [u64; 4],
    approved: u64,
    declined: u64,
    approved_amount: i64,
    declined_amount: i64,
    unanswered_amount: i64,
    pending: u64,
    sign_ons: u64,
    /// The burst: start, end (UTC seconds), requests and unanswered in it.
    burst: (i64, i64, u64, u64),
    /// Unanswered requests per (terminal, start of the local hour).
    unanswered_hours: std::collections::BTreeMap<(usize, i64), u64>,
}

impl HostTruth {
    pub(super) fn render(&self) -> String {
        let sum = |a: &[u64; 4]| a.iter().sum::<u64>();
        let ids: Vec<String> = HOST_TERMINALS.iter().map(|t| format!("\"{t}\"")).collect();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "[host_log]\nwhat = \"a jPOS XML host log (Q2 LoggerAdaptor layout) of a merchant \
             in no CSV export: 0200 requests answered by 0210 {}-{} ms later, each request \
             another card (no retries); a burst of requests never answered on {} one evening \
             and a few elsewhere; a few 0420 reversals (field 90) of approved sales, answered \
             by 0430; one 0800/0810 sign-on per terminal and day; the log ends with requests \
             still pending in its last 30 s, which are not unanswered\"\nfile = \"{}\"\n\
             merchant_id = \"{HOST_MERCHANT}\"\nmerchant_name = \"{HOST_MERCHANT_NAME}\"\n\
             terminals = [{}]\nfrom = \"{}\"\nto = \"{}\"\ntimeout_s = 60\n\
             response_ms = [{}, {}]\nrequests = {}\nanswered = {}\napproved = {}\n\
             declined = {}\nunanswered = {}\npending_at_end = {}\nreversals = {}\n\
             reversal_responses = {}\n# The rows the jPOS reader makes: 0210 and 0430 \
             responses.\ntransactions = {}\napproved_amount_minor = {}\n\
             declined_amount_minor = {}\nunanswered_amount_minor = {}\nsign_ons = {}\n",
            HOST_RESPONSE_MS.0,
            HOST_RESPONSE_MS.1,
            HOST_TERMINALS[HOST_BURST],
            self.file,
            ids.join(", "),
            self.from,
            self.to,
            HOST_RESPONSE_MS.0,
            HOST_RESPONSE_MS.1,
            sum(&self.requests),
            sum(&self.answered),
            self.approved,
            self.declined,
            sum(&self.unanswered),
            self.pending,
            sum(&self.reversals),
            sum(&self.reversals),
            sum(&self.answered) + sum(&self.reversals),
            self.approved_amount,
            self.declined_amount,
            self.unanswered_amount,
            self.sign_ons,
        );
        let _ = writeln!(
            s,
            "[host_log.unanswered_burst]\nterminal_id = \"{}\"\nstart = \"{}\"\nend = \"{}\"\n\
             requests = {}\nunanswered = {}\n",
            HOST_TERMINALS[HOST_BURST],
            rfc3339(self.burst.0, self.tz),
            rfc3339(self.burst.1, self.tz),
            self.burst.2,
            self.burst.3
        );
        s.push_str("[host_log.by_terminal]\n");
        for (i, id) in HOST_TERMINALS.iter().enumerate() {
            let _ = writeln!(
                s,
                "{id} = {{ requests = {}, answered = {}, unanswered = {}, reversals = {} }}",
                self.requests[i], self.answered[i], self.unanswered[i], self.reversals[i]
            );
        }
        for ((t, hour), n) in &self.unanswered_hours {
            let _ = writeln!(
                s,
                "\n[[host_log.unanswered_hours]]\nterminal_id = \"{}\"\nhour = \"{}\"\n\
                 unanswered = {n}",
                HOST_TERMINALS[*t],
                rfc3339(*hour, self.tz)
            );
        }
        s
    }
}

/// One thing a host terminal does: a sale or its daily sign-on.
struct HostItem {
    ms: i64,
    terminal: usize,
    /// Amount (minor units), BIN, entry mode (field 22); `None`: the sign-on.
    sale: Option<(i64, usize, &'static str)>,
}

/// A jPOS log event holding one ISO 8583 message, laid out as Q2's LoggerAdaptor writes it.
fn host_event(realm: &str, at: &str, incoming: bool, fields: &[(u32, String)]) -> String {
    let (dir, direction) = if incoming {
        ("receive", "incoming")
    } else {
        ("send", "outgoing")
    };
    let mut s = format!(
        "  <log realm=\"{realm}\" at=\"{at}\" lifespan=\"{}ms\">\n    <{dir}>\n      \
         <isomsg direction=\"{direction}\">\n        \
         <!-- org.jpos.iso.packager.GenericPackager -->\n",
        1 + fields.len() % 4
    );
    for (id, value) in fields {
        let _ = writeln!(s, "        <field id=\"{id}\" value=\"{value}\"/>");
    }
    let _ = write!(s, "      </isomsg>\n    </{dir}>\n  </log>\n");
    s
}

/// The jPOS host log of the last ISO week of the sample (`host_<week>.xml`, plain XML) and
/// what it holds. Its own random stream: the CSV exports do not change with it.
pub(super) fn host_log(
    args: &SampleArgs,
    tz: Option<chrono_tz::Tz>,
) -> (String, Vec<u8>, HostTruth) {
    let mut rng = Rng(args.seed ^ 0x4057_1060_0A0B);
    let last = start_date() + Duration::days(args.days as i64 - 1);
    let monday = last - Duration::days(last.weekday().num_days_from_monday() as i64);
    let first = monday.max(start_date());
    let file = format!(
        "host_{}-W{:02}.xml",
        last.iso_week().year(),
        last.iso_week().week()
    );
    let n_days = (last - first).num_days() + 1;
    let burst_date = if n_days >= 3 {
        last - Duration::days(2)
    } else {
        first
    };
    let realms: Vec<String> = (0..HOST_TERMINALS.len())
        .map(|i| format!("channel/10.30.8.{}:{}", 21 + i, 40000 + rng.below(20000)))
        .collect();
    let weights: Vec<(usize, f64)> = Kind::Restaurant
        .hours()
        .iter()
        .copied()
        .enumerate()
        .collect();
    let entries: &[(&str, f64)] = &[("051", 0.65), ("071", 0.35)];

    let mut items: Vec<HostItem> = Vec::new();
    let mut burst = (0, 0, 0, 0);
    let first_midnight = local_midnight(first, tz);
    for day in 0..n_days {
        let date = first + Duration::days(day);
        let midnight = local_midnight(date, tz);
        let day_len = local_midnight(date + Duration::days(1), tz) - midnight;
        let weekend = date.weekday().num_days_from_monday() >= 5;
        let at = |secs: i64, rng: &mut Rng| {
            day_instant(midnight, day_len, secs) * 1000 + rng.below(1000) as i64
        };
        for ti in 0..HOST_TERMINALS.len() {
            items.push(HostItem {
                ms: at(6 * 3600 + ti as i64 * 60, &mut rng),
                terminal: ti,
                sale: None,
            });
            let mean = 30.0
                * if weekend {
                    Kind::Restaurant.weekend()
                } else {
                    1.0
                };
            let count = (mean * (0.85 + 0.3 * rng.f64())).round() as u64;
            let sale = |rng: &mut Rng, secs: i64| {
                let c = Customer::new(rng, 0, Kind::Restaurant, 0.0, None);
                HostItem {
                    ms: at(secs, rng),
                    terminal: ti,
                    sale: Some((c.amount, c.bin, rng.pick(entries))),
                }
            };
            for _ in 0..count {
                let hour = rng.pick(&weights);
                let secs = hour as i64 * 3600 + rng.below(3600) as i64;
                items.push(sale(&mut rng, secs));
            }
            if date == burst_date && ti == HOST_BURST {
                // A busy half hour in which the host stops answering this terminal.
                let start = day_instant(midnight, day_len, 19 * 3600 + 5 * 60);
                burst.0 = start;
                burst.1 = day_instant(midnight, day_len, 19 * 3600 + 35 * 60);
                for _ in 0..14 {
                    let secs = 19 * 3600 + 5 * 60 + rng.below(30 * 60) as i64;
                    items.push(sale(&mut rng, secs));
                }
            }
        }
    }
    items.sort_by_key(|it| (it.ms, it.terminal));
    let last_sale = items
        .iter()
        .filter(|it| it.sale.is_some())
        .map(|it| it.ms)
        .max()
        .unwrap_or(0);

    let mut truth = HostTruth {
        file: file.clone(),
        from: first,
        to: last,
        tz,
        requests: [0; 4],
        answered: [0; 4],
        unanswered: [0; 4],
        reversals: [0; 4],
        approved: 0,
        declined: 0,
        approved_amount: 0,
        declined_amount: 0,
        unanswered_amount: 0,
        pending: 0,
        sign_ons: 0,
        burst,
        unanswered_hours: Default::default(),
    };
    let at = |ms: i64| {
        let when = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        match tz {
            None => when.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string(),
            Some(tz) => when
                .with_timezone(&tz)
                .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string(),
        }
    };
    let local = |ms: i64, fmt: &str| {
        let when = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        match tz {
            None => when.format(fmt).to_string(),
            Some(tz) => when.with_timezone(&tz).format(fmt).to_string(),
        }
    };
    let gmt = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .format("%m%d%H%M%S")
            .to_string()
    };
    let mid42 = format!("{HOST_MERCHANT:<15}");
    let name43 = format!("{HOST_MERCHANT_NAME:<25}{:<13}CN", "SHANGHAI");
    let mut stans: Vec<u64> = (0..HOST_TERMINALS.len())
        .map(|_| 1 + rng.below(900_000))
        .collect();
    let mut next_stan = |ti: usize| {
        stans[ti] = stans[ti] % 999_999 + 1;
        format!("{:06}", stans[ti])
    };
    let mut sales: Vec<u64> = vec![0; HOST_TERMINALS.len()];
    let keys: Vec<u64> = (0..HOST_TERMINALS.len())
        .map(|i| Rng(args.seed ^ 0x4057_CA4D ^ ((i as u64) << 20)).next_u64())
        .collect();

    // (ms, text): sorted by time (then by when they were made) before writing.
    let mut events: Vec<(i64, String)> = Vec::new();
    let start_ms = (first_midnight + 5 * 3600 + 58 * 60) * 1000;
    events.push((
        start_ms,
        format!(
            "  <log realm=\"Q2.system\" at=\"{}\">\n    <info>\n      Q2 started, \
             deployDir=/opt/jpos/deploy, environment=default\n    </info>\n  </log>\n",
            at(start_ms)
        ),
    ));
    for (ti, realm) in realms.iter().enumerate() {
        let ms = start_ms + 60_000 + ti as i64 * 1000;
        events.push((
            ms,
            format!(
                "  <log realm=\"{realm}\" at=\"{}\">\n    <session-start/>\n  </log>\n",
                at(ms)
            ),
        ));
    }
    // One sale request (and, unless `answer` is false, its response) with card `last4`.
    struct Sale {
        ms: i64,
        ti: usize,
        amount: i64,
        bin: usize,
        entry: &'static str,
        last4: u16,
        stan: String,
        rrn: String,
    }
    let request = |s: &Sale| -> Vec<(u32, String)> {
        vec![
            (0, "0200".into()),
            (2, format!("{}******{:04}", BINS[s.bin].0, s.last4)),
            (3, "000000".into()),
            (4, format!("{:012}", s.amount)),
            (7, gmt(s.ms)),
            (11, s.stan.clone()),
            (12, local(s.ms, "%H%M%S")),
            (13, local(s.ms, "%m%d")),
            (22, s.entry.into()),
            (37, s.rrn.clone()),
            (41, HOST_TERMINALS[s.ti].into()),
            (42, mid42.clone()),
            (43, name43.clone()),
            (49, "156".into()),
        ]
    };
    for it in &items {
        let ti = it.terminal;
        let realm = &realms[ti];
        let Some((amount, bin, entry)) = it.sale else {
            let stan = next_stan(ti);
            let mut fields = vec![
                (0, "0800".to_string()),
                (7, gmt(it.ms)),
                (11, stan),
                (70, "001".into()),
            ];
            events.push((it.ms, host_event(realm, &at(it.ms), true, &fields)));
            fields[0].1 = "0810".into();
            fields.insert(3, (39, "00".into()));
            events.push((it.ms + 2, host_event(realm, &at(it.ms + 2), false, &fields)));
            truth.sign_ons += 1;
            continue;
        };
        let n = sales[ti];
        sales[ti] += 1;
        let sale = Sale {
            ms: it.ms,
            ti,
            amount,
            bin,
            entry,
            last4: last_four(n, keys[ti]),
            stan: next_stan(ti),
            rrn: format!(
                "{}{}{}{:07}",
                local(it.ms, "%y").chars().last().unwrap_or('6'),
                local(it.ms, "%j"),
                ti + 1,
                n
            ),
        };
        let req = request(&sale);
        events.push((it.ms, host_event(realm, &at(it.ms), true, &req)));
        truth.requests[ti] += 1;
        let in_burst = ti == HOST_BURST && (burst.0 * 1000..burst.1 * 1000).contains(&it.ms);
        if in_burst {
            truth.burst.2 += 1;
        }
        let unanswered = if in_burst {
            rng.f64() < 0.8
        } else {
            // Never near the end of the log, which must not look unanswered.
            it.ms < last_sale - 900_000 && rng.f64() < 0.003
        };
        if unanswered {
            truth.unanswered[ti] += 1;
            truth.unanswered_amount += amount;
            if in_burst {
                truth.burst.3 += 1;
            }
            let secs = it.ms.div_euclid(1000);
            let minute_sec: i64 = local(it.ms, "%M").parse::<i64>().unwrap_or(0) * 60
                + local(it.ms, "%S").parse::<i64>().unwrap_or(0);
            *truth
                .unanswered_hours
                .entry((ti, secs - minute_sec))
                .or_default() += 1;
            continue;
        }
        let resp_ms = it.ms
            + HOST_RESPONSE_MS.0
            + rng.below((HOST_RESPONSE_MS.1 - HOST_RESPONSE_MS.0 + 1) as u64) as i64;
        let code = if rng.f64() < 0.95 {
            "00"
        } else {
            rng.pick(DECLINES)
        };
        let mut resp: Vec<(u32, String)> =
            req.iter().filter(|(id, _)| *id != 43).cloned().collect();
        resp[0].1 = "0210".into();
        let at37 = resp.iter().position(|f| f.0 == 37).unwrap_or(resp.len()) + 1;
        if code == "00" {
            resp.insert(at37, (38, format!("{:06}", rng.below(1_000_000))));
            resp.insert(at37 + 1, (39, code.into()));
            truth.approved += 1;
            truth.approved_amount += amount;
        } else {
            resp.insert(at37, (39, code.into()));
            truth.declined += 1;
            truth.declined_amount += amount;
        }
        events.push((resp_ms, host_event(realm, &at(resp_ms), false, &resp)));
        truth.answered[ti] += 1;
        if code == "00" && rng.f64() < 0.006 {
            // The chip declined after the host approved: the terminal reverses the sale.
            let rev_ms = resp_ms + 3000 + rng.below(20_001) as i64;
            let original = format!("0200{}{}{:011}{:011}", sale.stan, gmt(sale.ms), 12345, 0);
            let rev = Sale {
                ms: rev_ms,
                stan: next_stan(ti),
                ..sale
            };
            let mut fields = request(&rev);
            fields[0].1 = "0420".into();
            fields.retain(|f| f.0 != 43);
            fields.push((90, original));
            events.push((rev_ms, host_event(realm, &at(rev_ms), true, &fields)));
            let ans_ms = rev_ms
                + HOST_RESPONSE_MS.0
                + rng.below((HOST_RESPONSE_MS.1 - HOST_RESPONSE_MS.0 + 1) as u64) as i64;
            fields[0].1 = "0430".into();
            let at37 = fields.iter().position(|f| f.0 == 37).unwrap_or(0) + 1;
            fields.insert(at37, (39, "00".into()));
            events.push((ans_ms, host_event(realm, &at(ans_ms), false, &fields)));
            truth.reversals[ti] += 1;
        }
    }
    // The log ends while two terminals wait for their answers.
    let end = events.iter().map(|e| e.0).max().unwrap_or(0);
    for (ti, after) in [(0usize, 20_000i64), (1, 32_000)] {
        let ms = end + after;
        let c = Customer::new(&mut rng, 0, Kind::Restaurant, 0.0, None);
        let n = sales[ti];
        sales[ti] += 1;
        let sale = Sale {
            ms,
            ti,
            amount: c.amount,
            bin: c.bin,
            entry: rng.pick(entries),
            last4: last_four(n, keys[ti]),
            stan: next_stan(ti),
            rrn: format!(
                "{}{}{}{:07}",
                local(ms, "%y").chars().last().unwrap_or('6'),
                local(ms, "%j"),
                ti + 1,
                n
            ),
        };
        events.push((ms, host_event(&realms[ti], &at(ms), true, &request(&sale))));
        truth.requests[ti] += 1;
        truth.pending += 1;
    }
    events.sort_by_key(|e| e.0);
    let mut text = String::from("<logger class=\"org.jpos.q2.qbean.LoggerAdaptor\">\n");
    for (_, e) in &events {
        text.push_str(e);
    }
    text.push_str("</logger>\n");
    (file, text.into_bytes(), truth)
}
