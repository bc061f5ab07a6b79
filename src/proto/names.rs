//! Which name each client resolved to which address, learned from DNS answers, so that a
//! later flow to that address can be named when it carries no Host or SNI.
//!
//! Shared by all workers (a DNS flow and the flow it names usually hash to different
//! workers), hence a `DashMap`: written on DNS answers, read when records are built.
//! Bounded by `max_entries`; entries expire by packet time.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use crate::capture::Timestamp;

/// Enough for a lab of a few dozen phones each resolving a few thousand names.
pub const DEFAULT_MAX_ENTRIES: usize = 131_072;
/// Apps reuse connections long after the DNS TTL; keep names for a day of packet time.
pub const DEFAULT_ENTRY_LIFETIME_SECS: u64 = 86_400;

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    seen: Timestamp,
}

/// Counters of the name table.
#[derive(Clone, Debug, Default)]
pub struct NameStats {
    pub inserted: u64,
    pub full: u64,
    pub expired: u64,
    pub entries: u64,
}

/// (client address, resolved address) → the name the client asked for.
#[derive(Debug)]
pub struct ResolvedNames {
    map: DashMap<(IpAddr, IpAddr), Entry, ahash::RandomState>,
    max_entries: usize,
    lifetime_micros: u64,
    inserted: AtomicU64,
    full: AtomicU64,
    expired: AtomicU64,
}

impl Default for ResolvedNames {
    fn default() -> Self {
        ResolvedNames::new(DEFAULT_MAX_ENTRIES, DEFAULT_ENTRY_LIFETIME_SECS)
    }
}

impl ResolvedNames {
    pub fn new(max_entries: usize, lifetime_secs: u64) -> Self {
        ResolvedNames {
            map: DashMap::with_hasher(ahash::RandomState::new()),
            max_entries,
            lifetime_micros: lifetime_secs.saturating_mul(1_000_000),
            inserted: AtomicU64::new(0),
            full: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        }
    }

    /// Remembers that `client` resolved `name` to `address` at `ts`.
    pub fn insert(&self, client: IpAddr, address: IpAddr, name: &str, ts: Timestamp) {
        if let Some(mut entry) = self.map.get_mut(&(client, address)) {
            if entry.name != name {
                entry.name.clear();
                entry.name.push_str(name);
            }
            entry.seen = ts;
            return;
        }
        if self.map.len() >= self.max_entries {
            self.expire(ts);
            if self.map.len() >= self.max_entries {
                self.full.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.inserted.fetch_add(1, Ordering::Relaxed);
        self.map.insert(
            (client, address),
            Entry {
                name: name.to_string(),
                seen: ts,
            },
        );
    }

    /// The name `client` last resolved to `address`, if any.
    pub fn lookup(&self, client: IpAddr, address: IpAddr) -> Option<String> {
        self.map.get(&(client, address)).map(|e| e.name.clone())
    }

    /// Drops entries older than the lifetime.
    pub fn expire(&self, now: Timestamp) {
        let lifetime = self.lifetime_micros;
        let before = self.map.len();
        self.map.retain(|_, e| now.micros_since(e.seen) <= lifetime);
        let removed = before.saturating_sub(self.map.len());
        self.expired.fetch_add(removed as u64, Ordering::Relaxed);
    }

    pub fn stats(&self) -> NameStats {
        NameStats {
            inserted: self.inserted.load(Ordering::Relaxed),
            full: self.full.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
            entries: self.map.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_client_and_refuses_beyond_the_limit() {
        let names = ResolvedNames::new(2, 60);
        let phone: IpAddr = "192.0.2.23".parse().unwrap();
        let other: IpAddr = "192.0.2.24".parse().unwrap();
        let server: IpAddr = "203.0.113.5".parse().unwrap();
        names.insert(phone, server, "api.example.cn", Timestamp::from_secs(10));
        assert_eq!(
            names.lookup(phone, server).as_deref(),
            Some("api.example.cn")
        );
        assert_eq!(names.lookup(other, server), None);
        names.insert(other, server, "b.example", Timestamp::from_secs(11));
        names.insert(other, phone, "c.example", Timestamp::from_secs(12));
        assert_eq!(names.stats().full, 1);
        // 100 s later both are past their 60 s lifetime: room again.
        names.insert(other, phone, "c.example", Timestamp::from_secs(112));
        assert_eq!(names.stats().expired, 2);
        assert_eq!(names.lookup(other, phone).as_deref(), Some("c.example"));
    }
}
