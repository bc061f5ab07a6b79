//! Retention of evidence files by age and by total size.
//!
//! Looks at finished files (`*.pcapng`) under the evidence root, oldest first by
//! modification time (a file is last modified when its flow's evidence is finished).
//! First every file older than the age limit goes, then the oldest until the total is
//! within the size limit. A file whose flow is still open is never removed (counted as
//! kept); temporary files of open flows are not even candidates. Empty day and session
//! directories left behind are removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How deep the evidence tree goes: `YYYY-MM-DD/<session>/<file>`.
const TREE_DEPTH: usize = 3;

/// Limits applied by [`apply`]; zero disables a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub max_age_days: u32,
    pub max_total_bytes: u64,
}

/// Why a file was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    Age,
    Size,
}

impl DeleteReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeleteReason::Age => "age",
            DeleteReason::Size => "size",
        }
    }
}

/// A file retention removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedFile {
    /// Relative to the evidence root, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub reason: DeleteReason,
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub deleted: Vec<DeletedFile>,
    /// Files that were due but belong to a flow still open.
    pub kept_open: u64,
    /// Finished files and their bytes after the pass.
    pub files: u64,
    pub total_bytes: u64,
    /// Files or directories that could not be read or removed.
    pub errors: u64,
}

struct Candidate {
    rel: String,
    abs: PathBuf,
    bytes: u64,
    modified: SystemTime,
}

/// Applies `policy` under `root` at time `now`; `is_open(rel_path)` tells which files
/// belong to flows still open.
pub fn apply(
    root: &Path,
    policy: Policy,
    now: SystemTime,
    is_open: &dyn Fn(&str) -> bool,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut files = Vec::new();
    collect(root, "", 0, &mut files, &mut outcome.errors);
    files.sort_by(|a, b| a.modified.cmp(&b.modified).then_with(|| a.rel.cmp(&b.rel)));
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    let max_age = Duration::from_secs(u64::from(policy.max_age_days) * 86_400);
    let mut kept = Vec::with_capacity(files.len());
    for file in files {
        let age = now.duration_since(file.modified).unwrap_or_default();
        let due = if policy.max_age_days > 0 && age > max_age {
            Some(DeleteReason::Age)
        } else if policy.max_total_bytes > 0 && total > policy.max_total_bytes {
            Some(DeleteReason::Size)
        } else {
            None
        };
        match due {
            Some(_) if is_open(&file.rel) => {
                outcome.kept_open += 1;
                kept.push(file);
            }
            Some(reason) => match fs::remove_file(&file.abs) {
                Ok(()) => {
                    total = total.saturating_sub(file.bytes);
                    outcome.deleted.push(DeletedFile {
                        path: file.rel,
                        bytes: file.bytes,
                        reason,
                    });
                }
                Err(_) => {
                    outcome.errors += 1;
                    kept.push(file);
                }
            },
            None => kept.push(file),
        }
    }
    outcome.files = kept.len() as u64;
    outcome.total_bytes = total;
    remove_empty_dirs(root, 0);
    outcome
}

fn collect(dir: &Path, rel: &str, depth: usize, out: &mut Vec<Candidate>, errors: &mut u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        if depth > 0 {
            *errors += 1;
        }
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            *errors += 1;
            continue;
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let child_rel = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        // Symbolic links are never followed or removed: retention only owns what the
        // evidence writer created.
        if kind.is_dir() && depth + 1 < TREE_DEPTH {
            collect(&entry.path(), &child_rel, depth + 1, out, errors);
        } else if kind.is_file() && depth + 1 == TREE_DEPTH && name.ends_with(".pcapng") {
            match entry.metadata() {
                Ok(meta) => out.push(Candidate {
                    rel: child_rel,
                    abs: entry.path(),
                    bytes: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                }),
                Err(_) => *errors += 1,
            }
        }
    }
}

/// Removes empty directories below `dir` (never `dir` itself at depth 0).
fn remove_empty_dirs(dir: &Path, depth: usize) {
    if depth + 1 >= TREE_DEPTH {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let path = entry.path();
            remove_empty_dirs(&path, depth + 1);
            // Fails harmlessly when the directory is not empty.
            let _ = fs::remove_dir(&path);
        }
    }
}

/// Removes every `*.pcapng.tmp` under `root` (files of flows that were open when the
/// process died); returns how many were removed and how many could not be.
pub fn remove_temporary(root: &Path) -> (u64, u64) {
    let mut removed = 0;
    let mut errors = 0;
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() && depth + 1 < TREE_DEPTH {
                stack.push((path, depth + 1));
            } else if kind.is_file()
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.ends_with(super::TMP_SUFFIX))
            {
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(_) => errors += 1,
                }
            }
        }
    }
    (removed, errors)
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;

    fn file(root: &Path, rel: &str, bytes: usize, age_days: u64, now: SystemTime) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, vec![0u8; bytes]).unwrap();
        let when = now - Duration::from_secs(age_days * 86_400);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    #[test]
    fn removes_by_age_then_by_size_oldest_first_sparing_open_flows() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let now = SystemTime::now();
        file(root, "2026-01-01/s1/1-1.pcapng", 100, 40, now); // too old
        file(root, "2026-01-02/s1/1-2.pcapng", 100, 39, now); // too old but open
        file(root, "2026-02-01/s2/1-3.pcapng", 100, 10, now);
        file(root, "2026-02-02/s2/1-4.pcapng", 100, 9, now);
        file(root, "2026-02-03/s2/1-5.pcapng", 100, 1, now);
        file(root, "2026-02-03/s2/1-6.pcapng.tmp", 100, 60, now); // open flow's temp file
        let policy = Policy {
            max_age_days: 30,
            max_total_bytes: 250,
        };
        let out = apply(root, policy, now, &|rel| rel.ends_with("/1-2.pcapng"));
        let deleted: Vec<(&str, DeleteReason)> = out
            .deleted
            .iter()
            .map(|d| (d.path.as_str(), d.reason))
            .collect();
        assert_eq!(
            deleted,
            [
                ("2026-01-01/s1/1-1.pcapng", DeleteReason::Age),
                ("2026-02-01/s2/1-3.pcapng", DeleteReason::Size),
                ("2026-02-02/s2/1-4.pcapng", DeleteReason::Size),
            ]
        );
        assert_eq!(out.kept_open, 1);
        assert_eq!(out.files, 2);
        assert_eq!(out.total_bytes, 200);
        assert!(
            !root.join("2026-01-01").exists(),
            "empty day directory removed"
        );
        assert!(root.join("2026-01-02/s1/1-2.pcapng").exists());
        assert!(root.join("2026-02-03/s2/1-6.pcapng.tmp").exists());
        // Nothing more to do on a second pass.
        let again = apply(root, policy, now, &|rel| rel.ends_with("/1-2.pcapng"));
        assert!(again.deleted.is_empty());
    }

    #[test]
    fn zero_limits_keep_everything_and_temporaries_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let now = SystemTime::now();
        file(root, "2020-01-01/s/1-1.pcapng", 10, 2000, now);
        file(root, "2020-01-01/s/1-2.pcapng.tmp", 10, 0, now);
        file(root, "2020-01-02/t/1-3.pcapng.tmp", 10, 0, now);
        let out = apply(root, Policy::default(), now, &|_| false);
        assert!(out.deleted.is_empty());
        assert_eq!(out.files, 1);
        assert_eq!(remove_temporary(root), (2, 0));
        assert!(root.join("2020-01-01/s/1-1.pcapng").exists());
    }
}
