//! The JSON Lines record log: appending, reopening after rotation, finding rotated
//! segments, reading lines backwards from the end, and setting a torn last line aside.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// File name of the active record log inside the data directory.
pub const LOG_FILE: &str = "records.jsonl";
/// Bytes read per step when scanning backwards.
const BACK_BLOCK_BYTES: u64 = 64 * 1024;
/// Longest line accepted when scanning; records are a few KiB, a finding with many refs
/// perhaps a few hundred. Anything longer is not a record line.
pub(crate) const MAX_LINE_BYTES: usize = 16 << 20;

/// The active record log, opened for appending.
#[derive(Debug)]
pub struct RecordLog {
    path: PathBuf,
    file: File,
    len: u64,
    fsync: bool,
}

impl RecordLog {
    /// Opens (creating if needed) the log for appending. `fsync`: fdatasync after every
    /// append.
    pub fn open(path: &Path, fsync: bool) -> std::io::Result<RecordLog> {
        let file = append_options().open(path)?;
        let len = file.metadata()?.len();
        Ok(RecordLog {
            path: path.to_path_buf(),
            file,
            len,
            fsync,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file as far as this handle knows.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends whole lines in one write and makes them durable as configured.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.file.flush()?;
        if self.fsync {
            self.file.sync_data()?;
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Cuts the file back to `len` bytes after a failed append, so a half-written batch
    /// does not stay in the log.
    pub fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()?;
        self.len = len;
        Ok(())
    }

    /// Opens the path again: after logrotate moved the file away this starts a new,
    /// empty log; otherwise it continues the same file.
    pub fn reopen(&mut self) -> std::io::Result<()> {
        let _ = self.file.sync_data();
        let file = append_options().open(&self.path)?;
        self.len = file.metadata()?.len();
        self.file = file;
        if let Some(dir) = self.path.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

/// Create-or-append, readable by owner and group only when created (records are
/// masked, but still name devices, hosts and sessions).
fn append_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
    options
}

/// One file of the log: the active one (`index` 0) or a rotated `records.jsonl.N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub path: PathBuf,
    pub index: u32,
}

/// The log's files in chain order: rotated segments oldest first (highest number
/// first), then the active log (even if it does not exist yet). Compressed or otherwise
/// renamed segments are not included; their count is returned beside.
pub fn segments(data_dir: &Path) -> std::io::Result<(Vec<Segment>, usize)> {
    let mut rotated = Vec::new();
    let mut other = 0;
    let prefix = format!("{LOG_FILE}.");
    for entry in fs::read_dir(data_dir)?.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        if let Ok(index) = rest.parse::<u32>() {
            if index > 0 {
                rotated.push(Segment {
                    path: entry.path(),
                    index,
                });
            }
        } else if !rest.starts_with("torn-") {
            other += 1;
        }
    }
    rotated.sort_by_key(|s| std::cmp::Reverse(s.index));
    rotated.push(Segment {
        path: data_dir.join(LOG_FILE),
        index: 0,
    });
    Ok((rotated, other))
}

/// The chain fields of a record line (and the columns the store indexes).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Head {
    pub seq: u64,
    pub hash: String,
    pub prev_hash: String,
    #[serde(default)]
    pub ts: String,
    #[serde(default)]
    pub event_type: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub flow_id: Option<u64>,
    /// `finding` records only.
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub refs: Option<Vec<u64>>,
}

impl Head {
    pub(crate) fn parse(line: &[u8]) -> Result<Head, String> {
        serde_json::from_slice(line).map_err(|e| format!("not a record line: {e}"))
    }
}

/// Reads a file's lines from the end towards the start, with their byte offsets.
pub(crate) struct BackLines {
    file: File,
    /// File offset of `pending[0]`.
    start: u64,
    /// Bytes not yet returned, from `start` to the end of the next line to return
    /// (including its newline, if any).
    pending: Vec<u8>,
}

impl BackLines {
    pub(crate) fn open(path: &Path) -> std::io::Result<BackLines> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(BackLines {
            file,
            start: len,
            pending: Vec::new(),
        })
    }

    /// The previous line (without its newline) and its offset, `None` at the start.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        loop {
            let end = match self.pending.last() {
                Some(b'\n') => self.pending.len() - 1,
                _ => self.pending.len(),
            };
            if let Some(i) = self.pending[..end].iter().rposition(|&b| b == b'\n') {
                let line = self.pending[i + 1..end].to_vec();
                let offset = self.start + i as u64 + 1;
                self.pending.truncate(i + 1);
                return Ok(Some((offset, line)));
            }
            if self.start == 0 {
                if self.pending.is_empty() {
                    return Ok(None);
                }
                let line = self.pending[..end].to_vec();
                self.pending.clear();
                return Ok(Some((0, line)));
            }
            if self.pending.len() > MAX_LINE_BYTES {
                return Err(std::io::Error::other("line longer than 16 MiB"));
            }
            let from = self.start.saturating_sub(BACK_BLOCK_BYTES);
            let mut block = vec![0u8; (self.start - from) as usize];
            self.file.seek(SeekFrom::Start(from))?;
            self.file.read_exact(&mut block)?;
            block.extend_from_slice(&self.pending);
            self.pending = block;
            self.start = from;
        }
    }
}

/// A partial last line found at startup and moved aside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Where the partial line's bytes went.
    pub moved_to: PathBuf,
    /// How many bytes it had.
    pub bytes: u64,
    /// Byte offset in the log where it started (the log's new length).
    pub offset: u64,
}

/// If the file does not end with a newline, moves the bytes after its last newline to
/// `<log>.torn-<unix-seconds>` (fsynced) and cuts the log back to that newline.
pub(crate) fn set_torn_tail_aside(path: &Path) -> std::io::Result<Option<TornTail>> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(None);
    }
    // Find the last newline, scanning back block by block.
    let mut cut = 0u64;
    let mut pos = len;
    let mut block = vec![0u8; BACK_BLOCK_BYTES as usize];
    'scan: while pos > 0 {
        let from = pos.saturating_sub(BACK_BLOCK_BYTES);
        let n = (pos - from) as usize;
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block[..n])?;
        if let Some(i) = block[..n].iter().rposition(|&b| b == b'\n') {
            cut = from + i as u64 + 1;
            break 'scan;
        }
        pos = from;
    }
    let torn_len = len - cut;
    if torn_len as usize > MAX_LINE_BYTES * 4 {
        return Err(std::io::Error::other(
            "more than 64 MiB after the last newline: not a torn line",
        ));
    }
    let mut torn = vec![0u8; torn_len as usize];
    file.seek(SeekFrom::Start(cut))?;
    file.read_exact(&mut torn)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(LOG_FILE);
    let mut moved_to = path.with_file_name(format!("{name}.torn-{secs}"));
    let mut n = 1;
    while moved_to.exists() {
        n += 1;
        moved_to = path.with_file_name(format!("{name}.torn-{secs}-{n}"));
    }
    let mut aside = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&moved_to)?;
    aside.write_all(&torn)?;
    aside.sync_all()?;
    file.set_len(cut)?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(Some(TornTail {
        moved_to,
        bytes: torn_len,
        offset: cut,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_lines_walk_from_the_end_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let lines: Vec<String> = (0..5000)
            .map(|i| format!("line {i} {}", "x".repeat(i % 97)))
            .collect();
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(&path, &text).unwrap();
        let mut back = BackLines::open(&path).unwrap();
        let mut got = Vec::new();
        while let Some((offset, line)) = back.next_line().unwrap() {
            let s = String::from_utf8(line).unwrap();
            assert!(text[offset as usize..].starts_with(&s));
            got.push(s);
        }
        got.reverse();
        assert_eq!(got, lines);
        // A file without a final newline yields its last partial line first.
        fs::write(&path, "a\nbc").unwrap();
        let mut back = BackLines::open(&path).unwrap();
        assert_eq!(back.next_line().unwrap(), Some((2, b"bc".to_vec())));
        assert_eq!(back.next_line().unwrap(), Some((0, b"a".to_vec())));
        assert_eq!(back.next_line().unwrap(), None);
    }

    #[test]
    fn torn_tail_is_moved_aside_and_the_log_cut_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        fs::write(&path, "{\"seq\":1}\n{\"seq\":2,\"ha").unwrap();
        let torn = set_torn_tail_aside(&path).unwrap().unwrap();
        assert_eq!(torn.bytes, 12);
        assert_eq!(torn.offset, 10);
        assert_eq!(fs::read(&path).unwrap(), b"{\"seq\":1}\n");
        assert_eq!(fs::read(&torn.moved_to).unwrap(), b"{\"seq\":2,\"ha");
        assert!(torn
            .moved_to
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("records.jsonl.torn-"));
        // Nothing to do on a clean log, an empty one or a missing one.
        assert_eq!(set_torn_tail_aside(&path).unwrap(), None);
        fs::write(&path, "").unwrap();
        assert_eq!(set_torn_tail_aside(&path).unwrap(), None);
        assert_eq!(set_torn_tail_aside(&dir.path().join("none")).unwrap(), None);
        // A log that is one partial line.
        fs::write(&path, "{\"se").unwrap();
        let torn = set_torn_tail_aside(&path).unwrap().unwrap();
        assert_eq!(torn.offset, 0);
        assert_eq!(fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn segments_are_in_chain_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "records.jsonl",
            "records.jsonl.1",
            "records.jsonl.10",
            "records.jsonl.2",
            "records.jsonl.3.gz",
            "records.jsonl.torn-17",
            "other",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        let (segs, other) = segments(dir.path()).unwrap();
        let names: Vec<String> = segs
            .iter()
            .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "records.jsonl.10",
                "records.jsonl.2",
                "records.jsonl.1",
                "records.jsonl"
            ]
        );
        assert_eq!(other, 1);
    }

    #[test]
    fn append_truncate_and_reopen_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let mut log = RecordLog::open(&path, true).unwrap();
        log.append(b"one\n").unwrap();
        let keep = log.len();
        log.append(b"two\n").unwrap();
        log.truncate(keep).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        fs::rename(&path, dir.path().join("records.jsonl.1")).unwrap();
        log.reopen().unwrap();
        assert_eq!(log.len(), 0);
        log.append(b"three\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three\n");
        assert_eq!(
            fs::read(dir.path().join("records.jsonl.1")).unwrap(),
            b"one\n"
        );
    }
}
