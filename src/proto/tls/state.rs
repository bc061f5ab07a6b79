//! Per-flow TLS state: record framing per direction, bounded handshake
//! reassembly across records and TCP segments, hello extraction, then cheap
//! opaque framing with application-data byte counts.
//!
//! A direction moves `Handshake -> Opaque` after its hello (or after
//! ChangeCipherSpec / application data, an oversized or unexpected handshake
//! message), and to `Closed` on a gap or a record header that is not TLS.
//! Memory: at most `max_handshake_bytes` per direction, released when the
//! direction leaves `Handshake`.

use super::decrypt::{
    DecryptCtx, DecryptLimits, DecryptStats, FlowDecrypt, OpaqueReason, Status, TlsSink,
};
use super::fingerprint::{ja3_string, ja4, md5_hex, Transport};
use super::parser::{
    parse_client_hello, parse_handshake_header, parse_record_header, parse_server_hello,
    CipherSuite, ClientHello, ContentType, HandshakeHeader, HandshakeType, ProtocolVersion,
    RecordHeader,
};
use super::{Limits, TlsAnomaly, TlsStats};
use crate::flow::Direction;

/// Owned summary of a ClientHello, built once per connection; outlives the
/// packet and feeds the record stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSummary {
    /// First server_name host_name, lossily decoded, at most
    /// `Limits::max_sni_bytes` bytes before decoding.
    pub sni: Option<String>,
    /// Offered ALPN protocol names in order (lossy UTF-8), at most
    /// `Limits::max_alpn_values`.
    pub alpn: Vec<String>,
    /// Highest version the client offered (supported_versions, else
    /// legacy_version), GREASE ignored.
    pub client_version: ProtocolVersion,
    /// Negotiated version; `None` until a ServerHello is seen (see
    /// [`TlsEvent::ServerHello`]; callers merge it in).
    pub version: Option<ProtocolVersion>,
    /// Full JA3 string.
    pub ja3: String,
    /// MD5 of `ja3`, lowercase hex.
    pub ja3_hash: String,
    /// JA4 fingerprint (`t...` over TCP, `q...` over QUIC).
    pub ja4: String,
    /// Selected cipher suite; `None` until a ServerHello is seen.
    pub cipher_suite: Option<CipherSuite>,
    /// ClientHello.random, the key for matching TLS key log lines.
    pub client_random: [u8; 32],
    /// Whether the SNI was cut to `max_sni_bytes`.
    pub sni_truncated: bool,
    /// Whether the ALPN list was cut to `max_alpn_values`.
    pub alpn_truncated: bool,
    /// Whether an extension body was malformed (its field left empty).
    pub malformed_extension: bool,
}

impl TlsSummary {
    /// Builds the summary of a parsed ClientHello.
    pub fn from_client_hello(ch: &ClientHello<'_>, transport: Transport, limits: &Limits) -> Self {
        let (sni, sni_truncated) = match ch.server_name() {
            Some(name) => {
                let cut = name.get(..limits.max_sni_bytes).unwrap_or(name);
                (
                    Some(String::from_utf8_lossy(cut).into_owned()),
                    cut.len() < name.len(),
                )
            }
            None => (None, false),
        };
        let alpn: Vec<String> = ch
            .alpn()
            .take(limits.max_alpn_values)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        let alpn_truncated = ch.alpn().count() > alpn.len();
        let ja3 = ja3_string(ch);
        let ja3_hash = md5_hex(&ja3);
        TlsSummary {
            sni,
            alpn,
            client_version: ch.highest_version(),
            version: None,
            ja4: ja4(ch, transport),
            ja3,
            ja3_hash,
            cipher_suite: None,
            client_random: *ch.random,
            sni_truncated,
            alpn_truncated,
            malformed_extension: ch.malformed_extension.is_some(),
        }
    }
}

/// What a [`TlsFlow`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsEvent {
    /// The client's first ClientHello was parsed.
    ClientHello(Box<TlsSummary>),
    /// The server's ServerHello was parsed (not a HelloRetryRequest).
    ServerHello {
        /// Negotiated version (supported_versions, else legacy_version).
        version: ProtocolVersion,
        /// Selected cipher suite.
        cipher_suite: CipherSuite,
    },
    /// Once per flow: whether application data was decrypted (sent at the
    /// first decrypted application record) or why the flow stays opaque
    /// (sent when that is certain, at the latest when the flow ends).
    Decryption {
        /// Some application data was decrypted.
        decrypted: bool,
        /// Why not, when `decrypted` is false.
        reason: Option<OpaqueReason>,
    },
}

/// Processing mode of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Gave up (gap or non-TLS bytes); input is ignored.
    Closed,
    /// Framing records and buffering handshake messages until the hello.
    Handshake,
    /// Framing records and counting application-data bytes only.
    Opaque,
}

/// State of one direction's byte stream.
#[derive(Debug)]
struct DirState {
    mode: Mode,
    header: [u8; RecordHeader::LEN],
    header_len: usize,
    body_type: ContentType,
    body_remaining: usize,
    handshake: Vec<u8>,
    opaque_bytes: u64,
    /// A plaintext ChangeCipherSpec was seen: later records are protected
    /// (TLS 1.2).
    ccs_seen: bool,
}

/// Flow-wide state both directions update.
#[derive(Debug)]
struct Shared {
    limits: Limits,
    negotiated: Option<(ProtocolVersion, CipherSuite)>,
    anomalies: u8,
    stats: TlsStats,
    dec: FlowDecrypt,
}

impl Shared {
    fn note(&mut self, anomaly: TlsAnomaly) {
        self.anomalies |= anomaly_bit(anomaly);
    }
}

/// What to do with a complete handshake message.
enum Outcome {
    /// Report this event and stop handshake parsing.
    Event(TlsEvent),
    /// Drop the message and keep parsing.
    Skip,
    /// Stop handshake parsing without an event.
    Stop,
}

impl DirState {
    fn new() -> Self {
        DirState {
            mode: Mode::Handshake,
            header: [0; RecordHeader::LEN],
            header_len: 0,
            body_type: ContentType(0),
            body_remaining: 0,
            handshake: Vec::new(),
            opaque_bytes: 0,
            ccs_seen: false,
        }
    }

    /// Switches mode; leaving `Handshake` frees the handshake buffer.
    fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        if mode != Mode::Handshake {
            self.handshake = Vec::new();
        }
    }

    fn leave_handshake(&mut self) {
        if self.mode == Mode::Handshake {
            self.set_mode(Mode::Opaque);
        }
    }

    /// Frames records in `input`; see [`TlsFlow::on_data_decrypting`].
    fn on_data(
        &mut self,
        dir: Direction,
        sh: &mut Shared,
        mut input: &[u8],
        ctx: &mut DecryptCtx<'_>,
        sink: &mut dyn TlsSink,
    ) {
        while !input.is_empty() && self.mode != Mode::Closed {
            if self.body_remaining == 0 {
                // Collect the 5-byte record header, possibly across calls.
                let n = (RecordHeader::LEN - self.header_len).min(input.len());
                let (head, tail) = input.split_at(n);
                if let Some(slot) = self.header.get_mut(self.header_len..self.header_len + n) {
                    slot.copy_from_slice(head);
                }
                self.header_len += n;
                input = tail;
                if self.header_len < RecordHeader::LEN {
                    break;
                }
                self.header_len = 0;
                match parse_record_header(&self.header) {
                    Ok((h, _)) => {
                        self.body_type = h.content_type;
                        self.body_remaining = usize::from(h.length);
                        sh.stats.records += 1;
                        let protected = sh.dec.begin_record(
                            dir,
                            &self.header,
                            h.content_type,
                            self.ccs_seen,
                            sh.negotiated.map(|n| n.0),
                        );
                        if h.content_type == ContentType::CHANGE_CIPHER_SPEC && !protected {
                            self.ccs_seen = true;
                        }
                    }
                    Err(_) => {
                        self.set_mode(Mode::Closed);
                        sh.stats.invalid += 1;
                        sh.note(TlsAnomaly::InvalidRecord);
                    }
                }
                continue;
            }
            let n = self.body_remaining.min(input.len());
            let (chunk, tail) = input.split_at(n);
            input = tail;
            self.body_remaining -= n;
            sh.dec.push_body(dir, chunk);
            match self.body_type {
                ContentType::APPLICATION_DATA => {
                    self.opaque_bytes += n as u64;
                    match dir {
                        Direction::ToServer => sh.stats.opaque_bytes_to_server += n as u64,
                        Direction::ToClient => sh.stats.opaque_bytes_to_client += n as u64,
                    }
                    // Encrypted traffic: no plaintext handshake follows.
                    self.leave_handshake();
                }
                // After ChangeCipherSpec handshake records are encrypted.
                ContentType::CHANGE_CIPHER_SPEC => self.leave_handshake(),
                ContentType::HANDSHAKE if self.mode == Mode::Handshake => {
                    match self.push_handshake(dir, sh, chunk) {
                        Some(TlsEvent::ServerHello {
                            version,
                            cipher_suite,
                        }) => {
                            sink.event(TlsEvent::ServerHello {
                                version,
                                cipher_suite,
                            });
                            sh.dec.on_server_hello(version, cipher_suite, ctx, sink);
                        }
                        Some(ev) => sink.event(ev),
                        None => {}
                    }
                }
                _ => {}
            }
            if self.body_remaining == 0 {
                sh.dec.end_record(dir, sh.negotiated, ctx, sink);
            }
        }
    }

    /// Appends handshake record bytes and processes every complete message.
    fn push_handshake(
        &mut self,
        dir: Direction,
        sh: &mut Shared,
        chunk: &[u8],
    ) -> Option<TlsEvent> {
        let max = sh.limits.max_handshake_bytes;
        if self.handshake.len().saturating_add(chunk.len()) > max {
            self.too_large(sh);
            return None;
        }
        self.handshake.extend_from_slice(chunk);
        let mut event = None;
        while self.mode == Mode::Handshake {
            let header = match parse_handshake_header(&self.handshake) {
                Ok((h, _, _)) => h,
                Err(_) => {
                    // Give up early when the announced size cannot fit.
                    if HandshakeHeader::peek(&self.handshake).is_some_and(|h| h.total_len() > max) {
                        self.too_large(sh);
                    }
                    break;
                }
            };
            sh.stats.handshake_messages += 1;
            match handle_message(dir, sh, header.msg_type, &self.handshake) {
                Outcome::Event(ev) => {
                    event = Some(ev);
                    self.set_mode(Mode::Opaque);
                }
                Outcome::Skip => {
                    let consumed = header.total_len().min(self.handshake.len());
                    self.handshake.drain(..consumed);
                }
                Outcome::Stop => self.set_mode(Mode::Opaque),
            }
        }
        event
    }

    fn too_large(&mut self, sh: &mut Shared) {
        self.set_mode(Mode::Opaque);
        sh.stats.handshake_limit_hits += 1;
        sh.note(TlsAnomaly::HandshakeTooLarge);
    }
}

/// Handles the complete handshake message at the start of `msg`.
fn handle_message(dir: Direction, sh: &mut Shared, msg_type: HandshakeType, msg: &[u8]) -> Outcome {
    match dir {
        Direction::ToServer => {
            if msg_type != HandshakeType::CLIENT_HELLO {
                sh.note(TlsAnomaly::UnexpectedHandshake);
                return Outcome::Stop;
            }
            match parse_client_hello(msg) {
                Ok(ch) => {
                    sh.dec.client_random = Some(*ch.random);
                    let summary = TlsSummary::from_client_hello(&ch, Transport::Tcp, &sh.limits);
                    sh.stats.client_hellos += 1;
                    sh.stats.sni_truncated += u64::from(summary.sni_truncated);
                    sh.stats.alpn_truncated += u64::from(summary.alpn_truncated);
                    if summary.malformed_extension {
                        sh.stats.malformed_extensions += 1;
                        sh.note(TlsAnomaly::MalformedExtension);
                    }
                    Outcome::Event(TlsEvent::ClientHello(Box::new(summary)))
                }
                Err(_) => {
                    sh.stats.invalid += 1;
                    sh.note(TlsAnomaly::InvalidClientHello);
                    Outcome::Stop
                }
            }
        }
        Direction::ToClient => {
            // HelloRequest (RFC 5246 §7.4.1.1) may precede; skip it.
            if msg_type == HandshakeType::HELLO_REQUEST {
                return Outcome::Skip;
            }
            if msg_type != HandshakeType::SERVER_HELLO {
                sh.note(TlsAnomaly::UnexpectedHandshake);
                return Outcome::Stop;
            }
            match parse_server_hello(msg) {
                Ok(hello) if hello.is_hello_retry_request() => {
                    // The real ServerHello follows the second ClientHello.
                    sh.stats.hello_retry_requests += 1;
                    Outcome::Skip
                }
                Ok(hello) => {
                    sh.dec.server_random = Some(*hello.random);
                    let version = hello.negotiated_version();
                    let cipher_suite = hello.cipher_suite;
                    sh.negotiated = Some((version, cipher_suite));
                    sh.stats.server_hellos += 1;
                    Outcome::Event(TlsEvent::ServerHello {
                        version,
                        cipher_suite,
                    })
                }
                Err(_) => {
                    sh.stats.invalid += 1;
                    sh.note(TlsAnomaly::InvalidServerHello);
                    Outcome::Stop
                }
            }
        }
    }
}

/// Per-flow TLS observer. Feed each direction's in-order stream bytes with
/// [`TlsFlow::on_data`] and report gaps with [`TlsFlow::on_gap`].
#[derive(Debug)]
pub struct TlsFlow {
    to_server: DirState,
    to_client: DirState,
    shared: Shared,
}

impl TlsFlow {
    /// A new flow observer with the given limits.
    pub fn new(limits: Limits) -> Self {
        TlsFlow {
            to_server: DirState::new(),
            to_client: DirState::new(),
            shared: Shared {
                limits,
                negotiated: None,
                anomalies: 0,
                stats: TlsStats::default(),
                dec: FlowDecrypt::new(),
            },
        }
    }

    /// Counters of this flow.
    pub fn stats(&self) -> &TlsStats {
        &self.shared.stats
    }

    /// Anomalies noted on this flow, in [`TlsAnomaly`] declaration order.
    pub fn anomalies(&self) -> impl Iterator<Item = TlsAnomaly> + '_ {
        ALL_ANOMALIES
            .iter()
            .copied()
            .filter(move |a| self.shared.anomalies & anomaly_bit(*a) != 0)
    }

    /// Negotiated version and cipher suite once the ServerHello was seen.
    pub fn negotiated(&self) -> Option<(ProtocolVersion, CipherSuite)> {
        self.shared.negotiated
    }

    /// Application-data record body bytes seen in `dir`.
    pub fn opaque_bytes(&self, dir: Direction) -> u64 {
        self.dir(dir).opaque_bytes
    }

    /// Whether neither direction parses handshakes any more.
    pub fn is_handshake_done(&self) -> bool {
        self.to_server.mode != Mode::Handshake && self.to_client.mode != Mode::Handshake
    }

    /// Whether `dir` gave up (gap or non-TLS bytes).
    pub fn is_closed(&self, dir: Direction) -> bool {
        self.dir(dir).mode == Mode::Closed
    }

    /// Reassembly lost bytes in `dir`: record framing cannot be recovered, so
    /// that direction stops (framing and decryption).
    pub fn on_gap(&mut self, dir: Direction) {
        self.shared.stats.gaps += 1;
        self.shared.note(TlsAnomaly::Gap);
        self.dir_mut(dir).set_mode(Mode::Closed);
        self.shared.dec.on_gap(dir);
    }

    /// Feeds the next in-order bytes of `dir`, any chunk size, without
    /// decryption. Returns the hello event this chunk completed, if any: at
    /// most one per direction per flow, so at most one per call.
    pub fn on_data(&mut self, dir: Direction, data: &[u8]) -> Option<TlsEvent> {
        let limits = DecryptLimits::default();
        let mut held = 0;
        let mut ctx = DecryptCtx {
            keylog: None,
            limits: &limits,
            now_micros: 0,
            held_bytes: &mut held,
        };
        let mut sink = HelloOnly(None);
        self.on_data_decrypting(dir, data, &mut ctx, &mut sink);
        sink.0
    }

    /// Feeds the next in-order bytes of `dir`, any chunk size, decrypting
    /// protected records when `ctx` has a key log with this connection's
    /// keys. Hello and decryption events and application-data plaintext go
    /// to `sink`, plaintext per direction in stream order.
    pub fn on_data_decrypting(
        &mut self,
        dir: Direction,
        data: &[u8],
        ctx: &mut DecryptCtx<'_>,
        sink: &mut dyn TlsSink,
    ) {
        let (d, sh) = match dir {
            Direction::ToServer => (&mut self.to_server, &mut self.shared),
            Direction::ToClient => (&mut self.to_client, &mut self.shared),
        };
        d.on_data(dir, sh, data, ctx, sink);
    }

    /// The flow ended: a last look for keys of held records, the decryption
    /// outcome if not yet reported, and buffers released.
    pub fn on_end(&mut self, ctx: &mut DecryptCtx<'_>, sink: &mut dyn TlsSink) {
        let negotiated = self.shared.negotiated;
        self.shared.dec.on_end(negotiated, ctx, sink);
    }

    /// Whether any application data was decrypted.
    pub fn is_decrypted(&self) -> bool {
        self.shared.dec.app_data_decrypted()
    }

    /// Why the flow's application data stayed opaque, once that is known.
    pub fn opaque_reason(&self) -> Option<OpaqueReason> {
        self.shared.dec.opaque_reason()
    }

    /// Decryption state of the flow.
    pub fn decrypt_status(&self) -> Status {
        self.shared.dec.status()
    }

    /// Decryption counters of this flow.
    pub fn decrypt_stats(&self) -> &DecryptStats {
        &self.shared.dec.stats
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

/// Keeps the first hello event; drops plaintext (there is none without keys).
struct HelloOnly(Option<TlsEvent>);

impl TlsSink for HelloOnly {
    fn event(&mut self, event: TlsEvent) {
        if matches!(
            event,
            TlsEvent::ClientHello(_) | TlsEvent::ServerHello { .. }
        ) && self.0.is_none()
        {
            self.0 = Some(event);
        }
    }

    fn plaintext(&mut self, _dir: Direction, _data: &[u8]) {}
}

impl Default for TlsFlow {
    fn default() -> Self {
        TlsFlow::new(Limits::default())
    }
}

const ALL_ANOMALIES: [TlsAnomaly; 7] = [
    TlsAnomaly::Gap,
    TlsAnomaly::HandshakeTooLarge,
    TlsAnomaly::InvalidClientHello,
    TlsAnomaly::InvalidRecord,
    TlsAnomaly::InvalidServerHello,
    TlsAnomaly::MalformedExtension,
    TlsAnomaly::UnexpectedHandshake,
];

fn anomaly_bit(a: TlsAnomaly) -> u8 {
    1 << (a as u8)
}

#[cfg(test)]
mod tests {
    use super::super::parser::tests::{record, sample_client_hello};
    use super::*;

    /// A TLS 1.3 ServerHello message (supported_versions = 1.3).
    fn server_hello(random: [u8; 32]) -> Vec<u8> {
        let mut body = vec![0x03, 0x03]; // legacy_version
        body.extend_from_slice(&random); // random
        body.push(0x00); // session id echo: empty
        body.extend_from_slice(&[0x13, 0x02]); // TLS_AES_256_GCM_SHA384
        body.push(0x00); // compression
        body.extend_from_slice(&[0x00, 0x06]); // extensions length
        body.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]); // supported_versions
        let mut msg = vec![0x02, 0x00, 0x00, u8::try_from(body.len()).unwrap()];
        msg.extend_from_slice(&body);
        msg
    }

    /// Client stream: ClientHello split over two handshake records, then a
    /// ChangeCipherSpec and 100 bytes of application data.
    fn client_stream() -> Vec<u8> {
        let ch = sample_client_hello();
        let (a, b) = ch.split_at(40);
        let mut s = record(22, a);
        s.extend_from_slice(&record(22, b));
        s.extend_from_slice(&record(20, &[1]));
        s.extend_from_slice(&record(23, &[0xaa; 100]));
        s
    }

    fn expect_client_hello(ev: Option<TlsEvent>) -> Box<TlsSummary> {
        match ev {
            Some(TlsEvent::ClientHello(s)) => s,
            other => panic!("expected ClientHello, got {other:?}"),
        }
    }

    #[test]
    fn client_hello_in_any_segmentation() {
        let stream = client_stream();
        for chunk in [1, 2, 3, 5, 7, 64, stream.len()] {
            let mut flow = TlsFlow::default();
            let mut events = Vec::new();
            for c in stream.chunks(chunk) {
                events.extend(flow.on_data(Direction::ToServer, c));
            }
            assert_eq!(events.len(), 1, "chunk {chunk}");
            let s = expect_client_hello(events.pop());
            assert_eq!(s.sni.as_deref(), Some("example.com"));
            assert_eq!(s.alpn, ["h2", "http/1.1"]);
            assert_eq!(s.client_version, ProtocolVersion::TLS1_3);
            assert_eq!(s.client_random, [0x11; 32]);
            assert_eq!(s.ja3, "771,4865-4866-49199,0-10-11-16-13-43,29-23,0");
            assert_eq!(s.ja3_hash, md5_hex(&s.ja3));
            assert!(s.ja4.starts_with("t13d0306h2_"));
            assert_eq!(flow.opaque_bytes(Direction::ToServer), 100, "chunk {chunk}");
            assert_eq!(flow.stats().records, 4);
            assert_eq!(flow.stats().client_hellos, 1);
            assert_eq!(flow.anomalies().count(), 0);
        }
    }

    #[test]
    fn two_messages_in_one_record_and_server_hello() {
        let mut flow = TlsFlow::default();
        let mut s = record(22, &server_hello([0x44; 32]));
        s.extend_from_slice(&record(20, &[1]));
        s.extend_from_slice(&record(23, &[0; 10]));
        let ev = flow.on_data(Direction::ToClient, &s);
        assert_eq!(
            ev,
            Some(TlsEvent::ServerHello {
                version: ProtocolVersion::TLS1_3,
                cipher_suite: CipherSuite::TLS_AES_256_GCM_SHA384
            })
        );
        assert_eq!(flow.opaque_bytes(Direction::ToClient), 10);
        assert_eq!(
            flow.negotiated(),
            Some((ProtocolVersion::TLS1_3, CipherSuite(0x1302)))
        );
        assert!(!flow.is_handshake_done());
        flow.on_data(Direction::ToServer, &client_stream());
        assert!(flow.is_handshake_done());
    }

    #[test]
    fn hello_retry_request_is_skipped() {
        let hrr_random = [
            0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65,
            0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2,
            0xc8, 0xa8, 0x33, 0x9c,
        ];
        let mut flow = TlsFlow::default();
        let hrr = record(22, &server_hello(hrr_random));
        assert_eq!(flow.on_data(Direction::ToClient, &hrr), None);
        assert_eq!(flow.stats().hello_retry_requests, 1);
        let sh = record(22, &server_hello([1; 32]));
        assert!(matches!(
            flow.on_data(Direction::ToClient, &sh),
            Some(TlsEvent::ServerHello { .. })
        ));
    }

    #[test]
    fn huge_client_hello_up_to_limit() {
        // Pad the sample hello with a large unknown extension so the message
        // is just under 64 KiB, spread over 4 records.
        let base = sample_client_hello();
        let target = super::super::DEFAULT_MAX_HANDSHAKE_BYTES;
        let pad = target - base.len() - 4;
        let mut msg = base.clone();
        let ext_len_at = 4 + 2 + 32 + 1 + 10 + 2;
        let old_ext = usize::from(u16::from_be_bytes([msg[ext_len_at], msg[ext_len_at + 1]]));
        // Extensions length is a u16; 64 KiB would overflow it, so use two
        // padding extensions only up to the u16 bound and accept slightly
        // less than the limit.
        let pad = pad.min(0xffff - old_ext - 4);
        msg.extend_from_slice(&[0xff, 0xce]); // unknown extension type
        msg.extend_from_slice(&u16::try_from(pad).unwrap().to_be_bytes());
        msg.extend(std::iter::repeat_n(0x5a, pad));
        let new_ext = u16::try_from(old_ext + 4 + pad).unwrap();
        msg[ext_len_at..ext_len_at + 2].copy_from_slice(&new_ext.to_be_bytes());
        let body_len = u32::try_from(msg.len() - 4).unwrap().to_be_bytes();
        msg[1..4].copy_from_slice(&body_len[1..]);
        assert!(msg.len() > 60_000);
        let mut stream = Vec::new();
        for part in msg.chunks(16384) {
            stream.extend_from_slice(&record(22, part));
        }
        let mut flow = TlsFlow::default();
        let mut got = None;
        for c in stream.chunks(1400) {
            if let Some(ev) = flow.on_data(Direction::ToServer, c) {
                got = Some(ev);
            }
        }
        let s = expect_client_hello(got);
        assert_eq!(s.sni.as_deref(), Some("example.com"));

        // The same stream with a smaller limit gives up, counted.
        let mut flow = TlsFlow::new(Limits {
            max_handshake_bytes: 4096,
            ..Limits::default()
        });
        assert_eq!(flow.on_data(Direction::ToServer, &stream), None);
        assert_eq!(flow.stats().handshake_limit_hits, 1);
        assert_eq!(
            flow.anomalies().collect::<Vec<_>>(),
            [TlsAnomaly::HandshakeTooLarge]
        );
    }

    #[test]
    fn limits_cut_sni_and_alpn() {
        let mut flow = TlsFlow::new(Limits {
            max_sni_bytes: 7,
            max_alpn_values: 1,
            ..Limits::default()
        });
        let ev = flow.on_data(Direction::ToServer, &client_stream());
        let s = expect_client_hello(ev);
        assert_eq!(s.sni.as_deref(), Some("example"));
        assert_eq!(s.alpn, ["h2"]);
        assert!(s.sni_truncated && s.alpn_truncated);
        assert_eq!(flow.stats().sni_truncated, 1);
        assert_eq!(flow.stats().alpn_truncated, 1);
    }

    #[test]
    fn gap_and_garbage_close_direction() {
        let mut flow = TlsFlow::default();
        let stream = client_stream();
        flow.on_data(Direction::ToServer, &stream[..20]);
        flow.on_gap(Direction::ToServer);
        assert!(flow.is_closed(Direction::ToServer));
        assert_eq!(flow.on_data(Direction::ToServer, &stream[20..]), None);

        let mut flow = TlsFlow::default();
        assert_eq!(
            flow.on_data(Direction::ToServer, b"GET / HTTP/1.1\r\n"),
            None
        );
        assert!(flow.is_closed(Direction::ToServer));
        assert_eq!(
            flow.anomalies().collect::<Vec<_>>(),
            [TlsAnomaly::InvalidRecord]
        );
        assert_eq!(flow.stats().invalid, 1);
    }

    #[test]
    fn non_client_hello_first_is_unexpected() {
        let mut flow = TlsFlow::default();
        let ev = flow.on_data(Direction::ToServer, &record(22, &server_hello([0; 32])));
        assert_eq!(ev, None);
        assert_eq!(
            flow.anomalies().collect::<Vec<_>>(),
            [TlsAnomaly::UnexpectedHandshake]
        );
        // Framing continues: application data is still counted.
        flow.on_data(Direction::ToServer, &record(23, &[0; 7]));
        assert_eq!(flow.opaque_bytes(Direction::ToServer), 7);
    }

    /// Tiny xorshift generator so the property test needs no dependency.
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
    fn random_and_mutated_input_never_panics() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let valid = client_stream();
        for round in 0..2000 {
            let mut data = if round % 2 == 0 {
                // Mutate a few bytes of a valid stream.
                let mut d = valid.clone();
                for _ in 0..(rng.next() % 8 + 1) {
                    let i = (rng.next() as usize) % d.len();
                    d[i] = rng.next() as u8;
                }
                d
            } else {
                // Random bytes starting like a handshake record.
                let len = (rng.next() % 600) as usize;
                let mut d: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if d.len() > 3 {
                    d[0] = 22;
                    d[1] = 3;
                    d[2] = 1;
                }
                d
            };
            let cut = (rng.next() as usize) % (data.len() + 1);
            data.truncate(cut);
            let mut flow = TlsFlow::default();
            let step = (rng.next() % 50 + 1) as usize;
            for c in data.chunks(step) {
                let _ = flow.on_data(Direction::ToServer, c);
                let _ = flow.on_data(Direction::ToClient, c);
            }
        }
    }
}
