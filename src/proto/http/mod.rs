//! Passive HTTP/1.0 and HTTP/1.1 parsing (RFC 9112 message syntax, RFC 9110 semantics).
//!
//! Owns: one [`state::HttpFlow`] per TCP connection, holding a small state machine per direction,
//! a bounded FIFO of requests that wait for their response, and the streaming body decoder of
//! the request in progress.
//!
//! Takes: in-order reassembled stream bytes of both directions in any chunk size (down to one
//! byte), gap notifications (bytes the reassembler never saw) and close notifications.
//!
//! Emits ([`Event`]):
//! - [`Event::Request`] once a request's head and body are complete: full headers in order,
//!   the de-chunked and content-decoded body (capped), and a sniffed [`BodyKind`];
//! - [`Event::Transaction`] once the final response to a request is complete, a small summary
//!   for the transaction log (the full request is not kept after its `Request` event);
//! - [`Event::Upgrade`] and one [`Event::Tunnel`] per direction when the connection stops being
//!   HTTP (`101 Switching Protocols`, or a 2xx answer to `CONNECT`): from then on the bytes are
//!   opaque and the caller routes them elsewhere ([`state::HttpFlow::is_tunnel`]);
//! - [`Event::Anomaly`] for every counted problem (also summed in [`Stats`]).
//!
//! Limits: see [`Limits`]; every limit has a `DEFAULT_*` constant with its reason and an
//! [`AnomalyKind`] that is counted when it is hit. Memory per flow is bounded by two line
//! buffers, one message head, the pending FIFO, one kept request body, the bytes held after an
//! upgrade request, and one set of decoder states (a brotli window can reach 16 MiB; zlib 32 KiB).
//!
//! Must not: panic or index unchecked on network bytes, decode response bodies (they are only
//! counted), guess across a lost framing boundary without counting `gap_resync`, or look at the
//! clock (the caller stamps events with the time of the packet that completed them).

pub mod body;
pub mod message;
pub mod parser;
pub mod state;

pub use body::Coding;
pub use message::{BodyKind, Cookies, Header, Request, Transaction, VERSION_HTTP2};
pub use parser::{probe_request, probe_response};
pub use state::HttpFlow;

/// Longest start line or header line kept. Longer lines are cut to this length and counted
/// (`line_too_long`); 8 KiB is the common server default (nginx, Apache) so real traffic fits.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 * 1024;
/// Total header bytes stored for one request. Beyond it headers are still read for framing
/// but not stored (`header_bytes_cap`); 64 KiB is above what servers accept in practice.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Header fields stored for one request. Beyond it fields are read for framing only
/// (`header_count_cap`); browsers send about 20, 128 leaves ample room for apps.
pub const DEFAULT_MAX_HEADERS: usize = 128;
/// Requests waiting for their response. Beyond it the oldest is emitted unanswered
/// (`pending_overflow`); pipelining depth in practice is single digits.
pub const DEFAULT_MAX_PENDING: usize = 64;
/// Request body bytes kept after de-chunking and decoding. Beyond it the body is cut and
/// decoding stops (`decompress_size_cap`, or `body_size_cap` for uncompressed bodies); 1 MiB
/// covers forms, JSON and telemetry uploads while bounding memory per flow.
pub const DEFAULT_MAX_DECODED_BODY_BYTES: usize = 1024 * 1024;
/// Largest accepted decoded:encoded size ratio once past the grace size
/// (`decompress_ratio_cap`); real text compresses below 20:1, bombs reach 1000:1.
pub const DEFAULT_MAX_DECOMPRESS_RATIO: u64 = 200;
/// Decoded bytes produced before the ratio check applies, so that small, highly repetitive
/// bodies (a JSON array of zeros) are not cut.
pub const DEFAULT_DECOMPRESS_RATIO_GRACE_BYTES: u64 = 64 * 1024;
/// Client bytes held after a request that asked to switch protocols (`Upgrade`, `CONNECT`)
/// until the response says whether they are HTTP or tunnel data (`held_bytes_cap`); a
/// well-behaved client sends nothing before the answer (RFC 6455 §4.1).
pub const DEFAULT_MAX_HELD_BYTES: usize = 16 * 1024;

/// Per-flow limits, given at construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// See [`DEFAULT_MAX_LINE_BYTES`].
    pub max_line_bytes: usize,
    /// See [`DEFAULT_MAX_HEADER_BYTES`].
    pub max_header_bytes: usize,
    /// See [`DEFAULT_MAX_HEADERS`].
    pub max_headers: usize,
    /// See [`DEFAULT_MAX_PENDING`].
    pub max_pending: usize,
    /// See [`DEFAULT_MAX_DECODED_BODY_BYTES`].
    pub max_decoded_body_bytes: usize,
    /// See [`DEFAULT_MAX_DECOMPRESS_RATIO`].
    pub max_decompress_ratio: u64,
    /// See [`DEFAULT_DECOMPRESS_RATIO_GRACE_BYTES`].
    pub decompress_ratio_grace_bytes: u64,
    /// See [`DEFAULT_MAX_HELD_BYTES`].
    pub max_held_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_pending: DEFAULT_MAX_PENDING,
            max_decoded_body_bytes: DEFAULT_MAX_DECODED_BODY_BYTES,
            max_decompress_ratio: DEFAULT_MAX_DECOMPRESS_RATIO,
            decompress_ratio_grace_bytes: DEFAULT_DECOMPRESS_RATIO_GRACE_BYTES,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
        }
    }
}

/// Why a connection stopped carrying HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// A 2xx answer to `CONNECT` (RFC 9110 §9.3.6).
    Connect,
    /// `101 Switching Protocols` (RFC 9110 §15.2.2, §7.8).
    Upgrade,
}

impl TunnelKind {
    /// Stable snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Connect => "connect",
            TunnelKind::Upgrade => "upgrade",
        }
    }
}

/// Output of [`HttpFlow`]; the caller passes in a `Vec` and clears it between calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A counted problem; the same count is in [`Stats::anomalies`] (or, from the HTTP/2
    /// observer, in `http2::Stats::http_anomalies`).
    Anomaly(AnomalyKind),
    /// A counted HTTP/2 framing, HPACK or stream problem, from [`crate::proto::http2`]; the
    /// same count is in `http2::Stats::anomalies`.
    Http2Anomaly(crate::proto::http2::AnomalyKind),
    /// A complete request (head and body). The caller stamps it with the time of the
    /// packet whose bytes completed it.
    Request(Box<Request>),
    /// A request paired with its final response, or unanswered (`status: None`) at close,
    /// after a gap, or when the pending FIFO overflowed.
    Transaction(Box<Transaction>),
    /// The bytes of `dir` are opaque from now on. `first_bytes` are bytes of that direction
    /// already received after the switch point (after the `101`/`2xx` head, or held client
    /// bytes); the caller routes them, and everything it later receives for `dir`, elsewhere.
    Tunnel {
        /// Direction that switched.
        dir: crate::flow::Direction,
        /// Why.
        kind: TunnelKind,
        /// Opaque bytes already received for `dir`.
        first_bytes: Vec<u8>,
    },
    /// The connection switched protocols; emitted once, before the two `Tunnel` events.
    Upgrade {
        /// Why.
        kind: TunnelKind,
        /// Lowercased protocol token from the `Upgrade` field (`websocket`, `h2c`), or the
        /// `CONNECT` target for [`TunnelKind::Connect`].
        protocol: String,
    },
}

/// Counted problems, listed alphabetically; `as_str` gives the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    /// Lines ended by LF alone (RFC 9112 §2.2 allows accepting them); once per message.
    BareLf,
    /// Bytes of a body were lost to a capture gap; the body is marked truncated.
    BodyGap,
    /// An uncompressed request body exceeded `max_decoded_body_bytes` and was cut.
    BodySizeCap,
    /// A chunk-size line or chunk terminator was not valid (RFC 9112 §7.1); direction gave up.
    ChunkInvalid,
    /// Content-Length values disagree (RFC 9110 §8.6); framing lost, direction gave up.
    ContentLengthConflict,
    /// Content-Length is not a decimal number; framing lost, direction gave up.
    ContentLengthInvalid,
    /// A request body could not be decoded; raw bytes kept if nothing was decoded.
    DecompressError,
    /// Decoding stopped because decoded:encoded passed `max_decompress_ratio`.
    DecompressRatioCap,
    /// Decoding stopped because the decoded body reached `max_decoded_body_bytes`.
    DecompressSizeCap,
    /// A gap hit a message head or lost framing; the direction scanned for the next start line.
    GapResync,
    /// A request's header bytes passed `max_header_bytes`; later fields not stored.
    HeaderBytesCap,
    /// A request's header count passed `max_headers`; later fields not stored.
    HeaderCountCap,
    /// A header line without a colon, with an empty or invalid name, or an orphan fold.
    HeaderInvalid,
    /// Client bytes after an upgrade request passed `max_held_bytes`; the excess was dropped.
    HeldBytesCap,
    /// A line longer than `max_line_bytes` was cut.
    LineTooLong,
    /// An obsolete line folding (RFC 9112 §5.2), joined to the previous field with a space.
    ObsFold,
    /// The pending FIFO was full; the oldest request was emitted unanswered.
    PendingOverflow,
    /// A final response arrived with no request waiting.
    ResponseWithoutRequest,
    /// The start line was not an HTTP/1.x request or status line; direction gave up.
    StartLineInvalid,
    /// Both Transfer-Encoding and Content-Length present (RFC 9112 §6.3: chunked wins).
    TeAndCl,
    /// A request Transfer-Encoding whose final coding is not chunked (RFC 9112 §6.3);
    /// framing lost, direction gave up.
    TransferEncodingInvalid,
    /// A message was cut by the end of its direction's stream.
    TruncatedMessage,
    /// Content-Encoding with a coding that is not supported, or too many codings; raw bytes kept.
    UnsupportedEncoding,
}

impl AnomalyKind {
    /// Number of kinds, for counter arrays.
    pub const COUNT: usize = 23;
    /// Every kind, in declaration order (index = `self as usize`).
    pub const ALL: [AnomalyKind; Self::COUNT] = [
        AnomalyKind::BareLf,
        AnomalyKind::BodyGap,
        AnomalyKind::BodySizeCap,
        AnomalyKind::ChunkInvalid,
        AnomalyKind::ContentLengthConflict,
        AnomalyKind::ContentLengthInvalid,
        AnomalyKind::DecompressError,
        AnomalyKind::DecompressRatioCap,
        AnomalyKind::DecompressSizeCap,
        AnomalyKind::GapResync,
        AnomalyKind::HeaderBytesCap,
        AnomalyKind::HeaderCountCap,
        AnomalyKind::HeaderInvalid,
        AnomalyKind::HeldBytesCap,
        AnomalyKind::LineTooLong,
        AnomalyKind::ObsFold,
        AnomalyKind::PendingOverflow,
        AnomalyKind::ResponseWithoutRequest,
        AnomalyKind::StartLineInvalid,
        AnomalyKind::TeAndCl,
        AnomalyKind::TransferEncodingInvalid,
        AnomalyKind::TruncatedMessage,
        AnomalyKind::UnsupportedEncoding,
    ];

    /// Stable snake_case label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::BareLf => "bare_lf",
            AnomalyKind::BodyGap => "body_gap",
            AnomalyKind::BodySizeCap => "body_size_cap",
            AnomalyKind::ChunkInvalid => "chunk_invalid",
            AnomalyKind::ContentLengthConflict => "content_length_conflict",
            AnomalyKind::ContentLengthInvalid => "content_length_invalid",
            AnomalyKind::DecompressError => "decompress_error",
            AnomalyKind::DecompressRatioCap => "decompress_ratio_cap",
            AnomalyKind::DecompressSizeCap => "decompress_size_cap",
            AnomalyKind::GapResync => "gap_resync",
            AnomalyKind::HeaderBytesCap => "header_bytes_cap",
            AnomalyKind::HeaderCountCap => "header_count_cap",
            AnomalyKind::HeaderInvalid => "header_invalid",
            AnomalyKind::HeldBytesCap => "held_bytes_cap",
            AnomalyKind::LineTooLong => "line_too_long",
            AnomalyKind::ObsFold => "obs_fold",
            AnomalyKind::PendingOverflow => "pending_overflow",
            AnomalyKind::ResponseWithoutRequest => "response_without_request",
            AnomalyKind::StartLineInvalid => "start_line_invalid",
            AnomalyKind::TeAndCl => "te_and_cl",
            AnomalyKind::TransferEncodingInvalid => "transfer_encoding_invalid",
            AnomalyKind::TruncatedMessage => "truncated_message",
            AnomalyKind::UnsupportedEncoding => "unsupported_encoding",
        }
    }
}

/// Counters of one flow; worker code sums them into metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests whose head was parsed.
    pub requests: u64,
    /// Final (non-1xx, or 101) responses whose head was parsed.
    pub responses: u64,
    /// Interim 1xx responses skipped (RFC 9110 §15.2), e.g. `100 Continue`.
    pub interim_responses: u64,
    /// `Transaction` events emitted.
    pub transactions: u64,
    /// Of those, emitted without a response.
    pub transactions_unanswered: u64,
    /// Bytes reported lost by `on_gap`.
    pub gap_bytes: u64,
    /// Bytes dropped because their direction gave up.
    pub ignored_bytes: u64,
    /// Bytes fed after a `Tunnel` event that the caller should have routed elsewhere.
    pub tunnel_bytes: u64,
    /// Request body bytes after de-chunking, before decoding.
    pub request_body_bytes: u64,
    /// Response body bytes after de-chunking.
    pub response_body_bytes: u64,
    /// Per-kind anomaly counts, indexed by `AnomalyKind as usize`; see [`Stats::anomaly`].
    pub anomalies: [u64; AnomalyKind::COUNT],
}

impl Stats {
    /// Count of one anomaly kind.
    pub fn anomaly(&self, kind: AnomalyKind) -> u64 {
        self.anomalies.get(kind as usize).copied().unwrap_or(0)
    }

    /// Sum over all anomaly kinds.
    pub fn anomalies_total(&self) -> u64 {
        self.anomalies.iter().sum()
    }
}

/// Errors of the line-level parsers in [`parser`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// More bytes are needed (at least `needed`).
    #[error("incomplete input, {needed} more bytes needed")]
    Incomplete {
        /// Minimum number of further bytes.
        needed: usize,
    },
    /// The bytes cannot be what they should be.
    #[error("invalid {}", .0.as_str())]
    Invalid(InvalidKind),
}

/// What was invalid in an [`Error::Invalid`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    /// Chunk-size line (RFC 9112 §7.1).
    ChunkSize,
    /// Content-Length value (RFC 9110 §8.6).
    ContentLength,
    /// Content-Length values that disagree.
    ContentLengthConflict,
    /// Header field line (RFC 9112 §5).
    HeaderLine,
    /// Method token.
    Method,
    /// Request line (RFC 9112 §3).
    RequestLine,
    /// Status code (RFC 9112 §4).
    StatusCode,
    /// Status line (RFC 9112 §4).
    StatusLine,
    /// HTTP-version (RFC 9112 §2.3).
    Version,
}

impl InvalidKind {
    /// Lowercase label.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::ChunkSize => "chunk size",
            InvalidKind::ContentLength => "content length",
            InvalidKind::ContentLengthConflict => "conflicting content length",
            InvalidKind::HeaderLine => "header line",
            InvalidKind::Method => "method",
            InvalidKind::RequestLine => "request line",
            InvalidKind::StatusCode => "status code",
            InvalidKind::StatusLine => "status line",
            InvalidKind::Version => "http version",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_table_is_consistent() {
        for (i, kind) in AnomalyKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i);
            assert!(kind
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        let mut labels: Vec<_> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
        let sorted = labels.clone();
        labels.sort_unstable();
        assert_eq!(labels, sorted, "kinds are listed alphabetically");
        labels.dedup();
        assert_eq!(labels.len(), AnomalyKind::COUNT);
    }

    #[test]
    fn error_display_is_lowercase() {
        assert_eq!(
            Error::Invalid(InvalidKind::StatusLine).to_string(),
            "invalid status line"
        );
        assert_eq!(
            Error::Incomplete { needed: 1 }.to_string(),
            "incomplete input, 1 more bytes needed"
        );
    }
}
