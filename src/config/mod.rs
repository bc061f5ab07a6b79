//! Configuration: the TOML file (`config::Raw`, every key documented, defaults in code)
//! and its validated runtime form ([`Runtime`]), converted once at startup.
//!
//! Keys are snake_case and grouped by stage. An unknown key or an impossible value stops
//! startup with an error naming the file, the key and the reason. Stages receive their
//! values at construction; nothing reads configuration globally.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::decode;
use crate::flow::FlowLimits;
use crate::pipeline::Settings;
use crate::proto;
use crate::reassembly;

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

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub decode: decode::Limits,
    pub flow: FlowLimits,
    pub reassembly: reassembly::Limits,
    pub proto: proto::Limits,
    pub dns_names_max_entries: usize,
    pub dns_names_lifetime_secs: u64,
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
                return Err(invalid("http2.max_header_block_bytes", "must be at least 1024"));
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
        let dns_names_max_entries = raw
            .dns
            .names_max_entries
            .unwrap_or(proto::names::DEFAULT_MAX_ENTRIES);
        let dns_names_lifetime_secs = raw
            .dns
            .names_lifetime_secs
            .unwrap_or(proto::names::DEFAULT_ENTRY_LIFETIME_SECS);
        Ok(Runtime {
            decode,
            flow,
            reassembly: reasm,
            proto,
            dns_names_max_entries,
            dns_names_lifetime_secs,
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
        }
    }
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
        let err = parse("[http2]\nmax_hpack_table_bytes = 100\n", Path::new("t.toml"))
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
}
