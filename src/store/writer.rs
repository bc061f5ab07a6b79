//! The single writer thread: owns the SQLite connection, the record log and the chain.
//!
//! Callers send messages through a bounded channel ([`StoreHandle`]). The thread takes
//! the first message, then more until `batch_max_records` records or `batch_max_ms`
//! have passed, and commits the batch: seals its records (assigning `seq`, `prev_hash`,
//! `hash`), appends their lines to the log in one write (fsynced when configured), then
//! inserts everything in one transaction. A flush, log reopen, checkpoint or shutdown
//! request ends a batch early and is answered after the commit.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Transaction};

use crate::capture::Timestamp;
use crate::evidence::{EventSink, EvidenceEvent, EvidenceFile};
use crate::record::{Chain, Record};
use crate::session::Session;

use super::log::{Head, RecordLog, LOG_FILE};
use super::resume::{self, ResumeReport};
use super::{now_rfc3339, schema, to_sql_u64, Error, Limits, DB_FILE};

/// Records a seal hook may add per record (findings derived from it); more are dropped
/// and counted, so a faulty hook cannot grow a batch without bound.
const MAX_DERIVED_PER_RECORD: usize = 64;
/// Record rows kept for another insert attempt after SQLite failed (disk full, locked).
/// They are in the log already; beyond this the next start re-inserts them.
const MAX_RETRY_ROWS: usize = 100_000;
/// Other rows (sessions, flows, evidence, audit) kept for another attempt.
const MAX_RETRY_OTHER: usize = 10_000;

/// An unmasked PI value of a record, stored only in `record_secrets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// Index of the item in the record's `pi` array.
    pub item: u32,
    pub pi_type: String,
    pub value: String,
}

/// A record waiting to be sealed, with its secrets.
#[derive(Clone, Debug)]
pub struct PendingRecord {
    pub record: Record,
    pub secrets: Vec<Secret>,
}

impl PendingRecord {
    pub fn new(record: Record) -> PendingRecord {
        PendingRecord {
            record,
            secrets: Vec::new(),
        }
    }
}

/// Called on the writer thread for each record just sealed (with its `seq` and `hash`
/// filled and its canonical line); may push records derived from it (e.g. findings
/// whose `refs` name it), which are sealed right after it. Derived records do not go
/// through the hook themselves. If the batch's log append then fails, the batch is
/// dropped (counted in `records_lost`) and its `seq`s are given to the next records: a
/// hook that remembers `seq`s must treat them as provisional until the batch is flushed.
pub type SealHook = Box<dyn FnMut(&Record, &str, &mut Vec<PendingRecord>) + Send>;

/// A test session as stored (no identifier values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub session_id: String,
    pub device_name: String,
    pub app_name: String,
    pub app_package: String,
    pub started: Option<Timestamp>,
    pub ended: Option<Timestamp>,
    /// Device and app details as JSON.
    pub json: String,
}

impl SessionRow {
    /// The row of a loaded session: device name, MAC and addresses, app, first and last
    /// timeline event. The identifiers searched for are not stored.
    pub fn from_session(session: &Session) -> SessionRow {
        let mac = session.device.mac.map(|m| {
            format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            )
        });
        let json = serde_json::json!({
            "device": {
                "name": session.device.name,
                "mac": mac,
                "ips": session.device.ips,
            },
            "app": { "name": session.app.name, "package": session.app.package },
            "file": session.path.display().to_string(),
        });
        SessionRow {
            session_id: session.id.clone(),
            device_name: session.device.name.clone(),
            app_name: session.app.name.clone(),
            app_package: session.app.package.clone(),
            started: session.events.first().map(|e| e.at),
            ended: session.events.last().map(|e| e.at),
            json: json.to_string(),
        }
    }
}

/// A timeline event of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub session_id: String,
    pub ts: Timestamp,
    /// `consent_granted`, ...
    pub kind: String,
    /// `file` or `api`.
    pub source: &'static str,
}

/// A flow as stored when it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRow {
    pub flow_id: u64,
    pub community_id: String,
    pub session_id: Option<String>,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub proto: &'static str,
    pub app_proto: String,
    pub host: Option<String>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub packets: u64,
    pub bytes: u64,
}

/// A finished evidence file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceRow {
    /// Relative to the evidence root.
    pub path: String,
    pub flow_id: u64,
    pub sha256: String,
    pub bytes: u64,
    pub packets: u64,
    pub missing_packets: u64,
    pub reason: &'static str,
}

impl From<&EvidenceFile> for EvidenceRow {
    fn from(f: &EvidenceFile) -> EvidenceRow {
        EvidenceRow {
            path: f.path.clone(),
            flow_id: f.flow_id,
            sha256: f.sha256.clone(),
            bytes: f.bytes,
            packets: f.packets,
            missing_packets: f.missing_packets,
            reason: f.reason.as_str(),
        }
    }
}

/// Who did what to which object (the time is added by the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub who: String,
    pub action: String,
    pub target: String,
}

/// A message the caller asked not to block on, handed back because the queue was full
/// or the writer has stopped.
#[derive(Debug)]
pub struct Rejected<T>(pub T);

enum Msg {
    Record(Box<PendingRecord>),
    Session(SessionRow),
    Event(EventRow),
    Flow(FlowRow),
    Evidence(EvidenceRow),
    EvidenceDeleted { path: String, reason: &'static str },
    Audit(AuditRow),
    Flush(SyncSender<u64>),
    ReopenLog(SyncSender<Result<(), String>>),
    Checkpoint(SyncSender<()>),
    Shutdown,
}

/// Rows other than records, kept in arrival order.
enum Other {
    Session(SessionRow),
    Event(EventRow),
    Flow(FlowRow),
    Evidence(EvidenceRow),
    EvidenceDeleted { path: String, reason: &'static str },
    Audit(AuditRow),
}

/// Counters of the writer thread, readable from any thread.
#[derive(Debug, Default)]
pub struct StoreCounters {
    pub records_written: AtomicU64,
    pub batches: AtomicU64,
    /// Messages refused because the queue was full (caller kept them).
    pub queue_full: AtomicU64,
    /// Appends to the record log that failed; their records were not sealed.
    pub log_errors: AtomicU64,
    pub records_lost: AtomicU64,
    /// Transactions that failed; their rows are retried with the next batch.
    pub db_errors: AtomicU64,
    /// Rows given up after too many waited for a retry (records: re-inserted at start).
    pub retry_dropped: AtomicU64,
    pub rows_pending_retry: AtomicU64,
    /// Records added by the seal hook, and those it tried to add beyond the limit.
    pub hook_records: AtomicU64,
    pub hook_dropped: AtomicU64,
    pub log_bytes: AtomicU64,
    pub log_reopens: AtomicU64,
}

/// A plain copy of [`StoreCounters`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub records_written: u64,
    pub batches: u64,
    pub queue_full: u64,
    pub log_errors: u64,
    pub records_lost: u64,
    pub db_errors: u64,
    pub retry_dropped: u64,
    pub rows_pending_retry: u64,
    pub hook_records: u64,
    pub hook_dropped: u64,
    pub log_bytes: u64,
    pub log_reopens: u64,
}

impl StoreCounters {
    pub fn snapshot(&self) -> StoreStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StoreStats {
            records_written: get(&self.records_written),
            batches: get(&self.batches),
            queue_full: get(&self.queue_full),
            log_errors: get(&self.log_errors),
            records_lost: get(&self.records_lost),
            db_errors: get(&self.db_errors),
            retry_dropped: get(&self.retry_dropped),
            rows_pending_retry: get(&self.rows_pending_retry),
            hook_records: get(&self.hook_records),
            hook_dropped: get(&self.hook_dropped),
            log_bytes: get(&self.log_bytes),
            log_reopens: get(&self.log_reopens),
        }
    }
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A cloneable handle on the writer thread's queue.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    tx: SyncSender<Msg>,
    counters: Arc<StoreCounters>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Records may hold secrets: never print contents.
        f.write_str("store::Msg")
    }
}

impl StoreHandle {
    /// Queues a record without blocking; a full queue (counted in `queue_full`) or a
    /// stopped writer hands it back.
    pub fn submit(&self, record: PendingRecord) -> Result<(), Rejected<Box<PendingRecord>>> {
        let msg = match self.tx.try_send(Msg::Record(Box::new(record))) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(msg)) => {
                bump(&self.counters.queue_full, 1);
                msg
            }
            Err(TrySendError::Disconnected(msg)) => msg,
        };
        match msg {
            Msg::Record(r) => Err(Rejected(r)),
            // try_send hands back the message it was given, which is a Record.
            _ => Ok(()),
        }
    }

    /// Queues a record, waiting while the queue is full.
    pub fn submit_blocking(&self, record: PendingRecord) -> Result<(), Error> {
        self.send(Msg::Record(Box::new(record)))
    }

    /// Queues a flow row without blocking; false (counted) when the queue is full.
    pub fn flow(&self, row: FlowRow) -> bool {
        match self.tx.try_send(Msg::Flow(row)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                bump(&self.counters.queue_full, 1);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Inserts or updates a session (blocks while the queue is full).
    pub fn session(&self, row: SessionRow) -> Result<(), Error> {
        self.send(Msg::Session(row))
    }

    pub fn event(&self, row: EventRow) -> Result<(), Error> {
        self.send(Msg::Event(row))
    }

    /// Records a finished evidence file (blocks: called from the evidence thread).
    pub fn evidence(&self, row: EvidenceRow) -> Result<(), Error> {
        self.send(Msg::Evidence(row))
    }

    /// Marks an evidence file as removed by retention.
    pub fn evidence_deleted(&self, path: String, reason: &'static str) -> Result<(), Error> {
        self.send(Msg::EvidenceDeleted { path, reason })
    }

    /// A sink for [`EvidenceWriter`](crate::evidence::EvidenceWriter) events that records
    /// finished files and retention removals here. It blocks the evidence thread (never a
    /// worker) while the store's queue is full.
    pub fn evidence_sink(&self) -> EventSink {
        let handle = self.clone();
        Box::new(move |event| {
            let sent = match event {
                EvidenceEvent::Written(file) => handle.evidence(EvidenceRow::from(&file)),
                EvidenceEvent::Deleted(d) => handle.evidence_deleted(d.path, d.reason.as_str()),
                EvidenceEvent::Failed { .. } => Ok(()),
            };
            if sent.is_err() {
                tracing::warn!("Store writer gone; evidence event not recorded.");
            }
        })
    }

    /// Queues an audit entry.
    pub fn audit(&self, row: AuditRow) -> Result<(), Error> {
        self.send(Msg::Audit(row))
    }

    /// Waits until everything queued before is committed; returns the last `seq`
    /// sealed (0 if none).
    pub fn flush(&self) -> Result<u64, Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Msg::Flush(tx))?;
        rx.recv().map_err(|_| Error::WriterGone)
    }

    /// Reopens the record log (after logrotate moved it; on SIGHUP).
    pub fn reopen_log(&self) -> Result<(), Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Msg::ReopenLog(tx))?;
        rx.recv()
            .map_err(|_| Error::WriterGone)?
            .map_err(|reason| Error::Io {
                path: PathBuf::from(LOG_FILE),
                source: std::io::Error::other(reason),
            })
    }

    /// Copies the WAL into the database file and truncates the WAL.
    pub fn checkpoint(&self) -> Result<(), Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Msg::Checkpoint(tx))?;
        rx.recv().map_err(|_| Error::WriterGone)
    }

    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    fn send(&self, msg: Msg) -> Result<(), Error> {
        self.tx.send(msg).map_err(|_| Error::WriterGone)
    }
}

/// The store's writer: opened once per run.
pub struct StoreWriter {
    handle: StoreHandle,
    join: Option<JoinHandle<Result<(), Error>>>,
    run_id: u64,
    report: ResumeReport,
    data_dir: PathBuf,
}

impl StoreWriter {
    /// Opens (creating) the data directory's store and log, applies migrations,
    /// reconciles log and store (see the module documentation), registers a new run and
    /// starts the writer thread.
    pub fn open(
        data_dir: &Path,
        limits: &Limits,
        hook: Option<SealHook>,
    ) -> Result<StoreWriter, Error> {
        std::fs::create_dir_all(data_dir).map_err(Error::io(data_dir))?;
        let db_path = data_dir.join(DB_FILE);
        let mut conn = schema::open_writable(&db_path)?;
        let (chain, report) = resume::resume(&mut conn, &db_path, data_dir)?;
        if !report.is_clean() {
            tracing::warn!(report = %report, "Record log and store reconciled at startup.");
        }
        conn.execute(
            "INSERT INTO runs (started, version, resume) VALUES (?1, ?2, ?3)",
            params![now_rfc3339(), env!("CARGO_PKG_VERSION"), report.to_json()],
        )
        .map_err(Error::sqlite(&db_path))?;
        let run_id = u64::try_from(conn.last_insert_rowid()).unwrap_or(0);
        let log_path = data_dir.join(LOG_FILE);
        let log = RecordLog::open(&log_path, limits.log_fsync).map_err(Error::io(&log_path))?;
        let counters = Arc::new(StoreCounters::default());
        let (tx, rx) = mpsc::sync_channel(limits.queue_depth);
        let thread = Thread {
            conn,
            run_id: to_sql_u64(run_id),
            db_path,
            log,
            chain,
            limits: limits.clone(),
            hook,
            counters: Arc::clone(&counters),
            retry_rows: Vec::new(),
            retry_other: Vec::new(),
            line_buf: Vec::with_capacity(1 << 16),
        };
        let join = std::thread::Builder::new()
            .name("leaktap-store".into())
            .spawn(move || thread.run(rx))
            .map_err(|source| Error::Thread { source })?;
        Ok(StoreWriter {
            handle: StoreHandle { tx, counters },
            join: Some(join),
            run_id,
            report,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// A handle for other threads.
    pub fn handle(&self) -> StoreHandle {
        self.handle.clone()
    }

    /// This run's id (evidence file names and the `flows` table use it).
    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    /// What startup reconciliation found and did.
    pub fn resume_report(&self) -> &ResumeReport {
        &self.report
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Commits everything queued, checkpoints the WAL and stops the thread.
    pub fn shutdown(mut self) -> Result<StoreStats, Error> {
        let _ = self.handle.tx.send(Msg::Shutdown);
        let result = match self.join.take() {
            Some(join) => join.join().unwrap_or(Err(Error::WriterGone)),
            None => Ok(()),
        };
        result.map(|()| self.handle.counters.snapshot())
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        if let Some(join) = self.join.take() {
            let _ = self.handle.tx.send(Msg::Shutdown);
            let _ = join.join();
        }
    }
}

/// A sealed record ready for insertion: its canonical line and the indexed columns.
pub(crate) struct RecordRow {
    pub head: Head,
    pub line: String,
    pub secrets: Vec<Secret>,
}

impl RecordRow {
    pub(crate) fn from_line(line: String, secrets: Vec<Secret>) -> Result<RecordRow, String> {
        let head = Head::parse(line.as_bytes())?;
        Ok(RecordRow {
            head,
            line,
            secrets,
        })
    }
}

/// Inserts sealed records (and their secrets and finding rows). `or_ignore` skips seqs
/// already present (used when filling gaps).
pub(crate) fn insert_records(
    tx: &Transaction<'_>,
    rows: &[RecordRow],
    or_ignore: bool,
) -> rusqlite::Result<u64> {
    let verb = if or_ignore {
        "INSERT OR IGNORE"
    } else {
        "INSERT"
    };
    let mut rec = tx.prepare_cached(&format!(
        "{verb} INTO records (seq, ts, event_type, session_id, flow_id, json, hash, prev_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?;
    let mut secret = tx.prepare_cached(
        "INSERT OR REPLACE INTO record_secrets (seq, item, pi_type, value) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut finding = tx.prepare_cached(
        "INSERT OR IGNORE INTO findings (seq, session_id, rule, severity, refs) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut inserted = 0;
    for row in rows {
        let h = &row.head;
        let seq = to_sql_u64(h.seq);
        let n = rec.execute(params![
            seq,
            h.ts,
            h.event_type,
            h.session_id,
            h.flow_id.map(to_sql_u64),
            row.line,
            h.hash,
            h.prev_hash,
        ])?;
        inserted += n as u64;
        for s in &row.secrets {
            secret.execute(params![seq, s.item, s.pi_type, s.value])?;
        }
        if h.event_type == "finding" {
            let refs = serde_json::to_string(h.refs.as_deref().unwrap_or(&[]))
                .unwrap_or_else(|_| "[]".into());
            finding.execute(params![
                seq,
                h.session_id,
                h.rule.as_deref().unwrap_or(""),
                h.severity.as_deref().unwrap_or(""),
                refs,
            ])?;
        }
    }
    Ok(inserted)
}

struct Thread {
    conn: Connection,
    run_id: i64,
    db_path: PathBuf,
    log: RecordLog,
    chain: Chain,
    limits: Limits,
    hook: Option<SealHook>,
    counters: Arc<StoreCounters>,
    retry_rows: Vec<RecordRow>,
    retry_other: Vec<Other>,
    line_buf: Vec<u8>,
}

#[derive(Default)]
struct Batch {
    records: Vec<PendingRecord>,
    other: Vec<Other>,
    flushes: Vec<SyncSender<u64>>,
    reopens: Vec<SyncSender<Result<(), String>>>,
    checkpoints: Vec<SyncSender<()>>,
    shutdown: bool,
}

impl Batch {
    /// Adds a message; true when it asks for the batch to be committed now.
    fn add(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Record(r) => self.records.push(*r),
            Msg::Session(r) => self.other.push(Other::Session(r)),
            Msg::Event(r) => self.other.push(Other::Event(r)),
            Msg::Flow(r) => self.other.push(Other::Flow(r)),
            Msg::Evidence(r) => self.other.push(Other::Evidence(r)),
            Msg::EvidenceDeleted { path, reason } => {
                self.other.push(Other::EvidenceDeleted { path, reason })
            }
            Msg::Audit(r) => self.other.push(Other::Audit(r)),
            Msg::Flush(reply) => {
                self.flushes.push(reply);
                return true;
            }
            Msg::ReopenLog(reply) => {
                self.reopens.push(reply);
                return true;
            }
            Msg::Checkpoint(reply) => {
                self.checkpoints.push(reply);
                return true;
            }
            Msg::Shutdown => {
                self.shutdown = true;
                return true;
            }
        }
        false
    }
}

impl Thread {
    fn run(mut self, rx: Receiver<Msg>) -> Result<(), Error> {
        let max_wait = Duration::from_millis(self.limits.batch_max_ms);
        loop {
            let mut batch = Batch::default();
            let mut done = match rx.recv() {
                Ok(msg) => batch.add(msg),
                Err(_) => {
                    batch.shutdown = true;
                    true
                }
            };
            let deadline = Instant::now() + max_wait;
            while !done && batch.records.len() < self.limits.batch_max_records {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match rx.recv_timeout(left) {
                    Ok(msg) => done = batch.add(msg),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        batch.shutdown = true;
                        break;
                    }
                }
            }
            let shutdown = batch.shutdown;
            self.commit(batch);
            if shutdown {
                break;
            }
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(Error::sqlite(&self.db_path))?;
        Ok(())
    }

    fn commit(&mut self, batch: Batch) {
        let Batch {
            records,
            other,
            flushes,
            reopens,
            checkpoints,
            ..
        } = batch;
        let rows = self.seal(records);
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        let mut all_rows = std::mem::take(&mut self.retry_rows);
        all_rows.extend(rows);
        let mut all_other = std::mem::take(&mut self.retry_other);
        all_other.extend(other);
        match self.insert(&all_rows, &all_other) {
            Ok(()) => {
                self.counters.rows_pending_retry.store(0, Ordering::Relaxed);
            }
            Err(err) => {
                bump(&self.counters.db_errors, 1);
                tracing::error!(error = %err, rows = all_rows.len(), "Cannot write to the store; will retry with the next batch.");
                if all_rows.len() > MAX_RETRY_ROWS {
                    let excess = all_rows.len() - MAX_RETRY_ROWS;
                    all_rows.drain(..excess);
                    bump(&self.counters.retry_dropped, excess as u64);
                }
                if all_other.len() > MAX_RETRY_OTHER {
                    let excess = all_other.len() - MAX_RETRY_OTHER;
                    all_other.drain(..excess);
                    bump(&self.counters.retry_dropped, excess as u64);
                }
                self.counters
                    .rows_pending_retry
                    .store((all_rows.len() + all_other.len()) as u64, Ordering::Relaxed);
                self.retry_rows = all_rows;
                self.retry_other = all_other;
            }
        }
        for reply in reopens {
            let result = self.log.reopen().map_err(|e| e.to_string());
            if result.is_ok() {
                bump(&self.counters.log_reopens, 1);
                tracing::info!("Reopened the record log.");
            }
            let _ = reply.send(result);
        }
        for reply in checkpoints {
            if let Err(err) = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            {
                tracing::warn!(error = %err, "Store checkpoint failed.");
            }
            let _ = reply.send(());
        }
        let last_seq = self.chain.next_seq().saturating_sub(1);
        for reply in flushes {
            let _ = reply.send(last_seq);
        }
    }

    /// Seals the batch's records (and what the hook derives from them) and appends
    /// their lines to the log. On a log failure nothing of the batch is sealed.
    fn seal(&mut self, records: Vec<PendingRecord>) -> Vec<RecordRow> {
        if records.is_empty() {
            return Vec::new();
        }
        let before = self.chain.clone();
        let mut rows = Vec::with_capacity(records.len());
        let mut derived = Vec::new();
        self.line_buf.clear();
        for pending in records {
            let PendingRecord {
                mut record,
                secrets,
            } = pending;
            let line = self.chain.seal(&mut record);
            if let Some(hook) = &mut self.hook {
                hook(&record, &line, &mut derived);
                if derived.len() > MAX_DERIVED_PER_RECORD {
                    bump(
                        &self.counters.hook_dropped,
                        (derived.len() - MAX_DERIVED_PER_RECORD) as u64,
                    );
                    derived.truncate(MAX_DERIVED_PER_RECORD);
                }
            }
            push_row(&mut rows, &mut self.line_buf, line, secrets);
            for d in derived.drain(..) {
                bump(&self.counters.hook_records, 1);
                let PendingRecord {
                    mut record,
                    secrets,
                } = d;
                let line = self.chain.seal(&mut record);
                push_row(&mut rows, &mut self.line_buf, line, secrets);
            }
        }
        let before_len = self.log.len();
        match self.log.append(&self.line_buf) {
            Ok(()) => {
                bump(&self.counters.log_bytes, self.line_buf.len() as u64);
                bump(&self.counters.records_written, rows.len() as u64);
                rows
            }
            Err(err) => {
                tracing::error!(error = %err, records = rows.len(), "Cannot append to the record log; records lost.");
                bump(&self.counters.log_errors, 1);
                bump(&self.counters.records_lost, rows.len() as u64);
                if let Err(err) = self.log.truncate(before_len) {
                    tracing::error!(error = %err, "Cannot cut a failed append from the record log.");
                }
                self.chain = before;
                Vec::new()
            }
        }
    }

    fn insert(&mut self, rows: &[RecordRow], other: &[Other]) -> rusqlite::Result<()> {
        if rows.is_empty() && other.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        insert_records(&tx, rows, false)?;
        for o in other {
            insert_other(&tx, self.run_id, o)?;
        }
        tx.commit()
    }
}

fn push_row(rows: &mut Vec<RecordRow>, buf: &mut Vec<u8>, line: String, secrets: Vec<Secret>) {
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    match RecordRow::from_line(line, secrets) {
        Ok(row) => rows.push(row),
        // The line was produced by Chain::seal from a Record: it always has the chain
        // fields. Should that ever fail, the line is still in the log and verify checks it.
        Err(reason) => tracing::error!(reason = %reason, "Sealed record has no chain fields."),
    }
}

fn insert_other(tx: &Transaction<'_>, run_id: i64, other: &Other) -> rusqlite::Result<()> {
    match other {
        Other::Session(s) => {
            tx.prepare_cached(
                "INSERT INTO sessions (session_id, device_name, app_name, app_package, started, ended, json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (session_id) DO UPDATE SET device_name = excluded.device_name, \
                 app_name = excluded.app_name, app_package = excluded.app_package, \
                 started = excluded.started, ended = excluded.ended, json = excluded.json",
            )?
            .execute(params![
                s.session_id,
                s.device_name,
                s.app_name,
                s.app_package,
                s.started.map(|t| t.to_rfc3339()),
                s.ended.map(|t| t.to_rfc3339()),
                s.json,
            ])?;
        }
        Other::Event(e) => {
            tx.prepare_cached(
                "INSERT INTO events (session_id, ts, kind, source, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                e.session_id,
                e.ts.to_rfc3339(),
                e.kind,
                e.source,
                now_rfc3339()
            ])?;
        }
        Other::Flow(f) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO flows (run_id, flow_id, community_id, session_id, src_ip, src_port, \
                 dst_ip, dst_port, proto, app_proto, host, first_ts, last_ts, packets, bytes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                run_id,
                to_sql_u64(f.flow_id),
                f.community_id,
                f.session_id,
                f.src_ip.to_string(),
                f.src_port,
                f.dst_ip.to_string(),
                f.dst_port,
                f.proto,
                f.app_proto,
                f.host,
                f.first_ts.to_rfc3339(),
                f.last_ts.to_rfc3339(),
                to_sql_u64(f.packets),
                to_sql_u64(f.bytes),
            ])?;
        }
        Other::Evidence(e) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO evidence (path, run_id, flow_id, sha256, bytes, packets, \
                 missing_packets, reason, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                e.path,
                run_id,
                to_sql_u64(e.flow_id),
                e.sha256,
                to_sql_u64(e.bytes),
                to_sql_u64(e.packets),
                to_sql_u64(e.missing_packets),
                e.reason,
                now_rfc3339(),
            ])?;
        }
        Other::EvidenceDeleted { path, reason } => {
            tx.prepare_cached(
                "UPDATE evidence SET deleted = ?2, delete_reason = ?3 WHERE path = ?1",
            )?
            .execute(params![path, now_rfc3339(), reason])?;
        }
        Other::Audit(a) => {
            tx.prepare_cached(
                "INSERT INTO audit (who, at, action, target) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![a.who, now_rfc3339(), a.action, a.target])?;
        }
    }
    Ok(())
}
