//! Per-connection HTTP/1.x state: one state machine per direction, the FIFO pairing
//! requests with responses, gap and close policy, and the switch to opaque tunnels.
//!
//! Each direction cuts its stream into lines (bounded line buffer; a line that fits in the
//! chunk is borrowed, not copied) while in a start line, a header section, a chunk-size line
//! or trailers, and counts or feeds body bytes otherwise. Requests are queued for pairing when
//! their head is complete; a final response takes the oldest queued request when its head is
//! complete (RFC 9112 §9.3: responses arrive in request order), so pipelining works and
//! interim 1xx responses (RFC 9110 §15.2) are skipped without pairing.
//!
//! Policies (all counted as [`AnomalyKind`]s):
//! - Garbled start line: the direction gives up ([`DirectionState::GaveUp`]).
//! - Invalid or conflicting Content-Length, non-chunked final request transfer coding or
//!   invalid chunk framing: the message is emitted (body empty or cut, truncated), then the
//!   direction scans for the next plausible start line, so a request smuggled behind a bad
//!   length is still inspected.
//! - Header limits: fields past `max_headers` / `max_header_bytes` are read for framing but
//!   not stored (`headers_truncated`); over-long lines are cut to `max_line_bytes`. Framing is
//!   never lost to a header limit.
//! - Gap inside a body with known length: the bytes are skipped, the body is marked truncated
//!   (`body_gap`). Gap in a head, in chunk framing, between messages, or past the end of a
//!   body: the message so far is emitted as truncated and the direction scans forward for the
//!   next plausible start line (`gap_resync`). A gap between messages or in a head is assumed
//!   to have eaten one message start: in the request direction an empty placeholder request is
//!   queued, in the response direction the oldest waiting request is emitted unanswered, which
//!   keeps pairing aligned when one message was lost (several lost messages misalign it).
//! - Obs-fold continuations are joined to the previous stored field with one SP; they never
//!   change framing (RFC 9112 §5.2).
//! - Close: a close-delimited response ends normally; any other message in progress is
//!   emitted as truncated. Once the response direction is closed, every waiting request is
//!   emitted unanswered (no response can come any more).
//! - `101 Switching Protocols`, or 2xx to `CONNECT`: both directions become tunnels. Client
//!   bytes that arrive after an upgrade request and before its answer are held (at most
//!   `max_held_bytes`) and are either replayed as HTTP (upgrade declined) or handed over in
//!   the client's [`Event::Tunnel`].

use std::collections::VecDeque;

use super::body::{self, BodySink, Coding, MAX_CODINGS};
use super::message::{BodyKind, Header, Request, Transaction};
use super::parser;
use super::{AnomalyKind, Event, Limits, Stats, TunnelKind};
use crate::flow::Direction;

/// What a direction does with further bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirectionState {
    /// Framing was lost or the bytes are not HTTP; further bytes are dropped and counted.
    GaveUp,
    /// Parsing HTTP (including holding bytes while an upgrade is undecided).
    Http,
    /// After a protocol switch: bytes are opaque and belong to another parser.
    Tunnel,
}

/// HTTP/1.x parser of one TCP connection; see the module doc.
#[derive(Debug)]
pub struct HttpFlow {
    shared: Shared,
    /// Bytes the client sends ([`Direction::ToServer`]): requests.
    client: Half,
    /// Bytes the server sends ([`Direction::ToClient`]): responses.
    server: Half,
}

impl HttpFlow {
    /// A parser for a new connection.
    pub fn new(limits: Limits) -> Self {
        HttpFlow {
            shared: Shared {
                limits,
                pending: VecDeque::new(),
                in_flight: None,
                next_seq: 0,
                request_progress: None,
                cross: None,
                stats: Stats::default(),
            },
            client: Half::new(Direction::ToServer),
            server: Half::new(Direction::ToClient),
        }
    }

    /// Feeds the next in-order bytes of `dir`, appending resulting events to `events`.
    pub fn on_data(&mut self, dir: Direction, data: &[u8], events: &mut Vec<Event>) {
        let mut rest = data;
        while !rest.is_empty() {
            let half = match dir {
                Direction::ToServer => &mut self.client,
                Direction::ToClient => &mut self.server,
            };
            let used = half.feed(rest, &mut self.shared, events);
            let crossed = self.apply_cross(events);
            rest = rest.get(used..).unwrap_or_default();
            if used == 0 && !crossed {
                // Defensive: `feed` consumes everything unless it stopped for a cross action.
                break;
            }
        }
        self.announce_tunnels(events);
    }

    /// Reports `len` bytes of `dir` that the reassembler never saw.
    pub fn on_gap(&mut self, dir: Direction, len: u64, events: &mut Vec<Event>) {
        if len == 0 {
            return;
        }
        match dir {
            Direction::ToServer => self.client.on_gap(len, &mut self.shared, events),
            Direction::ToClient => self.server.on_gap(len, &mut self.shared, events),
        }
        self.apply_cross(events);
        self.announce_tunnels(events);
    }

    /// Reports the end of `dir`'s stream (FIN or RST): ends a close-delimited response, emits
    /// a message in progress as truncated, and once the server side is closed emits every
    /// waiting request as unanswered.
    pub fn on_close(&mut self, dir: Direction, events: &mut Vec<Event>) {
        match dir {
            Direction::ToServer => self.client.on_close(&mut self.shared, events),
            Direction::ToClient => self.server.on_close(&mut self.shared, events),
        }
        self.apply_cross(events);
        self.announce_tunnels(events);
        if self.server.closed {
            self.shared.flush_pending(events);
        }
    }

    /// Counters of this connection.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// What `dir` does with further bytes.
    pub fn direction_state(&self, dir: Direction) -> DirectionState {
        let half = match dir {
            Direction::ToServer => &self.client,
            Direction::ToClient => &self.server,
        };
        match half.phase {
            Phase::GaveUp => DirectionState::GaveUp,
            Phase::Tunnel if half.tunnel_announced => DirectionState::Tunnel,
            _ => DirectionState::Http,
        }
    }

    /// Whether `dir` has switched to an opaque tunnel ([`Event::Tunnel`] was emitted for it);
    /// its further bytes should go to another parser.
    pub fn is_tunnel(&self, dir: Direction) -> bool {
        self.direction_state(dir) == DirectionState::Tunnel
    }

    /// Requests waiting for a response.
    pub fn pending_len(&self) -> usize {
        self.shared.pending.len()
    }

    /// Emits the `Tunnel` event of a side that switched with no bytes after the switch point
    /// yet (with bytes, `Half::feed` emits it); the client side's comes first.
    fn announce_tunnels(&mut self, events: &mut Vec<Event>) {
        for half in [&mut self.client, &mut self.server] {
            if half.phase == Phase::Tunnel && !half.tunnel_announced {
                half.announce_tunnel(Vec::new(), events);
            }
        }
    }

    /// Applies an action the server side asked of the client side; returns whether one ran.
    fn apply_cross(&mut self, events: &mut Vec<Event>) -> bool {
        match self.shared.cross.take() {
            None => false,
            Some(Cross::Release) => {
                self.client.release(&mut self.shared, events);
                true
            }
            Some(Cross::Tunnel(kind)) => {
                self.client.peer_switched(kind, events);
                true
            }
        }
    }
}

/// State both directions touch.
#[derive(Debug)]
struct Shared {
    limits: Limits,
    /// Requests whose head is complete and whose response has not started, oldest first.
    pending: VecDeque<Pending>,
    /// The request whose final response is being received.
    in_flight: Option<Pending>,
    next_seq: u64,
    /// `(seq, body bytes so far)` of the request body being received.
    request_progress: Option<(u64, u64)>,
    /// Action for the client side, set by the server side.
    cross: Option<Cross>,
    stats: Stats,
}

impl Shared {
    fn anomaly(&mut self, kind: AnomalyKind, events: &mut Vec<Event>) {
        if let Some(n) = self.stats.anomalies.get_mut(kind as usize) {
            *n = n.saturating_add(1);
        }
        events.push(Event::Anomaly(kind));
    }

    fn push_pending(&mut self, pending: Pending, events: &mut Vec<Event>) {
        if self.pending.len() >= self.limits.max_pending {
            self.anomaly(AnomalyKind::PendingOverflow, events);
            match self.pending.pop_front() {
                Some(oldest) => self.emit_unanswered(oldest, events),
                // `max_pending` is 0: nothing can wait.
                None => return self.emit_unanswered(pending, events),
            }
        }
        self.pending.push_back(pending);
    }

    fn emit_unanswered(&mut self, pending: Pending, events: &mut Vec<Event>) {
        self.stats.transactions += 1;
        self.stats.transactions_unanswered += 1;
        let mut tx = pending.tx;
        if let Some((seq, len)) = self.request_progress {
            if seq == pending.seq {
                tx.request_body_len = tx.request_body_len.max(len);
            }
        }
        events.push(Event::Transaction(Box::new(tx)));
    }

    fn flush_pending(&mut self, events: &mut Vec<Event>) {
        while let Some(p) = self.pending.pop_front() {
            self.emit_unanswered(p, events);
        }
    }

    fn is_pending(&self, seq: u64) -> bool {
        self.pending.iter().any(|p| p.seq == seq)
    }

    /// Records a finished request body on its queued or in-flight entry.
    fn request_done(&mut self, seq: u64, body_len: u64, gap: bool) {
        let entry = self
            .pending
            .iter_mut()
            .chain(self.in_flight.iter_mut())
            .find(|p| p.seq == seq);
        if let Some(p) = entry {
            p.tx.request_body_len = body_len;
            p.tx.gap |= gap;
        }
        self.request_progress = None;
    }
}

/// A request waiting for (or receiving) its response.
#[derive(Debug)]
struct Pending {
    seq: u64,
    tx: Transaction,
    head: bool,
    connect: bool,
    /// The request asked to switch protocols (Upgrade with `Connection: upgrade`, or CONNECT).
    switch: bool,
    /// Lowercased first `Upgrade` token of the request.
    upgrade: Option<String>,
}

/// What the server side asks of the client side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cross {
    /// The upgrade was declined: held client bytes are HTTP after all.
    Release,
    /// The connection switched: the client side becomes a tunnel after its current message.
    Tunnel(TunnelKind),
}

/// Variants in message order (RFC 9112 §2.1), then the terminal states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before a start line; empty lines are skipped (RFC 9112 §2.2).
    Idle,
    /// Reading header field lines.
    Head,
    /// Receiving a body.
    Body(Framing),
    /// Reading trailer field lines after the last chunk (RFC 9112 §7.1.2).
    Trailers,
    /// After a gap: skipping lines until a plausible start line.
    Resync,
    /// Client side after an upgrade request: holding bytes until the response decides.
    UpgradePending,
    /// Opaque bytes.
    Tunnel,
    /// Framing lost or not HTTP.
    GaveUp,
}

/// Variants in RFC 9112 §6.3 order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// Content-Length (RFC 9112 §6.2).
    Length { remaining: u64 },
    /// Expecting a chunk-size line.
    ChunkSize,
    /// Inside chunk data.
    ChunkData { remaining: u64 },
    /// Expecting the CRLF that ends chunk data.
    ChunkEnd,
    /// Until the connection closes (RFC 9112 §6.3 item 8).
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LengthField {
    Absent,
    Conflict,
    Invalid,
    Valid(u64),
}

/// The message being received in one direction.
#[derive(Debug)]
struct Message {
    /// The request under construction (client side).
    request: Option<Box<Request>>,
    /// Status code (server side).
    status: u16,
    seq: u64,
    content_length: LengthField,
    transfer_codings: Vec<Coding>,
    transfer_encoding: bool,
    upgrade: Option<String>,
    connection_upgrade: bool,
    response_content_type: Option<String>,
    header_bytes: usize,
    header_count: usize,
    header_cap_counted: bool,
    bare_lf_counted: bool,
    /// Whether the previous field line was stored (an obs-fold continues it).
    last_stored: bool,
    /// Whether any field line was seen (an obs-fold needs one).
    any_field: bool,
    sink: Option<BodySink>,
    /// Response body bytes (server side).
    body_len: u64,
    gap: bool,
    switch_requested: bool,
}

impl Message {
    fn new(request: Option<Box<Request>>, status: u16, seq: u64) -> Self {
        Message {
            request,
            status,
            seq,
            content_length: LengthField::Absent,
            transfer_codings: Vec::new(),
            transfer_encoding: false,
            upgrade: None,
            connection_upgrade: false,
            response_content_type: None,
            header_bytes: 0,
            header_count: 0,
            header_cap_counted: false,
            bare_lf_counted: false,
            last_stored: false,
            any_field: false,
            sink: None,
            body_len: 0,
            gap: false,
            switch_requested: false,
        }
    }
}

/// One direction's parser.
#[derive(Debug)]
struct Half {
    dir: Direction,
    phase: Phase,
    /// Partial line carried between chunks, at most `max_line_bytes`.
    line: Vec<u8>,
    /// The partial line was cut at `max_line_bytes`.
    line_cut: bool,
    msg: Option<Box<Message>>,
    /// Client bytes held in `UpgradePending`, at most `max_held_bytes`.
    held: Vec<u8>,
    held_cap_counted: bool,
    /// A gap hit the held bytes: replay them through resynchronisation.
    held_gap: bool,
    closed: bool,
    tunnel_kind: Option<TunnelKind>,
    tunnel_announced: bool,
    /// The peer switched protocols while this side was inside a message.
    tunnel_after_message: Option<TunnelKind>,
}

impl Half {
    fn new(dir: Direction) -> Self {
        Half {
            dir,
            phase: Phase::Idle,
            line: Vec::new(),
            line_cut: false,
            msg: None,
            held: Vec::new(),
            held_cap_counted: false,
            held_gap: false,
            closed: false,
            tunnel_kind: None,
            tunnel_announced: false,
            tunnel_after_message: None,
        }
    }

    fn is_client(&self) -> bool {
        self.dir == Direction::ToServer
    }

    /// Consumes a prefix of `data`; returns its length. Stops early only when it set a cross
    /// action for the caller to apply first.
    fn feed(&mut self, data: &[u8], sh: &mut Shared, ev: &mut Vec<Event>) -> usize {
        let mut pos = 0usize;
        while pos < data.len() {
            if sh.cross.is_some() {
                return pos;
            }
            let rest = data.get(pos..).unwrap_or_default();
            match self.phase {
                Phase::GaveUp => {
                    sh.stats.ignored_bytes = sh.stats.ignored_bytes.saturating_add(len64(rest));
                    return data.len();
                }
                Phase::Tunnel => {
                    if self.tunnel_announced {
                        sh.stats.tunnel_bytes = sh.stats.tunnel_bytes.saturating_add(len64(rest));
                    } else {
                        self.announce_tunnel(rest.to_vec(), ev);
                    }
                    return data.len();
                }
                Phase::UpgradePending => {
                    self.hold(rest, sh, ev);
                    return data.len();
                }
                Phase::Body(Framing::Close) => {
                    self.body_bytes(rest, sh, ev);
                    return data.len();
                }
                Phase::Body(Framing::Length { remaining }) => {
                    let n = take_len(remaining, rest.len());
                    self.body_bytes(rest.get(..n).unwrap_or_default(), sh, ev);
                    pos += n;
                    let remaining = remaining.saturating_sub(len64_n(n));
                    if remaining == 0 {
                        self.end_message(false, sh, ev);
                    } else {
                        self.phase = Phase::Body(Framing::Length { remaining });
                    }
                }
                Phase::Body(Framing::ChunkData { remaining }) => {
                    let n = take_len(remaining, rest.len());
                    self.body_bytes(rest.get(..n).unwrap_or_default(), sh, ev);
                    pos += n;
                    let remaining = remaining.saturating_sub(len64_n(n));
                    self.phase = Phase::Body(if remaining == 0 {
                        Framing::ChunkEnd
                    } else {
                        Framing::ChunkData { remaining }
                    });
                }
                Phase::Idle
                | Phase::Head
                | Phase::Trailers
                | Phase::Resync
                | Phase::Body(Framing::ChunkSize)
                | Phase::Body(Framing::ChunkEnd) => {
                    let max = sh.limits.max_line_bytes;
                    let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                        self.append_line(rest, max);
                        return data.len();
                    };
                    let seg = rest.get(..lf).unwrap_or_default();
                    pos += lf + 1;
                    if self.line.is_empty() && !self.line_cut && seg.len() <= max {
                        let (line, crlf) = strip_cr(seg);
                        self.on_line(line, crlf, false, sh, ev);
                    } else {
                        self.append_line(seg, max);
                        let buf = std::mem::take(&mut self.line);
                        let cut = std::mem::take(&mut self.line_cut);
                        // A cut line lost its end, CR included.
                        let (line, crlf) = if cut {
                            (&buf[..], true)
                        } else {
                            strip_cr(&buf)
                        };
                        self.on_line(line, crlf, cut, sh, ev);
                        self.line = buf;
                        self.line.clear();
                    }
                }
            }
        }
        pos
    }

    fn append_line(&mut self, data: &[u8], max: usize) {
        if self.phase == Phase::Resync {
            // Keep the tail: a start line may follow a long run of lost-body bytes. Trimmed
            // in steps of `max` so that the copying stays linear.
            self.line.extend_from_slice(data);
            if self.line.len() > max.saturating_mul(2) {
                let excess = self.line.len() - max;
                self.line.drain(..excess);
            }
            return;
        }
        let room = max.saturating_sub(self.line.len());
        if data.len() > room {
            self.line_cut = true;
        }
        self.line
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
    }

    fn on_line(
        &mut self,
        line: &[u8],
        crlf: bool,
        cut: bool,
        sh: &mut Shared,
        ev: &mut Vec<Event>,
    ) {
        if cut {
            sh.anomaly(AnomalyKind::LineTooLong, ev);
            if let Some(req) = self.msg.as_mut().and_then(|m| m.request.as_mut()) {
                req.headers_truncated = true;
            }
        }
        if !crlf {
            if let Some(msg) = self.msg.as_mut() {
                if !msg.bare_lf_counted {
                    msg.bare_lf_counted = true;
                    sh.anomaly(AnomalyKind::BareLf, ev);
                }
            }
        }
        match self.phase {
            Phase::Idle => {
                if !line.is_empty() {
                    self.start_line(line, crlf, sh, ev);
                }
            }
            Phase::Resync => {
                if let Some(at) = parser::find_start_line(line, self.is_client()) {
                    self.phase = Phase::Idle;
                    self.start_line(line.get(at..).unwrap_or_default(), crlf, sh, ev);
                }
            }
            Phase::Head => {
                if line.is_empty() {
                    self.end_head(false, sh, ev);
                } else {
                    self.field_line(line, false, sh, ev);
                }
            }
            Phase::Trailers => {
                if line.is_empty() {
                    self.end_message(false, sh, ev);
                } else {
                    self.field_line(line, true, sh, ev);
                }
            }
            Phase::Body(Framing::ChunkSize) => match parser::parse_chunk_size_line(line) {
                Ok(0) => self.phase = Phase::Trailers,
                Ok(size) => self.phase = Phase::Body(Framing::ChunkData { remaining: size }),
                Err(_) => self.framing_lost(AnomalyKind::ChunkInvalid, sh, ev),
            },
            Phase::Body(Framing::ChunkEnd) => {
                if line.is_empty() {
                    self.phase = Phase::Body(Framing::ChunkSize);
                } else {
                    self.framing_lost(AnomalyKind::ChunkInvalid, sh, ev);
                }
            }
            Phase::Body(_) | Phase::UpgradePending | Phase::Tunnel | Phase::GaveUp => {}
        }
    }

    fn start_line(&mut self, line: &[u8], crlf: bool, sh: &mut Shared, ev: &mut Vec<Event>) {
        let msg = if self.is_client() {
            let Ok(rl) = parser::parse_request_line(line) else {
                sh.anomaly(AnomalyKind::StartLineInvalid, ev);
                return self.give_up();
            };
            let seq = sh.next_seq;
            sh.next_seq += 1;
            let request = Request {
                method: lossy(rl.method),
                uri: lossy(rl.target),
                version: rl.minor,
                headers: Vec::new(),
                headers_truncated: false,
                host: None,
                user_agent: None,
                content_type: None,
                content_encoding: Vec::new(),
                body: Vec::new(),
                body_wire_len: 0,
                body_truncated: false,
                body_kind: BodyKind::Empty,
                websocket_upgrade: false,
                expect_continue: false,
            };
            Message::new(Some(Box::new(request)), 0, seq)
        } else {
            let Ok(sl) = parser::parse_status_line(line) else {
                sh.anomaly(AnomalyKind::StartLineInvalid, ev);
                return self.give_up();
            };
            Message::new(None, sl.status, 0)
        };
        let mut msg = Box::new(msg);
        if !crlf {
            msg.bare_lf_counted = true;
            sh.anomaly(AnomalyKind::BareLf, ev);
        }
        self.msg = Some(msg);
        self.phase = Phase::Head;
    }

    fn field_line(&mut self, line: &[u8], trailer: bool, sh: &mut Shared, ev: &mut Vec<Event>) {
        let limits = sh.limits;
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        msg.header_bytes = msg.header_bytes.saturating_add(line.len() + 2);
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if !msg.any_field {
                // Whitespace before the first field (RFC 9112 §2.2): ignored.
                return sh.anomaly(AnomalyKind::HeaderInvalid, ev);
            }
            sh.anomaly(AnomalyKind::ObsFold, ev);
            if msg.last_stored && msg.header_bytes <= limits.max_header_bytes {
                let last = msg.request.as_mut().and_then(|r| r.headers.last_mut());
                if let Some(h) = last {
                    h.value.push(b' ');
                    h.value.extend_from_slice(parser::trim_ows(line));
                }
            }
            return;
        }
        msg.any_field = true;
        msg.last_stored = false;
        let field = match parser::parse_field_line(line) {
            Ok(f) => f,
            Err(_) => return sh.anomaly(AnomalyKind::HeaderInvalid, ev),
        };
        if field.space_before_colon {
            sh.anomaly(AnomalyKind::HeaderInvalid, ev);
        }
        msg.header_count += 1;
        if !trailer {
            // RFC 9110 §6.5.1: trailers never carry framing or routing fields.
            interpret(msg, field.name, field.value);
        }
        let Some(req) = msg.request.as_mut() else {
            return;
        };
        let over = if msg.header_count > limits.max_headers {
            Some(AnomalyKind::HeaderCountCap)
        } else if msg.header_bytes > limits.max_header_bytes {
            Some(AnomalyKind::HeaderBytesCap)
        } else {
            None
        };
        match over {
            None => {
                req.headers.push(Header {
                    name: lossy(field.name),
                    value: field.value.to_vec(),
                });
                msg.last_stored = true;
            }
            Some(kind) => {
                req.headers_truncated = true;
                if !msg.header_cap_counted {
                    msg.header_cap_counted = true;
                    sh.anomaly(kind, ev);
                }
            }
        }
    }

    /// The header section ended (`cut`: it was cut by a gap or close).
    fn end_head(&mut self, cut: bool, sh: &mut Shared, ev: &mut Vec<Event>) {
        if self.is_client() {
            self.end_request_head(cut, sh, ev);
        } else {
            self.end_response_head(cut, sh, ev);
        }
    }

    fn end_request_head(&mut self, cut: bool, sh: &mut Shared, ev: &mut Vec<Event>) {
        let limits = sh.limits;
        let Some(msg) = self.msg.as_mut() else {
            self.phase = Phase::Idle;
            return;
        };
        let Some(req) = msg.request.as_mut() else {
            self.phase = Phase::Idle;
            return;
        };
        sh.stats.requests += 1;
        if let Some(authority) = parser::absolute_form_authority(req.uri.as_bytes()) {
            req.host = Some(lossy(authority));
        } else if req.host.is_none() && req.method == "CONNECT" {
            req.host = Some(req.uri.clone());
        }
        req.websocket_upgrade = msg.upgrade.as_deref() == Some("websocket");
        let connect = req.method == "CONNECT";
        msg.switch_requested = connect || (msg.upgrade.is_some() && msg.connection_upgrade);
        if cut {
            req.headers_truncated = true;
        }
        sh.push_pending(
            Pending {
                seq: msg.seq,
                tx: Transaction {
                    method: req.method.clone(),
                    host: req.host.clone(),
                    uri: req.uri.clone(),
                    user_agent: req.user_agent.clone(),
                    content_type: req.content_type.clone(),
                    gap: msg.gap,
                    ..Transaction::default()
                },
                head: req.method == "HEAD",
                connect,
                switch: msg.switch_requested,
                upgrade: msg.upgrade.clone(),
            },
            ev,
        );
        if cut {
            self.end_message(true, sh, ev);
            return;
        }
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; a request whose final
        // transfer coding is not chunked, or whose Content-Length is invalid, has no framing.
        let framing = if msg.transfer_encoding {
            if msg.content_length != LengthField::Absent {
                sh.anomaly(AnomalyKind::TeAndCl, ev);
            }
            if msg.transfer_codings.last() == Some(&Coding::Chunked) {
                Some(Framing::ChunkSize)
            } else {
                return self.framing_lost(AnomalyKind::TransferEncodingInvalid, sh, ev);
            }
        } else {
            match msg.content_length {
                LengthField::Absent | LengthField::Valid(0) => None,
                LengthField::Valid(n) => Some(Framing::Length { remaining: n }),
                LengthField::Conflict => {
                    return self.framing_lost(AnomalyKind::ContentLengthConflict, sh, ev)
                }
                LengthField::Invalid => {
                    return self.framing_lost(AnomalyKind::ContentLengthInvalid, sh, ev)
                }
            }
        };
        match framing {
            None => self.end_message(false, sh, ev),
            Some(framing) => {
                let mut codings: Vec<Coding> = msg
                    .transfer_codings
                    .iter()
                    .filter(|c| **c != Coding::Chunked)
                    .cloned()
                    .collect();
                codings.extend(req.content_encoding.iter().cloned());
                let (sink, anomaly) = BodySink::new(&codings, &limits);
                if let Some(kind) = anomaly {
                    sh.anomaly(kind, ev);
                }
                msg.sink = Some(sink);
                self.phase = Phase::Body(framing);
            }
        }
    }

    fn end_response_head(&mut self, cut: bool, sh: &mut Shared, ev: &mut Vec<Event>) {
        let Some(msg) = self.msg.as_mut() else {
            self.phase = Phase::Idle;
            return;
        };
        let status = msg.status;
        if (100..200).contains(&status) && status != 101 {
            // Interim response (RFC 9110 §15.2), e.g. 100 Continue: not the final answer.
            sh.stats.interim_responses += 1;
            self.msg = None;
            self.phase = if cut { Phase::Resync } else { Phase::Idle };
            return;
        }
        sh.stats.responses += 1;
        sh.in_flight = sh.pending.pop_front();
        if sh.in_flight.is_none() {
            sh.anomaly(AnomalyKind::ResponseWithoutRequest, ev);
        }
        let (head, connect, switch, asked) = match &sh.in_flight {
            Some(p) => (p.head, p.connect, p.switch, p.upgrade.clone()),
            None => (false, false, false, None),
        };
        if cut {
            if switch {
                sh.cross = Some(Cross::Release);
            }
            return self.end_message(true, sh, ev);
        }
        let kind = if status == 101 {
            Some(TunnelKind::Upgrade)
        } else if connect && (200..300).contains(&status) {
            Some(TunnelKind::Connect)
        } else {
            None
        };
        if let Some(kind) = kind {
            let protocol = match kind {
                TunnelKind::Connect => sh
                    .in_flight
                    .as_ref()
                    .map(|p| p.tx.uri.clone())
                    .unwrap_or_default(),
                TunnelKind::Upgrade => msg.upgrade.clone().or(asked).unwrap_or_default(),
            };
            self.end_message(false, sh, ev);
            ev.push(Event::Upgrade { kind, protocol });
            self.phase = Phase::Tunnel;
            self.tunnel_kind = Some(kind);
            sh.cross = Some(Cross::Tunnel(kind));
            return;
        }
        if switch {
            sh.cross = Some(Cross::Release);
        }
        // RFC 9112 §6.3: no body for HEAD, 1xx, 204, 304; Transfer-Encoding wins; a final
        // coding other than chunked, or no length at all, means close-delimited.
        let framing = if head || status == 204 || status == 304 {
            None
        } else if msg.transfer_encoding {
            if msg.content_length != LengthField::Absent {
                sh.anomaly(AnomalyKind::TeAndCl, ev);
            }
            if msg.transfer_codings.last() == Some(&Coding::Chunked) {
                Some(Framing::ChunkSize)
            } else {
                Some(Framing::Close)
            }
        } else {
            match msg.content_length {
                LengthField::Absent => Some(Framing::Close),
                LengthField::Valid(0) => None,
                LengthField::Valid(n) => Some(Framing::Length { remaining: n }),
                LengthField::Conflict => {
                    return self.framing_lost(AnomalyKind::ContentLengthConflict, sh, ev)
                }
                LengthField::Invalid => {
                    return self.framing_lost(AnomalyKind::ContentLengthInvalid, sh, ev)
                }
            }
        };
        match framing {
            None => self.end_message(false, sh, ev),
            Some(framing) => self.phase = Phase::Body(framing),
        }
    }

    fn body_bytes(&mut self, data: &[u8], sh: &mut Shared, ev: &mut Vec<Event>) {
        if data.is_empty() {
            return;
        }
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        if self.dir == Direction::ToServer {
            sh.stats.request_body_bytes = sh.stats.request_body_bytes.saturating_add(len64(data));
            if let Some(sink) = msg.sink.as_mut() {
                if let Some(kind) = sink.push(data) {
                    sh.anomaly(kind, ev);
                }
                sh.request_progress = Some((msg.seq, sink.wire_len()));
            }
        } else {
            sh.stats.response_body_bytes = sh.stats.response_body_bytes.saturating_add(len64(data));
            msg.body_len = msg.body_len.saturating_add(len64(data));
        }
    }

    /// Ends the current message and emits it; `truncated` if it was cut short.
    fn end_message(&mut self, truncated: bool, sh: &mut Shared, ev: &mut Vec<Event>) {
        let Some(msg) = self.msg.take() else {
            self.phase = Phase::Idle;
            return;
        };
        self.phase = Phase::Idle;
        if self.is_client() {
            self.finish_request(*msg, truncated, sh, ev);
        } else {
            finish_response(*msg, sh, ev);
        }
        if let Some(kind) = self.tunnel_after_message.take() {
            self.phase = Phase::Tunnel;
            self.tunnel_kind = Some(kind);
        }
    }

    fn finish_request(
        &mut self,
        msg: Message,
        truncated: bool,
        sh: &mut Shared,
        ev: &mut Vec<Event>,
    ) {
        let Some(mut req) = msg.request else {
            return;
        };
        match msg.sink {
            Some(sink) => {
                let (outcome, anomaly) = sink.finish();
                if let Some(kind) = anomaly {
                    sh.anomaly(kind, ev);
                }
                req.body = outcome.body;
                req.body_wire_len = outcome.wire_len;
                req.body_truncated = outcome.truncated || truncated;
            }
            None => req.body_truncated = truncated,
        }
        req.body_kind = body::classify(req.content_type.as_deref().map(str::as_bytes), &req.body);
        sh.request_done(msg.seq, req.body_wire_len, msg.gap);
        if msg.switch_requested && !truncated && sh.is_pending(msg.seq) {
            self.phase = Phase::UpgradePending;
        }
        ev.push(Event::Request(req));
    }

    /// Framing cannot be trusted: emit what there is (as truncated), then scan for the
    /// next plausible start line. Scanning on (rather than giving up) is what a smuggling
    /// attempt needs: the request hidden behind a bad length is still seen and inspected.
    fn framing_lost(&mut self, kind: AnomalyKind, sh: &mut Shared, ev: &mut Vec<Event>) {
        sh.anomaly(kind, ev);
        self.end_message(true, sh, ev);
        self.line.clear();
        self.line_cut = false;
        self.msg = None;
        if !matches!(
            self.phase,
            Phase::Tunnel | Phase::GaveUp | Phase::UpgradePending
        ) {
            self.phase = Phase::Resync;
        }
    }

    fn give_up(&mut self) {
        self.phase = Phase::GaveUp;
        self.msg = None;
        self.line = Vec::new();
        self.line_cut = false;
        self.held = Vec::new();
    }

    /// Starts scanning for the next start line after a gap.
    fn resync(&mut self, sh: &mut Shared, ev: &mut Vec<Event>) {
        sh.anomaly(AnomalyKind::GapResync, ev);
        self.line.clear();
        self.line_cut = false;
        if !matches!(self.phase, Phase::Tunnel | Phase::GaveUp) {
            self.phase = Phase::Resync;
        }
    }

    /// A gap that starts at a message boundary or inside a head is assumed to have eaten the
    /// start of one message; see the module doc.
    fn lost_message_start(&mut self, sh: &mut Shared, ev: &mut Vec<Event>) {
        if self.is_client() {
            let seq = sh.next_seq;
            sh.next_seq += 1;
            let tx = Transaction {
                gap: true,
                ..Transaction::default()
            };
            let placeholder = Pending {
                seq,
                tx,
                head: false,
                connect: false,
                switch: false,
                upgrade: None,
            };
            sh.push_pending(placeholder, ev);
        } else if let Some(mut p) = sh.pending.pop_front() {
            p.tx.gap = true;
            if p.switch {
                sh.cross = Some(Cross::Release);
            }
            sh.emit_unanswered(p, ev);
        }
    }

    fn on_gap(&mut self, len: u64, sh: &mut Shared, ev: &mut Vec<Event>) {
        sh.stats.gap_bytes = sh.stats.gap_bytes.saturating_add(len);
        match self.phase {
            Phase::GaveUp | Phase::Tunnel => {}
            Phase::UpgradePending => self.held_gap = true,
            Phase::Resync => {
                self.line.clear();
                self.line_cut = false;
            }
            Phase::Idle => {
                self.lost_message_start(sh, ev);
                self.resync(sh, ev);
            }
            Phase::Head => {
                // The start line is known: emit what was parsed.
                if let Some(msg) = self.msg.as_mut() {
                    msg.gap = true;
                }
                self.end_head(true, sh, ev);
                self.resync(sh, ev);
            }
            Phase::Body(Framing::Length { remaining }) => {
                self.body_gap(len.min(remaining), sh, ev);
                if len < remaining {
                    self.phase = Phase::Body(Framing::Length {
                        remaining: remaining - len,
                    });
                } else {
                    self.end_message(false, sh, ev);
                    if len > remaining && self.phase == Phase::Idle {
                        self.lost_message_start(sh, ev);
                        self.resync(sh, ev);
                    }
                }
            }
            Phase::Body(Framing::ChunkData { remaining }) if len <= remaining => {
                self.body_gap(len, sh, ev);
                self.phase = Phase::Body(if len == remaining {
                    Framing::ChunkEnd
                } else {
                    Framing::ChunkData {
                        remaining: remaining - len,
                    }
                });
            }
            Phase::Body(Framing::Close) => self.body_gap(len, sh, ev),
            Phase::Body(Framing::ChunkData { .. })
            | Phase::Body(Framing::ChunkSize)
            | Phase::Body(Framing::ChunkEnd)
            | Phase::Trailers => {
                // Chunk framing lost: the message ends here, truncated.
                self.body_gap(len, sh, ev);
                self.end_message(true, sh, ev);
                self.resync(sh, ev);
            }
        }
    }

    fn body_gap(&mut self, len: u64, sh: &mut Shared, ev: &mut Vec<Event>) {
        sh.anomaly(AnomalyKind::BodyGap, ev);
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        msg.gap = true;
        match msg.sink.as_mut() {
            Some(sink) => {
                sink.gap(len);
                sh.request_progress = Some((msg.seq, sink.wire_len()));
            }
            None => msg.body_len = msg.body_len.saturating_add(len),
        }
    }

    fn on_close(&mut self, sh: &mut Shared, ev: &mut Vec<Event>) {
        self.closed = true;
        match self.phase {
            Phase::Body(Framing::Close) => self.end_message(false, sh, ev),
            Phase::Body(_) | Phase::Trailers => {
                sh.anomaly(AnomalyKind::TruncatedMessage, ev);
                self.end_message(true, sh, ev);
            }
            Phase::Head => {
                sh.anomaly(AnomalyKind::TruncatedMessage, ev);
                self.end_head(true, sh, ev);
            }
            Phase::Idle => {
                if self.line.iter().any(|b| !b.is_ascii_whitespace()) {
                    sh.anomaly(AnomalyKind::TruncatedMessage, ev);
                }
                self.line.clear();
            }
            Phase::Resync | Phase::UpgradePending | Phase::Tunnel | Phase::GaveUp => {}
        }
    }

    fn hold(&mut self, data: &[u8], sh: &mut Shared, ev: &mut Vec<Event>) {
        let room = sh.limits.max_held_bytes.saturating_sub(self.held.len());
        if data.len() > room && !self.held_cap_counted {
            self.held_cap_counted = true;
            sh.anomaly(AnomalyKind::HeldBytesCap, ev);
        }
        self.held
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
    }

    /// The upgrade was declined: held bytes are parsed as HTTP.
    fn release(&mut self, sh: &mut Shared, ev: &mut Vec<Event>) {
        if self.phase != Phase::UpgradePending {
            return;
        }
        let held = std::mem::take(&mut self.held);
        self.held_cap_counted = false;
        self.phase = Phase::Idle;
        if std::mem::take(&mut self.held_gap) {
            self.resync(sh, ev);
        }
        // The client side never sets a cross action, so `feed` consumes everything.
        self.feed(&held, sh, ev);
    }

    /// The server switched protocols; this (client) side follows after its current message.
    fn peer_switched(&mut self, kind: TunnelKind, ev: &mut Vec<Event>) {
        match self.phase {
            Phase::UpgradePending | Phase::Idle | Phase::Resync | Phase::GaveUp => {
                let mut first = std::mem::take(&mut self.held);
                if self.phase == Phase::Idle {
                    // An unfinished line is the start of tunnel data.
                    first.extend_from_slice(&self.line);
                }
                self.line = Vec::new();
                self.line_cut = false;
                self.phase = Phase::Tunnel;
                self.tunnel_kind = Some(kind);
                self.announce_tunnel(first, ev);
            }
            Phase::Head | Phase::Body(_) | Phase::Trailers => {
                self.tunnel_after_message = Some(kind);
            }
            Phase::Tunnel => {}
        }
    }

    fn announce_tunnel(&mut self, first_bytes: Vec<u8>, ev: &mut Vec<Event>) {
        self.tunnel_announced = true;
        ev.push(Event::Tunnel {
            dir: self.dir,
            kind: self.tunnel_kind.unwrap_or(TunnelKind::Upgrade),
            first_bytes,
        });
    }
}

/// Emits the transaction of a finished response (not emitted if no request was waiting).
fn finish_response(msg: Message, sh: &mut Shared, ev: &mut Vec<Event>) {
    let Some(p) = sh.in_flight.take() else {
        return;
    };
    let mut tx = p.tx;
    tx.status = Some(msg.status);
    tx.response_content_type = msg.response_content_type;
    tx.response_body_len = msg.body_len;
    tx.gap |= msg.gap;
    tx.websocket = msg.status == 101
        && (p.upgrade.as_deref() == Some("websocket")
            || msg.upgrade.as_deref() == Some("websocket"));
    if let Some((seq, len)) = sh.request_progress {
        if seq == p.seq {
            tx.request_body_len = tx.request_body_len.max(len);
        }
    }
    sh.stats.transactions += 1;
    ev.push(Event::Transaction(Box::new(tx)));
}

/// Reads the fields that decide framing and the request summary (RFC 9110, RFC 9112 §6).
fn interpret(msg: &mut Message, name: &[u8], value: &[u8]) {
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    if is("content-length") {
        msg.content_length = match (parser::parse_content_length(value), msg.content_length) {
            (Ok(n), LengthField::Absent) => LengthField::Valid(n),
            (Ok(n), LengthField::Valid(m)) if n == m => LengthField::Valid(n),
            (Ok(_), LengthField::Valid(_)) => LengthField::Conflict,
            (Ok(_), other) => other,
            (Err(super::Error::Invalid(super::InvalidKind::ContentLengthConflict)), _) => {
                LengthField::Conflict
            }
            (Err(_), LengthField::Conflict) => LengthField::Conflict,
            (Err(_), _) => LengthField::Invalid,
        };
    } else if is("transfer-encoding") {
        msg.transfer_encoding = true;
        if !parser::parse_codings(value, &mut msg.transfer_codings, MAX_CODINGS) {
            // Too many codings: treat the final one as unknown so framing is not trusted.
            msg.transfer_codings.push(Coding::Other(String::new()));
        }
    } else if is("connection") {
        msg.connection_upgrade |= parser::list_contains(value, b"upgrade");
    } else if is("upgrade") {
        if msg.upgrade.is_none() {
            let first = value.split(|&b| b == b',').next().unwrap_or_default();
            msg.upgrade = Some(lossy(parser::trim_ows(first)).to_ascii_lowercase());
        }
    } else if is("content-type") {
        match msg.request.as_mut() {
            Some(req) if req.content_type.is_none() => req.content_type = Some(lossy(value)),
            Some(_) => {}
            None if msg.response_content_type.is_none() => {
                msg.response_content_type = Some(lossy(value));
            }
            None => {}
        }
    } else if let Some(req) = msg.request.as_mut() {
        if is("host") {
            if req.host.is_none() {
                req.host = Some(lossy(value));
            }
        } else if is("user-agent") {
            if req.user_agent.is_none() {
                req.user_agent = Some(lossy(value));
            }
        } else if is("content-encoding") {
            // One past the chain limit is kept so that BodySink sees the excess, keeps the
            // body raw and counts it.
            parser::parse_codings(value, &mut req.content_encoding, MAX_CODINGS + 1);
        } else if is("expect") {
            req.expect_continue |= parser::list_contains(value, b"100-continue");
        }
    }
}

fn strip_cr(line: &[u8]) -> (&[u8], bool) {
    match line.strip_suffix(b"\r") {
        Some(l) => (l, true),
        None => (line, false),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn len64(data: &[u8]) -> u64 {
    len64_n(data.len())
}

fn len64_n(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// How many of `available` bytes to take when `remaining` are expected.
fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
