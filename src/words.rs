//! Every user-facing word and sentence of the reports, in English and Chinese: headings,
//! column labels, class and status labels, and the sentences built from figures. One table,
//! so the HTML, Markdown and terminal views of a report (and the merchant, acquirer and
//! auditor views) cannot word the same thing two ways, and a translation is done in one file.

use crate::analyze::Status;
use crate::classify::{Class, Reads};
use crate::config::Lang;
use crate::render::text::{fmt_int, pct};
use crate::report::Report;

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
                outages: "incidents",
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
                outages: "事件",
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
        let cohorts = r.cohort_models.len();
        let by_model = r.cohort_models.iter().any(|m| m.field != "fleet");
        let spread = r
            .baseline_dispersion
            .filter(|d| *d > 1.5)
            .map(|d| {
                if self.zh {
                    format!("若每组只用一个二项比率，正常终端的离散度将是该模型允许的 {d:.1} 倍——因此按终端间的真实差异建模。")
                } else {
                    format!(" With one binomial rate per cohort the healthy terminals would scatter {d:.1} times as widely as that model allows, which is why the spread is modelled.")
                }
            })
            .unwrap_or_default();
        if self.zh {
            format!(
                "判定方法：只看终端类应答码（读卡、格式、MAC/密钥、设置错误）。每台终端与{}的正常终端比较；正常终端彼此的错误率本就不同，所以模型是按组拟合的 beta-二项分布（稳健拟合，故障终端无法把它撑宽），共 {} 组，参数见下表。终端的整体错误、自身变化点之后的错误或某一种读卡方式的错误，超出同组正常终端的范围（Benjamini–Hochberg 校正，q = 1%）且至少为同组均值两倍时被标记。拒付、欺诈、网络中断和全网事件不会让终端被判为故障。{}",
                if by_model { "同型号（及固件）" } else { "全部" },
                cohorts,
                spread
            )
        } else {
            format!(
                "How: only terminal-side codes (card read, format, MAC/key, set-up errors) count. Each terminal is judged against the healthy terminals of {}, whose own error rates differ from one terminal to the next: the model is a beta-binomial fitted on each cohort's healthy terminals, robustly, so broken terminals cannot widen it ({} cohort(s), fitted parameters below). A terminal is flagged when its terminal-side errors — over the whole period, since its own change point, or on one card reader — are beyond what a healthy terminal of its cohort shows (Benjamini–Hochberg across terminals, q = 1%) and at least twice the cohort's rate. Declines, fraud codes, network outages and fleet incidents never flag a terminal.{}",
                if by_model { "its own model (and firmware, where enough terminals share it)" } else { "the fleet (the logs name no terminal model: give --inventory to judge by model)" },
                cohorts,
                spread
            )
        }
    }

    /// Columns of the fitted-model table.
    pub fn model_columns(&self) -> [&'static str; 6] {
        if self.zh {
            [
                "组",
                "参与判定的终端",
                "正常终端平均错误率",
                "九成正常终端介于",
                "beta 参数 α / β",
                "被标记",
            ]
        } else {
            [
                "cohort",
                "terminals judged",
                "healthy mean",
                "9 in 10 healthy terminals between",
                "beta α / β",
                "flagged",
            ]
        }
    }

    /// A cohort that runs hot, in a sentence.
    pub fn hot_cohort(&self, c: &crate::analyze::CohortRow) -> String {
        let what = match (c.cohort_field.as_str(), self.zh) {
            ("firmware", false) => "firmware",
            (_, false) => "model",
            ("firmware", true) => "固件",
            (_, true) => "型号",
        };
        if self.zh {
            format!(
                "{what} {}：终端类错误率为全网的 {:.1} 倍（{} 台终端，{}）——这是{what}的问题，不是 {} 台终端各自故障。",
                c.cohort, c.ratio_to_fleet, c.terminals, pct(c.terminal_fault_rate), c.terminals
            )
        } else {
            format!(
                "{what} {}: {:.1}× the fleet's terminal-error rate across its {} terminals ({}) — a {what} matter, not {} faulty terminals.",
                c.cohort, c.ratio_to_fleet, c.terminals, pct(c.terminal_fault_rate), c.terminals
            )
        }
    }

    pub fn cohorts_heading(&self, by_model: bool) -> &'static str {
        match (by_model, self.zh) {
            (true, false) => "Cohorts (models, firmware) and the model terminals are judged by",
            (false, false) => "The model terminals are judged by",
            (true, true) => "终端分组（型号、固件）与判定模型",
            (false, true) => "终端判定模型",
        }
    }

    /// The range column of a cohort whose healthy terminals spread no more than chance.
    pub fn no_spread(&self) -> &'static str {
        if self.zh {
            "同一比率（差异不超出随机波动）"
        } else {
            "one rate (no spread beyond chance)"
        }
    }

    pub fn silent_heading(&self) -> &'static str {
        if self.zh {
            "停止交易或交易量骤降的终端"
        } else {
            "Terminals that went quiet"
        }
    }

    pub fn silent_note(&self) -> &'static str {
        if self.zh {
            "按每台终端自己的营业日判断（只在周末营业的店周一没有交易不算停止）；数据末尾不算停止。"
        } else {
            "Judged on each terminal's own trading days (a weekend-only shop is not silent on a Monday); the end of the data is not read as silence."
        }
    }

    pub fn silent_columns(&self) -> [&'static str; 6] {
        if self.zh {
            ["终端", "商户", "状态", "自", "平时每营业日", "此后每营业日"]
        } else {
            [
                "terminal",
                "merchant",
                "status",
                "since",
                "usual a trading day",
                "since then",
            ]
        }
    }

    pub fn silent_status(&self, status: &str) -> &'static str {
        match (status, self.zh) {
            ("silent", false) => "silent",
            ("silent", true) => "停止交易",
            (_, false) => "volume drop",
            (_, true) => "交易量骤降",
        }
    }

    pub fn incidents_heading(&self) -> &'static str {
        if self.zh {
            "事件：许多终端或某发卡行的卡同时失败"
        } else {
            "Incidents: many terminals, or one issuer's cards, failing at once"
        }
    }

    /// One incident in a sentence.
    pub fn incident(&self, i: &crate::report::IncidentLine) -> String {
        let codes = i.top_codes.replace(';', ", ");
        match (i.scope.as_str(), self.zh) {
            ("issuer", false) => format!(
                "{}: cards from BIN {} failed ({} errors, codes {}) on {} terminals — the issuer's side; your terminals are fine.",
                i.label, i.issuer_bin, i.class, codes, fmt_int(i.terminals_hit)
            ),
            ("issuer", true) => format!(
                "{}：BIN {} 的卡在 {} 台终端上失败（{} 类错误，应答码 {}）——问题在发卡行，终端正常。",
                i.label, i.issuer_bin, fmt_int(i.terminals_hit), i.class, codes
            ),
            (_, false) => format!(
                "{}: {} errors on {} terminals at once (codes {}) — the acquirer's or network's side (a key roll-over, a host change), counted against no terminal.",
                i.label, i.class, fmt_int(i.terminals_hit), codes
            ),
            (_, true) => format!(
                "{}：{} 台终端同时出现 {} 类错误（应答码 {}）——收单或网络侧的问题（如密钥更换、主机变更），不计入任何终端。",
                i.label, fmt_int(i.terminals_hit), i.class, codes
            ),
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

    pub fn more_in_csv(&self, shown: usize, n: usize) -> String {
        if self.zh {
            format!("仅显示前 {shown} 个；全部 {n} 个终端见 csv/by_terminal.csv。")
        } else {
            format!("Showing {shown} of {n} terminals; all are in csv/by_terminal.csv.")
        }
    }

    /// English or Chinese, by the report language.
    pub fn pick(&self, en: &'static str, zh: &'static str) -> &'static str {
        if self.zh {
            zh
        } else {
            en
        }
    }

    pub fn summary_heading(&self) -> &'static str {
        self.pick("Summary", "概况")
    }

    pub fn insufficient_note(&self) -> &'static str {
        self.pick(
            "\"Too few transactions\": below the minimum volume (--min-volume) a terminal is not judged; its interval is too wide to say anything.",
            "“交易太少”：交易笔数低于最低笔数（--min-volume）的终端不作评判，其区间太宽，说明不了问题。",
        )
    }

    /// `terminal` / `merchant` as a reader says it.
    pub fn entity_kind(&self, kind: &str) -> &'static str {
        match (kind, self.zh) {
            ("terminal", false) => "terminal",
            ("terminal", true) => "终端",
            (_, false) => "merchant",
            (_, true) => "商户",
        }
    }

    pub fn chart(&self) -> ChartWords {
        ChartWords::new(if self.zh { Lang::Zh } else { Lang::En })
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

/// Class labels for reports.
pub fn class_label(c: Class, zh: bool) -> &'static str {
    match (c, zh) {
        (Class::Approved, false) => "approved",
        (Class::Declined, false) => "declined by the card issuer",
        (Class::Fraud, false) => "security / suspected fraud",
        (Class::Network, false) => "issuer or network unavailable",
        (Class::Terminal, false) => "terminal or set-up problem",
        (Class::Unknown, false) => "unknown code",
        (Class::Approved, true) => "成功",
        (Class::Declined, true) => "发卡行拒绝",
        (Class::Fraud, true) => "安全/疑似欺诈",
        (Class::Network, true) => "发卡行或网络不可用",
        (Class::Terminal, true) => "终端或商户设置问题",
        (Class::Unknown, true) => "未知应答码",
    }
}

/// Who should act on a code.
pub fn who_label(w: crate::classify::Who, zh: bool) -> &'static str {
    use crate::classify::Who;
    match (w, zh) {
        (Who::Nobody, false) => "nobody",
        (Who::Cardholder, false) => "cardholder",
        (Who::Issuer, false) => "card issuer",
        (Who::Merchant, false) => "merchant",
        (Who::Acquirer, false) => "acquirer",
        (Who::Network, false) => "network / switch",
        (Who::Nobody, true) => "无需处理",
        (Who::Cardholder, true) => "持卡人",
        (Who::Issuer, true) => "发卡行",
        (Who::Merchant, true) => "商户",
        (Who::Acquirer, true) => "收单机构",
        (Who::Network, true) => "网络/转接机构",
    }
}

pub fn not_in_catalog(zh: bool) -> &'static str {
    if zh {
        "目录中没有此应答码"
    } else {
        "not in the code catalog"
    }
}

/// The evidence for one flagged terminal in a sentence (the `reason` column).
/// `named`: its two most frequent terminal-class codes with their meanings.
pub fn flag_reason(
    f: &crate::analyze::Flag,
    named: &[(String, String)],
    since: &str,
    recovered: Option<&str>,
    zh: bool,
) -> String {
    use crate::analyze::terminals::Basis;
    let changed = f.rate_after > f.rate_before;
    let cohort_zh = if f.cohort == "fleet" {
        "全部终端".to_string()
    } else {
        format!("同型号（{}）终端", f.cohort)
    };
    let cohort_en = if f.cohort == "fleet" {
        "the fleet".to_string()
    } else {
        format!("healthy {} terminals", f.cohort)
    };
    // A reader at fault: its rate against the cohort's for that reader, and the others'.
    if let (Basis::Reader(r), Some(_)) = (f.basis, f.entry_mode) {
        let rate_of = |m: crate::analyze::Reader| {
            f.readers
                .iter()
                .find(|x| x.0 == m)
                .map(|x| crate::analyze::ratio(x.1, x.2))
        };
        let (k, n) = f
            .readers
            .iter()
            .find(|x| x.0 == r)
            .map(|x| (x.1, x.2))
            .unwrap_or((0, 0));
        let others: Vec<String> = f
            .readers
            .iter()
            .filter(|x| x.0 != r && x.2 > 0)
            .map(|x| {
                format!(
                    "{} {:.1}%",
                    reader_name(x.0, zh),
                    crate::analyze::ratio(x.1, x.2) * 100.0
                )
            })
            .collect();
        let rate = rate_of(r).unwrap_or(0.0) * 100.0;
        return if zh {
            format!(
                "{}读卡器故障：{} 笔中 {} 笔失败（{:.1}%），{}该读卡器为 {:.2}%；其他读卡方式正常（{}）。",
                reader_name(r, true),
                n,
                k,
                rate,
                cohort_zh,
                f.baseline_rate * 100.0,
                others.join("，")
            )
        } else {
            format!(
                "{} reader: {:.1}% of {} fail ({} of {}) against {:.2}% on {}; the other readers are fine ({}).",
                reader_name(r, false),
                rate,
                reader_unit(r),
                k,
                n,
                f.baseline_rate * 100.0,
                cohort_en,
                others.join(", ")
            )
        };
    }
    let times = f.terminal_fault_rate / f.baseline_rate.max(1e-12);
    if zh {
        let named: Vec<String> = named.iter().map(|(c, m)| format!("{c}「{m}」")).collect();
        let history = if changed {
            format!(
                "自 {since} 起变差（之前 {:.2}%，之后 {:.2}%）",
                f.rate_before * 100.0,
                f.rate_after * 100.0
            )
        } else {
            format!("自有数据的第一天 {since} 起即如此")
        };
        let back = recovered
            .map(|d| format!("；{d} 起已恢复正常"))
            .unwrap_or_default();
        format!(
            "终端类错误占交易的 {:.2}%（{} 笔中 {} 笔），{}的均值为 {:.2}%（{:.0} 倍）；主要是 {}；{}{}。",
            f.terminal_fault_rate * 100.0,
            f.transactions,
            f.terminal_faults,
            cohort_zh,
            f.baseline_rate * 100.0,
            times,
            named.join("、"),
            history,
            back
        )
    } else {
        let named: Vec<String> = named.iter().map(|(c, m)| format!("{c} \"{m}\"")).collect();
        let history = if changed {
            format!(
                "bad since {since} ({:.2}% before, {:.2}% after)",
                f.rate_before * 100.0,
                f.rate_after * 100.0
            )
        } else {
            format!("bad from the first day of data ({since})")
        };
        let back = recovered
            .map(|d| format!("; healthy again from {d}"))
            .unwrap_or_default();
        format!(
            "Terminal-side errors on {:.2}% of transactions ({} of {}), {:.0}x the {:.2}% of {}; mostly {}; {}{}.",
            f.terminal_fault_rate * 100.0,
            f.terminal_faults,
            f.transactions,
            times,
            f.baseline_rate * 100.0,
            cohort_en,
            named.join(" and "),
            history,
            back
        )
    }
}

pub fn reader_name(r: crate::analyze::Reader, zh: bool) -> &'static str {
    use crate::analyze::Reader;
    match (r, zh) {
        (Reader::Contactless, false) => "contactless",
        (Reader::Chip, false) => "chip",
        (Reader::Swipe, false) => "magstripe",
        (Reader::Keyed, false) => "keyed",
        (Reader::Contactless, true) => "非接（闪付）",
        (Reader::Chip, true) => "芯片",
        (Reader::Swipe, true) => "磁条",
        (Reader::Keyed, true) => "手输",
    }
}

fn reader_unit(r: crate::analyze::Reader) -> &'static str {
    use crate::analyze::Reader;
    match r {
        Reader::Contactless => "taps",
        Reader::Chip => "chip reads",
        Reader::Swipe => "swipes",
        Reader::Keyed => "keyed entries",
    }
}

/// Chart titles and axis labels. Chinese ones go into the inline SVGs only (the browser
/// draws them with its own CJK fonts); PNGs are drawn with the bundled Latin font and stay
/// English.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChartWords {
    pub over_time: &'static str,
    pub all_failures: &'static str,
    pub percent_of_transactions: &'static str,
    pub top_codes: &'static str,
    pub worst_terminals: &'static str,
    pub worst_terminals_axis: &'static str,
    pub fleet_baseline: &'static str,
    pub heatmap: &'static str,
    pub daily: &'static str,
    pub this_week: &'static str,
    pub previous_week: &'static str,
    /// Whether the text may hold non-Latin characters (SVG only).
    pub cjk: bool,
}

impl ChartWords {
    pub fn new(lang: Lang) -> ChartWords {
        match lang {
            Lang::En => ChartWords {
                over_time: "Failure rate over time, by class",
                all_failures: "all failures",
                percent_of_transactions: "% of transactions",
                top_codes: "Most frequent failure codes (count, coloured by class)",
                worst_terminals: "Terminal-side error rate, worst judged terminals (95% interval)",
                worst_terminals_axis: "terminal-side errors, % of transactions (red: flagged; grey line: fleet baseline; terminals with too few transactions left out)",
                fleet_baseline: "fleet baseline",
                heatmap: "Terminal-side error rate per terminal and day (white 0%, dark red 5% or more)",
                daily: "Failed payments per day",
                this_week: "this week",
                previous_week: "previous week",
                cjk: false,
            },
            Lang::Zh => ChartWords {
                over_time: "各类失败率走势",
                all_failures: "全部失败",
                percent_of_transactions: "占交易的 %",
                top_codes: "最常见的失败应答码（笔数，颜色表示类别）",
                worst_terminals: "终端类错误率最高的终端（95% 区间）",
                worst_terminals_axis: "终端类错误占交易的 %（红色：疑似故障；灰线：全部终端基线；交易太少的终端未列出）",
                fleet_baseline: "全部终端基线",
                heatmap: "每个终端每天的终端类错误率（白色 0%，深红 5% 及以上）",
                daily: "每天失败的交易笔数",
                this_week: "本周",
                previous_week: "上周",
                cjk: true,
            },
        }
    }
}

/// A weekday's short name.
pub fn weekday(d: chrono::Weekday, zh: bool) -> &'static str {
    use chrono::Weekday::*;
    match (d, zh) {
        (Mon, false) => "Mon",
        (Tue, false) => "Tue",
        (Wed, false) => "Wed",
        (Thu, false) => "Thu",
        (Fri, false) => "Fri",
        (Sat, false) => "Sat",
        (Sun, false) => "Sun",
        (Mon, true) => "周一",
        (Tue, true) => "周二",
        (Wed, true) => "周三",
        (Thu, true) => "周四",
        (Fri, true) => "周五",
        (Sat, true) => "周六",
        (Sun, true) => "周日",
    }
}

/// The merchant weekly report's words: a shop owner reads these, so they avoid jargon.
pub struct WeeklyWords {
    pub zh: bool,
    base: Words,
}

impl WeeklyWords {
    pub fn new(lang: Lang) -> WeeklyWords {
        WeeklyWords {
            zh: lang == Lang::Zh,
            base: Words::new(lang),
        }
    }

    fn pick(&self, en: &'static str, zh: &'static str) -> &'static str {
        self.base.pick(en, zh)
    }

    pub fn status(&self, s: Status) -> &'static str {
        self.base.status(s)
    }

    pub fn chart(&self) -> ChartWords {
        self.base.chart()
    }

    /// `Corner Shop (M0001)`, or the id alone; an empty id is named as such.
    pub fn merchant_display(&self, id: &str, name: &str) -> String {
        let id = if id.is_empty() {
            self.pick("(no merchant id)", "（无商户号）").to_string()
        } else {
            id.to_string()
        };
        match (name.is_empty(), self.zh) {
            (true, _) => id,
            (false, false) => format!("{name} ({id})"),
            (false, true) => format!("{name}（{id}）"),
        }
    }

    pub fn title(&self, who: &str) -> String {
        if self.zh {
            format!("刷卡交易周报 — {who}")
        } else {
            format!("Weekly card payment report — {who}")
        }
    }

    pub fn subtitle(&self, m: &crate::report::weekly::MerchantWeek) -> String {
        let wk = &m.week;
        if self.zh {
            format!(
                "{}（{} 至 {}），与上周 {} 对比 · 时区 {} · 生成于 {}",
                wk.label, wk.first_day, wk.last_day, wk.previous_label, m.time_zone, m.generated_at
            )
        } else {
            format!(
                "Week {} ({} to {}), compared with {} · time zone {} · generated {}",
                wk.label, wk.first_day, wk.last_day, wk.previous_label, m.time_zone, m.generated_at
            )
        }
    }

    pub fn no_data_heading(&self) -> &'static str {
        self.pick("No data for this week", "本周没有数据")
    }

    pub fn no_data(&self, m: &crate::report::weekly::MerchantWeek) -> String {
        let wk = &m.week;
        let prev = m.previous.transactions;
        match (self.zh, prev > 0) {
            (false, true) => format!(
                "No card payments were recorded for this merchant in week {} ({} to {}). The week before ({}) had {} transactions: if the shop was open, check that the terminals are switched on and connected, and that the logs for this week were exported.",
                wk.label, wk.first_day, wk.last_day, wk.previous_label, fmt_int(prev)
            ),
            (false, false) => format!(
                "No card payments were recorded for this merchant in week {} ({} to {}), nor in the week before. This merchant's data runs from {} to {}: pick a week in that range.",
                wk.label, wk.first_day, wk.last_day, m.data_from, m.data_to
            ),
            (true, true) => format!(
                "本商户在 {}（{} 至 {}）没有任何刷卡交易记录。上周（{}）有 {} 笔交易：如果本周正常营业，请检查终端是否开机并联网，以及本周的日志是否已导出。",
                wk.label, wk.first_day, wk.last_day, wk.previous_label, fmt_int(prev)
            ),
            (true, false) => format!(
                "本商户在 {}（{} 至 {}）及上周都没有刷卡交易记录。本商户的数据范围是 {} 至 {}，请在此范围内选择一周。",
                wk.label, wk.first_day, wk.last_day, m.data_from, m.data_to
            ),
        }
    }

    pub fn card_transactions(&self) -> &'static str {
        self.pick("card payments this week", "本周刷卡交易笔数")
    }

    pub fn card_failure_rate(&self) -> &'static str {
        self.pick("failed this week", "本周失败率")
    }

    pub fn card_change(&self, prev: &str) -> String {
        if self.zh {
            format!("失败率与上周（{prev}）相比")
        } else {
            format!("failure rate change vs {prev}")
        }
    }

    pub fn card_flagged(&self) -> &'static str {
        self.pick("terminals that look faulty", "疑似故障的终端")
    }

    pub fn compare_heading(&self) -> &'static str {
        self.pick("This week against the week before", "本周与上周对比")
    }

    pub fn compare_columns(&self, wk: &crate::report::weekly::Week) -> [String; 4] {
        if self.zh {
            [
                String::new(),
                format!("上周 {}", wk.previous_label),
                format!("本周 {}", wk.label),
                "变化".into(),
            ]
        } else {
            [
                String::new(),
                format!("Previous week {}", wk.previous_label),
                format!("This week {}", wk.label),
                "Change".into(),
            ]
        }
    }

    pub fn row_transactions(&self) -> &'static str {
        self.pick("Card payments", "刷卡交易笔数")
    }

    pub fn row_failed(&self) -> &'static str {
        self.pick("Failed payments", "失败笔数")
    }

    pub fn row_failure_rate(&self) -> &'static str {
        self.pick("Failure rate (all reasons)", "失败率（全部原因）")
    }

    pub fn row_terminal_rate(&self) -> &'static str {
        self.pick(
            "Failed at the terminal (terminal or set-up problem)",
            "终端原因失败率（终端或设置问题）",
        )
    }

    /// `+12 (+8.1%)`.
    pub fn count_change(&self, before: u64, after: u64) -> String {
        let d = after as i64 - before as i64;
        if before == 0 {
            format!("{d:+}")
        } else {
            format!("{d:+} ({:+.1}%)", d as f64 * 100.0 / before as f64)
        }
    }

    pub fn compare_sentence(&self, m: &crate::report::weekly::MerchantWeek) -> String {
        let (p, c) = (&m.previous, &m.current);
        let change = crate::report::weekly::pp(m.failure_rate_change);
        let trend = match (m.failure_rate_change, self.zh) {
            (x, false) if x >= 0.005 => "worse than",
            (x, false) if x <= -0.005 => "better than",
            (_, false) => "about the same as",
            (x, true) if x >= 0.005 => "比上周差",
            (x, true) if x <= -0.005 => "比上周好",
            (_, true) => "与上周相当",
        };
        if self.zh {
            if p.transactions == 0 {
                return format!(
                    "本周共 {} 笔刷卡交易，其中 {} 笔失败（{}）。上周没有数据，无法对比。",
                    fmt_int(c.transactions),
                    fmt_int(c.failures),
                    pct(c.failure_rate)
                );
            }
            format!(
                "本周共 {} 笔刷卡交易，其中 {} 笔失败（{}）；上周 {} 笔中 {} 笔失败（{}）。失败率变化 {}，{}。",
                fmt_int(c.transactions), fmt_int(c.failures), pct(c.failure_rate),
                fmt_int(p.transactions), fmt_int(p.failures), pct(p.failure_rate), change, trend
            )
        } else {
            if p.transactions == 0 {
                return format!(
                    "{} card payments this week, {} of them failed ({}). There is no data for the week before to compare with.",
                    fmt_int(c.transactions), fmt_int(c.failures), pct(c.failure_rate)
                );
            }
            format!(
                "{} card payments this week, {} of them failed ({}); the week before, {} of {} failed ({}). The failure rate changed by {}: {} the week before.",
                fmt_int(c.transactions), fmt_int(c.failures), pct(c.failure_rate),
                fmt_int(p.failures), fmt_int(p.transactions), pct(p.failure_rate), change, trend
            )
        }
    }

    pub fn terminals_heading(&self) -> &'static str {
        self.pick("Your terminals", "您的终端")
    }

    pub fn terminal_columns(&self) -> [&'static str; 7] {
        if self.zh {
            [
                "终端",
                "本周笔数",
                "上周失败率",
                "本周失败率",
                "变化",
                "终端原因失败率",
                "状态",
            ]
        } else {
            [
                "Terminal",
                "Payments this week",
                "Failure rate last week",
                "Failure rate this week",
                "Change",
                "Failed at the terminal",
                "Status",
            ]
        }
    }

    pub fn flagged_advice(&self, t: &crate::report::weekly::TerminalWeek) -> String {
        let reason = t.reason.clone().unwrap_or_default();
        if self.zh {
            format!(
                "终端 {} 疑似故障（按上周和本周合计判断）：{} 请联系收单机构或终端服务商检查该终端（读卡器、密钥和参数设置），在修好之前请让顾客使用其他终端。",
                t.terminal_id, reason
            )
        } else {
            format!(
                "Terminal {} looks faulty (judged on last week and this week together): {} Ask your acquirer or terminal provider to check it (card reader, keys, set-up); until then, take payments on another terminal.",
                t.terminal_id, reason
            )
        }
    }

    pub fn no_flagged(&self) -> &'static str {
        self.pick(
            "None of your terminals fails more often than the other terminals of the network for reasons of its own.",
            "您的终端没有出现比其他终端明显更多的终端原因失败。",
        )
    }

    pub fn why_heading(&self) -> &'static str {
        self.pick(
            "Why payments failed, and what to do",
            "交易为什么失败，该怎么办",
        )
    }

    pub fn code_columns(&self, wk: &crate::report::weekly::Week) -> [String; 6] {
        if self.zh {
            [
                "应答码".into(),
                "含义".into(),
                format!("上周 {}", wk.previous_label),
                format!("本周 {}", wk.label),
                "由谁处理".into(),
                "怎么办".into(),
            ]
        } else {
            [
                "Code".into(),
                "Meaning".into(),
                format!("Last week {}", wk.previous_label),
                format!("This week {}", wk.label),
                "Who acts".into(),
                "What to do".into(),
            ]
        }
    }

    pub fn why_sentence(&self, m: &crate::report::weekly::MerchantWeek) -> String {
        let c = &m.current;
        let declined: u64 = m
            .codes
            .iter()
            .filter(|k| k.class == Class::Declined)
            .map(|k| k.transactions)
            .sum();
        if self.zh {
            format!(
                "本周失败的 {} 笔交易中，{} 笔是发卡行拒绝（例如余额不足、卡过期、密码错误）：这是持卡人的问题，请顾客换卡或换支付方式；终端原因的失败 {} 笔，需要您或收单机构处理。",
                fmt_int(c.failures), fmt_int(declined), fmt_int(c.terminal_faults)
            )
        } else {
            format!(
                "Of the {} failed payments this week, {} were declined by the card's bank (funds, expiry, PIN): that is the cardholder's matter, ask for another card or payment method. {} failed at the terminal: those are for you or your acquirer to fix.",
                fmt_int(c.failures), fmt_int(declined), fmt_int(c.terminal_faults)
            )
        }
    }

    pub fn no_failures(&self) -> &'static str {
        self.pick("No payment failed this week.", "本周没有失败的交易。")
    }

    pub fn when_heading(&self) -> &'static str {
        self.pick("When payments failed", "失败发生在什么时候")
    }

    pub fn day_columns(&self) -> [&'static str; 5] {
        if self.zh {
            ["日期", "交易笔数", "失败笔数", "失败率", "上周同日失败率"]
        } else {
            [
                "Day",
                "Payments",
                "Failed",
                "Failure rate",
                "Same day last week",
            ]
        }
    }

    pub fn when_sentence(&self, m: &crate::report::weekly::MerchantWeek) -> String {
        let worst_day = m
            .days
            .iter()
            .filter(|d| d.current.failures > 0)
            .max_by(|a, b| {
                a.current
                    .failures
                    .cmp(&b.current.failures)
                    .then(b.day.cmp(&a.day))
            });
        let hours: Vec<String> = m
            .worst_hours
            .iter()
            .map(|h| {
                if self.zh {
                    format!(
                        "{}（{} 笔中 {} 笔失败，主要是{}）",
                        h.label,
                        fmt_int(h.transactions),
                        fmt_int(h.failures),
                        h.main_class.label(true)
                    )
                } else {
                    format!(
                        "{} ({} of {} failed, mostly {})",
                        h.label,
                        fmt_int(h.failures),
                        fmt_int(h.transactions),
                        h.main_class.label(false)
                    )
                }
            })
            .collect();
        match (worst_day, self.zh) {
            (None, false) => "No payment failed this week.".into(),
            (None, true) => "本周没有失败的交易。".into(),
            (Some(d), false) => format!(
                "Most failures came on {} {} ({} of {}). The hours with most failures: {}.",
                d.weekday,
                d.day,
                fmt_int(d.current.failures),
                fmt_int(d.current.transactions),
                if hours.is_empty() {
                    "none stands out".into()
                } else {
                    hours.join("; ")
                }
            ),
            (Some(d), true) => format!(
                "失败最多的一天是 {} {}（{} 笔中 {} 笔）。失败最集中的时段：{}。",
                d.weekday,
                d.day,
                fmt_int(d.current.transactions),
                fmt_int(d.current.failures),
                if hours.is_empty() {
                    "没有特别集中的时段".into()
                } else {
                    hours.join("；")
                }
            ),
        }
    }

    pub fn events_heading(&self) -> &'static str {
        self.pick(
            "Network events that touched your terminals",
            "影响到您终端的网络事件",
        )
    }

    pub fn outage(&self, o: &crate::report::weekly::OutageTouch) -> String {
        if self.zh {
            format!(
                "{}：发卡行或网络中断（全网范围）。这段时间您的 {} 笔交易中有 {} 笔因网络原因失败。这不是您终端的问题，稍后重试通常即可成功。",
                o.label, fmt_int(o.transactions), fmt_int(o.network_failures)
            )
        } else {
            format!(
                "{}: the card network or issuers were unavailable across the whole network. {} of your {} payments in that window failed for that reason. This was not your terminals' fault; retrying later usually works.",
                o.label, fmt_int(o.network_failures), fmt_int(o.transactions)
            )
        }
    }

    pub fn burst(&self, b: &crate::report::BurstLine) -> String {
        if self.zh {
            format!(
                "{}：终端 {} 在此期间的 {} 笔交易中有 {} 笔被以安全/欺诈原因拒绝，可能有人在用盗来的卡号试卡。请查看这段时间的交易和监控，不要为同一张卡反复重试，并告知收单机构。",
                b.label, b.terminal_id, fmt_int(b.transactions), fmt_int(b.fraud)
            )
        } else {
            format!(
                "{}: on terminal {}, {} of {} payments were refused for security/fraud reasons — someone may have been testing stolen card numbers. Review those payments (and CCTV), do not retry the same card again and again, and tell your acquirer.",
                b.label, b.terminal_id, fmt_int(b.fraud), fmt_int(b.transactions)
            )
        }
    }

    pub fn no_events(&self) -> &'static str {
        self.pick(
            "No network outage and no burst of fraud codes touched your terminals this week.",
            "本周没有网络中断或欺诈类应答码集中出现影响到您的终端。",
        )
    }

    pub fn index_title(&self, wk: Option<&crate::report::weekly::Week>) -> String {
        let label = wk.map(|w| w.label.as_str()).unwrap_or_default();
        if self.zh {
            format!("商户周报 {label}")
        } else {
            format!("Merchant weekly reports {label}")
        }
    }

    pub fn index_subtitle(&self, wk: &crate::report::weekly::Week) -> String {
        if self.zh {
            format!(
                "{} 至 {}，与 {} 对比；失败率上升最多的商户在前",
                wk.first_day, wk.last_day, wk.previous_label
            )
        } else {
            format!(
                "{} to {}, compared with {}; merchants whose failure rate rose most first",
                wk.first_day, wk.last_day, wk.previous_label
            )
        }
    }

    pub fn index_heading(&self, n: usize) -> String {
        if self.zh {
            format!("{n} 个商户")
        } else {
            format!("{n} merchants")
        }
    }

    pub fn index_columns(&self) -> [&'static str; 6] {
        if self.zh {
            [
                "商户",
                "本周笔数",
                "本周失败率",
                "与上周相比",
                "疑似故障终端",
                "Markdown",
            ]
        } else {
            [
                "Merchant",
                "Payments",
                "Failure rate",
                "Change",
                "Faulty terminals",
                "Markdown",
            ]
        }
    }
}

/// The `codes` command's labels: one code explained, and the profile as a table.
pub struct CodeWords {
    pub class: &'static str,
    pub who: &'static str,
    pub retry: &'static str,
    pub causes: &'static str,
    pub action: &'static str,
    pub readings: &'static str,
    pub source: &'static str,
    pub cup_class: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    /// Column heads of the table: code, class, retry, meaning.
    pub table_columns: [&'static str; 4],
    /// After an action code explained from the ISO 8583:1993 table by the default profile.
    pub action_code_note: &'static str,
}

pub fn code_words(zh: bool) -> CodeWords {
    if zh {
        CodeWords {
            class: "类别",
            who: "由谁处理",
            retry: "重试是否有用",
            causes: "常见原因",
            action: "怎么办",
            readings: "其他含义",
            source: "来源",
            cup_class: "银联终端处理类别",
            yes: "是",
            no: "否",
            table_columns: ["应答码", "类别", "重试", "含义"],
            action_code_note: "注：3位数字码是ISO 8583:1993/2003行为码，因此按iso8583-1993码表解释（--profile iso8583 只使用1987码表）。",
        }
    } else {
        CodeWords {
            class: "Class",
            who: "Who acts",
            retry: "Retry helps",
            causes: "Likely causes",
            action: "What to do",
            readings: "Other readings",
            source: "Source",
            cup_class: "UnionPay action class",
            yes: "yes",
            no: "no",
            table_columns: ["code", "class", "retry", "meaning"],
            action_code_note: "Note: 3-digit codes are ISO 8583:1993/2003 action codes, so this one is explained from the iso8583-1993 table (--profile iso8583 reads the 1987 table only).",
        }
    }
}

/// The report's "beyond the response code" section (`report/beyond_doc.rs`).
impl Words {
    pub fn beyond_heading(&self) -> &'static str {
        self.pick(
            "Beyond the response code: lost sales, card readers, response times",
            "响应码之外：流失的销售、读卡器与响应时间",
        )
    }

    /// Purchases against attempts: `transactions` and `failure_rate` are the attempts'.
    pub fn lost_sales(
        &self,
        b: &crate::analyze::beyond::Beyond,
        transactions: u64,
        failure_rate: f64,
        currency: Option<&str>,
    ) -> String {
        let (purchases, recovered, lost) = (
            fmt_int(b.purchases),
            fmt_int(b.purchases - b.lost_purchases),
            fmt_int(b.lost_purchases),
        );
        let (amount, rate) = (
            crate::render::text::money(b.lost_amount_minor, currency),
            pct(b.purchase_failure_rate()),
        );
        let (transactions, attempts) = (fmt_int(transactions), pct(failure_rate));
        if self.zh {
            format!("顾客共发起 {purchases} 笔购买（共 {transactions} 笔交易）：{recovered} 笔最终成功，{lost} 笔流失，金额约 {amount}。按购买计的失败率为 {rate}，按尝试计为 {attempts}：失败后重试挽回了其余的失败尝试。")
        } else {
            format!("Customers made {purchases} purchases over {transactions} transactions: {recovered} were paid in the end and {lost} were lost, about {amount}. The purchase failure rate is {rate} against an attempt failure rate of {attempts}: retries after a failure recovered the rest.")
        }
    }

    /// Columns of the terminals-by-lost-amount table (label, numeric).
    pub fn lost_columns(&self) -> [(&'static str, bool); 5] {
        [
            (self.pick("Terminal", "终端"), false),
            (self.pick("Merchant", "商户"), false),
            (self.pick("Lost purchases", "流失购买"), true),
            (self.pick("Lost amount", "流失金额"), true),
            (self.pick("Purchase failure rate", "购买失败率"), true),
        ]
    }

    pub fn fallback_warning(&self, f: &crate::analyze::beyond::FallbackWarning) -> String {
        let (t, m) = (&f.terminal_id, &f.merchant_id);
        let (reads, fallbacks) = (fmt_int(f.chip_reads + f.fallbacks), fmt_int(f.fallbacks));
        let (rate, fleet, p) = (pct(f.fallback_rate), pct(f.baseline_rate), f.p_value);
        if self.zh {
            format!("{t}（商户 {m}）：{reads} 次芯片卡读取中 {fallbacks} 次降级为磁条（{rate}，全网 {fleet}，p = {p:.1e}）。读卡器可能正在损坏：在故障码上升之前检查或更换。")
        } else {
            format!("{t} (merchant {m}): {fallbacks} of {reads} chip-card reads fell back to magstripe ({rate}, fleet {fleet}, p = {p:.1e}). Its card reader may be failing: check or replace it before its error codes climb.")
        }
    }

    pub fn no_fallback_warning(&self, fleet_rate: f64) -> String {
        let fleet = pct(fleet_rate);
        if self.zh {
            format!("芯片降级预警：没有终端的芯片降级率显著高于全网（{fleet}）。")
        } else {
            format!("Chip fallback early warning: no terminal falls back to magstripe significantly more often than the fleet ({fleet}).")
        }
    }

    pub fn fallback_warnings_intro(&self) -> &'static str {
        self.pick(
            "Chip fallback early warning (not a flag):",
            "芯片降级预警（不是故障标记）：",
        )
    }

    pub fn fleet_latency(&self, p50: f64, p95: f64, timed: u64) -> String {
        let timed = fmt_int(timed);
        if self.zh {
            format!(
                "响应时间：全网中位数 {p50} ms，95 分位 {p95} ms（{timed} 笔有响应时间的交易）。"
            )
        } else {
            format!("Response times: the fleet's median is {p50} ms, its 95th percentile {p95} ms ({timed} transactions timed).")
        }
    }

    pub fn slow_terminal(&self, t: &crate::analyze::beyond::SlowTerminal) -> String {
        let (id, m, p50, p95) = (&t.terminal_id, &t.merchant_id, t.p50_ms, t.p95_ms);
        let timed = fmt_int(t.timed);
        if self.zh {
            format!("{id}（商户 {m}）：中位数 {p50} ms，95 分位 {p95} ms，{timed} 笔")
        } else {
            format!("{id} (merchant {m}): median {p50} ms, 95th percentile {p95} ms, over {timed} transactions")
        }
    }

    pub fn no_slow_terminal(&self) -> &'static str {
        self.pick(
            "No slow terminal (one whose median response time is above the fleet's 95th percentile).",
            "没有慢终端（中位响应时间高于全网 95 分位的终端）。",
        )
    }

    pub fn slow_terminals_intro(&self) -> &'static str {
        self.pick(
            "Slow terminals (their median response time is above the fleet's 95th percentile): check their network link or host line.",
            "慢终端（中位响应时间高于全网 95 分位）：检查其网络连接或主机线路。",
        )
    }
}

/// What part of the codes a catalog table read, for the data-quality line and the manifest.
pub fn reads_label(r: Reads, zh: bool) -> &'static str {
    match (r, zh) {
        (Reads::AllCodes, false) => "all codes",
        (Reads::ThreeDigitCodes, false) => "3-digit codes",
        (Reads::OtherCodes, false) => "2-character and other codes",
        (Reads::NoTable, false) => "in no table",
        (Reads::AllCodes, true) => "全部应答码",
        (Reads::ThreeDigitCodes, true) => "3位数字码",
        (Reads::OtherCodes, true) => "2位码及其他",
        (Reads::NoTable, true) => "不在任何码表中",
    }
}
