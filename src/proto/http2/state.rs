//! Per-connection HTTP/2 state: a frame reader per direction, header block assembly and
//! HPACK decoding, and the bounded list of open streams that turns frames into
//! [`Request`]s and [`Transaction`]s. The mapping and the gap policy are in the module doc
//! of [`super`].
//!
//! Each direction reads the 9-byte frame header, then, by frame type: streams DATA payloads
//! to the stream (pad length first, padding skipped, never buffered whole); collects header
//! block frames (at most `max_header_block_bytes` per block) and control frames (at most
//! [`DEFAULT_MAX_CONTROL_FRAME_BYTES`], the rest skipped); skips unknown types. A frame that
//! lies whole inside the caller's chunk is parsed in place without copying. Every header
//! block is decoded, whoever it belongs to (pushed streams, untracked streams, frames on the
//! wrong stream), because each one may change the decoder's dynamic table.
//!
//! Stream ends: the request is emitted at the client's END_STREAM, the transaction at the
//! server's END_STREAM on a final response; a stream is forgotten once both are out.
//! RST_STREAM, GOAWAY (streams above its last id), the end or stop of a side, and the
//! stream cap emit what is pending early, marked as cut.

use crate::flow::Direction;
use crate::proto::http::body::{self, BodySink, Coding, MAX_CODINGS};
use crate::proto::http::{self, parser, BodyKind, Event, Header, Request, Transaction};

use super::frame::{
    self, Flags, FrameHeader, FrameType, SettingId, FRAME_HEADER_BYTES, INITIAL_MAX_FRAME_SIZE,
    MAX_FRAME_SIZE_LIMIT, PREFACE,
};
use super::hpack::{HeaderDecoder, HpackError, INITIAL_TABLE_BYTES};
use super::{AnomalyKind, Limits, Stats, DEFAULT_MAX_CONTROL_FRAME_BYTES};

/// HTTP/2 observer of one connection; see the module doc of [`super`].
#[derive(Debug)]
pub struct Http2Flow {
    conn: Conn,
    /// Frames the client sends ([`Direction::ToServer`]).
    client: Half,
    /// Frames the server sends ([`Direction::ToClient`]).
    server: Half,
}

impl Http2Flow {
    /// An observer for a new connection; the client side must start with the preface.
    pub fn new(limits: Limits) -> Self {
        Http2Flow {
            conn: Conn {
                limits,
                streams: Vec::new(),
                stats: Stats::default(),
                table_setting: [INITIAL_TABLE_BYTES; 2],
                max_frame: [INITIAL_MAX_FRAME_SIZE; 2],
                dead: [false; 2],
            },
            client: Half::new(Direction::ToServer),
            server: Half::new(Direction::ToClient),
        }
    }

    /// Feeds the next in-order bytes of `dir`, appending resulting events to `events`.
    pub fn on_data(&mut self, dir: Direction, data: &[u8], events: &mut Vec<Event>) {
        let half = match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        };
        let mut rest = data;
        while !rest.is_empty() {
            let used = half.feed(rest, &mut self.conn, events);
            if used == 0 {
                // Defensive: every phase consumes at least one byte of non-empty input.
                break;
            }
            rest = rest.get(used..).unwrap_or_default();
        }
    }

    /// Reports `len` bytes of `dir` that the reassembler never saw.
    pub fn on_gap(&mut self, dir: Direction, len: u64, events: &mut Vec<Event>) {
        if len == 0 {
            return;
        }
        match dir {
            Direction::ToServer => self.client.on_gap(len, &mut self.conn, events),
            Direction::ToClient => self.server.on_gap(len, &mut self.conn, events),
        }
    }

    /// Reports the end of `dir`'s stream (FIN or RST): open requests of a closed client side
    /// are emitted as truncated; open transactions of a closed server side are emitted as they
    /// stand.
    pub fn on_close(&mut self, dir: Direction, events: &mut Vec<Event>) {
        match dir {
            Direction::ToServer => self.client.on_close(&mut self.conn, events),
            Direction::ToClient => self.server.on_close(&mut self.conn, events),
        }
    }

    /// Counters of this connection.
    pub fn stats(&self) -> &Stats {
        &self.conn.stats
    }

    /// Whether `dir` stopped parsing (gap, HPACK error, bad preface, oversized header block)
    /// or ended.
    pub fn is_stopped(&self, dir: Direction) -> bool {
        self.conn.dead[dir.index()]
    }

    /// Streams currently tracked.
    pub fn open_streams(&self) -> usize {
        self.conn.streams.len()
    }
}

/// State both directions touch: streams, settings, counters.
#[derive(Debug)]
struct Conn {
    limits: Limits,
    /// Open streams in the order they were opened (oldest first).
    streams: Vec<Stream>,
    stats: Stats,
    /// Largest SETTINGS_HEADER_TABLE_SIZE seen from each side, by `Direction::index` of the
    /// side that sent it (initially 4096). The largest, not the latest, because a setting
    /// takes effect only when acknowledged and a passive observer cannot tell when.
    table_setting: [usize; 2],
    /// Largest frame payload the receiver of each direction accepts, by the index of the
    /// direction the frames travel in (set by the other side's SETTINGS_MAX_FRAME_SIZE).
    max_frame: [u32; 2],
    /// The side ended or stopped: no more frames will be parsed from it.
    dead: [bool; 2],
}

/// One client-initiated stream.
#[derive(Debug)]
struct Stream {
    id: u32,
    /// The request until it is emitted.
    request: Option<Box<Request>>,
    /// Body decoder, present while the request has a body in progress.
    sink: Option<BodySink>,
    /// Body bytes counted but not kept, when the request had a body but no decoder was
    /// allowed (`max_body_streams`).
    unkept: Option<u64>,
    /// Header fields and bytes counted so far (trailers continue the caps).
    header_count: usize,
    header_bytes: usize,
    /// The request is an extended CONNECT for WebSocket (RFC 8441 §4).
    websocket: bool,
    /// Summary emitted as the transaction.
    tx: Transaction,
    /// A final response head was seen.
    response_final: bool,
    /// The transaction was emitted.
    tx_emitted: bool,
}

impl Stream {
    fn done(&self) -> bool {
        self.request.is_none() && self.tx_emitted
    }
}

impl Conn {
    fn anomaly(&mut self, kind: AnomalyKind, ev: &mut Vec<Event>) {
        if let Some(c) = self.stats.anomalies.get_mut(kind as usize) {
            *c += 1;
        }
        ev.push(Event::Http2Anomaly(kind));
    }

    fn http_anomaly(&mut self, kind: http::AnomalyKind, ev: &mut Vec<Event>) {
        if let Some(c) = self.stats.http_anomalies.get_mut(kind as usize) {
            *c += 1;
        }
        ev.push(Event::Anomaly(kind));
    }

    fn find(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    /// The allowed dynamic table size for blocks travelling in `dir`: set by the receiver's
    /// SETTINGS_HEADER_TABLE_SIZE (RFC 7541 §4.2, RFC 9113 §6.5.2), capped.
    fn table_allowed(&self, dir: Direction) -> (usize, bool) {
        let setting = self
            .table_setting
            .get(dir.reverse().index())
            .copied()
            .unwrap_or(INITIAL_TABLE_BYTES);
        let cap = self.limits.max_hpack_table_bytes.max(INITIAL_TABLE_BYTES);
        (setting.min(cap), setting > cap)
    }

    fn max_frame(&self, dir: Direction) -> u32 {
        self.max_frame
            .get(dir.index())
            .copied()
            .unwrap_or(INITIAL_MAX_FRAME_SIZE)
    }

    /// A SETTINGS frame (not an ACK) sent in `dir`.
    fn settings(&mut self, dir: Direction, payload: &[u8], ev: &mut Vec<Event>) {
        for (id, value) in frame::settings(payload) {
            match id {
                SettingId::HEADER_TABLE_SIZE => {
                    let v = usize::try_from(value).unwrap_or(usize::MAX);
                    if let Some(slot) = self.table_setting.get_mut(dir.index()) {
                        *slot = (*slot).max(v);
                    }
                }
                SettingId::MAX_FRAME_SIZE => {
                    if (INITIAL_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&value) {
                        if let Some(slot) = self.max_frame.get_mut(dir.reverse().index()) {
                            *slot = (*slot).max(value);
                        }
                    } else {
                        self.anomaly(AnomalyKind::FrameInvalid, ev);
                    }
                }
                _ => {}
            }
        }
    }

    /// Emits the transaction of stream `idx` if not yet done.
    fn emit_tx(&mut self, idx: usize, ev: &mut Vec<Event>) {
        let Some(s) = self.streams.get_mut(idx) else {
            return;
        };
        if s.tx_emitted {
            return;
        }
        s.tx_emitted = true;
        let tx = std::mem::take(&mut s.tx);
        self.stats.transactions += 1;
        if tx.status.is_none() {
            self.stats.transactions_unanswered += 1;
        }
        ev.push(Event::Transaction(Box::new(tx)));
    }

    /// Emits the request of stream `idx` (if not yet done) with its body so far.
    fn finish_request(&mut self, idx: usize, truncated: bool, ev: &mut Vec<Event>) {
        let Some(s) = self.streams.get_mut(idx) else {
            return;
        };
        let Some(mut req) = s.request.take() else {
            return;
        };
        let mut anomaly = None;
        match s.sink.take() {
            None if s.unkept.is_some() => {
                req.body_wire_len = s.unkept.unwrap_or(0);
                req.body_truncated = true;
            }
            Some(sink) => {
                let (outcome, a) = sink.finish();
                anomaly = a;
                req.body = outcome.body;
                req.body_wire_len = outcome.wire_len;
                req.body_truncated = outcome.truncated || truncated;
            }
            None => req.body_truncated = truncated,
        }
        req.body_kind = body::classify(req.content_type.as_deref().map(str::as_bytes), &req.body);
        s.tx.request_body_len = req.body_wire_len;
        if let Some(kind) = anomaly {
            self.http_anomaly(kind, ev);
        }
        ev.push(Event::Request(req));
        if self.dead[Direction::ToClient.index()] {
            // No response can come any more.
            self.emit_tx(idx, ev);
        }
    }

    /// Forgets streams whose request and transaction are both out.
    fn reap(&mut self) {
        self.streams.retain(|s| !s.done());
    }

    /// Makes room for one more stream by emitting and dropping the oldest.
    fn make_room(&mut self, ev: &mut Vec<Event>) {
        let max = self.limits.max_streams.max(1);
        while self.streams.len() >= max {
            self.anomaly(AnomalyKind::StreamOverflow, ev);
            self.finish_request(0, true, ev);
            self.emit_tx(0, ev);
            if !self.streams.is_empty() {
                self.streams.remove(0);
            }
        }
    }

    /// A decoded request header block opening stream `id`.
    fn open_request(&mut self, id: u32, head: Head, end_stream: bool, ev: &mut Vec<Event>) {
        self.stats.requests += 1;
        self.make_room(ev);
        let Head {
            method,
            path,
            authority,
            protocol,
            headers,
            header_count,
            header_bytes,
            cap_hit,
            host,
            user_agent,
            content_type,
            codings,
            expect_continue,
            ..
        } = head;
        let connect = method.as_deref() == Some("CONNECT");
        if method.is_none() || (path.is_none() && !connect) {
            self.anomaly(AnomalyKind::PseudoHeaderMissing, ev);
        }
        if let Some(kind) = cap_hit {
            self.http_anomaly(kind, ev);
        }
        let websocket = connect
            && protocol
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
        // RFC 9113 §8.5: a CONNECT without :protocol names its target in :authority.
        let uri = match (path, connect && protocol.is_none()) {
            (_, true) => authority.clone().unwrap_or_default(),
            (Some(p), false) => p,
            (None, false) => String::new(),
        };
        let host = authority.or(host);
        let request = Request {
            method: method.unwrap_or_default(),
            uri,
            version: http::message::VERSION_HTTP2,
            headers,
            headers_truncated: cap_hit.is_some(),
            host,
            user_agent,
            content_type,
            content_encoding: codings,
            body: Vec::new(),
            body_wire_len: 0,
            body_truncated: false,
            body_kind: BodyKind::Empty,
            websocket_upgrade: websocket,
            expect_continue,
        };
        let bodies = self.streams.iter().filter(|s| s.sink.is_some()).count();
        let mut unkept = None;
        let sink = if end_stream {
            None
        } else if bodies >= self.limits.max_body_streams {
            self.anomaly(AnomalyKind::BodyStreamsCap, ev);
            unkept = Some(0);
            None
        } else {
            let (sink, anomaly) = BodySink::new(&request.content_encoding, &self.limits.http);
            if let Some(kind) = anomaly {
                self.http_anomaly(kind, ev);
            }
            Some(sink)
        };
        let tx = Transaction {
            method: request.method.clone(),
            host: request.host.clone(),
            uri: request.uri.clone(),
            user_agent: request.user_agent.clone(),
            content_type: request.content_type.clone(),
            http2: true,
            ..Transaction::default()
        };
        self.streams.push(Stream {
            id,
            request: Some(Box::new(request)),
            sink,
            unkept,
            header_count,
            header_bytes,
            websocket,
            tx,
            response_final: false,
            tx_emitted: false,
        });
        if end_stream {
            self.finish_request(self.streams.len() - 1, false, ev);
            self.reap();
        }
    }

    /// A decoded trailer block (a second HEADERS from the client) on stream `idx`.
    fn request_trailers(&mut self, idx: usize, head: Head, end_stream: bool, ev: &mut Vec<Event>) {
        if let Some(kind) = head.cap_hit {
            self.http_anomaly(kind, ev);
        }
        if let Some(s) = self.streams.get_mut(idx) {
            s.header_count = head.header_count;
            s.header_bytes = head.header_bytes;
            if let Some(req) = s.request.as_mut() {
                req.headers.extend(head.headers);
                req.headers_truncated |= head.cap_hit.is_some();
            }
        }
        if end_stream {
            self.finish_request(idx, false, ev);
            self.reap();
        } else {
            // RFC 9113 §8.1: trailers carry END_STREAM; without it the stream is malformed.
            self.anomaly(AnomalyKind::FrameInvalid, ev);
        }
    }

    /// A decoded response header block on stream `idx`.
    fn response_head(&mut self, idx: usize, head: Head, end_stream: bool, ev: &mut Vec<Event>) {
        let Some(s) = self.streams.get_mut(idx) else {
            return;
        };
        let mut missing = false;
        if !s.response_final {
            match head.status {
                // RFC 9110 §15.2: interim responses; 101 is not allowed in HTTP/2 (RFC 9113
                // §8.6) and is taken as final.
                Some(100..=199) if head.status != Some(101) => {
                    self.stats.interim_responses += 1;
                    return;
                }
                Some(status) => {
                    s.response_final = true;
                    s.tx.status = Some(status);
                    s.tx.response_content_type = head.response_content_type;
                    s.tx.websocket = s.websocket && (200..300).contains(&status);
                    self.stats.responses += 1;
                }
                None => missing = true,
            }
        }
        if missing {
            self.anomaly(AnomalyKind::PseudoHeaderMissing, ev);
        }
        if end_stream {
            self.emit_tx(idx, ev);
            self.reap();
        }
    }

    /// DATA payload bytes of stream `id` sent in `dir`.
    fn data(&mut self, dir: Direction, id: u32, bytes: &[u8], ev: &mut Vec<Event>) {
        let n = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let Some(idx) = self.find(id) else {
            self.stats.ignored_bytes = self.stats.ignored_bytes.saturating_add(n);
            return;
        };
        let mut anomaly = None;
        if let Some(s) = self.streams.get_mut(idx) {
            match dir {
                Direction::ToServer => match (&s.request, s.sink.as_mut(), s.unkept.as_mut()) {
                    (Some(_), Some(sink), _) => {
                        anomaly = sink.push(bytes);
                        s.tx.request_body_len = sink.wire_len();
                        self.stats.request_body_bytes =
                            self.stats.request_body_bytes.saturating_add(n);
                    }
                    (Some(_), None, Some(unkept)) => {
                        *unkept = unkept.saturating_add(n);
                        s.tx.request_body_len = *unkept;
                        self.stats.request_body_bytes =
                            self.stats.request_body_bytes.saturating_add(n);
                    }
                    _ => self.stats.ignored_bytes = self.stats.ignored_bytes.saturating_add(n),
                },
                Direction::ToClient => {
                    if s.tx_emitted {
                        self.stats.ignored_bytes = self.stats.ignored_bytes.saturating_add(n);
                    } else {
                        s.tx.response_body_len = s.tx.response_body_len.saturating_add(n);
                        self.stats.response_body_bytes =
                            self.stats.response_body_bytes.saturating_add(n);
                    }
                }
            }
        }
        if let Some(kind) = anomaly {
            self.http_anomaly(kind, ev);
        }
    }

    /// `n` DATA payload bytes of stream `id` sent in `dir` were lost to a capture gap.
    fn data_gap(&mut self, dir: Direction, id: u32, n: u64, ev: &mut Vec<Event>) {
        let Some(idx) = self.find(id) else {
            return;
        };
        if let Some(s) = self.streams.get_mut(idx) {
            s.tx.gap = true;
            match dir {
                Direction::ToServer => {
                    if let Some(sink) = s.sink.as_mut() {
                        sink.gap(n);
                        s.tx.request_body_len = sink.wire_len();
                    } else if let Some(unkept) = s.unkept.as_mut() {
                        *unkept = unkept.saturating_add(n);
                        s.tx.request_body_len = *unkept;
                    }
                }
                Direction::ToClient => {
                    s.tx.response_body_len = s.tx.response_body_len.saturating_add(n);
                }
            }
        }
        self.http_anomaly(http::AnomalyKind::BodyGap, ev);
    }

    /// END_STREAM on a DATA frame of stream `id` sent in `dir`.
    fn end_stream(&mut self, dir: Direction, id: u32, ev: &mut Vec<Event>) {
        let Some(idx) = self.find(id) else {
            return;
        };
        match dir {
            Direction::ToServer => self.finish_request(idx, false, ev),
            Direction::ToClient => self.emit_tx(idx, ev),
        }
        self.reap();
    }

    /// RST_STREAM from either side: the stream ends now, whatever it holds.
    fn reset(&mut self, id: u32, ev: &mut Vec<Event>) {
        let Some(idx) = self.find(id) else {
            return;
        };
        self.finish_request(idx, true, ev);
        self.emit_tx(idx, ev);
        self.reap();
    }

    /// GOAWAY from the server: streams above `last_id` were not and will not be processed
    /// (RFC 9113 §6.8), so their transactions are emitted without a response.
    fn server_goaway(&mut self, last_id: u32, ev: &mut Vec<Event>) {
        for idx in 0..self.streams.len() {
            if self.streams.get(idx).is_some_and(|s| s.id > last_id) {
                self.emit_tx(idx, ev);
            }
        }
        self.reap();
    }

    /// Side `dir` will parse nothing more; `damaged` when it stopped on a gap or an error
    /// rather than ending.
    fn side_dead(&mut self, dir: Direction, damaged: bool, ev: &mut Vec<Event>) {
        if let Some(d) = self.dead.get_mut(dir.index()) {
            *d = true;
        }
        for idx in 0..self.streams.len() {
            match dir {
                Direction::ToServer => {
                    let open = self.streams.get(idx).is_some_and(|s| s.request.is_some());
                    if open {
                        if !damaged {
                            self.http_anomaly(http::AnomalyKind::TruncatedMessage, ev);
                        }
                        if let Some(s) = self.streams.get_mut(idx) {
                            s.tx.gap |= damaged;
                        }
                        self.finish_request(idx, true, ev);
                    }
                }
                Direction::ToClient => {
                    let open = self.streams.get(idx).is_some_and(|s| !s.tx_emitted);
                    if open {
                        if let Some(s) = self.streams.get_mut(idx) {
                            s.tx.gap |= damaged;
                        }
                        self.emit_tx(idx, ev);
                    }
                }
            }
        }
        self.reap();
    }
}

/// What a decoded header block is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeadMode {
    /// Decoded only to keep the HPACK table in step.
    Discard,
    /// A request opening a stream.
    Request,
    /// A response head (or response trailers) on a tracked stream.
    Response,
    /// Request trailers on a tracked stream.
    Trailers,
}

/// Fields gathered from one decoded header block.
#[derive(Debug)]
struct Head {
    mode: HeadMode,
    max_headers: usize,
    max_header_bytes: usize,
    method: Option<String>,
    path: Option<String>,
    authority: Option<String>,
    protocol: Option<String>,
    headers: Vec<Header>,
    header_count: usize,
    header_bytes: usize,
    cap_hit: Option<http::AnomalyKind>,
    /// Index in `headers` of the joined `cookie` field.
    cookie_at: Option<usize>,
    host: Option<String>,
    user_agent: Option<String>,
    content_type: Option<String>,
    codings: Vec<Coding>,
    expect_continue: bool,
    status: Option<u16>,
    response_content_type: Option<String>,
}

impl Head {
    fn new(mode: HeadMode, limits: &http::Limits) -> Self {
        Head {
            mode,
            max_headers: limits.max_headers,
            max_header_bytes: limits.max_header_bytes,
            method: None,
            path: None,
            authority: None,
            protocol: None,
            headers: Vec::new(),
            header_count: 0,
            header_bytes: 0,
            cap_hit: None,
            cookie_at: None,
            host: None,
            user_agent: None,
            content_type: None,
            codings: Vec::new(),
            expect_continue: false,
            status: None,
            response_content_type: None,
        }
    }

    fn field(&mut self, name: &[u8], value: &[u8]) {
        match self.mode {
            HeadMode::Discard => {}
            HeadMode::Response => self.response_field(name, value),
            HeadMode::Request | HeadMode::Trailers => self.request_field(name, value),
        }
    }

    fn response_field(&mut self, name: &[u8], value: &[u8]) {
        if name == b":status" {
            if self.status.is_none() {
                self.status = parse_status(value);
            }
        } else if name.eq_ignore_ascii_case(b"content-type") && self.response_content_type.is_none()
        {
            self.response_content_type = Some(lossy(value));
        }
    }

    fn request_field(&mut self, name: &[u8], value: &[u8]) {
        if name.first() == Some(&b':') {
            // Pseudo-header fields (RFC 9113 §8.3.1); not allowed in trailers.
            if self.mode == HeadMode::Request {
                let slot = match name {
                    b":method" => &mut self.method,
                    b":path" => &mut self.path,
                    b":authority" => &mut self.authority,
                    b":protocol" => &mut self.protocol,
                    _ => return,
                };
                if slot.is_none() {
                    *slot = Some(lossy(value));
                }
            }
            return;
        }
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if self.mode == HeadMode::Request {
            if is("host") {
                if self.host.is_none() {
                    self.host = Some(lossy(value));
                }
            } else if is("user-agent") {
                if self.user_agent.is_none() {
                    self.user_agent = Some(lossy(value));
                }
            } else if is("content-type") {
                if self.content_type.is_none() {
                    self.content_type = Some(lossy(value));
                }
            } else if is("content-encoding") {
                // One past the chain limit is kept so that BodySink sees the excess.
                parser::parse_codings(value, &mut self.codings, MAX_CODINGS + 1);
            } else if is("expect") {
                self.expect_continue |= parser::list_contains(value, b"100-continue");
            }
        }
        // RFC 9113 §8.2.3: cookie crumbs are joined with "; " into one field.
        if is("cookie") {
            if let Some(at) = self.cookie_at {
                self.header_bytes = self.header_bytes.saturating_add(value.len() + 2);
                if self.header_bytes > self.max_header_bytes {
                    return self.cap(http::AnomalyKind::HeaderBytesCap);
                }
                if let Some(h) = self.headers.get_mut(at) {
                    h.value.extend_from_slice(b"; ");
                    h.value.extend_from_slice(value);
                }
                return;
            }
        }
        // Counted as the HTTP/1 line "name: value\r\n" would be.
        self.header_count += 1;
        self.header_bytes = self
            .header_bytes
            .saturating_add(name.len() + value.len() + 4);
        if self.header_count > self.max_headers {
            return self.cap(http::AnomalyKind::HeaderCountCap);
        }
        if self.header_bytes > self.max_header_bytes {
            return self.cap(http::AnomalyKind::HeaderBytesCap);
        }
        if is("cookie") {
            self.cookie_at = Some(self.headers.len());
        }
        self.headers.push(Header {
            name: lossy(name),
            value: value.to_vec(),
        });
    }

    fn cap(&mut self, kind: http::AnomalyKind) {
        if self.cap_hit.is_none() {
            self.cap_hit = Some(kind);
        }
    }
}

/// What the frame reader of one direction is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Matching the client preface; `matched` bytes so far.
    Preface { matched: usize },
    /// Reading a frame header.
    Head,
    /// Collecting `want` payload bytes of `header`'s frame, then skipping `skip_after`.
    Collect {
        header: FrameHeader,
        want: usize,
        skip_after: u32,
    },
    /// Streaming a DATA payload.
    Data(DataFrame),
    /// Skipping `remaining` payload bytes.
    Skip { remaining: u32 },
    /// Nothing more is parsed (ended, gap, or error).
    Stopped,
}

/// Progress through one DATA frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DataFrame {
    stream_id: u32,
    end_stream: bool,
    /// Bytes of the frame payload left, padding included.
    left: u32,
    /// Padding length; `None` until the pad-length byte of a PADDED frame is read.
    pad: Option<u32>,
    /// Data bytes are handed to the stream (false after a gap took the pad-length byte).
    deliver: bool,
}

/// An open header block waiting for CONTINUATION frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OpenBlock {
    stream_id: u32,
    kind: BlockKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    Headers { end_stream: bool },
    PushPromise,
}

/// The frame reader and HPACK decoder of one direction.
#[derive(Debug)]
struct Half {
    dir: Direction,
    phase: Phase,
    head: [u8; FRAME_HEADER_BYTES],
    head_len: usize,
    /// Payload of the frame being collected.
    buf: Vec<u8>,
    /// Header block assembled across CONTINUATION frames.
    block: Vec<u8>,
    open_block: Option<OpenBlock>,
    decoder: HeaderDecoder,
    /// A frame header has been read (the first must be SETTINGS).
    seen_frame: bool,
}

impl Half {
    fn new(dir: Direction) -> Self {
        Half {
            dir,
            phase: match dir {
                Direction::ToServer => Phase::Preface { matched: 0 },
                Direction::ToClient => Phase::Head,
            },
            head: [0; FRAME_HEADER_BYTES],
            head_len: 0,
            buf: Vec::new(),
            block: Vec::new(),
            open_block: None,
            decoder: HeaderDecoder::new(),
            seen_frame: false,
        }
    }

    /// Consumes a prefix of `data` (at least one byte of non-empty input); returns its length.
    fn feed(&mut self, data: &[u8], conn: &mut Conn, ev: &mut Vec<Event>) -> usize {
        match self.phase {
            Phase::Stopped => {
                conn.stats.ignored_bytes = conn.stats.ignored_bytes.saturating_add(len64(data));
                data.len()
            }
            Phase::Preface { matched } => {
                let take = (PREFACE.len() - matched).min(data.len());
                let got = data.get(..take).unwrap_or_default();
                if PREFACE.get(matched..matched + take) != Some(got) {
                    conn.anomaly(AnomalyKind::PrefaceInvalid, ev);
                    self.stop(conn, ev);
                    return take;
                }
                self.phase = if matched + take == PREFACE.len() {
                    Phase::Head
                } else {
                    Phase::Preface {
                        matched: matched + take,
                    }
                };
                take
            }
            Phase::Head => {
                if self.head_len == 0 {
                    if let Ok((header, rest)) = frame::parse_frame_header(data) {
                        // Fast path: a frame wholly inside `data` is parsed in place.
                        let len = usize::try_from(header.length).unwrap_or(usize::MAX);
                        if let Some(payload) = rest.get(..len) {
                            if header.kind != FrameType::DATA {
                                if let Some(want) = self.start_frame(header, conn, ev) {
                                    if want == len {
                                        self.phase = Phase::Head;
                                        self.finish_frame(header, payload, conn, ev);
                                        return FRAME_HEADER_BYTES + len;
                                    }
                                }
                                return FRAME_HEADER_BYTES;
                            }
                        }
                    }
                }
                let take = (FRAME_HEADER_BYTES - self.head_len).min(data.len());
                if let (Some(dst), Some(src)) = (
                    self.head.get_mut(self.head_len..self.head_len + take),
                    data.get(..take),
                ) {
                    dst.copy_from_slice(src);
                }
                self.head_len += take;
                if self.head_len == FRAME_HEADER_BYTES {
                    self.head_len = 0;
                    let head = self.head;
                    if let Ok((header, _)) = frame::parse_frame_header(&head) {
                        if let Some(0) = self.start_frame(header, conn, ev) {
                            self.phase = Phase::Head;
                            self.finish_frame(header, &[], conn, ev);
                        }
                    }
                }
                take
            }
            Phase::Collect {
                header,
                want,
                skip_after,
            } => {
                let take = want.saturating_sub(self.buf.len()).min(data.len());
                self.buf
                    .extend_from_slice(data.get(..take).unwrap_or_default());
                if self.buf.len() >= want {
                    self.phase = if skip_after > 0 {
                        Phase::Skip {
                            remaining: skip_after,
                        }
                    } else {
                        Phase::Head
                    };
                    let mut payload = std::mem::take(&mut self.buf);
                    self.finish_frame(header, &payload, conn, ev);
                    // Keep the allocation for the next frame unless it is unusually large.
                    if payload.capacity() <= DEFAULT_MAX_CONTROL_FRAME_BYTES
                        && self.phase != Phase::Stopped
                    {
                        payload.clear();
                        self.buf = payload;
                    }
                }
                take
            }
            Phase::Data(d) => self.feed_data(d, data, conn, ev),
            Phase::Skip { remaining } => {
                let take = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let left = remaining.saturating_sub(u32::try_from(take).unwrap_or(u32::MAX));
                self.phase = if left == 0 {
                    Phase::Head
                } else {
                    Phase::Skip { remaining: left }
                };
                take
            }
        }
    }

    fn feed_data(
        &mut self,
        mut d: DataFrame,
        data: &[u8],
        conn: &mut Conn,
        ev: &mut Vec<Event>,
    ) -> usize {
        let mut used = 0;
        if d.pad.is_none() {
            let Some(&pad) = data.first() else {
                return 0;
            };
            used = 1;
            d.left = d.left.saturating_sub(1);
            if u32::from(pad) > d.left {
                conn.anomaly(AnomalyKind::PaddingInvalid, ev);
                d.deliver = false;
                d.pad = Some(0);
            } else {
                d.pad = Some(u32::from(pad));
            }
        }
        let pad = d.pad.unwrap_or(0);
        let rest = data.get(used..).unwrap_or_default();
        let data_left = d.left.saturating_sub(pad);
        let take = usize::try_from(data_left)
            .unwrap_or(usize::MAX)
            .min(rest.len());
        if take > 0 {
            let bytes = rest.get(..take).unwrap_or_default();
            if d.deliver {
                conn.data(self.dir, d.stream_id, bytes, ev);
            } else {
                conn.stats.ignored_bytes = conn.stats.ignored_bytes.saturating_add(len64(bytes));
            }
        }
        d.left -= u32::try_from(take).unwrap_or(0).min(d.left);
        used += take;
        let rest = rest.get(take..).unwrap_or_default();
        if d.left <= pad {
            // Only padding is left.
            let skip = usize::try_from(d.left)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            conn.stats.padding_bytes = conn.stats.padding_bytes.saturating_add(len64_n(skip));
            d.left -= u32::try_from(skip).unwrap_or(0).min(d.left);
            d.pad = Some(d.left);
            used += skip;
        }
        if d.left == 0 {
            self.phase = Phase::Head;
            if d.end_stream {
                conn.end_stream(self.dir, d.stream_id, ev);
            }
        } else {
            self.phase = Phase::Data(d);
        }
        used
    }

    /// Checks a frame header and sets the phase for its payload. Returns the number of
    /// payload bytes to collect when the frame is to be parsed whole (`finish_frame`), or
    /// `None` when the phase handles the payload (DATA, skipped or stopped).
    fn start_frame(
        &mut self,
        header: FrameHeader,
        conn: &mut Conn,
        ev: &mut Vec<Event>,
    ) -> Option<usize> {
        conn.stats.frames += 1;
        if !self.seen_frame {
            self.seen_frame = true;
            if header.kind != FrameType::SETTINGS || header.flags.has(Flags::ACK) {
                conn.anomaly(AnomalyKind::SettingsMissing, ev);
            }
        }
        if header.length > conn.max_frame(self.dir) {
            conn.anomaly(AnomalyKind::FrameTooLarge, ev);
        }
        let len = header.length;
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        let continuation = header.kind == FrameType::CONTINUATION;
        match self.open_block {
            Some(open) if !continuation || header.stream_id != open.stream_id => {
                conn.anomaly(AnomalyKind::ContinuationInvalid, ev);
                self.stop(conn, ev);
                return None;
            }
            None if continuation => {
                conn.anomaly(AnomalyKind::ContinuationInvalid, ev);
                self.stop(conn, ev);
                return None;
            }
            _ => {}
        }
        match header.kind {
            FrameType::DATA => {
                if header.stream_id == 0 {
                    conn.anomaly(AnomalyKind::FrameInvalid, ev);
                    self.skip(len);
                    return None;
                }
                let padded = header.flags.has(Flags::PADDED);
                if padded && len == 0 {
                    conn.anomaly(AnomalyKind::PaddingInvalid, ev);
                }
                let d = DataFrame {
                    stream_id: header.stream_id,
                    end_stream: header.flags.has(Flags::END_STREAM),
                    left: len,
                    pad: if padded && len > 0 { None } else { Some(0) },
                    deliver: true,
                };
                if len == 0 {
                    self.phase = Phase::Head;
                    if d.end_stream {
                        conn.end_stream(self.dir, d.stream_id, ev);
                    }
                } else {
                    self.phase = Phase::Data(d);
                }
                None
            }
            FrameType::HEADERS | FrameType::PUSH_PROMISE | FrameType::CONTINUATION => {
                if self.block.len().saturating_add(len_usize) > conn.limits.max_header_block_bytes {
                    conn.anomaly(AnomalyKind::HeaderBlockCap, ev);
                    self.stop(conn, ev);
                    return None;
                }
                self.collect(header, len_usize, 0)
            }
            FrameType::SETTINGS
            | FrameType::PING
            | FrameType::GOAWAY
            | FrameType::RST_STREAM
            | FrameType::PRIORITY
            | FrameType::WINDOW_UPDATE => {
                let want = len_usize.min(DEFAULT_MAX_CONTROL_FRAME_BYTES);
                let skip_after = len.saturating_sub(u32::try_from(want).unwrap_or(u32::MAX));
                self.collect(header, want, skip_after)
            }
            _ => {
                conn.stats.frames_unknown += 1;
                self.skip(len);
                None
            }
        }
    }

    fn collect(&mut self, header: FrameHeader, want: usize, skip_after: u32) -> Option<usize> {
        self.buf.clear();
        self.phase = Phase::Collect {
            header,
            want,
            skip_after,
        };
        Some(want)
    }

    fn skip(&mut self, len: u32) {
        self.phase = if len == 0 {
            Phase::Head
        } else {
            Phase::Skip { remaining: len }
        };
    }

    /// Parses a whole (possibly cut to the control cap) frame payload.
    fn finish_frame(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
        conn: &mut Conn,
        ev: &mut Vec<Event>,
    ) {
        let id = header.stream_id;
        let flags = header.flags;
        match header.kind {
            FrameType::HEADERS => {
                let Ok((priority, fragment)) = frame::headers_fragment(flags, payload) else {
                    conn.anomaly(AnomalyKind::PaddingInvalid, ev);
                    return self.stop(conn, ev);
                };
                let overhead = usize::from(flags.has(Flags::PADDED))
                    + priority.map_or(0, |_| frame::PRIORITY_BYTES);
                let padding = payload.len().saturating_sub(fragment.len() + overhead);
                conn.stats.padding_bytes =
                    conn.stats.padding_bytes.saturating_add(len64_n(padding));
                let kind = BlockKind::Headers {
                    end_stream: flags.has(Flags::END_STREAM),
                };
                self.fragment(id, kind, flags, fragment, conn, ev);
            }
            FrameType::PUSH_PROMISE => {
                let Ok((_promised, fragment)) = frame::push_promise_fragment(flags, payload) else {
                    conn.anomaly(AnomalyKind::PaddingInvalid, ev);
                    return self.stop(conn, ev);
                };
                conn.stats.push_promises += 1;
                if self.dir == Direction::ToServer || id == 0 {
                    // Only servers push (RFC 9113 §8.4); decoded anyway to keep HPACK in step.
                    conn.anomaly(AnomalyKind::FrameInvalid, ev);
                }
                self.fragment(id, BlockKind::PushPromise, flags, fragment, conn, ev);
            }
            FrameType::CONTINUATION => {
                if let Some(open) = self.open_block {
                    self.fragment(id, open.kind, flags, payload, conn, ev);
                }
            }
            FrameType::SETTINGS => {
                let valid = id == 0
                    && if flags.has(Flags::ACK) {
                        header.length == 0
                    } else {
                        header.length % 6 == 0
                    };
                if !valid {
                    conn.anomaly(AnomalyKind::FrameInvalid, ev);
                } else if !flags.has(Flags::ACK) {
                    conn.settings(self.dir, payload, ev);
                }
            }
            // RFC 9113 §6.7: 8 opaque bytes on stream 0.
            FrameType::PING if id != 0 || header.length != 8 => {
                conn.anomaly(AnomalyKind::FrameInvalid, ev);
            }
            FrameType::GOAWAY => match frame::parse_goaway(payload) {
                Ok(goaway) if id == 0 => {
                    conn.stats.goaways += 1;
                    if self.dir == Direction::ToClient {
                        conn.server_goaway(goaway.last_stream_id, ev);
                    }
                }
                _ => conn.anomaly(AnomalyKind::FrameInvalid, ev),
            },
            FrameType::RST_STREAM => match frame::parse_rst_stream(payload) {
                Ok(_code) if id != 0 => {
                    conn.stats.streams_reset += 1;
                    conn.reset(id, ev);
                }
                _ => conn.anomaly(AnomalyKind::FrameInvalid, ev),
            },
            // RFC 9113 §6.3: 5 bytes on a stream.
            FrameType::PRIORITY if id == 0 || payload.len() != frame::PRIORITY_BYTES => {
                conn.anomaly(AnomalyKind::FrameInvalid, ev);
            }
            FrameType::WINDOW_UPDATE if frame::parse_window_update(payload).is_err() => {
                conn.anomaly(AnomalyKind::FrameInvalid, ev);
            }
            _ => {}
        }
    }

    /// One header block fragment of stream `id`; decodes the block when it is complete.
    fn fragment(
        &mut self,
        id: u32,
        kind: BlockKind,
        flags: Flags,
        fragment: &[u8],
        conn: &mut Conn,
        ev: &mut Vec<Event>,
    ) {
        let end_headers = flags.has(Flags::END_HEADERS);
        if self.open_block.is_none() && end_headers {
            // The common case: a block in one frame, decoded in place.
            return self.decode_block(id, kind, fragment, conn, ev);
        }
        if self.open_block.is_none() {
            self.block.clear();
            self.open_block = Some(OpenBlock {
                stream_id: id,
                kind,
            });
        }
        self.block.extend_from_slice(fragment);
        if end_headers {
            self.open_block = None;
            let mut block = std::mem::take(&mut self.block);
            self.decode_block(id, kind, &block, conn, ev);
            if block.capacity() <= DEFAULT_MAX_CONTROL_FRAME_BYTES && self.phase != Phase::Stopped {
                block.clear();
                self.block = block;
            }
        }
    }

    /// Decodes a complete header block and hands the result to the stream it belongs to.
    fn decode_block(
        &mut self,
        id: u32,
        kind: BlockKind,
        block: &[u8],
        conn: &mut Conn,
        ev: &mut Vec<Event>,
    ) {
        let idx = conn.find(id);
        // (request open, transaction emitted, header count, header bytes) of a tracked stream.
        let tracked = idx.and_then(|i| conn.streams.get(i)).map(|s| {
            (
                s.request.is_some(),
                s.tx_emitted,
                s.header_count,
                s.header_bytes,
            )
        });
        let (mode, end_stream) = match (self.dir, kind) {
            (_, BlockKind::PushPromise) => (HeadMode::Discard, false),
            (Direction::ToServer, BlockKind::Headers { end_stream }) => {
                let mode = match tracked {
                    Some((true, ..)) => HeadMode::Trailers,
                    Some(_) => HeadMode::Discard,
                    None if id % 2 == 1 => HeadMode::Request,
                    None => HeadMode::Discard,
                };
                if mode == HeadMode::Discard {
                    // A client HEADERS on stream 0, an even stream, or a stream it ended.
                    conn.anomaly(AnomalyKind::FrameInvalid, ev);
                }
                (mode, end_stream)
            }
            (Direction::ToClient, BlockKind::Headers { end_stream }) => {
                let mode = match tracked {
                    Some((_, false, ..)) => HeadMode::Response,
                    Some(_) => HeadMode::Discard,
                    None => {
                        if id % 2 == 1 {
                            conn.anomaly(AnomalyKind::ResponseWithoutRequest, ev);
                        }
                        // Even ids are pushed responses, not tracked.
                        HeadMode::Discard
                    }
                };
                (mode, end_stream)
            }
        };
        let (allowed, over_cap) = conn.table_allowed(self.dir);
        self.decoder.set_allowed_table_bytes(allowed);
        conn.stats.header_blocks += 1;
        let mut head = Head::new(mode, &conn.limits.http);
        if let (HeadMode::Trailers, Some((_, _, count, bytes))) = (mode, tracked) {
            head.header_count = count;
            head.header_bytes = bytes;
        }
        if let Err(err) = self.decoder.decode(block, |n, v| head.field(n, v)) {
            let kind = if err == HpackError::TableSize && over_cap {
                AnomalyKind::HpackTableCap
            } else {
                AnomalyKind::HpackError
            };
            conn.anomaly(kind, ev);
            return self.stop(conn, ev);
        }
        match (mode, idx) {
            (HeadMode::Request, _) => conn.open_request(id, head, end_stream, ev),
            (HeadMode::Trailers, Some(i)) => conn.request_trailers(i, head, end_stream, ev),
            (HeadMode::Response, Some(i)) => conn.response_head(i, head, end_stream, ev),
            _ => {}
        }
    }

    fn on_gap(&mut self, len: u64, conn: &mut Conn, ev: &mut Vec<Event>) {
        conn.stats.gap_bytes = conn.stats.gap_bytes.saturating_add(len);
        match self.phase {
            Phase::Stopped => {}
            Phase::Skip { remaining } if len <= u64::from(remaining) => {
                let left = remaining - u32::try_from(len).unwrap_or(remaining);
                self.skip(left);
            }
            Phase::Data(mut d) if len <= u64::from(d.left) => {
                let gap = u32::try_from(len).unwrap_or(d.left);
                let lost = match d.pad {
                    Some(pad) if d.deliver => gap.min(d.left.saturating_sub(pad)),
                    Some(_) => 0,
                    None => {
                        // The pad-length byte is lost: the rest of the frame cannot be split
                        // into data and padding, so none of it is delivered and all of it is
                        // counted as lost body.
                        let rest = if d.deliver {
                            d.left.saturating_sub(1)
                        } else {
                            0
                        };
                        d.deliver = false;
                        d.pad = Some(0);
                        rest
                    }
                };
                if lost > 0 {
                    conn.data_gap(self.dir, d.stream_id, u64::from(lost), ev);
                }
                d.left -= gap;
                if d.left == 0 {
                    self.phase = Phase::Head;
                    if d.end_stream {
                        conn.end_stream(self.dir, d.stream_id, ev);
                    }
                } else {
                    self.phase = Phase::Data(d);
                }
            }
            _ => {
                conn.anomaly(AnomalyKind::Gap, ev);
                self.stop(conn, ev);
            }
        }
    }

    fn on_close(&mut self, conn: &mut Conn, ev: &mut Vec<Event>) {
        let mid_frame = match self.phase {
            Phase::Stopped => {
                conn.side_dead(self.dir, false, ev);
                return;
            }
            Phase::Preface { matched } => matched > 0,
            Phase::Head => self.head_len > 0 || self.open_block.is_some(),
            Phase::Collect { .. } | Phase::Data(_) | Phase::Skip { .. } => true,
        };
        if mid_frame {
            conn.anomaly(AnomalyKind::TruncatedFrame, ev);
        }
        self.release();
        conn.side_dead(self.dir, false, ev);
    }

    /// Stops this direction after a gap or an error.
    fn stop(&mut self, conn: &mut Conn, ev: &mut Vec<Event>) {
        self.release();
        conn.side_dead(self.dir, true, ev);
    }

    fn release(&mut self) {
        self.phase = Phase::Stopped;
        self.open_block = None;
        self.buf = Vec::new();
        self.block = Vec::new();
        self.head_len = 0;
    }
}

/// `:status` value: three digits (RFC 9113 §8.3.2, RFC 9110 §15).
fn parse_status(value: &[u8]) -> Option<u16> {
    match value {
        [a, b, c] if value.iter().all(u8::is_ascii_digit) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
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
