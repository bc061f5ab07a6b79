//! Detection: which strings in a message are personal information, and which third party
//! a host belongs to.
//!
//! Owns the signature files' formats and loading ([`signature`], [`embedded`]), the
//! compiled multi-pattern automata ([`matcher`]), field extraction and decoding
//! ([`field`]), validators by name ([`validate`]), host → SDK attribution ([`sdk`]) and
//! the per-worker [`Detector`].
//!
//! Takes: complete HTTP requests from `proto`, raw client→server bytes of other
//! protocols, host names; a shared read-only [`SignatureSet`]. Emits: [`PiHit`]s per
//! message (unmasked; [`SignatureSet::pi_item`] masks them for records) and SDK entries.
//!
//! Limits: [`Limits`] (fields per message, JSON depth, decoding depth and size, hits per
//! message, raw window), each counted in [`DetectStats`] when hit; signature-file limits
//! in [`signature`]. Must not: read the clock, log or count PI values, open files on the
//! packet path, or run a backtracking regex engine on packet data.

pub mod detector;
pub mod embedded;
pub mod field;
pub mod matcher;
pub mod sdk;
pub mod signature;
pub mod validate;

use std::collections::BTreeMap;

pub use detector::Detector;
pub use signature::{
    Counts, FileKind, LoadError, LoadErrors, PiSignature, Sdk, SignatureSet, SourceFile,
};

use crate::proto::http::Request;
use crate::record::{mask, PiItem, PiMethod, SdkRef};

/// Fields (values) examined per message; beyond it the rest of the message is skipped
/// (`fields_cap`). A large telemetry batch has a few thousand leaves.
pub const DEFAULT_MAX_FIELDS: usize = 4096;
/// JSON nesting followed; deeper structure is not walked (`json_depth_cap`). Real API
/// payloads stay under 16 levels.
pub const DEFAULT_MAX_JSON_DEPTH: usize = 32;
/// Decoding layers (URL, base64, hex) peeled from one value: two cover URL-encoded base64,
/// the common case, while bounding work on adversarial nesting.
pub const DEFAULT_MAX_DECODE_DEPTH: u8 = 2;
/// Largest decoded layer (base64, hex, gzip output); larger ones are not decoded
/// (`decode_size_cap`). Matches the HTTP decoded-body cap.
pub const DEFAULT_MAX_DECODED_BYTES: usize = 1024 * 1024;
/// PI items kept per message (`hits_cap`); a contact upload may hold hundreds.
pub const DEFAULT_MAX_HITS: usize = 256;
/// Client→server bytes scanned per flow of an unparsed protocol (`raw_window_cap`):
/// identifiers are sent early, in the first requests of a connection.
pub const DEFAULT_RAW_WINDOW_BYTES: usize = 64 * 1024;
/// `sdk_contact` keys (session, SDK, host, phase) remembered per worker before the set is
/// cleared (a contact may then be reported again; counted as `contact_set_reset`). A long
/// lab day produces thousands, not tens of thousands.
pub const DEFAULT_MAX_SDK_CONTACTS: usize = 65_536;

/// Detector limits (config `[detect]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_fields: usize,
    pub max_json_depth: usize,
    pub max_decode_depth: u8,
    pub max_decoded_bytes: usize,
    pub max_hits: usize,
    pub raw_window_bytes: usize,
    /// Used by the pipeline: see [`DEFAULT_MAX_SDK_CONTACTS`].
    pub max_sdk_contacts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_fields: DEFAULT_MAX_FIELDS,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
            max_decode_depth: DEFAULT_MAX_DECODE_DEPTH,
            max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES,
            max_hits: DEFAULT_MAX_HITS,
            raw_window_bytes: DEFAULT_RAW_WINDOW_BYTES,
            max_sdk_contacts: DEFAULT_MAX_SDK_CONTACTS,
        }
    }
}

/// Detector counters (worker-local).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DetectStats {
    /// HTTP requests scanned.
    pub messages: u64,
    /// Raw stream chunks scanned and their bytes.
    pub raw_chunks: u64,
    pub raw_bytes: u64,
    /// Values examined.
    pub fields: u64,
    /// Pattern matches that passed the boundary rules.
    pub candidates: u64,
    /// PI items reported.
    pub hits: u64,
    pub rejected_validator: u64,
    pub rejected_placeholder: u64,
    /// Soft matches (ICCID checksum) without key context.
    pub rejected_key: u64,
    pub decoded_url: u64,
    pub decoded_base64: u64,
    pub decoded_hex: u64,
    pub decoded_gzip: u64,
    /// Limits hit.
    pub fields_cap: u64,
    pub json_depth_cap: u64,
    pub json_invalid: u64,
    pub decode_size_cap: u64,
    pub hits_cap: u64,
    pub candidates_cap: u64,
    pub raw_window_cap: u64,
    /// The automaton stopped early (not expected; counted to be sure).
    pub match_errors: u64,
    /// `sdk_contact` dedupe set cleared at its limit.
    pub contact_set_reset: u64,
    /// PI items in `pi_leak` records by PI type id.
    pub leaks_by_type: BTreeMap<String, u64>,
    /// `pi_leak` records by SDK id (`-` for no known SDK).
    pub leaks_by_sdk: BTreeMap<String, u64>,
}

impl DetectStats {
    /// Limit and problem counters as (kind, count), for the run summary.
    pub fn anomalies(&self) -> [(&'static str, u64); 9] {
        [
            ("fields_cap", self.fields_cap),
            ("json_depth_cap", self.json_depth_cap),
            ("json_invalid", self.json_invalid),
            ("decode_size_cap", self.decode_size_cap),
            ("hits_cap", self.hits_cap),
            ("candidates_cap", self.candidates_cap),
            ("raw_window_cap", self.raw_window_cap),
            ("match_errors", self.match_errors),
            ("contact_set_reset", self.contact_set_reset),
        ]
    }

    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &DetectStats) {
        for (a, b) in [
            (&mut self.messages, o.messages),
            (&mut self.raw_chunks, o.raw_chunks),
            (&mut self.raw_bytes, o.raw_bytes),
            (&mut self.fields, o.fields),
            (&mut self.candidates, o.candidates),
            (&mut self.hits, o.hits),
            (&mut self.rejected_validator, o.rejected_validator),
            (&mut self.rejected_placeholder, o.rejected_placeholder),
            (&mut self.rejected_key, o.rejected_key),
            (&mut self.decoded_url, o.decoded_url),
            (&mut self.decoded_base64, o.decoded_base64),
            (&mut self.decoded_hex, o.decoded_hex),
            (&mut self.decoded_gzip, o.decoded_gzip),
            (&mut self.fields_cap, o.fields_cap),
            (&mut self.json_depth_cap, o.json_depth_cap),
            (&mut self.json_invalid, o.json_invalid),
            (&mut self.decode_size_cap, o.decode_size_cap),
            (&mut self.hits_cap, o.hits_cap),
            (&mut self.candidates_cap, o.candidates_cap),
            (&mut self.raw_window_cap, o.raw_window_cap),
            (&mut self.match_errors, o.match_errors),
            (&mut self.contact_set_reset, o.contact_set_reset),
        ] {
            *a += b;
        }
        for (k, v) in &o.leaks_by_type {
            *self.leaks_by_type.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &o.leaks_by_sdk {
            *self.leaks_by_sdk.entry(k.clone()).or_insert(0) += v;
        }
    }
}

/// One PI item found in a message, before masking.
#[derive(Clone, Debug, PartialEq)]
pub struct PiHit {
    /// Index of the signature in the set that found it.
    pub sig: usize,
    /// PI type id.
    pub pi_type: String,
    /// `where` (`url.query:imei`, `body.json:$.dev.id` …).
    pub location: String,
    /// Encoding chain, outermost first (`plain`, `url`, `base64+gzip`, `md5` …).
    pub encoding: String,
    /// The value, unmasked (phone numbers as 11 digits).
    pub value: String,
    pub confidence: f64,
}

impl SignatureSet {
    /// The record form of a hit, value masked (alert-schema.md "Masking").
    pub fn pi_item(&self, hit: &PiHit) -> PiItem {
        let sig = self.pi.get(hit.sig);
        PiItem {
            pi_type: hit.pi_type.clone(),
            category: sig.map_or_else(String::new, |s| s.category.clone()),
            sensitive: sig.is_some_and(|s| s.sensitive),
            location: hit.location.clone(),
            encoding: hit.encoding.clone(),
            method: PiMethod::Pattern,
            value: mask(&hit.value),
            confidence: hit.confidence,
            distance_m: None,
        }
    }

    /// The record form of an SDK entry.
    pub fn sdk_ref(sdk: &Sdk) -> SdkRef {
        SdkRef {
            id: sdk.id.clone(),
            name: sdk.name.clone(),
            vendor: sdk.vendor.clone(),
            category: sdk.category.clone(),
        }
    }
}

/// The request's URL (`http://host/path?query` for origin-form targets) with every value
/// that held PI masked: query values found to hold PI are masked whole, path segments
/// holding a PI value are masked whole.
pub fn masked_url(req: &Request, hits: &[PiHit]) -> String {
    let mut out = String::with_capacity(req.uri.len() + 32);
    if req.uri.starts_with('/') {
        if let Some(host) = &req.host {
            out.push_str("http://");
            out.push_str(host);
        }
    }
    out.push_str(&masked_target(&req.uri, hits));
    out
}

/// A request target (origin or absolute form) with the values of `hits` masked, as in
/// [`masked_url`] (the `uri` of `http` records).
pub fn masked_target(uri: &str, hits: &[PiHit]) -> String {
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    let mut out = String::with_capacity(uri.len() + 8);
    let path_only = if path.starts_with('/') {
        path
    } else if let Some(scheme_end) = path.find("://") {
        // Absolute form: keep scheme and authority, mask within the path.
        let after = scheme_end + 3;
        let slash = path
            .get(after..)
            .and_then(|rest| rest.find('/'))
            .map_or(path.len(), |s| after + s);
        let (authority, rest) = path.split_at(slash);
        out.push_str(authority);
        rest
    } else {
        path
    };
    let path_hits: Vec<&str> = hits
        .iter()
        .filter(|h| h.location == "url.path" || h.location.starts_with("url.path>"))
        .map(|h| h.value.as_str())
        .collect();
    for (i, segment) in path_only.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let mut decoded = Vec::new();
        field::percent_decode_into(segment.as_bytes(), false, &mut decoded, segment.len());
        let decoded = String::from_utf8_lossy(&decoded);
        if !segment.is_empty() && path_hits.iter().any(|v| decoded.contains(v)) {
            out.push_str(&mask(segment));
        } else {
            out.push_str(segment);
        }
    }
    if let Some(query) = query {
        out.push('?');
        for (i, piece) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let (key, value) = piece.split_once('=').unwrap_or(("", piece));
            let mut key_name = Vec::new();
            field::percent_decode_into(key.as_bytes(), true, &mut key_name, key.len());
            let loc = format!("url.query:{}", String::from_utf8_lossy(&key_name));
            let mut plain = Vec::new();
            field::percent_decode_into(value.as_bytes(), true, &mut plain, value.len());
            let plain = String::from_utf8_lossy(&plain);
            // Masked if a hit was found here, or if the value is (half of) a hit found
            // elsewhere: the latitude of a coordinate pair reported at its longitude.
            let hit = hits.iter().any(|h| {
                h.location == loc
                    || h.location
                        .strip_prefix(loc.as_str())
                        .is_some_and(|rest| rest.starts_with('>'))
                    || (plain.len() >= 4
                        && (h.value == plain || h.value.split(',').any(|part| part == plain)))
            });
            if piece.contains('=') {
                out.push_str(key);
                out.push('=');
            }
            if hit {
                out.push_str(&mask(value));
            } else {
                out.push_str(value);
            }
        }
    }
    out
}
