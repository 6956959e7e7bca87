//! The acquirer's view (`poslens terminals`): flagged terminals ranked by excess faults —
//! terminal-class failures beyond what the fleet baseline predicts for their volume — so the
//! terminal that costs most failed payments comes first, with the evidence of each flag.

use serde::Serialize;

use super::{rows, FlagLine, Report};

#[derive(Debug, Clone, Serialize)]
pub struct TerminalList {
    pub time_zone: String,
    pub data_from: String,
    pub data_to: String,
    pub baseline_rate: f64,
    pub terminals: Vec<RankedTerminal>,
    /// Terminals that went silent or far below their usual volume.
    pub silent: Vec<super::SilentLine>,
    /// Hours many terminals, or one issuer's cards, failed at once (counted against none).
    pub incidents: Vec<super::IncidentLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RankedTerminal {
    pub rank: usize,
    #[serde(flatten)]
    pub flag: FlagLine,
    /// terminal_faults − baseline_rate × transactions.
    pub excess_faults: f64,
    /// Wilson 95% interval of the terminal-fault rate.
    pub fault_ci_low: f64,
    pub fault_ci_high: f64,
}

pub fn ranked(r: &Report) -> TerminalList {
    let mut v: Vec<RankedTerminal> = r
        .flagged
        .iter()
        .map(|f| {
            let t = r.terminals.iter().find(|t| t.terminal_id == f.terminal_id);
            RankedTerminal {
                rank: 0,
                flag: f.clone(),
                excess_faults: f.terminal_faults as f64 - f.baseline_rate * f.transactions as f64,
                fault_ci_low: t.map_or(0.0, |t| t.fault_ci_low),
                fault_ci_high: t.map_or(0.0, |t| t.fault_ci_high),
            }
        })
        .collect();
    v.sort_by(|a, b| {
        b.excess_faults
            .total_cmp(&a.excess_faults)
            .then(a.flag.terminal_id.cmp(&b.flag.terminal_id))
    });
    for (i, t) in v.iter_mut().enumerate() {
        t.rank = i + 1;
    }
    TerminalList {
        time_zone: r.time_zone.clone(),
        data_from: r.data_from.clone(),
        data_to: r.data_to.clone(),
        baseline_rate: r.baseline_rate,
        terminals: v,
        silent: r.silent.clone(),
        incidents: r.incidents.clone(),
    }
}

/// The csv rows: exactly the columns of `flagged_terminals.csv`, in rank order.
pub fn csv_rows(list: &TerminalList) -> Vec<rows::FlaggedTerminal> {
    list.terminals
        .iter()
        .map(|t| rows::flagged_terminal(&t.flag))
        .collect()
}
