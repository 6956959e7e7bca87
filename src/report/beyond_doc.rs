//! The report's "beyond the response code" section: sales lost to failed payments (purchases,
//! not attempts), card readers falling back to magstripe, and slow terminals — in English and
//! Chinese.

use crate::render::text::{fmt_int, money, pct};

use super::doc::{num, strong, text, Section, Table};
use super::Report;

/// Terminals shown in the lost-sales table (by_terminal.csv has them all).
pub const LOST_TERMINALS_SHOWN: usize = 10;

pub fn section(r: &Report) -> Section {
    let zh = r.lang == crate::config::Lang::Zh;
    let b = &r.beyond;
    let cur = r.totals.currency.single();
    let heading = if zh {
        "响应码之外：流失的销售、读卡器与响应时间"
    } else {
        "Beyond the response code: lost sales, card readers, response times"
    };
    let mut s = Section::new("beyond", heading);
    if b.purchases > 0 {
        let recovered = b.purchases - b.lost_purchases;
        s = s.paragraph(if zh {
            format!(
                "顾客共发起 {} 笔购买（共 {} 笔交易）：{} 笔最终成功，{} 笔流失，金额约 {}。按购买计的失败率为 {}，按尝试计为 {}：失败后重试挽回了其余的失败尝试。",
                fmt_int(b.purchases),
                fmt_int(r.headline.transactions),
                fmt_int(recovered),
                fmt_int(b.lost_purchases),
                money(b.lost_amount_minor, cur),
                pct(b.purchase_failure_rate()),
                pct(r.headline.failure_rate)
            )
        } else {
            format!(
                "Customers made {} purchases over {} transactions: {} were paid in the end and {} were lost, about {}. The purchase failure rate is {} against an attempt failure rate of {}: retries after a failure recovered the rest.",
                fmt_int(b.purchases),
                fmt_int(r.headline.transactions),
                fmt_int(recovered),
                fmt_int(b.lost_purchases),
                money(b.lost_amount_minor, cur),
                pct(b.purchase_failure_rate()),
                pct(r.headline.failure_rate)
            )
        });
        let mut worst: Vec<(&String, &crate::analyze::beyond::TerminalExtra)> = b
            .by_terminal
            .iter()
            .filter(|(_, x)| x.lost_purchases > 0)
            .collect();
        worst.sort_by(|x, y| {
            y.1.lost_amount_minor
                .cmp(&x.1.lost_amount_minor)
                .then(x.0.cmp(y.0))
        });
        if !worst.is_empty() {
            let cols: [(&str, bool); 5] = if zh {
                [
                    ("终端", false),
                    ("商户", false),
                    ("流失购买", true),
                    ("流失金额", true),
                    ("购买失败率", true),
                ]
            } else {
                [
                    ("Terminal", false),
                    ("Merchant", false),
                    ("Lost purchases", true),
                    ("Lost amount", true),
                    ("Purchase failure rate", true),
                ]
            };
            let mut t = Table::new(&cols);
            let merchant_of = |id: &str| {
                r.terminals
                    .iter()
                    .find(|t| t.terminal_id == id)
                    .map(|t| t.merchant_id.clone())
                    .unwrap_or_default()
            };
            for (id, x) in worst.iter().take(LOST_TERMINALS_SHOWN) {
                t.rows.push(vec![
                    strong(id.as_str()),
                    text(merchant_of(id)),
                    num(format!(
                        "{} / {}",
                        fmt_int(x.lost_purchases),
                        fmt_int(x.purchases)
                    )),
                    num(money(x.lost_amount_minor, cur)),
                    num(pct(crate::analyze::ratio(x.lost_purchases, x.purchases))),
                ]);
            }
            s = s.table(t);
        }
    }
    if b.chip_reads + b.fallbacks > 0 {
        let items: Vec<String> = b
            .fallback_warnings
            .iter()
            .map(|f| {
                if zh {
                    format!(
                        "{}（商户 {}）：{} 次芯片卡读取中 {} 次降级为磁条（{}，全网 {}，p = {:.1e}）。读卡器可能正在损坏：在故障码上升之前检查或更换。",
                        f.terminal_id,
                        f.merchant_id,
                        fmt_int(f.chip_reads + f.fallbacks),
                        fmt_int(f.fallbacks),
                        pct(f.fallback_rate),
                        pct(f.baseline_rate),
                        f.p_value
                    )
                } else {
                    format!(
                        "{} (merchant {}): {} of {} chip-card reads fell back to magstripe ({}, fleet {}, p = {:.1e}). Its card reader may be failing: check or replace it before its error codes climb.",
                        f.terminal_id,
                        f.merchant_id,
                        fmt_int(f.fallbacks),
                        fmt_int(f.chip_reads + f.fallbacks),
                        pct(f.fallback_rate),
                        pct(f.baseline_rate),
                        f.p_value
                    )
                }
            })
            .collect();
        s = if items.is_empty() {
            s.paragraph(if zh {
                format!(
                    "芯片降级预警：没有终端的芯片降级率显著高于全网（{}）。",
                    pct(b.fallback_baseline)
                )
            } else {
                format!(
                    "Chip fallback early warning: no terminal falls back to magstripe significantly more often than the fleet ({}).",
                    pct(b.fallback_baseline)
                )
            })
        } else {
            s.paragraph(if zh {
                "芯片降级预警（不是故障标记）："
            } else {
                "Chip fallback early warning (not a flag):"
            })
            .list(items)
        };
    }
    if let (Some(p50), Some(p95)) = (b.latency_p50_ms, b.latency_p95_ms) {
        let fleet = if zh {
            format!(
                "响应时间：全网中位数 {} ms，95 分位 {} ms（{} 笔有响应时间的交易）。",
                p50,
                p95,
                fmt_int(b.timed)
            )
        } else {
            format!(
                "Response times: the fleet's median is {} ms, its 95th percentile {} ms ({} transactions timed).",
                p50,
                p95,
                fmt_int(b.timed)
            )
        };
        let slow: Vec<String> = b
            .slow_terminals
            .iter()
            .map(|t| {
                if zh {
                    format!(
                        "{}（商户 {}）：中位数 {} ms，95 分位 {} ms，{} 笔",
                        t.terminal_id,
                        t.merchant_id,
                        t.p50_ms,
                        t.p95_ms,
                        fmt_int(t.timed)
                    )
                } else {
                    format!(
                        "{} (merchant {}): median {} ms, 95th percentile {} ms, over {} transactions",
                        t.terminal_id,
                        t.merchant_id,
                        t.p50_ms,
                        t.p95_ms,
                        fmt_int(t.timed)
                    )
                }
            })
            .collect();
        s = s.paragraph(fleet);
        s = if slow.is_empty() {
            s.paragraph(if zh {
                "没有慢终端（中位响应时间高于全网 95 分位的终端）。"
            } else {
                "No slow terminal (one whose median response time is above the fleet's 95th percentile)."
            })
        } else {
            s.paragraph(if zh {
                "慢终端（中位响应时间高于全网 95 分位）：检查其网络连接或主机线路。"
            } else {
                "Slow terminals (their median response time is above the fleet's 95th percentile): check their network link or host line."
            })
            .list(slow)
        };
    }
    s
}
