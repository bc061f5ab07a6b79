//! Passive HTTP/2 (RFC 9113) observation of one connection: frames, HPACK (RFC 7541) and
//! streams, assembled into the same requests and transactions the HTTP/1.x parser reports.
//!
//! Owns: one [`state::Http2Flow`] per connection, holding per direction a frame reader, the
//! header block being assembled and its HPACK decoder, and a bounded list of open streams with
//! the request being built and its streaming body decoder ([`crate::proto::http::body`]).
//!
//! Takes: in-order plaintext bytes of both directions in any chunk size (down to one byte):
//! h2c with prior knowledge (the client preface on a cleartext connection) or decrypted TLS
//! with ALPN `h2`. Gap and close notifications as for HTTP/1.x.
//!
//! Emits [`http::Event`]s, so that the rest of the pipeline treats HTTP/2 as HTTP/1.x:
//! - [`http::Event::Request`] once a request's header block and body are complete
//!   (END_STREAM from the client, RFC 9113 §8.1), or cut by RST_STREAM, a gap or close
//!   (then `body_truncated`). Fields are mapped as follows: `method` = `:method`; `uri` =
//!   `:path` (`:authority` for CONNECT, RFC 9113 §8.5); `host` = `:authority`, else the first
//!   `host` field; `version` = 2. Pseudo-header fields are **not** in `headers` (they are the
//!   fields above); regular fields keep their order and (lower-case) names. Cookie fields,
//!   which HTTP/2 may split into one field per pair, are joined into one `cookie` field with
//!   `"; "` at the place of the first (RFC 9113 §8.2.3). Trailer fields are appended. The body
//!   is the DATA payloads without padding, decoded and capped by the same `BodySink` as
//!   HTTP/1.x and classified by the same `classify`.
//! - [`http::Event::Transaction`] once the final response's END_STREAM arrives, or when the
//!   stream is reset, the server side ends or breaks, or GOAWAY says the server will not
//!   process it (then `status: None` unless a response head was seen). `http2` is set.
//! - [`http::Event::Anomaly`] for body and header-cap problems shared with HTTP/1.x, and
//!   [`http::Event::Http2Anomaly`] for HTTP/2 framing, HPACK and stream problems; both are
//!   also summed in [`Stats`].
//!
//! Gaps: HPACK state is per direction and cumulative, so a capture gap loses it for good. A
//! gap that lies inside a DATA payload (or a skipped frame) is absorbed: the body is marked
//! truncated and framing goes on. Any other gap stops that direction
//! ([`AnomalyKind::Gap`]): the client side emits its open requests as truncated, the server
//! side emits its open transactions without status (`gap: true`). The other direction goes
//! on. An HPACK decoding error or an oversized header block stops the direction the same way.
//!
//! Limits: see [`Limits`]; each limit has a `DEFAULT_*` constant with its reason and an
//! anomaly kind that is counted when it is hit. Memory per connection is bounded by two
//! dynamic tables (`max_hpack_table_bytes` each), two header block buffers
//! (`max_header_block_bytes` each), `max_streams` open streams each holding one request head,
//! `max_body_streams` body decoders with their kept bodies, and a control frame buffer of
//! [`DEFAULT_MAX_CONTROL_FRAME_BYTES`].
//! DATA payloads are streamed, never buffered whole, so SETTINGS_MAX_FRAME_SIZE up to
//! 2^24-1 costs nothing.
//!
//! Cost: DATA payloads stream at memory speed. Header blocks cost what `loona-hpack` costs:
//! its Huffman decoder rebuilds its code table for every Huffman-coded string, about 1.5 µs
//! per header-block byte of ordinary requests (4 600 twelve-field request heads per second
//! per core, measured in release mode; 160 000 when the same heads are sent without
//! Huffman coding) and up to about 13 µs per byte for a block crafted of one-byte Huffman
//! strings (0.85 s for a 64 KiB block). `max_header_block_bytes` bounds the stall one block
//! can cause; a faster decoder is a drop-in change in [`hpack`].
//!
//! Not covered: server push responses (PUSH_PROMISE header blocks are decoded to keep HPACK
//! in step, the pushed streams are ignored), the HTTP/1.1 `Upgrade: h2c` path, flow control
//! and priorities (parsed and counted only). Must not: panic or index unchecked on network
//! bytes, decode response bodies, or look at the clock.

pub mod frame;
pub mod hpack;
pub mod state;

pub use frame::probe;
pub use state::Http2Flow;

use crate::proto::http;

/// Streams tracked at once per connection. At the limit the oldest stream is emitted as it
/// stands and dropped (`stream_overflow`). Servers advertise SETTINGS_MAX_CONCURRENT_STREAMS
/// of 100 to 256; apps rarely have more than a few dozen requests in flight.
pub const DEFAULT_MAX_STREAMS: usize = 256;
/// Streams whose request body is kept and decoded at once per connection. A request body
/// beyond it is counted but not kept (`body_streams_cap`; the request is emitted with
/// `body_truncated`). Each kept body holds up to `http.max_body_bytes` plus a decoder (a
/// brotli window can reach 16 MiB), so this, not `max_streams`, bounds body memory per
/// connection; apps rarely upload more than a few bodies at once.
pub const DEFAULT_MAX_BODY_STREAMS: usize = 8;
/// Bytes of one header block (HEADERS or PUSH_PROMISE plus CONTINUATION frames) buffered for
/// decoding. A larger block cannot be decoded, so its direction stops (`header_block_cap`).
/// Encoded blocks are a fraction of the decoded list that servers accept (nginx 32 KiB);
/// 64 KiB covers oversized cookies and tokens (the largest public sample, a CONTINUATION
/// test, is 25 KiB) and bounds the time one block can take to decode (see the module doc).
pub const DEFAULT_MAX_HEADER_BLOCK_BYTES: usize = 64 * 1024;
/// Largest HPACK dynamic table kept per direction, whatever SETTINGS_HEADER_TABLE_SIZE a
/// peer announces; a size update above it stops the direction (`hpack_table_cap`). Browsers
/// and OkHttp announce 4 KiB to 64 KiB.
pub const DEFAULT_MAX_HPACK_TABLE_BYTES: usize = 64 * 1024;
/// Bytes of a control frame (SETTINGS, PING, GOAWAY, RST_STREAM, PRIORITY, WINDOW_UPDATE)
/// kept for parsing; the rest is skipped. The initial SETTINGS_MAX_FRAME_SIZE; real control
/// frames are under 100 bytes, GOAWAY debug data aside.
pub const DEFAULT_MAX_CONTROL_FRAME_BYTES: usize = 16 * 1024;

/// Per-connection limits, given at construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Header and body limits shared with HTTP/1.x (`http.*` config keys):
    /// `max_headers`, `max_header_bytes`, `max_decoded_body_bytes` and the decompression
    /// ratio; the line, pending and held-bytes limits do not apply to HTTP/2.
    pub http: http::Limits,
    /// See [`DEFAULT_MAX_STREAMS`].
    pub max_streams: usize,
    /// See [`DEFAULT_MAX_BODY_STREAMS`].
    pub max_body_streams: usize,
    /// See [`DEFAULT_MAX_HEADER_BLOCK_BYTES`].
    pub max_header_block_bytes: usize,
    /// See [`DEFAULT_MAX_HPACK_TABLE_BYTES`]. At least 4096 (RFC 7541 §4.2: the initial
    /// table size an encoder may use without asking).
    pub max_hpack_table_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            http: http::Limits::default(),
            max_streams: DEFAULT_MAX_STREAMS,
            max_body_streams: DEFAULT_MAX_BODY_STREAMS,
            max_header_block_bytes: DEFAULT_MAX_HEADER_BLOCK_BYTES,
            max_hpack_table_bytes: DEFAULT_MAX_HPACK_TABLE_BYTES,
        }
    }
}

/// HTTP/2-specific counted problems, listed alphabetically; `as_str` gives the metric label.
/// Problems shared with HTTP/1.x (body decoding, header caps, truncated messages) are
/// [`http::AnomalyKind`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    /// A request body started while `max_body_streams` bodies were in progress; it was
    /// counted, not kept.
    BodyStreamsCap,
    /// A CONTINUATION frame without an open header block, on another stream, or another frame
    /// inside a header block (RFC 9113 §6.10); the block is lost, the direction stopped.
    ContinuationInvalid,
    /// A frame whose length, stream id or flags are invalid for its type (RFC 9113 §6); the
    /// frame was skipped (its length still frames the stream).
    FrameInvalid,
    /// A frame longer than the receiver's SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2); it was
    /// processed anyway.
    FrameTooLarge,
    /// A capture gap outside a DATA payload: framing and HPACK state are lost, the direction
    /// stopped.
    Gap,
    /// A header block passed `max_header_block_bytes`; it cannot be decoded, the direction
    /// stopped.
    HeaderBlockCap,
    /// HPACK decoding failed ([`hpack::HpackError`]); the direction stopped.
    HpackError,
    /// A dynamic table size update above `max_hpack_table_bytes` (but within the peer's
    /// SETTINGS_HEADER_TABLE_SIZE); the direction stopped.
    HpackTableCap,
    /// Padding longer than its frame (RFC 9113 §6.1); the frame was skipped (a HEADERS or
    /// PUSH_PROMISE frame's block is lost with it, which stops the direction).
    PaddingInvalid,
    /// The client did not start with the connection preface (RFC 9113 §3.4); the client
    /// direction stopped.
    PrefaceInvalid,
    /// A request without `:method` or (except CONNECT) `:path`, or a response without a valid
    /// `:status` (RFC 9113 §8.3).
    PseudoHeaderMissing,
    /// A response head on a stream with no tracked request (never seen, or dropped by
    /// `stream_overflow`).
    ResponseWithoutRequest,
    /// The first frame of a side was not SETTINGS (RFC 9113 §3.4).
    SettingsMissing,
    /// The stream list was full; the oldest stream was emitted as it stood and dropped.
    StreamOverflow,
    /// A side ended in the middle of a frame or a header block.
    TruncatedFrame,
}

impl AnomalyKind {
    /// Number of kinds, for counter arrays.
    pub const COUNT: usize = 15;
    /// Every kind, in declaration order (index = `self as usize`).
    pub const ALL: [AnomalyKind; Self::COUNT] = [
        AnomalyKind::BodyStreamsCap,
        AnomalyKind::ContinuationInvalid,
        AnomalyKind::FrameInvalid,
        AnomalyKind::FrameTooLarge,
        AnomalyKind::Gap,
        AnomalyKind::HeaderBlockCap,
        AnomalyKind::HpackError,
        AnomalyKind::HpackTableCap,
        AnomalyKind::PaddingInvalid,
        AnomalyKind::PrefaceInvalid,
        AnomalyKind::PseudoHeaderMissing,
        AnomalyKind::ResponseWithoutRequest,
        AnomalyKind::SettingsMissing,
        AnomalyKind::StreamOverflow,
        AnomalyKind::TruncatedFrame,
    ];

    /// Stable snake_case label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::BodyStreamsCap => "body_streams_cap",
            AnomalyKind::ContinuationInvalid => "continuation_invalid",
            AnomalyKind::FrameInvalid => "frame_invalid",
            AnomalyKind::FrameTooLarge => "frame_too_large",
            AnomalyKind::Gap => "gap",
            AnomalyKind::HeaderBlockCap => "header_block_cap",
            AnomalyKind::HpackError => "hpack_error",
            AnomalyKind::HpackTableCap => "hpack_table_cap",
            AnomalyKind::PaddingInvalid => "padding_invalid",
            AnomalyKind::PrefaceInvalid => "preface_invalid",
            AnomalyKind::PseudoHeaderMissing => "pseudo_header_missing",
            AnomalyKind::ResponseWithoutRequest => "response_without_request",
            AnomalyKind::SettingsMissing => "settings_missing",
            AnomalyKind::StreamOverflow => "stream_overflow",
            AnomalyKind::TruncatedFrame => "truncated_frame",
        }
    }
}

/// Counters of one connection; worker code sums them into metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames whose header was read, all types.
    pub frames: u64,
    /// Frames of unknown type, skipped (RFC 9113 §5.5).
    pub frames_unknown: u64,
    /// Header blocks decoded (HEADERS and PUSH_PROMISE, with their CONTINUATIONs).
    pub header_blocks: u64,
    /// Request header blocks that opened a stream.
    pub requests: u64,
    /// Final response heads.
    pub responses: u64,
    /// Interim 1xx response heads skipped (RFC 9110 §15.2).
    pub interim_responses: u64,
    /// `Transaction` events emitted.
    pub transactions: u64,
    /// Of those, emitted without a response.
    pub transactions_unanswered: u64,
    /// RST_STREAM frames.
    pub streams_reset: u64,
    /// PUSH_PROMISE frames (pushed streams are not tracked).
    pub push_promises: u64,
    /// GOAWAY frames.
    pub goaways: u64,
    /// Bytes reported lost by `on_gap`.
    pub gap_bytes: u64,
    /// Bytes dropped because their direction stopped, or DATA for untracked streams.
    pub ignored_bytes: u64,
    /// Padding bytes stripped from DATA, HEADERS and PUSH_PROMISE frames.
    pub padding_bytes: u64,
    /// Request DATA bytes (after padding), before decoding.
    pub request_body_bytes: u64,
    /// Response DATA bytes (after padding).
    pub response_body_bytes: u64,
    /// Per-kind counts of HTTP/2 anomalies, indexed by `AnomalyKind as usize`.
    pub anomalies: [u64; AnomalyKind::COUNT],
    /// Per-kind counts of the shared HTTP anomalies this connection emitted, indexed by
    /// `http::AnomalyKind as usize`.
    pub http_anomalies: [u64; http::AnomalyKind::COUNT],
}

impl Stats {
    /// Count of one HTTP/2 anomaly kind.
    pub fn anomaly(&self, kind: AnomalyKind) -> u64 {
        self.anomalies.get(kind as usize).copied().unwrap_or(0)
    }

    /// Count of one shared HTTP anomaly kind.
    pub fn http_anomaly(&self, kind: http::AnomalyKind) -> u64 {
        self.http_anomalies.get(kind as usize).copied().unwrap_or(0)
    }

    /// Sum over all anomaly kinds, both sets.
    pub fn anomalies_total(&self) -> u64 {
        self.anomalies.iter().sum::<u64>() + self.http_anomalies.iter().sum::<u64>()
    }
}

/// Errors of the frame parsers in [`frame`].
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
    /// A payload length that its frame type does not allow (RFC 9113 §6).
    FrameLength,
    /// Padding longer than the payload (RFC 9113 §6.1).
    Padding,
}

impl InvalidKind {
    /// Lowercase label.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::FrameLength => "frame length",
            InvalidKind::Padding => "padding",
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit_tests {
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
            Error::Invalid(InvalidKind::Padding).to_string(),
            "invalid padding"
        );
    }
}
