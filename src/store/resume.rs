//! Startup reconciliation of the record log and the store, and the chain to continue.
//!
//! The log is the authority (see the module documentation of [`store`](super)). Steps:
//! set a torn last line aside; find the log's last record; compare it with the store's
//! highest `seq`; copy what one side lacks from the other when the two still link up;
//! fill holes in the store's `seq` range from the log; return the [`Chain`] positioned
//! after the last record.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::record::Chain;

use super::log::{
    segments, set_torn_tail_aside, BackLines, Head, Segment, TornTail, LOG_FILE, MAX_LINE_BYTES,
};
use super::writer::{insert_records, RecordRow};
use super::{from_sql_u64, to_sql_u64, Error};

/// Records re-inserted per transaction while catching up.
const REINSERT_BATCH: usize = 1000;

/// What startup found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeReport {
    /// `seq` of the log's last complete record (0: empty log).
    pub log_last_seq: u64,
    /// The store's highest `seq` before reconciliation (0: empty).
    pub store_last_seq: u64,
    /// Records copied from the log into the store (their secrets are lost: only the
    /// store had them).
    pub reinserted: u64,
    /// Records copied from the store into the log.
    pub appended_to_log: u64,
    /// Records missing inside the store's range, filled from the log.
    pub gaps_filled: u64,
    /// A partial last line set aside.
    pub torn_tail: Option<TornTail>,
    /// The log has no records at all while the store has: the chain continues from the
    /// store, and `verify` checks those records from the store's copy.
    pub log_missing: bool,
    /// `seq` the next record gets.
    pub next_seq: u64,
}

impl ResumeReport {
    /// True when log and store agreed and nothing had to be repaired.
    pub fn is_clean(&self) -> bool {
        self.reinserted == 0
            && self.appended_to_log == 0
            && self.gaps_filled == 0
            && self.torn_tail.is_none()
            && !self.log_missing
    }

    /// The report as JSON (stored in the `runs` table).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "log_last_seq": self.log_last_seq,
            "store_last_seq": self.store_last_seq,
            "reinserted": self.reinserted,
            "appended_to_log": self.appended_to_log,
            "gaps_filled": self.gaps_filled,
            "torn_tail": self.torn_tail.as_ref().map(|t| serde_json::json!({
                "moved_to": t.moved_to.display().to_string(),
                "bytes": t.bytes,
                "offset": t.offset,
            })),
            "log_missing": self.log_missing,
            "next_seq": self.next_seq,
        })
        .to_string()
    }
}

impl fmt::Display for ResumeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "log ends at seq {}, store at seq {}",
            self.log_last_seq, self.store_last_seq
        )?;
        if self.reinserted > 0 {
            write!(f, "; {} records re-inserted from the log", self.reinserted)?;
        }
        if self.appended_to_log > 0 {
            write!(
                f,
                "; {} records appended to the log from the store",
                self.appended_to_log
            )?;
        }
        if self.gaps_filled > 0 {
            write!(
                f,
                "; {} missing records filled from the log",
                self.gaps_filled
            )?;
        }
        if let Some(t) = &self.torn_tail {
            write!(
                f,
                "; a torn last line of {} bytes moved to {}",
                t.bytes,
                t.moved_to.display()
            )?;
        }
        if self.log_missing {
            f.write_str("; the log has no records, continuing from the store")?;
        }
        write!(f, "; next seq {}", self.next_seq)
    }
}

/// The log's last record.
struct LogTail {
    seq: u64,
    hash: String,
}

/// Reconciles and returns the chain to continue.
pub(crate) fn resume(
    conn: &mut Connection,
    db_path: &Path,
    data_dir: &Path,
) -> Result<(Chain, ResumeReport), Error> {
    let sql = Error::sqlite(db_path);
    let log_path = data_dir.join(LOG_FILE);
    let mut report = ResumeReport {
        torn_tail: set_torn_tail_aside(&log_path).map_err(Error::io(&log_path))?,
        ..ResumeReport::default()
    };
    if let Some(t) = &report.torn_tail {
        tracing::warn!(
            bytes = t.bytes,
            moved_to = %t.moved_to.display(),
            "The record log ended in a partial line (crash during a write); set it aside."
        );
    }
    let (segs, _) = segments(data_dir).map_err(Error::io(data_dir))?;
    let log_tail = last_record(&segs)?;
    let store_last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(&sql)?;
    let store_last = store_last.map(|(seq, hash)| (from_sql_u64(seq), hash));
    report.log_last_seq = log_tail.as_ref().map_or(0, |t| t.seq);
    report.store_last_seq = store_last.as_ref().map_or(0, |s| s.0);

    let (last_seq, last_hash) = match (&log_tail, &store_last) {
        (None, None) => (0, None),
        (Some(log), None) => {
            report.reinserted = reinsert_from_log(conn, db_path, &segs, 0, None)?;
            (log.seq, Some(log.hash.clone()))
        }
        (None, Some((seq, hash))) => {
            report.log_missing = true;
            tracing::warn!(
                store_seq = seq,
                "The record log has no records but the store has: continuing the chain from the store."
            );
            (*seq, Some(hash.clone()))
        }
        (Some(log), Some((s_seq, s_hash))) => {
            if log.seq == *s_seq {
                if log.hash != *s_hash {
                    return Err(Error::Diverged {
                        reason: format!(
                            "record seq {} has hash {} in the log but {} in the store",
                            log.seq, log.hash, s_hash
                        ),
                    });
                }
            } else if log.seq > *s_seq {
                report.reinserted = reinsert_from_log(conn, db_path, &segs, *s_seq, Some(s_hash))?;
            } else {
                report.appended_to_log =
                    append_from_store(conn, db_path, &log_path, log.seq, &log.hash)?;
            }
            let (seq, hash) = if log.seq >= *s_seq {
                (log.seq, log.hash.clone())
            } else {
                (*s_seq, s_hash.clone())
            };
            (seq, Some(hash))
        }
    };
    report.gaps_filled = fill_gaps(conn, db_path, &segs)?;
    let chain = match last_hash {
        Some(hash) => Chain::resume(last_seq, hash),
        None => Chain::new(),
    };
    report.next_seq = chain.next_seq();
    Ok((chain, report))
}

/// The last record of the newest non-empty segment.
fn last_record(segs: &[Segment]) -> Result<Option<LogTail>, Error> {
    for seg in segs.iter().rev() {
        let mut back = match BackLines::open(&seg.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&seg.path)(e)),
        };
        let Some((offset, line)) = back.next_line().map_err(Error::io(&seg.path))? else {
            continue;
        };
        let head = Head::parse(&line).map_err(|reason| Error::LogCorrupt {
            path: seg.path.clone(),
            offset,
            reason,
        })?;
        return Ok(Some(LogTail {
            seq: head.seq,
            hash: head.hash,
        }));
    }
    Ok(None)
}

/// Where forward reading should start to see every record after `after_seq`: the
/// segment index and byte offset.
fn find_start(segs: &[Segment], after_seq: u64) -> Result<(usize, u64), Error> {
    if after_seq == 0 {
        return Ok((0, 0));
    }
    for (i, seg) in segs.iter().enumerate().rev() {
        let mut back = match BackLines::open(&seg.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&seg.path)(e)),
        };
        while let Some((offset, line)) = back.next_line().map_err(Error::io(&seg.path))? {
            let head = Head::parse(&line).map_err(|reason| Error::LogCorrupt {
                path: seg.path.clone(),
                offset,
                reason,
            })?;
            if head.seq <= after_seq {
                // Everything after this line (and its newline) is newer.
                return Ok((i, offset + line.len() as u64 + 1));
            }
        }
    }
    Ok((0, 0))
}

/// Reads lines forward from (segment, offset) to the end of the log.
struct ForwardLines<'a> {
    segs: &'a [Segment],
    index: usize,
    reader: Option<BufReader<File>>,
    path: PathBuf,
    offset: u64,
}

impl<'a> ForwardLines<'a> {
    fn new(segs: &'a [Segment], index: usize, offset: u64) -> Result<Self, Error> {
        let mut lines = ForwardLines {
            segs,
            index,
            reader: None,
            path: PathBuf::new(),
            offset,
        };
        lines.open_current(offset)?;
        Ok(lines)
    }

    fn open_current(&mut self, offset: u64) -> Result<(), Error> {
        self.reader = None;
        let Some(seg) = self.segs.get(self.index) else {
            return Ok(());
        };
        self.path = seg.path.clone();
        self.offset = offset;
        match File::open(&seg.path) {
            Ok(mut f) => {
                f.seek(SeekFrom::Start(offset))
                    .map_err(Error::io(&seg.path))?;
                self.reader = Some(BufReader::with_capacity(1 << 16, f));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&seg.path)(e)),
        }
        Ok(())
    }

    /// The next line with its file and offset, or `None` at the end of the last segment.
    fn next_line(&mut self, buf: &mut Vec<u8>) -> Result<Option<(PathBuf, u64)>, Error> {
        loop {
            if self.index >= self.segs.len() {
                return Ok(None);
            }
            if let Some(reader) = &mut self.reader {
                buf.clear();
                let n = reader
                    .by_ref()
                    .take(MAX_LINE_BYTES as u64 + 1)
                    .read_until(b'\n', buf)
                    .map_err(Error::io(&self.path))?;
                if n > 0 {
                    let at = self.offset;
                    self.offset += n as u64;
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    } else if n > MAX_LINE_BYTES {
                        return Err(Error::LogCorrupt {
                            path: self.path.clone(),
                            offset: at,
                            reason: "line longer than 16 MiB".into(),
                        });
                    }
                    return Ok(Some((self.path.clone(), at)));
                }
            }
            self.index += 1;
            self.open_current(0)?;
        }
    }
}

/// Copies log records after `after_seq` into the store; the first must link to
/// `link_hash` (the store's last hash) when given.
fn reinsert_from_log(
    conn: &mut Connection,
    db_path: &Path,
    segs: &[Segment],
    after_seq: u64,
    link_hash: Option<&str>,
) -> Result<u64, Error> {
    let (index, offset) = find_start(segs, after_seq)?;
    let mut lines = ForwardLines::new(segs, index, offset)?;
    let mut buf = Vec::new();
    let mut rows = Vec::with_capacity(REINSERT_BATCH);
    let mut expected = after_seq + 1;
    let mut total = 0;
    while let Some((path, at)) = lines.next_line(&mut buf)? {
        let line = String::from_utf8(buf.clone()).map_err(|_| Error::LogCorrupt {
            path: path.clone(),
            offset: at,
            reason: "not UTF-8".into(),
        })?;
        let row = RecordRow::from_line(line, Vec::new()).map_err(|reason| Error::LogCorrupt {
            path: path.clone(),
            offset: at,
            reason,
        })?;
        if row.head.seq <= after_seq {
            continue;
        }
        if row.head.seq != expected {
            return Err(Error::LogCorrupt {
                path,
                offset: at,
                reason: format!("seq {} where {expected} was expected", row.head.seq),
            });
        }
        if expected == after_seq + 1 {
            if let Some(link) = link_hash {
                if row.head.prev_hash != link {
                    return Err(Error::Diverged {
                        reason: format!(
                            "the log's record seq {expected} does not link to the store's \
                             record seq {after_seq}"
                        ),
                    });
                }
            }
        }
        expected += 1;
        rows.push(row);
        if rows.len() >= REINSERT_BATCH {
            total += insert_batch(conn, db_path, &rows, false)?;
            rows.clear();
        }
    }
    total += insert_batch(conn, db_path, &rows, false)?;
    if total > 0 {
        tracing::warn!(
            records = total,
            after_seq,
            "Re-inserted records from the record log into the store (their unmasked values are lost)."
        );
    }
    Ok(total)
}

fn insert_batch(
    conn: &mut Connection,
    db_path: &Path,
    rows: &[RecordRow],
    or_ignore: bool,
) -> Result<u64, Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let sql = Error::sqlite(db_path);
    let tx = conn.transaction().map_err(&sql)?;
    let n = insert_records(&tx, rows, or_ignore).map_err(&sql)?;
    tx.commit().map_err(&sql)?;
    Ok(n)
}

/// Appends the store's records after `log_seq` to the active log, if the first links to
/// the log's last hash.
fn append_from_store(
    conn: &Connection,
    db_path: &Path,
    log_path: &Path,
    log_seq: u64,
    log_hash: &str,
) -> Result<u64, Error> {
    let sql = Error::sqlite(db_path);
    let mut stmt = conn
        .prepare("SELECT seq, json, prev_hash FROM records WHERE seq > ?1 ORDER BY seq")
        .map_err(&sql)?;
    let mut rows = stmt.query(params![to_sql_u64(log_seq)]).map_err(&sql)?;
    let mut out = Vec::new();
    let mut expected = log_seq + 1;
    while let Some(row) = rows.next().map_err(&sql)? {
        let seq = from_sql_u64(row.get(0).map_err(&sql)?);
        let json: String = row.get(1).map_err(&sql)?;
        let prev: String = row.get(2).map_err(&sql)?;
        if seq != expected || (seq == log_seq + 1 && prev != log_hash) {
            return Err(Error::Diverged {
                reason: format!(
                    "the store has records up to beyond seq {log_seq} where the log ends, \
                     but its record seq {seq} does not continue the log"
                ),
            });
        }
        out.extend_from_slice(json.as_bytes());
        out.push(b'\n');
        expected += 1;
    }
    let count = expected - log_seq - 1;
    if count > 0 {
        let mut log = super::log::RecordLog::open(log_path, true).map_err(Error::io(log_path))?;
        log.append(&out).map_err(Error::io(log_path))?;
        tracing::warn!(
            records = count,
            "Appended records the log had lost (power loss without fsync) from the store."
        );
    }
    Ok(count)
}

/// Fills holes in the store's `seq` range (rows lost to a failed transaction while
/// later ones went in) from the log.
fn fill_gaps(conn: &mut Connection, db_path: &Path, segs: &[Segment]) -> Result<u64, Error> {
    let sql = Error::sqlite(db_path);
    let (count, min, max): (i64, Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT COUNT(*), MIN(seq), MAX(seq) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(&sql)?;
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(0);
    };
    if count == max - min + 1 {
        return Ok(0);
    }
    let mut lines = ForwardLines::new(segs, 0, 0)?;
    let mut buf = Vec::new();
    let mut rows = Vec::new();
    let mut total = 0;
    while let Some((path, at)) = lines.next_line(&mut buf)? {
        let Ok(line) = String::from_utf8(buf.clone()) else {
            continue;
        };
        let row = RecordRow::from_line(line, Vec::new()).map_err(|reason| Error::LogCorrupt {
            path,
            offset: at,
            reason,
        })?;
        let seq = to_sql_u64(row.head.seq);
        if seq < min || seq > max {
            continue;
        }
        rows.push(row);
        if rows.len() >= REINSERT_BATCH {
            total += insert_batch(conn, db_path, &rows, true)?;
            rows.clear();
        }
    }
    total += insert_batch(conn, db_path, &rows, true)?;
    if total > 0 {
        tracing::warn!(
            records = total,
            "Filled missing records in the store from the log."
        );
    }
    Ok(total)
}
