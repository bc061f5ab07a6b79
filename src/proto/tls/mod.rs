//! Passive TLS observer: record framing, handshake reassembly, ClientHello and
//! ServerHello parsing, JA3 and JA4 client fingerprints.
//!
//! Owns: the per-flow [`state::TlsFlow`] (record framing per direction, a bounded
//! handshake buffer, opaque byte counters) and the borrowed hello views of
//! [`parser`].
//!
//! Takes: in-order, reassembled TCP stream bytes per direction, in chunks of any
//! size (down to single bytes), plus gap notices. QUIC feeds complete handshake
//! messages from its CRYPTO stream straight into [`parse_client_hello`].
//!
//! Emits: one [`TlsEvent::ClientHello`] with an owned [`TlsSummary`] (SNI, ALPN,
//! versions, JA3, JA4, client random) and one [`TlsEvent::ServerHello`] with the
//! negotiated version and cipher suite. After its hello a direction only frames
//! records and counts application-data bytes.
//!
//! Limits: the handshake buffer ([`Limits::max_handshake_bytes`]), the SNI
//! length and the number of ALPN values copied into a summary. Each hit is
//! counted in [`TlsStats`].
//!
//! Decryption ([`decrypt`]): given a key log, protected records are
//! collected whole, opened with `keylog`'s record keys, and their
//! application data goes to a [`TlsSink`] per direction in order; without
//! keys they are held within limits and retried when keys arrive.
//!
//! Must not: implement cryptography (that is `keylog`'s), allocate per record
//! (record buffers are reused), or panic on any input. Malformed bytes make
//! the affected direction give up, counted.

pub mod decrypt;
pub mod fingerprint;
pub mod parser;
pub mod state;

pub use decrypt::{
    DecryptCtx, DecryptLimits, DecryptStats, OpaqueReason, Status as DecryptStatus, TlsSink,
};
pub use fingerprint::{is_grease, ja3_string, ja4, md5_hex, Transport};
pub use parser::{
    parse_client_hello, parse_handshake_header, parse_record_header, parse_server_hello, probe,
    AlpnIter, CipherSuite, ClientHello, ContentType, Extension, ExtensionIter, ExtensionType,
    HandshakeHeader, HandshakeType, ProtocolVersion, RecordHeader, ServerHello, U16List,
    U16ListIter,
};
pub use state::{TlsEvent, TlsFlow, TlsSummary};

/// Default cap on buffered handshake bytes per direction. 64 KiB holds the
/// largest ClientHello seen in practice (post-quantum key shares, many PSKs)
/// with headroom, while bounding the memory an attacker can pin per flow.
pub const DEFAULT_MAX_HANDSHAKE_BYTES: usize = 64 * 1024;

/// Default cap on the SNI bytes copied into a summary. DNS names are at most
/// 253 characters (RFC 1035 §2.3.4); anything longer is truncated and counted.
pub const DEFAULT_MAX_SNI_BYTES: usize = 255;

/// Default cap on ALPN values copied into a summary. Real clients offer a
/// handful ("h2", "http/1.1", "h3"); the rest are dropped and counted.
pub const DEFAULT_MAX_ALPN_VALUES: usize = 16;

/// Largest record body accepted: 2^14 plaintext plus 2048 bytes of expansion
/// (RFC 5246 §6.2.3; RFC 8446 §5.2 allows only 256). Larger lengths mean the
/// stream is not TLS or is desynchronised.
pub const MAX_RECORD_BODY_BYTES: usize = 16384 + 2048;

/// Per-flow limits; construct with [`Limits::default`] and override fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Cap on buffered handshake bytes per direction, header included.
    pub max_handshake_bytes: usize,
    /// Cap on SNI bytes copied into a [`TlsSummary`].
    pub max_sni_bytes: usize,
    /// Cap on ALPN values copied into a [`TlsSummary`].
    pub max_alpn_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_handshake_bytes: DEFAULT_MAX_HANDSHAKE_BYTES,
            max_sni_bytes: DEFAULT_MAX_SNI_BYTES,
            max_alpn_values: DEFAULT_MAX_ALPN_VALUES,
        }
    }
}

/// Counters of one flow (or summed by the caller over many). Plain u64 fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsStats {
    /// Record headers parsed, both directions.
    pub records: u64,
    /// Handshake messages taken out of the handshake buffer.
    pub handshake_messages: u64,
    /// ClientHello messages parsed into a summary.
    pub client_hellos: u64,
    /// ServerHello messages parsed (HelloRetryRequest excluded).
    pub server_hellos: u64,
    /// HelloRetryRequest messages seen.
    pub hello_retry_requests: u64,
    /// Application-data record body bytes, client to server.
    pub opaque_bytes_to_server: u64,
    /// Application-data record body bytes, server to client.
    pub opaque_bytes_to_client: u64,
    /// Handshake messages larger than `max_handshake_bytes` (direction gives up).
    pub handshake_limit_hits: u64,
    /// SNI values truncated to `max_sni_bytes`.
    pub sni_truncated: u64,
    /// ALPN lists cut to `max_alpn_values`.
    pub alpn_truncated: u64,
    /// ClientHellos with a malformed extension body (field left empty).
    pub malformed_extensions: u64,
    /// Directions that gave up on malformed bytes (see [`TlsAnomaly`]).
    pub invalid: u64,
    /// Gaps reported by reassembly.
    pub gaps: u64,
}

/// Anomalies a flow can note; `as_str` is the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsAnomaly {
    /// Reassembly reported missing bytes.
    Gap,
    /// A handshake message exceeded the handshake buffer.
    HandshakeTooLarge,
    /// The ClientHello did not parse.
    InvalidClientHello,
    /// A record header was not TLS (bad type, version or length).
    InvalidRecord,
    /// The ServerHello did not parse.
    InvalidServerHello,
    /// A ClientHello extension body was malformed; its field was skipped.
    MalformedExtension,
    /// The first client handshake message was not a ClientHello.
    UnexpectedHandshake,
}

impl TlsAnomaly {
    /// Snake-case label for metrics and records.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsAnomaly::Gap => "gap",
            TlsAnomaly::HandshakeTooLarge => "handshake_too_large",
            TlsAnomaly::InvalidClientHello => "invalid_client_hello",
            TlsAnomaly::InvalidRecord => "invalid_record",
            TlsAnomaly::InvalidServerHello => "invalid_server_hello",
            TlsAnomaly::MalformedExtension => "malformed_extension",
            TlsAnomaly::UnexpectedHandshake => "unexpected_handshake",
        }
    }
}

/// Errors of the TLS parsers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// More bytes are needed; `needed` is the minimum number still missing.
    #[error("incomplete tls data, {needed} more bytes needed")]
    Incomplete {
        /// Minimum number of further bytes needed.
        needed: usize,
    },
    /// The bytes are not valid TLS; give up on this stream.
    #[error("invalid tls data: {}", .0.as_str())]
    Invalid(InvalidKind),
}

/// What made TLS bytes invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    /// ALPN extension body malformed (RFC 7301 §3.1).
    AlpnList,
    /// Cipher suite vector empty, odd or overrunning.
    CipherSuites,
    /// Compression methods vector empty or overrunning.
    CompressionMethods,
    /// ec_point_formats extension body malformed (RFC 8422 §5.1.2).
    EcPointFormats,
    /// An extension header or body overruns the extensions block.
    ExtensionBlock,
    /// Handshake body shorter than its fixed fields.
    HandshakeBody,
    /// Handshake message is not of the expected type.
    HandshakeType,
    /// Record content type is not 20..=24.
    RecordContentType,
    /// Record length is zero or exceeds [`MAX_RECORD_BODY_BYTES`].
    RecordLength,
    /// Record version major byte is not 3.
    RecordVersion,
    /// server_name extension body malformed (RFC 6066 §3).
    ServerName,
    /// Session id longer than 32 bytes.
    SessionId,
    /// signature_algorithms extension body malformed (RFC 8446 §4.2.3).
    SignatureAlgorithms,
    /// supported_groups extension body malformed (RFC 8446 §4.2.7).
    SupportedGroups,
    /// supported_versions extension body malformed (RFC 8446 §4.2.1).
    SupportedVersions,
    /// Bytes left after the extensions block.
    TrailingBytes,
}

impl InvalidKind {
    /// Snake-case label for metrics and error text.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::AlpnList => "alpn_list",
            InvalidKind::CipherSuites => "cipher_suites",
            InvalidKind::CompressionMethods => "compression_methods",
            InvalidKind::EcPointFormats => "ec_point_formats",
            InvalidKind::ExtensionBlock => "extension_block",
            InvalidKind::HandshakeBody => "handshake_body",
            InvalidKind::HandshakeType => "handshake_type",
            InvalidKind::RecordContentType => "record_content_type",
            InvalidKind::RecordLength => "record_length",
            InvalidKind::RecordVersion => "record_version",
            InvalidKind::ServerName => "server_name",
            InvalidKind::SessionId => "session_id",
            InvalidKind::SignatureAlgorithms => "signature_algorithms",
            InvalidKind::SupportedGroups => "supported_groups",
            InvalidKind::SupportedVersions => "supported_versions",
            InvalidKind::TrailingBytes => "trailing_bytes",
        }
    }
}

/// Human name of a TLS/SSL protocol version for records ("TLSv1.3", "SSLv3",
/// "unknown"). Draft TLS 1.3 versions (0x7fxx) map to "TLSv1.3-draft".
pub fn version_name(version: u16) -> &'static str {
    ProtocolVersion(version).name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names() {
        assert_eq!(version_name(0x0304), "TLSv1.3");
        assert_eq!(version_name(0x0303), "TLSv1.2");
        assert_eq!(version_name(0x0302), "TLSv1.1");
        assert_eq!(version_name(0x0301), "TLSv1.0");
        assert_eq!(version_name(0x0300), "SSLv3");
        assert_eq!(version_name(0x0002), "SSLv2");
        assert_eq!(version_name(0x7f1c), "TLSv1.3-draft");
        assert_eq!(version_name(0xfefd), "DTLSv1.2");
        assert_eq!(version_name(0x1234), "unknown");
    }

    #[test]
    fn error_display_is_lowercase() {
        let e = Error::Invalid(InvalidKind::RecordVersion);
        assert_eq!(e.to_string(), "invalid tls data: record_version");
        let e = Error::Incomplete { needed: 3 };
        assert_eq!(e.to_string(), "incomplete tls data, 3 more bytes needed");
    }
}
