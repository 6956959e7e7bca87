//! Words shared by the human-readable renderers (HTML, Markdown, terminal summary), in English
//! and Chinese, and number formatting. Kept in one place so the formats say the same thing.

use crate::analyze::Status;
use crate::classify::{Class, Reads};
use crate::config::Lang;
use crate::report::Report;

/// `1234567` → `1,234,567`.
pub fn fmt_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate as a percentage with two decimals.
pub fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// Labels in the report language.
pub struct Words {
    pub zh: bool,
    pub title: &'static str,
    pub data_label: &'static str,
    pub profile_label: &'static str,
    pub generated_label: &'static str,
    pub transactions: &'static str,
    pub failure_rate: &'static str,
    pub terminal_fault_rate: &'static str,
    pub flagged_terminals: &'static str,
    pub outages: &'static str,
    pub rows_rejected: &'static str,
    pub flagged_heading: &'static str,
    pub no_flags: &'static str,
    pub flag_columns: [&'static str; 8],
    pub over_time_heading: &'static str,
    pub classes_heading: &'static str,
    pub class_columns: [&'static str; 4],
    pub codes_heading: &'static str,
    pub code_columns: [&'static str; 5],
    pub unknown_note: &'static str,
    pub outages_heading: &'static str,
    pub no_outages: &'static str,
    pub outage_columns: [&'static str; 5],
    pub outage_note: &'static str,
    pub bursts_heading: &'static str,
    pub terminals_heading: &'static str,
    pub terminal_columns: [&'static str; 7],
    pub data_heading: &'static str,
    pub regressions_heading: &'static str,
    pub regression_columns: [&'static str; 6],
    pub input_columns: [&'static str; 6],
}

impl Words {
    pub fn new(lang: Lang) -> Words {
        match lang {
            Lang::En => Words {
                zh: false,
                title: "poslens — card payment failure report",
                data_label: "Data",
                profile_label: "code profile",
                generated_label: "generated",
                transactions: "transactions",
                failure_rate: "failed (all reasons)",
                terminal_fault_rate: "failed at the terminal",
                flagged_terminals: "faulty terminals",
                outages: "network outages",
                rows_rejected: "rows rejected",
                flagged_heading: "Terminals that look faulty",
                no_flags: "No terminal has significantly more terminal-side errors than the fleet.",
                flag_columns: [
                    "Terminal",
                    "Merchant",
                    "Transactions",
                    "Terminal errors",
                    "Error rate",
                    "Bad since",
                    "Top codes",
                    "Why",
                ],
                over_time_heading: "Failures over time",
                classes_heading: "Why transactions failed",
                class_columns: ["Reason", "Transactions", "Share", "Who acts"],
                codes_heading: "Most frequent failure codes",
                code_columns: ["Code", "Class", "Meaning", "Transactions", "What to do"],
                unknown_note: "Codes not in the catalog (add them with --codes FILE):",
                outages_heading: "Network / issuer outages",
                no_outages: "No hour with a fleet-wide spike of network errors.",
                outage_columns: [
                    "When",
                    "Hours",
                    "Network errors / transactions",
                    "Rate",
                    "Terminals hit",
                ],
                outage_note:
                    "Outages are upstream (issuer or switch): they never count against a terminal.",
                bursts_heading: "Fraud-code bursts (possible card testing)",
                terminals_heading: "Terminals (highest terminal-error rate first)",
                terminal_columns: [
                    "Terminal",
                    "Merchant",
                    "Transactions",
                    "Failed",
                    "Terminal errors",
                    "95% interval",
                    "Status",
                ],
                data_heading: "Data quality",
                regressions_heading: "Week over week: failure rate rose",
                regression_columns: [
                    "Terminal / merchant",
                    "Weeks",
                    "Before",
                    "After",
                    "Mostly",
                    "p-value",
                ],
                input_columns: [
                    "Input",
                    "Read",
                    "Accepted",
                    "Rejected",
                    "Duplicate",
                    "SHA-256",
                ],
            },
            Lang::Zh => Words {
                zh: true,
                title: "poslens — 刷卡交易失败报告",
                data_label: "数据",
                profile_label: "应答码表",
                generated_label: "生成于",
                transactions: "笔交易",
                failure_rate: "失败率（全部原因）",
                terminal_fault_rate: "终端原因失败率",
                flagged_terminals: "疑似故障终端",
                outages: "网络中断",
                rows_rejected: "被拒绝的行",
                flagged_heading: "疑似故障的终端",
                no_flags: "没有终端的终端类错误显著高于整体水平。",
                flag_columns: [
                    "终端",
                    "商户",
                    "交易笔数",
                    "终端类错误",
                    "错误率",
                    "开始变差",
                    "主要应答码",
                    "原因",
                ],
                over_time_heading: "失败率走势",
                classes_heading: "交易为什么失败",
                class_columns: ["原因", "笔数", "占比", "由谁处理"],
                codes_heading: "最常见的失败应答码",
                code_columns: ["应答码", "类别", "含义", "笔数", "处理建议"],
                unknown_note: "码表中没有的应答码（可用 --codes 文件补充）：",
                outages_heading: "网络/发卡行中断",
                no_outages: "没有发现全网网络错误激增的时段。",
                outage_columns: ["时间", "小时数", "网络错误 / 交易", "比例", "受影响终端"],
                outage_note: "中断发生在上游（发卡行或转接），不计入终端故障。",
                bursts_heading: "欺诈类应答码集中出现（可能是盗卡测试）",
                terminals_heading: "终端（按终端类错误率从高到低）",
                terminal_columns: [
                    "终端",
                    "商户",
                    "交易笔数",
                    "失败率",
                    "终端类错误率",
                    "95% 区间",
                    "状态",
                ],
                data_heading: "数据质量",
                regressions_heading: "与上周相比失败率上升",
                regression_columns: ["终端/商户", "周", "上周", "本周", "主要类别", "p 值"],
                input_columns: ["输入文件", "读取", "接受", "拒绝", "重复", "SHA-256"],
            },
        }
    }

    pub fn status(&self, s: Status) -> &'static str {
        match (s, self.zh) {
            (Status::Ok, false) => "ok",
            (Status::Flagged, false) => "flagged",
            (Status::InsufficientData, false) => "too few transactions",
            (Status::Ok, true) => "正常",
            (Status::Flagged, true) => "疑似故障",
            (Status::InsufficientData, true) => "交易太少",
        }
    }

    pub fn class_who(&self, c: Class) -> &'static str {
        match (c, self.zh) {
            (Class::Approved, false) => "—",
            (Class::Declined, false) => "cardholder (ask for another card or payment method)",
            (Class::Fraud, false) => "issuer / merchant (do not retry; follow security procedure)",
            (Class::Network, false) => "issuer / network (usually passes; retry later)",
            (Class::Terminal, false) => "merchant / acquirer (check the terminal and its set-up)",
            (Class::Unknown, false) => "add the code to the catalog",
            (Class::Approved, true) => "—",
            (Class::Declined, true) => "持卡人（请换卡或换支付方式）",
            (Class::Fraud, true) => "发卡行/商户（不要重试，按安全流程处理）",
            (Class::Network, true) => "发卡行/网络（通常会恢复，稍后重试）",
            (Class::Terminal, true) => "商户/收单机构（检查终端及其设置）",
            (Class::Unknown, true) => "请把该应答码补充到码表",
        }
    }

    pub fn summary_sentence(&self, r: &Report) -> String {
        let h = &r.headline;
        if self.zh {
            format!(
                "共 {} 个终端、{} 个商户的 {} 笔交易，其中 {} 笔失败（{}）；终端原因的失败 {} 笔（{}）。发现 {} 个疑似故障终端、{} 次网络中断。",
                h.terminals, h.merchants, fmt_int(h.transactions), fmt_int(h.failures), pct(h.failure_rate),
                fmt_int(h.terminal_faults), pct(h.terminal_fault_rate), h.flagged_terminals, r.outages.len()
            )
        } else {
            format!(
                "{} transactions on {} terminals at {} merchants; {} failed ({}), of which {} at the terminal ({}). {} terminal(s) look faulty; {} network outage(s).",
                fmt_int(h.transactions), h.terminals, h.merchants, fmt_int(h.failures), pct(h.failure_rate),
                fmt_int(h.terminal_faults), pct(h.terminal_fault_rate), h.flagged_terminals, r.outages.len()
            )
        }
    }

    pub fn flag_method(&self, r: &Report) -> String {
        if self.zh {
            format!(
                "判定方法：只看终端类应答码（读卡、格式、MAC/密钥、设置错误），与整体基线 {} 比较（单侧精确二项检验，Benjamini–Hochberg 校正），并要求至少为基线的两倍。拒付、欺诈和网络中断不会让终端被判为故障。{}",
                pct(r.baseline_rate),
                r.baseline_dispersion
                    .map(|d| format!("正常终端相对基线的离散度为 {d:.2}（约为 1 说明二项模型适用）。"))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "How: only terminal-side codes (card read, format, MAC/key, set-up errors) count, tested against the fleet baseline of {} (one-sided exact binomial test, Benjamini–Hochberg across terminals) and at least twice the baseline. Declines, fraud codes and network outages never flag a terminal.{}",
                pct(r.baseline_rate),
                r.baseline_dispersion
                    .map(|d| format!(" Dispersion of the healthy terminals around the baseline: {d:.2} (about 1 means the binomial model fits)."))
                    .unwrap_or_default()
            )
        }
    }

    /// One fraud-code burst in a sentence.
    pub fn burst(&self, b: &crate::report::BurstLine) -> String {
        if self.zh {
            format!(
                "{}：{} 内共 {} 笔交易，其中 {} 笔为欺诈类应答码",
                b.terminal_id, b.label, b.transactions, b.fraud
            )
        } else {
            format!(
                "{}: {} fraud codes in {} transactions, {}",
                b.terminal_id, b.fraud, b.transactions, b.label
            )
        }
    }

    pub fn more_in_csv(&self, n: usize) -> String {
        if self.zh {
            format!("仅显示前 40 个；全部 {n} 个终端见 csv/by_terminal.csv。")
        } else {
            format!("Showing 40 of {n} terminals; all are in csv/by_terminal.csv.")
        }
    }

    /// Which code tables read the data and why (the shape of the codes each one reads), e.g.
    /// "Response codes read with iso8583 (…; 2-character and other codes: 14 codes, 9,000
    /// transactions) and iso8583-1993 (…; 3-digit codes: 3 codes, 812 transactions). …"
    pub fn catalog_note(&self, r: &Report) -> String {
        let used = |reads: Reads| {
            r.catalog_tables
                .iter()
                .find(|t| t.reads == reads && t.transactions > 0)
        };
        let parts: Vec<String> = r
            .catalog_tables
            .iter()
            .filter(|t| t.transactions > 0 && t.reads != Reads::NoTable)
            .map(|t| {
                let what = self.codes_and_transactions(t.codes, t.transactions);
                if self.zh {
                    format!(
                        "{}（{}；{}：{what}）",
                        t.table,
                        t.title,
                        t.reads.label(true)
                    )
                } else {
                    format!(
                        "{} ({}; {}: {what})",
                        t.table,
                        t.title,
                        t.reads.label(false)
                    )
                }
            })
            .collect();
        let mut s = match (self.zh, parts.is_empty()) {
            (false, false) => format!("Response codes read with {}.", parts.join(" and ")),
            (true, false) => format!("应答码按以下码表解读：{}。", parts.join("；")),
            (false, true) => "No response code was found in the code tables.".into(),
            (true, true) => "没有应答码能在码表中找到。".into(),
        };
        if r.non_transactions > 0 {
            s.push_str(&if self.zh {
                format!(
                    "另有 {} 条中间报文（如 09“交易处理中”）不是交易，未计入任何统计。",
                    r.non_transactions
                )
            } else {
                format!(
                    " {} intermediate messages (such as 09 \"request in progress\") are not transactions and were left out of every count.",
                    r.non_transactions
                )
            });
        }
        if r.unattributed > 0 {
            s.push_str(&if self.zh {
                format!(
                    "{} 笔应答没有终端号（记为 (none)）：计入总数、按时段和按应答码的统计，但不作为终端评判。",
                    r.unattributed
                )
            } else {
                format!(
                    " {} responses carried no terminal id (kept under \"(none)\"): they count in the totals, over time and by code, but are not judged as a terminal.",
                    r.unattributed
                )
            });
        }
        if used(Reads::ThreeDigitCodes).is_some() {
            s.push_str(if self.zh {
                "ISO 8583:1987 没有3位应答码，因此3位数字码按 ISO 8583:1993/2003 行为码解读（用 --profile 可只用一个码表）。"
            } else {
                " ISO 8583:1987 has no 3-digit codes, so 3-digit codes were read as ISO 8583:1993/2003 action codes (--profile picks a single table instead)."
            });
        }
        if let Some(u) = used(Reads::NoTable) {
            let what = self.codes_and_transactions(u.codes, u.transactions);
            s.push_str(&if self.zh {
                format!("不在任何码表中：{what}。")
            } else {
                format!(" In no table: {what}.")
            });
        }
        s
    }

    /// "3 codes, 812 transactions" / "3 个应答码，812 笔交易".
    fn codes_and_transactions(&self, codes: u64, transactions: u64) -> String {
        let n = fmt_int(transactions);
        match (self.zh, codes == 1, transactions == 1) {
            (true, _, _) => format!("{codes} 个应答码，{n} 笔交易"),
            (false, true, true) => format!("1 code, {n} transaction"),
            (false, true, false) => format!("1 code, {n} transactions"),
            (false, false, _) => format!("{codes} codes, {n} transactions"),
        }
    }

    pub fn reconciliation(&self, r: &Report) -> String {
        let t = &r.totals;
        if self.zh {
            format!(
                "读取 {} 行：接受 {}，拒绝 {}（见 rejects.csv），重复 {}；来自 {} 个输入文件。",
                fmt_int(t.rows_read),
                fmt_int(t.rows_accepted),
                fmt_int(t.rows_rejected),
                fmt_int(t.rows_duplicate),
                r.inputs.len()
            )
        } else {
            format!(
                "Read {} rows: {} accepted, {} rejected (listed in rejects.csv), {} duplicates counted once; from {} input file(s).",
                fmt_int(t.rows_read), fmt_int(t.rows_accepted), fmt_int(t.rows_rejected), fmt_int(t.rows_duplicate), r.inputs.len()
            )
        }
    }
}

/// The short summary `analyze` prints on the terminal.
pub fn terminal_summary(r: &Report, out: &std::path::Path, cells: usize) -> String {
    use std::fmt::Write;
    let t = &r.totals;
    let h = &r.headline;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "poslens analyze: {} input file(s), {} → {} ({})",
        r.inputs.len(),
        r.data_from,
        r.data_to,
        r.time_zone
    );
    let _ = writeln!(
        s,
        "  rows read {}  = accepted {} + rejected {} + duplicate {}",
        fmt_int(t.rows_read),
        fmt_int(t.rows_accepted),
        fmt_int(t.rows_rejected),
        fmt_int(t.rows_duplicate)
    );
    let _ = writeln!(
        s,
        "  transactions {} on {} terminals ({} cube cells); failure rate {} ({} failed); at the terminal {}",
        fmt_int(h.transactions),
        h.terminals,
        fmt_int(cells as u64),
        pct(h.failure_rate),
        fmt_int(h.failures),
        pct(h.terminal_fault_rate)
    );
    if r.flagged.is_empty() {
        let _ = writeln!(
            s,
            "  flagged terminals: none (baseline {})",
            pct(r.baseline_rate)
        );
    } else {
        let _ = writeln!(
            s,
            "  flagged terminals: {} (fleet baseline {} terminal errors)",
            r.flagged.len(),
            pct(r.baseline_rate)
        );
        for f in &r.flagged {
            let _ = writeln!(
                s,
                "    {:<10} {:<10} {:>6} of {:>6} = {:>6}  since {}  codes {}",
                f.terminal_id,
                f.merchant_id,
                f.terminal_faults,
                f.transactions,
                pct(f.terminal_fault_rate),
                f.first_bad_label,
                f.top_codes
            );
        }
    }
    for o in &r.outages {
        let _ = writeln!(
            s,
            "  outage: {} ({} network errors, {} terminals hit)",
            o.label, o.network_failures, o.terminals_hit
        );
    }
    for b in &r.fraud_bursts {
        let _ = writeln!(
            s,
            "  fraud-code burst: {} {} ({} fraud codes in {} transactions)",
            b.terminal_id, b.label, b.fraud, b.transactions
        );
    }
    for g in &r.regressions {
        let _ = writeln!(
            s,
            "  regression: {} {} failure rate {} → {} ({} vs {})",
            g.kind,
            g.id,
            pct(g.failure_rate_before),
            pct(g.failure_rate),
            g.previous_week,
            g.week
        );
    }
    if !r.unknown_codes.is_empty() {
        let list: Vec<String> = r
            .unknown_codes
            .iter()
            .map(|(c, n)| format!("{c} ({n})"))
            .collect();
        let _ = writeln!(s, "  codes not in the catalog: {}", list.join(", "));
    }
    let _ = writeln!(s, "  report: {}", out.join("report.html").display());
    s
}

/// What `validate` prints: reconciliation per input, reject reasons, first examples.
pub fn validation(o: &crate::ingest::IngestOutcome) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<50} {:>10} {:>10} {:>10} {:>10}",
        "input", "read", "accepted", "rejected", "duplicate"
    );
    let mut rows: Vec<&crate::ingest::InputSummary> = o.inputs.iter().collect();
    let t = o.totals();
    let total = crate::ingest::InputSummary {
        path: "TOTAL".into(),
        ..t.clone()
    };
    rows.push(&total);
    for i in rows {
        let _ = writeln!(
            s,
            "{:<50} {:>10} {:>10} {:>10} {:>10}",
            i.path, i.rows_read, i.rows_accepted, i.rows_rejected, i.rows_duplicate
        );
    }
    let ok = t.rows_read == t.rows_accepted + t.rows_rejected + t.rows_duplicate;
    let _ = writeln!(
        s,
        "reconciliation: rows_read {} = accepted + rejected + duplicate: {}",
        t.rows_read,
        if ok { "yes" } else { "NO" }
    );
    // The reconciliation notes: what ingest did to rows besides accepting or rejecting them.
    for (n, what) in [
        (t.events_skipped, "non-transaction log events skipped"),
        (
            t.codes_padded,
            "one-digit response codes read as two digits (5 → 05)",
        ),
        (
            t.amounts_invalid,
            "rows kept without their unreadable amount",
        ),
        (
            t.codes_with_text,
            "response codes given with their text, code taken, text dropped (05-Do not honour → 05)",
        ),
        (
            t.amounts_negative,
            "refunds (negative amounts): counted as transactions, kept out of amount sums",
        ),
    ] {
        if n > 0 {
            let _ = writeln!(s, "{what}: {n}");
        }
    }
    let reasons = o.reasons();
    if !reasons.is_empty() {
        let _ = writeln!(s, "\nrejected rows by reason:");
        for (reason, n) in &reasons {
            let _ = writeln!(s, "  {n:>8}  {reason}");
            for r in o.rejects.examples().iter().filter(|r| r.kind() == reason) {
                let _ = writeln!(
                    s,
                    "            {}:{}: {} | {}",
                    r.file, r.line, r.reason, r.excerpt
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1000), "1,000");
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(pct(0.01234), "1.23%");
    }
}
