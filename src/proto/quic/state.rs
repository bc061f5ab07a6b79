//! Per-flow QUIC Initial state: keys, per-direction CRYPTO reassembly and
//! packet number tracking, hello extraction through `proto::tls`.
//!
//! Client keys come from the DCID of the first client Initial (RFC 9001
//! §5.2); server Initials use the "server in" keys of the same DCID. If a
//! client Initial fails to open and carries another DCID (after a Retry, or
//! when the first Initial was missed) keys are re-derived from it. A
//! direction stops after its hello or after `max_initial_packets`.

use super::assembler::{CryptoAssembler, InsertError};
use super::initial::{InitialKeys, PacketKeys};
use super::parser::{parse_frame, parse_long_header, Frame, LongHeader, PacketType};
use super::{Error, InvalidKind, Limits, QuicAnomaly, QuicStats, Version};
use crate::flow::Direction;
use crate::proto::tls::{
    self, parse_client_hello, parse_handshake_header, parse_server_hello, CipherSuite,
    HandshakeHeader, HandshakeType, ProtocolVersion, TlsSummary, Transport,
};

/// What a [`QuicFlow`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuicEvent {
    /// The client's ClientHello was reassembled and parsed.
    ClientHello {
        /// QUIC version of the Initial packets that carried it.
        version: Version,
        /// The TLS summary (JA4 with the `q` prefix).
        summary: Box<TlsSummary>,
    },
    /// The server's ServerHello was reassembled and parsed.
    ServerHello {
        /// QUIC version of the server's Initial packets.
        version: Version,
        /// Negotiated TLS version (TLS 1.3 for any real QUIC server).
        tls_version: ProtocolVersion,
        /// Selected cipher suite.
        cipher_suite: CipherSuite,
    },
}

/// State of one direction.
#[derive(Debug)]
struct DirState {
    crypto: CryptoAssembler,
    largest_pn: Option<u64>,
    initial_packets: u32,
    done: bool,
}

impl DirState {
    fn new(limits: &Limits) -> Self {
        DirState {
            crypto: CryptoAssembler::new(limits.max_crypto_bytes, limits.max_crypto_fragments),
            largest_pn: None,
            initial_packets: 0,
            done: false,
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.crypto.clear();
    }
}

/// Per-flow QUIC Initial observer. Feed UDP payloads with
/// [`QuicFlow::on_datagram`].
#[derive(Debug)]
pub struct QuicFlow {
    limits: Limits,
    keys: Option<InitialKeys>,
    to_server: DirState,
    to_client: DirState,
    /// Reused decryption buffer (one packet at a time).
    scratch: Vec<u8>,
    anomalies: u16,
    stats: QuicStats,
}

impl QuicFlow {
    /// A new flow observer with the given limits.
    pub fn new(limits: Limits) -> Self {
        QuicFlow {
            limits,
            keys: None,
            to_server: DirState::new(&limits),
            to_client: DirState::new(&limits),
            scratch: Vec::new(),
            anomalies: 0,
            stats: QuicStats::default(),
        }
    }

    /// Counters of this flow.
    pub fn stats(&self) -> &QuicStats {
        &self.stats
    }

    /// Anomalies noted on this flow, in [`QuicAnomaly`] declaration order.
    pub fn anomalies(&self) -> impl Iterator<Item = QuicAnomaly> + '_ {
        ALL_ANOMALIES
            .iter()
            .copied()
            .filter(move |a| self.anomalies & anomaly_bit(*a) != 0)
    }

    /// Whether both directions stopped looking at Initial packets.
    pub fn is_done(&self) -> bool {
        self.to_server.done && self.to_client.done
    }

    /// Whether `dir` stopped looking at Initial packets.
    pub fn is_direction_done(&self, dir: Direction) -> bool {
        match dir {
            Direction::ToServer => self.to_server.done,
            Direction::ToClient => self.to_client.done,
        }
    }

    /// Processes one UDP payload of `dir`. Returns the hello event completed
    /// by this datagram, if any (at most one per direction per flow).
    pub fn on_datagram(&mut self, dir: Direction, datagram: &[u8]) -> Option<QuicEvent> {
        self.stats.datagrams += 1;
        let mut rest = datagram;
        let mut event = None;
        while !self.dir(dir).done {
            // A short header (or trailing zero padding) ends the datagram.
            match rest.first() {
                Some(&b) if b & 0x80 != 0 => {}
                _ => break,
            }
            let (header, tail) = match parse_long_header(rest) {
                Ok(parsed) => parsed,
                Err(Error::Invalid(InvalidKind::UnsupportedVersion)) => {
                    self.stats.unsupported_versions += 1;
                    self.note(QuicAnomaly::UnsupportedVersion);
                    break;
                }
                Err(_) => {
                    self.stats.invalid_headers += 1;
                    self.note(QuicAnomaly::InvalidHeader);
                    break;
                }
            };
            rest = tail;
            match header.packet_type {
                PacketType::Initial => {
                    if let Some(ev) = self.on_initial(dir, &header) {
                        event = Some(ev);
                    }
                }
                PacketType::Handshake | PacketType::ZeroRtt => self.stats.other_long_packets += 1,
                PacketType::Retry => {
                    // The client's next Initial uses a new DCID (RFC 9000
                    // §17.2.5.2); on_initial re-derives keys when needed.
                    self.stats.retries += 1;
                }
                PacketType::VersionNegotiation => self.stats.version_negotiation += 1,
            }
        }
        event
    }

    /// Decrypts one Initial packet and feeds its CRYPTO frames.
    fn on_initial(&mut self, dir: Direction, header: &LongHeader<'_>) -> Option<QuicEvent> {
        let max_packets = self.limits.max_initial_packets;
        let d = self.dir_mut(dir);
        d.initial_packets = d.initial_packets.saturating_add(1);
        if d.initial_packets > max_packets {
            d.finish();
            self.stats.initial_packet_limit_hits += 1;
            self.note(QuicAnomaly::InitialPacketLimit);
            return None;
        }
        let payload_len = match self.open(dir, header) {
            Ok(len) => len,
            Err(anomaly) => {
                self.note(anomaly);
                return None;
            }
        };
        self.stats.initial_packets += 1;
        self.feed_frames(dir, payload_len);
        self.try_hello(dir, header.version)
    }

    /// Opens `header`'s packet into `scratch`; returns the payload length
    /// (payload at `scratch[..len]` after the header is dropped).
    ///
    /// Tries the current keys if their version matches, then re-derives
    /// from (a) the known client DCID (the version changed, RFC 9368
    /// compatible negotiation) and (b) for client packets, the packet's own
    /// DCID (after a Retry, or when the first Initial was missed), each with
    /// the version's parameters and its fallback. At most four derivations,
    /// and only for packets that failed, bounded by `max_initial_packets`.
    fn open(&mut self, dir: Direction, header: &LongHeader<'_>) -> Result<usize, QuicAnomaly> {
        let version = header.version;
        let known = self.keys.as_ref().map(|k| CidBuf::from(k.dcid()));
        if known.is_none() && dir == Direction::ToClient {
            self.stats.missing_keys += 1;
            return Err(QuicAnomaly::MissingKeys);
        }
        if self.keys.as_ref().is_some_and(|k| k.version() == version) {
            if let Ok(len) = self.try_open(dir, header) {
                return Ok(len);
            }
        }
        let primary = version
            .initial_params()
            .ok_or(QuicAnomaly::UnsupportedVersion)?;
        let params = [Some(primary), version.fallback_params()];
        let own = (dir == Direction::ToServer).then_some(header.dcid);
        let dcids = [known.as_ref().map(CidBuf::as_slice), own];
        for dcid in dcids.into_iter().flatten() {
            for p in params.into_iter().flatten() {
                if self
                    .keys
                    .as_ref()
                    .is_some_and(|k| k.is_for(version, &p, dcid))
                {
                    continue;
                }
                let Some(candidate) = InitialKeys::derive_with(version, p, dcid) else {
                    continue;
                };
                let old = self.keys.replace(candidate);
                if let Ok(len) = self.try_open(dir, header) {
                    return Ok(len);
                }
                // Keep the first keys of the flow unless a candidate works.
                if old.is_some() {
                    self.keys = old;
                }
            }
        }
        self.stats.decrypt_failures += 1;
        Err(QuicAnomaly::DecryptFailed)
    }

    /// Copies the packet into `scratch`, opens it and moves the payload to
    /// the front of `scratch`.
    fn try_open(&mut self, dir: Direction, header: &LongHeader<'_>) -> Result<usize, Error> {
        let keys = self
            .keys
            .as_ref()
            .ok_or(Error::Invalid(InvalidKind::UnsupportedVersion))?;
        let pkeys: &PacketKeys = match dir {
            Direction::ToServer => &keys.client,
            Direction::ToClient => &keys.server,
        };
        let d = match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(header.packet);
        let opened = pkeys.open(&mut self.scratch, header.pn_offset, d.largest_pn)?;
        d.largest_pn = Some(
            d.largest_pn
                .map_or(opened.packet_number, |l| l.max(opened.packet_number)),
        );
        let end = opened.header_len + opened.payload_len;
        self.scratch.copy_within(opened.header_len..end, 0);
        Ok(opened.payload_len)
    }

    /// Walks the frames of the decrypted payload in `scratch[..len]`.
    fn feed_frames(&mut self, dir: Direction, len: usize) {
        let (d, stats) = match dir {
            Direction::ToServer => (&mut self.to_server, &mut self.stats),
            Direction::ToClient => (&mut self.to_client, &mut self.stats),
        };
        let mut anomaly = None;
        let mut rest = self.scratch.get(..len).unwrap_or(&[]);
        while !rest.is_empty() {
            match parse_frame(rest) {
                Ok((frame, tail)) => {
                    rest = tail;
                    if let Frame::Crypto { offset, data } = frame {
                        match d.crypto.insert(offset, data) {
                            Ok(()) => {}
                            Err(InsertError::TooLarge) => {
                                stats.crypto_limit_hits += 1;
                                anomaly = Some(QuicAnomaly::CryptoTooLarge);
                            }
                            Err(InsertError::TooFragmented) => {
                                stats.crypto_fragment_limit_hits += 1;
                                anomaly = Some(QuicAnomaly::CryptoTooFragmented);
                            }
                        }
                    }
                }
                Err(Error::Invalid(InvalidKind::FrameType)) => {
                    stats.unknown_frames += 1;
                    anomaly = Some(QuicAnomaly::InvalidFrame);
                    break;
                }
                Err(_) => {
                    stats.invalid_frames += 1;
                    anomaly = Some(QuicAnomaly::InvalidFrame);
                    break;
                }
            }
        }
        if let Some(a) = anomaly {
            self.note(a);
        }
    }

    /// Parses the hello once the contiguous CRYPTO prefix holds it.
    fn try_hello(&mut self, dir: Direction, version: Version) -> Option<QuicEvent> {
        let max = self.limits.max_crypto_bytes;
        let tls_limits = self.limits.tls;
        let d = self.dir_mut(dir);
        let data = d.crypto.contiguous();
        let header = match parse_handshake_header(data) {
            Ok((h, _, _)) => h,
            Err(_) => {
                // Give up when the announced message cannot fit the buffer.
                if HandshakeHeader::peek(data).is_some_and(|h| h.total_len() > max) {
                    d.finish();
                    self.stats.crypto_limit_hits += 1;
                    self.note(QuicAnomaly::CryptoTooLarge);
                }
                return None;
            }
        };
        let msg = data.get(..header.total_len()).unwrap_or(data);
        let result = match (dir, header.msg_type) {
            (Direction::ToServer, HandshakeType::CLIENT_HELLO) => {
                parse_client_hello(msg).map(|ch| QuicEvent::ClientHello {
                    version,
                    summary: Box::new(TlsSummary::from_client_hello(
                        &ch,
                        Transport::Quic,
                        &tls_limits,
                    )),
                })
            }
            (Direction::ToClient, HandshakeType::SERVER_HELLO) => {
                parse_server_hello(msg).map(|sh| QuicEvent::ServerHello {
                    version,
                    tls_version: sh.negotiated_version(),
                    cipher_suite: sh.cipher_suite,
                })
            }
            _ => Err(tls::Error::Invalid(tls::InvalidKind::HandshakeType)),
        };
        d.finish();
        match result {
            Ok(ev) => {
                match &ev {
                    QuicEvent::ClientHello { summary, .. } => {
                        self.stats.client_hellos += 1;
                        self.stats.malformed_extensions += u64::from(summary.malformed_extension);
                    }
                    QuicEvent::ServerHello { .. } => self.stats.server_hellos += 1,
                }
                Some(ev)
            }
            Err(_) => {
                self.stats.invalid_hellos += 1;
                self.note(QuicAnomaly::InvalidHello);
                None
            }
        }
    }

    fn note(&mut self, anomaly: QuicAnomaly) {
        self.anomalies |= anomaly_bit(anomaly);
    }

    fn dir(&self, dir: Direction) -> &DirState {
        match dir {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }

    fn dir_mut(&mut self, dir: Direction) -> &mut DirState {
        match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }
}

impl Default for QuicFlow {
    fn default() -> Self {
        QuicFlow::new(Limits::default())
    }
}

/// A connection ID copied out of the keys so they can be replaced.
struct CidBuf {
    bytes: [u8; super::MAX_CID_LEN],
    len: usize,
}

impl CidBuf {
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl From<&[u8]> for CidBuf {
    fn from(cid: &[u8]) -> Self {
        let mut bytes = [0u8; super::MAX_CID_LEN];
        let len = cid.len().min(bytes.len());
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), cid.get(..len)) {
            dst.copy_from_slice(src);
        }
        CidBuf { bytes, len }
    }
}

const ALL_ANOMALIES: [QuicAnomaly; 9] = [
    QuicAnomaly::CryptoTooFragmented,
    QuicAnomaly::CryptoTooLarge,
    QuicAnomaly::DecryptFailed,
    QuicAnomaly::InitialPacketLimit,
    QuicAnomaly::InvalidFrame,
    QuicAnomaly::InvalidHeader,
    QuicAnomaly::InvalidHello,
    QuicAnomaly::MissingKeys,
    QuicAnomaly::UnsupportedVersion,
];

fn anomaly_bit(a: QuicAnomaly) -> u16 {
    1 << (a as u16)
}

#[cfg(test)]
mod tests {
    use super::super::initial::tests::{
        hex, DCID, RFC9001_CLIENT_INITIAL, RFC9001_CRYPTO_FRAME, RFC9001_SERVER_INITIAL,
        RFC9369_CLIENT_INITIAL,
    };
    use super::*;

    /// The ClientHello of RFC 9001 §A.2 (the CRYPTO frame without its
    /// 4-byte frame header: type 0x06, offset 0, length 0x40f1).
    fn rfc_client_hello() -> Vec<u8> {
        hex(RFC9001_CRYPTO_FRAME)[4..].to_vec()
    }

    /// A CRYPTO frame with 2-byte varint offset and length.
    fn crypto_frame(offset: u16, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06];
        f.extend_from_slice(&(0x4000 | offset).to_be_bytes());
        f.extend_from_slice(&(0x4000 | u16::try_from(data.len()).unwrap()).to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    /// Builds and protects a client Initial (4-byte packet number) carrying
    /// `frames`, padded to `pad_to` payload bytes.
    fn client_initial(
        version: Version,
        dcid: &[u8],
        pn: u32,
        frames: &[u8],
        pad_to: usize,
    ) -> Vec<u8> {
        let params = version.initial_params().unwrap();
        client_initial_with(version, params, dcid, pn, frames, pad_to)
    }

    /// As [`client_initial`] with explicit protection parameters.
    fn client_initial_with(
        version: Version,
        params: super::super::InitialParams,
        dcid: &[u8],
        pn: u32,
        frames: &[u8],
        pad_to: usize,
    ) -> Vec<u8> {
        let keys = InitialKeys::derive_with(version, params, dcid).unwrap();
        let type_bits = if version == Version::V2 { 0x10 } else { 0x00 };
        let mut p = vec![0xc3 | type_bits]; // long, fixed, Initial, pn length 4
        p.extend_from_slice(&version.0.to_be_bytes()); // version
        p.push(u8::try_from(dcid.len()).unwrap()); // DCID length
        p.extend_from_slice(dcid); // DCID
        p.push(0); // SCID length
        p.push(0); // token length
        let payload_len = frames.len().max(pad_to);
        let length = u16::try_from(4 + payload_len + 16).unwrap();
        p.extend_from_slice(&(0x4000 | length).to_be_bytes()); // Length
        let pn_offset = p.len();
        p.extend_from_slice(&pn.to_be_bytes()); // packet number
        p.extend_from_slice(frames);
        p.resize(pn_offset + 4 + payload_len + 16, 0); // PADDING + tag space
        keys.client.seal(&mut p, pn_offset, u64::from(pn));
        p
    }

    fn expect_client_hello(ev: Option<QuicEvent>) -> (Version, Box<TlsSummary>) {
        match ev {
            Some(QuicEvent::ClientHello { version, summary }) => (version, summary),
            other => panic!("expected ClientHello, got {other:?}"),
        }
    }

    #[test]
    fn rfc9001_client_and_server_initial() {
        let mut flow = QuicFlow::default();
        let ev = flow.on_datagram(Direction::ToServer, &hex(RFC9001_CLIENT_INITIAL));
        let (version, s) = expect_client_hello(ev);
        assert_eq!(version, Version::V1);
        assert_eq!(s.sni.as_deref(), Some("example.com"));
        assert_eq!(s.alpn, ["alpn"]);
        assert_eq!(s.client_version, ProtocolVersion::TLS1_3);
        assert_eq!(s.client_random[..4], [0xeb, 0xf8, 0xfa, 0x56]);
        // 2 ciphers, 11 extensions, ALPN "alpn" -> "an".
        assert!(s.ja4.starts_with("q13d0211an_"), "{}", s.ja4);
        assert_eq!(
            s.ja3,
            "771,4865-4866,0-65281-10-16-5-51-43-13-45-28-57,29-23-24,"
        );
        assert!(flow.is_direction_done(Direction::ToServer));

        let ev = flow.on_datagram(Direction::ToClient, &hex(RFC9001_SERVER_INITIAL));
        assert_eq!(
            ev,
            Some(QuicEvent::ServerHello {
                version: Version::V1,
                tls_version: ProtocolVersion::TLS1_3,
                cipher_suite: CipherSuite::TLS_AES_128_GCM_SHA256,
            })
        );
        assert!(flow.is_done());
        assert_eq!(flow.stats().initial_packets, 2);
        assert_eq!(flow.anomalies().count(), 0);
        // Later datagrams are ignored cheaply.
        assert_eq!(
            flow.on_datagram(Direction::ToServer, &hex(RFC9001_CLIENT_INITIAL)),
            None
        );
    }

    #[test]
    fn rfc9369_v2_client_initial() {
        let mut flow = QuicFlow::default();
        let ev = flow.on_datagram(Direction::ToServer, &hex(RFC9369_CLIENT_INITIAL));
        let (version, s) = expect_client_hello(ev);
        assert_eq!(version, Version::V2);
        assert_eq!(s.sni.as_deref(), Some("example.com"));
    }

    #[test]
    fn client_hello_over_two_packets_out_of_order() {
        let ch = rfc_client_hello();
        let (a, b) = ch.split_at(100);
        // Packet 0 carries the tail, packet 1 the head; each padded.
        let p0 = client_initial(Version::V1, &DCID, 0, &crypto_frame(100, b), 1100);
        let p1 = client_initial(Version::V1, &DCID, 1, &crypto_frame(0, a), 1100);
        let mut flow = QuicFlow::default();
        assert_eq!(flow.on_datagram(Direction::ToServer, &p0), None);
        let (_, s) = expect_client_hello(flow.on_datagram(Direction::ToServer, &p1));
        assert_eq!(s.sni.as_deref(), Some("example.com"));
        assert_eq!(flow.stats().initial_packets, 2);

        // Same two packets coalesced in one datagram, head last.
        let mut dgram = p0.clone();
        dgram.extend_from_slice(&p1);
        let mut flow = QuicFlow::default();
        let (_, s2) = expect_client_hello(flow.on_datagram(Direction::ToServer, &dgram));
        assert_eq!(s2, s);
    }

    #[test]
    fn shuffled_overlapping_frames_in_one_packet() {
        let ch = rfc_client_hello();
        let mut frames = Vec::new();
        frames.extend_from_slice(&crypto_frame(200, &ch[200..]));
        frames.extend_from_slice(&[0x01]); // PING
        frames.extend_from_slice(&crypto_frame(50, &ch[50..210])); // overlaps both
        frames.extend_from_slice(&[0x00, 0x00]); // PADDING
        frames.extend_from_slice(&crypto_frame(0, &ch[..60]));
        let p = client_initial(Version::V1, &DCID, 0, &frames, 1162);
        let mut flow = QuicFlow::default();
        let (_, s) = expect_client_hello(flow.on_datagram(Direction::ToServer, &p));
        assert_eq!(s.sni.as_deref(), Some("example.com"));
    }

    #[test]
    fn retry_changes_dcid() {
        let ch = rfc_client_hello();
        let first = client_initial(Version::V1, &DCID, 0, &crypto_frame(0, &ch[..100]), 1100);
        // v1 Retry from the server, new SCID 0x0102030405060708.
        let mut retry = vec![0xf0, 0, 0, 0, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
        retry.extend_from_slice(b"token");
        retry.extend_from_slice(&[0xaa; 16]);
        let new_dcid = [1, 2, 3, 4, 5, 6, 7, 8];
        let second = client_initial(Version::V1, &new_dcid, 1, &crypto_frame(0, &ch), 1100);
        let mut flow = QuicFlow::default();
        assert_eq!(flow.on_datagram(Direction::ToServer, &first), None);
        assert_eq!(flow.on_datagram(Direction::ToClient, &retry), None);
        assert_eq!(flow.stats().retries, 1);
        let (_, s) = expect_client_hello(flow.on_datagram(Direction::ToServer, &second));
        assert_eq!(s.sni.as_deref(), Some("example.com"));
    }

    #[test]
    fn reserved_version_with_draft29_salt() {
        // A client forcing Version Negotiation (RFC 9000 §6.3) whose Initial
        // is protected with the draft-29 salt.
        let version = Version(0x3a3a3a3a);
        let params = version.fallback_params().unwrap();
        let frames = crypto_frame(0, &rfc_client_hello());
        let p = client_initial_with(version, params, &DCID, 0, &frames, 1162);
        let mut flow = QuicFlow::default();
        let (v, s) = expect_client_hello(flow.on_datagram(Direction::ToServer, &p));
        assert_eq!(v, version);
        assert_eq!(s.sni.as_deref(), Some("example.com"));
    }

    #[test]
    fn server_first_and_skipped_packets() {
        let mut flow = QuicFlow::default();
        assert_eq!(
            flow.on_datagram(Direction::ToClient, &hex(RFC9001_SERVER_INITIAL)),
            None
        );
        assert_eq!(flow.stats().missing_keys, 1);
        // Version Negotiation and gQUIC are skipped, counted.
        let vn = [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(flow.on_datagram(Direction::ToClient, &vn), None);
        assert_eq!(flow.stats().version_negotiation, 1);
        let mut gquic = hex(RFC9001_CLIENT_INITIAL);
        gquic[1..5].copy_from_slice(b"Q050");
        assert_eq!(flow.on_datagram(Direction::ToServer, &gquic), None);
        assert_eq!(flow.stats().unsupported_versions, 1);
        assert_eq!(
            flow.anomalies().collect::<Vec<_>>(),
            [QuicAnomaly::MissingKeys, QuicAnomaly::UnsupportedVersion]
        );
    }

    #[test]
    fn initial_packet_limit() {
        let mut flow = QuicFlow::new(Limits {
            max_initial_packets: 3,
            ..Limits::default()
        });
        for pn in 0..5 {
            let p = client_initial(Version::V1, &DCID, pn, &[0x01], 1162);
            assert_eq!(flow.on_datagram(Direction::ToServer, &p), None);
        }
        assert_eq!(flow.stats().initial_packets, 3);
        assert_eq!(flow.stats().initial_packet_limit_hits, 1);
        assert!(flow.is_direction_done(Direction::ToServer));
    }

    #[test]
    fn crypto_limits() {
        let ch = rfc_client_hello();
        let mut flow = QuicFlow::new(Limits {
            max_crypto_bytes: 200,
            ..Limits::default()
        });
        let p = client_initial(Version::V1, &DCID, 0, &crypto_frame(0, &ch), 1162);
        assert_eq!(flow.on_datagram(Direction::ToServer, &p), None);
        assert_eq!(flow.stats().crypto_limit_hits, 2);
        assert!(flow.anomalies().any(|a| a == QuicAnomaly::CryptoTooLarge));

        let mut flow = QuicFlow::new(Limits {
            max_crypto_fragments: 2,
            ..Limits::default()
        });
        let mut frames = Vec::new();
        for off in [10u16, 20, 30] {
            frames.extend_from_slice(&crypto_frame(
                off,
                &ch[usize::from(off)..usize::from(off) + 2],
            ));
        }
        let p = client_initial(Version::V1, &DCID, 0, &frames, 1162);
        assert_eq!(flow.on_datagram(Direction::ToServer, &p), None);
        assert_eq!(flow.stats().crypto_fragment_limit_hits, 1);
    }

    #[test]
    fn unknown_frame_stops_packet() {
        let ch = rfc_client_hello();
        let mut frames = vec![0x08, 0x00, 0x00]; // STREAM frame first
        frames.extend_from_slice(&crypto_frame(0, &ch));
        let p = client_initial(Version::V1, &DCID, 0, &frames, 1162);
        let mut flow = QuicFlow::default();
        assert_eq!(flow.on_datagram(Direction::ToServer, &p), None);
        assert_eq!(flow.stats().unknown_frames, 1);
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn garbled_and_truncated_datagrams_never_panic() {
        let valid = hex(RFC9001_CLIENT_INITIAL);
        let server = hex(RFC9001_SERVER_INITIAL);
        for cut in 0..valid.len() {
            let mut flow = QuicFlow::default();
            let _ = flow.on_datagram(Direction::ToServer, &valid[..cut]);
            let _ = flow.on_datagram(Direction::ToClient, &server[..cut.min(server.len())]);
        }
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for round in 0..300 {
            let mut flow = QuicFlow::default();
            let mut d = if round % 3 == 0 {
                (0..(rng.next() % 1300))
                    .map(|_| rng.next() as u8)
                    .collect::<Vec<_>>()
            } else {
                valid.clone()
            };
            if !d.is_empty() {
                for _ in 0..(rng.next() % 6 + 1) {
                    let i = (rng.next() as usize) % d.len();
                    d[i] = rng.next() as u8;
                }
                d[0] |= 0x80;
            }
            let _ = flow.on_datagram(Direction::ToServer, &d);
            let _ = flow.on_datagram(Direction::ToClient, &d);
        }
        // Decrypted-but-garbage payloads: valid protection, random frames.
        for _ in 0..200 {
            let len = (rng.next() % 200 + 20) as usize;
            let frames: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let p = client_initial(Version::V1, &DCID, 0, &frames, 0);
            let mut flow = QuicFlow::default();
            let _ = flow.on_datagram(Direction::ToServer, &p);
        }
    }
}
