//! One worker's pipeline: decode → flow → reassembly → proto → records.
//!
//! Owns the per-worker state (decoder with its defragmenter, flow table, reassembly
//! memory budget, scratch vectors) and turns each captured frame into zero or more
//! [`Record`]s handed to the caller's sink. `analyze` runs one worker on the files in
//! order; the daemon runs several, each fed the flows its symmetric hash selects.
//!
//! Must not: read the clock (the packet timestamp is "now"), block, or let a packet error
//! escape — every problem is counted and the loop goes on.

mod detection;
pub mod opaque;
mod stats;

pub use opaque::OpaqueStats;
pub use stats::PipelineStats;

use std::sync::Arc;

use crate::capture::{Frame, Timestamp};
use crate::decode::{self, Decoded, Decoder, LinkType, Transport};
use crate::detect::{self as detect_mod, SignatureSet};
use crate::flow::{Direction, EndReason, Flow, FlowLimits, FlowMeta, FlowTable, Proto};
use crate::proto::{self, AppEvent, AppProto, ResolvedNames, TcpApp, UdpApp};
use crate::reassembly::{self, Chunk, Memory, Segment, Stream};
use crate::record::{
    AppRef, Body, Common, DeviceRef, DnsAnswer, DnsFields, FlowFields, FlowTuple, HttpFields,
    QuicFields, Record, TlsFields,
};
use crate::session::{SessionSet, Side};

/// Which optional protocol records to emit (`--events`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSet {
    pub dns: bool,
    pub flow: bool,
    pub http: bool,
    pub quic: bool,
    pub tls: bool,
}

impl EventSet {
    /// Parses a comma list such as `http,dns,tls,quic,flow`.
    pub fn parse(list: &str) -> Result<EventSet, String> {
        let mut set = EventSet::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "dns" => set.dns = true,
                "flow" => set.flow = true,
                "http" => set.http = true,
                "quic" => set.quic = true,
                "tls" => set.tls = true,
                "all" => {
                    set = EventSet {
                        dns: true,
                        flow: true,
                        http: true,
                        quic: true,
                        tls: true,
                    }
                }
                other => {
                    return Err(format!(
                        "unknown event type '{other}' (expected http, dns, tls, quic, flow)"
                    ))
                }
            }
        }
        Ok(set)
    }
}

/// Everything a worker is configured with.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub decode: decode::Limits,
    pub flow: FlowLimits,
    pub reassembly: reassembly::Limits,
    pub proto: proto::Limits,
    pub events: EventSet,
    /// Detector limits (`[detect]`).
    pub detect: detect_mod::Limits,
    /// PI and SDK signatures (empty by default; `analyze` loads the embedded set).
    pub signatures: Arc<SignatureSet>,
}

/// Per-flow state the pipeline keeps in the flow table.
#[derive(Debug)]
pub struct FlowData {
    streams: [Stream; 2],
    app: App,
    session: Option<SessionMatch>,
    http_host: Option<String>,
    sni: Option<String>,
    /// A ClientHello whose record waits for the decryption outcome.
    pending_tls: Option<Box<proto::tls::TlsSummary>>,
    /// Version the ServerHello negotiated.
    tls_version: Option<u16>,
    anomalies: Vec<&'static str>,
    /// Raw-scan state of an unparsed protocol's client bytes.
    raw: Option<Box<detection::RawState>>,
}

#[derive(Debug)]
enum App {
    Other,
    Tcp(TcpApp),
    Udp(UdpApp),
}

#[derive(Clone, Copy, Debug)]
struct SessionMatch {
    index: usize,
    /// The session's device is the flow's client (the usual case).
    device_is_client: bool,
}

impl FlowData {
    fn new(proto: Proto) -> FlowData {
        FlowData {
            streams: [Stream::new(), Stream::new()],
            app: match proto {
                Proto::TCP => App::Tcp(TcpApp::default()),
                Proto::UDP => App::Udp(UdpApp::default()),
                _ => App::Other,
            },
            session: None,
            http_host: None,
            sni: None,
            pending_tls: None,
            tls_version: None,
            anomalies: Vec::new(),
            raw: None,
        }
    }

    fn app_proto(&self) -> AppProto {
        match &self.app {
            App::Tcp(t) => t.app_proto(),
            App::Udp(u) => u.app_proto(),
            App::Other => AppProto::Unknown,
        }
    }

    fn note_anomaly(&mut self, kind: &'static str) {
        // A handful of kinds exist; the list stays tiny.
        if !self.anomalies.contains(&kind) && self.anomalies.len() < 16 {
            self.anomalies.push(kind);
        }
    }
}

/// One worker: feed it frames, collect records.
pub struct Worker {
    decoder: Decoder,
    inner: Inner,
}

struct Inner {
    flows: FlowTable<FlowData>,
    memory: Memory,
    events: Vec<AppEvent>,
    ended: Vec<(Flow<FlowData>, EndReason)>,
    ctx: Ctx,
}

/// What building records needs, kept apart from the flow table so both can be borrowed.
struct Ctx {
    settings: Settings,
    sessions: Arc<SessionSet>,
    names: Arc<ResolvedNames>,
    stats: PipelineStats,
    detect: detection::DetectState,
}

impl Worker {
    pub fn new(
        settings: Settings,
        sessions: Arc<SessionSet>,
        names: Arc<ResolvedNames>,
        worker_index: u8,
    ) -> Worker {
        Worker {
            decoder: Decoder::new(settings.decode.clone()),
            inner: Inner {
                flows: FlowTable::new(settings.flow.clone(), worker_index),
                memory: Memory::with_limits(&settings.reassembly),
                events: Vec::with_capacity(16),
                ended: Vec::new(),
                ctx: Ctx {
                    detect: detection::DetectState::new(settings.detect),
                    settings,
                    sessions,
                    names,
                    stats: PipelineStats::default(),
                },
            },
        }
    }

    /// Processes one captured frame; records go to `out`.
    pub fn process(&mut self, frame: &Frame<'_>, out: &mut dyn FnMut(Record)) {
        let inner = &mut self.inner;
        let stats = &mut inner.ctx.stats;
        stats.packets += 1;
        stats.bytes += u64::from(frame.wire_len);
        stats.first_ts.get_or_insert(frame.ts);
        stats.last_ts = Some(frame.ts);
        match self.decoder.decode(
            LinkType(frame.link_type),
            frame.data,
            frame.wire_len,
            frame.ts,
        ) {
            Decoded::Packet(packet) => inner.packet(&packet, frame.ts, frame.wire_len, out),
            Decoded::FragmentHeld | Decoded::NotIp(_) | Decoded::Dropped(_) => {}
        }
        self.decoder.expire(frame.ts);
        inner.expire(frame.ts, out);
    }

    /// End of input: ends every flow and emits what they still hold.
    pub fn finish(&mut self, out: &mut dyn FnMut(Record)) {
        let inner = &mut self.inner;
        let mut ended = std::mem::take(&mut inner.ended);
        inner
            .flows
            .flush(&mut |flow, reason| ended.push((flow, reason)));
        for (flow, reason) in ended.drain(..) {
            inner.end_flow(flow, reason, out);
        }
        inner.ended = ended;
    }

    /// All counters of this worker.
    pub fn stats(&self) -> PipelineStats {
        let mut stats = self.inner.ctx.stats.clone();
        stats.decode = self.decoder.stats().clone();
        stats.flow = self.inner.flows.stats();
        stats.reassembly_memory_bytes = self.inner.memory.in_use_bytes();
        stats.reassembly_memcap_hits = self.inner.memory.hits();
        stats.names = self.inner.ctx.names.stats();
        stats.detect = self.inner.ctx.detect.detector.stats().clone();
        stats
    }
}

impl Inner {
    fn packet(
        &mut self,
        packet: &decode::Packet<'_>,
        ts: Timestamp,
        wire_len: u32,
        out: &mut dyn FnMut(Record),
    ) {
        let (src_port, dst_port, tcp_flags) = match &packet.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port, t.flags.0),
            Transport::Udp(u) => (u.src_port, u.dst_port, 0),
            // Only TCP and UDP carry what leaktap inspects; the rest is counted by decode.
            _ => {
                self.ctx.stats.non_tcp_udp += 1;
                return;
            }
        };
        let meta = FlowMeta {
            src: packet.src,
            dst: packet.dst,
            src_port,
            dst_port,
            proto: Proto(packet.ip_proto.0),
            tcp_flags,
            src_mac: packet.eth_src,
            dst_mac: packet.eth_dst,
        };
        let Inner {
            flows,
            memory,
            events,
            ended,
            ctx,
        } = self;
        let Ctx {
            settings,
            sessions,
            stats,
            detect,
            ..
        } = ctx;
        let (flow, dir) = flows.packet(
            &meta,
            wire_len,
            ts,
            || FlowData::new(meta.proto),
            &mut |f, r| ended.push((f, r)),
        );
        if flow.packets[0] + flow.packets[1] == 1 {
            flow.state_data.session = match_session(sessions, flow, ts);
        }
        let server_port = flow.server_port;
        let client_port = flow.client_port;
        let data = &mut flow.state_data;
        match (&packet.transport, &mut data.app) {
            (Transport::Tcp(tcp), App::Tcp(app)) => {
                let segment = Segment {
                    seq: tcp.seq,
                    syn: tcp.flags.has(decode::TcpFlags::SYN),
                    fin: tcp.flags.has(decode::TcpFlags::FIN),
                    rst: tcp.flags.has(decode::TcpFlags::RST),
                    payload: tcp.payload,
                    missing_bytes: tcp.missing_bytes,
                };
                let limits = &settings.proto;
                let pstats = &mut stats.proto;
                let raw = &mut data.raw;
                app.set_time(ts.as_micros());
                let (this, other) = split_streams(&mut data.streams, dir);
                this.on_segment(
                    &segment,
                    memory,
                    &settings.reassembly,
                    &mut |chunk: Chunk<'_>| {
                        app.on_chunk(dir, chunk, server_port, limits, pstats, events);
                        raw_tcp(detect, settings, raw, app, dir, chunk);
                    },
                );
                if tcp.flags.has(decode::TcpFlags::ACK) {
                    other.on_peer_ack(
                        tcp.ack,
                        memory,
                        &settings.reassembly,
                        &mut |chunk: Chunk<'_>| {
                            app.on_chunk(dir.reverse(), chunk, server_port, limits, pstats, events);
                            raw_tcp(detect, settings, raw, app, dir.reverse(), chunk);
                        },
                    );
                }
            }
            (Transport::Udp(udp), App::Udp(app)) => {
                app.on_datagram(
                    dir,
                    udp.payload,
                    client_port,
                    server_port,
                    &settings.proto,
                    &mut stats.proto,
                    events,
                );
                if dir == Direction::ToServer && app.is_opaque() && !udp.payload.is_empty() {
                    detect.raw_bytes(
                        &settings.signatures,
                        &mut data.raw,
                        udp.payload,
                        settings.detect.raw_window_bytes,
                        detection::RawMode::Datagram,
                    );
                }
            }
            _ => {}
        }
        if !events.is_empty() {
            ctx.handle_events(flow, events, ts, out);
        }
        ctx.emit_raw_hits(flow, ts, out);
        let mut ended = std::mem::take(&mut self.ended);
        for (flow, reason) in ended.drain(..) {
            self.end_flow(flow, reason, out);
        }
        self.ended = ended;
    }

    fn expire(&mut self, ts: Timestamp, out: &mut dyn FnMut(Record)) {
        let mut ended = std::mem::take(&mut self.ended);
        self.flows
            .expire(ts, &mut |flow, reason| ended.push((flow, reason)));
        for (flow, reason) in ended.drain(..) {
            self.end_flow(flow, reason, out);
        }
        self.ended = ended;
    }

    /// Flushes a flow's streams and parsers, then emits what is left and its summary.
    fn end_flow(
        &mut self,
        mut flow: Flow<FlowData>,
        reason: EndReason,
        out: &mut dyn FnMut(Record),
    ) {
        let ts = flow.last_seen;
        let server_port = flow.server_port;
        {
            let Inner {
                memory,
                events,
                ctx,
                ..
            } = self;
            let Ctx {
                settings, stats, ..
            } = ctx;
            let data = &mut flow.state_data;
            if let App::Tcp(app) = &mut data.app {
                app.set_time(ts.as_micros());
                let limits = &settings.proto;
                let pstats = &mut stats.proto;
                for dir in [Direction::ToServer, Direction::ToClient] {
                    data.streams[dir.index()].flush(memory, &mut |chunk: Chunk<'_>| {
                        app.on_chunk(dir, chunk, server_port, limits, pstats, events)
                    });
                }
                app.on_flow_end(server_port, limits, pstats, events);
                if let Some(outcome) = app.tls_outcome() {
                    let opaque = !outcome.decrypted
                        && outcome.opaque_reason
                            != Some(proto::tls::OpaqueReason::NoApplicationData);
                    if opaque {
                        let destination = match &data.sni {
                            Some(sni) => sni.clone(),
                            None => flow.server.to_string(),
                        };
                        stats.opaque.add(&destination, outcome.app_bytes);
                    }
                }
            }
            if let App::Udp(app) = &mut data.app {
                app.on_flow_end(&mut stats.proto, events);
            }
            for stream in &mut data.streams {
                stream.release(memory);
                stats.reassembly.merge(stream.stats());
            }
        }
        let ctx = &mut self.ctx;
        ctx.handle_events(&mut flow, &mut self.events, ts, out);
        if let Some(summary) = flow.state_data.pending_tls.take() {
            let version = flow.state_data.tls_version;
            ctx.emit_tls(&flow, &summary, version, false, ts, out);
        }
        for kind in reassembly::AnomalyKind::ALL {
            if flow
                .state_data
                .streams
                .iter()
                .any(|s| s.stats().anomaly(kind) > 0)
            {
                flow.state_data.note_anomaly(kind.as_str());
            }
        }
        if ctx.settings.events.flow {
            let common = ctx.common(&flow, ts);
            let (c, s) = (Direction::ToServer.index(), Direction::ToClient.index());
            let fields = FlowFields {
                start: flow.start,
                end: flow.last_seen,
                pkts_toserver: flow.packets[c],
                pkts_toclient: flow.packets[s],
                bytes_toserver: flow.bytes[c],
                bytes_toclient: flow.bytes[s],
                state: flow.state.as_str(),
                reason: reason.as_str(),
                anomalies: flow.state_data.anomalies.clone(),
            };
            ctx.stats.count_record(crate::record::EventType::Flow);
            out(Record::new(ts, common, Body::Flow(fields)));
        }
    }
}

impl Ctx {
    fn handle_events(
        &mut self,
        flow: &mut Flow<FlowData>,
        events: &mut Vec<AppEvent>,
        ts: Timestamp,
        out: &mut dyn FnMut(Record),
    ) {
        for event in events.drain(..) {
            match event {
                AppEvent::Http(proto::http::Event::Request(request)) => {
                    self.stats.proto.http_requests += 1;
                    if flow.state_data.http_host.is_none() {
                        flow.state_data.http_host.clone_from(&request.host);
                    }
                    self.http_request(flow, &request, ts, out);
                }
                AppEvent::Http(proto::http::Event::Transaction(tx)) => {
                    self.stats.proto.http_transactions += 1;
                    if self.settings.events.http {
                        let fields = HttpFields {
                            method: tx.method.clone(),
                            host: tx.host.clone(),
                            uri: self.masked_uri(&tx.uri),
                            status: tx.status,
                            user_agent: tx.user_agent.clone(),
                            content_type: tx.content_type.clone(),
                            request_body_len: tx.request_body_len,
                            response_body_len: tx.response_body_len,
                            websocket: tx.websocket,
                            http2: tx.http2,
                        };
                        let mut common = self.common(flow, ts);
                        if tx.host.is_some() {
                            common.host.clone_from(&tx.host);
                        }
                        self.stats.count_record(crate::record::EventType::Http);
                        out(Record::new(ts, common, Body::Http { http: fields }));
                    }
                }
                AppEvent::Http(proto::http::Event::Anomaly(kind)) => {
                    flow.state_data.note_anomaly(kind.as_str())
                }
                AppEvent::Http(proto::http::Event::Http2Anomaly(kind)) => {
                    flow.state_data.note_anomaly(kind.as_str())
                }
                AppEvent::Http(_) => {}
                AppEvent::Tls(proto::tls::TlsEvent::ClientHello(summary)) => {
                    self.stats.proto.tls_client_hellos += 1;
                    if flow.state_data.sni.is_none() {
                        flow.state_data.sni.clone_from(&summary.sni);
                    }
                    if let Some(sni) = &summary.sni {
                        self.sdk_contact(flow, sni, "tls_sni", ts, out);
                    }
                    if let Some(previous) = flow.state_data.pending_tls.replace(summary) {
                        self.emit_tls(flow, &previous, None, false, ts, out);
                    }
                }
                AppEvent::Tls(proto::tls::TlsEvent::ServerHello { version, .. }) => {
                    flow.state_data.tls_version = Some(version.0);
                }
                AppEvent::Tls(proto::tls::TlsEvent::Decryption { decrypted, .. }) => {
                    if let Some(summary) = flow.state_data.pending_tls.take() {
                        let version = flow.state_data.tls_version;
                        self.emit_tls(flow, &summary, version, decrypted, ts, out);
                    }
                }
                AppEvent::Quic(proto::quic::QuicEvent::ClientHello { version, summary }) => {
                    self.stats.proto.quic_client_hellos += 1;
                    if flow.state_data.sni.is_none() {
                        flow.state_data.sni.clone_from(&summary.sni);
                    }
                    if let Some(sni) = &summary.sni {
                        self.sdk_contact(flow, sni, "quic_sni", ts, out);
                    }
                    if self.settings.events.quic {
                        let fields = QuicFields {
                            sni: summary.sni.clone(),
                            version: proto::quic::version_name(version.0),
                            alpn: summary.alpn.clone(),
                            ja4: summary.ja4.clone(),
                        };
                        let common = self.common(flow, ts);
                        self.stats.count_record(crate::record::EventType::Quic);
                        out(Record::new(ts, common, Body::Quic { quic: fields }));
                    }
                }
                AppEvent::Quic(_) => {}
                AppEvent::Dns { dir, message } => self.dns_message(flow, dir, &message, ts, out),
            }
        }
    }

    fn dns_message(
        &mut self,
        flow: &Flow<FlowData>,
        dir: Direction,
        message: &proto::dns::Message,
        ts: Timestamp,
        out: &mut dyn FnMut(Record),
    ) {
        if message.is_response {
            // The client that asked is the flow's client when the answer goes to it.
            let client = if dir == Direction::ToClient {
                flow.client
            } else {
                flow.server
            };
            for (address, name) in proto::dns::resolved_addresses(message) {
                self.names.insert(client, address, name, ts);
            }
        }
        // Names the device asked for or was answered with (CNAME chains included).
        for q in &message.questions {
            self.sdk_contact(flow, &q.name, "dns", ts, out);
        }
        for rr in &message.answers {
            self.sdk_contact(flow, &rr.name, "dns", ts, out);
            if let proto::dns::RData::Name(target) = &rr.data {
                self.sdk_contact(flow, target, "dns", ts, out);
            }
        }
        if !self.settings.events.dns {
            return;
        }
        let (query, rrtype) = match message.first_question() {
            Some(q) => (q.name.clone(), q.rrtype.name().into_owned()),
            None => (String::new(), String::new()),
        };
        let answers = message
            .answers
            .iter()
            .map(|rr| DnsAnswer {
                rrname: rr.name.clone(),
                rrtype: rr.rrtype.name().into_owned(),
                ttl: rr.ttl,
                rdata: rr.data.to_string(),
            })
            .collect();
        let fields = DnsFields {
            kind: if message.is_response {
                "answer"
            } else {
                "query"
            },
            id: message.id,
            query,
            rrtype,
            rcode: message
                .is_response
                .then(|| message.rcode.name().into_owned()),
            answers,
        };
        let common = self.common(flow, ts);
        self.stats.count_record(crate::record::EventType::Dns);
        out(Record::new(ts, common, Body::Dns { dns: fields }));
    }

    fn emit_tls(
        &mut self,
        flow: &Flow<FlowData>,
        summary: &proto::tls::TlsSummary,
        negotiated: Option<u16>,
        decrypted: bool,
        ts: Timestamp,
        out: &mut dyn FnMut(Record),
    ) {
        if !self.settings.events.tls {
            return;
        }
        let version = negotiated.unwrap_or(summary.client_version.0);
        let fields = TlsFields {
            sni: summary.sni.clone(),
            version: Some(proto::tls::version_name(version).to_string()),
            alpn: summary.alpn.clone(),
            ja3: summary.ja3.clone(),
            ja3_hash: summary.ja3_hash.clone(),
            ja4: summary.ja4.clone(),
            decrypted,
        };
        let common = self.common(flow, ts);
        self.stats.count_record(crate::record::EventType::Tls);
        out(Record::new(ts, common, Body::Tls { tls: fields }));
    }

    /// The session (index) a flow belongs to and its consent phase at `ts`, without
    /// building the record fields.
    fn session_phase(&self, flow: &Flow<FlowData>, ts: Timestamp) -> (Option<usize>, &'static str) {
        match flow
            .state_data
            .session
            .and_then(|m| self.sessions.get(m.index).map(|s| (m.index, s)))
        {
            Some((index, session)) => (Some(index), session.phase_at(ts).as_str()),
            None => (None, "no_session"),
        }
    }

    /// The common record fields of a flow at time `ts`.
    fn common(&self, flow: &Flow<FlowData>, ts: Timestamp) -> Common {
        self.common_with_host(flow, ts, None)
    }

    /// As [`Ctx::common`] with `host` instead of the flow's (HTTP Host, else SNI, else the
    /// name the client resolved); the SDK and third-party flags follow the host.
    fn common_with_host(
        &self,
        flow: &Flow<FlowData>,
        ts: Timestamp,
        host: Option<String>,
    ) -> Common {
        let data = &flow.state_data;
        let host = host.or_else(|| {
            data.http_host
                .clone()
                .or_else(|| data.sni.clone())
                .or_else(|| self.names.lookup(flow.client, flow.server))
        });
        let sdk = host
            .as_deref()
            .and_then(|h| self.settings.signatures.sdk_for_host(h))
            .map(SignatureSet::sdk_ref);
        let tuple = FlowTuple {
            src_ip: flow.client,
            src_port: flow.client_port,
            dst_ip: flow.server,
            dst_port: flow.server_port,
            proto: flow.proto.name(),
        };
        let (session_id, device, app, phase, third_party) = match data
            .session
            .and_then(|m| self.sessions.get(m.index).map(|s| (m, s)))
        {
            Some((m, session)) => {
                let device_ip = if m.device_is_client {
                    flow.client
                } else {
                    flow.server
                };
                let device = DeviceRef {
                    name: session.device.name.clone(),
                    mac: session.device.mac.map(format_mac),
                    ip: Some(device_ip),
                };
                let app = AppRef {
                    name: session.app.name.clone(),
                    package: session.app.package.clone(),
                };
                // A known SDK host is a third party even under a first-party domain.
                let third_party = sdk.is_some()
                    || host
                        .as_deref()
                        .is_some_and(|h| !session.app.is_first_party(h));
                (
                    Some(session.id.clone()),
                    Some(device),
                    Some(app),
                    session.phase_at(ts).as_str(),
                    third_party,
                )
            }
            None => (None, None, None, "no_session", sdk.is_some()),
        };
        Common {
            session_id,
            device,
            app,
            flow_id: flow.id,
            community_id: flow.community_id.clone(),
            flow: tuple,
            app_proto: data.app_proto(),
            host,
            sdk,
            third_party,
            consent_phase: phase,
        }
    }
}

fn match_session(
    sessions: &SessionSet,
    flow: &Flow<FlowData>,
    ts: Timestamp,
) -> Option<SessionMatch> {
    if sessions.is_empty() {
        return None;
    }
    let (index, side) = sessions.match_packet(
        ts,
        flow.client_mac,
        flow.server_mac,
        Some(flow.client),
        Some(flow.server),
    )?;
    Some(SessionMatch {
        index,
        device_is_client: side == Side::Source,
    })
}

/// Client→server bytes of a TCP flow no parser took go to the raw scan; bytes before the
/// protocol is decided are only held, so the first chunk of an opaque flow is seen whole.
fn raw_tcp(
    detect: &mut detection::DetectState,
    settings: &Settings,
    raw: &mut Option<Box<detection::RawState>>,
    app: &TcpApp,
    dir: Direction,
    chunk: Chunk<'_>,
) {
    let Chunk::Data(bytes) = chunk else {
        return;
    };
    if dir != Direction::ToServer {
        return;
    }
    let mode = if app.is_opaque() {
        detection::RawMode::Stream
    } else if app.is_undecided() {
        detection::RawMode::Hold
    } else {
        return;
    };
    detect.raw_bytes(
        &settings.signatures,
        raw,
        bytes,
        settings.detect.raw_window_bytes,
        mode,
    );
}

fn split_streams(streams: &mut [Stream; 2], dir: Direction) -> (&mut Stream, &mut Stream) {
    let [to_server, to_client] = streams;
    match dir {
        Direction::ToServer => (to_server, to_client),
        Direction::ToClient => (to_client, to_server),
    }
}

/// Formats a MAC as `02:1a:2b:3c:4d:5e`.
pub fn format_mac(mac: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    )
}
