//! The evidence writer thread: turns the batches workers send into one pcapng file per
//! matched flow, hashing every byte as it goes.
//!
//! Each file is written as `<path>.tmp` next to its final name and renamed only when the
//! flow ends or reaches its cap, after an fsync of the file (and of the directory after
//! the rename), so a finished name always holds a complete file. Files of flows that
//! were open when the process died stay `.tmp`; [`EvidenceWriter::start`] removes them
//! (counted) before anything else. Open files are capped at `max_open_files`
//! descriptors: the least recently written is closed and reopened for append when its
//! flow sends more.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::capture::Timestamp;

use super::pcapng::{userappl, Encoder};
use super::retention::{self, DeletedFile, Policy};
use super::ring::PacketBatch;
use super::tap::{CloseReason, EvidenceSender, Msg};
use super::{hex, Error, Limits, TMP_SUFFIX};

/// Counters of the writer thread, readable from any thread.
#[derive(Debug, Default)]
pub struct WriterCounters {
    pub files_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub packets_written: AtomicU64,
    /// Frames a flow's worker accepted that never reached the file (queue full).
    pub packets_missing: AtomicU64,
    /// Frames the pcapng encoder refused (link type, timestamp).
    pub packets_refused: AtomicU64,
    pub write_errors: AtomicU64,
    /// Batches or closes for a flow with no open file (its open was lost or failed).
    pub unknown_flow: AtomicU64,
    /// `.tmp` files of an earlier run removed at start.
    pub tmp_cleaned: AtomicU64,
    pub retention_deleted_files: AtomicU64,
    pub retention_deleted_bytes: AtomicU64,
    pub retention_kept_open: AtomicU64,
    pub retention_errors: AtomicU64,
    /// Descriptors closed to stay within `max_open_files`.
    pub handles_evicted: AtomicU64,
    /// Final names that already existed (a suffix was added).
    pub name_collisions: AtomicU64,
    /// Files being written now (gauge).
    pub open_files: AtomicU64,
}

/// A plain copy of [`WriterCounters`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub files_written: u64,
    pub bytes_written: u64,
    pub packets_written: u64,
    pub packets_missing: u64,
    pub packets_refused: u64,
    pub write_errors: u64,
    pub unknown_flow: u64,
    pub tmp_cleaned: u64,
    pub retention_deleted_files: u64,
    pub retention_deleted_bytes: u64,
    pub retention_kept_open: u64,
    pub retention_errors: u64,
    pub handles_evicted: u64,
    pub name_collisions: u64,
    pub open_files: u64,
}

impl WriterCounters {
    pub fn snapshot(&self) -> WriterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WriterStats {
            files_written: get(&self.files_written),
            bytes_written: get(&self.bytes_written),
            packets_written: get(&self.packets_written),
            packets_missing: get(&self.packets_missing),
            packets_refused: get(&self.packets_refused),
            write_errors: get(&self.write_errors),
            unknown_flow: get(&self.unknown_flow),
            tmp_cleaned: get(&self.tmp_cleaned),
            retention_deleted_files: get(&self.retention_deleted_files),
            retention_deleted_bytes: get(&self.retention_deleted_bytes),
            retention_kept_open: get(&self.retention_kept_open),
            retention_errors: get(&self.retention_errors),
            handles_evicted: get(&self.handles_evicted),
            name_collisions: get(&self.name_collisions),
            open_files: get(&self.open_files),
        }
    }
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A finished evidence file, for the store and for records' `evidence` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceFile {
    pub flow_id: u64,
    pub run_id: u64,
    /// Relative to the evidence root, `/`-separated.
    pub path: String,
    /// SHA-256 of the whole file, lower-case hex.
    pub sha256: String,
    pub bytes: u64,
    pub packets: u64,
    /// Frames accepted for this flow that are not in the file (queue full, refused).
    pub missing_packets: u64,
    pub reason: CloseReason,
    /// Capture times of the first and last frame written (zero if none).
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
}

/// What the writer reports through its callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvidenceEvent {
    /// A file was finished and renamed to its final name.
    Written(EvidenceFile),
    /// Retention removed a file.
    Deleted(DeletedFile),
    /// A flow's file could not be written; its temporary file was removed.
    Failed {
        flow_id: u64,
        path: String,
        reason: &'static str,
    },
}

/// Callback receiving [`EvidenceEvent`]s on the writer thread (keep it short: forward to
/// a channel).
pub type EventSink = Box<dyn FnMut(EvidenceEvent) + Send>;

/// What [`EvidenceWriter::start`] needs.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// The evidence root: `<data-dir>/evidence`.
    pub root: PathBuf,
    pub limits: Limits,
    /// Distinguishes this run's flow ids from earlier runs' in file names (the store's
    /// run id).
    pub run_id: u64,
    /// Snap length of the capture, written in each file's interface blocks.
    pub snaplen: u32,
}

/// The running writer thread.
pub struct EvidenceWriter {
    tx: SyncSender<Msg>,
    run_id: u64,
    counters: Arc<WriterCounters>,
    join: Option<JoinHandle<()>>,
}

impl EvidenceWriter {
    /// Creates the evidence root, removes `.tmp` files left by an earlier run (counted
    /// in `tmp_cleaned`), applies retention once and starts the thread.
    pub fn start(config: WriterConfig, sink: EventSink) -> Result<EvidenceWriter, Error> {
        fs::create_dir_all(&config.root).map_err(|source| Error::Io {
            path: config.root.clone(),
            source,
        })?;
        let counters = Arc::new(WriterCounters::default());
        let (removed, errors) = retention::remove_temporary(&config.root);
        bump(&counters.tmp_cleaned, removed);
        bump(&counters.write_errors, errors);
        if removed > 0 {
            tracing::warn!(
                files = removed,
                "Removed unfinished evidence files of an earlier run."
            );
        }
        let (tx, rx) = mpsc::sync_channel(config.limits.queue_depth);
        let run_id = config.run_id;
        let mut thread = Thread {
            files: HashMap::new(),
            released_later: HashMap::new(),
            counters: Arc::clone(&counters),
            sink,
            buf: Vec::with_capacity(1 << 16),
            use_tick: 0,
            open_handles: 0,
            config,
        };
        thread.retention();
        let join = std::thread::Builder::new()
            .name("leaktap-evidence".into())
            .spawn(move || thread.run(rx))
            .map_err(|source| Error::Thread { source })?;
        Ok(EvidenceWriter {
            tx,
            run_id,
            counters,
            join: Some(join),
        })
    }

    /// A sender for one worker's [`EvidenceTap`](super::EvidenceTap).
    pub fn sender(&self) -> EvidenceSender {
        EvidenceSender {
            tx: self.tx.clone(),
            run_id: self.run_id,
        }
    }

    pub fn counters(&self) -> Arc<WriterCounters> {
        Arc::clone(&self.counters)
    }

    /// Waits until everything sent before this call has been handled (blocks).
    pub fn flush(&self) -> Result<(), Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Flush(tx))
            .map_err(|_| Error::WriterGone)?;
        rx.recv().map_err(|_| Error::WriterGone)
    }

    /// Asks for a retention pass now (it also runs every `retention_interval_secs`).
    pub fn run_retention(&self) -> Result<(), Error> {
        self.tx.send(Msg::Retention).map_err(|_| Error::WriterGone)
    }

    /// Handles everything queued, finishes files still open (their flows' ends never
    /// arrived) and stops the thread.
    pub fn shutdown(mut self) -> WriterStats {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(join) = self.join.take() {
            if join.join().is_err() {
                tracing::error!("Evidence writer thread panicked.");
            }
        }
        self.counters.snapshot()
    }
}

impl Drop for EvidenceWriter {
    fn drop(&mut self) {
        if let Some(join) = self.join.take() {
            let _ = self.tx.send(Msg::Shutdown);
            let _ = join.join();
        }
    }
}

/// One flow's file in progress.
struct FlowFile {
    rel: String,
    tmp: PathBuf,
    handle: Option<File>,
    encoder: Encoder,
    hasher: Sha256,
    bytes: u64,
    packets: u64,
    /// Index of the next frame expected from the worker.
    next_index: u64,
    missing: u64,
    first_ts: Option<Timestamp>,
    last_ts: Timestamp,
    last_used: u64,
}

struct Thread {
    config: WriterConfig,
    files: HashMap<u64, FlowFile>,
    /// Flows closed at their cap but still open: flow id → path (retention spares them).
    released_later: HashMap<u64, String>,
    counters: Arc<WriterCounters>,
    sink: EventSink,
    buf: Vec<u8>,
    use_tick: u64,
    open_handles: usize,
}

impl Thread {
    fn run(mut self, rx: Receiver<Msg>) {
        let interval = Duration::from_secs(self.config.limits.retention_interval_secs.max(1));
        let mut next_retention = Instant::now() + interval;
        loop {
            let wait = next_retention.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= next_retention {
                self.retention();
                next_retention = Instant::now() + interval;
            }
        }
        // Whatever is still queued was sent before shutdown: handle it, then finish
        // every file whose close never came.
        while let Ok(msg) = rx.try_recv() {
            if !matches!(msg, Msg::Shutdown) {
                self.handle(msg);
            }
        }
        let open: Vec<u64> = self.files.keys().copied().collect();
        for flow_id in open {
            self.close(flow_id, None, CloseReason::Ended);
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Open {
                flow_id,
                rel_path,
                ts,
            } => self.open(flow_id, rel_path.into(), ts),
            Msg::Packets {
                flow_id,
                first_index,
                batch,
            } => self.packets(flow_id, first_index, &batch),
            Msg::Close {
                flow_id,
                packets,
                reason,
            } => self.close(flow_id, Some(packets), reason),
            Msg::Released { flow_id } => {
                self.released_later.remove(&flow_id);
            }
            Msg::Flush(reply) => {
                let _ = reply.send(());
            }
            Msg::Retention => self.retention(),
            Msg::Shutdown => {}
        }
    }

    fn open(&mut self, flow_id: u64, rel: String, ts: Timestamp) {
        if self.files.contains_key(&flow_id) {
            bump(&self.counters.unknown_flow, 1);
            return;
        }
        let tmp = self.config.root.join(format!("{rel}{TMP_SUFFIX}"));
        let encoder = Encoder::new(self.config.snaplen);
        self.buf.clear();
        let comment = format!(
            "leaktap {} evidence: flow {flow_id} of run {}, matched at {ts}; frames before \
             the match come from a ring of at most {} bytes",
            env!("CARGO_PKG_VERSION"),
            self.config.run_id,
            self.config.limits.ring_bytes,
        );
        encoder.section_header(&mut self.buf, &userappl(), &comment);
        let created = tmp
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| {
                let mut options = OpenOptions::new();
                options.write(true).create(true).truncate(true);
                // Evidence holds unmasked personal data: owner and group only.
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
                options.open(&tmp)
            });
        let mut file = match created {
            Ok(handle) => FlowFile {
                rel,
                tmp,
                handle: Some(handle),
                encoder,
                hasher: Sha256::new(),
                bytes: 0,
                packets: 0,
                next_index: 0,
                missing: 0,
                first_ts: None,
                last_ts: Timestamp::default(),
                last_used: 0,
            },
            Err(err) => {
                tracing::error!(flow_id, error = %err, "Cannot create an evidence file.");
                bump(&self.counters.write_errors, 1);
                (self.sink)(EvidenceEvent::Failed {
                    flow_id,
                    path: rel,
                    reason: "create",
                });
                return;
            }
        };
        self.make_room_for_handle();
        self.open_handles += 1;
        bump(&self.counters.open_files, 1);
        if let Err(err) = write_hashed(&mut file, &self.buf) {
            self.fail(flow_id, file, &err, "write");
            return;
        }
        bump(&self.counters.bytes_written, self.buf.len() as u64);
        self.use_tick += 1;
        file.last_used = self.use_tick;
        self.files.insert(flow_id, file);
    }

    fn packets(&mut self, flow_id: u64, first_index: u64, batch: &PacketBatch) {
        let Some(mut file) = self.files.remove(&flow_id) else {
            bump(&self.counters.unknown_flow, 1);
            return;
        };
        self.buf.clear();
        let mut gap = first_index.saturating_sub(file.next_index);
        let mut written = 0u64;
        let mut refused = 0u64;
        let mut note;
        for (meta, data, comment) in batch.iter() {
            let text = if gap > 0 {
                note = format!(
                    "leaktap: {gap} frame(s) of this flow before this one are missing \
                     (evidence queue full)"
                );
                if let Some(c) = comment {
                    note.push_str("; ");
                    note.push_str(c);
                }
                Some(note.as_str())
            } else {
                comment
            };
            match file.encoder.packet(&mut self.buf, meta, data, text) {
                Ok(()) => {
                    written += 1;
                    file.missing += gap;
                    gap = 0;
                    file.first_ts.get_or_insert(meta.ts);
                    file.last_ts = meta.ts;
                }
                Err(_) => refused += 1,
            }
        }
        file.missing += gap + refused;
        file.next_index = first_index + batch.len() as u64;
        bump(&self.counters.packets_refused, refused);
        if !self.ensure_handle(&mut file) {
            self.fail(
                flow_id,
                file,
                &std::io::Error::other("cannot reopen"),
                "reopen",
            );
            return;
        }
        if let Err(err) = write_hashed(&mut file, &self.buf) {
            self.fail(flow_id, file, &err, "write");
            return;
        }
        file.packets += written;
        bump(&self.counters.packets_written, written);
        bump(&self.counters.bytes_written, self.buf.len() as u64);
        self.use_tick += 1;
        file.last_used = self.use_tick;
        self.files.insert(flow_id, file);
    }

    /// Finishes a file: fsync, rename to its final name, fsync the directory, report.
    /// `packets` is the worker's count of frames accepted for it (`None` at shutdown).
    fn close(&mut self, flow_id: u64, packets: Option<u64>, reason: CloseReason) {
        let Some(mut file) = self.files.remove(&flow_id) else {
            bump(&self.counters.unknown_flow, 1);
            return;
        };
        if let Some(total) = packets {
            file.missing += total.saturating_sub(file.next_index);
        }
        if !self.ensure_handle(&mut file) {
            self.fail(
                flow_id,
                file,
                &std::io::Error::other("cannot reopen"),
                "reopen",
            );
            return;
        }
        let synced = match &mut file.handle {
            Some(handle) => handle.flush().and_then(|()| handle.sync_all()),
            None => Ok(()),
        };
        if let Err(err) = synced {
            self.fail(flow_id, file, &err, "fsync");
            return;
        }
        self.drop_handle(&mut file);
        let (final_rel, final_abs) = self.final_name(&file.rel);
        if let Err(err) = fs::rename(&file.tmp, &final_abs) {
            self.fail(flow_id, file, &err, "rename");
            return;
        }
        if let Some(dir) = final_abs.parent() {
            // The rename is durable once the directory is synced; failure to sync a
            // directory (some filesystems refuse) leaves a complete file either way.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        let sha256 = hex(&std::mem::take(&mut file.hasher).finalize());
        bump(&self.counters.files_written, 1);
        bump(&self.counters.packets_missing, file.missing);
        if reason == CloseReason::Capped {
            self.released_later.insert(flow_id, final_rel.clone());
        }
        tracing::debug!(flow_id, bytes = file.bytes, "Evidence file finished.");
        (self.sink)(EvidenceEvent::Written(EvidenceFile {
            flow_id,
            run_id: self.config.run_id,
            path: final_rel,
            sha256,
            bytes: file.bytes,
            packets: file.packets,
            missing_packets: file.missing,
            reason,
            first_ts: file.first_ts.unwrap_or_default(),
            last_ts: file.last_ts,
        }));
    }

    /// The final name for `rel`, with `-2`, `-3`, ... before the extension if taken.
    fn final_name(&self, rel: &str) -> (String, PathBuf) {
        let abs = self.config.root.join(rel);
        if !abs.exists() {
            return (rel.to_string(), abs);
        }
        bump(&self.counters.name_collisions, 1);
        let stem = rel.strip_suffix(".pcapng").unwrap_or(rel);
        let mut n = 2u32;
        loop {
            let candidate = format!("{stem}-{n}.pcapng");
            let abs = self.config.root.join(&candidate);
            if !abs.exists() || n == u32::MAX {
                return (candidate, abs);
            }
            n += 1;
        }
    }

    fn fail(&mut self, flow_id: u64, mut file: FlowFile, err: &std::io::Error, what: &'static str) {
        tracing::error!(flow_id, error = %err, step = what, "Cannot write an evidence file.");
        bump(&self.counters.write_errors, 1);
        self.drop_handle(&mut file);
        let _ = fs::remove_file(&file.tmp);
        (self.sink)(EvidenceEvent::Failed {
            flow_id,
            path: file.rel,
            reason: what,
        });
    }

    fn ensure_handle(&mut self, file: &mut FlowFile) -> bool {
        if file.handle.is_some() {
            return true;
        }
        self.make_room_for_handle();
        match OpenOptions::new().append(true).open(&file.tmp) {
            Ok(handle) => {
                file.handle = Some(handle);
                self.open_handles += 1;
                bump(&self.counters.open_files, 1);
                true
            }
            Err(_) => false,
        }
    }

    fn drop_handle(&mut self, file: &mut FlowFile) {
        if file.handle.take().is_some() {
            self.open_handles = self.open_handles.saturating_sub(1);
            self.counters.open_files.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Closes the least recently written descriptor while at `max_open_files`.
    fn make_room_for_handle(&mut self) {
        while self.open_handles >= self.config.limits.max_open_files.max(1) {
            let victim = self
                .files
                .iter()
                .filter(|(_, f)| f.handle.is_some())
                .min_by_key(|(_, f)| f.last_used)
                .map(|(id, _)| *id);
            let Some(id) = victim else {
                return;
            };
            if let Some(mut file) = self.files.remove(&id) {
                self.drop_handle(&mut file);
                bump(&self.counters.handles_evicted, 1);
                self.files.insert(id, file);
            }
        }
    }

    fn retention(&mut self) {
        let policy = Policy {
            max_age_days: self.config.limits.retention_days,
            max_total_bytes: self.config.limits.retention_max_bytes,
        };
        if policy == Policy::default() {
            return;
        }
        let open: HashSet<&str> = self.released_later.values().map(String::as_str).collect();
        let outcome = retention::apply(&self.config.root, policy, SystemTime::now(), &|rel| {
            open.contains(rel)
        });
        bump(&self.counters.retention_kept_open, outcome.kept_open);
        bump(&self.counters.retention_errors, outcome.errors);
        for deleted in outcome.deleted {
            bump(&self.counters.retention_deleted_files, 1);
            bump(&self.counters.retention_deleted_bytes, deleted.bytes);
            (self.sink)(EvidenceEvent::Deleted(deleted));
        }
    }
}

fn write_hashed(file: &mut FlowFile, bytes: &[u8]) -> std::io::Result<()> {
    let Some(handle) = &mut file.handle else {
        return Err(std::io::Error::other("file not open"));
    };
    handle.write_all(bytes)?;
    file.hasher.update(bytes);
    file.bytes += bytes.len() as u64;
    Ok(())
}

/// SHA-256 of a file, lower-case hex, and its length (for `verify`).
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = std::io::Read::read(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}
