//! Synthetic traffic for tests, benchmarks and the demo.
//!
//! Owns the crafting of real, checksum-correct frames (`frame`), TCP conversations with
//! chosen segmentations (`tcp`), application payloads and a mixed-traffic generator
//! (`traffic`), and pcap / pcapng writers (`pcap`). Takes only values chosen by the caller
//! (or drawn from a seeded [`Rng`]); emits byte vectors and capture files.
//!
//! Everything here is deterministic: no clock, no OS randomness, so a seed reproduces a file
//! byte for byte. Addresses default to documentation ranges (RFC 5737, RFC 3849) and
//! locally administered MACs; payloads carry only synthetic values, never real personal data.
//!
//! Limits: one IP packet is at most 65535 bytes, so builders panic (documented per function)
//! when a caller asks for a larger one; these are programming errors in a test, not network
//! input. The mixed generator streams to a `Write` and holds at most one step of each of its
//! concurrent flows in memory (see [`traffic::MixedTraffic`]).
//!
//! Must not: touch the network, read real captures, or be used on the hot path.

pub mod frame;
pub mod pcap;
pub mod tcp;
pub mod traffic;

use std::net::IpAddr;

/// One end of a synthetic flow: link address, IP address and transport port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Ethernet address of the host (or of its gateway, seen from the tap).
    pub mac: [u8; 6],
    /// IP address; both ends of one flow must be of the same family.
    pub ip: IpAddr,
    /// TCP or UDP port.
    pub port: u16,
}

impl Endpoint {
    /// Creates an endpoint.
    pub fn new(mac: [u8; 6], ip: IpAddr, port: u16) -> Self {
        Endpoint { mac, ip, port }
    }
}

/// Small deterministic pseudo-random generator (SplitMix64).
///
/// Not cryptographic; used so that a seed reproduces the same traffic on every platform
/// without a `rand` dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Creates a generator from a seed; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        // SplitMix64 constants (Steele, Lea, Flood 2014).
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform value in `0..bound`; returns 0 when `bound` is 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Multiply-shift keeps the bias below 2^-64 * bound, fine for test data.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform value in `lo..=hi` (`hi` below `lo` yields `lo`).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        let span = hi.saturating_sub(lo) as u64;
        lo + self.below(span.saturating_add(1)) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            let n = chunk.len();
            chunk.copy_from_slice(&bytes[..n]);
        }
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(&mut v);
        v
    }

    /// Picks one element of a non-empty slice (`None` when empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }
}

/// Helpers to check built captures with an installed `tshark`.
#[cfg(test)]
pub(crate) mod tshark {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNTER: AtomicU64 = AtomicU64::new(0);

    /// A unique path in the temp dir (no `tempfile` dependency).
    pub fn temp_path(stem: &str, ext: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!(
            "leaktap-synth-{}-{}-{}.{}",
            std::process::id(),
            stem,
            n,
            ext
        ))
    }

    /// True when `tshark` runs; prints why tests skip otherwise.
    pub fn available(test: &str) -> bool {
        let ok = Command::new("tshark")
            .arg("-v")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("{test}: tshark not on PATH, skipping decode checks");
        }
        ok
    }

    /// Runs tshark with checksum validation on and returns one line per packet, fields
    /// separated by `|`. Panics (test helper) when tshark fails.
    pub fn fields(path: &Path, filter: Option<&str>, fields: &[&str]) -> Vec<String> {
        fields_with(path, filter, fields, &[])
    }

    /// Like [`fields`] with extra tshark arguments (e.g. two-pass `-2`).
    pub fn fields_with(
        path: &Path,
        filter: Option<&str>,
        fields: &[&str],
        extra: &[&str],
    ) -> Vec<String> {
        let mut cmd = Command::new("tshark");
        cmd.arg("-n").arg("-r").arg(path);
        for o in [
            "tcp.check_checksum:TRUE",
            "ip.check_checksum:TRUE",
            "udp.check_checksum:TRUE",
        ] {
            cmd.arg("-o").arg(o);
        }
        cmd.args(extra);
        if let Some(f) = filter {
            cmd.arg("-Y").arg(f);
        }
        cmd.args(["-T", "fields", "-E", "separator=|", "-E", "aggregator=,"]);
        for f in fields {
            cmd.arg("-e").arg(f);
        }
        let out = cmd.output().expect("run tshark");
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Asserts tshark reports no expert info about bad checksums or malformed packets.
    pub fn assert_clean(path: &Path) {
        let bad = fields(
            path,
            Some("_ws.malformed || _ws.expert.severity >= error || tcp.checksum.status == 2 || udp.checksum.status == 2 || ip.checksum.status == 2"),
            &["frame.number", "_ws.expert.message"],
        );
        assert!(bad.is_empty(), "tshark flags problems: {bad:?}");
        let checked = fields(
            path,
            Some("ip.checksum.status == 1 || tcp.checksum.status == 1 || udp.checksum.status == 1"),
            &["frame.number"],
        );
        let total = fields(path, Some("ip || ipv6"), &["frame.number"]);
        assert!(
            !checked.is_empty() || total.is_empty(),
            "no checksum was verified"
        );
    }

    /// Removes a test file, ignoring errors.
    pub fn remove(path: &Path) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            let x = a.below(10);
            assert_eq!(x, b.below(10));
            assert!(x < 10);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
        assert_eq!(Rng::new(3).below(0), 0);
        let r = Rng::new(4).range(5, 5);
        assert_eq!(r, 5);
        assert_eq!(Rng::new(9).bytes(13).len(), 13);
    }
}
