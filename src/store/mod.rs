//! The store: every sealed record in the JSON Lines record log and in SQLite, with the
//! sessions, flows, findings, evidence files and audit trail beside them.
//!
//! Owns: the data directory's `records.jsonl` (the record log) and `store.sqlite`
//! (schema and versioned migrations in [`schema`]), the single writer thread that seals
//! records into the hash chain ([`StoreWriter`], [`StoreHandle`]), read-only access
//! ([`StoreReader`]), the startup reconciliation of log and store ([`ResumeReport`])
//! and `leaktap verify` ([`verify`]).
//!
//! Takes: unsealed [`Record`](crate::record::Record)s (with the unmasked PI values kept
//! apart as [`Secret`]s), session, flow and evidence rows, audit entries. Emits: sealed
//! canonical lines, appended to the log and inserted into SQLite in batches.
//!
//! Limits (config section `[store]`): channel depth, records per batch, milliseconds per
//! batch. A full channel is counted (`queue_full`) and the record handed back to the
//! caller, never silently lost.
//!
//! Must not: let the store get ahead of the log, hold unmasked PI outside
//! `record_secrets`, or block a caller that asked not to be blocked.
//!
//! # Data directory
//!
//! ```text
//! <data-dir>/records.jsonl            the record log, one canonical line per record
//! <data-dir>/records.jsonl.1 …        rotated segments (logrotate; plain text, higher = older)
//! <data-dir>/records.jsonl.torn-<ts>  a partial last line set aside at startup
//! <data-dir>/store.sqlite (-wal,-shm) SQLite in WAL mode
//! <data-dir>/evidence/YYYY-MM-DD/<session>/<run>-<flow>.pcapng
//! ```
//!
//! # Durability: what survives `kill -9` and power loss
//!
//! The record log is the authority for the chain. Each batch is sealed, appended to the
//! log in one write, flushed to the kernel and, with `store.log_fsync` (the default),
//! `fdatasync`ed; only then is it inserted into SQLite in one transaction. So the store
//! is never ahead of the log, and a crash can only leave the store behind it.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL`: a committed transaction is in the
//! WAL file when `COMMIT` returns, so it survives the process being killed (`kill -9`,
//! panic, OOM); after a power loss the last transactions before the crash may be rolled
//! back, never half applied. The log's fsync is what makes records durable against power
//! loss; the store catches up from it.
//!
//! At startup ([`StoreWriter::open`]) a partial last line of the log (the process died in
//! the middle of a write) is moved to `records.jsonl.torn-<unix-seconds>` and the log is
//! cut back to its last complete line: the chain continues from the last complete record
//! and the torn bytes are kept for inspection, not silently dropped. Then the log's last
//! record and the store's highest `seq` are compared: records the store lacks are
//! re-inserted from the log (without their secrets, which only the store had; counted);
//! records the store has beyond the log (only possible after a power loss with
//! `log_fsync` off) are appended to the log if they link to its last hash. Any other
//! disagreement stops startup with an error naming both sides.
//!
//! # Log rotation
//!
//! Rotate with logrotate's default `create` mode (not `copytruncate`, which loses lines
//! written during the copy) and signal the daemon to [`StoreHandle::reopen_log`].
//! Rotated segments must stay plain `records.jsonl.N`; `verify` and startup read them in
//! order. Compressed or deleted old segments are tolerated: those records are checked
//! from the store's copy of their exact lines, and `verify` says how many.

mod log;
mod reader;
mod resume;
pub mod schema;
pub mod verify;
mod writer;

pub use log::{segments, RecordLog, TornTail, LOG_FILE};
pub use reader::{EvidenceEntry, StoreReader};
pub use resume::ResumeReport;
pub use writer::{
    AuditRow, EventRow, EvidenceRow, FlowRow, PendingRecord, Rejected, SealHook, Secret,
    SessionRow, StoreCounters, StoreHandle, StoreStats, StoreWriter,
};

use std::path::{Path, PathBuf};

/// File name of the SQLite database inside the data directory.
pub const DB_FILE: &str = "store.sqlite";
/// Directory of evidence files inside the data directory.
pub const EVIDENCE_DIR: &str = "evidence";
/// Data directory when none is given (cli.md).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/leaktap";

/// Messages waiting for the writer thread: at the default batch size about 30 batches,
/// i.e. seconds of a record burst, before callers are told to back off.
pub const DEFAULT_QUEUE_DEPTH: usize = 16_384;
/// Records committed per transaction at most. Larger batches amortise fsync and commit;
/// this size keeps a transaction well under a few milliseconds.
pub const DEFAULT_BATCH_MAX_RECORDS: usize = 512;
/// A batch is committed at the latest this long after its first message: the delay
/// between a record being sealed and being visible to readers.
pub const DEFAULT_BATCH_MAX_MS: u64 = 100;
/// How long a reader or a resuming writer waits for a lock before giving up.
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Store limits (config section `[store]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `store.queue_depth`: messages waiting for the writer thread.
    pub queue_depth: usize,
    /// `store.batch_max_records`: records per transaction.
    pub batch_max_records: usize,
    /// `store.batch_max_ms`: longest wait before a batch is committed.
    pub batch_max_ms: u64,
    /// `store.log_fsync`: fdatasync the record log after every batch (durable against
    /// power loss; off, records survive a process crash but not a power cut).
    pub log_fsync: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            queue_depth: DEFAULT_QUEUE_DEPTH,
            batch_max_records: DEFAULT_BATCH_MAX_RECORDS,
            batch_max_ms: DEFAULT_BATCH_MAX_MS,
            log_fsync: true,
        }
    }
}

impl Limits {
    /// Cross-checks the limits; the error names the config key.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.queue_depth == 0 {
            return Err(("store.queue_depth", "must be at least 1"));
        }
        if self.batch_max_records == 0 {
            return Err(("store.batch_max_records", "must be at least 1"));
        }
        if self.batch_max_ms == 0 || self.batch_max_ms > 60_000 {
            return Err(("store.batch_max_ms", "must be 1..=60000"));
        }
        Ok(())
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: sqlite: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "{path}: store schema version {found} is newer than this leaktap supports \
         ({supported}); run a newer leaktap or restore a backup"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: no store here (run the daemon first or check --data-dir)")]
    Missing { path: PathBuf },
    #[error("{path}: line at byte {offset}: {reason}; run `leaktap verify` and inspect the log")]
    LogCorrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("record log and store disagree: {reason}; run `leaktap verify`")]
    Diverged { reason: String },
    #[error("cannot start the store writer thread")]
    Thread {
        #[source]
        source: std::io::Error,
    },
    #[error("the store writer has stopped")]
    WriterGone,
}

impl Error {
    fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }

    fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Wall-clock time as RFC 3339 UTC with microseconds (for `created`, `at` columns; the
/// store is right of capture and may read the clock).
pub(crate) fn now_rfc3339() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    crate::capture::Timestamp::from_micros(micros).to_rfc3339()
}

/// Stores a u64 id in SQLite's signed 64-bit integer (same bits; flow ids of workers
/// 128 and up read as negative in SQL).
pub(crate) fn to_sql_u64(v: u64) -> i64 {
    v as i64
}

pub(crate) fn from_sql_u64(v: i64) -> u64 {
    v as u64
}

#[cfg(test)]
mod tests;
