//! Configuration: the TOML file (`config::Raw`, every key documented, defaults in code)
//! and its validated runtime form ([`Runtime`]), converted once at startup.
//!
//! Keys are snake_case and grouped by stage. An unknown key or an impossible value stops
//! startup with an error naming the file, the key and the reason. Stages receive their
//! values at construction; nothing reads configuration globally.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::decode;
use crate::detect;
use crate::evidence;
use crate::finding;
use crate::flow::FlowLimits;
use crate::pipeline::Settings;
use crate::proto;
use crate::reassembly;
use crate::store;

/// A configuration problem: the file, where, and why.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}:{line}: {reason}")]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: key {key}: {reason}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
}

/// The file as written. Every field is optional; missing ones take the defaults below.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    #[serde(default)]
    pub decode: RawDecode,
    #[serde(default)]
    pub flow: RawFlow,
    #[serde(default)]
    pub reassembly: RawReassembly,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub http2: RawHttp2,
    #[serde(default)]
    pub dns: RawDns,
    #[serde(default)]
    pub evidence: RawEvidence,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub detect: RawDetect,
    #[serde(default)]
    pub findings: RawFindings,
    #[serde(default)]
    pub tls: RawTls,
}

/// `[decode]`: link layers, tunnels and IP fragments.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDecode {
    /// Nested tunnels (GRE, ERSPAN, VXLAN, IP-in-IP, ...) followed before giving up.
    pub max_encap_depth: Option<u8>,
    /// Seconds a fragmented datagram may take to complete (packet time).
    pub fragment_timeout_secs: Option<u32>,
    /// Bytes held for incomplete fragmented datagrams, all together.
    pub defrag_memcap_bytes: Option<usize>,
    /// Fragmented datagrams in progress at once.
    pub defrag_max_datagrams: Option<usize>,
}

/// `[flow]`: the flow table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// Flows tracked per worker; at the limit the least recently seen is evicted.
    pub max_flows: Option<u32>,
    pub tcp_new_timeout_secs: Option<u32>,
    pub tcp_established_timeout_secs: Option<u32>,
    pub tcp_closed_timeout_secs: Option<u32>,
    pub udp_timeout_secs: Option<u32>,
    pub dns_timeout_secs: Option<u32>,
    pub other_timeout_secs: Option<u32>,
}

/// `[reassembly]`: TCP stream reassembly.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReassembly {
    /// Out-of-order bytes buffered per direction (default 1 MiB).
    pub depth_bytes: Option<u32>,
    /// Out-of-order segments buffered per direction.
    pub max_segments: Option<u32>,
    /// Bytes of out-of-order data held by one worker, all flows together (default 256 MiB).
    pub memcap_bytes: Option<u64>,
    /// Buffered bytes beyond a hole after which the hole is skipped as a gap.
    pub gap_skip_bytes: Option<u32>,
}

/// `[http]`: HTTP/1.x parsing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub max_line_bytes: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub max_headers: Option<usize>,
    /// Requests waiting for their response on one connection (pipelining).
    pub max_pending: Option<usize>,
    /// Decoded request body bytes kept for detection.
    pub max_body_bytes: Option<usize>,
    /// Decompressed/compressed size ratio beyond which decoding stops (zip bombs).
    pub max_decompress_ratio: Option<u64>,
}

/// `[http2]`: HTTP/2 parsing (header and body limits come from `[http]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp2 {
    /// Streams tracked at once per connection; at the limit the oldest is emitted and dropped.
    pub max_streams: Option<usize>,
    /// Request bodies kept and decoded at once per connection; more are counted, not kept.
    pub max_body_streams: Option<usize>,
    /// Bytes of one encoded header block (HEADERS plus CONTINUATION frames) buffered.
    pub max_header_block_bytes: Option<usize>,
    /// Largest HPACK dynamic table kept per direction (at least 4096).
    pub max_hpack_table_bytes: Option<usize>,
}

/// `[dns]`: DNS parsing and the resolved-name table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    pub max_answers: Option<usize>,
    /// (client, address) → name entries remembered for naming later flows.
    pub names_max_entries: Option<usize>,
    /// Seconds of packet time a resolved name is remembered.
    pub names_lifetime_secs: Option<u64>,
}

/// `[detect]`: PI detection and SDK attribution.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetect {
    /// Values examined per message (query pairs, headers, JSON leaves …).
    pub max_fields: Option<usize>,
    /// JSON nesting followed (1..=64).
    pub max_json_depth: Option<usize>,
    /// Decoding layers (URL, base64, hex) peeled from one value (0..=4).
    pub max_decode_depth: Option<u8>,
    /// Largest decoded layer, bytes.
    pub max_decoded_bytes: Option<usize>,
    /// PI items kept per message.
    pub max_hits: Option<usize>,
    /// Client bytes scanned per flow of an unparsed protocol.
    pub raw_window_bytes: Option<usize>,
    /// (session, SDK, host, phase) keys remembered for unique `sdk_contact` records.
    pub max_sdk_contacts: Option<usize>,
}

/// `[findings]`: thresholds and limits of the findings engine (findings.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFindings {
    /// Findings kept per run (default 10000); more are counted, not raised.
    pub max_findings: Option<usize>,
    /// `refs` listed per finding (default 10000); the finding's `count` stays exact.
    pub max_refs_per_finding: Option<usize>,
    /// Frequency windows and identifier sets tracked at once (default 100000).
    pub max_tracked_keys: Option<usize>,
    /// `LT-DEVICE-ID-CROSS-APP`: distinct third-party SDKs one identifier must reach
    /// (default 3).
    pub cross_app_min_sdks: Option<u32>,
    /// CSV of `CIDR,country_code` lines turning `LT-CROSS-BORDER` on (no default: the
    /// rule is off without it).
    pub ip_country_csv: Option<PathBuf>,
    /// A rule table to use instead of the embedded `signatures/rules/findings.toml`.
    pub rules_file: Option<PathBuf>,
    #[serde(default)]
    pub frequency: RawFrequency,
}

/// `[findings.frequency]`: `LT-FREQUENCY` thresholds (findings.md names them
/// `findings.frequency.max`, `.window`, `.location_max`; the window keys carry their
/// unit here).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFrequency {
    /// Same PI type to the same destination more than this many times within
    /// `window_secs` is a finding (default 10).
    pub max: Option<u32>,
    /// Window of `max`, seconds (default 60).
    pub window_secs: Option<u32>,
    /// Location PI to the same destination more than this many times within
    /// `location_window_secs` is a finding (default 1).
    pub location_max: Option<u32>,
    /// Window of `location_max`, seconds (default 30).
    pub location_window_secs: Option<u32>,
}

/// `[evidence]`: per-flow packet rings and evidence pcapng files (daemon only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvidence {
    /// Bytes of frames kept per flow before it matches (default 256 KiB).
    pub ring_bytes: Option<usize>,
    /// Ring memory of all workers together (default 512 MiB).
    pub ring_memcap_bytes: Option<u64>,
    /// Captured bytes written per flow, before and after the match (default 64 MiB).
    pub max_flow_bytes: Option<u64>,
    /// Post-match frames are handed to the writer in batches of this many bytes.
    pub flush_bytes: Option<usize>,
    /// Messages waiting for the evidence writer before workers drop (default 512).
    pub queue_depth: Option<usize>,
    /// Evidence files open for writing at once (default 256).
    pub max_open_files: Option<usize>,
    /// Finished files older than this many days are removed; 0 keeps them (default 180).
    pub retention_days: Option<u32>,
    /// The oldest files are removed beyond this total; 0 means no limit (default 100 GiB).
    pub retention_max_bytes: Option<u64>,
    /// Seconds between retention passes (default 3600).
    pub retention_interval_secs: Option<u64>,
}

/// `[store]`: the record log and SQLite store (daemon only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// Messages waiting for the store writer (default 16384).
    pub queue_depth: Option<usize>,
    /// Records per transaction at most (default 512).
    pub batch_max_records: Option<usize>,
    /// Milliseconds a batch waits for more records at most (default 100).
    pub batch_max_ms: Option<u64>,
    /// fdatasync the record log after every batch (default true).
    pub log_fsync: Option<bool>,
}

/// `[tls]`: TLS decryption with key logs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// Client randoms kept in the key store; the oldest is evicted beyond it.
    pub keylog_max_entries: Option<usize>,
    /// Ciphertext bytes one flow holds while its keys are missing.
    pub hold_bytes: Option<usize>,
    /// Ciphertext bytes one worker holds for all flows waiting for keys.
    pub hold_memcap_bytes: Option<u64>,
    /// Seconds (packet time) a flow waits for its keys.
    pub hold_secs: Option<u64>,
    /// Undecryptable records skipped (0-RTT) before a direction gives up.
    pub max_skipped_records: Option<u32>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub decode: decode::Limits,
    pub flow: FlowLimits,
    pub reassembly: reassembly::Limits,
    pub proto: proto::Limits,
    pub dns_names_max_entries: usize,
    pub dns_names_lifetime_secs: u64,
    pub evidence: evidence::Limits,
    pub store: store::Limits,
    pub detect: detect::Limits,
    /// Findings engine thresholds and limits.
    pub findings: finding::Settings,
    /// `findings.ip_country_csv`, if set.
    pub findings_ip_country_csv: Option<PathBuf>,
    /// `findings.rules_file`, if set.
    pub findings_rules_file: Option<PathBuf>,
    /// `tls.keylog_max_entries`.
    pub tls_keylog_max_entries: usize,
}

impl Default for Runtime {
    fn default() -> Self {
        // The defaults always validate; a failure here is a bug caught by the tests.
        Runtime::from_raw(Raw::default(), Path::new("<defaults>"))
            .unwrap_or_else(|err| panic!("{err}"))
    }
}

impl Runtime {
    /// Applies defaults and cross-checks limits.
    pub fn from_raw(raw: Raw, path: &Path) -> Result<Runtime, Error> {
        let invalid = |key: &'static str, reason: &str| Error::Invalid {
            path: path.to_path_buf(),
            key,
            reason: reason.to_string(),
        };
        let mut decode = decode::Limits::default();
        if let Some(v) = raw.decode.max_encap_depth {
            if v == 0 || v > 16 {
                return Err(invalid("decode.max_encap_depth", "must be 1..=16"));
            }
            decode.max_encap_depth = v;
        }
        if let Some(v) = raw.decode.fragment_timeout_secs {
            if v == 0 {
                return Err(invalid(
                    "decode.fragment_timeout_secs",
                    "must be at least 1",
                ));
            }
            decode.defrag.timeout_secs = v;
        }
        if let Some(v) = raw.decode.defrag_memcap_bytes {
            if v < 65_536 {
                return Err(invalid(
                    "decode.defrag_memcap_bytes",
                    "must be at least 65536 (one full datagram)",
                ));
            }
            decode.defrag.memcap_bytes = v;
        }
        if let Some(v) = raw.decode.defrag_max_datagrams {
            if v == 0 {
                return Err(invalid("decode.defrag_max_datagrams", "must be at least 1"));
            }
            decode.defrag.max_datagrams = v;
        }

        let mut flow = FlowLimits::default();
        let f = &raw.flow;
        if let Some(v) = f.max_flows {
            if v == 0 {
                return Err(invalid("flow.max_flows", "must be at least 1"));
            }
            flow.max_flows = v;
        }
        for (value, key, slot) in [
            (
                f.tcp_new_timeout_secs,
                "flow.tcp_new_timeout_secs",
                &mut flow.tcp_new_timeout_secs,
            ),
            (
                f.tcp_established_timeout_secs,
                "flow.tcp_established_timeout_secs",
                &mut flow.tcp_established_timeout_secs,
            ),
            (
                f.tcp_closed_timeout_secs,
                "flow.tcp_closed_timeout_secs",
                &mut flow.tcp_closed_timeout_secs,
            ),
            (
                f.udp_timeout_secs,
                "flow.udp_timeout_secs",
                &mut flow.udp_timeout_secs,
            ),
            (
                f.dns_timeout_secs,
                "flow.dns_timeout_secs",
                &mut flow.dns_timeout_secs,
            ),
            (
                f.other_timeout_secs,
                "flow.other_timeout_secs",
                &mut flow.other_timeout_secs,
            ),
        ] {
            if let Some(v) = value {
                if v == 0 {
                    return Err(invalid(key, "must be at least 1"));
                }
                *slot = v;
            }
        }

        let mut reasm = reassembly::Limits::default();
        let r = &raw.reassembly;
        if let Some(v) = r.depth_bytes {
            reasm.depth_bytes = v;
        }
        if let Some(v) = r.max_segments {
            reasm.max_segments = v;
        }
        if let Some(v) = r.memcap_bytes {
            reasm.memcap_bytes = v;
        }
        // Unless set, the gap threshold follows a lowered depth (it cannot exceed it).
        reasm.gap_skip_bytes = r
            .gap_skip_bytes
            .unwrap_or(reasm.gap_skip_bytes.min(reasm.depth_bytes));
        if u64::from(reasm.depth_bytes) > reasm.memcap_bytes {
            return Err(invalid(
                "reassembly.depth_bytes",
                "must not exceed reassembly.memcap_bytes",
            ));
        }
        reasm
            .validate()
            .map_err(|err| invalid("reassembly", &err.to_string()))?;

        let mut proto = proto::Limits::default();
        let h = &raw.http;
        if let Some(v) = h.max_line_bytes {
            if v < 256 {
                return Err(invalid("http.max_line_bytes", "must be at least 256"));
            }
            proto.http.max_line_bytes = v;
        }
        if let Some(v) = h.max_header_bytes {
            proto.http.max_header_bytes = v;
        }
        if proto.http.max_header_bytes < proto.http.max_line_bytes {
            return Err(invalid(
                "http.max_header_bytes",
                "must be at least http.max_line_bytes",
            ));
        }
        if let Some(v) = h.max_headers {
            if v == 0 {
                return Err(invalid("http.max_headers", "must be at least 1"));
            }
            proto.http.max_headers = v;
        }
        if let Some(v) = h.max_pending {
            if v == 0 {
                return Err(invalid("http.max_pending", "must be at least 1"));
            }
            proto.http.max_pending = v;
        }
        if let Some(v) = h.max_body_bytes {
            proto.http.max_decoded_body_bytes = v;
        }
        if let Some(v) = h.max_decompress_ratio {
            if v < 2 {
                return Err(invalid("http.max_decompress_ratio", "must be at least 2"));
            }
            proto.http.max_decompress_ratio = v;
        }
        proto.http2.http = proto.http;
        let h2 = &raw.http2;
        if let Some(v) = h2.max_streams {
            if v == 0 {
                return Err(invalid("http2.max_streams", "must be at least 1"));
            }
            proto.http2.max_streams = v;
        }
        if let Some(v) = h2.max_body_streams {
            if v == 0 {
                return Err(invalid("http2.max_body_streams", "must be at least 1"));
            }
            proto.http2.max_body_streams = v;
        }
        if let Some(v) = h2.max_header_block_bytes {
            if v < 1024 {
                return Err(invalid(
                    "http2.max_header_block_bytes",
                    "must be at least 1024",
                ));
            }
            proto.http2.max_header_block_bytes = v;
        }
        if let Some(v) = h2.max_hpack_table_bytes {
            if v < 4096 {
                return Err(invalid(
                    "http2.max_hpack_table_bytes",
                    "must be at least 4096 (RFC 7541 §4.2)",
                ));
            }
            proto.http2.max_hpack_table_bytes = v;
        }
        if let Some(v) = raw.dns.max_answers {
            proto.dns.max_answers = v;
        }
        let t = &raw.tls;
        let tls_keylog_max_entries = match t.keylog_max_entries {
            Some(0) => return Err(invalid("tls.keylog_max_entries", "must be at least 1")),
            Some(v) => v,
            None => crate::keylog::DEFAULT_MAX_ENTRIES,
        };
        if let Some(v) = t.hold_bytes {
            proto.tls.max_hold_bytes = v;
        }
        if let Some(v) = t.hold_memcap_bytes {
            proto.tls.hold_memcap_bytes = v;
        }
        if (proto.tls.max_hold_bytes as u64) > proto.tls.hold_memcap_bytes {
            return Err(invalid(
                "tls.hold_bytes",
                "must not exceed tls.hold_memcap_bytes",
            ));
        }
        if let Some(v) = t.hold_secs {
            proto.tls.max_hold_secs = v;
        }
        if let Some(v) = t.max_skipped_records {
            proto.tls.max_skipped_records = v;
        }
        let dns_names_max_entries = raw
            .dns
            .names_max_entries
            .unwrap_or(proto::names::DEFAULT_MAX_ENTRIES);
        let dns_names_lifetime_secs = raw
            .dns
            .names_lifetime_secs
            .unwrap_or(proto::names::DEFAULT_ENTRY_LIFETIME_SECS);
        let mut det = detect::Limits::default();
        let d = &raw.detect;
        for (value, key, min, max, slot) in [
            (
                d.max_fields,
                "detect.max_fields",
                1,
                usize::MAX,
                &mut det.max_fields,
            ),
            (
                d.max_json_depth,
                "detect.max_json_depth",
                1,
                64,
                &mut det.max_json_depth,
            ),
            (
                d.max_decoded_bytes,
                "detect.max_decoded_bytes",
                1024,
                usize::MAX,
                &mut det.max_decoded_bytes,
            ),
            (
                d.max_hits,
                "detect.max_hits",
                1,
                usize::MAX,
                &mut det.max_hits,
            ),
            (
                d.raw_window_bytes,
                "detect.raw_window_bytes",
                0,
                usize::MAX,
                &mut det.raw_window_bytes,
            ),
            (
                d.max_sdk_contacts,
                "detect.max_sdk_contacts",
                1,
                usize::MAX,
                &mut det.max_sdk_contacts,
            ),
        ] {
            if let Some(v) = value {
                if v < min || v > max {
                    let reason = if max == usize::MAX {
                        format!("must be at least {min}")
                    } else {
                        format!("must be {min}..={max}")
                    };
                    return Err(invalid(key, &reason));
                }
                *slot = v;
            }
        }
        if let Some(v) = d.max_decode_depth {
            if v > 4 {
                return Err(invalid("detect.max_decode_depth", "must be 0..=4"));
            }
            det.max_decode_depth = v;
        }
        let findings = findings_settings(&raw.findings, &invalid)?;
        let e = &raw.evidence;
        let d = evidence::Limits::default();
        let evidence = evidence::Limits {
            ring_bytes: e.ring_bytes.unwrap_or(d.ring_bytes),
            ring_memcap_bytes: e.ring_memcap_bytes.unwrap_or(d.ring_memcap_bytes),
            max_flow_bytes: e.max_flow_bytes.unwrap_or(d.max_flow_bytes),
            flush_bytes: e.flush_bytes.unwrap_or(d.flush_bytes),
            queue_depth: e.queue_depth.unwrap_or(d.queue_depth),
            max_open_files: e.max_open_files.unwrap_or(d.max_open_files),
            retention_days: e.retention_days.unwrap_or(d.retention_days),
            retention_max_bytes: e.retention_max_bytes.unwrap_or(d.retention_max_bytes),
            retention_interval_secs: e
                .retention_interval_secs
                .unwrap_or(d.retention_interval_secs),
        };
        evidence
            .validate()
            .map_err(|(key, reason)| invalid(key, reason))?;
        let st = &raw.store;
        let d = store::Limits::default();
        let store = store::Limits {
            queue_depth: st.queue_depth.unwrap_or(d.queue_depth),
            batch_max_records: st.batch_max_records.unwrap_or(d.batch_max_records),
            batch_max_ms: st.batch_max_ms.unwrap_or(d.batch_max_ms),
            log_fsync: st.log_fsync.unwrap_or(d.log_fsync),
        };
        store
            .validate()
            .map_err(|(key, reason)| invalid(key, reason))?;
        Ok(Runtime {
            evidence,
            store,
            detect: det,
            decode,
            flow,
            reassembly: reasm,
            proto,
            dns_names_max_entries,
            dns_names_lifetime_secs,
            findings,
            findings_ip_country_csv: raw.findings.ip_country_csv,
            findings_rules_file: raw.findings.rules_file,
            tls_keylog_max_entries,
        })
    }

    /// The settings of one pipeline worker (events are chosen by the caller).
    pub fn pipeline_settings(&self) -> Settings {
        Settings {
            decode: self.decode.clone(),
            flow: self.flow.clone(),
            reassembly: self.reassembly.clone(),
            proto: self.proto.clone(),
            events: Default::default(),
            detect: self.detect,
            signatures: Default::default(),
        }
    }
}

/// Validates `[findings]` into the engine's settings.
fn findings_settings(
    raw: &RawFindings,
    invalid: &dyn Fn(&'static str, &str) -> Error,
) -> Result<finding::Settings, Error> {
    let mut s = finding::Settings::default();
    let positive = |v: Option<u32>, key: &'static str, slot: &mut u32| -> Result<(), Error> {
        if let Some(v) = v {
            if v == 0 || v > 1_000_000 {
                return Err(invalid(key, "must be 1..=1000000"));
            }
            *slot = v;
        }
        Ok(())
    };
    let f = &raw.frequency;
    positive(f.max, "findings.frequency.max", &mut s.frequency_max)?;
    positive(
        f.window_secs,
        "findings.frequency.window_secs",
        &mut s.frequency_window_secs,
    )?;
    positive(
        f.location_max,
        "findings.frequency.location_max",
        &mut s.location_max,
    )?;
    positive(
        f.location_window_secs,
        "findings.frequency.location_window_secs",
        &mut s.location_window_secs,
    )?;
    positive(
        raw.cross_app_min_sdks,
        "findings.cross_app_min_sdks",
        &mut s.cross_app_min_sdks,
    )?;
    for (value, key, slot) in [
        (
            raw.max_findings,
            "findings.max_findings",
            &mut s.max_findings,
        ),
        (
            raw.max_refs_per_finding,
            "findings.max_refs_per_finding",
            &mut s.max_refs_per_finding,
        ),
        (
            raw.max_tracked_keys,
            "findings.max_tracked_keys",
            &mut s.max_tracked_keys,
        ),
    ] {
        if let Some(v) = value {
            if v == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
            *slot = v;
        }
    }
    Ok(s)
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Runtime, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse(&text, path)
}

/// Parses configuration text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Runtime, Error> {
    let raw: Raw = toml::from_str(text).map_err(|e| Error::Syntax {
        path: path.to_path_buf(),
        line: e.span().map_or(1, |span| line_of(text, span.start)),
        reason: e.message().to_string(),
    })?;
    Runtime::from_raw(raw, path)
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_keys_apply() {
        let rt = parse(
            "[flow]\nmax_flows = 10\n[reassembly]\ndepth_bytes = 4096\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(rt.flow.max_flows, 10);
        assert_eq!(rt.reassembly.depth_bytes, 4096);
        assert_eq!(Runtime::default().reassembly.depth_bytes, 1 << 20);
        assert_eq!(Runtime::default().reassembly.memcap_bytes, 256 << 20);
    }

    #[test]
    fn tls_keys_apply_and_validate() {
        let rt = parse(
            "[tls]\nkeylog_max_entries = 10\nhold_bytes = 4096\nhold_secs = 5\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(rt.tls_keylog_max_entries, 10);
        assert_eq!(rt.proto.tls.max_hold_bytes, 4096);
        assert_eq!(rt.proto.tls.max_hold_secs, 5);
        let err = parse("[tls]\nhold_memcap_bytes = 10\n", Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "t.toml: key tls.hold_bytes: must not exceed tls.hold_memcap_bytes"
        );
    }

    #[test]
    fn http2_keys_apply_and_share_http_limits() {
        let rt = parse(
            "[http]\nmax_headers = 50\n[http2]\nmax_streams = 8\nmax_body_streams = 2\nmax_header_block_bytes = 4096\nmax_hpack_table_bytes = 8192\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(rt.proto.http2.max_streams, 8);
        assert_eq!(rt.proto.http2.max_body_streams, 2);
        assert_eq!(rt.proto.http2.max_header_block_bytes, 4096);
        assert_eq!(rt.proto.http2.max_hpack_table_bytes, 8192);
        assert_eq!(rt.proto.http2.http.max_headers, 50);
        let err = parse(
            "[http2]\nmax_hpack_table_bytes = 100\n",
            Path::new("t.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("http2.max_hpack_table_bytes"), "{err}");
    }

    #[test]
    fn errors_name_the_line_or_key() {
        let err = parse("[flow]\nmax_flow = 10\n", Path::new("lt.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("lt.toml:2: unknown field `max_flow`"),
            "{err}"
        );
        let err = parse("[flow]\nmax_flows = 0\n", Path::new("lt.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "lt.toml: key flow.max_flows: must be at least 1");
    }

    #[test]
    fn detect_section() {
        let rt = parse(
            "[detect]\nmax_fields = 100\nmax_decode_depth = 1\nraw_window_bytes = 0\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(rt.detect.max_fields, 100);
        assert_eq!(rt.detect.max_decode_depth, 1);
        assert_eq!(rt.detect.raw_window_bytes, 0);
        assert_eq!(rt.pipeline_settings().detect.max_fields, 100);
        let err = parse("[detect]\nmax_json_depth = 65\n", Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "t.toml: key detect.max_json_depth: must be 1..=64");
        let err = parse("[detect]\nmax_decode_depth = 9\n", Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "t.toml: key detect.max_decode_depth: must be 0..=4");
    }

    #[test]
    fn findings_section() {
        let rt = parse(
            "[findings]\nmax_findings = 50\nip_country_csv = \"/lab/geo.csv\"\n\
             [findings.frequency]\nmax = 3\nwindow_secs = 10\nlocation_max = 2\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(rt.findings.max_findings, 50);
        assert_eq!(rt.findings.frequency_max, 3);
        assert_eq!(rt.findings.frequency_window_secs, 10);
        assert_eq!(rt.findings.location_max, 2);
        assert_eq!(rt.findings.location_window_secs, 30);
        assert_eq!(
            rt.findings_ip_country_csv,
            Some(PathBuf::from("/lab/geo.csv"))
        );
        assert_eq!(Runtime::default().findings, finding::Settings::default());
        let err = parse("[findings.frequency]\nmax = 0\n", Path::new("lt.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "lt.toml: key findings.frequency.max: must be 1..=1000000"
        );
        let err = parse("[findings.frequency]\nwindow = 60\n", Path::new("lt.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("lt.toml:2: unknown field `window`"),
            "{err}"
        );
    }

    #[test]
    fn evidence_and_store_keys_apply_and_are_checked() {
        let rt = parse(
            "[evidence]\nring_bytes = 65536\nretention_days = 7\n[store]\nbatch_max_ms = 50\nlog_fsync = false\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(rt.evidence.ring_bytes, 65_536);
        assert_eq!(rt.evidence.retention_days, 7);
        assert_eq!(rt.store.batch_max_ms, 50);
        assert!(!rt.store.log_fsync);
        assert_eq!(Runtime::default().evidence.ring_bytes, 256 * 1024);
        let err = parse("[evidence]\nmax_flow_bytes = 10\n", Path::new("lt.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "lt.toml: key evidence.max_flow_bytes: must be at least evidence.ring_bytes"
        );
        let err = parse("[store]\nqueue_depth = 0\n", Path::new("lt.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "lt.toml: key store.queue_depth: must be at least 1");
    }
}
