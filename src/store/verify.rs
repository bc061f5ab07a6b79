//! `leaktap verify`: re-checks a data directory.
//!
//! 1. The chain over the whole record log, rotated segments oldest first: every line is
//!    complete, `seq` counts up by one, `prev_hash` is the previous record's `hash`, and
//!    `hash` matches the content ([`record::verify_line`](crate::record::verify_line)).
//!    Records before the oldest log segment (compressed or deleted by rotation) are
//!    checked the same way from the store's copy of their lines, and counted.
//! 2. The store: every record in it equals its log line byte for byte, none is missing
//!    and none is extra. A daemon that is running may be a batch behind; missing records
//!    at the very end are looked up again after a short wait before they count.
//! 3. Every evidence file the store lists (and retention has not removed): its size and
//!    SHA-256 equal the store's; records that name an evidence file agree with the store.
//!
//! The first problem found is returned, naming the record (`seq`, file and line) or the
//! evidence file (path) and why.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path};
use std::time::Duration;

use rusqlite::params;
use serde::Deserialize;

use crate::evidence::{hash_file, TMP_SUFFIX};
use crate::record::{verify_line, GENESIS_HASH};

use super::log::{segments, Segment, MAX_LINE_BYTES};
use super::reader::StoreReader;
use super::{from_sql_u64, to_sql_u64, DEFAULT_BATCH_MAX_MS, EVIDENCE_DIR};

/// Missing store records re-checked after a wait at most (a running daemon's last
/// batches).
const MAX_RECHECK: usize = 100_000;

/// What a successful check counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records in the chain, and the first and last `seq`.
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Log files read and records checked from them.
    pub log_files: usize,
    pub log_records: u64,
    /// Records checked from the store only (their log segment is gone).
    pub store_only_records: u64,
    /// Log segments not read (compressed or renamed).
    pub unread_segments: usize,
    /// Torn lines set aside at earlier starts (`records.jsonl.torn-*`).
    pub torn_files: usize,
    /// Evidence files checked and their bytes.
    pub evidence_files: u64,
    pub evidence_bytes: u64,
    /// Evidence files retention removed (listed in the store, not checked).
    pub evidence_removed: u64,
    /// Records that name an evidence file.
    pub evidence_refs: u64,
    /// `.pcapng` files on disk the store does not list, and unfinished `.tmp` files.
    pub unlisted_files: u64,
    pub unfinished_files: u64,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "OK")?;
        if self.records == 0 {
            writeln!(f, "records: 0")?;
        } else {
            writeln!(
                f,
                "records: {} (seq {}..{}), {} from {} log file(s), {} from the store only",
                self.records,
                self.first_seq,
                self.last_seq,
                self.log_records,
                self.log_files,
                self.store_only_records
            )?;
        }
        writeln!(
            f,
            "evidence files: {} ({} bytes), {} removed by retention",
            self.evidence_files, self.evidence_bytes, self.evidence_removed
        )?;
        if self.unlisted_files > 0 {
            writeln!(
                f,
                "note: {} evidence file(s) on disk are not in the store (a crash after the \
                 file was finished, before it was recorded)",
                self.unlisted_files
            )?;
        }
        if self.unfinished_files > 0 {
            writeln!(
                f,
                "note: {} unfinished evidence file(s) (.tmp) of open flows",
                self.unfinished_files
            )?;
        }
        if self.torn_files > 0 {
            writeln!(
                f,
                "note: {} torn record line(s) were set aside after crashes (records.jsonl.torn-*)",
                self.torn_files
            )?;
        }
        if self.unread_segments > 0 {
            writeln!(
                f,
                "note: {} log segment(s) not read (compressed or renamed)",
                self.unread_segments
            )?;
        }
        Ok(())
    }
}

/// The first problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The data directory or store cannot be read.
    Setup(String),
    /// A record of the log (file name, 1-based line).
    Record {
        seq: u64,
        file: String,
        line: u64,
        reason: String,
    },
    /// A record checked from the store only.
    StoreRecord { seq: u64, reason: String },
    /// An evidence file (path relative to the evidence root).
    Evidence { path: String, reason: String },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Setup(reason) => f.write_str(reason),
            Failure::Record {
                seq,
                file,
                line,
                reason,
            } => write!(f, "record seq {seq} ({file} line {line}): {reason}"),
            Failure::StoreRecord { seq, reason } => {
                write!(f, "record seq {seq} (in the store only): {reason}")
            }
            Failure::Evidence { path, reason } => {
                write!(f, "evidence file {EVIDENCE_DIR}/{path}: {reason}")
            }
        }
    }
}

/// A record's `evidence` object.
#[derive(Deserialize)]
struct EvidenceRefLine {
    seq: u64,
    evidence: Option<EvidenceRef>,
}

#[derive(Deserialize)]
struct EvidenceRef {
    pcap: String,
    sha256: String,
}

/// Checks `data_dir`; see the module documentation.
pub fn verify(data_dir: &Path) -> Result<VerifyReport, Failure> {
    if !data_dir.is_dir() {
        return Err(Failure::Setup(format!(
            "{}: no such data directory",
            data_dir.display()
        )));
    }
    let reader = StoreReader::open(data_dir).map_err(|e| Failure::Setup(e.to_string()))?;
    let (segs, unread) =
        segments(data_dir).map_err(|e| Failure::Setup(format!("{}: {e}", data_dir.display())))?;
    let mut report = VerifyReport {
        unread_segments: unread,
        torn_files: count_torn(data_dir),
        ..VerifyReport::default()
    };
    let mut refs = Vec::new();
    check_chain(&reader, &segs, &mut report, &mut refs)?;
    check_evidence(&reader, data_dir, &mut report, &refs)?;
    Ok(report)
}

fn setup(e: impl fmt::Display) -> Failure {
    Failure::Setup(e.to_string())
}

fn count_torn(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with("records.jsonl.torn-"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Reads a segment's lines with their 1-based numbers; a last line without a newline
/// is reported as torn.
struct SegmentLines {
    reader: Option<BufReader<File>>,
    line: u64,
}

impl SegmentLines {
    fn open(seg: &Segment) -> Result<SegmentLines, Failure> {
        let reader = match File::open(&seg.path) {
            Ok(f) => Some(BufReader::with_capacity(1 << 16, f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(setup(format!("{}: {e}", seg.path.display()))),
        };
        Ok(SegmentLines { reader, line: 0 })
    }

    /// The next line into `buf` (without newline): Some(complete?) or None at the end.
    fn next(&mut self, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
        let Some(reader) = &mut self.reader else {
            return Ok(None);
        };
        buf.clear();
        let n = reader
            .by_ref()
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            Ok(Some(true))
        } else {
            Ok(Some(false))
        }
    }
}

fn file_name(seg: &Segment) -> String {
    seg.path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The `seq` of the first line of the log, if any.
fn first_log_seq(segs: &[Segment]) -> Result<Option<(u64, usize)>, Failure> {
    let mut buf = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let mut lines = SegmentLines::open(seg)?;
        match lines.next(&mut buf).map_err(setup)? {
            None => continue,
            Some(_) => {
                #[derive(Deserialize)]
                struct Seq {
                    seq: u64,
                }
                return match serde_json::from_slice::<Seq>(&buf) {
                    Ok(s) => Ok(Some((s.seq, i))),
                    // The walk below reports it with its line number.
                    Err(_) => Ok(Some((1, i))),
                };
            }
        }
    }
    Ok(None)
}

fn check_chain(
    reader: &StoreReader,
    segs: &[Segment],
    report: &mut VerifyReport,
    refs: &mut Vec<(u64, String, String)>,
) -> Result<(), Failure> {
    let conn = reader.conn();
    let sql = |e: rusqlite::Error| setup(format!("{}: sqlite: {e}", reader.path().display()));
    let first = first_log_seq(segs)?;
    let store_last = reader.last_seq().map_err(setup)?;
    // Records before the log's first one (or all, without a log) come from the store.
    let log_first = first.map_or(store_last + 1, |(seq, _)| seq);
    let mut prev = GENESIS_HASH.to_string();
    let mut expected = 1u64;
    if log_first > 1 {
        let mut stmt = conn
            .prepare("SELECT seq, json FROM records WHERE seq < ?1 ORDER BY seq")
            .map_err(sql)?;
        let mut rows = stmt.query(params![to_sql_u64(log_first)]).map_err(sql)?;
        while let Some(row) = rows.next().map_err(sql)? {
            let seq = from_sql_u64(row.get(0).map_err(sql)?);
            let json: String = row.get(1).map_err(sql)?;
            if seq != expected {
                return Err(Failure::StoreRecord {
                    seq: expected,
                    reason: "in neither the log nor the store".into(),
                });
            }
            prev = verify_line(&prev, expected, &json).map_err(|reason| Failure::StoreRecord {
                seq,
                reason: reason.into(),
            })?;
            collect_ref(&json, refs);
            expected += 1;
            report.store_only_records += 1;
        }
        if expected != log_first {
            return Err(Failure::StoreRecord {
                seq: expected,
                reason: "in neither the log nor the store".into(),
            });
        }
    }

    let mut stmt = conn
        .prepare("SELECT seq, json FROM records WHERE seq >= ?1 ORDER BY seq")
        .map_err(sql)?;
    let mut rows = stmt.query(params![to_sql_u64(log_first)]).map_err(sql)?;
    let mut store_next: Option<(u64, String)> = match rows.next().map_err(sql)? {
        Some(r) => Some((from_sql_u64(r.get(0).map_err(sql)?), r.get(1).map_err(sql)?)),
        None => None,
    };
    let mut missing: Vec<(u64, String, u64)> = Vec::new();
    let mut buf = Vec::new();
    let start_segment = first.map_or(segs.len(), |(_, i)| i);
    for seg in segs.iter().skip(start_segment) {
        let name = file_name(seg);
        let mut lines = SegmentLines::open(seg)?;
        let mut read_any = false;
        while let Some(complete) = lines.next(&mut buf).map_err(setup)? {
            read_any = true;
            let fail = |reason: String| Failure::Record {
                seq: expected,
                file: name.clone(),
                line: lines.line,
                reason,
            };
            if !complete {
                return Err(fail(
                    "incomplete last line (a write cut short by a crash); start the daemon \
                     to set it aside"
                        .into(),
                ));
            }
            let line = std::str::from_utf8(&buf).map_err(|_| fail("not UTF-8".into()))?;
            prev = verify_line(&prev, expected, line).map_err(|r| fail(r.into()))?;
            match &store_next {
                Some((seq, json)) if *seq == expected => {
                    if json.as_bytes() != buf.as_slice() {
                        return Err(fail("differs between the store and the log".into()));
                    }
                    store_next = match rows.next().map_err(sql)? {
                        Some(r) => {
                            Some((from_sql_u64(r.get(0).map_err(sql)?), r.get(1).map_err(sql)?))
                        }
                        None => None,
                    };
                }
                _ => {
                    if missing.len() < MAX_RECHECK {
                        missing.push((expected, name.clone(), lines.line));
                    } else {
                        return Err(fail("is in the log but not in the store".into()));
                    }
                }
            }
            collect_ref(line, refs);
            expected += 1;
            report.log_records += 1;
        }
        if read_any {
            report.log_files += 1;
        }
    }
    if let Some((seq, _)) = store_next {
        return Err(Failure::StoreRecord {
            seq,
            reason: format!(
                "is in the store but not in the log (the log ends at seq {})",
                expected - 1
            ),
        });
    }
    if !missing.is_empty() {
        // A running daemon commits to the store right after the log: look again.
        std::thread::sleep(Duration::from_millis(3 * DEFAULT_BATCH_MAX_MS));
        for (seq, file, line) in &missing {
            if reader.record_line(*seq).map_err(setup)?.is_none() {
                return Err(Failure::Record {
                    seq: *seq,
                    file: file.clone(),
                    line: *line,
                    reason: "is in the log but not in the store (the daemon stopped between \
                             the two; starting it re-inserts the record)"
                        .into(),
                });
            }
        }
    }
    report.records = expected - 1;
    report.first_seq = u64::from(report.records > 0);
    report.last_seq = expected - 1;
    Ok(())
}

fn collect_ref(line: &str, refs: &mut Vec<(u64, String, String)>) {
    if !line.contains("\"evidence\":{") {
        return;
    }
    if let Ok(EvidenceRefLine {
        seq,
        evidence: Some(e),
    }) = serde_json::from_str::<EvidenceRefLine>(line)
    {
        refs.push((seq, e.pcap, e.sha256));
    }
}

fn check_evidence(
    reader: &StoreReader,
    data_dir: &Path,
    report: &mut VerifyReport,
    refs: &[(u64, String, String)],
) -> Result<(), Failure> {
    let root = data_dir.join(EVIDENCE_DIR);
    let entries = reader.evidence().map_err(setup)?;
    let mut listed = HashSet::new();
    let mut by_path: HashMap<&str, &str> = HashMap::new();
    for entry in &entries {
        listed.insert(entry.path.clone());
        by_path.insert(&entry.path, &entry.sha256);
        if entry.deleted.is_some() {
            report.evidence_removed += 1;
            continue;
        }
        let fail = |reason: String| Failure::Evidence {
            path: entry.path.clone(),
            reason,
        };
        if !is_relative_inside(&entry.path) {
            return Err(fail("path leaves the evidence directory".into()));
        }
        let (sha, bytes) = match hash_file(&root.join(&entry.path)) {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail(
                    "missing (the store lists it and retention did not remove it)".into(),
                ))
            }
            Err(e) => return Err(fail(format!("cannot read: {e}"))),
        };
        if bytes != entry.bytes {
            return Err(fail(format!(
                "{bytes} bytes, the store recorded {}",
                entry.bytes
            )));
        }
        if sha != entry.sha256 {
            return Err(fail(format!(
                "SHA-256 is {sha}, the store recorded {}",
                entry.sha256
            )));
        }
        report.evidence_files += 1;
        report.evidence_bytes += bytes;
    }
    for (seq, pcap, sha) in refs {
        report.evidence_refs += 1;
        if let Some(stored) = by_path.get(pcap.as_str()) {
            if stored != sha {
                return Err(Failure::StoreRecord {
                    seq: *seq,
                    reason: format!(
                        "names evidence {pcap} with SHA-256 {sha}, the store recorded {stored}"
                    ),
                });
            }
        }
    }
    let (unlisted, unfinished) = scan_unlisted(&root, &listed);
    report.unlisted_files = unlisted;
    report.unfinished_files = unfinished;
    Ok(())
}

/// A relative path with only normal components.
fn is_relative_inside(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Counts finished files the store does not list and unfinished `.tmp` files.
fn scan_unlisted(root: &Path, listed: &HashSet<String>) -> (u64, u64) {
    let mut unlisted = 0;
    let mut unfinished = 0;
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(kind) = e.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < 2 {
                stack.push((e.path(), child, depth + 1));
            } else if kind.is_file() {
                if name.ends_with(TMP_SUFFIX) {
                    unfinished += 1;
                } else if name.ends_with(".pcapng") && !listed.contains(&child) {
                    unlisted += 1;
                }
            }
        }
    }
    (unlisted, unfinished)
}
