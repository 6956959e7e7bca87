//! `csv/EXPORT.md`: the auditor's guide to the export bundle (`csv/` + `manifest.json`):
//! every column of every file, described from [`crate::report::rows::docs`] (the same place
//! the columns are defined), and how this run's figures reconcile, with its numbers.

use std::fmt::Write;

use crate::report::rows::docs;
use crate::report::Report;

pub fn render(r: &Report) -> Vec<u8> {
    let t = &r.totals;
    let h = &r.headline;
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# poslens export bundle\n\nWritten by {} {} at {}. Data {} → {} ({}); code profile `{}`.\n",
        r.tool, r.version, r.generated_at, r.data_from, r.data_to, r.time_zone, r.profile
    );
    m.push_str(
        "The bundle is this folder (`csv/`) and `../manifest.json`. The manifest lists every \
output with its SHA-256 and size, every input with its SHA-256, size and row counts, the \
options and the code catalog's hash. `poslens verify DIR` re-hashes the files against it and \
names every changed, missing or unlisted file.\n\n\
Conventions: UTF-8, comma-separated, `\\n` line ends, one header row with the exact column names \
below (more columns may follow them in later versions). Rates are decimals in [0, 1] with six \
decimals; p-values are in scientific notation. Text cells that start with `= + - @`, tab or CR \
carry a leading `'` so spreadsheets do not run them as formulas. No full card number appears \
in any file.\n\n",
    );
    let _ = writeln!(m, "## How the figures reconcile (this run)\n");
    let _ = writeln!(
        m,
        "- Rows: `rows_read` {} = `rows_accepted` {} + `rows_rejected` {} + `rows_duplicate` {} \
(manifest `totals`, and the same per input under `inputs`). Rejected rows are listed in \
`../rejects.csv`.",
        t.rows_read, t.rows_accepted, t.rows_rejected, t.rows_duplicate
    );
    let _ = writeln!(
        m,
        "- Transactions: {} = `rows_accepted` {} − rows outside --since/--until {} − \
intermediate messages (e.g. `09`, not transactions) {}.",
        h.transactions, t.rows_accepted, t.rows_outside_window, r.non_transactions
    );
    let _ = writeln!(
        m,
        "- The column `transactions` sums to {} in `by_period.csv`, `by_code.csv` and \
`by_merchant.csv`; in `by_terminal.csv` it sums to {} − {} responses without a terminal id \
(kept as `(none)`, never judged as a terminal).",
        h.transactions, h.transactions, r.unattributed
    );
    let _ = writeln!(
        m,
        "- In every row, `transactions` = `approved` + `declined` + `fraud` + `network` + \
`terminal` + `unknown`, and `failure_rate` = (`transactions` − `approved`) / `transactions`."
    );
    let _ = writeln!(
        m,
        "- `flagged_terminals.csv` has one row per `status = flagged` row of `by_terminal.csv` \
({} here); its `transactions` and `terminal_faults` equal that row's `transactions` and \
`terminal`.\n",
        h.flagged_terminals
    );
    for d in docs() {
        let _ = writeln!(m, "## `{}`\n\nRows: {}.\n", d.file, d.rows);
        let _ = writeln!(m, "| column | meaning |\n|---|---|");
        for (c, what) in &d.columns {
            let _ = writeln!(m, "| `{c}` | {} |", what.replace('|', "\\|"));
        }
        m.push('\n');
    }
    m.into_bytes()
}
