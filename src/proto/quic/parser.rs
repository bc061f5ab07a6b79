//! QUIC wire parsing before and after packet protection: variable-length
//! integers, long headers (RFC 9000 §17.2), and the frames allowed in Initial
//! packets (RFC 9000 §19). Borrowed views only; no state, no allocation.

use super::{Error, InvalidKind, Version, MAX_CID_LEN};

/// Long packet type, decoded with the version's code points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Handshake packet (RFC 9000 §17.2.4).
    Handshake,
    /// Initial packet (RFC 9000 §17.2.2).
    Initial,
    /// Retry packet (RFC 9000 §17.2.5): no Length, takes the datagram rest.
    Retry,
    /// Version Negotiation (RFC 9000 §17.2.1): version 0.
    VersionNegotiation,
    /// 0-RTT packet (RFC 9000 §17.2.3).
    ZeroRtt,
}

/// A long-header packet, header protection still applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// First byte as sent (low bits protected).
    pub first_byte: u8,
    /// Version field.
    pub version: Version,
    /// Decoded packet type.
    pub packet_type: PacketType,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// Initial token (empty for other types).
    pub token: &'a [u8],
    /// Offset of the (protected) packet number within `packet`; 0 for
    /// Retry and Version Negotiation.
    pub pn_offset: usize,
    /// The whole packet: header, packet number and protected payload
    /// (Length bytes after the Length field).
    pub packet: &'a [u8],
}

/// Non-copying reader with QUIC varints.
#[derive(Clone, Copy, Debug)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn u8(&mut self) -> Result<u8, Error> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(Error::Incomplete { needed: 1 })?;
        self.pos += 1;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let b: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| Error::Incomplete { needed: 4 })?;
        Ok(u32::from_be_bytes(b))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Error::Incomplete { needed: n })?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| Error::Incomplete {
                needed: end.saturating_sub(self.buf.len()),
            })?;
        self.pos = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let (v, rest) = parse_varint(self.rest())?;
        self.pos = self.buf.len() - rest.len();
        Ok(v)
    }

    /// A varint used as a length into this buffer.
    fn varint_len(&mut self) -> Result<usize, Error> {
        let v = self.varint()?;
        usize::try_from(v).map_err(|_| Error::Invalid(InvalidKind::FrameEncoding))
    }
}

/// Parses a variable-length integer (RFC 9000 §16) and returns it with the
/// rest of `data`.
pub fn parse_varint(data: &[u8]) -> Result<(u64, &[u8]), Error> {
    let first = *data.first().ok_or(Error::Incomplete { needed: 1 })?;
    let len = 1usize << (first >> 6);
    let bytes = data.get(..len).ok_or_else(|| Error::Incomplete {
        needed: len.saturating_sub(data.len()),
    })?;
    let mut v = u64::from(first & 0x3f);
    for &b in bytes.iter().skip(1) {
        v = (v << 8) | u64::from(b);
    }
    Ok((v, data.get(len..).unwrap_or(&[])))
}

/// Cheap check that a UDP payload starts with a QUIC Initial packet we can
/// decrypt: long header, fixed bit set, a supported version, the version's
/// Initial type, and connection IDs of at most 20 bytes.
pub fn probe(datagram: &[u8]) -> bool {
    let Some(&first) = datagram.first() else {
        return false;
    };
    if first & 0xc0 != 0xc0 {
        return false;
    }
    let (Some(version), Some(&dcid_len)) = (datagram.get(1..5), datagram.get(5)) else {
        return false;
    };
    let Ok(version) = <[u8; 4]>::try_from(version) else {
        return false;
    };
    let version = Version(u32::from_be_bytes(version));
    let Some(params) = version.initial_params() else {
        return false;
    };
    let initial_bits = if params.v2_packet_types { 0b01 } else { 0b00 };
    if (first >> 4) & 0x03 != initial_bits || usize::from(dcid_len) > MAX_CID_LEN {
        return false;
    }
    let scid_at = 6 + usize::from(dcid_len);
    matches!(datagram.get(scid_at), Some(&l) if usize::from(l) <= MAX_CID_LEN)
}

/// Parses the long-header packet at the start of `datagram` and returns it
/// with the bytes after it (the next coalesced packet, RFC 9000 §12.2).
///
/// Version Negotiation and Retry take the whole rest of the datagram.
/// `Invalid(UnsupportedVersion)` for versions whose packet type encoding is
/// unknown, since their Length cannot be located.
pub fn parse_long_header(datagram: &[u8]) -> Result<(LongHeader<'_>, &[u8]), Error> {
    let mut r = Reader::new(datagram);
    let first_byte = r.u8()?;
    if first_byte & 0x80 == 0 {
        return Err(Error::Invalid(InvalidKind::HeaderForm));
    }
    let version = Version(r.u32()?);
    let dcid_len = usize::from(r.u8()?);
    // Version Negotiation may carry IDs up to 255 bytes (RFC 8999 §5.1).
    if version != Version::NEGOTIATION && dcid_len > MAX_CID_LEN {
        return Err(Error::Invalid(InvalidKind::ConnectionIdLength));
    }
    let dcid = r.take(dcid_len)?;
    let scid_len = usize::from(r.u8()?);
    if version != Version::NEGOTIATION && scid_len > MAX_CID_LEN {
        return Err(Error::Invalid(InvalidKind::ConnectionIdLength));
    }
    let scid = r.take(scid_len)?;
    let mut header = LongHeader {
        first_byte,
        version,
        packet_type: PacketType::VersionNegotiation,
        dcid,
        scid,
        token: &[],
        pn_offset: 0,
        packet: datagram,
    };
    if version == Version::NEGOTIATION {
        return Ok((header, &[]));
    }
    let params = version
        .initial_params()
        .ok_or(Error::Invalid(InvalidKind::UnsupportedVersion))?;
    let bits = (first_byte >> 4) & 0x03;
    // RFC 9000 Table 5; RFC 9369 §3.2 rotates the code points.
    let packet_type = match (params.v2_packet_types, bits) {
        (false, 0b00) | (true, 0b01) => PacketType::Initial,
        (false, 0b01) | (true, 0b10) => PacketType::ZeroRtt,
        (false, 0b10) | (true, 0b11) => PacketType::Handshake,
        _ => PacketType::Retry,
    };
    header.packet_type = packet_type;
    if packet_type == PacketType::Retry {
        return Ok((header, &[]));
    }
    if packet_type == PacketType::Initial {
        let token_len = r.varint_len()?;
        header.token = r.take(token_len)?;
    }
    let length = r.varint_len()?;
    header.pn_offset = r.pos;
    let end = r
        .pos
        .checked_add(length)
        .ok_or(Error::Incomplete { needed: length })?;
    header.packet = datagram.get(..end).ok_or_else(|| Error::Incomplete {
        needed: end.saturating_sub(datagram.len()),
    })?;
    Ok((header, datagram.get(end..).unwrap_or(&[])))
}

/// Frame type (RFC 9000 §19, IANA QUIC Frame Types). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameType(pub u64);

impl FrameType {
    pub const PADDING: FrameType = FrameType(0x00);
    pub const PING: FrameType = FrameType(0x01);
    pub const ACK: FrameType = FrameType(0x02);
    pub const ACK_ECN: FrameType = FrameType(0x03);
    pub const CRYPTO: FrameType = FrameType(0x06);
    pub const CONNECTION_CLOSE: FrameType = FrameType(0x1c);
    pub const CONNECTION_CLOSE_APP: FrameType = FrameType(0x1d);
}

/// A frame of a decrypted Initial payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// ACK or ACK_ECN; contents skipped.
    Ack,
    /// CONNECTION_CLOSE (transport or application).
    ConnectionClose {
        /// Error code.
        error_code: u64,
    },
    /// CRYPTO: a piece of the TLS handshake stream.
    Crypto {
        /// Offset in the CRYPTO stream.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// One or more PADDING bytes.
    Padding,
    /// PING.
    Ping,
}

/// Parses one frame at the start of a decrypted payload and returns it with
/// the rest. A run of PADDING bytes is one [`Frame::Padding`].
/// `Invalid(FrameType)` for frames not allowed in Initial packets.
pub fn parse_frame(payload: &[u8]) -> Result<(Frame<'_>, &[u8]), Error> {
    let mut r = Reader::new(payload);
    let frame_type = FrameType(r.varint()?);
    let bad = |e: Error| match e {
        Error::Incomplete { .. } => Error::Invalid(InvalidKind::FrameEncoding),
        other => other,
    };
    let frame = match frame_type {
        FrameType::PADDING => {
            let run = r.rest().iter().take_while(|&&b| b == 0).count();
            r.take(run).map_err(bad)?;
            Frame::Padding
        }
        FrameType::PING => Frame::Ping,
        FrameType::ACK | FrameType::ACK_ECN => {
            // Largest Acknowledged, ACK Delay, ACK Range Count, First ACK
            // Range, then (Gap, ACK Range Length) pairs (RFC 9000 §19.3).
            r.varint().map_err(bad)?;
            r.varint().map_err(bad)?;
            let ranges = r.varint().map_err(bad)?;
            r.varint().map_err(bad)?;
            // Each pair needs at least 2 bytes: bounds the loop by the input.
            if ranges > (r.remaining() / 2) as u64 {
                return Err(Error::Invalid(InvalidKind::FrameEncoding));
            }
            for _ in 0..ranges {
                r.varint().map_err(bad)?;
                r.varint().map_err(bad)?;
            }
            if frame_type == FrameType::ACK_ECN {
                for _ in 0..3 {
                    r.varint().map_err(bad)?;
                }
            }
            Frame::Ack
        }
        FrameType::CRYPTO => {
            let offset = r.varint().map_err(bad)?;
            let len = r.varint_len().map_err(bad)?;
            let data = r.take(len).map_err(bad)?;
            // The stream offset plus length must stay below 2^62 (§19.6).
            if offset
                .checked_add(len as u64)
                .is_none_or(|end| end >= 1 << 62)
            {
                return Err(Error::Invalid(InvalidKind::FrameEncoding));
            }
            Frame::Crypto { offset, data }
        }
        FrameType::CONNECTION_CLOSE | FrameType::CONNECTION_CLOSE_APP => {
            let error_code = r.varint().map_err(bad)?;
            if frame_type == FrameType::CONNECTION_CLOSE {
                r.varint().map_err(bad)?; // offending frame type
            }
            let reason_len = r.varint_len().map_err(bad)?;
            r.take(reason_len).map_err(bad)?;
            Frame::ConnectionClose { error_code }
        }
        _ => return Err(Error::Invalid(InvalidKind::FrameType)),
    };
    Ok((frame, r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_rfc9000_appendix_a1() {
        // Examples from RFC 9000 §A.1.
        let cases: [(&[u8], u64); 5] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
            (&[0x40, 0x25], 37),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse_varint(bytes), Ok((want, &[][..])));
        }
        assert_eq!(
            parse_varint(&[0x9d, 0x7f]),
            Err(Error::Incomplete { needed: 2 })
        );
        assert_eq!(parse_varint(&[]), Err(Error::Incomplete { needed: 1 }));
    }

    /// Header of the RFC 9001 §A.2 client Initial (before protection).
    fn rfc9001_client_header() -> Vec<u8> {
        let mut h = vec![0xc3]; // long, fixed, Initial, pn length 4
        h.extend_from_slice(&[0x00, 0x00, 0x00, 0x01]); // version 1
        h.push(0x08); // DCID length
        h.extend_from_slice(&[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]); // DCID
        h.push(0x00); // SCID length
        h.push(0x00); // token length
        h.extend_from_slice(&[0x44, 0x9e]); // Length 1182
        h.extend_from_slice(&[0x00, 0x00, 0x00, 0x02]); // packet number 2
        h
    }

    #[test]
    fn long_header_and_coalescing() {
        let mut dgram = rfc9001_client_header();
        dgram.resize(18 + 1182, 0xee); // packet body
                                       // A coalesced Handshake packet: type 0b10, Length 20.
        let mut hs = vec![0xe0, 0, 0, 0, 1, 0x00, 0x00, 0x14];
        hs.resize(8 + 20, 0xdd);
        dgram.extend_from_slice(&hs);
        dgram.extend_from_slice(&[0x40, 1, 2]); // short header tail

        let (h, rest) = parse_long_header(&dgram).unwrap();
        assert_eq!(h.version, Version::V1);
        assert_eq!(h.packet_type, PacketType::Initial);
        assert_eq!(h.dcid, &[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]);
        assert!(h.scid.is_empty());
        assert!(h.token.is_empty());
        assert_eq!(h.pn_offset, 18);
        assert_eq!(h.packet.len(), 1200);
        let (h2, rest) = parse_long_header(rest).unwrap();
        assert_eq!(h2.packet_type, PacketType::Handshake);
        assert_eq!(h2.packet.len(), 28);
        assert_eq!(rest, &[0x40, 1, 2]);
        assert_eq!(
            parse_long_header(rest),
            Err(Error::Invalid(InvalidKind::HeaderForm))
        );
        assert!(probe(&dgram));
    }

    #[test]
    fn long_header_errors() {
        let mut dgram = rfc9001_client_header();
        dgram.resize(100, 0);
        assert_eq!(
            parse_long_header(&dgram),
            Err(Error::Incomplete { needed: 1100 })
        );
        let mut big_cid = rfc9001_client_header();
        big_cid[5] = 21;
        assert_eq!(
            parse_long_header(&big_cid),
            Err(Error::Invalid(InvalidKind::ConnectionIdLength))
        );
        assert!(!probe(&big_cid));
        let mut gquic = rfc9001_client_header();
        gquic[1..5].copy_from_slice(b"Q050");
        assert_eq!(
            parse_long_header(&gquic),
            Err(Error::Invalid(InvalidKind::UnsupportedVersion))
        );
        assert!(!probe(&gquic));
        // Every truncation parses without panicking.
        let full = rfc9001_client_header();
        for cut in 0..full.len() {
            assert!(parse_long_header(&full[..cut]).is_err());
        }
    }

    #[test]
    fn version_negotiation_and_retry() {
        // Version Negotiation: version 0, DCID 1 byte, SCID 1 byte, versions.
        let vn = [0x80, 0, 0, 0, 0, 1, 0xaa, 1, 0xbb, 0, 0, 0, 1];
        let (h, rest) = parse_long_header(&vn).unwrap();
        assert_eq!(h.packet_type, PacketType::VersionNegotiation);
        assert!(rest.is_empty());
        assert!(!probe(&vn));
        // v1 Retry: type 0b11.
        let retry = [0xf0, 0, 0, 0, 1, 0, 0, 0x74, 0x6f, 0x6b];
        let (h, _) = parse_long_header(&retry).unwrap();
        assert_eq!(h.packet_type, PacketType::Retry);
        // v2 Retry is type 0b00 (RFC 9369 §3.2); v2 Initial is 0b01.
        let v2_retry = [0xc0, 0x6b, 0x33, 0x43, 0xcf, 0, 0, 0x74];
        assert_eq!(
            parse_long_header(&v2_retry).unwrap().0.packet_type,
            PacketType::Retry
        );
        assert!(!probe(&v2_retry));
        let v2_initial = [0xd0, 0x6b, 0x33, 0x43, 0xcf, 0, 0, 0, 0x01, 0xff];
        assert_eq!(
            parse_long_header(&v2_initial).unwrap().0.packet_type,
            PacketType::Initial
        );
        assert!(probe(&v2_initial));
    }

    #[test]
    fn frames() {
        let payload = [
            0x00, 0x00, 0x00, // PADDING x3
            0x01, // PING
            0x03, 0x05, 0x00, 0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, // ACK_ECN, 1 range
            0x06, 0x40, 0x10, 0x03, b'a', b'b', b'c', // CRYPTO offset 16, len 3
            0x1c, 0x0a, 0x06, 0x02, b'n', b'o', // CONNECTION_CLOSE
            0x08, 0x00, // STREAM: not allowed in Initial
        ];
        let mut rest = &payload[..];
        let mut frames = Vec::new();
        let err = loop {
            match parse_frame(rest) {
                Ok((f, r)) => {
                    frames.push(f);
                    rest = r;
                }
                Err(e) => break e,
            }
        };
        assert_eq!(
            frames,
            [
                Frame::Padding,
                Frame::Ping,
                Frame::Ack,
                Frame::Crypto {
                    offset: 16,
                    data: b"abc"
                },
                Frame::ConnectionClose { error_code: 10 },
            ]
        );
        assert_eq!(err, Error::Invalid(InvalidKind::FrameType));
        // Truncated CRYPTO and an ACK claiming too many ranges are invalid.
        assert_eq!(
            parse_frame(&[0x06, 0x00, 0x05, b'a']),
            Err(Error::Invalid(InvalidKind::FrameEncoding))
        );
        assert_eq!(
            parse_frame(&[0x02, 0x00, 0x00, 0x3f, 0x00, 0x00]),
            Err(Error::Invalid(InvalidKind::FrameEncoding))
        );
    }
}
