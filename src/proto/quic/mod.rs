//! QUIC Initial packet observer (RFC 9000, RFC 9001, QUIC v2 RFC 9369, IETF
//! drafts 22 to 32 and Facebook mvfst aliases).
//!
//! Owns: the per-flow [`state::QuicFlow`]: Initial keys derived from the
//! client's first Destination Connection ID, per-direction CRYPTO stream
//! reassembly ([`assembler::CryptoAssembler`]) and one reusable scratch buffer
//! for decryption.
//!
//! Takes: UDP payloads (datagrams) per direction. Long-header packets are
//! walked by their Length field (coalesced packets); only Initial packets are
//! decrypted (header protection, AES-128-GCM). Their PADDING, PING, ACK,
//! CRYPTO and CONNECTION_CLOSE frames are read; any other frame ends the
//! packet.
//!
//! Emits: [`QuicEvent::ClientHello`] with a [`crate::proto::tls::TlsSummary`]
//! (JA4 with the `q` prefix) once the contiguous CRYPTO prefix holds the whole
//! ClientHello, and [`QuicEvent::ServerHello`] from the server's Initials.
//!
//! Limits: CRYPTO bytes and fragments per direction ([`Limits`]), Initial
//! packets per direction before giving up. Every hit is counted in
//! [`QuicStats`].
//!
//! Must not: decrypt Handshake or 1-RTT packets, keep state beyond the
//! Initial exchange, or panic on any datagram.

pub mod assembler;
pub mod initial;
pub mod parser;
pub mod state;

use std::fmt;

pub use assembler::CryptoAssembler;
pub use initial::{InitialKeys, InitialSecrets, KeyMaterial, PacketKeys};
pub use parser::{
    parse_frame, parse_long_header, parse_varint, probe, Frame, FrameType, LongHeader, PacketType,
};
pub use state::{QuicEvent, QuicFlow};

/// Default cap on reassembled CRYPTO bytes per direction. A ClientHello with
/// post-quantum key shares spans a few Initial packets (~2-3 KiB); 64 KiB
/// matches the TLS handshake buffer cap and bounds per-flow memory.
pub const DEFAULT_MAX_CRYPTO_BYTES: usize = 64 * 1024;

/// Default cap on disjoint CRYPTO ranges held per direction. Clients that
/// shuffle CRYPTO frames (Chrome) send tens of fragments; more means an
/// attacker trying to make range bookkeeping expensive.
pub const DEFAULT_MAX_CRYPTO_FRAGMENTS: usize = 64;

/// Default number of Initial packets per direction after which a flow that
/// has not produced its hello stops trying. A normal ClientHello needs 1-3.
pub const DEFAULT_MAX_INITIAL_PACKETS: u32 = 16;

/// Maximum connection ID length for QUIC v1 and v2 (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// Per-flow limits; construct with [`Limits::default`] and override fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Cap on reassembled CRYPTO bytes per direction.
    pub max_crypto_bytes: usize,
    /// Cap on disjoint CRYPTO ranges per direction.
    pub max_crypto_fragments: usize,
    /// Initial packets per direction before giving up.
    pub max_initial_packets: u32,
    /// Limits for the TLS summary (SNI and ALPN caps).
    pub tls: crate::proto::tls::Limits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_crypto_bytes: DEFAULT_MAX_CRYPTO_BYTES,
            max_crypto_fragments: DEFAULT_MAX_CRYPTO_FRAGMENTS,
            max_initial_packets: DEFAULT_MAX_INITIAL_PACKETS,
            tls: crate::proto::tls::Limits::default(),
        }
    }
}

/// Counters of one flow (or summed by the caller). Plain u64 fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuicStats {
    /// Datagrams given to the flow.
    pub datagrams: u64,
    /// Initial packets decrypted successfully.
    pub initial_packets: u64,
    /// 0-RTT and Handshake packets skipped.
    pub other_long_packets: u64,
    /// Version Negotiation packets skipped.
    pub version_negotiation: u64,
    /// Retry packets skipped.
    pub retries: u64,
    /// Long-header packets of a version we cannot decrypt.
    pub unsupported_versions: u64,
    /// Long headers that did not parse.
    pub invalid_headers: u64,
    /// Server Initials seen before any client Initial (no keys).
    pub missing_keys: u64,
    /// Initial packets whose header protection or AEAD check failed.
    pub decrypt_failures: u64,
    /// Packets cut short by a frame type not allowed in Initials.
    pub unknown_frames: u64,
    /// Packets cut short by a malformed frame.
    pub invalid_frames: u64,
    /// CRYPTO bytes dropped beyond `max_crypto_bytes`.
    pub crypto_limit_hits: u64,
    /// CRYPTO frames dropped at `max_crypto_fragments`.
    pub crypto_fragment_limit_hits: u64,
    /// Directions that gave up after `max_initial_packets`.
    pub initial_packet_limit_hits: u64,
    /// ClientHellos summarised.
    pub client_hellos: u64,
    /// ServerHellos parsed.
    pub server_hellos: u64,
    /// Hellos that did not parse.
    pub invalid_hellos: u64,
    /// ClientHellos with a malformed extension body (field left empty).
    pub malformed_extensions: u64,
}

/// Anomalies a flow can note; `as_str` is the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuicAnomaly {
    /// CRYPTO data fragmented beyond `max_crypto_fragments`.
    CryptoTooFragmented,
    /// CRYPTO data beyond `max_crypto_bytes`.
    CryptoTooLarge,
    /// An Initial failed header protection removal or AEAD authentication.
    DecryptFailed,
    /// Gave up after `max_initial_packets` without a hello.
    InitialPacketLimit,
    /// A frame was malformed or not allowed in an Initial packet.
    InvalidFrame,
    /// A long header did not parse.
    InvalidHeader,
    /// The reassembled hello did not parse.
    InvalidHello,
    /// Server Initial seen before any client Initial.
    MissingKeys,
    /// A version without known Initial salt.
    UnsupportedVersion,
}

impl QuicAnomaly {
    /// Snake-case label for metrics and records.
    pub fn as_str(self) -> &'static str {
        match self {
            QuicAnomaly::CryptoTooFragmented => "crypto_too_fragmented",
            QuicAnomaly::CryptoTooLarge => "crypto_too_large",
            QuicAnomaly::DecryptFailed => "decrypt_failed",
            QuicAnomaly::InitialPacketLimit => "initial_packet_limit",
            QuicAnomaly::InvalidFrame => "invalid_frame",
            QuicAnomaly::InvalidHeader => "invalid_header",
            QuicAnomaly::InvalidHello => "invalid_hello",
            QuicAnomaly::MissingKeys => "missing_keys",
            QuicAnomaly::UnsupportedVersion => "unsupported_version",
        }
    }
}

/// Errors of the QUIC parsers and packet protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// More bytes are needed; `needed` is the minimum number still missing.
    #[error("incomplete quic data, {needed} more bytes needed")]
    Incomplete {
        /// Minimum number of further bytes needed.
        needed: usize,
    },
    /// The bytes are not a valid QUIC packet or frame.
    #[error("invalid quic data: {}", .0.as_str())]
    Invalid(InvalidKind),
}

/// What made QUIC bytes invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    /// AEAD authentication failed (wrong keys or corrupted packet).
    Authentication,
    /// Connection ID longer than 20 bytes (RFC 9000 §17.2).
    ConnectionIdLength,
    /// A frame's fields overrun the packet or are inconsistent.
    FrameEncoding,
    /// A frame type not allowed in Initial packets (RFC 9000 §12.4).
    FrameType,
    /// First byte is a short header where a long header was expected.
    HeaderForm,
    /// Packet too short for the header protection sample and AEAD tag.
    PacketTooShort,
    /// The version has no known Initial salt and labels.
    UnsupportedVersion,
}

impl InvalidKind {
    /// Snake-case label for metrics and error text.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::Authentication => "authentication",
            InvalidKind::ConnectionIdLength => "connection_id_length",
            InvalidKind::FrameEncoding => "frame_encoding",
            InvalidKind::FrameType => "frame_type",
            InvalidKind::HeaderForm => "header_form",
            InvalidKind::PacketTooShort => "packet_too_short",
            InvalidKind::UnsupportedVersion => "unsupported_version",
        }
    }
}

/// QUIC version field (RFC 9000 §15). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version(pub u32);

/// HKDF labels of a version's Initial packet protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Labels {
    /// Label of the AEAD key ("quic key").
    pub key: &'static [u8],
    /// Label of the AEAD IV ("quic iv").
    pub iv: &'static [u8],
    /// Label of the header protection key ("quic hp").
    pub hp: &'static [u8],
}

const LABELS_V1: Labels = Labels {
    key: b"quic key",
    iv: b"quic iv",
    hp: b"quic hp",
};

/// RFC 9369 §3.3.2.
const LABELS_V2: Labels = Labels {
    key: b"quicv2 key",
    iv: b"quicv2 iv",
    hp: b"quicv2 hp",
};

/// RFC 9001 §5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2 (drafts 29 to 32).
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// draft-ietf-quic-tls-23 §5.2 (drafts 23 to 28, mvfst draft-27 aliases).
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// draft-ietf-quic-tls-22 §5.2 (draft 22, mvfst 0xfaceb001).
const SALT_DRAFT_22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];

/// How a supported version protects Initial packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialParams {
    /// HKDF-Extract salt.
    pub salt: &'static [u8; 20],
    /// HKDF-Expand-Label labels for key, iv, hp.
    pub labels: Labels,
    /// Whether long packet types use the v2 code points (RFC 9369 §3.2).
    pub v2_packet_types: bool,
}

impl Version {
    /// Version Negotiation (RFC 9000 §17.2.1).
    pub const NEGOTIATION: Version = Version(0);
    /// QUIC version 1 (RFC 9000).
    pub const V1: Version = Version(0x0000_0001);
    /// QUIC version 2 (RFC 9369).
    pub const V2: Version = Version(0x6b33_43cf);
    /// IETF draft 29, the most deployed draft.
    pub const DRAFT_29: Version = Version(0xff00_001d);
    /// Facebook mvfst, draft-22 based.
    pub const MVFST_22: Version = Version(0xface_b001);
    /// Facebook mvfst, draft-27 based.
    pub const MVFST_27: Version = Version(0xface_b002);
    /// Facebook mvfst experimental alias (draft-27 based).
    pub const MVFST_EXPERIMENTAL: Version = Version(0xface_b00e);

    /// Whether this is a reserved version of the form 0x?a?a?a?a, which
    /// clients send to force Version Negotiation (RFC 9000 §6.3).
    pub fn is_reserved(self) -> bool {
        self.0 & 0x0f0f_0f0f == 0x0a0a_0a0a
    }

    /// IETF draft number for `0xff0000nn` versions.
    fn draft(self) -> Option<u8> {
        let [a, b, c, d] = self.0.to_be_bytes();
        (a == 0xff && b == 0 && c == 0).then_some(d)
    }

    /// Initial packet protection parameters, `None` if unsupported.
    pub fn initial_params(self) -> Option<InitialParams> {
        let v1 = |salt| {
            Some(InitialParams {
                salt,
                labels: LABELS_V1,
                v2_packet_types: false,
            })
        };
        match self {
            Version::V1 => v1(&SALT_V1),
            Version::V2 => Some(InitialParams {
                salt: &SALT_V2,
                labels: LABELS_V2,
                v2_packet_types: true,
            }),
            Version::MVFST_22 => v1(&SALT_DRAFT_22),
            Version::MVFST_27 | Version::MVFST_EXPERIMENTAL => v1(&SALT_DRAFT_23),
            _ if self.is_reserved() => v1(&SALT_V1),
            _ => match self.draft()? {
                22 => v1(&SALT_DRAFT_22),
                23..=28 => v1(&SALT_DRAFT_23),
                29..=32 => v1(&SALT_DRAFT_29),
                _ => None,
            },
        }
    }

    /// Second choice of parameters when the first fail to open a packet.
    /// Reserved versions carry no salt of their own: clients use their
    /// default version's; v1 is tried first, then draft 29 (what Wireshark
    /// assumes).
    pub fn fallback_params(self) -> Option<InitialParams> {
        self.is_reserved().then_some(InitialParams {
            salt: &SALT_DRAFT_29,
            labels: LABELS_V1,
            v2_packet_types: false,
        })
    }

    /// Whether Initial packets of this version can be decrypted.
    pub fn is_supported(self) -> bool {
        self.initial_params().is_some()
    }
}

impl fmt::Display for Version {
    /// "v1", "v2", "draft-29", "mvfst-27", or the hex value ("0x51303530").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Version::V1 => f.write_str("v1"),
            Version::V2 => f.write_str("v2"),
            Version::MVFST_22 => f.write_str("mvfst-22"),
            Version::MVFST_27 => f.write_str("mvfst-27"),
            Version::MVFST_EXPERIMENTAL => f.write_str("mvfst-exp"),
            v => match v.draft() {
                Some(n) => write!(f, "draft-{n}"),
                None => write!(f, "0x{:08x}", v.0),
            },
        }
    }
}

/// Name of a QUIC version for records: "v1", "v2", "draft-29", "mvfst-27",
/// or the hex value such as "0x51303530" (gQUIC Q050).
pub fn version_name(version: u32) -> String {
    Version(version).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names() {
        assert_eq!(version_name(1), "v1");
        assert_eq!(version_name(0x6b3343cf), "v2");
        assert_eq!(version_name(0xff00001d), "draft-29");
        assert_eq!(version_name(0xfaceb002), "mvfst-27");
        assert_eq!(version_name(0x51303530), "0x51303530");
    }

    #[test]
    fn supported_versions() {
        for v in [
            1, 0x6b3343cf, 0xff000016, 0xff000017, 0xff00001c, 0xff00001d, 0xff000020,
        ] {
            assert!(Version(v).is_supported(), "{v:#x}");
        }
        for v in [
            0, 0x709a50c4, 0xff000015, 0xff000021, 0x51303530, 0x1a2a3a4b,
        ] {
            assert!(!Version(v).is_supported(), "{v:#x}");
        }
        // Reserved versions (RFC 9000 §6.3): v1 parameters, draft-29 fallback.
        let reserved = Version(0x1a2a3a4a);
        assert!(reserved.is_reserved());
        assert_eq!(reserved.initial_params().map(|p| p.salt), Some(&SALT_V1));
        assert_eq!(
            reserved.fallback_params().map(|p| p.salt),
            Some(&SALT_DRAFT_29)
        );
        assert_eq!(Version::V1.fallback_params(), None);
        assert_eq!(
            Version(0xff00001b).initial_params().map(|p| p.salt),
            Some(&SALT_DRAFT_23)
        );
        assert_eq!(
            Version(0xff00001e).initial_params().map(|p| p.salt),
            Some(&SALT_DRAFT_29)
        );
    }
}
