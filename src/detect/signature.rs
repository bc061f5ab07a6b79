//! Signature files: reading, validating and compiling `signatures/pi/*.toml` and
//! `signatures/sdks/*.toml` into one [`SignatureSet`].
//!
//! Owns the file formats (documented in `signatures/README.md`), their validation with
//! `file:line: reason` errors (unknown keys are errors), and the compiled form the detector
//! reads: PI signatures with their patterns, the key-name index, the multi-pattern
//! automata ([`super::matcher`]) and the SDK host index ([`super::sdk`]).
//!
//! Takes file texts with their names (from a directory, or the copies compiled into the
//! binary by `build.rs`); emits a [`SignatureSet`] or every problem found. Limits: file
//! size, entries, patterns and compiled automaton size (constants below). Must not: read
//! packets, or keep going with a half-valid set — one error fails the load.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::matcher::{self, KeyIndex, Matcher};
use super::sdk::SdkIndex;
use super::validate::Validator;
use crate::pi::CATEGORY_IDS;

/// Largest signature file read. The biggest real file (a few hundred SDKs) is well under
/// 100 KiB; a bigger file is a mistake, not a signature set.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Most PI signatures in one set: key-name hints are kept as a 128-bit mask per key.
pub const MAX_PI_TYPES: usize = 128;
/// Most value patterns over all PI signatures; bounds automaton construction time.
pub const MAX_PATTERNS: usize = 256;
/// Most SDK entries in one set.
pub const MAX_SDKS: usize = 4096;
/// Most keys or domains listed in one entry.
pub const MAX_LIST_ITEMS: usize = 512;
/// Longest key hint after normalisation; longer keys in traffic never match.
pub const MAX_KEY_BYTES: usize = 64;

/// SDK categories (`category` of an SDK entry, equal to its file stem).
pub const SDK_CATEGORIES: [&str; 12] = [
    "analytics",
    "push",
    "ads",
    "maps_location",
    "crash_reporting",
    "payment",
    "social_login",
    "risk_control",
    "customer_service",
    "face_recognition",
    "cloud_services",
    "other",
];

/// One problem in one signature file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct LoadError {
    /// The file as named to the loader (a path, or `pi/x.toml` for the embedded set).
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    pub reason: String,
}

/// Every problem found while loading a signature set, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// What the characters around a pattern match must not be (checked in code, because the
/// automata support no look-around).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// No ASCII letter or digit on either side.
    Alnum,
    /// No ASCII digit on either side.
    Digit,
    /// Email: no local-part character before, no domain character after.
    Email,
    /// No hex digit on either side.
    Hex,
    /// No rule.
    None,
}

impl Boundary {
    fn from_name(s: &str) -> Option<Boundary> {
        Some(match s {
            "alnum" => Boundary::Alnum,
            "digit" => Boundary::Digit,
            "email" => Boundary::Email,
            "hex" => Boundary::Hex,
            "none" => Boundary::None,
            _ => return None,
        })
    }
}

/// A PI type found by something other than one value pattern.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Special {
    /// A latitude/longitude pair: two fields of one container under `lat_keys` and
    /// `lng_keys`, or one `lat,lng` / `lng,lat` value under `keys`; in China's box, with at
    /// least `min_decimals` decimals (or integer micro-degrees).
    CoordinatePair { min_decimals: u32 },
    /// A list of at least `min_items` Android package names under one of `keys`.
    PackageList { min_items: u32 },
    /// A list with at least `min_items` mainland mobile numbers under one of `keys`.
    ContactList { min_items: u32 },
    /// A JPEG/PNG/WebP image (a binary body, a multipart part or a base64 value) sent to a
    /// host whose SDK category is one of `sdk_categories`.
    ImageUpload,
}

impl Special {
    /// The `detector = "…"` name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Special::CoordinatePair { .. } => "coordinate_pair",
            Special::PackageList { .. } => "package_list",
            Special::ContactList { .. } => "contact_list",
            Special::ImageUpload => "image_upload",
        }
    }
}

/// One value pattern of a PI signature.
#[derive(Clone, Debug)]
pub struct PiPattern {
    /// Index of the owning signature in [`SignatureSet::pi`].
    pub sig: usize,
    /// The regular expression (regex-automata syntax; no look-around, no backreferences).
    pub regex: String,
    pub boundary: Boundary,
    pub validator: Validator,
    /// Only under a matching key; then the whole (trimmed) value must match.
    pub require_key: bool,
    /// Confidence without key context (unused when `require_key`).
    pub confidence: f64,
    /// Confidence when the field's key is one of the signature's `keys`.
    pub confidence_with_key: f64,
    pub line: usize,
}

/// One PI type as the detector knows it.
#[derive(Clone, Debug)]
pub struct PiSignature {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub sensitive: bool,
    /// Key-name hints, normalised (lower case, without `_ - .`); a trailing `*` is a
    /// prefix match, a leading `*` a suffix match.
    pub keys: Vec<String>,
    /// Keys under which a 32/40/64-hex value is an MD5/SHA-1/SHA-256 of this type.
    pub hash_keys: Vec<String>,
    pub lat_keys: Vec<String>,
    pub lng_keys: Vec<String>,
    /// Keys under which a match without key context is dropped (`*id`: any key ending
    /// in `id`).
    pub not_keys: Vec<String>,
    /// Placeholder values, letters and digits only, lower case (never PI).
    pub placeholders: Vec<String>,
    pub confidence: f64,
    pub confidence_with_key: f64,
    pub special: Option<Special>,
    pub sdk_categories: Vec<String>,
    /// Indexes into [`SignatureSet::patterns`].
    pub patterns: Vec<usize>,
    pub file: String,
    pub line: usize,
}

/// One third-party SDK.
#[derive(Clone, Debug)]
pub struct Sdk {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub vendor: String,
    pub category: String,
    /// Lower-case domain suffixes: a host matches if it equals one or ends with `.` + one.
    pub domains: Vec<String>,
    /// Regular expressions on the lower-case host.
    pub host_patterns: Vec<String>,
    pub sources: Vec<String>,
    pub notes: String,
    pub file: String,
    pub line: usize,
}

/// Counts per kind, for `leaktap signatures check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub pi_types: usize,
    pub pi_patterns: usize,
    pub pi_files: usize,
    pub sdks: usize,
    pub sdk_domains: usize,
    pub sdk_host_patterns: usize,
    pub sdk_categories: usize,
    pub sdk_files: usize,
}

/// Which directory a signature file came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Pi,
    Sdk,
}

/// One signature file's name and text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub kind: FileKind,
    pub text: String,
}

/// A validated, compiled set of PI and SDK signatures. Shared read-only between workers
/// (`Arc`); reloading builds a new set and swaps the `Arc`.
pub struct SignatureSet {
    pub(crate) pi: Vec<PiSignature>,
    pub(crate) patterns: Vec<PiPattern>,
    pub(crate) sdks: Vec<Sdk>,
    pub(crate) matcher: Matcher,
    pub(crate) keys: KeyIndex,
    pub(crate) sdk_index: SdkIndex,
    pub(crate) counts: Counts,
    /// Bit per signature whose special detector is an image upload.
    pub(crate) image_sigs: u128,
    /// Bit per signature with at least one key-gated pattern.
    pub(crate) keyed_sigs: u128,
    /// Bit per coordinate-pair signature.
    pub(crate) pair_sigs: u128,
    /// Bit per package-list or contact-list signature.
    pub(crate) list_sigs: u128,
    /// MD5/SHA-1/SHA-256 (lower-case hex) of placeholder values: a hash of nothing is not
    /// a hashed identifier.
    pub(crate) placeholder_hashes: Vec<String>,
}

impl Default for SignatureSet {
    /// The empty set: detects nothing, attributes nothing.
    fn default() -> Self {
        SignatureSet {
            pi: Vec::new(),
            patterns: Vec::new(),
            sdks: Vec::new(),
            matcher: Matcher::default(),
            keys: KeyIndex::default(),
            sdk_index: SdkIndex::default(),
            counts: Counts::default(),
            image_sigs: 0,
            keyed_sigs: 0,
            pair_sigs: 0,
            list_sigs: 0,
            placeholder_hashes: Vec::new(),
        }
    }
}

impl fmt::Debug for SignatureSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureSet")
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl SignatureSet {
    /// Loads `dir/pi/*.toml` and `dir/sdks/*.toml` (sorted by name). Errors name each file
    /// by its path under `dir`.
    pub fn load_dir(dir: &Path) -> Result<SignatureSet, LoadErrors> {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        let mut found_dir = false;
        for (sub, kind) in [("pi", FileKind::Pi), ("sdks", FileKind::Sdk)] {
            let sub_dir = dir.join(sub);
            let entries = match std::fs::read_dir(&sub_dir) {
                Ok(entries) => entries,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => {
                    errors.push(file_error(&sub_dir, &err.to_string()));
                    continue;
                }
            };
            found_dir = true;
            let mut paths: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                match read_limited(&path) {
                    Ok(text) => files.push(SourceFile {
                        name: path.display().to_string(),
                        kind,
                        text,
                    }),
                    Err(reason) => errors.push(file_error(&path, &reason)),
                }
            }
        }
        if !found_dir {
            errors.push(file_error(
                dir,
                "no pi/ or sdks/ directory with signature files",
            ));
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        SignatureSet::from_files(&files)
    }

    /// The signatures compiled into the binary (`signatures/**/*.toml` at build time).
    pub fn embedded() -> Result<SignatureSet, LoadErrors> {
        SignatureSet::from_files(&super::embedded::files())
    }

    /// Validates and compiles the given files. All problems are collected; any problem
    /// fails the load.
    pub fn from_files(files: &[SourceFile]) -> Result<SignatureSet, LoadErrors> {
        let mut b = Builder::default();
        for file in files {
            if file.text.len() > MAX_FILE_BYTES {
                b.err(
                    &file.name,
                    0,
                    format!("file is larger than {MAX_FILE_BYTES} bytes"),
                );
                continue;
            }
            match file.kind {
                FileKind::Pi => {
                    b.counts.pi_files += 1;
                    b.pi_file(file);
                }
                FileKind::Sdk => {
                    b.counts.sdk_files += 1;
                    b.sdk_file(file);
                }
            }
        }
        b.finish()
    }

    /// Counts per kind.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// PI signatures in load order.
    pub fn pi_signatures(&self) -> &[PiSignature] {
        &self.pi
    }

    /// A PI signature by id.
    pub fn pi_signature(&self, id: &str) -> Option<&PiSignature> {
        self.pi.iter().find(|s| s.id == id)
    }

    /// SDK entries in load order.
    pub fn sdks(&self) -> &[Sdk] {
        &self.sdks
    }

    pub(crate) fn keyed_sigs(&self) -> u128 {
        self.keyed_sigs
    }

    pub(crate) fn pair_sigs(&self) -> u128 {
        self.pair_sigs
    }

    pub(crate) fn list_sigs(&self) -> u128 {
        self.list_sigs
    }

    /// True if `hex` (32/40/64 hex digits, either case) hashes a placeholder value.
    pub(crate) fn is_placeholder_hash(&self, hex: &[u8]) -> bool {
        self.placeholder_hashes
            .iter()
            .any(|h| h.as_bytes().eq_ignore_ascii_case(hex))
    }

    /// The SDK a host belongs to: the longest matching domain suffix, else the first
    /// matching host pattern. Case-insensitive; a trailing dot and a `:port` are ignored.
    /// Does not allocate.
    pub fn sdk_for_host(&self, host: &str) -> Option<&Sdk> {
        self.sdk_index.lookup(host).and_then(|i| self.sdks.get(i))
    }

    /// As [`SignatureSet::sdk_for_host`], the SDK's index in [`SignatureSet::sdks`].
    pub fn sdk_index_for_host(&self, host: &str) -> Option<usize> {
        self.sdk_index.lookup(host)
    }
}

fn file_error(path: &Path, reason: &str) -> LoadError {
    LoadError {
        file: path.display().to_string(),
        line: 0,
        reason: reason.to_string(),
    }
}

fn read_limited(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(format!("file is larger than {MAX_FILE_BYTES} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

/// 1-based line of a byte offset in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()
        .get(..end)
        .map_or(1, |b| b.iter().filter(|&&c| c == b'\n').count() + 1)
}

// ---- file formats ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPiFile {
    #[serde(default)]
    pi: Vec<RawPi>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPi {
    id: Spanned<String>,
    name_zh: Spanned<String>,
    name_en: Spanned<String>,
    category: Spanned<String>,
    sensitive: bool,
    #[serde(default)]
    keys: Vec<Spanned<String>>,
    #[serde(default)]
    hash_keys: Vec<Spanned<String>>,
    #[serde(default)]
    lat_keys: Vec<Spanned<String>>,
    #[serde(default)]
    lng_keys: Vec<Spanned<String>>,
    #[serde(default)]
    not_keys: Vec<Spanned<String>>,
    #[serde(default)]
    placeholders: Vec<Spanned<String>>,
    confidence: Option<Spanned<f64>>,
    confidence_with_key: Option<Spanned<f64>>,
    detector: Option<Spanned<String>>,
    min_decimals: Option<Spanned<u32>>,
    min_items: Option<Spanned<u32>>,
    #[serde(default)]
    sdk_categories: Vec<Spanned<String>>,
    #[serde(default)]
    pattern: Vec<Spanned<RawPattern>>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    notes: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    regex: Spanned<String>,
    boundary: Option<Spanned<String>>,
    validator: Option<Spanned<String>>,
    #[serde(default)]
    require_key: bool,
    confidence: Option<Spanned<f64>>,
    confidence_with_key: Option<Spanned<f64>>,
    #[serde(default)]
    notes: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSdkFile {
    #[serde(default)]
    sdk: Vec<RawSdk>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSdk {
    id: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    name_en: String,
    vendor: Spanned<String>,
    category: Spanned<String>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    host_patterns: Vec<Spanned<String>>,
    #[serde(default)]
    sources: Vec<Spanned<String>>,
    #[serde(default)]
    notes: String,
}

/// Default confidence of a pattern hit without key context.
const DEFAULT_CONFIDENCE: f64 = 0.7;
/// Default confidence of a hit under a matching key.
const DEFAULT_CONFIDENCE_WITH_KEY: f64 = 0.95;
/// Default decimals required of a coordinate (3 decimals ≈ 110 m, regulation-cn.md §6).
const DEFAULT_MIN_DECIMALS: u32 = 3;
/// Default package names that make an app list.
const DEFAULT_MIN_PACKAGES: u32 = 3;
/// Default phone numbers that make a contact list.
const DEFAULT_MIN_CONTACTS: u32 = 2;

#[derive(Default)]
struct Builder {
    errors: Vec<LoadError>,
    pi: Vec<PiSignature>,
    patterns: Vec<PiPattern>,
    sdks: Vec<Sdk>,
    pi_ids: HashMap<String, (String, usize)>,
    sdk_ids: HashMap<String, (String, usize)>,
    domains: HashMap<String, usize>,
    counts: Counts,
}

/// Helpers over one file's text.
struct Src<'a> {
    name: &'a str,
    text: &'a str,
}

impl Src<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        line_of(self.text, span.start)
    }
}

fn is_snake_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn valid_domain(d: &str) -> bool {
    let b = d.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && d.contains('.')
        && !d.starts_with('.')
        && !d.ends_with('.')
        && !d.contains("..")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
}

impl Builder {
    fn err(&mut self, file: &str, line: usize, reason: impl Into<String>) {
        self.errors.push(LoadError {
            file: file.to_string(),
            line,
            reason: reason.into(),
        });
    }

    fn toml_error(&mut self, src: &Src<'_>, err: &toml::de::Error) {
        let line = err.span().map_or(1, |s| src.line(s));
        let reason = err.message().trim().replace('\n', " ");
        self.err(src.name, line, reason);
    }

    fn confidence(&mut self, src: &Src<'_>, v: &Option<Spanned<f64>>, default: f64) -> f64 {
        match v {
            Some(c) if !(0.0..=1.0).contains(c.get_ref()) => {
                let line = src.line(c.span());
                self.err(src.name, line, "confidence must be between 0 and 1");
                default
            }
            Some(c) => *c.get_ref(),
            None => default,
        }
    }

    /// Normalises a list of key hints; reports empty or too long ones.
    fn keys(&mut self, src: &Src<'_>, field: &str, raw: &[Spanned<String>]) -> Vec<String> {
        if raw.len() > MAX_LIST_ITEMS {
            let line = raw.first().map_or(1, |k| src.line(k.span()));
            self.err(
                src.name,
                line,
                format!("{field}: more than {MAX_LIST_ITEMS} entries"),
            );
        }
        let mut out = Vec::with_capacity(raw.len());
        for k in raw.iter().take(MAX_LIST_ITEMS) {
            let line = src.line(k.span());
            let raw = k.get_ref().as_str();
            let (body, prefix, suffix) = match (raw.strip_prefix('*'), raw.strip_suffix('*')) {
                (Some(body), _) => (body, false, true),
                (None, Some(body)) => (body, true, false),
                (None, None) => (raw, false, false),
            };
            let mut buf = [0u8; MAX_KEY_BYTES];
            match matcher::normalize_key(body.as_bytes(), &mut buf) {
                Some(n) if n > 0 => {
                    let mut s = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if prefix {
                        s.push('*');
                    }
                    if suffix {
                        s.insert(0, '*');
                    }
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
                _ => self.err(
                    src.name,
                    line,
                    format!(
                        "{field}: key {:?} is empty or longer than {MAX_KEY_BYTES} bytes",
                        k.get_ref()
                    ),
                ),
            }
        }
        out
    }

    fn pi_file(&mut self, file: &SourceFile) {
        let src = Src {
            name: &file.name,
            text: &file.text,
        };
        let raw: RawPiFile = match toml::from_str(&file.text) {
            Ok(raw) => raw,
            Err(err) => return self.toml_error(&src, &err),
        };
        if raw.pi.is_empty() {
            self.err(src.name, 1, "no [[pi]] entries");
        }
        for entry in raw.pi {
            self.pi_entry(&src, entry);
        }
    }

    fn pi_entry(&mut self, src: &Src<'_>, e: RawPi) {
        let line = src.line(e.id.span());
        let id = e.id.get_ref().clone();
        if !is_snake_id(&id) {
            self.err(
                src.name,
                line,
                format!("id {id:?} is not snake_case (a-z, 0-9, _)"),
            );
        }
        if let Some((file, first)) = self.pi_ids.get(&id) {
            let msg = format!("duplicate PI id {id:?} (first defined at {file}:{first})");
            self.err(src.name, line, msg);
        } else {
            self.pi_ids.insert(id.clone(), (src.name.to_string(), line));
        }
        for (field, value) in [("name_zh", &e.name_zh), ("name_en", &e.name_en)] {
            if value.get_ref().trim().is_empty() {
                let l = src.line(value.span());
                self.err(src.name, l, format!("{field} is empty"));
            }
        }
        if !CATEGORY_IDS.contains(&e.category.get_ref().as_str()) {
            let l = src.line(e.category.span());
            let msg = format!(
                "unknown category {:?} (expected one of {})",
                e.category.get_ref(),
                CATEGORY_IDS.join(", ")
            );
            self.err(src.name, l, msg);
        }
        let confidence = self.confidence(src, &e.confidence, DEFAULT_CONFIDENCE);
        let confidence_with_key =
            self.confidence(src, &e.confidence_with_key, DEFAULT_CONFIDENCE_WITH_KEY);
        let keys = self.keys(src, "keys", &e.keys);
        let hash_keys = self.keys(src, "hash_keys", &e.hash_keys);
        let lat_keys = self.keys(src, "lat_keys", &e.lat_keys);
        let lng_keys = self.keys(src, "lng_keys", &e.lng_keys);
        let not_keys = self.keys(src, "not_keys", &e.not_keys);
        let placeholders = e
            .placeholders
            .iter()
            .filter_map(|p| {
                let mut buf = [0u8; MAX_KEY_BYTES];
                let n = matcher::normalize_value(p.get_ref().as_bytes(), &mut buf)?;
                Some(String::from_utf8_lossy(buf.get(..n)?).into_owned())
            })
            .collect();
        let sig_index = self.pi.len();
        if sig_index >= MAX_PI_TYPES {
            self.err(
                src.name,
                line,
                format!("more than {MAX_PI_TYPES} PI signatures"),
            );
            return;
        }

        let special = match &e.detector {
            None => None,
            Some(d) => {
                let l = src.line(d.span());
                let min_items = e.min_items.as_ref().map(|m| *m.get_ref());
                match d.get_ref().as_str() {
                    "coordinate_pair" => {
                        if lat_keys.is_empty() || lng_keys.is_empty() {
                            self.err(src.name, l, "coordinate_pair needs lat_keys and lng_keys");
                        }
                        Some(Special::CoordinatePair {
                            min_decimals: e
                                .min_decimals
                                .as_ref()
                                .map_or(DEFAULT_MIN_DECIMALS, |m| *m.get_ref()),
                        })
                    }
                    "package_list" => Some(Special::PackageList {
                        min_items: min_items.unwrap_or(DEFAULT_MIN_PACKAGES).max(1),
                    }),
                    "contact_list" => Some(Special::ContactList {
                        min_items: min_items.unwrap_or(DEFAULT_MIN_CONTACTS).max(1),
                    }),
                    "image_upload" => {
                        if e.sdk_categories.is_empty() {
                            self.err(src.name, l, "image_upload needs sdk_categories");
                        }
                        Some(Special::ImageUpload)
                    }
                    other => {
                        self.err(
                            src.name,
                            l,
                            format!(
                                "unknown detector {other:?} (expected coordinate_pair, \
                                 package_list, contact_list, image_upload)"
                            ),
                        );
                        None
                    }
                }
            }
        };
        if matches!(
            special,
            Some(Special::PackageList { .. } | Special::ContactList { .. })
        ) && keys.is_empty()
        {
            self.err(src.name, line, "package_list and contact_list need keys");
        }
        let mut sdk_categories = Vec::new();
        for c in &e.sdk_categories {
            if SDK_CATEGORIES.contains(&c.get_ref().as_str()) {
                sdk_categories.push(c.get_ref().clone());
            } else {
                let l = src.line(c.span());
                self.err(
                    src.name,
                    l,
                    format!("unknown SDK category {:?}", c.get_ref()),
                );
            }
        }
        if e.detector.is_some() && !e.pattern.is_empty() {
            self.err(
                src.name,
                line,
                "an entry has either [[pi.pattern]] or detector, not both",
            );
        }
        if e.detector.is_none() && e.pattern.is_empty() {
            self.err(src.name, line, "no [[pi.pattern]] and no detector");
        }

        let mut patterns = Vec::new();
        for p in &e.pattern {
            let pline = src.line(p.span());
            let p = p.get_ref();
            let rline = src.line(p.regex.span());
            if let Err(reason) = matcher::check_pattern(p.regex.get_ref()) {
                self.err(src.name, rline, format!("regex: {reason}"));
                continue;
            }
            let boundary = match &p.boundary {
                None => Boundary::Alnum,
                Some(b) => match Boundary::from_name(b.get_ref()) {
                    Some(b) => b,
                    None => {
                        let l = src.line(b.span());
                        let msg = format!(
                            "unknown boundary {:?} (expected alnum, digit, email, hex, none)",
                            b.get_ref()
                        );
                        self.err(src.name, l, msg);
                        continue;
                    }
                },
            };
            let validator = match &p.validator {
                None => Validator::None,
                Some(v) => match Validator::from_name(v.get_ref()) {
                    Some(v) => v,
                    None => {
                        let l = src.line(v.span());
                        let names: Vec<&str> = Validator::ALL.iter().map(|v| v.as_str()).collect();
                        let msg = format!(
                            "unknown validator {:?} (expected one of {})",
                            v.get_ref(),
                            names.join(", ")
                        );
                        self.err(src.name, l, msg);
                        continue;
                    }
                },
            };
            if p.require_key && keys.is_empty() {
                self.err(
                    src.name,
                    pline,
                    "require_key = true but the entry has no keys",
                );
            }
            let pc = self.confidence(src, &p.confidence, confidence);
            let pck = self.confidence(src, &p.confidence_with_key, confidence_with_key);
            if self.patterns.len() >= MAX_PATTERNS {
                self.err(
                    src.name,
                    pline,
                    format!("more than {MAX_PATTERNS} patterns"),
                );
                continue;
            }
            let _ = &p.notes;
            patterns.push(self.patterns.len());
            self.patterns.push(PiPattern {
                sig: sig_index,
                regex: p.regex.get_ref().clone(),
                boundary,
                validator,
                require_key: p.require_key,
                confidence: pc,
                confidence_with_key: pck,
                line: rline,
            });
        }
        let _ = (&e.sources, &e.notes);
        self.pi.push(PiSignature {
            id,
            name_zh: e.name_zh.into_inner(),
            name_en: e.name_en.into_inner(),
            category: e.category.into_inner(),
            sensitive: e.sensitive,
            keys,
            hash_keys,
            lat_keys,
            lng_keys,
            not_keys,
            placeholders,
            confidence,
            confidence_with_key,
            special,
            sdk_categories,
            patterns,
            file: src.name.to_string(),
            line,
        });
    }

    fn sdk_file(&mut self, file: &SourceFile) {
        let src = Src {
            name: &file.name,
            text: &file.text,
        };
        let stem = Path::new(&file.name)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if !SDK_CATEGORIES.contains(&stem.as_str()) {
            let msg = format!(
                "file name must be <category>.toml with a category of {}",
                SDK_CATEGORIES.join(", ")
            );
            self.err(src.name, 1, msg);
        }
        let raw: RawSdkFile = match toml::from_str(&file.text) {
            Ok(raw) => raw,
            Err(err) => return self.toml_error(&src, &err),
        };
        if raw.sdk.is_empty() {
            self.err(src.name, 1, "no [[sdk]] entries");
        }
        for entry in raw.sdk {
            self.sdk_entry(&src, &stem, entry);
        }
    }

    fn sdk_entry(&mut self, src: &Src<'_>, stem: &str, e: RawSdk) {
        let line = src.line(e.id.span());
        let id = e.id.get_ref().clone();
        if !is_snake_id(&id) {
            self.err(
                src.name,
                line,
                format!("id {id:?} is not snake_case (a-z, 0-9, _)"),
            );
        }
        if let Some((file, first)) = self.sdk_ids.get(&id) {
            let msg = format!("duplicate SDK id {id:?} (first defined at {file}:{first})");
            self.err(src.name, line, msg);
        } else {
            self.sdk_ids
                .insert(id.clone(), (src.name.to_string(), line));
        }
        for (field, value) in [("name", &e.name), ("vendor", &e.vendor)] {
            if value.get_ref().trim().is_empty() {
                let l = src.line(value.span());
                self.err(src.name, l, format!("{field} is empty"));
            }
        }
        if e.category.get_ref() != stem {
            let l = src.line(e.category.span());
            let msg = format!(
                "category {:?} differs from the file name ({stem}.toml)",
                e.category.get_ref()
            );
            self.err(src.name, l, msg);
        }
        if e.domains.is_empty() && e.host_patterns.is_empty() {
            self.err(src.name, line, "neither domains nor host_patterns");
        }
        if e.sources.is_empty() || e.sources.iter().all(|s| s.get_ref().trim().is_empty()) {
            self.err(
                src.name,
                line,
                "sources is empty (say where the entry comes from)",
            );
        }
        if e.domains.len() + e.host_patterns.len() > MAX_LIST_ITEMS {
            self.err(
                src.name,
                line,
                format!("more than {MAX_LIST_ITEMS} domains"),
            );
        }
        let index = self.sdks.len();
        if index >= MAX_SDKS {
            self.err(src.name, line, format!("more than {MAX_SDKS} SDKs"));
            return;
        }
        let mut domains = Vec::new();
        for d in &e.domains {
            let l = src.line(d.span());
            let domain = d.get_ref();
            if !valid_domain(domain) {
                self.err(
                    src.name,
                    l,
                    format!(
                        "domain {domain:?} is not a lower-case host suffix like \"umeng.com\" \
                         (no scheme, dots at the ends, wildcards or upper case)"
                    ),
                );
                continue;
            }
            if let Some(&other) = self.domains.get(domain) {
                let owner = self.sdks.get(other).map_or(id.clone(), |s| s.id.clone());
                let msg = format!("domain {domain:?} is already listed by SDK {owner:?}");
                self.err(src.name, l, msg);
                continue;
            }
            self.domains.insert(domain.clone(), index);
            domains.push(domain.clone());
        }
        let mut host_patterns = Vec::new();
        for p in &e.host_patterns {
            let l = src.line(p.span());
            if let Err(reason) = matcher::check_host_pattern(p.get_ref()) {
                self.err(src.name, l, format!("host_patterns: {reason}"));
                continue;
            }
            host_patterns.push(p.get_ref().clone());
        }
        self.sdks.push(Sdk {
            id,
            name: e.name.into_inner(),
            name_en: e.name_en,
            vendor: e.vendor.into_inner(),
            category: e.category.into_inner(),
            domains,
            host_patterns,
            sources: e.sources.into_iter().map(Spanned::into_inner).collect(),
            notes: e.notes,
            file: src.name.to_string(),
            line,
        });
    }

    fn finish(mut self) -> Result<SignatureSet, LoadErrors> {
        if !self.errors.is_empty() {
            return Err(LoadErrors(self.errors));
        }
        let matcher = match Matcher::build(&self.patterns) {
            Ok(m) => m,
            Err((pattern, reason)) => {
                let (file, line) = self
                    .patterns
                    .get(pattern)
                    .and_then(|p| self.pi.get(p.sig).map(|s| (s.file.clone(), p.line)))
                    .unwrap_or_default();
                self.err(
                    &file,
                    line,
                    format!("patterns cannot be compiled together: {reason}"),
                );
                return Err(LoadErrors(self.errors));
            }
        };
        let keys = KeyIndex::build(&self.pi);
        let sdk_index = match SdkIndex::build(&self.sdks) {
            Ok(index) => index,
            Err(reason) => {
                let (file, line) = self
                    .sdks
                    .iter()
                    .find(|s| !s.host_patterns.is_empty())
                    .map(|s| (s.file.clone(), s.line))
                    .unwrap_or_default();
                self.err(
                    &file,
                    line,
                    format!("host_patterns cannot be compiled: {reason}"),
                );
                return Err(LoadErrors(self.errors));
            }
        };
        let mut counts = self.counts;
        counts.pi_types = self.pi.len();
        counts.pi_patterns = self.patterns.len();
        counts.sdks = self.sdks.len();
        counts.sdk_domains = self.sdks.iter().map(|s| s.domains.len()).sum();
        counts.sdk_host_patterns = self.sdks.iter().map(|s| s.host_patterns.len()).sum();
        counts.sdk_categories = self
            .sdks
            .iter()
            .map(|s| s.category.as_str())
            .collect::<BTreeSet<_>>()
            .len();
        let bits = |f: &dyn Fn(&PiSignature) -> bool| {
            self.pi
                .iter()
                .enumerate()
                .filter(|(_, s)| f(s))
                .fold(0u128, |m, (i, _)| m | 1 << i)
        };
        let image_sigs = bits(&|s| matches!(s.special, Some(Special::ImageUpload)));
        let pair_sigs = bits(&|s| matches!(s.special, Some(Special::CoordinatePair { .. })));
        let list_sigs = bits(&|s| {
            matches!(
                s.special,
                Some(Special::PackageList { .. } | Special::ContactList { .. })
            )
        });
        let patterns = &self.patterns;
        let keyed_sigs = bits(&|s| {
            s.patterns
                .iter()
                .any(|&p| patterns.get(p).is_some_and(|p| p.require_key))
        });
        Ok(SignatureSet {
            pi: self.pi,
            patterns: self.patterns,
            sdks: self.sdks,
            matcher,
            keys,
            sdk_index,
            counts,
            image_sigs,
            keyed_sigs,
            pair_sigs,
            list_sigs,
            placeholder_hashes: placeholder_hashes(),
        })
    }
}

/// Values that stand for "no identifier" (regulation-cn.md §6), hashed as SDKs hash
/// identifiers.
const PLACEHOLDER_VALUES: [&str; 10] = [
    "",
    "0",
    "null",
    "unknown",
    "000000000000000",
    "00000000-0000-0000-0000-000000000000",
    "02:00:00:00:00:00",
    "020000000000",
    "9774d56d682e549c",
    "0000000000000000",
];

fn placeholder_hashes() -> Vec<String> {
    use md5::Digest as _;
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    let mut out = Vec::new();
    for v in PLACEHOLDER_VALUES {
        for variant in [v.to_string(), v.to_ascii_uppercase()] {
            out.push(hex(&md5::Md5::digest(variant.as_bytes())));
            out.push(hex(&sha1::Sha1::digest(variant.as_bytes())));
            out.push(hex(&sha2::Sha256::digest(variant.as_bytes())));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pi(text: &str) -> SourceFile {
        SourceFile {
            name: "pi/test.toml".into(),
            kind: FileKind::Pi,
            text: text.into(),
        }
    }

    fn sdk(stem: &str, text: &str) -> SourceFile {
        SourceFile {
            name: format!("sdks/{stem}.toml"),
            kind: FileKind::Sdk,
            text: text.into(),
        }
    }

    const PHONE: &str = r#"
[[pi]]
id = "phone_number"
name_zh = "手机号码"
name_en = "mobile phone number"
category = "basic"
sensitive = false
keys = ["phone", "Mobile_No"]

[[pi.pattern]]
regex = '1[3-9][0-9]{9}'
boundary = "alnum"
validator = "cn_mobile"
confidence = 0.8
"#;

    const UMENG: &str = r#"
[[sdk]]
id = "umeng_analytics"
name = "友盟+ 统计分析"
name_en = "Umeng+ Analytics"
vendor = "Alibaba"
category = "analytics"
domains = ["umeng.com", "umengcloud.com"]
host_patterns = ['^ulogs\.umeng[a-z]*\.com$']
sources = ["test"]
notes = ""
"#;

    fn errors(files: &[SourceFile]) -> Vec<String> {
        match SignatureSet::from_files(files) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn loads_and_counts() {
        let set = SignatureSet::from_files(&[pi(PHONE), sdk("analytics", UMENG)]).unwrap();
        let c = set.counts();
        assert_eq!(
            (c.pi_types, c.pi_patterns, c.sdks, c.sdk_domains),
            (1, 1, 1, 2)
        );
        assert_eq!(c.sdk_categories, 1);
        let phone = set.pi_signature("phone_number").unwrap();
        assert_eq!(phone.keys, ["phone", "mobileno"]);
        assert_eq!(phone.patterns, [0]);
        assert_eq!(set.patterns[0].confidence, 0.8);
        assert_eq!(
            set.patterns[0].confidence_with_key,
            DEFAULT_CONFIDENCE_WITH_KEY
        );
        assert_eq!(
            set.sdk_for_host("a.b.UMENG.com.").map(|s| s.id.as_str()),
            Some("umeng_analytics")
        );
        assert_eq!(
            set.sdk_for_host("umeng.com:443").map(|s| s.id.as_str()),
            Some("umeng_analytics")
        );
        assert!(set.sdk_for_host("xumeng.com").is_none());
        assert_eq!(
            set.sdk_for_host("ulogs.umengx.com").map(|s| s.id.as_str()),
            Some("umeng_analytics")
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = PHONE.replace("validator = \"cn_mobile\"", "validator = \"cn_mobil\"");
        let errs = errors(&[pi(&bad)]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("pi/test.toml:13: unknown validator \"cn_mobil\""),
            "{errs:?}"
        );

        let unknown = PHONE.replace("sensitive = false", "sensitive = false\nsensitiv = true");
        let errs = errors(&[pi(&unknown)]);
        assert!(
            errs[0].starts_with("pi/test.toml:8: unknown field `sensitiv`"),
            "{errs:?}"
        );

        let syntax = PHONE.replace("category = \"basic\"", "category = basic");
        let errs = errors(&[pi(&syntax)]);
        assert!(errs[0].starts_with("pi/test.toml:6: "), "{errs:?}");

        let look = PHONE.replace("'1[3-9][0-9]{9}'", "'(?<![0-9])1[3-9][0-9]{9}'");
        let errs = errors(&[pi(&look)]);
        assert!(errs[0].starts_with("pi/test.toml:11: regex: "), "{errs:?}");

        let empty = PHONE.replace("'1[3-9][0-9]{9}'", "'[0-9]*'");
        let errs = errors(&[pi(&empty)]);
        assert!(errs[0].contains("empty"), "{errs:?}");

        let dup = format!(
            "{PHONE}\n{}",
            PHONE.replace("[[pi.pattern]]", "[[pi.pattern]]\n")
        );
        let errs = errors(&[pi(&dup)]);
        assert!(
            errs[0].contains("duplicate PI id \"phone_number\""),
            "{errs:?}"
        );
        assert!(errs[0].starts_with("pi/test.toml:18:"), "{errs:?}");
    }

    #[test]
    fn sdk_errors() {
        let errs = errors(&[sdk("push", UMENG)]);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("sdks/push.toml:7: category \"analytics\" differs")),
            "{errs:?}"
        );
        let bad = UMENG.replace("\"umengcloud.com\"", "\"*.umengcloud.com\"");
        let errs = errors(&[sdk("analytics", &bad)]);
        assert!(
            errs[0].starts_with("sdks/analytics.toml:8: domain \"*.umengcloud.com\""),
            "{errs:?}"
        );
        let twice = format!("{UMENG}{}", UMENG.replace("umeng_analytics", "umeng_push"));
        let errs = errors(&[sdk("analytics", &twice)]);
        assert!(
            errs[0].contains("already listed by SDK \"umeng_analytics\""),
            "{errs:?}"
        );
        let nosrc = UMENG.replace("sources = [\"test\"]", "");
        let errs = errors(&[sdk("analytics", &nosrc)]);
        assert!(errs[0].contains("sources is empty"), "{errs:?}");
        let wrong_file = errors(&[sdk("trackers", UMENG)]);
        assert!(
            wrong_file[0].starts_with("sdks/trackers.toml:1: file name"),
            "{wrong_file:?}"
        );
    }

    #[test]
    fn embedded_set_loads() {
        let start = std::time::Instant::now();
        let set = SignatureSet::embedded().unwrap_or_else(|e| panic!("{e}"));
        let c = set.counts();
        assert!(c.pi_types >= 21, "{c:?}");
        for sig in set.pi_signatures() {
            assert!(
                crate::pi::pi_type(&sig.id).is_some(),
                "{} is not in the taxonomy",
                sig.id
            );
        }
        eprintln!(
            "embedded: {c:?}, automata {} bytes, built in {:?}",
            set.matcher.memory_bytes(),
            start.elapsed()
        );
    }
}
