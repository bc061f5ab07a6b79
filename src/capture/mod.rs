//! Packet sources: capture files (pcap and pcapng through libpcap) and, later, live
//! interfaces. A source yields [`Frame`]s — the captured bytes, the original wire length,
//! the link type and the capture timestamp — and never interprets them.
//!
//! Takes: file paths. Emits: frames in file order, files in the order given.
//! Must not: decode packets, read the clock for packet times, or stop on a bad file —
//! an unreadable or truncated file is reported with its path and the run goes on with
//! the next one.

mod file;
pub mod pcapng;

pub use file::{FileSource, SourceError, Step};

use std::fmt;

/// Capture time of a packet, microseconds since the Unix epoch (UTC).
///
/// Every stage below capture uses this as "now": replays of a file are deterministic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000))
    }

    /// Whole seconds since the epoch (floor).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Saturating difference in microseconds (`self - earlier`), 0 if negative.
    pub fn micros_since(self, earlier: Timestamp) -> u64 {
        u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0)
    }

    /// RFC 3339 UTC with microseconds, e.g. `2026-03-02T09:00:40.123456Z`.
    pub fn to_rfc3339(self) -> String {
        let mut out = String::with_capacity(27);
        // Writing to a String cannot fail.
        let _ = fmt::write(&mut out, format_args!("{self}"));
        out
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 UTC with microsecond precision.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )
    }
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's civil algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// One captured frame, borrowed from the source's buffer until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    /// pcap LINKTYPE_* value of the file or interface this frame came from.
    pub link_type: u32,
    /// The bytes captured (caplen).
    pub data: &'a [u8],
    /// The frame's length on the wire; larger than `data.len()` when the snaplen cut it.
    pub wire_len: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_micros() {
        assert_eq!(
            Timestamp::from_micros(0).to_rfc3339(),
            "1970-01-01T00:00:00.000000Z"
        );
        // 2026-03-02T09:00:40.5Z
        let ts = Timestamp::from_micros(1_772_442_040_500_000);
        assert_eq!(ts.to_rfc3339(), "2026-03-02T09:00:40.500000Z");
        // Leap day and a pre-epoch instant.
        assert_eq!(
            Timestamp::from_secs(951_782_400).to_rfc3339(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::from_micros(-1).to_rfc3339(),
            "1969-12-31T23:59:59.999999Z"
        );
    }
}
