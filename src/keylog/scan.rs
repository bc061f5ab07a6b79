//! Picking up key log lines from a directory that test phones (or the lab's
//! collection scripts) keep writing to.
//!
//! [`DirScanner::rescan`] lists the directory, and for every regular file
//! reads what was appended since the last call, up to its last complete line
//! (a line still being written waits for the next call). A file that shrank
//! was replaced or truncated and is read again from the start. The daemon
//! calls `rescan` on a timer or on a file-system notification; nothing here
//! watches by itself or spawns threads.
//!
//! Limits: files tracked ([`DEFAULT_MAX_FILES`]) and bytes read from one file
//! per call ([`DEFAULT_MAX_READ_BYTES`]); the rest waits for the next call.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{KeyLog, LoadReport};

/// Files followed in one directory. Labs keep one file per phone or per
/// session; beyond this new files are skipped and counted.
pub const DEFAULT_MAX_FILES: usize = 4096;

/// Bytes read from one file per rescan: bounds the time and memory of one
/// call; a larger backlog is read over the following calls.
pub const DEFAULT_MAX_READ_BYTES: u64 = 16 * 1024 * 1024;

/// Where reading stopped in one file.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    /// Bytes consumed (always at a line boundary).
    offset: u64,
    /// 1-based number of the next line.
    next_line: u64,
}

/// Follows the key log files of one directory.
#[derive(Debug)]
pub struct DirScanner {
    dir: PathBuf,
    files: HashMap<PathBuf, Cursor>,
    max_files: usize,
    max_read_bytes: u64,
}

/// What one [`DirScanner::rescan`] did.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// One report per file that had new lines.
    pub files: Vec<LoadReport>,
    /// Files that could not be read, with the reason.
    pub errors: Vec<String>,
    /// Files skipped because [`DEFAULT_MAX_FILES`] were already followed.
    pub skipped_files: u64,
}

impl ScanReport {
    /// Secrets stored in this scan.
    pub fn stored(&self) -> u64 {
        self.files.iter().map(|f| f.stored).sum()
    }
}

impl DirScanner {
    /// A scanner of `dir` with the default limits; nothing is read yet.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirScanner {
            dir: dir.into(),
            files: HashMap::new(),
            max_files: DEFAULT_MAX_FILES,
            max_read_bytes: DEFAULT_MAX_READ_BYTES,
        }
    }

    /// Overrides the limits.
    pub fn with_limits(mut self, max_files: usize, max_read_bytes: u64) -> Self {
        self.max_files = max_files.max(1);
        self.max_read_bytes = max_read_bytes.max(1);
        self
    }

    /// The directory followed.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads what is new in every file of the directory into `keylog`.
    /// Files are visited in name order; an unreadable directory or file is
    /// reported, not fatal.
    pub fn rescan(&mut self, keylog: &KeyLog) -> ScanReport {
        let mut report = ScanReport::default();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(err) => {
                report.errors.push(format!("{}: {err}", self.dir.display()));
                return report;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .collect();
        paths.sort();
        for path in paths {
            if !self.files.contains_key(&path) && self.files.len() >= self.max_files {
                report.skipped_files += 1;
                continue;
            }
            match self.read_new(&path, keylog) {
                Ok(Some(file_report)) => report.files.push(file_report),
                Ok(None) => {}
                Err(err) => report.errors.push(format!("{}: {err}", path.display())),
            }
        }
        report
    }

    fn read_new(&mut self, path: &Path, keylog: &KeyLog) -> std::io::Result<Option<LoadReport>> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        let cursor = self.files.entry(path.to_path_buf()).or_insert(Cursor {
            offset: 0,
            next_line: 1,
        });
        if size < cursor.offset {
            // Truncated or replaced: start over.
            *cursor = Cursor {
                offset: 0,
                next_line: 1,
            };
        }
        if size == cursor.offset {
            return Ok(None);
        }
        let want = (size - cursor.offset).min(self.max_read_bytes);
        file.seek(SeekFrom::Start(cursor.offset))?;
        let mut buf = Vec::new();
        file.take(want).read_to_end(&mut buf)?;
        // Only complete lines; a partial last line is read next time, unless
        // it alone fills the read budget (then it is read as it is).
        let complete = match buf.iter().rposition(|&b| b == b'\n') {
            Some(pos) => pos + 1,
            None if want == self.max_read_bytes => buf.len(),
            None => return Ok(None),
        };
        let chunk = buf.get(..complete).unwrap_or(&buf);
        let mut report = LoadReport::new(path.display().to_string());
        let lines = keylog.load_bytes(chunk, cursor.next_line, &mut report);
        cursor.offset += complete as u64;
        cursor.next_line += lines;
        Ok(Some(report))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn line(i: u8) -> String {
        format!(
            "CLIENT_RANDOM {} {}\n",
            format!("{i:02x}").repeat(32),
            "cd".repeat(48)
        )
    }

    #[test]
    fn picks_up_new_files_and_appended_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = KeyLog::default();
        let mut scanner = DirScanner::new(dir.path());
        assert_eq!(scanner.rescan(&log).files.len(), 0);

        let path = dir.path().join("phone1.keys");
        let mut f = File::create(&path).unwrap();
        f.write_all(line(1).as_bytes()).unwrap();
        // Half a line: not read yet.
        let second = line(2);
        f.write_all(&second.as_bytes()[..40]).unwrap();
        f.flush().unwrap();
        let r = scanner.rescan(&log);
        assert_eq!(r.stored(), 1);
        assert!(log.lookup(&[1; 32]).is_some());
        assert!(log.lookup(&[2; 32]).is_none());

        f.write_all(&second.as_bytes()[40..]).unwrap();
        f.write_all(b"garbage\n").unwrap();
        f.flush().unwrap();
        let r = scanner.rescan(&log);
        assert_eq!(r.stored(), 1);
        assert!(log.lookup(&[2; 32]).is_some());
        // Line numbers continue across scans.
        assert_eq!(r.files[0].problems.len(), 1);
        assert!(r.files[0].problems[0].ends_with("phone1.keys:3: field_count"));
        assert_eq!(scanner.rescan(&log).files.len(), 0);

        // Replaced by a shorter file: read again from the start.
        std::fs::write(&path, line(3)).unwrap();
        assert_eq!(scanner.rescan(&log).stored(), 1);
        assert!(log.lookup(&[3; 32]).is_some());
    }

    #[test]
    fn file_limit_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3u8 {
            std::fs::write(dir.path().join(format!("k{i}")), line(i)).unwrap();
        }
        let log = KeyLog::default();
        let mut scanner = DirScanner::new(dir.path()).with_limits(2, 1 << 20);
        let r = scanner.rescan(&log);
        assert_eq!((r.stored(), r.skipped_files), (2, 1));
        let missing = DirScanner::new(dir.path().join("nope")).rescan(&log);
        assert_eq!(missing.errors.len(), 1);
    }
}
