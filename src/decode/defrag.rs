//! IPv4 and IPv6 fragment reassembly.
//!
//! Owns the datagrams in progress: one contiguous buffer per datagram plus the list of
//! fragment extents received. Takes one fragment at a time (its byte offset, "more
//! fragments" flag and payload) and emits the complete fragmentable part (the IP payload,
//! for IPv6 starting with the header named by the first fragment's Next Header) into a
//! caller-supplied buffer when the last hole is filled.
//!
//! Keys: (source, destination, identification, protocol) for IPv4 (RFC 791 §3.2) and
//! (source, destination, identification) for IPv6 (RFC 8200 §4.5).
//!
//! Limits (each refusal is counted in [`FragmentStats`]):
//! - per-datagram timeout measured in packet time from its first fragment;
//! - a memcap over all buffers;
//! - a maximum number of datagrams in progress;
//! - a maximum number of fragments per datagram;
//! - a maximum reassembled size (65535 bytes of IPv4 packet, 65535 bytes of IPv6
//!   fragmentable part after the unfragmentable headers).
//!
//! Overlap policy (anti-evasion): an exact duplicate — same offset, same length, same
//! "last" flag and identical bytes — is counted and ignored. Any other overlap, and any
//! disagreement about where the datagram ends, refuses the *whole* datagram: its buffer is
//! freed and later fragments with the same key are refused until the timeout. Targets
//! resolve overlaps differently (first wins, last wins, BSD, Linux…), so an inspector that
//! picks one answer can be shown different bytes than the phone receives; refusing is
//! the only answer that cannot be steered. RFC 5722 makes overlapping IPv6 fragments
//! invalid anyway.
//!
//! Must not: read the clock, verify checksums, or allocate outside the memcap.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::IpProto;
use crate::capture::Timestamp;

/// Default fragment timeout: 30 s (RFC 8200 §4.5 asks for 60 s; Linux uses 30 s, and a
/// mirror-port inspector should not keep more state than the receivers do).
pub const DEFAULT_FRAGMENT_TIMEOUT_SECS: u32 = 30;

/// Default memory cap over all reassembly buffers: 16 MiB holds 256 maximum-size
/// datagrams, far more than legitimate traffic keeps in flight at once.
pub const DEFAULT_DEFRAG_MEMCAP_BYTES: usize = 16 * 1024 * 1024;

/// Default maximum datagrams in progress: bounds the table (and a sweep) under a flood of
/// first fragments with distinct ids.
pub const DEFAULT_MAX_DATAGRAMS: usize = 4096;

/// Default maximum fragments per datagram: a 64 KiB datagram on a 576-byte path needs
/// about 120 fragments; more than 256 only comes from tiny-fragment evasion.
pub const DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM: usize = 256;

/// Largest IPv4 reassembled payload: total length is 16 bits and includes the 20-byte
/// minimum header (RFC 791 §3.1).
pub const MAX_IPV4_PAYLOAD_BYTES: u32 = 65535 - 20;

/// Largest IPv6 fragmentable part: RFC 8200 §4.5 bounds the reassembled Payload Length to
/// 65535; the unfragmentable headers are not stored here.
pub const MAX_IPV6_PAYLOAD_BYTES: u32 = 65535;

/// Bytes charged per datagram on top of its buffers (table entry and bookkeeping).
const DATAGRAM_OVERHEAD_BYTES: usize = 128;

/// Bytes charged per stored fragment extent.
const RANGE_BYTES: usize = std::mem::size_of::<Extent>();

/// Minimum packet time between two full sweeps triggered by a full table, so a flood
/// does not turn every packet into a table scan.
const SWEEP_INTERVAL_MICROS: i64 = 1_000_000;

/// Reassembly limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragLimits {
    /// Seconds (packet time) a datagram may wait for its missing fragments.
    pub timeout_secs: u32,
    /// Bytes over all datagram buffers.
    pub memcap_bytes: usize,
    /// Datagrams in progress (including refused ones remembered until their timeout).
    pub max_datagrams: usize,
    /// Fragments stored per datagram.
    pub max_fragments_per_datagram: usize,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            timeout_secs: DEFAULT_FRAGMENT_TIMEOUT_SECS,
            memcap_bytes: DEFAULT_DEFRAG_MEMCAP_BYTES,
            max_datagrams: DEFAULT_MAX_DATAGRAMS,
            max_fragments_per_datagram: DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM,
        }
    }
}

/// Identity of a datagram being reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FragmentKey {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        id: u16,
        proto: IpProto,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        id: u32,
    },
}

/// One fragment as seen on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'p> {
    /// Byte offset of `payload` in the fragmentable part.
    pub offset: u32,
    /// More-fragments flag.
    pub more: bool,
    /// Protocol of the fragmentable part (IPv4 protocol; IPv6 fragment header's Next
    /// Header, which counts only in the first fragment, RFC 8200 §4.5).
    pub next_header: IpProto,
    /// Fragment data.
    pub payload: &'p [u8],
    /// True when the capture cut this fragment's data (it cannot be reassembled).
    pub truncated: bool,
}

/// Why a fragment was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FragmentRefusal {
    /// Its datagram was refused earlier and is remembered until the timeout.
    #[error("datagram already refused")]
    AlreadyRefused,
    /// Fragments disagree about the datagram's end.
    #[error("inconsistent fragment lengths")]
    Inconsistent,
    /// A non-last fragment whose length is 0 or not a multiple of 8 (RFC 791, RFC 8200).
    #[error("invalid fragment length")]
    Invalid,
    /// The memcap would be exceeded.
    #[error("memcap reached")]
    Memcap,
    /// Reassembly nested deeper than the decoder's output buffers (fragments inside a
    /// reassembled datagram inside a reassembled datagram).
    #[error("nested reassembly")]
    Nested,
    /// Overlaps an earlier fragment with different bytes or extent.
    #[error("overlapping fragments")]
    Overlap,
    /// Beyond the maximum reassembled size.
    #[error("datagram too large")]
    TooLarge,
    #[error("too many datagrams in progress")]
    TooManyDatagrams,
    #[error("too many fragments in datagram")]
    TooManyFragments,
    /// The capture cut the fragment (snaplen).
    #[error("fragment truncated by capture")]
    Truncated,
}

impl FragmentRefusal {
    /// snake_case metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            FragmentRefusal::AlreadyRefused => "already_refused",
            FragmentRefusal::Inconsistent => "inconsistent",
            FragmentRefusal::Invalid => "invalid",
            FragmentRefusal::Memcap => "memcap",
            FragmentRefusal::Nested => "nested",
            FragmentRefusal::Overlap => "overlap",
            FragmentRefusal::TooLarge => "too_large",
            FragmentRefusal::TooManyDatagrams => "too_many_datagrams",
            FragmentRefusal::TooManyFragments => "too_many_fragments",
            FragmentRefusal::Truncated => "truncated",
        }
    }
}

/// Result of [`Defragmenter::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The datagram is complete; its fragmentable part is in the output buffer.
    Complete(IpProto),
    /// An exact duplicate of a stored fragment; ignored.
    Duplicate,
    /// Stored; the datagram still has holes.
    Held,
    Refused(FragmentRefusal),
}

/// Reassembly counters; gauges are marked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragmentStats {
    /// Fragments offered.
    pub seen: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped incomplete at their timeout.
    pub timed_out: u64,
    pub duplicate: u64,
    pub overlap: u64,
    pub inconsistent: u64,
    pub invalid: u64,
    pub memcap: u64,
    pub nested: u64,
    pub too_large: u64,
    pub too_many_datagrams: u64,
    pub too_many_fragments: u64,
    pub truncated: u64,
    /// Fragments of an already refused datagram.
    pub already_refused: u64,
    /// Gauge: datagrams in the table (including remembered refusals).
    pub datagrams_in_progress: u64,
    /// Gauge: bytes charged against the memcap.
    pub memory_bytes: u64,
}

impl FragmentStats {
    fn count(&mut self, refusal: FragmentRefusal) {
        let c = match refusal {
            FragmentRefusal::AlreadyRefused => &mut self.already_refused,
            FragmentRefusal::Inconsistent => &mut self.inconsistent,
            FragmentRefusal::Invalid => &mut self.invalid,
            FragmentRefusal::Memcap => &mut self.memcap,
            FragmentRefusal::Nested => &mut self.nested,
            FragmentRefusal::Overlap => &mut self.overlap,
            FragmentRefusal::TooLarge => &mut self.too_large,
            FragmentRefusal::TooManyDatagrams => &mut self.too_many_datagrams,
            FragmentRefusal::TooManyFragments => &mut self.too_many_fragments,
            FragmentRefusal::Truncated => &mut self.truncated,
        };
        *c += 1;
    }
}

/// Extent of one stored fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    start: u32,
    end: u32,
    last: bool,
}

#[derive(Debug)]
struct Datagram {
    first_seen: Timestamp,
    /// Fragmentable part; bytes outside `extents` are holes (zero).
    buf: Vec<u8>,
    /// Stored extents sorted by start; disjoint (overlaps refuse the datagram).
    extents: Vec<Extent>,
    /// End of the datagram, known once the last fragment arrived.
    total: Option<u32>,
    /// Protocol of the fragmentable part, known once the first fragment arrived.
    proto: Option<IpProto>,
    /// Refused: later fragments are refused until the timeout.
    refused: bool,
}

impl Datagram {
    fn new(first_seen: Timestamp) -> Self {
        Datagram {
            first_seen,
            buf: Vec::new(),
            extents: Vec::new(),
            total: None,
            proto: None,
            refused: false,
        }
    }

    /// Bytes charged against the memcap.
    fn cost(&self) -> usize {
        DATAGRAM_OVERHEAD_BYTES
            + self.buf.capacity()
            + self.extents.capacity().saturating_mul(RANGE_BYTES)
    }

    /// The fragmentable part when every byte up to the end is present.
    fn complete_len(&self) -> Option<usize> {
        let total = self.total?;
        self.proto?;
        let mut pos = 0u32;
        for extent in &self.extents {
            if extent.start != pos {
                return None;
            }
            pos = extent.end;
        }
        (pos == total).then_some(total as usize)
    }
}

/// Reassembles fragmented IPv4 and IPv6 datagrams under limits.
#[derive(Debug)]
pub struct Defragmenter {
    limits: DefragLimits,
    /// std's randomly seeded SipHash: attackers choose ids and addresses.
    datagrams: HashMap<FragmentKey, Datagram>,
    memory_bytes: usize,
    last_sweep: Option<Timestamp>,
    stats: FragmentStats,
}

impl Defragmenter {
    /// An empty reassembler.
    pub fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            datagrams: HashMap::new(),
            memory_bytes: 0,
            last_sweep: None,
            stats: FragmentStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &FragmentStats {
        &self.stats
    }

    /// Counts a refusal decided by the caller (for example [`FragmentRefusal::Nested`]).
    pub fn count_refusal(&mut self, refusal: FragmentRefusal) {
        self.stats.seen += 1;
        self.stats.count(refusal);
    }

    /// Offers one fragment at packet time `now`. On [`Insert::Complete`] `out` holds the
    /// reassembled fragmentable part (cleared first); otherwise `out` is untouched.
    pub fn insert(
        &mut self,
        key: FragmentKey,
        fragment: Fragment<'_>,
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Insert {
        self.stats.seen += 1;
        let outcome = self.insert_inner(key, fragment, now, out);
        match outcome {
            Insert::Complete(_) => self.stats.reassembled += 1,
            Insert::Duplicate => self.stats.duplicate += 1,
            Insert::Held => {}
            Insert::Refused(refusal) => self.stats.count(refusal),
        }
        self.update_gauges();
        outcome
    }

    /// Drops datagrams first seen more than the timeout before `now`; returns how many
    /// incomplete datagrams timed out.
    pub fn expire(&mut self, now: Timestamp) -> u64 {
        let timeout = self.timeout_micros();
        let mut freed = 0usize;
        let mut timed_out = 0u64;
        self.datagrams.retain(|_, d| {
            if now.as_micros().saturating_sub(d.first_seen.as_micros()) > timeout {
                freed += d.cost();
                if !d.refused {
                    timed_out += 1;
                }
                false
            } else {
                true
            }
        });
        self.memory_bytes = self.memory_bytes.saturating_sub(freed);
        self.stats.timed_out += timed_out;
        self.last_sweep = Some(now);
        self.update_gauges();
        timed_out
    }

    fn insert_inner(
        &mut self,
        key: FragmentKey,
        fragment: Fragment<'_>,
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Insert {
        if fragment.truncated {
            return Insert::Refused(FragmentRefusal::Truncated);
        }
        let max_end = match key {
            FragmentKey::V4 { .. } => MAX_IPV4_PAYLOAD_BYTES,
            FragmentKey::V6 { .. } => MAX_IPV6_PAYLOAD_BYTES,
        };
        let Some(end) = u32::try_from(fragment.payload.len())
            .ok()
            .and_then(|len| fragment.offset.checked_add(len))
        else {
            return Insert::Refused(FragmentRefusal::TooLarge);
        };
        if end > max_end {
            return Insert::Refused(FragmentRefusal::TooLarge);
        }
        // RFC 791 §3.2 and RFC 8200 §4.5: every fragment but the last carries a non-zero
        // multiple of 8 bytes.
        if fragment.more
            && (fragment.payload.is_empty() || !fragment.payload.len().is_multiple_of(8))
        {
            return Insert::Refused(FragmentRefusal::Invalid);
        }

        let timeout = self.timeout_micros();
        if let Some(d) = self.datagrams.get(&key) {
            if now.as_micros().saturating_sub(d.first_seen.as_micros()) > timeout {
                let refused = d.refused;
                self.remove(&key);
                if !refused {
                    self.stats.timed_out += 1;
                }
            }
        }
        if !self.datagrams.contains_key(&key) {
            if self.datagrams.len() >= self.limits.max_datagrams {
                let due = self.last_sweep.is_none_or(|last| {
                    now.as_micros().saturating_sub(last.as_micros()) >= SWEEP_INTERVAL_MICROS
                });
                if due {
                    self.expire(now);
                }
                if self.datagrams.len() >= self.limits.max_datagrams {
                    return Insert::Refused(FragmentRefusal::TooManyDatagrams);
                }
            }
            let fresh = Datagram::new(now);
            let cost = fresh.cost();
            if self.memory_bytes.saturating_add(cost) > self.limits.memcap_bytes {
                return Insert::Refused(FragmentRefusal::Memcap);
            }
            self.memory_bytes += cost;
            self.datagrams.insert(key, fresh);
        }

        let start = fragment.offset;
        let last = !fragment.more;
        let memory_bytes = self.memory_bytes;
        let limits = self.limits;
        let Some(d) = self.datagrams.get_mut(&key) else {
            // Inserted just above when absent.
            return Insert::Refused(FragmentRefusal::Memcap);
        };
        if d.refused {
            return Insert::Refused(FragmentRefusal::AlreadyRefused);
        }
        let verdict = check_fragment(d, start, end, last, fragment.payload, &limits);
        if let Some(verdict) = verdict {
            return match verdict {
                Insert::Refused(refusal) => self.refuse(&key, refusal),
                other => other,
            };
        }
        let new_len = (end as usize).max(d.buf.len());
        let growth = new_len.saturating_sub(d.buf.capacity())
            + if d.extents.len() == d.extents.capacity() {
                d.extents.capacity().max(4) * RANGE_BYTES
            } else {
                0
            };
        if memory_bytes.saturating_add(growth) > limits.memcap_bytes {
            return self.refuse(&key, FragmentRefusal::Memcap);
        }
        let before = d.cost();
        if new_len > d.buf.len() {
            d.buf.reserve_exact(new_len - d.buf.len());
            d.buf.resize(new_len, 0);
        }
        if let Some(dst) = d.buf.get_mut(start as usize..end as usize) {
            dst.copy_from_slice(fragment.payload);
        }
        let at = d.extents.partition_point(|e| e.start < start);
        d.extents.insert(at, Extent { start, end, last });
        if last {
            d.total = Some(end);
        }
        if start == 0 {
            d.proto = Some(fragment.next_header);
        }
        let after = d.cost();
        self.memory_bytes = self.memory_bytes.saturating_sub(before) + after;

        let Some(len) = d.complete_len() else {
            return Insert::Held;
        };
        let proto = d.proto.unwrap_or(fragment.next_header);
        out.clear();
        out.extend_from_slice(d.buf.get(..len).unwrap_or(&[]));
        self.remove(&key);
        Insert::Complete(proto)
    }

    /// Refuses the whole datagram: frees its buffers and remembers the refusal.
    fn refuse(&mut self, key: &FragmentKey, refusal: FragmentRefusal) -> Insert {
        if let Some(d) = self.datagrams.get_mut(key) {
            let before = d.cost();
            d.refused = true;
            d.buf = Vec::new();
            d.extents = Vec::new();
            let after = d.cost();
            self.memory_bytes = self.memory_bytes.saturating_sub(before) + after;
        }
        Insert::Refused(refusal)
    }

    fn remove(&mut self, key: &FragmentKey) {
        if let Some(d) = self.datagrams.remove(key) {
            self.memory_bytes = self.memory_bytes.saturating_sub(d.cost());
        }
    }

    fn timeout_micros(&self) -> i64 {
        i64::from(self.limits.timeout_secs) * 1_000_000
    }

    fn update_gauges(&mut self) {
        self.stats.datagrams_in_progress = self.datagrams.len() as u64;
        self.stats.memory_bytes = self.memory_bytes as u64;
    }
}

/// Checks a new fragment against the stored ones: `Some(Duplicate)`, `Some(Refused)` for
/// a datagram-level conflict, or `None` to store it.
fn check_fragment(
    d: &Datagram,
    start: u32,
    end: u32,
    last: bool,
    payload: &[u8],
    limits: &DefragLimits,
) -> Option<Insert> {
    for extent in &d.extents {
        let same_extent = extent.start == start && extent.end == end;
        let intersects = extent.start < end && start < extent.end;
        if same_extent {
            let stored = d.buf.get(start as usize..end as usize);
            if extent.last == last && stored == Some(payload) {
                return Some(Insert::Duplicate);
            }
            return Some(Insert::Refused(FragmentRefusal::Overlap));
        }
        if intersects {
            return Some(Insert::Refused(FragmentRefusal::Overlap));
        }
    }
    if last {
        if d.total.is_some_and(|total| total != end) {
            return Some(Insert::Refused(FragmentRefusal::Inconsistent));
        }
        if d.extents.iter().any(|e| e.end > end) {
            return Some(Insert::Refused(FragmentRefusal::Inconsistent));
        }
    } else if d.total.is_some_and(|total| end > total) {
        return Some(Insert::Refused(FragmentRefusal::Inconsistent));
    }
    if d.extents.len() >= limits.max_fragments_per_datagram {
        return Some(Insert::Refused(FragmentRefusal::TooManyFragments));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FragmentKey {
        FragmentKey::V4 {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            id: 7,
            proto: IpProto::UDP,
        }
    }

    fn frag(offset: u32, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            offset,
            more,
            next_header: IpProto::UDP,
            payload,
            truncated: false,
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn in_order_and_reverse_order_complete() {
        let bytes = data(40);
        for order in [[0usize, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut d = Defragmenter::new(DefragLimits::default());
            let mut out = Vec::new();
            let pieces = [(0u32, 16usize, true), (16, 16, true), (32, 8, false)];
            let mut result = Insert::Held;
            for (n, &i) in order.iter().enumerate() {
                let (off, len, more) = pieces[i];
                let off_us = off as usize;
                result = d.insert(
                    key(),
                    frag(off, more, &bytes[off_us..off_us + len]),
                    Timestamp::from_secs(1),
                    &mut out,
                );
                if n < 2 {
                    assert_eq!(result, Insert::Held);
                }
            }
            assert_eq!(result, Insert::Complete(IpProto::UDP));
            assert_eq!(out, bytes);
            assert_eq!(d.stats().reassembled, 1);
            assert_eq!(d.stats().datagrams_in_progress, 0);
            assert_eq!(d.stats().memory_bytes, 0);
        }
    }

    #[test]
    fn exact_duplicate_is_ignored_and_differing_overlap_refuses() {
        let bytes = data(24);
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut out = Vec::new();
        let t = Timestamp::from_secs(1);
        assert_eq!(
            d.insert(key(), frag(0, true, &bytes[..8]), t, &mut out),
            Insert::Held
        );
        assert_eq!(
            d.insert(key(), frag(0, true, &bytes[..8]), t, &mut out),
            Insert::Duplicate
        );
        let mut changed = bytes[8..16].to_vec();
        assert_eq!(
            d.insert(key(), frag(8, true, &changed), t, &mut out),
            Insert::Held
        );
        changed[0] ^= 0xff;
        assert_eq!(
            d.insert(key(), frag(8, true, &changed), t, &mut out),
            Insert::Refused(FragmentRefusal::Overlap)
        );
        // The datagram stays refused, even for fragments that would complete it.
        assert_eq!(
            d.insert(key(), frag(16, false, &bytes[16..]), t, &mut out),
            Insert::Refused(FragmentRefusal::AlreadyRefused)
        );
        assert_eq!(d.stats().duplicate, 1);
        assert_eq!(d.stats().overlap, 1);
        assert_eq!(d.stats().already_refused, 1);
        assert!(out.is_empty());
    }

    #[test]
    fn partial_overlap_refuses() {
        let bytes = data(32);
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut out = Vec::new();
        let t = Timestamp::from_secs(1);
        d.insert(key(), frag(0, true, &bytes[..16]), t, &mut out);
        assert_eq!(
            d.insert(key(), frag(8, true, &bytes[8..24]), t, &mut out),
            Insert::Refused(FragmentRefusal::Overlap)
        );
    }

    #[test]
    fn timeout_by_packet_time() {
        let bytes = data(16);
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut out = Vec::new();
        d.insert(
            key(),
            frag(0, true, &bytes[..8]),
            Timestamp::from_secs(100),
            &mut out,
        );
        assert_eq!(d.expire(Timestamp::from_secs(130)), 0);
        assert_eq!(d.expire(Timestamp::from_secs(131)), 1);
        assert_eq!(d.stats().timed_out, 1);
        assert_eq!(d.stats().memory_bytes, 0);
        // The late last fragment starts a new datagram rather than completing the old one.
        assert_eq!(
            d.insert(
                key(),
                frag(8, false, &bytes[8..]),
                Timestamp::from_secs(131),
                &mut out
            ),
            Insert::Held
        );
    }

    #[test]
    fn memcap_and_datagram_limit_refuse() {
        let limits = DefragLimits {
            memcap_bytes: 4096,
            max_datagrams: 2,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::new(limits);
        let mut out = Vec::new();
        let t = Timestamp::from_secs(1);
        let big = data(8);
        assert_eq!(
            d.insert(key(), frag(8000, true, &big), t, &mut out),
            Insert::Refused(FragmentRefusal::Memcap)
        );
        assert_eq!(d.stats().memcap, 1);
        assert!(d.stats().memory_bytes <= 4096);
        let other = |id| FragmentKey::V6 {
            src: Ipv6Addr::LOCALHOST,
            dst: Ipv6Addr::LOCALHOST,
            id,
        };
        assert_eq!(
            d.insert(other(1), frag(0, true, &big), t, &mut out),
            Insert::Held
        );
        assert_eq!(
            d.insert(other(2), frag(0, true, &big), t, &mut out),
            Insert::Refused(FragmentRefusal::TooManyDatagrams)
        );
        assert_eq!(d.stats().too_many_datagrams, 1);
    }

    #[test]
    fn invalid_lengths_and_sizes() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut out = Vec::new();
        let t = Timestamp::from_secs(1);
        assert_eq!(
            d.insert(key(), frag(0, true, &data(7)), t, &mut out),
            Insert::Refused(FragmentRefusal::Invalid)
        );
        assert_eq!(
            d.insert(key(), frag(65528, false, &data(16)), t, &mut out),
            Insert::Refused(FragmentRefusal::TooLarge)
        );
        assert_eq!(
            d.insert(key(), frag(0, true, &data(16)), t, &mut out),
            Insert::Held
        );
        assert_eq!(
            d.insert(key(), frag(32, false, &data(8)), t, &mut out),
            Insert::Held
        );
        // A second "last" fragment with a different end contradicts the first.
        assert_eq!(
            d.insert(key(), frag(40, false, &data(8)), t, &mut out),
            Insert::Refused(FragmentRefusal::Inconsistent)
        );
    }

    #[test]
    fn too_many_fragments_refuses() {
        let limits = DefragLimits {
            max_fragments_per_datagram: 3,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::new(limits);
        let mut out = Vec::new();
        let t = Timestamp::from_secs(1);
        let piece = data(8);
        for i in 0..3 {
            assert_eq!(
                d.insert(key(), frag(i * 8, true, &piece), t, &mut out),
                Insert::Held
            );
        }
        assert_eq!(
            d.insert(key(), frag(24, true, &piece), t, &mut out),
            Insert::Refused(FragmentRefusal::TooManyFragments)
        );
    }
}
