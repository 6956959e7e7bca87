//! What a terminal is, beside what it did: its model, firmware and application version (from
//! the logs' columns or an `--inventory` file), and where it stands (store, region: inventory
//! only). The verdicts judge a terminal against the healthy terminals of its cohort (its model,
//! then firmware), so these travel with the cube (docs/cube.md, version 3).

use std::collections::BTreeMap;

/// The attributes of one terminal. Empty strings are unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct TerminalAttrs {
    pub model: String,
    pub firmware: String,
    pub app_version: String,
    pub store: String,
    pub region: String,
}

impl TerminalAttrs {
    pub fn is_empty(&self) -> bool {
        self.model.is_empty()
            && self.firmware.is_empty()
            && self.app_version.is_empty()
            && self.store.is_empty()
            && self.region.is_empty()
    }

    /// Fill what `self` does not know from `other` (the logs' values win over an inventory's:
    /// they are what the terminal itself reported).
    pub fn fill_from(&mut self, other: &TerminalAttrs) {
        let fill = |a: &mut String, b: &String| {
            if a.is_empty() {
                a.clone_from(b);
            }
        };
        fill(&mut self.model, &other.model);
        fill(&mut self.firmware, &other.firmware);
        fill(&mut self.app_version, &other.app_version);
        fill(&mut self.store, &other.store);
        fill(&mut self.region, &other.region);
    }
}

/// A terminal's attributes as last seen: the values on its latest row win (a firmware update
/// mid-period leaves the terminal on the new version), ties to the larger values, so the
/// result does not depend on the order rows, threads or cube files are added in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub at: i64,
    pub attrs: TerminalAttrs,
}

impl Seen {
    pub fn merge(&mut self, other: &Seen) {
        if (other.at, &other.attrs) > (self.at, &self.attrs) {
            *self = other.clone();
        }
    }
}

/// Attributes per terminal id.
pub type AttrMap = BTreeMap<String, TerminalAttrs>;

/// Merge `seen` into the map entry of terminal `t`.
pub fn merge_into(map: &mut std::collections::BTreeMap<String, Seen>, t: &str, seen: &Seen) {
    match map.get_mut(t) {
        Some(e) => e.merge(seen),
        None => {
            map.insert(t.to_string(), seen.clone());
        }
    }
}
