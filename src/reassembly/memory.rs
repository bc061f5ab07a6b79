//! Per-worker budget for buffered out-of-order data.
//!
//! **Owns**: a byte count in use, its cap and the number of refused reservations. One per
//! worker, passed by `&mut` to every [`Stream`](super::Stream) call, so no locking is needed
//! (each flow is pinned to one worker). **Takes** reservations and releases in bytes.
//! **Must not** allocate itself: it only accounts; streams allocate after a reservation
//! succeeds and release exactly what they reserved.

use super::Limits;

/// Memory budget shared by all streams of one worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    in_use_bytes: u64,
    limit_bytes: u64,
    hits: u64,
}

impl Memory {
    /// A budget of `limit_bytes`, nothing in use.
    pub fn new(limit_bytes: u64) -> Self {
        Memory {
            in_use_bytes: 0,
            limit_bytes,
            hits: 0,
        }
    }

    /// A budget of `limits.memcap_bytes`.
    pub fn with_limits(limits: &Limits) -> Self {
        Memory::new(limits.memcap_bytes)
    }

    /// Reserves `bytes` if the total stays within the limit; otherwise counts a hit and
    /// reserves nothing.
    pub fn try_reserve(&mut self, bytes: u64) -> bool {
        match self.in_use_bytes.checked_add(bytes) {
            Some(total) if total <= self.limit_bytes => {
                self.in_use_bytes = total;
                true
            }
            _ => {
                self.hits = self.hits.saturating_add(1);
                false
            }
        }
    }

    /// Returns `bytes` to the budget. Saturates at zero: a release that exceeds what is in use
    /// is a caller bug, but must not wrap into a budget that looks exhausted forever.
    pub fn release(&mut self, bytes: u64) {
        self.in_use_bytes = self.in_use_bytes.saturating_sub(bytes);
    }

    /// Bytes currently reserved.
    pub fn in_use_bytes(&self) -> u64 {
        self.in_use_bytes
    }

    /// The cap.
    pub fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    /// Reservations refused because of the cap, since creation.
    pub fn hits(&self) -> u64 {
        self.hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_until_the_cap_then_count_hits() {
        let mut mem = Memory::new(100);
        assert!(mem.try_reserve(60));
        assert!(mem.try_reserve(40));
        assert_eq!(mem.in_use_bytes(), 100);
        assert!(!mem.try_reserve(1));
        assert_eq!(mem.hits(), 1);
        assert_eq!(mem.in_use_bytes(), 100);
        mem.release(60);
        assert!(mem.try_reserve(1));
        assert_eq!(mem.in_use_bytes(), 41);
    }

    #[test]
    fn overflowing_reservation_is_refused_and_release_saturates() {
        let mut mem = Memory::new(u64::MAX);
        assert!(mem.try_reserve(10));
        assert!(!mem.try_reserve(u64::MAX));
        assert_eq!(mem.hits(), 1);
        mem.release(1_000);
        assert_eq!(mem.in_use_bytes(), 0);
    }

    #[test]
    fn with_limits_takes_memcap() {
        let limits = Limits {
            memcap_bytes: 4096,
            ..Limits::default()
        };
        assert_eq!(Memory::with_limits(&limits).limit_bytes(), 4096);
    }
}
