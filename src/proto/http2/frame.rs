//! HTTP/2 wire layout (RFC 9113 §3.4, §4.1, §6): the connection preface, the 9-byte frame
//! header, frame type, flag, setting and error code points, and borrowed parsers for the
//! fixed-layout payloads.
//!
//! Takes byte slices, returns values plus the rest; never allocates and never indexes
//! unchecked. Must not: keep state (that is [`super::state`]) or decode header blocks (that is
//! [`super::hpack`]).

use super::{Error, InvalidKind};

/// The client connection preface (RFC 9113 §3.4); the server's preface is a SETTINGS frame.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Length of the frame header (RFC 9113 §4.1).
pub const FRAME_HEADER_BYTES: usize = 9;

/// Initial SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2).
pub const INITIAL_MAX_FRAME_SIZE: u32 = 1 << 14;

/// Largest SETTINGS_MAX_FRAME_SIZE a peer may announce (RFC 9113 §6.5.2), which is also the
/// largest length the 24-bit field can carry.
pub const MAX_FRAME_SIZE_LIMIT: u32 = (1 << 24) - 1;

/// Initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2, RFC 7541 §4.2).
pub const INITIAL_HEADER_TABLE_SIZE: u32 = 4096;

/// Frame type code point (RFC 9113 §6, IANA "HTTP/2 Frame Type"). Unknown types survive and
/// are skipped by the receiver (RFC 9113 §5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameType(pub u8);

impl FrameType {
    /// RFC 9113 §6.1.
    pub const DATA: FrameType = FrameType(0x0);
    /// RFC 9113 §6.2.
    pub const HEADERS: FrameType = FrameType(0x1);
    /// RFC 9113 §6.3.
    pub const PRIORITY: FrameType = FrameType(0x2);
    /// RFC 9113 §6.4.
    pub const RST_STREAM: FrameType = FrameType(0x3);
    /// RFC 9113 §6.5.
    pub const SETTINGS: FrameType = FrameType(0x4);
    /// RFC 9113 §6.6.
    pub const PUSH_PROMISE: FrameType = FrameType(0x5);
    /// RFC 9113 §6.7.
    pub const PING: FrameType = FrameType(0x6);
    /// RFC 9113 §6.8.
    pub const GOAWAY: FrameType = FrameType(0x7);
    /// RFC 9113 §6.9.
    pub const WINDOW_UPDATE: FrameType = FrameType(0x8);
    /// RFC 9113 §6.10.
    pub const CONTINUATION: FrameType = FrameType(0x9);

    /// Registered name, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            FrameType::DATA => "DATA",
            FrameType::HEADERS => "HEADERS",
            FrameType::PRIORITY => "PRIORITY",
            FrameType::RST_STREAM => "RST_STREAM",
            FrameType::SETTINGS => "SETTINGS",
            FrameType::PUSH_PROMISE => "PUSH_PROMISE",
            FrameType::PING => "PING",
            FrameType::GOAWAY => "GOAWAY",
            FrameType::WINDOW_UPDATE => "WINDOW_UPDATE",
            FrameType::CONTINUATION => "CONTINUATION",
            _ => return None,
        })
    }
}

/// Frame flags; the meaning of a bit depends on the frame type (RFC 9113 §4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    /// DATA, HEADERS: last frame of the stream from this sender.
    pub const END_STREAM: u8 = 0x01;
    /// SETTINGS, PING: acknowledgement.
    pub const ACK: u8 = 0x01;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block ends here.
    pub const END_HEADERS: u8 = 0x04;
    /// DATA, HEADERS, PUSH_PROMISE: a pad-length byte leads and padding trails.
    pub const PADDED: u8 = 0x08;
    /// HEADERS: the deprecated priority fields (RFC 9113 §6.2) follow the pad length.
    pub const PRIORITY: u8 = 0x20;

    /// Whether all bits of `bit` are set.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit == bit
    }
}

/// The frame header (RFC 9113 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length in bytes (24 bits).
    pub length: u32,
    /// Frame type.
    pub kind: FrameType,
    /// Flags.
    pub flags: Flags,
    /// Stream identifier (31 bits; the reserved bit is ignored on receipt).
    pub stream_id: u32,
}

impl FrameHeader {
    /// The 9 bytes of this header, for building frames.
    pub fn to_bytes(&self) -> [u8; FRAME_HEADER_BYTES] {
        let len = self.length.to_be_bytes();
        let id = (self.stream_id & 0x7fff_ffff).to_be_bytes();
        [
            len[1],
            len[2],
            len[3],
            self.kind.0,
            self.flags.0,
            id[0],
            id[1],
            id[2],
            id[3],
        ]
    }
}

/// Parses a frame header; returns it and the bytes after it.
pub fn parse_frame_header(data: &[u8]) -> Result<(FrameHeader, &[u8]), Error> {
    let Some((head, rest)) = data.split_first_chunk::<FRAME_HEADER_BYTES>() else {
        return Err(Error::Incomplete {
            needed: FRAME_HEADER_BYTES - data.len(),
        });
    };
    let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *head;
    let header = FrameHeader {
        length: u32::from_be_bytes([0, l0, l1, l2]),
        kind: FrameType(kind),
        flags: Flags(flags),
        stream_id: u32::from_be_bytes([s0 & 0x7f, s1, s2, s3]),
    };
    Ok((header, rest))
}

/// Whether `data` starts like the client connection preface; at least 8 bytes must be
/// present (`PRI * HT`), so that an HTTP/1 request cannot be mistaken for it.
pub fn probe(data: &[u8]) -> bool {
    let n = data.len().min(PREFACE.len());
    n >= 8 && data.get(..n) == PREFACE.get(..n)
}

/// Setting identifier (RFC 9113 §6.5.2, IANA "HTTP/2 Settings"). Unknown ids survive and are
/// ignored (RFC 9113 §6.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SettingId(pub u16);

impl SettingId {
    /// Largest HPACK dynamic table the sender's decoder uses (RFC 7541 §4.2).
    pub const HEADER_TABLE_SIZE: SettingId = SettingId(0x1);
    /// Whether the sender accepts server push.
    pub const ENABLE_PUSH: SettingId = SettingId(0x2);
    /// Streams the sender lets its peer open at once.
    pub const MAX_CONCURRENT_STREAMS: SettingId = SettingId(0x3);
    /// Initial flow-control window of the sender's streams.
    pub const INITIAL_WINDOW_SIZE: SettingId = SettingId(0x4);
    /// Largest frame payload the sender accepts.
    pub const MAX_FRAME_SIZE: SettingId = SettingId(0x5);
    /// Advisory limit on the decoded header list the sender accepts.
    pub const MAX_HEADER_LIST_SIZE: SettingId = SettingId(0x6);
    /// Extended CONNECT (RFC 8441 §3).
    pub const ENABLE_CONNECT_PROTOCOL: SettingId = SettingId(0x8);
    /// RFC 9113 priority signals are not used (RFC 9218 §2.1).
    pub const NO_RFC7540_PRIORITIES: SettingId = SettingId(0x9);
}

/// Bytes of one setting entry (RFC 9113 §6.5.1).
pub const SETTING_BYTES: usize = 6;

/// The entries of a SETTINGS payload, in order. A trailing partial entry is not returned
/// (its length is a frame error the caller checks with `len % 6`).
pub fn settings(payload: &[u8]) -> impl Iterator<Item = (SettingId, u32)> + '_ {
    payload.chunks_exact(SETTING_BYTES).map(|entry| {
        let mut b = [0u8; SETTING_BYTES];
        b.copy_from_slice(entry);
        (
            SettingId(u16::from_be_bytes([b[0], b[1]])),
            u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
        )
    })
}

/// Error code of RST_STREAM and GOAWAY (RFC 9113 §7). Unknown codes survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// Protocol violation.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// Stream no longer needed (a cancelled request).
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// Header compression state broken.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);

    /// Registered name in lower case, or `other`; a fixed set, usable as a label.
    pub fn as_str(self) -> &'static str {
        match self.0 {
            0x0 => "no_error",
            0x1 => "protocol_error",
            0x2 => "internal_error",
            0x3 => "flow_control_error",
            0x4 => "settings_timeout",
            0x5 => "stream_closed",
            0x6 => "frame_size_error",
            0x7 => "refused_stream",
            0x8 => "cancel",
            0x9 => "compression_error",
            0xa => "connect_error",
            0xb => "enhance_your_calm",
            0xc => "inadequate_security",
            0xd => "http_1_1_required",
            _ => "other",
        }
    }
}

/// Parses a RST_STREAM payload (RFC 9113 §6.4: exactly 4 bytes).
pub fn parse_rst_stream(payload: &[u8]) -> Result<ErrorCode, Error> {
    let code: [u8; 4] = payload
        .try_into()
        .map_err(|_| Error::Invalid(InvalidKind::FrameLength))?;
    Ok(ErrorCode(u32::from_be_bytes(code)))
}

/// A parsed GOAWAY payload (RFC 9113 §6.8); the debug data is not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoAway {
    /// Highest stream the sender may have processed.
    pub last_stream_id: u32,
    /// Why the connection ends.
    pub error_code: ErrorCode,
}

/// Parses the first 8 bytes of a GOAWAY payload; further bytes are opaque debug data.
pub fn parse_goaway(payload: &[u8]) -> Result<GoAway, Error> {
    let Some((fixed, _debug)) = payload.split_first_chunk::<8>() else {
        return Err(Error::Invalid(InvalidKind::FrameLength));
    };
    let [a, b, c, d, e, f, g, h] = *fixed;
    Ok(GoAway {
        last_stream_id: u32::from_be_bytes([a & 0x7f, b, c, d]),
        error_code: ErrorCode(u32::from_be_bytes([e, f, g, h])),
    })
}

/// Parses a WINDOW_UPDATE payload (RFC 9113 §6.9: exactly 4 bytes); returns the increment.
pub fn parse_window_update(payload: &[u8]) -> Result<u32, Error> {
    let inc: [u8; 4] = payload
        .try_into()
        .map_err(|_| Error::Invalid(InvalidKind::FrameLength))?;
    Ok(u32::from_be_bytes(inc) & 0x7fff_ffff)
}

/// Stream priority fields of PRIORITY and HEADERS (RFC 9113 §5.3.2, deprecated but still
/// sent by some clients).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Exclusive dependency flag.
    pub exclusive: bool,
    /// Stream this one depends on.
    pub dependency: u32,
    /// Weight minus one (0..=255).
    pub weight: u8,
}

/// Bytes of the priority fields.
pub const PRIORITY_BYTES: usize = 5;

/// Parses priority fields; returns them and the rest.
pub fn parse_priority(data: &[u8]) -> Result<(Priority, &[u8]), Error> {
    let Some((fixed, rest)) = data.split_first_chunk::<PRIORITY_BYTES>() else {
        return Err(Error::Invalid(InvalidKind::FrameLength));
    };
    let [a, b, c, d, weight] = *fixed;
    Ok((
        Priority {
            exclusive: a & 0x80 != 0,
            dependency: u32::from_be_bytes([a & 0x7f, b, c, d]),
            weight,
        },
        rest,
    ))
}

/// Strips padding (RFC 9113 §6.1, §6.2, §6.6) from a whole payload when `flags` has
/// PADDED: returns the bytes between the pad-length byte and the padding.
pub fn strip_padding(flags: Flags, payload: &[u8]) -> Result<&[u8], Error> {
    if !flags.has(Flags::PADDED) {
        return Ok(payload);
    }
    let Some((&pad, rest)) = payload.split_first() else {
        return Err(Error::Invalid(InvalidKind::Padding));
    };
    let keep = rest
        .len()
        .checked_sub(usize::from(pad))
        .ok_or(Error::Invalid(InvalidKind::Padding))?;
    rest.get(..keep).ok_or(Error::Invalid(InvalidKind::Padding))
}

/// The header block fragment of a HEADERS payload, after padding and priority fields.
pub fn headers_fragment(flags: Flags, payload: &[u8]) -> Result<(Option<Priority>, &[u8]), Error> {
    let inner = strip_padding(flags, payload)?;
    if flags.has(Flags::PRIORITY) {
        let (priority, fragment) = parse_priority(inner)?;
        Ok((Some(priority), fragment))
    } else {
        Ok((None, inner))
    }
}

/// The promised stream id and header block fragment of a PUSH_PROMISE payload (RFC 9113 §6.6).
pub fn push_promise_fragment(flags: Flags, payload: &[u8]) -> Result<(u32, &[u8]), Error> {
    let inner = strip_padding(flags, payload)?;
    let Some((id, fragment)) = inner.split_first_chunk::<4>() else {
        return Err(Error::Invalid(InvalidKind::FrameLength));
    };
    let [a, b, c, d] = *id;
    Ok((u32::from_be_bytes([a & 0x7f, b, c, d]), fragment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_round_trip() {
        let bytes = [
            0x00, 0x01, 0x02, // length 258
            0x01, // HEADERS
            0x25, // END_STREAM | END_HEADERS | PRIORITY
            0x80, 0x00, 0x00, 0x03, // reserved bit set, stream 3
            0xaa, // first payload byte
        ];
        let (h, rest) = parse_frame_header(&bytes).unwrap();
        assert_eq!(h.length, 258);
        assert_eq!(h.kind, FrameType::HEADERS);
        assert!(h.flags.has(Flags::END_STREAM));
        assert!(h.flags.has(Flags::END_HEADERS));
        assert!(h.flags.has(Flags::PRIORITY));
        assert!(!h.flags.has(Flags::PADDED));
        assert_eq!(h.stream_id, 3, "reserved bit ignored");
        assert_eq!(rest, &[0xaa]);
        let mut expected = bytes;
        expected[5] = 0; // the reserved bit is not written back
        assert_eq!(h.to_bytes(), expected[..9]);
        assert_eq!(
            parse_frame_header(&bytes[..4]),
            Err(Error::Incomplete { needed: 5 })
        );
        assert_eq!(FrameType(0x42).name(), None);
        assert_eq!(FrameType::GOAWAY.name(), Some("GOAWAY"));
    }

    #[test]
    fn preface_probe() {
        assert!(probe(PREFACE));
        assert!(probe(b"PRI * HTTP/2.0\r\n"));
        assert!(probe(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"));
        assert!(!probe(b"PRI * H"), "too short to decide");
        assert!(!probe(b"PRI * HTTP/1.1\r\n"));
        assert!(!probe(b"GET / HTTP/1.1\r\n"));
        assert!(!probe(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"));
    }

    #[test]
    fn settings_entries() {
        let payload = [
            0x00, 0x01, 0x00, 0x01, 0x00, 0x00, // HEADER_TABLE_SIZE = 65536
            0x00, 0x05, 0x00, 0x00, 0x40, 0x00, // MAX_FRAME_SIZE = 16384
            0x12, 0x34, 0x00, 0x00, 0x00, 0x07, // unknown id 0x1234 = 7
            0x00, 0x03, // cut entry (ignored)
        ];
        let got: Vec<_> = settings(&payload).collect();
        assert_eq!(
            got,
            vec![
                (SettingId::HEADER_TABLE_SIZE, 65536),
                (SettingId::MAX_FRAME_SIZE, 16384),
                (SettingId(0x1234), 7),
            ]
        );
    }

    #[test]
    fn fixed_payloads() {
        assert_eq!(parse_rst_stream(&[0, 0, 0, 8]), Ok(ErrorCode::CANCEL));
        assert_eq!(
            parse_rst_stream(&[0, 0, 8]),
            Err(Error::Invalid(InvalidKind::FrameLength))
        );
        assert_eq!(ErrorCode::CANCEL.as_str(), "cancel");
        assert_eq!(ErrorCode(0x99).as_str(), "other");
        let goaway = [
            0x80, 0x00, 0x00, 0x05, // reserved bit, last stream 5
            0x00, 0x00, 0x00, 0x00, // NO_ERROR
            b'b', b'y', b'e', // debug data
        ];
        assert_eq!(
            parse_goaway(&goaway),
            Ok(GoAway {
                last_stream_id: 5,
                error_code: ErrorCode::NO_ERROR
            })
        );
        assert!(parse_goaway(&goaway[..7]).is_err());
        assert_eq!(parse_window_update(&[0x80, 0, 0x10, 0]), Ok(4096));
        let (p, rest) = parse_priority(&[0x80, 0, 0, 3, 15, 0xff]).unwrap();
        assert_eq!(
            p,
            Priority {
                exclusive: true,
                dependency: 3,
                weight: 15
            }
        );
        assert_eq!(rest, &[0xff]);
    }

    #[test]
    fn padding_and_fragments() {
        let padded = Flags(Flags::PADDED);
        // pad length 2, data "ab", padding 00 00
        assert_eq!(
            strip_padding(padded, &[2, b'a', b'b', 0, 0]),
            Ok(&b"ab"[..])
        );
        assert_eq!(strip_padding(padded, &[0]), Ok(&b""[..]));
        assert!(
            strip_padding(padded, &[4, b'a', 0, 0]).is_err(),
            "pad > rest"
        );
        assert_eq!(
            strip_padding(padded, &[3, 0, 0, 0]),
            Ok(&b""[..]),
            "all padding"
        );
        assert!(strip_padding(padded, &[]).is_err(), "no pad length byte");
        assert_eq!(strip_padding(Flags(0), &[3, 1]), Ok(&[3u8, 1][..]));
        let both = Flags(Flags::PADDED | Flags::PRIORITY);
        let payload = [
            1, // pad length
            0, 0, 0, 0, 200, // priority: depends on 0, weight 201
            0x82, 0x84, // fragment
            0,    // padding
        ];
        let (prio, fragment) = headers_fragment(both, &payload).unwrap();
        assert_eq!(prio.map(|p| p.weight), Some(200));
        assert_eq!(fragment, &[0x82, 0x84]);
        assert!(headers_fragment(Flags(Flags::PRIORITY), &[0, 0, 0]).is_err());
        let push = [0, 0, 0, 2, 0x82];
        assert_eq!(
            push_promise_fragment(Flags(0), &push),
            Ok((2, &[0x82u8][..]))
        );
        assert!(push_promise_fragment(Flags(0), &push[..3]).is_err());
    }
}
