//! What runs inside a TLS connection once it is decrypted.
//!
//! Owns: [`TlsApp`], a TCP flow's TLS observer ([`tls::TlsFlow`]) plus the
//! application protocol of its plaintext, chosen by probing the client's
//! first plaintext bytes: the HTTP/2 connection preface (RFC 9113 §3.4)
//! selects HTTP/2, an HTTP/1.x request line the HTTP/1 parser, anything else
//! is counted as other plaintext.
//!
//! Takes: reassembled TCP chunks of the flow, the worker's key log and
//! limits (`proto::Limits`), and the packet time ([`TlsApp::set_time`]).
//!
//! Emits: the TLS events ([`AppEvent::Tls`]) and, for decrypted HTTP/1.x,
//! the same [`AppEvent::Http`] events a plaintext HTTP flow gives, so the
//! pipeline builds the same records. HTTP/2 plaintext goes to the
//! [`PlaintextApp`] made by `Limits::http2` when one is plugged in; without
//! it the bytes are counted as pending (`ProtoStats::tls_h2_*`).
//!
//! Limits: plaintext held before the inner protocol is decided
//! ([`DEFAULT_MAX_UNDECIDED_BYTES`]); the decryption limits of
//! `tls::DecryptLimits`.
//!
//! Must not: see the flow table, sessions or the clock.

use std::fmt;

use crate::flow::Direction;

use super::{drain_http, drain_http2, http, http2, tls, AppEvent, Limits, ProtoStats};

/// Plaintext bytes a direction may hold before the inner protocol is
/// decided. The decision needs the client's first 24 bytes; servers that
/// speak first (HTTP/2 SETTINGS, 0.5-RTT data) send a few hundred bytes.
pub const DEFAULT_MAX_UNDECIDED_BYTES: usize = 16 * 1024;

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An application protocol fed with decrypted plaintext. The HTTP/2 layer
/// implements this and is plugged in through `Limits::http2`.
pub trait PlaintextApp: fmt::Debug + Send {
    /// The next plaintext bytes of `dir`, in stream order.
    fn on_data(
        &mut self,
        dir: Direction,
        data: &[u8],
        stats: &mut ProtoStats,
        events: &mut Vec<AppEvent>,
    );
    /// Plaintext of `dir` was lost (a gap in the ciphertext stream).
    fn on_gap(&mut self, dir: Direction, stats: &mut ProtoStats, events: &mut Vec<AppEvent>);
    /// `dir` ended; flush what is held.
    fn on_close(&mut self, dir: Direction, stats: &mut ProtoStats, events: &mut Vec<AppEvent>);
}

/// The HTTP/2 layer as a [`PlaintextApp`] (ALPN `h2` after decryption).
#[derive(Debug)]
struct Http2 {
    flow: http2::Http2Flow,
    scratch: Vec<http::Event>,
}

impl PlaintextApp for Http2 {
    fn on_data(
        &mut self,
        dir: Direction,
        data: &[u8],
        stats: &mut ProtoStats,
        events: &mut Vec<AppEvent>,
    ) {
        self.flow.on_data(dir, data, &mut self.scratch);
        drain_http2(&mut self.scratch, stats, events);
    }

    fn on_gap(&mut self, dir: Direction, stats: &mut ProtoStats, events: &mut Vec<AppEvent>) {
        self.flow.on_gap(dir, 0, &mut self.scratch);
        drain_http2(&mut self.scratch, stats, events);
    }

    fn on_close(&mut self, dir: Direction, stats: &mut ProtoStats, events: &mut Vec<AppEvent>) {
        self.flow.on_close(dir, &mut self.scratch);
        drain_http2(&mut self.scratch, stats, events);
    }
}

/// The HTTP/1 parser as a [`PlaintextApp`].
#[derive(Debug)]
struct Http1 {
    flow: http::HttpFlow,
    scratch: Vec<http::Event>,
}

impl PlaintextApp for Http1 {
    fn on_data(
        &mut self,
        dir: Direction,
        data: &[u8],
        stats: &mut ProtoStats,
        events: &mut Vec<AppEvent>,
    ) {
        self.flow.on_data(dir, data, &mut self.scratch);
        drain_http(&mut self.scratch, stats, events);
    }

    fn on_gap(&mut self, dir: Direction, stats: &mut ProtoStats, events: &mut Vec<AppEvent>) {
        // The plaintext length of what was lost is unknown; the direction ends.
        self.flow.on_close(dir, &mut self.scratch);
        drain_http(&mut self.scratch, stats, events);
    }

    fn on_close(&mut self, dir: Direction, stats: &mut ProtoStats, events: &mut Vec<AppEvent>) {
        self.flow.on_close(dir, &mut self.scratch);
        drain_http(&mut self.scratch, stats, events);
    }
}

/// The plaintext protocol of a decrypted flow.
#[derive(Debug, Default)]
enum Inner {
    /// A [`PlaintextApp`]: HTTP/1 or the plugged-in HTTP/2.
    App(Box<dyn PlaintextApp>),
    /// Not HTTP: bytes are counted.
    Other,
    /// Waiting for the client's first bytes.
    #[default]
    Undecided,
}

/// A TLS flow with its decrypted inner protocol.
#[derive(Debug, Default)]
pub struct TlsApp {
    flow: tls::TlsFlow,
    inner: Inner,
    /// Plaintext per direction waiting for the decision.
    undecided: [Vec<u8>; 2],
    now_micros: i64,
}

/// Outcome of a TLS flow, for the pipeline's opaque accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsOutcome {
    /// Whether any application data was decrypted.
    pub decrypted: bool,
    /// Application-data record bytes seen, both directions (ciphertext).
    pub app_bytes: u64,
    /// Why not decrypted, once known.
    pub opaque_reason: Option<tls::OpaqueReason>,
}

impl TlsApp {
    /// The TLS observer.
    pub fn flow(&self) -> &tls::TlsFlow {
        &self.flow
    }

    /// Sets the packet time of the bytes fed next (microseconds).
    pub fn set_time(&mut self, now_micros: i64) {
        self.now_micros = now_micros;
    }

    /// Whether and how much of this flow was seen in the clear.
    pub fn outcome(&self) -> TlsOutcome {
        TlsOutcome {
            decrypted: self.flow.is_decrypted(),
            app_bytes: self.flow.opaque_bytes(Direction::ToServer)
                + self.flow.opaque_bytes(Direction::ToClient),
            opaque_reason: self.flow.opaque_reason(),
        }
    }

    /// Feeds reassembled stream bytes of `dir`.
    pub fn on_data(
        &mut self,
        dir: Direction,
        data: &[u8],
        limits: &Limits,
        stats: &mut ProtoStats,
        events: &mut Vec<AppEvent>,
    ) {
        let mut held = stats.tls_held_bytes;
        let mut ctx = tls::DecryptCtx {
            keylog: limits.keylog.as_deref(),
            limits: &limits.tls,
            now_micros: self.now_micros,
            held_bytes: &mut held,
        };
        let mut sink = Sink {
            inner: &mut self.inner,
            undecided: &mut self.undecided,
            limits,
            stats,
            events,
        };
        self.flow.on_data_decrypting(dir, data, &mut ctx, &mut sink);
        sink.stats.tls_held_bytes = held;
    }

    /// A gap in `dir`.
    pub fn on_gap(&mut self, dir: Direction, stats: &mut ProtoStats, events: &mut Vec<AppEvent>) {
        self.flow.on_gap(dir);
        if let Inner::App(app) = &mut self.inner {
            app.on_gap(dir, stats, events);
        }
    }

    /// The flow ended: last key lookup, outcome, inner protocol flushed,
    /// counters added to `stats`.
    pub fn on_end(&mut self, limits: &Limits, stats: &mut ProtoStats, events: &mut Vec<AppEvent>) {
        let mut held = stats.tls_held_bytes;
        let mut ctx = tls::DecryptCtx {
            keylog: limits.keylog.as_deref(),
            limits: &limits.tls,
            now_micros: self.now_micros,
            held_bytes: &mut held,
        };
        {
            let mut sink = Sink {
                inner: &mut self.inner,
                undecided: &mut self.undecided,
                limits,
                stats: &mut *stats,
                events: &mut *events,
            };
            self.flow.on_end(&mut ctx, &mut sink);
            // Plaintext still undecided: a short request is still HTTP.
            if matches!(sink.inner, Inner::Undecided)
                && sink.undecided.iter().any(|u| !u.is_empty())
            {
                let client = sink.undecided[Direction::ToServer.index()].as_slice();
                let choice = if http::probe_request(client) {
                    Choice::Http1
                } else {
                    Choice::Other
                };
                sink.decide(choice);
            }
        }
        stats.tls_held_bytes = held;
        if let Inner::App(app) = &mut self.inner {
            app.on_close(Direction::ToServer, stats, events);
            app.on_close(Direction::ToClient, stats, events);
        }
        stats.tls_decrypt.merge(self.flow.decrypt_stats());
        if self.flow.is_decrypted() {
            stats.tls_decrypted_flows += 1;
        }
    }
}

/// The inner protocol chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    Http1,
    Http2,
    Other,
}

/// Routes a TLS flow's output: events to the event list, plaintext to the
/// inner protocol.
struct Sink<'a> {
    inner: &'a mut Inner,
    undecided: &'a mut [Vec<u8>; 2],
    limits: &'a Limits,
    stats: &'a mut ProtoStats,
    events: &'a mut Vec<AppEvent>,
}

impl Sink<'_> {
    /// Sets the inner protocol and replays the held plaintext, client first.
    fn decide(&mut self, choice: Choice) {
        *self.inner = match choice {
            Choice::Http1 => {
                self.stats.tls_http1_flows += 1;
                Inner::App(Box::new(Http1 {
                    flow: http::HttpFlow::new(self.limits.http),
                    scratch: Vec::new(),
                }))
            }
            Choice::Http2 => {
                self.stats.tls_h2_flows += 1;
                Inner::App(Box::new(Http2 {
                    flow: http2::Http2Flow::new(self.limits.http2.clone()),
                    scratch: Vec::new(),
                }))
            }
            Choice::Other => {
                self.stats.tls_other_flows += 1;
                Inner::Other
            }
        };
        for dir in [Direction::ToServer, Direction::ToClient] {
            let held = std::mem::take(&mut self.undecided[dir.index()]);
            if !held.is_empty() {
                self.route(dir, &held);
            }
        }
    }

    fn route(&mut self, dir: Direction, data: &[u8]) {
        match self.inner {
            Inner::App(app) => app.on_data(dir, data, self.stats, self.events),
            Inner::Other => self.stats.tls_other_bytes += data.len() as u64,
            Inner::Undecided => {}
        }
    }
}

impl tls::TlsSink for Sink<'_> {
    fn event(&mut self, event: tls::TlsEvent) {
        if let tls::TlsEvent::Decryption {
            decrypted: false,
            reason: Some(reason),
        } = &event
        {
            self.stats.count("tls_opaque", reason.as_str());
        }
        self.events.push(AppEvent::Tls(event));
    }

    fn plaintext(&mut self, dir: Direction, data: &[u8]) {
        if !matches!(self.inner, Inner::Undecided) {
            self.route(dir, data);
            return;
        }
        let buf = &mut self.undecided[dir.index()];
        let room = DEFAULT_MAX_UNDECIDED_BYTES.saturating_sub(buf.len());
        if data.len() > room {
            // Too much without a decision: not a protocol we follow.
            self.stats.count("tls_plaintext", "undecided_limit");
            self.decide(Choice::Other);
            self.route(dir, data);
            return;
        }
        buf.extend_from_slice(data);
        let client = self.undecided[Direction::ToServer.index()].as_slice();
        let choice = if client.starts_with(HTTP2_PREFACE) {
            Some(Choice::Http2)
        } else if HTTP2_PREFACE.starts_with(client) {
            // Empty or a prefix of the preface: wait for more.
            None
        } else if http::probe_request(client) {
            Some(Choice::Http1)
        } else if client.len() >= HTTP2_PREFACE.len() {
            Some(Choice::Other)
        } else {
            None
        };
        if let Some(choice) = choice {
            self.decide(choice);
        }
    }
}
