//! Evidence: the captured packets of every flow that produced a `pi_leak` or
//! `sdk_contact`, as one pcapng file per flow with its SHA-256.
//!
//! Owns: the per-flow packet ring and the per-worker ring budget ([`FlowRing`],
//! [`RingPool`]), the worker-side hand-over ([`EvidenceTap`]), the pcapng encoder
//! ([`pcapng`]), the writer thread ([`EvidenceWriter`]) and retention ([`retention`]).
//!
//! Takes: frames of each flow (from the worker, in capture order), "this flow matched"
//! and "this flow ended". Emits: files `evidence/YYYY-MM-DD/<session>/<run>-<flow>.pcapng`
//! under the data directory (the day of the match's capture time, UTC), and an
//! [`EvidenceEvent`] per finished or removed file for the store.
//!
//! Limits (config section `[evidence]`): ring size per flow, ring memory per run
//! (shared out between workers), evidence bytes per flow, frames per hand-over batch,
//! channel depth, open descriptors, retention age and total size. Every limit has a
//! counter for when it is hit ([`TapStats`], [`WriterCounters`]).
//!
//! Must not: block a worker (a full channel drops and counts), leave a partial file
//! under a final name, or remove the file of a flow that is still open.
//!
//! # How the daemon wires it
//!
//! ```text
//! let writer = EvidenceWriter::start(WriterConfig { root, limits, run_id, snaplen }, sink)?;
//! // per worker:
//! let mut tap = EvidenceTap::new(&limits, workers, Some(writer.sender()));
//! // per frame of a flow, before its events are handled:
//! tap.packet(&mut flow_state.ring, &frame);
//! // when the flow yields pi_leak/sdk_contact (returns the relative path for the record):
//! let path = tap.matched(&mut flow_state.ring, &FlowInfo { flow_id, session_id, ts }, None);
//! // when the flow ends (timeout, eviction, finish):
//! tap.flow_ended(&mut flow_state.ring);
//! // at shutdown, after the workers are done:
//! writer.shutdown();
//! ```

pub mod pcapng;
pub mod retention;
mod ring;
mod tap;
mod writer;

pub use retention::{DeleteReason, DeletedFile};
pub use ring::{FlowRing, PacketBatch, PacketMeta, RingPool, RingState, TapStats};
pub use tap::{CloseReason, EvidenceSender, EvidenceTap, FlowInfo};
pub use writer::{
    hash_file, EventSink, EvidenceEvent, EvidenceFile, EvidenceWriter, WriterConfig,
    WriterCounters, WriterStats,
};

use std::path::PathBuf;

use crate::capture::Timestamp;

/// Frames kept per flow before it matches. 256 KiB holds the TCP and TLS handshakes and
/// the first requests of a typical SDK connection, which is what shows where PI went.
pub const DEFAULT_RING_BYTES: usize = 256 * 1024;
/// Ring memory of all workers together. Most flows never match, so this bounds what the
/// rings of a busy mirror port hold: 2048 full rings.
pub const DEFAULT_RING_MEMCAP_BYTES: u64 = 512 << 20;
/// Evidence bytes written per flow, before and after the match. A push channel or a
/// video stream that touched an SDK host would otherwise fill the disk.
pub const DEFAULT_MAX_FLOW_EVIDENCE_BYTES: u64 = 64 << 20;
/// Post-match frames are handed to the writer in batches of about this many bytes, so
/// the channel carries few large messages instead of one per frame.
pub const DEFAULT_FLUSH_BYTES: usize = 64 * 1024;
/// Messages waiting for the writer thread. With batches of about `flush_bytes` this is
/// roughly 32 MiB in flight (more when rings are handed over) before workers drop.
pub const DEFAULT_QUEUE_DEPTH: usize = 512;
/// Descriptors of files being written; well below a service's usual 1024 limit.
pub const DEFAULT_MAX_OPEN_FILES: usize = 256;
/// Evidence is kept for half a year: long enough for a case to be filed.
pub const DEFAULT_RETENTION_DAYS: u32 = 180;
/// Evidence on disk at most; the oldest files go first.
pub const DEFAULT_RETENTION_MAX_BYTES: u64 = 100 << 30;
/// Seconds between retention passes.
pub const DEFAULT_RETENTION_INTERVAL_SECS: u64 = 3600;
/// Snap length written in interface blocks when the capture does not say.
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// Suffix of files still being written.
pub const TMP_SUFFIX: &str = ".tmp";
/// Session directory of flows that belong to no session.
pub const NO_SESSION_DIR: &str = "no_session";
/// Characters of a session id kept in its directory name.
const MAX_SESSION_DIR_CHARS: usize = 64;

/// Evidence limits (config section `[evidence]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `evidence.ring_bytes`: frames kept per flow before it matches.
    pub ring_bytes: usize,
    /// `evidence.ring_memcap_bytes`: ring memory of all workers together.
    pub ring_memcap_bytes: u64,
    /// `evidence.max_flow_bytes`: captured bytes written per flow.
    pub max_flow_bytes: u64,
    /// `evidence.flush_bytes`: post-match batch size.
    pub flush_bytes: usize,
    /// `evidence.queue_depth`: messages waiting for the writer.
    pub queue_depth: usize,
    /// `evidence.max_open_files`: descriptors of files being written.
    pub max_open_files: usize,
    /// `evidence.retention_days`: finished files older than this are removed (0: never).
    pub retention_days: u32,
    /// `evidence.retention_max_bytes`: oldest files are removed beyond this (0: no limit).
    pub retention_max_bytes: u64,
    /// `evidence.retention_interval_secs`: time between retention passes.
    pub retention_interval_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ring_bytes: DEFAULT_RING_BYTES,
            ring_memcap_bytes: DEFAULT_RING_MEMCAP_BYTES,
            max_flow_bytes: DEFAULT_MAX_FLOW_EVIDENCE_BYTES,
            flush_bytes: DEFAULT_FLUSH_BYTES,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            max_open_files: DEFAULT_MAX_OPEN_FILES,
            retention_days: DEFAULT_RETENTION_DAYS,
            retention_max_bytes: DEFAULT_RETENTION_MAX_BYTES,
            retention_interval_secs: DEFAULT_RETENTION_INTERVAL_SECS,
        }
    }
}

impl Limits {
    /// Cross-checks the limits; the error names the config key.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.ring_bytes < 4096 {
            return Err(("evidence.ring_bytes", "must be at least 4096"));
        }
        if self.ring_memcap_bytes < self.ring_bytes as u64 {
            return Err((
                "evidence.ring_memcap_bytes",
                "must be at least evidence.ring_bytes",
            ));
        }
        if self.max_flow_bytes < self.ring_bytes as u64 {
            return Err((
                "evidence.max_flow_bytes",
                "must be at least evidence.ring_bytes",
            ));
        }
        if self.flush_bytes == 0 || self.flush_bytes as u64 > self.max_flow_bytes {
            return Err((
                "evidence.flush_bytes",
                "must be 1..=evidence.max_flow_bytes",
            ));
        }
        if self.queue_depth == 0 {
            return Err(("evidence.queue_depth", "must be at least 1"));
        }
        if self.max_open_files == 0 {
            return Err(("evidence.max_open_files", "must be at least 1"));
        }
        if self.retention_interval_secs == 0 {
            return Err(("evidence.retention_interval_secs", "must be at least 1"));
        }
        Ok(())
    }
}

/// Errors of the evidence writer's setup and control.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot use evidence directory {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the evidence writer thread")]
    Thread {
        #[source]
        source: std::io::Error,
    },
    #[error("the evidence writer has stopped")]
    WriterGone,
}

/// Path of a flow's evidence file relative to the evidence root:
/// `YYYY-MM-DD/<session>/<run>-<flow>.pcapng`, the day taken from `ts` (UTC).
///
/// The session id is reduced to letters, digits, `-`, `_` and `.` (others become `_`,
/// a leading `.` too, at most 64 characters), so it cannot leave its directory.
pub fn evidence_path(ts: Timestamp, session_id: Option<&str>, run_id: u64, flow_id: u64) -> String {
    let day = ts.to_rfc3339();
    let day = day.get(..10).unwrap_or("1970-01-01");
    format!(
        "{day}/{}/{run_id}-{flow_id}.pcapng",
        session_dir(session_id)
    )
}

fn session_dir(session_id: Option<&str>) -> String {
    let Some(id) = session_id.filter(|s| !s.is_empty()) else {
        return NO_SESSION_DIR.to_string();
    };
    id.chars()
        .take(MAX_SESSION_DIR_CHARS)
        .enumerate()
        .map(|(i, c)| {
            if (c.is_alphanumeric() || matches!(c, '-' | '_' | '.')) && !(i == 0 && c == '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests;
