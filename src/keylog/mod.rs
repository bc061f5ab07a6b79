//! TLS key logs (the NSS `SSLKEYLOGFILE` format) and TLS record decryption.
//!
//! Owns: the shared [`KeyLog`] store (client random → [`Secrets`]), the line
//! parser, the directory rescanner of [`scan`], and the record protection of
//! [`cipher`] (suite table, TLS 1.2 PRF, TLS 1.3 HKDF-Expand-Label, AEAD record
//! opening).
//!
//! Takes: key log text, from a file given on the command line, a line at a
//! time, or the new bytes of the files of a watched directory.
//!
//! Emits: secrets looked up by `proto::tls` per connection, and a
//! [`LoadReport`] per file naming each line it could not use (`file:line:
//! reason`). A bad line is counted and skipped, never fatal.
//!
//! Limits: the number of client randoms held ([`DEFAULT_MAX_ENTRIES`]; the
//! oldest is evicted and counted), the length of a line
//! ([`MAX_LINE_BYTES`]), and the number of problems listed in one report
//! ([`DEFAULT_MAX_REPORTED_PROBLEMS`]; the rest are only counted).
//!
//! Must not: log or print a secret (the [`Secret`] `Debug` output is
//! redacted), depend on `proto` (suites and content types are plain numbers
//! here), or panic on any input.
//!
//! Format (NSS, as written by OpenSSL, BoringSSL, NSS, curl, Chrome):
//! `<LABEL> <client_random hex, 64 digits> <secret hex>`; `#` starts a
//! comment line. Labels used: `CLIENT_RANDOM` (TLS 1.2 and older: the 48-byte
//! master secret), `CLIENT_HANDSHAKE_TRAFFIC_SECRET`,
//! `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_TRAFFIC_SECRET_0`,
//! `SERVER_TRAFFIC_SECRET_0` (TLS 1.3). Known labels we do not need
//! (`EXPORTER_SECRET`, `CLIENT_EARLY_TRAFFIC_SECRET`, `EARLY_EXPORTER_SECRET`,
//! `RSA`, `ECH_SECRET`, `ECH_CONFIG`) are counted as ignored.

pub mod cipher;
pub mod scan;

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use dashmap::DashMap;

pub use cipher::{Aead, CryptoError, HashAlg, OpenError, Opened, RecordKeys, Suite};
pub use scan::{DirScanner, ScanReport};

/// Default cap on client randoms held. An entry is about 300 bytes, so the
/// cap bounds the store near 80 MB; a test phone opens a few thousand TLS
/// connections an hour, so a day of lab work fits before the oldest go.
pub const DEFAULT_MAX_ENTRIES: usize = 262_144;

/// Longest key log line accepted. The longest valid line (a 31-character
/// label, 64 hex digits of random, 96 of secret) is under 200 bytes; the
/// headroom allows for future labels without letting one line pin memory.
pub const MAX_LINE_BYTES: usize = 1024;

/// Problems listed by name in one [`LoadReport`]; later ones are only
/// counted, so a wrong file (say, a binary) does not flood the terminal.
pub const DEFAULT_MAX_REPORTED_PROBLEMS: usize = 20;

/// Largest secret: the TLS 1.2 master secret and SHA-384 traffic secrets are
/// 48 bytes (RFC 5246 §8.1; RFC 8446 §7.1).
pub const MAX_SECRET_BYTES: usize = 48;

/// Errors of loading a key log file. Bad lines are not errors; they are
/// reported in a [`LoadReport`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read key log {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Why a key log line was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineError {
    /// The client random is not 64 hex digits.
    BadClientRandom,
    /// The secret is not hex, or not 32 or 48 bytes (the master secret must
    /// be 48).
    BadSecret,
    /// Fewer than three space-separated fields, or more.
    FieldCount,
    /// The line is longer than [`MAX_LINE_BYTES`].
    TooLong,
    /// The label is not one of the NSS key log labels.
    UnknownLabel,
}

impl LineError {
    /// Snake-case label for counters and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            LineError::BadClientRandom => "bad_client_random",
            LineError::BadSecret => "bad_secret",
            LineError::FieldCount => "field_count",
            LineError::TooLong => "too_long",
            LineError::UnknownLabel => "unknown_label",
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key log secret: at most [`MAX_SECRET_BYTES`] bytes, stored inline.
/// `Debug` prints only the length.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    bytes: [u8; MAX_SECRET_BYTES],
    len: u8,
}

impl Secret {
    /// A secret of 1..=48 bytes; `None` otherwise.
    pub fn from_slice(bytes: &[u8]) -> Option<Secret> {
        if bytes.is_empty() || bytes.len() > MAX_SECRET_BYTES {
            return None;
        }
        let mut s = Secret {
            bytes: [0; MAX_SECRET_BYTES],
            len: u8::try_from(bytes.len()).ok()?,
        };
        s.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(s)
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the secret is empty (never true for a parsed secret).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// Key log labels (NSS key log format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET` (TLS 1.3).
    ClientHandshakeTrafficSecret,
    /// `CLIENT_RANDOM`: the TLS 1.2 (and older) master secret.
    ClientRandom,
    /// `CLIENT_TRAFFIC_SECRET_0` (TLS 1.3).
    ClientTrafficSecret0,
    /// A known label leaktap does not need (exporter, early data, RSA
    /// pre-master, ECH); the line is counted as ignored.
    Ignored,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET` (TLS 1.3).
    ServerHandshakeTrafficSecret,
    /// `SERVER_TRAFFIC_SECRET_0` (TLS 1.3).
    ServerTrafficSecret0,
}

impl Label {
    /// The label of a key log line's first field.
    pub fn parse(text: &str) -> Option<Label> {
        Some(match text {
            "CLIENT_RANDOM" => Label::ClientRandom,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshakeTrafficSecret,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshakeTrafficSecret,
            "CLIENT_TRAFFIC_SECRET_0" => Label::ClientTrafficSecret0,
            "SERVER_TRAFFIC_SECRET_0" => Label::ServerTrafficSecret0,
            "EXPORTER_SECRET"
            | "CLIENT_EARLY_TRAFFIC_SECRET"
            | "EARLY_EXPORTER_SECRET"
            | "RSA"
            | "ECH_SECRET"
            | "ECH_CONFIG" => Label::Ignored,
            _ => return None,
        })
    }
}

/// The secrets logged for one connection (one client random).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 master secret (`CLIENT_RANDOM`), 48 bytes.
    pub master_secret: Option<Secret>,
    /// TLS 1.3 client handshake traffic secret.
    pub client_handshake: Option<Secret>,
    /// TLS 1.3 server handshake traffic secret.
    pub server_handshake: Option<Secret>,
    /// TLS 1.3 first client application traffic secret.
    pub client_traffic_0: Option<Secret>,
    /// TLS 1.3 first server application traffic secret.
    pub server_traffic_0: Option<Secret>,
}

impl Secrets {
    fn set(&mut self, label: Label, secret: Secret) {
        let slot = match label {
            Label::ClientRandom => &mut self.master_secret,
            Label::ClientHandshakeTrafficSecret => &mut self.client_handshake,
            Label::ServerHandshakeTrafficSecret => &mut self.server_handshake,
            Label::ClientTrafficSecret0 => &mut self.client_traffic_0,
            Label::ServerTrafficSecret0 => &mut self.server_traffic_0,
            Label::Ignored => return,
        };
        *slot = Some(secret);
    }

    /// Whether both TLS 1.3 application traffic secrets are present.
    pub fn has_tls13_traffic(&self) -> bool {
        self.client_traffic_0.is_some() && self.server_traffic_0.is_some()
    }
}

/// What one line did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineOutcome {
    /// Blank line or `#` comment.
    Comment,
    /// A known label leaktap does not use.
    Ignored,
    /// A secret was stored.
    Stored,
}

/// Counters of a [`KeyLog`], read with [`KeyLog::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Client randoms held now.
    pub entries: u64,
    /// Secrets stored (a connection usually has one or four).
    pub secrets_stored: u64,
    /// Lines with a known label leaktap does not use.
    pub lines_ignored: u64,
    /// Lines that could not be used (see [`LineError`]).
    pub lines_bad: u64,
    /// Entries evicted because the store was full.
    pub evicted: u64,
    /// Lookups that found an entry.
    pub lookups_found: u64,
    /// Lookups that found nothing.
    pub lookups_missing: u64,
}

/// The outcome of loading one file (or one batch of lines).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The file (or source name) read.
    pub source: String,
    /// Lines read.
    pub lines: u64,
    /// Secrets stored.
    pub stored: u64,
    /// Blank and comment lines.
    pub comments: u64,
    /// Lines with a known label leaktap does not use.
    pub ignored: u64,
    /// Lines that could not be used.
    pub bad: u64,
    /// `source:line: reason` for the first [`DEFAULT_MAX_REPORTED_PROBLEMS`]
    /// bad lines; the text never includes the line itself (it holds secrets).
    pub problems: Vec<String>,
}

impl LoadReport {
    fn new(source: String) -> Self {
        LoadReport {
            source,
            ..LoadReport::default()
        }
    }

    fn note(&mut self, line_no: u64, result: Result<LineOutcome, LineError>) {
        self.lines += 1;
        match result {
            Ok(LineOutcome::Comment) => self.comments += 1,
            Ok(LineOutcome::Ignored) => self.ignored += 1,
            Ok(LineOutcome::Stored) => self.stored += 1,
            Err(err) => {
                self.bad += 1;
                if self.problems.len() < DEFAULT_MAX_REPORTED_PROBLEMS {
                    self.problems
                        .push(format!("{}:{line_no}: {}", self.source, err.as_str()));
                }
            }
        }
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} lines, {} secrets, {} comments, {} ignored, {} bad",
            self.source, self.lines, self.stored, self.comments, self.ignored, self.bad
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        if self.bad > self.problems.len() as u64 {
            write!(
                f,
                "\n  ... {} more bad lines",
                self.bad - self.problems.len() as u64
            )?;
        }
        Ok(())
    }
}

/// The shared key store: client random → [`Secrets`], bounded, safe to read
/// from many workers at once and to extend while they run.
///
/// Lookups take a shard read lock of the map only; inserts (one per logged
/// secret, a handful per connection) also take the eviction-order lock.
pub struct KeyLog {
    map: DashMap<[u8; 32], Secrets, ahash::RandomState>,
    /// Insertion order of client randoms, for evicting the oldest.
    order: Mutex<VecDeque<[u8; 32]>>,
    max_entries: usize,
    /// Bumped on every stored secret, so flows waiting for keys retry only
    /// when something new arrived.
    generation: AtomicU64,
    secrets_stored: AtomicU64,
    lines_ignored: AtomicU64,
    lines_bad: AtomicU64,
    evicted: AtomicU64,
    lookups_found: AtomicU64,
    lookups_missing: AtomicU64,
}

impl KeyLog {
    /// An empty store holding at most `max_entries` client randoms (at least 1).
    pub fn new(max_entries: usize) -> KeyLog {
        KeyLog {
            map: DashMap::with_hasher(ahash::RandomState::new()),
            order: Mutex::new(VecDeque::new()),
            max_entries: max_entries.max(1),
            generation: AtomicU64::new(0),
            secrets_stored: AtomicU64::new(0),
            lines_ignored: AtomicU64::new(0),
            lines_bad: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            lookups_found: AtomicU64::new(0),
            lookups_missing: AtomicU64::new(0),
        }
    }

    /// Parses one line and stores its secret. Surrounding whitespace and a
    /// trailing `\r` are ignored.
    pub fn insert_line(&self, line: &str) -> Result<LineOutcome, LineError> {
        let result = parse_line(line);
        match result {
            Ok(Some((label, random, secret))) => {
                self.insert(random, label, secret);
                Ok(LineOutcome::Stored)
            }
            Ok(None) => Ok(LineOutcome::Comment),
            Err(LineFault::Ignored) => {
                self.lines_ignored.fetch_add(1, Ordering::Relaxed);
                Ok(LineOutcome::Ignored)
            }
            Err(LineFault::Bad(err)) => {
                self.lines_bad.fetch_add(1, Ordering::Relaxed);
                Err(err)
            }
        }
    }

    /// Stores one secret for `client_random`; an entry past the limit evicts
    /// the oldest client random.
    pub fn insert(&self, client_random: [u8; 32], label: Label, secret: Secret) {
        if label == Label::Ignored {
            return;
        }
        let is_new = {
            let mut entry = self.map.entry(client_random).or_default();
            let was_empty = *entry == Secrets::default();
            entry.set(label, secret);
            was_empty
        };
        if is_new {
            // A poisoned lock only means another thread panicked mid-push;
            // the queue is still a valid list of randoms.
            let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
            order.push_back(client_random);
            while order.len() > self.max_entries {
                if let Some(old) = order.pop_front() {
                    self.map.remove(&old);
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.secrets_stored.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Reads a key log file. Only an unreadable file is an error; bad lines
    /// are counted and named in the report.
    pub fn load_file(&self, path: &Path) -> Result<LoadReport, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut report = LoadReport::new(path.display().to_string());
        self.load_bytes(&bytes, 1, &mut report);
        Ok(report)
    }

    /// Parses `bytes` as key log lines, the first being line `first_line`
    /// of `report.source`; returns the number of lines read. A final line
    /// without a newline is parsed too.
    pub fn load_bytes(&self, bytes: &[u8], first_line: u64, report: &mut LoadReport) -> u64 {
        if bytes.is_empty() {
            return 0;
        }
        // A final newline ends the last line; it does not start another.
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let mut line_no = first_line;
        for raw in body.split(|&b| b == b'\n') {
            let result = if raw.len() > MAX_LINE_BYTES {
                self.lines_bad.fetch_add(1, Ordering::Relaxed);
                Err(LineError::TooLong)
            } else {
                match std::str::from_utf8(raw) {
                    Ok(text) => self.insert_line(text),
                    Err(_) => {
                        self.lines_bad.fetch_add(1, Ordering::Relaxed);
                        Err(LineError::UnknownLabel)
                    }
                }
            };
            report.note(line_no, result);
            line_no += 1;
        }
        line_no - first_line
    }

    /// The secrets logged for `client_random`, if any.
    pub fn lookup(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        let found = self.map.get(client_random).map(|e| *e);
        let counter = if found.is_some() {
            &self.lookups_found
        } else {
            &self.lookups_missing
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// A number that changes whenever a secret is stored.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Client randoms held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The store's counters.
    pub fn stats(&self) -> KeyLogStats {
        KeyLogStats {
            entries: self.map.len() as u64,
            secrets_stored: self.secrets_stored.load(Ordering::Relaxed),
            lines_ignored: self.lines_ignored.load(Ordering::Relaxed),
            lines_bad: self.lines_bad.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            lookups_found: self.lookups_found.load(Ordering::Relaxed),
            lookups_missing: self.lookups_missing.load(Ordering::Relaxed),
        }
    }
}

impl Default for KeyLog {
    fn default() -> Self {
        KeyLog::new(DEFAULT_MAX_ENTRIES)
    }
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLog")
            .field("entries", &self.map.len())
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

/// Why a line was not stored.
enum LineFault {
    Bad(LineError),
    Ignored,
}

/// Parses a line: `Ok(None)` for blank and comment lines.
fn parse_line(line: &str) -> Result<Option<(Label, [u8; 32], Secret)>, LineFault> {
    if line.len() > MAX_LINE_BYTES {
        return Err(LineFault::Bad(LineError::TooLong));
    }
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split_ascii_whitespace();
    let (Some(label), Some(random), Some(secret)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(LineFault::Bad(LineError::FieldCount));
    };
    let label = Label::parse(label).ok_or(LineFault::Bad(LineError::UnknownLabel))?;
    if label == Label::Ignored {
        return Err(LineFault::Ignored);
    }
    if fields.next().is_some() {
        return Err(LineFault::Bad(LineError::FieldCount));
    }
    let mut client_random = [0u8; 32];
    if !decode_hex(random, &mut client_random) {
        return Err(LineFault::Bad(LineError::BadClientRandom));
    }
    let mut buf = [0u8; MAX_SECRET_BYTES];
    let n = secret.len() / 2;
    let ok_len = match label {
        Label::ClientRandom => n == 48,
        _ => n == 32 || n == 48,
    };
    if !ok_len || secret.len() % 2 != 0 {
        return Err(LineFault::Bad(LineError::BadSecret));
    }
    let Some(slot) = buf.get_mut(..n) else {
        return Err(LineFault::Bad(LineError::BadSecret));
    };
    if !decode_hex(secret, slot) {
        return Err(LineFault::Bad(LineError::BadSecret));
    }
    let secret = Secret::from_slice(slot).ok_or(LineFault::Bad(LineError::BadSecret))?;
    Ok(Some((label, client_random, secret)))
}

/// Decodes exactly `out.len()` bytes of hex (either case) from `text`.
fn decode_hex(text: &str, out: &mut [u8]) -> bool {
    let digits = text.as_bytes();
    if digits.len() != out.len() * 2 {
        return false;
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (
            pair.first().and_then(|&c| hex_value(c)),
            pair.get(1).and_then(|&c| hex_value(c)),
        ) else {
            return false;
        };
        *byte = hi << 4 | lo;
    }
    true
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "52362c10a2665e323a2adb4b9da0c10d4a8823719272f8b4c97af24f92784812";

    fn master_line() -> String {
        format!("CLIENT_RANDOM {RANDOM} {}", "ab".repeat(48))
    }

    #[test]
    fn parses_all_labels_and_counts_the_rest() {
        let log = KeyLog::default();
        let text = format!(
            "# comment\n\n{}\r\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {}\nCLIENT_TRAFFIC_SECRET_0 {RANDOM} {}\n\
             SERVER_TRAFFIC_SECRET_0 {RANDOM} {}\nEXPORTER_SECRET {RANDOM} {}\n\
             CLIENT_RANDOM {RANDOM} 1234\nBOGUS_LABEL {RANDOM} 00\nCLIENT_RANDOM zz\n\
             CLIENT_TRAFFIC_SECRET_0 {} {}",
            master_line(),
            "01".repeat(32),
            "02".repeat(32),
            "03".repeat(48),
            "04".repeat(32),
            "05".repeat(32),
            "0g".repeat(32),
            "06".repeat(32),
        );
        let mut report = LoadReport::new("keys.txt".into());
        let lines = log.load_bytes(text.as_bytes(), 1, &mut report);
        assert_eq!(lines, 12);
        assert_eq!(report.stored, 5);
        assert_eq!(report.comments, 2);
        assert_eq!(report.ignored, 1);
        assert_eq!(report.bad, 4);
        assert_eq!(
            report.problems,
            [
                "keys.txt:9: bad_secret",
                "keys.txt:10: unknown_label",
                "keys.txt:11: field_count",
                "keys.txt:12: bad_client_random"
            ]
        );
        let mut random = [0u8; 32];
        assert!(decode_hex(RANDOM, &mut random));
        let s = log.lookup(&random).unwrap();
        assert_eq!(s.master_secret.unwrap().as_bytes(), [0xab; 48]);
        assert_eq!(s.client_handshake.unwrap().as_bytes(), [1; 32]);
        assert_eq!(s.server_handshake.unwrap().as_bytes(), [2; 32]);
        assert_eq!(s.client_traffic_0.unwrap().as_bytes(), [3; 48]);
        assert_eq!(s.server_traffic_0.unwrap().as_bytes(), [4; 32]);
        assert!(s.has_tls13_traffic());
        assert_eq!(log.len(), 1);
        let st = log.stats();
        assert_eq!(
            (st.secrets_stored, st.lines_bad, st.lines_ignored),
            (5, 4, 1)
        );
        // Secrets never show in Debug output.
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("ab") && dbg.contains("48 bytes"), "{dbg}");
    }

    #[test]
    fn oldest_entry_is_evicted_at_the_limit() {
        let log = KeyLog::new(2);
        for i in 0..3u8 {
            let line = format!(
                "CLIENT_RANDOM {} {}",
                format!("{i:02x}").repeat(32),
                "ab".repeat(48)
            );
            assert_eq!(log.insert_line(&line), Ok(LineOutcome::Stored));
        }
        assert_eq!(log.len(), 2);
        assert_eq!(log.stats().evicted, 1);
        assert!(log.lookup(&[0; 32]).is_none());
        assert!(log.lookup(&[2; 32]).is_some());
        assert_eq!(log.generation(), 3);
    }

    #[test]
    fn long_and_binary_lines_are_bad_not_fatal() {
        let log = KeyLog::default();
        let mut bytes = vec![b'A'; MAX_LINE_BYTES + 1];
        bytes.push(b'\n');
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        bytes.extend_from_slice(master_line().as_bytes());
        let mut report = LoadReport::new("x".into());
        log.load_bytes(&bytes, 1, &mut report);
        assert_eq!((report.lines, report.bad, report.stored), (3, 2, 1));
        assert_eq!(report.problems[0], "x:1: too_long");
        let shown = report.to_string();
        assert!(shown.starts_with("x: 3 lines, 1 secrets"), "{shown}");
    }

    #[test]
    fn load_file_reports_missing_file() {
        let log = KeyLog::default();
        let err = log
            .load_file(Path::new("/nonexistent/keys.log"))
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read key log /nonexistent/keys.log"));
    }
}
