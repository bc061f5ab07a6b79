//! Application protocols: probing a flow's first bytes, dispatching its reassembled
//! stream (TCP) or datagrams (UDP) to the right parser, and collecting what the parsers
//! report as [`AppEvent`]s.
//!
//! Takes: reassembled chunks per direction and UDP payloads. Emits: owned events (HTTP
//! requests and transactions, TLS/QUIC ClientHellos, DNS messages, anomalies) into a
//! caller-owned vector. Limits: the probe buffer per direction, and each parser's own.
//! Must not: see the flow table, sessions or the clock.

pub mod decrypted;
pub mod dns;
pub mod http;
pub mod http2;
pub mod quic;
pub mod socks;
pub mod tls;

pub mod names;

pub use decrypted::{PlaintextApp, TlsApp, TlsOutcome};
pub use names::{NameStats, ResolvedNames};

use crate::flow::Direction;
use crate::reassembly::Chunk;

/// Bytes a direction may accumulate before its protocol must be decided. Long enough
/// for the longest HTTP method plus a space and a TLS record header plus handshake type.
pub const PROBE_BYTES: usize = 24;

/// Application protocol of a flow (`app_proto` in records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppProto {
    Dns,
    Http,
    Http2,
    Quic,
    Tls,
    #[default]
    Unknown,
}

impl AppProto {
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Dns => "dns",
            AppProto::Http => "http",
            AppProto::Http2 => "http2",
            AppProto::Quic => "quic",
            AppProto::Tls => "tls",
            AppProto::Unknown => "unknown",
        }
    }
}

/// Parser limits, one set per worker.
#[derive(Clone, Debug, Default)]
pub struct Limits {
    pub http: http::Limits,
    /// HTTP/2 limits; its `http` part carries the same values as `http` above.
    pub http2: http2::Limits,
    pub dns: dns::Limits,
    /// TLS decryption limits.
    pub tls: tls::DecryptLimits,
    /// TLS key log shared by all workers; `None`: no decryption.
    pub keylog: Option<std::sync::Arc<crate::keylog::KeyLog>>,
}

/// What a parser reported, in the order it happened within one packet.
#[derive(Debug)]
pub enum AppEvent {
    Dns {
        dir: Direction,
        message: Box<dns::Message>,
    },
    Http(http::Event),
    Quic(quic::QuicEvent),
    Tls(tls::TlsEvent),
}

/// Counters of probing and dispatch, and every parser anomaly by (protocol, kind).
#[derive(Clone, Debug, Default)]
pub struct ProtoStats {
    /// (protocol, kind) → count. Kinds come from the parsers' fixed `as_str()` sets; a
    /// key is allocated once, the first time a kind occurs.
    pub anomalies: std::collections::BTreeMap<(&'static str, &'static str), u64>,
    pub flows_http: u64,
    /// Flows that started with the HTTP/2 client preface (h2c with prior knowledge).
    pub flows_http2: u64,
    pub flows_tls: u64,
    pub flows_dns_tcp: u64,
    pub flows_unknown: u64,
    pub dns_messages: u64,
    pub dns_invalid: u64,
    pub http_requests: u64,
    pub http_transactions: u64,
    pub tls_client_hellos: u64,
    pub quic_client_hellos: u64,
    pub flows_socks: u64,
    /// HTTP connections that switched to a tunnel (CONNECT, Upgrade).
    pub tunnels: u64,
    /// Decryption counters summed over ended TLS flows.
    pub tls_decrypt: tls::DecryptStats,
    /// TLS flows with decrypted application data.
    pub tls_decrypted_flows: u64,
    /// Decrypted flows whose plaintext is HTTP/1.x.
    pub tls_http1_flows: u64,
    /// Decrypted flows whose plaintext is HTTP/2.
    pub tls_h2_flows: u64,
    /// HTTP/2 plaintext bytes not parsed (no HTTP/2 layer plugged in).
    pub tls_h2_bytes: u64,
    /// Decrypted flows whose plaintext is neither HTTP/1 nor HTTP/2.
    pub tls_other_flows: u64,
    /// Plaintext bytes of those flows.
    pub tls_other_bytes: u64,
    /// Gauge: ciphertext bytes held by flows waiting for keys.
    pub tls_held_bytes: u64,
}

impl ProtoStats {
    pub fn count(&mut self, protocol: &'static str, kind: &'static str) {
        *self.anomalies.entry((protocol, kind)).or_insert(0) += 1;
    }

    /// Adds another worker's counters.
    pub fn merge(&mut self, other: &ProtoStats) {
        for (key, count) in &other.anomalies {
            *self.anomalies.entry(*key).or_insert(0) += count;
        }
        self.flows_http += other.flows_http;
        self.flows_http2 += other.flows_http2;
        self.flows_tls += other.flows_tls;
        self.flows_dns_tcp += other.flows_dns_tcp;
        self.flows_unknown += other.flows_unknown;
        self.dns_messages += other.dns_messages;
        self.dns_invalid += other.dns_invalid;
        self.http_requests += other.http_requests;
        self.http_transactions += other.http_transactions;
        self.tls_client_hellos += other.tls_client_hellos;
        self.quic_client_hellos += other.quic_client_hellos;
        self.flows_socks += other.flows_socks;
        self.tunnels += other.tunnels;
        self.tls_decrypt.merge(&other.tls_decrypt);
        self.tls_decrypted_flows += other.tls_decrypted_flows;
        self.tls_http1_flows += other.tls_http1_flows;
        self.tls_h2_flows += other.tls_h2_flows;
        self.tls_h2_bytes += other.tls_h2_bytes;
        self.tls_other_flows += other.tls_other_flows;
        self.tls_other_bytes += other.tls_other_bytes;
        self.tls_held_bytes += other.tls_held_bytes;
    }
}

/// Moves the HTTP parser's events into the flow's event list, counting anomalies.
/// Returns the directions that switched to a tunnel, with their first tunneled bytes.
fn drain_http(
    http_events: &mut Vec<http::Event>,
    stats: &mut ProtoStats,
    events: &mut Vec<AppEvent>,
) -> Vec<(Direction, Vec<u8>)> {
    let mut tunnels = Vec::new();
    for event in http_events.drain(..) {
        match event {
            http::Event::Tunnel {
                dir, first_bytes, ..
            } => tunnels.push((dir, first_bytes)),
            http::Event::Anomaly(kind) => {
                stats.count("http", kind.as_str());
                events.push(AppEvent::Http(http::Event::Anomaly(kind)));
            }
            other => events.push(AppEvent::Http(other)),
        }
    }
    tunnels
}

/// Moves the HTTP/2 observer's events into the flow's event list, counting anomalies under
/// the `http2` protocol label (shared HTTP kinds and HTTP/2 kinds alike).
pub(crate) fn drain_http2(
    http_events: &mut Vec<http::Event>,
    stats: &mut ProtoStats,
    events: &mut Vec<AppEvent>,
) {
    for event in http_events.drain(..) {
        match &event {
            http::Event::Anomaly(kind) => stats.count("http2", kind.as_str()),
            http::Event::Http2Anomaly(kind) => stats.count("http2", kind.as_str()),
            _ => {}
        }
        events.push(AppEvent::Http(event));
    }
}

/// Parses one DNS message, counting its anomalies or its error.
fn dns_message(dir: Direction, bytes: &[u8], stats: &mut ProtoStats, events: &mut Vec<AppEvent>) {
    match dns::parse_message(bytes) {
        Ok(message) => {
            stats.dns_messages += 1;
            for anomaly in message.anomalies.iter() {
                stats.count("dns", anomaly.as_str());
            }
            events.push(AppEvent::Dns {
                dir,
                message: Box::new(message),
            });
        }
        Err(err) => {
            stats.dns_invalid += 1;
            stats.count("dns", err.as_str());
        }
    }
}

/// A direction's first bytes, kept until the protocol is decided.
#[derive(Clone, Copy, Debug, Default)]
struct ProbeBuf {
    bytes: [u8; PROBE_BYTES],
    len: usize,
}

impl ProbeBuf {
    fn push<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let room = PROBE_BYTES - self.len;
        let take = room.min(data.len());
        self.bytes[self.len..self.len + take].copy_from_slice(&data[..take]);
        self.len += take;
        &data[take..]
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn is_full(&self) -> bool {
        self.len == PROBE_BYTES
    }
}

#[derive(Debug, Default)]
enum TcpParser {
    Dns(Box<dns::TcpState>),
    Http(Box<http::HttpFlow>),
    Http2(Box<http2::Http2Flow>),
    Opaque,
    /// A SOCKS proxy handshake; what follows it goes to the inner app.
    Socks(Box<socks::SocksState>, Box<TcpApp>),
    Tls(Box<TlsApp>),
    /// After an HTTP CONNECT or Upgrade: the tunneled bytes, probed afresh.
    Tunnel(Box<TcpApp>),
    #[default]
    Undecided,
}

/// Protocol state of one TCP flow.
#[derive(Debug, Default)]
pub struct TcpApp {
    parser: TcpParser,
    probe: [ProbeBuf; 2],
    /// Scratch for the HTTP parser's events; keeps its capacity across packets.
    http_events: Vec<http::Event>,
    /// Tunnels nested inside this one (a CONNECT inside SOCKS, ...), for the depth limit.
    depth: u8,
    /// Packet time of the chunks being fed, microseconds (TLS key waiting).
    now_micros: i64,
}

/// Tunnels inside tunnels are followed this deep; deeper bytes stay opaque.
const MAX_TUNNEL_DEPTH: u8 = 3;

/// What feeding needs besides the bytes.
struct Feed<'a> {
    server_port: u16,
    limits: &'a Limits,
    stats: &'a mut ProtoStats,
    events: &'a mut Vec<AppEvent>,
}

impl TcpApp {
    fn nested(depth: u8) -> TcpApp {
        TcpApp {
            depth,
            ..TcpApp::default()
        }
    }

    pub fn app_proto(&self) -> AppProto {
        match &self.parser {
            TcpParser::Dns(_) => AppProto::Dns,
            TcpParser::Http(_) => AppProto::Http,
            TcpParser::Http2(_) => AppProto::Http2,
            TcpParser::Tls(_) => AppProto::Tls,
            TcpParser::Socks(_, inner) | TcpParser::Tunnel(inner) => inner.app_proto(),
            TcpParser::Opaque | TcpParser::Undecided => AppProto::Unknown,
        }
    }

    /// No parser took the flow: its bytes are opaque (scanned raw by detection).
    pub fn is_opaque(&self) -> bool {
        matches!(self.parser, TcpParser::Opaque)
    }

    /// The protocol is not decided yet (bytes wait in the probe buffers).
    pub fn is_undecided(&self) -> bool {
        matches!(self.parser, TcpParser::Undecided)
    }

    /// Sets the packet time of the chunks fed next (microseconds).
    pub fn set_time(&mut self, now_micros: i64) {
        self.now_micros = now_micros;
        if let TcpParser::Socks(_, inner) | TcpParser::Tunnel(inner) = &mut self.parser {
            inner.set_time(now_micros);
        }
    }

    /// The TLS flow's decryption outcome, if this is a TLS flow.
    pub fn tls_outcome(&self) -> Option<TlsOutcome> {
        match &self.parser {
            TcpParser::Tls(t) => Some(t.outcome()),
            TcpParser::Socks(_, inner) | TcpParser::Tunnel(inner) => inner.tls_outcome(),
            _ => None,
        }
    }

    /// Feeds one reassembled chunk of direction `dir`.
    pub fn on_chunk(
        &mut self,
        dir: Direction,
        chunk: Chunk<'_>,
        server_port: u16,
        limits: &Limits,
        stats: &mut ProtoStats,
        events: &mut Vec<AppEvent>,
    ) {
        let mut cx = Feed {
            server_port,
            limits,
            stats,
            events,
        };
        self.chunk(dir, chunk, &mut cx);
    }

    /// The flow ended: flush what parsers hold for both directions.
    pub fn on_flow_end(
        &mut self,
        server_port: u16,
        limits: &Limits,
        stats: &mut ProtoStats,
        events: &mut Vec<AppEvent>,
    ) {
        let mut cx = Feed {
            server_port,
            limits,
            stats,
            events,
        };
        self.end(&mut cx);
    }

    fn chunk(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Feed<'_>) {
        match chunk {
            Chunk::Data(data) => self.on_data(dir, data, cx),
            Chunk::Gap(len) => {
                if matches!(self.parser, TcpParser::Undecided) {
                    // The protocol cannot be recognised across a hole at its start.
                    self.decide(dir, cx, true);
                }
                match &mut self.parser {
                    TcpParser::Http(h) => {
                        h.on_gap(dir, len, &mut self.http_events);
                        let _ = drain_http(&mut self.http_events, cx.stats, cx.events);
                    }
                    TcpParser::Http2(h) => {
                        h.on_gap(dir, len, &mut self.http_events);
                        drain_http2(&mut self.http_events, cx.stats, cx.events);
                    }
                    TcpParser::Tls(t) => t.on_gap(dir, cx.stats, cx.events),
                    TcpParser::Dns(d) => d.framer_mut(dir).on_gap(),
                    TcpParser::Tunnel(inner) => inner.chunk(dir, Chunk::Gap(len), cx),
                    // A hole in a proxy handshake loses the framing for good.
                    TcpParser::Socks(..) => self.parser = TcpParser::Opaque,
                    TcpParser::Opaque | TcpParser::Undecided => {}
                }
            }
            Chunk::Fin | Chunk::Rst => {
                if matches!(self.parser, TcpParser::Undecided) {
                    self.decide(dir, cx, true);
                }
                match &mut self.parser {
                    TcpParser::Http(h) => {
                        h.on_close(dir, &mut self.http_events);
                        let _ = drain_http(&mut self.http_events, cx.stats, cx.events);
                    }
                    TcpParser::Http2(h) => {
                        h.on_close(dir, &mut self.http_events);
                        drain_http2(&mut self.http_events, cx.stats, cx.events);
                    }
                    TcpParser::Tunnel(inner) | TcpParser::Socks(_, inner) => {
                        inner.chunk(dir, chunk, cx)
                    }
                    _ => {}
                }
            }
        }
    }

    fn end(&mut self, cx: &mut Feed<'_>) {
        if matches!(self.parser, TcpParser::Undecided) {
            self.decide(Direction::ToServer, cx, true);
        }
        match &mut self.parser {
            TcpParser::Http(h) => {
                h.on_close(Direction::ToServer, &mut self.http_events);
                h.on_close(Direction::ToClient, &mut self.http_events);
                let _ = drain_http(&mut self.http_events, cx.stats, cx.events);
            }
            TcpParser::Http2(h) => {
                h.on_close(Direction::ToServer, &mut self.http_events);
                h.on_close(Direction::ToClient, &mut self.http_events);
                drain_http2(&mut self.http_events, cx.stats, cx.events);
            }
            TcpParser::Tls(t) => {
                t.set_time(self.now_micros);
                t.on_end(cx.limits, cx.stats, cx.events);
                for anomaly in t.flow().anomalies() {
                    cx.stats.count("tls", anomaly.as_str());
                }
            }
            TcpParser::Tunnel(inner) | TcpParser::Socks(_, inner) => inner.end(cx),
            _ => {}
        }
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], cx: &mut Feed<'_>) {
        let mut rest = data;
        if matches!(self.parser, TcpParser::Undecided) {
            rest = self.probe[dir.index()].push(data);
            if !self.probe[dir.index()].is_full() && rest.is_empty() && !self.decisive(dir) {
                return;
            }
            self.decide(dir, cx, false);
            if matches!(self.parser, TcpParser::Undecided) {
                return;
            }
        }
        self.feed(dir, rest, cx);
    }

    /// Enough bytes to decide before the probe buffer fills?
    fn decisive(&self, dir: Direction) -> bool {
        let seen = self.probe[dir.index()].as_slice();
        seen.len() >= 16 || (dir == Direction::ToServer && seen.len() >= 6 && tls::probe(seen))
    }

    /// Chooses the parser from the probe buffers and replays them into it.
    fn decide(&mut self, dir: Direction, cx: &mut Feed<'_>, final_call: bool) {
        let client = self.probe[Direction::ToServer.index()];
        let server = self.probe[Direction::ToClient.index()];
        let c = client.as_slice();
        let s = server.as_slice();
        let socks = if self.depth < MAX_TUNNEL_DEPTH {
            socks::probe(c, s, cx.server_port)
        } else {
            None
        };
        self.parser = if http2::probe(c) {
            // Checked first: the preface is shaped like an HTTP/1 request line (RFC 9113 §3.4).
            cx.stats.flows_http2 += 1;
            TcpParser::Http2(Box::new(http2::Http2Flow::new(cx.limits.http2.clone())))
        } else if http::probe_request(c) || (c.is_empty() && http::probe_response(s)) {
            cx.stats.flows_http += 1;
            TcpParser::Http(Box::new(http::HttpFlow::new(cx.limits.http.clone())))
        } else if tls::probe(c) {
            cx.stats.flows_tls += 1;
            TcpParser::Tls(Box::default())
        } else if let Some(version) = socks {
            cx.stats.flows_socks += 1;
            TcpParser::Socks(
                Box::new(socks::SocksState::new(version)),
                Box::new(TcpApp::nested(self.depth + 1)),
            )
        } else if cx.server_port == 53 && !(c.is_empty() && s.is_empty()) {
            cx.stats.flows_dns_tcp += 1;
            TcpParser::Dns(Box::default())
        } else if c.is_empty() && !final_call && (dir == Direction::ToServer || !server.is_full()) {
            // Only the server spoke so far, with something unknown: wait for the client.
            TcpParser::Undecided
        } else {
            cx.stats.flows_unknown += 1;
            TcpParser::Opaque
        };
        if matches!(self.parser, TcpParser::Undecided) {
            return;
        }
        // Replay the probed bytes, client first: a request precedes its response.
        self.probe = [ProbeBuf::default(); 2];
        self.feed(Direction::ToServer, c, cx);
        self.feed(Direction::ToClient, s, cx);
    }

    fn feed(&mut self, dir: Direction, data: &[u8], cx: &mut Feed<'_>) {
        if data.is_empty() {
            return;
        }
        match &mut self.parser {
            TcpParser::Http(h) => {
                h.on_data(dir, data, &mut self.http_events);
                let tunnels = drain_http(&mut self.http_events, cx.stats, cx.events);
                if !tunnels.is_empty() {
                    // CONNECT accepted or protocol switched: both directions now carry
                    // another protocol; probe it like a new connection.
                    let mut inner = TcpApp::nested(self.depth + 1);
                    inner.now_micros = self.now_micros;
                    if self.depth >= MAX_TUNNEL_DEPTH {
                        inner.parser = TcpParser::Opaque;
                    }
                    cx.stats.tunnels += 1;
                    for (tunnel_dir, bytes) in tunnels {
                        inner.on_data(tunnel_dir, &bytes, cx);
                    }
                    self.parser = TcpParser::Tunnel(Box::new(inner));
                }
            }
            TcpParser::Http2(h) => {
                h.on_data(dir, data, &mut self.http_events);
                drain_http2(&mut self.http_events, cx.stats, cx.events);
            }
            TcpParser::Tls(t) => {
                t.set_time(self.now_micros);
                t.on_data(dir, data, cx.limits, cx.stats, cx.events);
            }
            TcpParser::Dns(d) => {
                let (stats, events) = (&mut *cx.stats, &mut *cx.events);
                d.framer_mut(dir)
                    .on_data(data, |msg: &[u8]| dns_message(dir, msg, stats, events));
            }
            TcpParser::Socks(state, inner) => match state.feed(dir == Direction::ToServer, data) {
                socks::Step::Done(rest) => {
                    if !rest.is_empty() {
                        inner.on_data(dir, &rest, cx);
                    }
                }
                socks::Step::Pending => {}
                socks::Step::Invalid => {
                    cx.stats.count("socks", "invalid_handshake");
                    self.parser = TcpParser::Opaque;
                }
            },
            TcpParser::Tunnel(inner) => inner.on_data(dir, data, cx),
            TcpParser::Opaque | TcpParser::Undecided => {}
        }
    }
}

#[derive(Debug, Default)]
enum UdpParser {
    Dns,
    /// HTTP over UDP (SSDP, RFC-less "HTTPU"): one message per datagram.
    Http(Box<http::HttpFlow>),
    Opaque,
    Quic(Box<quic::QuicFlow>),
    #[default]
    Undecided,
}

/// Protocol state of one UDP flow.
#[derive(Debug, Default)]
pub struct UdpApp {
    parser: UdpParser,
    http_events: Vec<http::Event>,
}

/// Ports where DNS wire format is expected: DNS, mDNS (RFC 6762), LLMNR (RFC 4795).
fn dns_port(port: u16) -> bool {
    matches!(port, 53 | 5353 | 5355)
}

impl UdpApp {
    pub fn app_proto(&self) -> AppProto {
        match self.parser {
            UdpParser::Dns => AppProto::Dns,
            UdpParser::Http(_) => AppProto::Http,
            UdpParser::Quic(_) => AppProto::Quic,
            UdpParser::Opaque | UdpParser::Undecided => AppProto::Unknown,
        }
    }

    /// No parser took the flow: its datagrams are opaque (scanned raw by detection).
    pub fn is_opaque(&self) -> bool {
        matches!(self.parser, UdpParser::Opaque)
    }

    /// The flow ended: flush HTTP-over-UDP exchanges and count what the QUIC parser saw
    /// go wrong.
    pub fn on_flow_end(&mut self, stats: &mut ProtoStats, events: &mut Vec<AppEvent>) {
        match &mut self.parser {
            UdpParser::Quic(q) => {
                for anomaly in q.anomalies() {
                    stats.count("quic", anomaly.as_str());
                }
            }
            UdpParser::Http(h) => {
                h.on_close(Direction::ToServer, &mut self.http_events);
                h.on_close(Direction::ToClient, &mut self.http_events);
                let _ = drain_http(&mut self.http_events, stats, events);
            }
            UdpParser::Dns | UdpParser::Opaque | UdpParser::Undecided => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn on_datagram(
        &mut self,
        dir: Direction,
        payload: &[u8],
        client_port: u16,
        server_port: u16,
        limits: &Limits,
        stats: &mut ProtoStats,
        events: &mut Vec<AppEvent>,
    ) {
        if matches!(self.parser, UdpParser::Undecided) {
            // On the DNS ports the port decides: malformed messages are counted as DNS
            // errors instead of making the flow opaque.
            if dns_port(server_port)
                || dns_port(client_port)
                || dns::probe_udp(payload) && server_port == 53
            {
                self.parser = UdpParser::Dns;
            } else if quic::probe(payload) {
                self.parser = UdpParser::Quic(Box::default());
            } else if http::probe_request(payload) || http::probe_response(payload) {
                self.parser = UdpParser::Http(Box::new(http::HttpFlow::new(limits.http.clone())));
            } else if !payload.is_empty() {
                self.parser = UdpParser::Opaque;
            }
        }
        match &mut self.parser {
            UdpParser::Dns => dns_message(dir, payload, stats, events),
            UdpParser::Http(h) => {
                h.on_data(dir, payload, &mut self.http_events);
                let _ = drain_http(&mut self.http_events, stats, events);
            }
            UdpParser::Quic(q) => {
                if let Some(event) = q.on_datagram(dir, payload) {
                    events.push(AppEvent::Quic(event));
                }
            }
            UdpParser::Opaque | UdpParser::Undecided => {}
        }
    }
}
