//! Transport headers: TCP (RFC 9293 §3.1) and UDP (RFC 768) views over an IP payload.
//!
//! Takes the IP payload (already trimmed to the IP length) and the number of payload
//! bytes the IP length says were cut by the snaplen; emits borrowed [`TcpSegment`] and
//! [`UdpDatagram`] views. Header parsing uses etherparse's checked slices. Checksums are
//! not verified (offloaded on mirror ports). Must not panic or allocate.

use etherparse::{TcpHeaderSlice, UdpHeaderSlice};

use super::{Error, Layer, TcpFlags, TcpSegment, UdpDatagram};

/// UDP header length.
const UDP_HEADER_LEN: usize = 8;

/// TCP header and payload. A header cut by the snaplen is an error; a cut payload is
/// reported through `missing_bytes`.
pub(crate) fn parse_tcp(data: &[u8], missing: u32) -> Result<TcpSegment<'_>, Error> {
    use etherparse::err::tcp::HeaderSliceError;
    let header = TcpHeaderSlice::from_slice(data).map_err(|err| match err {
        HeaderSliceError::Len(_) => Error::Truncated { layer: Layer::Tcp },
        HeaderSliceError::Content(_) => Error::BadTcpHeader,
    })?;
    let header_len = header.slice().len();
    Ok(TcpSegment {
        src_port: header.source_port(),
        dst_port: header.destination_port(),
        seq: header.sequence_number(),
        ack: header.acknowledgment_number(),
        flags: TcpFlags(header.slice().get(13).copied().unwrap_or(0)),
        window: header.window_size(),
        payload: data.get(header_len..).unwrap_or(&[]),
        missing_bytes: missing,
    })
}

/// UDP header and payload, trimmed to the UDP length. Returns the datagram and whether
/// the UDP length exceeded the bytes present in an uncut frame (a length mismatch; the
/// present bytes are used). Length 0 is accepted for jumbograms (RFC 2675 §4).
pub(crate) fn parse_udp(
    data: &[u8],
    ip_missing: u32,
    frame_truncated: bool,
) -> Result<(UdpDatagram<'_>, bool), Error> {
    let header =
        UdpHeaderSlice::from_slice(data).map_err(|_| Error::Truncated { layer: Layer::Udp })?;
    let body = data.get(UDP_HEADER_LEN..).unwrap_or(&[]);
    let length = usize::from(header.length());
    let (payload, missing, mismatch) = match length {
        0 => (body, ip_missing, false),
        l if l < UDP_HEADER_LEN => return Err(Error::BadUdpHeader),
        l => {
            let want = l - UDP_HEADER_LEN;
            match body.get(..want) {
                Some(payload) => (payload, 0, false),
                None if ip_missing > 0 || frame_truncated => (
                    body,
                    u32::try_from(want - body.len()).unwrap_or(u32::MAX),
                    false,
                ),
                None => (body, 0, true),
            }
        }
    };
    Ok((
        UdpDatagram {
            src_port: header.source_port(),
            dst_port: header.destination_port(),
            payload,
            missing_bytes: missing,
        },
        mismatch,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_fields_and_flags() {
        let segment = [
            0x01, 0xbb, // source port 443
            0xc3, 0x50, // destination port 50000
            0x00, 0x00, 0x00, 0x64, // sequence 100
            0x00, 0x00, 0x00, 0xc8, // acknowledgment 200
            0x50, // data offset 5 words
            0x18, // flags PSH|ACK
            0x01, 0x00, // window 256
            0x00, 0x00, // checksum (not verified)
            0x00, 0x00, // urgent pointer
            b'h', b'i', // payload
        ];
        let tcp = parse_tcp(&segment, 3).unwrap();
        assert_eq!((tcp.src_port, tcp.dst_port), (443, 50000));
        assert_eq!((tcp.seq, tcp.ack, tcp.window), (100, 200, 256));
        assert!(tcp.flags.has(TcpFlags::PSH) && tcp.flags.has(TcpFlags::ACK));
        assert!(!tcp.flags.has(TcpFlags::SYN));
        assert_eq!(tcp.payload, b"hi");
        assert_eq!(tcp.missing_bytes, 3);
    }

    #[test]
    fn tcp_bad_offset_and_truncation() {
        let mut segment = [0u8; 20];
        segment[12] = 0x40; // data offset 4 words: below the minimum
        assert_eq!(parse_tcp(&segment, 0), Err(Error::BadTcpHeader));
        segment[12] = 0x60; // 24-byte header in a 20-byte slice
        assert_eq!(
            parse_tcp(&segment, 0),
            Err(Error::Truncated { layer: Layer::Tcp })
        );
    }

    #[test]
    fn udp_length_trims_and_reports_missing() {
        let datagram = [
            0x00, 0x35, // source port 53
            0x04, 0x00, // destination port 1024
            0x00, 0x0a, // length 10
            0x00, 0x00, // checksum
            0xaa, 0xbb, // payload
            0x00, 0x00, // trailing padding beyond the UDP length
        ];
        let (udp, mismatch) = parse_udp(&datagram, 0, false).unwrap();
        assert_eq!(udp.payload, [0xaa, 0xbb]);
        assert!(!mismatch);
        let long = [0x00, 0x35, 0x04, 0x00, 0x00, 0x20, 0x00, 0x00, 0xaa];
        let (udp, mismatch) = parse_udp(&long, 23, true).unwrap();
        assert_eq!(
            (udp.payload.len(), udp.missing_bytes, mismatch),
            (1, 23, false)
        );
        let (_, mismatch) = parse_udp(&long, 0, false).unwrap();
        assert!(mismatch);
        let bad = [0x00, 0x35, 0x04, 0x00, 0x00, 0x04, 0x00, 0x00];
        assert_eq!(parse_udp(&bad, 0, false), Err(Error::BadUdpHeader));
    }
}
