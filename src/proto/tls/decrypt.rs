//! Decrypting one TLS connection with logged keys: which records are
//! protected, the key epochs of each direction, holding ciphertext until keys
//! arrive, and handing plaintext on in order.
//!
//! Owns: per direction, the record being collected (at most one record,
//! 2^14 + 2048 body bytes), the records held while keys are missing, the
//! current keys and (TLS 1.3) the application keys to switch to. Flow-wide:
//! the hello randoms and the decryption [`Status`].
//!
//! Takes: whole protected records from `state` (it frames the stream), the
//! ServerHello's version and suite, and a [`DecryptCtx`] per call (the shared
//! [`KeyLog`], limits, the packet time, the worker's held-bytes gauge).
//!
//! Emits (through a [`TlsSink`]): application-data plaintext per direction in
//! stream order, and one [`TlsEvent::Decryption`] per flow saying whether any
//! application data was decrypted, or why the flow stayed opaque.
//!
//! Epochs. TLS 1.2: a direction is protected after its ChangeCipherSpec, with
//! one key for everything after it; a ChangeCipherSpec inside the protected
//! stream is a renegotiation, which is not followed (`renegotiation`). TLS 1.3
//! (RFC 8446 §2, §7): every record of outer type application_data is
//! protected; a direction starts with its handshake traffic keys and switches
//! to its application traffic keys after the record that ends its Finished
//! message (handshake messages never span a key change, §5.1); a KeyUpdate
//! message (§4.6.3) moves the sender to the next application secret after
//! its record. Records a client sends under 0-RTT keys fail under the
//! handshake keys and are skipped, counted, while the handshake lasts.
//!
//! Limits ([`DecryptLimits`]): held ciphertext per flow, held ciphertext per
//! worker, how long a flow may wait for its keys, and how many undecryptable
//! records are skipped before a direction gives up. Each has a counter.
//!
//! Must not: panic on any input, keep secrets beyond the flow, or log them.

use crate::flow::Direction;
use crate::keylog::{KeyLog, OpenError, RecordKeys, Secrets, Suite};

use super::parser::{CipherSuite, ContentType, HandshakeType, ProtocolVersion, RecordHeader};
use super::state::TlsEvent;
use super::MAX_RECORD_BODY_BYTES;

/// Default ciphertext held per flow while its keys are missing. 256 KiB
/// covers the handshake and the first requests of a connection (where
/// most identifiers travel) while bounding what an unkeyed flow pins.
pub const DEFAULT_MAX_HOLD_BYTES: usize = 256 * 1024;

/// Default ciphertext held by one worker over all flows waiting for keys.
/// 64 MiB is 256 flows at the per-flow cap; beyond it new records are not
/// held and their flow turns opaque (`hold_memcap`).
pub const DEFAULT_HOLD_MEMCAP_BYTES: u64 = 64 * 1024 * 1024;

/// Default seconds (packet time) a flow holds ciphertext waiting for keys.
/// Key log lines are written at handshake time and reach a watched
/// directory within seconds; 30 s allows for slow copying from the phone.
pub const DEFAULT_MAX_HOLD_SECS: u64 = 30;

/// Default number of records a direction may fail to decrypt and skip
/// before it gives up. Only 0-RTT records are expected to fail, and a
/// client sends a handful of them.
pub const DEFAULT_MAX_SKIPPED_RECORDS: u32 = 32;

/// Decryption limits, one set per worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecryptLimits {
    /// See [`DEFAULT_MAX_HOLD_BYTES`].
    pub max_hold_bytes: usize,
    /// See [`DEFAULT_HOLD_MEMCAP_BYTES`].
    pub hold_memcap_bytes: u64,
    /// See [`DEFAULT_MAX_HOLD_SECS`].
    pub max_hold_secs: u64,
    /// See [`DEFAULT_MAX_SKIPPED_RECORDS`].
    pub max_skipped_records: u32,
}

impl Default for DecryptLimits {
    fn default() -> Self {
        DecryptLimits {
            max_hold_bytes: DEFAULT_MAX_HOLD_BYTES,
            hold_memcap_bytes: DEFAULT_HOLD_MEMCAP_BYTES,
            max_hold_secs: DEFAULT_MAX_HOLD_SECS,
            max_skipped_records: DEFAULT_MAX_SKIPPED_RECORDS,
        }
    }
}

/// What a decrypting call needs besides the bytes.
#[derive(Debug)]
pub struct DecryptCtx<'a> {
    /// The key store; `None` when no key log is configured.
    pub keylog: Option<&'a KeyLog>,
    /// Limits.
    pub limits: &'a DecryptLimits,
    /// Packet time of the bytes being fed, in microseconds.
    pub now_micros: i64,
    /// Ciphertext bytes held by all flows of this worker (a gauge the flows
    /// add to and subtract from).
    pub held_bytes: &'a mut u64,
}

/// Receives what a decrypting [`super::TlsFlow`] produces.
pub trait TlsSink {
    /// A flow event (hello, decryption outcome).
    fn event(&mut self, event: TlsEvent);
    /// Decrypted application data of `dir`, in stream order.
    fn plaintext(&mut self, dir: Direction, data: &[u8]);
}

/// Why a TLS flow's application data stayed opaque. Alphabetical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpaqueReason {
    /// Records did not decrypt with the logged keys.
    DecryptFailed,
    /// A gap in the stream lost the record framing before any decryption.
    Gap,
    /// The ServerHello was not seen (capture started mid-connection, or
    /// one direction is missing).
    HandshakeNotSeen,
    /// Keys did not arrive before the per-flow hold limit filled.
    HoldLimit,
    /// Keys did not arrive before the worker's hold memory cap filled.
    HoldMemcap,
    /// Keys did not arrive within the hold time.
    HoldTimeout,
    /// No key log line for this connection's client random.
    KeysMissing,
    /// Decrypted, but no application data was exchanged.
    NoApplicationData,
    /// No key log is configured.
    NoKeylog,
    /// A renegotiation changed the keys before any application data.
    Renegotiation,
    /// The cipher suite is not one leaktap decrypts (CBC, CCM, ARIA, ...).
    UnsupportedCipherSuite,
    /// The protocol version is older than TLS 1.2.
    UnsupportedVersion,
}

impl OpaqueReason {
    /// Snake-case label for counters and records.
    pub fn as_str(self) -> &'static str {
        match self {
            OpaqueReason::DecryptFailed => "decrypt_failed",
            OpaqueReason::Gap => "gap",
            OpaqueReason::HandshakeNotSeen => "handshake_not_seen",
            OpaqueReason::HoldLimit => "hold_limit",
            OpaqueReason::HoldMemcap => "hold_memcap",
            OpaqueReason::HoldTimeout => "hold_timeout",
            OpaqueReason::KeysMissing => "keys_missing",
            OpaqueReason::NoApplicationData => "no_application_data",
            OpaqueReason::NoKeylog => "no_keylog",
            OpaqueReason::Renegotiation => "renegotiation",
            OpaqueReason::UnsupportedCipherSuite => "unsupported_cipher_suite",
            OpaqueReason::UnsupportedVersion => "unsupported_version",
        }
    }
}

/// Decryption counters of one flow (summed by the caller over many).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecryptStats {
    /// Records decrypted, both directions, all content types.
    pub records: u64,
    /// Application-data plaintext bytes, client to server.
    pub plaintext_bytes_to_server: u64,
    /// Application-data plaintext bytes, server to client.
    pub plaintext_bytes_to_client: u64,
    /// Records that failed to decrypt (skipped or ending a direction).
    pub failures: u64,
    /// Client records skipped during the TLS 1.3 handshake (0-RTT data).
    pub early_data_skipped: u64,
    /// TLS 1.3 KeyUpdate messages followed.
    pub key_updates: u64,
    /// Records held while keys were missing.
    pub held_records: u64,
    /// Held records decrypted once keys arrived.
    pub held_records_decrypted: u64,
    /// Held bytes dropped (limit, timeout or flow end without keys).
    pub held_bytes_dropped: u64,
}

impl DecryptStats {
    /// Adds another flow's counters.
    pub fn merge(&mut self, o: &DecryptStats) {
        self.records += o.records;
        self.plaintext_bytes_to_server += o.plaintext_bytes_to_server;
        self.plaintext_bytes_to_client += o.plaintext_bytes_to_client;
        self.failures += o.failures;
        self.early_data_skipped += o.early_data_skipped;
        self.key_updates += o.key_updates;
        self.held_records += o.held_records;
        self.held_records_decrypted += o.held_records_decrypted;
        self.held_bytes_dropped += o.held_bytes_dropped;
    }
}

/// Flow-wide decryption state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Before the ServerHello: nothing is protected yet.
    Idle,
    /// Keys derived; protected records are decrypted.
    Active,
    /// Decryption will not happen; records are only counted.
    Off(OpaqueReason),
    /// Protected records are held until the key log has this connection.
    Waiting,
}

/// TLS 1.3 key epoch of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Epoch {
    /// TLS 1.2: one key after ChangeCipherSpec.
    Tls12,
    /// TLS 1.3 handshake traffic keys (until Finished).
    Handshake,
    /// TLS 1.3 application traffic keys.
    Application,
}

/// Tracks handshake message boundaries in decrypted handshake bytes, to see
/// where a Finished or KeyUpdate message ends. Keeps no message bodies.
#[derive(Clone, Copy, Debug, Default)]
struct MessageScan {
    header: [u8; 4],
    header_len: usize,
    msg_type: u8,
    remaining: usize,
}

/// What ended in a chunk of handshake bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Ended {
    finished: bool,
    key_update: bool,
}

impl MessageScan {
    fn feed(&mut self, mut data: &[u8]) -> Ended {
        let mut ended = Ended::default();
        while !data.is_empty() {
            if self.remaining == 0 && self.header_len < 4 {
                let n = (4 - self.header_len).min(data.len());
                if let (Some(dst), Some(src)) = (
                    self.header.get_mut(self.header_len..self.header_len + n),
                    data.get(..n),
                ) {
                    dst.copy_from_slice(src);
                }
                self.header_len += n;
                data = data.get(n..).unwrap_or(&[]);
                if self.header_len < 4 {
                    break;
                }
                let [t, a, b, c] = self.header;
                self.msg_type = t;
                self.remaining = u32::from_be_bytes([0, a, b, c]) as usize;
                if self.remaining > 0 {
                    continue;
                }
            } else {
                let n = self.remaining.min(data.len());
                self.remaining -= n;
                data = data.get(n..).unwrap_or(&[]);
                if self.remaining > 0 {
                    break;
                }
            }
            // A message ended.
            self.header_len = 0;
            match HandshakeType(self.msg_type) {
                HandshakeType::FINISHED => ended.finished = true,
                KEY_UPDATE => ended.key_update = true,
                _ => {}
            }
        }
        ended
    }
}

/// KeyUpdate handshake message type (RFC 8446 §4).
const KEY_UPDATE: HandshakeType = HandshakeType(24);

/// Decryption state of one direction.
#[derive(Debug)]
struct DirDecrypt {
    /// The record being collected: header then body.
    record: Vec<u8>,
    /// Whole records (header and body) held while keys are missing.
    held: Vec<u8>,
    keys: Option<RecordKeys>,
    /// TLS 1.3 application keys, used after Finished.
    next_keys: Option<RecordKeys>,
    epoch: Epoch,
    scan: MessageScan,
    /// This direction stopped decrypting (gap, failure, renegotiation).
    stopped: bool,
    skipped: u32,
}

impl DirDecrypt {
    fn new() -> Self {
        DirDecrypt {
            record: Vec::new(),
            held: Vec::new(),
            keys: None,
            next_keys: None,
            epoch: Epoch::Tls12,
            scan: MessageScan::default(),
            stopped: false,
            skipped: 0,
        }
    }

    fn release(&mut self) {
        self.record = Vec::new();
        self.held = Vec::new();
        self.keys = None;
        self.next_keys = None;
    }
}

/// Flow-wide decryption state, owned by the flow's shared state.
#[derive(Debug)]
pub(super) struct FlowDecrypt {
    pub(super) client_random: Option<[u8; 32]>,
    pub(super) server_random: Option<[u8; 32]>,
    status: Status,
    /// Key log generation of the last unsuccessful lookup.
    tried_generation: Option<u64>,
    hold_since_micros: Option<i64>,
    /// Bytes held over both directions.
    held_bytes: usize,
    outcome_sent: bool,
    /// The reason sent with a negative outcome.
    opaque_reason: Option<OpaqueReason>,
    app_data_decrypted: bool,
    /// Copied from the limits at the ServerHello.
    max_skipped: u32,
    /// Whether the collected record of each direction is wanted.
    collecting: [bool; 2],
    dirs: [DirDecrypt; 2],
    pub(super) stats: DecryptStats,
}

impl FlowDecrypt {
    pub(super) fn new() -> Self {
        FlowDecrypt {
            client_random: None,
            server_random: None,
            status: Status::Idle,
            tried_generation: None,
            hold_since_micros: None,
            held_bytes: 0,
            outcome_sent: false,
            opaque_reason: None,
            app_data_decrypted: false,
            max_skipped: DEFAULT_MAX_SKIPPED_RECORDS,
            collecting: [false; 2],
            dirs: [DirDecrypt::new(), DirDecrypt::new()],
            stats: DecryptStats::default(),
        }
    }

    pub(super) fn status(&self) -> Status {
        self.status
    }

    pub(super) fn app_data_decrypted(&self) -> bool {
        self.app_data_decrypted
    }

    pub(super) fn opaque_reason(&self) -> Option<OpaqueReason> {
        self.opaque_reason
    }

    /// The ServerHello fixed version and suite: decide whether and how to
    /// decrypt.
    pub(super) fn on_server_hello(
        &mut self,
        version: ProtocolVersion,
        suite: CipherSuite,
        ctx: &mut DecryptCtx<'_>,
        sink: &mut dyn TlsSink,
    ) {
        if self.status != Status::Idle {
            return;
        }
        self.max_skipped = ctx.limits.max_skipped_records;
        let supported = match version {
            ProtocolVersion::TLS1_3 => Suite::tls13(suite.0),
            ProtocolVersion::TLS1_2 => Suite::tls12(suite.0),
            _ => {
                self.turn_off(OpaqueReason::UnsupportedVersion, ctx, sink);
                return;
            }
        };
        if supported.is_none() {
            self.turn_off(OpaqueReason::UnsupportedCipherSuite, ctx, sink);
            return;
        }
        if ctx.keylog.is_none() {
            self.turn_off(OpaqueReason::NoKeylog, ctx, sink);
            return;
        }
        self.status = Status::Waiting;
        self.try_activate(version, suite, ctx, sink);
    }

    /// Whether a record of `content_type` starting now in `dir` is
    /// protected and should be collected. `ccs_seen`: this direction sent a
    /// plaintext ChangeCipherSpec before.
    pub(super) fn begin_record(
        &mut self,
        dir: Direction,
        header: &[u8; RecordHeader::LEN],
        content_type: ContentType,
        ccs_seen: bool,
        version: Option<ProtocolVersion>,
    ) -> bool {
        let d = &self.dirs[dir.index()];
        let wanted = match self.status {
            Status::Active | Status::Waiting if !d.stopped => match version {
                Some(ProtocolVersion::TLS1_3) => content_type == ContentType::APPLICATION_DATA,
                Some(_) => ccs_seen,
                None => false,
            },
            _ => false,
        };
        self.collecting[dir.index()] = wanted;
        if wanted {
            let d = &mut self.dirs[dir.index()];
            d.record.clear();
            if d.record.capacity() == 0 {
                d.record
                    .reserve_exact(RecordHeader::LEN + MAX_RECORD_BODY_BYTES);
            }
            d.record.extend_from_slice(header);
        }
        wanted
    }

    /// Body bytes of the record being collected in `dir`.
    pub(super) fn push_body(&mut self, dir: Direction, chunk: &[u8]) {
        if self.collecting[dir.index()] {
            self.dirs[dir.index()].record.extend_from_slice(chunk);
        }
    }

    /// The record of `dir` is complete.
    pub(super) fn end_record(
        &mut self,
        dir: Direction,
        version: Option<(ProtocolVersion, CipherSuite)>,
        ctx: &mut DecryptCtx<'_>,
        sink: &mut dyn TlsSink,
    ) {
        if !std::mem::take(&mut self.collecting[dir.index()]) {
            return;
        }
        if self.status == Status::Waiting {
            if let Some((v, s)) = version {
                self.try_activate(v, s, ctx, sink);
            }
        }
        match self.status {
            Status::Active => {
                let mut record = std::mem::take(&mut self.dirs[dir.index()].record);
                self.open(dir, &mut record, false, sink);
                record.clear();
                self.dirs[dir.index()].record = record;
            }
            Status::Waiting => self.hold(dir, ctx, sink),
            Status::Idle | Status::Off(_) => {}
        }
    }

    /// A gap in `dir`: the record framing is lost; this direction stops.
    pub(super) fn on_gap(&mut self, dir: Direction) {
        self.collecting[dir.index()] = false;
        self.dirs[dir.index()].stopped = true;
    }

    /// The flow ended: a last try for keys, then the outcome if not yet
    /// reported, and all buffers are released.
    pub(super) fn on_end(
        &mut self,
        version: Option<(ProtocolVersion, CipherSuite)>,
        ctx: &mut DecryptCtx<'_>,
        sink: &mut dyn TlsSink,
    ) {
        if self.status == Status::Waiting {
            self.tried_generation = None;
            if let Some((v, s)) = version {
                self.try_activate(v, s, ctx, sink);
            }
            if self.status == Status::Waiting {
                self.turn_off(OpaqueReason::KeysMissing, ctx, sink);
            }
        }
        if !self.outcome_sent {
            let reason = match self.status {
                Status::Idle => OpaqueReason::HandshakeNotSeen,
                Status::Off(reason) => reason,
                Status::Active if self.dirs.iter().all(|d| d.stopped) => {
                    if self.stats.failures > 0 {
                        OpaqueReason::DecryptFailed
                    } else {
                        OpaqueReason::Gap
                    }
                }
                Status::Active | Status::Waiting => OpaqueReason::NoApplicationData,
            };
            self.send_outcome(Some(reason), sink);
        }
        self.drop_held(ctx);
        for d in &mut self.dirs {
            d.release();
        }
    }

    fn send_outcome(&mut self, reason: Option<OpaqueReason>, sink: &mut dyn TlsSink) {
        if !self.outcome_sent {
            self.outcome_sent = true;
            self.opaque_reason = reason;
            sink.event(TlsEvent::Decryption {
                decrypted: reason.is_none(),
                reason,
            });
        }
    }

    fn turn_off(&mut self, reason: OpaqueReason, ctx: &mut DecryptCtx<'_>, sink: &mut dyn TlsSink) {
        self.status = Status::Off(reason);
        self.collecting = [false; 2];
        self.drop_held(ctx);
        for d in &mut self.dirs {
            d.release();
        }
        if !self.app_data_decrypted {
            self.send_outcome(Some(reason), sink);
        }
    }

    fn drop_held(&mut self, ctx: &mut DecryptCtx<'_>) {
        if self.held_bytes > 0 {
            self.stats.held_bytes_dropped += self.held_bytes as u64;
            *ctx.held_bytes = ctx.held_bytes.saturating_sub(self.held_bytes as u64);
            self.held_bytes = 0;
        }
        for d in &mut self.dirs {
            d.held = Vec::new();
        }
        self.hold_since_micros = None;
    }

    /// Holds the collected record of `dir` until keys arrive, within limits.
    fn hold(&mut self, dir: Direction, ctx: &mut DecryptCtx<'_>, sink: &mut dyn TlsSink) {
        let len = self.dirs[dir.index()].record.len();
        let since = *self.hold_since_micros.get_or_insert(ctx.now_micros);
        let waited_secs =
            u64::try_from(ctx.now_micros.saturating_sub(since) / 1_000_000).unwrap_or(0);
        let reason = if waited_secs > ctx.limits.max_hold_secs {
            Some(OpaqueReason::HoldTimeout)
        } else if self.held_bytes + len > ctx.limits.max_hold_bytes {
            Some(OpaqueReason::HoldLimit)
        } else if *ctx.held_bytes + len as u64 > ctx.limits.hold_memcap_bytes {
            Some(OpaqueReason::HoldMemcap)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.stats.held_bytes_dropped += len as u64;
            self.turn_off(reason, ctx, sink);
            return;
        }
        let d = &mut self.dirs[dir.index()];
        d.held.extend_from_slice(&d.record);
        d.record.clear();
        self.held_bytes += len;
        *ctx.held_bytes += len as u64;
        self.stats.held_records += 1;
    }

    /// Looks the connection up in the key log (when something new arrived
    /// since the last try) and, with keys, derives them and decrypts what
    /// was held.
    fn try_activate(
        &mut self,
        version: ProtocolVersion,
        suite: CipherSuite,
        ctx: &mut DecryptCtx<'_>,
        sink: &mut dyn TlsSink,
    ) {
        let Some(keylog) = ctx.keylog else {
            return;
        };
        let generation = keylog.generation();
        if self.tried_generation == Some(generation) {
            return;
        }
        self.tried_generation = Some(generation);
        let Some(client_random) = self.client_random else {
            return;
        };
        let Some(secrets) = keylog.lookup(&client_random) else {
            return;
        };
        if !self.derive(version, suite, &secrets) {
            return;
        }
        self.status = Status::Active;
        // Decrypt what was held, client first: a request precedes its answer.
        for dir in [Direction::ToServer, Direction::ToClient] {
            let held = std::mem::take(&mut self.dirs[dir.index()].held);
            let mut at = 0;
            let mut scratch = Vec::new();
            while let Some(h) = held.get(at..at + RecordHeader::LEN) {
                let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
                let Some(rec) = held.get(at..at + RecordHeader::LEN + len) else {
                    break;
                };
                scratch.clear();
                scratch.extend_from_slice(rec);
                self.open(dir, &mut scratch, true, sink);
                at += RecordHeader::LEN + len;
            }
        }
        *ctx.held_bytes = ctx.held_bytes.saturating_sub(self.held_bytes as u64);
        self.held_bytes = 0;
        self.hold_since_micros = None;
    }

    /// Derives both directions' keys; false if the log lacks what the
    /// version needs (a later line may complete it).
    fn derive(&mut self, version: ProtocolVersion, suite: CipherSuite, s: &Secrets) -> bool {
        if version == ProtocolVersion::TLS1_3 {
            let Some(suite) = Suite::tls13(suite.0) else {
                return false;
            };
            let (Some(c_ap), Some(s_ap)) = (s.client_traffic_0, s.server_traffic_0) else {
                return false;
            };
            let keys = |secret: Option<crate::keylog::Secret>| {
                secret.and_then(|x| RecordKeys::tls13(suite, x.as_bytes()).ok())
            };
            let (Some(c_next), Some(s_next)) = (keys(Some(c_ap)), keys(Some(s_ap))) else {
                return false;
            };
            for (d, hs, next) in [
                (Direction::ToServer, keys(s.client_handshake), c_next),
                (Direction::ToClient, keys(s.server_handshake), s_next),
            ] {
                let st = &mut self.dirs[d.index()];
                st.keys = hs;
                st.next_keys = Some(next);
                st.epoch = Epoch::Handshake;
            }
            true
        } else {
            let (Some(suite), Some(master), Some(cr), Some(sr)) = (
                Suite::tls12(suite.0),
                s.master_secret,
                self.client_random,
                self.server_random,
            ) else {
                return false;
            };
            for d in [Direction::ToServer, Direction::ToClient] {
                match RecordKeys::tls12(suite, master.as_bytes(), &cr, &sr, d) {
                    Ok(k) => {
                        let st = &mut self.dirs[d.index()];
                        st.keys = Some(k);
                        st.epoch = Epoch::Tls12;
                    }
                    Err(_) => return false,
                }
            }
            true
        }
    }

    /// Decrypts one whole record (header and body) of `dir`.
    fn open(&mut self, dir: Direction, record: &mut [u8], was_held: bool, sink: &mut dyn TlsSink) {
        if self.dirs[dir.index()].stopped {
            return;
        }
        let Some((h, body)) = record.split_first_chunk_mut::<{ RecordHeader::LEN }>() else {
            return;
        };
        let header = *h;
        let d = &mut self.dirs[dir.index()];
        let mut result = match d.keys.as_mut() {
            Some(k) => k.open(&header, body),
            None => Err(OpenError::Auth),
        };
        if result.is_err() && d.epoch == Epoch::Handshake {
            // Missed the end of the handshake, or no handshake keys: try the
            // application keys.
            if let Some(next) = d.next_keys.as_mut() {
                if let Ok(opened) = next.open(&header, body) {
                    d.keys = d.next_keys.take();
                    d.epoch = Epoch::Application;
                    d.scan = MessageScan::default();
                    result = Ok(opened);
                }
            }
        }
        let opened = match result {
            Ok(o) => o,
            Err(_) => {
                self.stats.failures += 1;
                d.skipped += 1;
                // During the TLS 1.3 handshake a failure is expected for the
                // client's 0-RTT records, and for every handshake record
                // when the log has no handshake secrets: skip those.
                let skippable =
                    d.epoch == Epoch::Handshake && (d.keys.is_none() || dir == Direction::ToServer);
                if skippable && d.keys.is_some() {
                    self.stats.early_data_skipped += 1;
                }
                if !skippable || d.skipped > self.max_skipped {
                    d.stopped = true;
                }
                return;
            }
        };
        self.stats.records += 1;
        if was_held {
            self.stats.held_records_decrypted += 1;
        }
        let plaintext = opened.plaintext(body);
        match ContentType(opened.content_type) {
            ContentType::APPLICATION_DATA => {
                if plaintext.is_empty() {
                    return;
                }
                match dir {
                    Direction::ToServer => {
                        self.stats.plaintext_bytes_to_server += plaintext.len() as u64
                    }
                    Direction::ToClient => {
                        self.stats.plaintext_bytes_to_client += plaintext.len() as u64
                    }
                }
                if !self.app_data_decrypted {
                    self.app_data_decrypted = true;
                    self.send_outcome(None, sink);
                }
                sink.plaintext(dir, plaintext);
            }
            ContentType::HANDSHAKE if d.epoch != Epoch::Tls12 => {
                let ended = d.scan.feed(plaintext);
                if ended.finished && d.epoch == Epoch::Handshake {
                    if let Some(next) = d.next_keys.take() {
                        d.keys = Some(next);
                        d.epoch = Epoch::Application;
                        d.scan = MessageScan::default();
                    }
                } else if ended.key_update && d.epoch == Epoch::Application {
                    let updated = d.keys.as_mut().is_some_and(|k| k.key_update().is_ok());
                    if updated {
                        self.stats.key_updates += 1;
                    } else {
                        d.stopped = true;
                    }
                }
            }
            ContentType::CHANGE_CIPHER_SPEC => {
                // TLS 1.2 renegotiation: new keys from a handshake we did
                // not follow.
                d.stopped = true;
                if !self.app_data_decrypted && self.dirs.iter().all(|x| x.stopped) {
                    self.status = Status::Off(OpaqueReason::Renegotiation);
                    self.send_outcome(Some(OpaqueReason::Renegotiation), sink);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "decrypt_tests.rs"]
mod tests;
