//! What stayed opaque: TLS flows whose application data was not decrypted,
//! counted per destination (SNI, else server address) for the run summary
//! and, later, each session's report.

use std::collections::HashMap;

/// Destinations counted by name per worker. Beyond it flows and bytes go to
/// the `(other)` totals, counted in `destinations_dropped`; a lab run talks
/// to a few hundred hosts.
pub const DEFAULT_MAX_DESTINATIONS: usize = 4096;

/// Flows and bytes of one destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpaqueCount {
    /// TLS flows not decrypted.
    pub flows: u64,
    /// Their application-data bytes (ciphertext), both directions.
    pub bytes: u64,
}

/// Opaque TLS flows and bytes, in total and per destination.
#[derive(Clone, Debug, Default)]
pub struct OpaqueStats {
    /// All opaque flows and bytes.
    pub total: OpaqueCount,
    by_destination: HashMap<String, OpaqueCount>,
    /// Flows not counted by name because the table was full.
    pub destinations_dropped: u64,
}

impl OpaqueStats {
    /// Counts one opaque flow to `destination` with `bytes` of application data.
    pub fn add(&mut self, destination: &str, bytes: u64) {
        self.total.flows += 1;
        self.total.bytes += bytes;
        if let Some(c) = self.by_destination.get_mut(destination) {
            c.flows += 1;
            c.bytes += bytes;
        } else if self.by_destination.len() < DEFAULT_MAX_DESTINATIONS {
            self.by_destination
                .insert(destination.to_string(), OpaqueCount { flows: 1, bytes });
        } else {
            self.destinations_dropped += 1;
        }
    }

    /// Adds another worker's counts.
    pub fn merge(&mut self, other: &OpaqueStats) {
        self.total.flows += other.total.flows;
        self.total.bytes += other.total.bytes;
        self.destinations_dropped += other.destinations_dropped;
        for (name, c) in &other.by_destination {
            if let Some(mine) = self.by_destination.get_mut(name) {
                mine.flows += c.flows;
                mine.bytes += c.bytes;
            } else if self.by_destination.len() < DEFAULT_MAX_DESTINATIONS {
                self.by_destination.insert(name.clone(), *c);
            } else {
                self.destinations_dropped += c.flows;
            }
        }
    }

    /// The `n` destinations with the most opaque bytes (then flows, then
    /// name), largest first.
    pub fn top(&self, n: usize) -> Vec<(&str, OpaqueCount)> {
        let mut all: Vec<(&str, OpaqueCount)> = self
            .by_destination
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        all.sort_by(|a, b| {
            b.1.bytes
                .cmp(&a.1.bytes)
                .then(b.1.flows.cmp(&a.1.flows))
                .then(a.0.cmp(b.0))
        });
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_destination_and_orders_by_bytes() {
        let mut s = OpaqueStats::default();
        s.add("a.example", 10);
        s.add("b.example", 500);
        s.add("a.example", 5);
        let mut t = OpaqueStats::default();
        t.add("c.example", 1);
        s.merge(&t);
        assert_eq!(
            s.total,
            OpaqueCount {
                flows: 4,
                bytes: 516
            }
        );
        let top = s.top(2);
        assert_eq!(
            top[0],
            (
                "b.example",
                OpaqueCount {
                    flows: 1,
                    bytes: 500
                }
            )
        );
        assert_eq!(
            top[1],
            (
                "a.example",
                OpaqueCount {
                    flows: 2,
                    bytes: 15
                }
            )
        );
    }
}
