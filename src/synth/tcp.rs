//! Synthetic TCP conversations with chosen segmentations.
//!
//! Owns the sequence and acknowledgement bookkeeping of one connection between a client and
//! a server. Takes application bytes per direction and a [`Segmentation`] (how the sender
//! cuts them, then how the segments are reordered, duplicated, overlapped or lost); emits
//! timestamped, checksum-correct Ethernet frames (optionally VLAN-tagged and tunnelled)
//! into an internal list. The receiver side is modelled so that ACKs are cumulative over
//! what the peer really received (RFC 9293 section 3.10.7.4): duplicate ACKs while a hole
//! is open, a jump past it once it is filled.
//!
//! Limits: each segment must fit one IP packet (about 65 KB); a conversation keeps every
//! frame until [`TcpConversation::take_frames`] drains them, so long-running generators
//! drain after each step. Must not: read the clock or OS randomness.

use std::fmt;
use std::net::IpAddr;

use crate::flow::Direction;
use crate::synth::frame::{self, EtherTypes, GreOptions, IpNextHeaderProtocols, TcpFlags};
use crate::synth::pcap::{self, CaptureWrite};
use crate::synth::{Endpoint, Rng};

/// Default time between two frames of a conversation: 0.2 ms, a LAN-ish pace.
pub const DEFAULT_STEP_MICROS: i64 = 200;
/// Default receive window advertised by both ends (no window scaling is negotiated).
pub const DEFAULT_WINDOW: u16 = 65_535;
/// MSS announced in the SYN and SYN/ACK: Ethernet MTU minus IPv4 and TCP headers.
pub const DEFAULT_MSS: u16 = 1460;
/// Default start time of a conversation: 2023-11-14T22:13:20Z.
pub const DEFAULT_START_MICROS: i64 = 1_700_000_000_000_000;

/// How a sender cuts application bytes into segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Split {
    /// `n` bytes per segment (the last may be shorter); 0 behaves like `Whole`.
    Fixed(usize),
    /// One byte per segment.
    SingleBytes,
    /// Segments of these sizes in order; zero sizes are skipped, bytes left over go in one
    /// final segment, sizes past the end are ignored.
    Sizes(Vec<usize>),
    /// One segment with all bytes.
    Whole,
}

/// What happens to a segment that is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropMode {
    /// The tap missed it but the receiver got it: the capture has a hole that later ACKs
    /// cover (the signature of capture loss).
    CaptureLoss,
    /// Lost in the network and never retransmitted: the capture has a real hole and ACKs
    /// stay below it.
    Lost,
    /// Lost in the network, retransmitted after the other segments: the receiver sends
    /// duplicate ACKs, then its ACK jumps past everything it buffered.
    Retransmit,
}

/// A transformation applied, in order, to the list of segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// Drop the segment at this position of the list (ignored when out of range).
    Drop {
        /// Position in the list at the time the transformation applies.
        index: usize,
        /// Whether and how it is recovered.
        mode: DropMode,
    },
    /// Send every segment twice in a row.
    DuplicateAll,
    /// Each segment also carries up to `bytes` bytes before its start (already sent in the
    /// previous one); with `same_content` false those bytes are altered, so reassembly
    /// policies (first or last wins) give different streams.
    Overlap {
        /// Bytes re-sent at the start of each segment.
        bytes: usize,
        /// Whether the re-sent bytes equal the original ones.
        same_content: bool,
    },
    /// Shuffle the list with a seeded Fisher-Yates.
    Permute(u64),
    /// Reverse the list.
    Reverse,
}

/// A split plus transformations: the full description of how bytes reach the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segmentation {
    split: Split,
    transforms: Vec<Transform>,
}

/// What became of a planned segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Captured and received.
    Delivered,
    /// Received but not captured.
    NotCaptured,
    /// Neither captured nor received.
    Lost,
}

/// One segment of a plan: its offset in the sent bytes, its content and its fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSegment {
    /// Offset of the first byte relative to the start of the sent data.
    pub offset: usize,
    /// Segment payload (differs from the data where an overlap alters bytes).
    pub bytes: Vec<u8>,
    /// Whether the segment is captured and received.
    pub fate: Fate,
}

/// Outer path of a tunnel: the addresses of the two tunnel endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelPath {
    /// MAC of the tunnel source.
    pub src_mac: [u8; 6],
    /// MAC of the tunnel destination.
    pub dst_mac: [u8; 6],
    /// Outer source address.
    pub src_ip: IpAddr,
    /// Outer destination address (same family as `src_ip`).
    pub dst_ip: IpAddr,
}

/// A caller-supplied tunnel: takes the inner Ethernet frame, returns the frame to capture.
pub type FrameWrapper = Box<dyn FnMut(&[u8]) -> Vec<u8> + Send>;

/// Optional encapsulation of every frame of a conversation.
pub enum Tunnel {
    /// Caller-supplied wrapper: receives the inner Ethernet frame, returns the outer one.
    Custom(FrameWrapper),
    /// ERSPAN type II mirror of the inner Ethernet frame.
    Erspan2 {
        /// Tunnel endpoints.
        path: TunnelPath,
        /// ERSPAN session id (10 bits).
        session_id: u16,
    },
    /// ERSPAN type III mirror of the inner Ethernet frame.
    Erspan3 {
        /// Tunnel endpoints.
        path: TunnelPath,
        /// ERSPAN session id (10 bits).
        session_id: u16,
    },
    /// GRE carrying the inner IP packet (no inner Ethernet header).
    Gre {
        /// Tunnel endpoints.
        path: TunnelPath,
        /// Optional GRE key.
        key: Option<u32>,
    },
    /// No tunnel: frames are the inner Ethernet frames.
    None,
    /// VXLAN over UDP 4789 carrying the inner Ethernet frame.
    Vxlan {
        /// Tunnel endpoints.
        path: TunnelPath,
        /// VXLAN network identifier (24 bits).
        vni: u32,
    },
}

/// Counters of a conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames appended to the list.
    pub frames: u64,
    /// Data segments captured (retransmissions and duplicates included).
    pub data_segments: u64,
    /// Segments that were sent but are absent from the capture.
    pub segments_not_captured: u64,
    /// Retransmissions of dropped segments.
    pub retransmissions: u64,
}

/// Receiver state of one direction: cumulative point and buffered out-of-order ranges.
#[derive(Clone, Debug, Default)]
struct Receiver {
    /// Next expected stream offset (relative to ISN + 1).
    next: u64,
    /// Received ranges beyond `next`, unsorted, half-open.
    pending: Vec<(u64, u64)>,
    /// Stream offset of the peer's FIN, once received.
    fin_at: Option<u64>,
}

impl Receiver {
    fn receive(&mut self, start: u64, end: u64) {
        if end <= self.next {
            return;
        }
        if start > self.next {
            self.pending.push((start, end));
            return;
        }
        self.next = end;
        // Absorb buffered ranges that now touch the cumulative point, until none does.
        loop {
            let next = self.next;
            let mut reach = next;
            self.pending.retain(|&(s, e)| {
                if s <= next {
                    reach = reach.max(e);
                    false
                } else {
                    true
                }
            });
            if reach == next {
                break;
            }
            self.next = reach;
        }
    }

    /// Cumulative acknowledgement offset, counting the FIN once everything before it came.
    fn ack_offset(&self) -> u64 {
        match self.fin_at {
            Some(f) if f == self.next => self.next + 1,
            _ => self.next,
        }
    }
}

/// Sender state of one direction.
#[derive(Clone, Copy, Debug, Default)]
struct Sender {
    isn: u32,
    /// Bytes sent so far (stream offset of the next byte).
    sent: u64,
    /// FIN sent (consumes one sequence number).
    fin: bool,
    ip_id: u16,
}

impl Sender {
    fn seq_at(&self, offset: u64) -> u32 {
        // Sequence space is modulo 2^32 (RFC 9293 section 3.4); truncation is intended.
        self.isn.wrapping_add(1).wrapping_add(offset as u32)
    }
}

/// A TCP connection whose frames are built step by step.
pub struct TcpConversation {
    client: Endpoint,
    server: Endpoint,
    vlan_tags: Vec<u16>,
    tunnel: Tunnel,
    now: i64,
    step: i64,
    window: u16,
    ack_every_segment: bool,
    client_tx: Sender,
    server_tx: Sender,
    /// What the server received of the client's bytes.
    server_rx: Receiver,
    /// What the client received of the server's bytes.
    client_rx: Receiver,
    tunnel_seq: u32,
    tunnel_ip_id: u16,
    frames: Vec<(i64, Vec<u8>)>,
    stats: Stats,
}

impl Segmentation {
    /// One segment.
    pub fn whole() -> Self {
        Split::Whole.into()
    }

    /// Segments of `n` bytes (0 means whole).
    pub fn fixed(n: usize) -> Self {
        Split::Fixed(n).into()
    }

    /// Segments of the given sizes.
    pub fn sizes(sizes: Vec<usize>) -> Self {
        Split::Sizes(sizes).into()
    }

    /// One byte per segment.
    pub fn single_bytes() -> Self {
        Split::SingleBytes.into()
    }

    /// Adds a transformation.
    pub fn with(mut self, t: Transform) -> Self {
        self.transforms.push(t);
        self
    }

    /// Reverses the segment order.
    pub fn reverse(self) -> Self {
        self.with(Transform::Reverse)
    }

    /// Shuffles the segments with a seed.
    pub fn permute(self, seed: u64) -> Self {
        self.with(Transform::Permute(seed))
    }

    /// Sends every segment twice.
    pub fn duplicate_all(self) -> Self {
        self.with(Transform::DuplicateAll)
    }

    /// Makes each segment re-send `n_bytes` of the previous one.
    pub fn overlap(self, n_bytes: usize, same_content: bool) -> Self {
        self.with(Transform::Overlap {
            bytes: n_bytes,
            same_content,
        })
    }

    /// Drops the segment at `index`; it is retransmitted after the others.
    pub fn drop(self, index: usize) -> Self {
        self.drop_with(index, DropMode::Retransmit)
    }

    /// Drops the segment at `index` with the given recovery.
    pub fn drop_with(self, index: usize, mode: DropMode) -> Self {
        self.with(Transform::Drop { index, mode })
    }

    /// The split part.
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// Cuts `data` and applies the transformations; the order of the result is the order on
    /// the wire. Dropped segments stay in the list with their fate (retransmissions are
    /// appended as delivered copies).
    pub fn plan(&self, data: &[u8]) -> Vec<PlannedSegment> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut push_sizes = |sizes: &mut dyn Iterator<Item = usize>| {
            let mut at = 0;
            for n in sizes {
                if at >= data.len() {
                    break;
                }
                if n == 0 {
                    continue;
                }
                let end = (at + n).min(data.len());
                ranges.push((at, end));
                at = end;
            }
            if at < data.len() {
                ranges.push((at, data.len()));
            }
        };
        match &self.split {
            Split::Whole | Split::Fixed(0) => push_sizes(&mut std::iter::empty()),
            Split::Fixed(n) => push_sizes(&mut std::iter::repeat(*n)),
            Split::SingleBytes => push_sizes(&mut std::iter::repeat(1)),
            Split::Sizes(v) => push_sizes(&mut v.iter().copied()),
        }
        let mut segs: Vec<PlannedSegment> = ranges
            .into_iter()
            .map(|(s, e)| PlannedSegment {
                offset: s,
                bytes: data[s..e].to_vec(),
                fate: Fate::Delivered,
            })
            .collect();
        for t in &self.transforms {
            match *t {
                Transform::Reverse => segs.reverse(),
                Transform::Permute(seed) => {
                    let mut rng = Rng::new(seed);
                    for i in (1..segs.len()).rev() {
                        let j = rng.below(i as u64 + 1) as usize;
                        segs.swap(i, j);
                    }
                }
                Transform::DuplicateAll => {
                    segs = segs.into_iter().flat_map(|s| [s.clone(), s]).collect();
                }
                Transform::Overlap {
                    bytes,
                    same_content,
                } => {
                    for s in segs.iter_mut() {
                        let k = bytes.min(s.offset);
                        if k == 0 {
                            continue;
                        }
                        let start = s.offset - k;
                        let mut pre = data[start..s.offset].to_vec();
                        if !same_content {
                            for b in pre.iter_mut() {
                                *b = if *b == b'X' { b'Y' } else { b'X' };
                            }
                        }
                        pre.extend_from_slice(&s.bytes);
                        s.bytes = pre;
                        s.offset = start;
                    }
                }
                Transform::Drop { index, mode } => {
                    let Some(s) = segs.get_mut(index) else {
                        continue;
                    };
                    match mode {
                        DropMode::CaptureLoss => s.fate = Fate::NotCaptured,
                        DropMode::Lost => s.fate = Fate::Lost,
                        DropMode::Retransmit => {
                            s.fate = Fate::Lost;
                            let again = PlannedSegment {
                                fate: Fate::Delivered,
                                ..s.clone()
                            };
                            segs.push(again);
                        }
                    }
                }
            }
        }
        segs
    }
}

impl From<Split> for Segmentation {
    fn from(split: Split) -> Self {
        Segmentation {
            split,
            transforms: Vec::new(),
        }
    }
}

impl fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tunnel::Custom(_) => f.write_str("Custom(..)"),
            Tunnel::Erspan2 { path, session_id } => f
                .debug_struct("Erspan2")
                .field("path", path)
                .field("session_id", session_id)
                .finish(),
            Tunnel::Erspan3 { path, session_id } => f
                .debug_struct("Erspan3")
                .field("path", path)
                .field("session_id", session_id)
                .finish(),
            Tunnel::Gre { path, key } => f
                .debug_struct("Gre")
                .field("path", path)
                .field("key", key)
                .finish(),
            Tunnel::None => f.write_str("None"),
            Tunnel::Vxlan { path, vni } => f
                .debug_struct("Vxlan")
                .field("path", path)
                .field("vni", vni)
                .finish(),
        }
    }
}

impl TcpConversation {
    /// A conversation with default timing, ISNs 1000 (client) and 5000 (server), no VLAN,
    /// no tunnel.
    ///
    /// # Panics
    /// When the two endpoints have addresses of different families.
    pub fn new(client: Endpoint, server: Endpoint) -> Self {
        assert_eq!(
            client.ip.is_ipv4(),
            server.ip.is_ipv4(),
            "client and server must share an address family"
        );
        TcpConversation {
            client,
            server,
            vlan_tags: Vec::new(),
            tunnel: Tunnel::None,
            now: DEFAULT_START_MICROS,
            step: DEFAULT_STEP_MICROS,
            window: DEFAULT_WINDOW,
            ack_every_segment: true,
            client_tx: Sender {
                isn: 1000,
                ip_id: 1,
                ..Sender::default()
            },
            server_tx: Sender {
                isn: 5000,
                ip_id: 1,
                ..Sender::default()
            },
            server_rx: Receiver::default(),
            client_rx: Receiver::default(),
            tunnel_seq: 0,
            tunnel_ip_id: 1,
            frames: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Sets the VLAN tags (outermost first) of every frame.
    pub fn with_vlan_tags(mut self, tags: &[u16]) -> Self {
        self.vlan_tags = tags.to_vec();
        self
    }

    /// Wraps every frame in a tunnel.
    pub fn with_tunnel(mut self, tunnel: Tunnel) -> Self {
        self.tunnel = tunnel;
        self
    }

    /// Sets the timestamp of the next frame.
    pub fn with_start_micros(mut self, ts: i64) -> Self {
        self.now = ts;
        self
    }

    /// Sets the time between consecutive frames.
    pub fn with_step_micros(mut self, step: i64) -> Self {
        self.step = step;
        self
    }

    /// Sets the initial sequence numbers (e.g. near 2^32 to test wraparound).
    pub fn with_isns(mut self, client_isn: u32, server_isn: u32) -> Self {
        self.client_tx.isn = client_isn;
        self.server_tx.isn = server_isn;
        self
    }

    /// Sets the advertised window of both ends.
    pub fn with_window(mut self, window: u16) -> Self {
        self.window = window;
        self
    }

    /// With `false`, the receiver sends one ACK after each call instead of one per segment
    /// (fewer frames for large generated captures).
    pub fn with_ack_every_segment(mut self, every: bool) -> Self {
        self.ack_every_segment = every;
        self
    }

    /// Timestamp the next frame will get.
    pub fn now_micros(&self) -> i64 {
        self.now
    }

    /// Moves the clock forward (idle time between exchanges).
    pub fn advance(&mut self, micros: i64) -> &mut Self {
        self.now = self.now.saturating_add(micros);
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Frames built so far, in capture order.
    pub fn frames(&self) -> &[(i64, Vec<u8>)] {
        &self.frames
    }

    /// Removes and returns the frames built so far.
    pub fn take_frames(&mut self) -> Vec<(i64, Vec<u8>)> {
        std::mem::take(&mut self.frames)
    }

    /// Writes the frames built so far to a capture writer (Ethernet link type).
    pub fn write_to<C: CaptureWrite>(&self, out: &mut C) -> Result<(), pcap::Error> {
        for (ts, f) in &self.frames {
            out.write_packet(*ts, f)?;
        }
        Ok(())
    }

    /// The client's and the server's current next sequence numbers.
    pub fn next_seqs(&self) -> (u32, u32) {
        (
            self.client_tx.seq_at(self.client_tx.sent),
            self.server_tx.seq_at(self.server_tx.sent),
        )
    }

    /// SYN, SYN/ACK, ACK (RFC 9293 section 3.5), with an MSS option on the SYNs.
    pub fn handshake(&mut self) -> &mut Self {
        let mss = DEFAULT_MSS.to_be_bytes();
        let opts = [2, 4, mss[0], mss[1]]; // kind MSS, length 4, value
        let (c_isn, s_isn) = (self.client_tx.isn, self.server_tx.isn);
        self.emit(Direction::ToServer, c_isn, 0, TcpFlags::SYN, &opts, &[]);
        self.emit(
            Direction::ToClient,
            s_isn,
            c_isn.wrapping_add(1),
            TcpFlags::SYN | TcpFlags::ACK,
            &opts,
            &[],
        );
        self.emit(
            Direction::ToServer,
            c_isn.wrapping_add(1),
            s_isn.wrapping_add(1),
            TcpFlags::ACK,
            &[],
            &[],
        );
        self
    }

    /// The client sends `data`, cut and transformed by `seg`; the server ACKs.
    pub fn client_sends(&mut self, data: &[u8], seg: &Segmentation) -> &mut Self {
        self.send(Direction::ToServer, data, seg)
    }

    /// The server sends `data`, cut and transformed by `seg`; the client ACKs.
    pub fn server_sends(&mut self, data: &[u8], seg: &Segmentation) -> &mut Self {
        self.send(Direction::ToClient, data, seg)
    }

    /// Orderly close started by the client: FIN/ACK, FIN/ACK, ACK.
    pub fn close(&mut self) -> &mut Self {
        self.fin(Direction::ToServer);
        self.fin(Direction::ToClient);
        let seq = self.client_tx.seq_at(self.client_tx.sent + 1);
        let ack = self.ack_for(Direction::ToServer);
        self.emit(Direction::ToServer, seq, ack, TcpFlags::ACK, &[], &[]);
        self
    }

    /// Orderly close started by the server.
    pub fn close_by_server(&mut self) -> &mut Self {
        self.fin(Direction::ToClient);
        self.fin(Direction::ToServer);
        let seq = self.server_tx.seq_at(self.server_tx.sent + 1);
        let ack = self.ack_for(Direction::ToClient);
        self.emit(Direction::ToClient, seq, ack, TcpFlags::ACK, &[], &[]);
        self
    }

    /// The client aborts with RST/ACK.
    pub fn reset(&mut self) -> &mut Self {
        let seq = self
            .client_tx
            .seq_at(self.client_tx.sent + u64::from(self.client_tx.fin));
        let ack = self.ack_for(Direction::ToServer);
        self.emit(
            Direction::ToServer,
            seq,
            ack,
            TcpFlags::RST | TcpFlags::ACK,
            &[],
            &[],
        );
        self
    }

    fn fin(&mut self, dir: Direction) {
        let (tx, rx) = match dir {
            Direction::ToServer => (&mut self.client_tx, &mut self.server_rx),
            Direction::ToClient => (&mut self.server_tx, &mut self.client_rx),
        };
        let seq = tx.seq_at(tx.sent);
        tx.fin = true;
        rx.fin_at = Some(tx.sent);
        let ack = self.ack_for(dir);
        self.emit(dir, seq, ack, TcpFlags::FIN | TcpFlags::ACK, &[], &[]);
    }

    /// ACK number carried by a packet sent in `dir`: what the sender has received.
    fn ack_for(&self, dir: Direction) -> u32 {
        let (peer_tx, rx) = match dir {
            Direction::ToServer => (&self.server_tx, &self.client_rx),
            Direction::ToClient => (&self.client_tx, &self.server_rx),
        };
        peer_tx.seq_at(rx.ack_offset())
    }

    fn send(&mut self, dir: Direction, data: &[u8], seg: &Segmentation) -> &mut Self {
        let plan = seg.plan(data);
        let base = match dir {
            Direction::ToServer => self.client_tx.sent,
            Direction::ToClient => self.server_tx.sent,
        };
        let back = match dir {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        };
        let mut seen_lost: Vec<usize> = Vec::new();
        for (i, s) in plan.iter().enumerate() {
            let start = base + s.offset as u64;
            let end = start + s.bytes.len() as u64;
            let seq = match dir {
                Direction::ToServer => self.client_tx.seq_at(start),
                Direction::ToClient => self.server_tx.seq_at(start),
            };
            let flags = if s.offset + s.bytes.len() == data.len() {
                TcpFlags::PSH | TcpFlags::ACK
            } else {
                TcpFlags::ACK
            };
            match s.fate {
                Fate::Delivered => {
                    if seen_lost.contains(&s.offset) {
                        self.stats.retransmissions += 1;
                    }
                    let ack = self.ack_for(dir);
                    self.emit(dir, seq, ack, flags, &[], &s.bytes);
                    self.stats.data_segments += 1;
                }
                Fate::NotCaptured => {
                    self.stats.segments_not_captured += 1;
                }
                Fate::Lost => {
                    self.stats.segments_not_captured += 1;
                    seen_lost.push(s.offset);
                    continue;
                }
            }
            match dir {
                Direction::ToServer => self.server_rx.receive(start, end),
                Direction::ToClient => self.client_rx.receive(start, end),
            }
            if self.ack_every_segment || i + 1 == plan.len() {
                self.pure_ack(back);
            }
        }
        if !self.ack_every_segment && plan.last().map(|s| s.fate) == Some(Fate::Lost) {
            self.pure_ack(back);
        }
        match dir {
            Direction::ToServer => self.client_tx.sent += data.len() as u64,
            Direction::ToClient => self.server_tx.sent += data.len() as u64,
        }
        self
    }

    fn pure_ack(&mut self, dir: Direction) {
        let tx = match dir {
            Direction::ToServer => &self.client_tx,
            Direction::ToClient => &self.server_tx,
        };
        let seq = tx.seq_at(tx.sent + u64::from(tx.fin));
        let ack = self.ack_for(dir);
        self.emit(dir, seq, ack, TcpFlags::ACK, &[], &[]);
    }

    fn emit(&mut self, dir: Direction, seq: u32, ack: u32, flags: u8, opts: &[u8], payload: &[u8]) {
        let (src, dst, tx) = match dir {
            Direction::ToServer => (self.client, self.server, &mut self.client_tx),
            Direction::ToClient => (self.server, self.client, &mut self.server_tx),
        };
        let id = tx.ip_id;
        tx.ip_id = tx.ip_id.wrapping_add(1);
        let seg = frame::tcp_with_options(
            src.port,
            dst.port,
            seq,
            ack,
            flags,
            self.window,
            opts,
            payload,
            src.ip,
            dst.ip,
        );
        let ip = frame::ip_packet(src.ip, dst.ip, IpNextHeaderProtocols::Tcp, id, &seg);
        let wire = self.wrap(src.mac, dst.mac, src.ip, &ip);
        self.frames.push((self.now, wire));
        self.stats.frames += 1;
        self.now = self.now.saturating_add(self.step);
    }

    fn wrap(
        &mut self,
        src_mac: [u8; 6],
        dst_mac: [u8; 6],
        inner_src: IpAddr,
        ip: &[u8],
    ) -> Vec<u8> {
        let inner = frame::ethernet(
            src_mac,
            dst_mac,
            &self.vlan_tags,
            frame::ethertype_of(inner_src),
            ip,
        );
        let seq = self.tunnel_seq;
        let (path, proto, payload) = match &mut self.tunnel {
            Tunnel::None => return inner,
            Tunnel::Custom(f) => return f(&inner),
            Tunnel::Gre { path, key } => (
                path.clone(),
                IpNextHeaderProtocols::Gre,
                frame::gre(
                    frame::ethertype_of(inner_src),
                    ip,
                    GreOptions {
                        key: *key,
                        ..GreOptions::default()
                    },
                ),
            ),
            Tunnel::Erspan2 { path, session_id } => (
                path.clone(),
                IpNextHeaderProtocols::Gre,
                frame::erspan2(*session_id, &inner, seq),
            ),
            Tunnel::Erspan3 { path, session_id } => {
                // Granularity 00: timestamp in units of 100 microseconds, wrapping.
                let ts = (self.now / 100) as u32;
                (
                    path.clone(),
                    IpNextHeaderProtocols::Gre,
                    frame::erspan3(*session_id, &inner, seq, ts),
                )
            }
            Tunnel::Vxlan { path, vni } => {
                // Source port from the inner flow so a flow stays on one path (RFC 7348 5).
                let sport = 49152 | (self.client.port & 0x3fff);
                let vx = frame::vxlan(*vni, &inner);
                (
                    path.clone(),
                    IpNextHeaderProtocols::Udp,
                    frame::udp(sport, frame::VXLAN_PORT, &vx, path.src_ip, path.dst_ip),
                )
            }
        };
        self.tunnel_seq = self.tunnel_seq.wrapping_add(1);
        let id = self.tunnel_ip_id;
        self.tunnel_ip_id = self.tunnel_ip_id.wrapping_add(1);
        let outer_ip = frame::ip_packet(path.src_ip, path.dst_ip, proto, id, &payload);
        let et = if path.src_ip.is_ipv4() {
            EtherTypes::Ipv4
        } else {
            EtherTypes::Ipv6
        };
        frame::ethernet(path.src_mac, path.dst_mac, &[], et, &outer_ip)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use pnet_packet::ethernet::EthernetPacket;
    use pnet_packet::ipv4::Ipv4Packet;
    use pnet_packet::ipv6::Ipv6Packet;
    use pnet_packet::tcp::TcpPacket;
    use pnet_packet::Packet;

    use super::*;
    use crate::synth::pcap::{LinkType, PcapWriter};
    use crate::synth::tshark;

    /// One decoded segment: (from client, seq, ack, flags, payload).
    type Seg = (bool, u32, u32, u8, Vec<u8>);

    fn client(port: u16) -> Endpoint {
        Endpoint::new(
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(192, 0, 2, 10).into(),
            port,
        )
    }

    fn server() -> Endpoint {
        Endpoint::new(
            [2, 0, 0, 0, 0, 2],
            Ipv4Addr::new(198, 51, 100, 20).into(),
            80,
        )
    }

    fn client6(port: u16) -> Endpoint {
        Endpoint::new(
            [2, 0, 0, 0, 0, 3],
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10).into(),
            port,
        )
    }

    fn server6() -> Endpoint {
        Endpoint::new(
            [2, 0, 0, 0, 0, 4],
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20).into(),
            80,
        )
    }

    /// Decodes untunnelled, untagged frames back into TCP fields.
    fn decode(frames: &[(i64, Vec<u8>)], client_port: u16) -> Vec<Seg> {
        frames
            .iter()
            .map(|(_, f)| {
                let eth = EthernetPacket::new(f).unwrap();
                let tcp_bytes = if f[12] == 0x08 {
                    Ipv4Packet::new(eth.payload()).unwrap().payload().to_vec()
                } else {
                    Ipv6Packet::new(eth.payload()).unwrap().payload().to_vec()
                };
                let t = TcpPacket::new(&tcp_bytes).unwrap();
                (
                    t.get_source() == client_port,
                    t.get_sequence(),
                    t.get_acknowledgement(),
                    t.get_flags(),
                    t.payload().to_vec(),
                )
            })
            .collect()
    }

    /// Rebuilds the client stream from captured segments, first copy wins; `None` marks
    /// bytes never captured.
    fn rebuild(segs: &[Seg], isn: u32, len: usize) -> Vec<Option<u8>> {
        let mut out = vec![None; len];
        for (from_client, seq, _, _, p) in segs {
            if !from_client || p.is_empty() {
                continue;
            }
            let off = seq.wrapping_sub(isn.wrapping_add(1)) as usize;
            for (i, b) in p.iter().enumerate() {
                if let Some(slot) = out.get_mut(off + i) {
                    slot.get_or_insert(*b);
                }
            }
        }
        out
    }

    fn request() -> Vec<u8> {
        let body = br#"{"device":"synthetic-01","note":"test payload only"}"#;
        crate::synth::traffic::http_request(
            "POST",
            "api.example.test",
            "/v1/items?id=42&lang=en",
            &[
                ("Content-Type", "application/json"),
                ("User-Agent", "leaktap-synth/1"),
            ],
            body,
        )
    }

    fn variants() -> Vec<(&'static str, Segmentation)> {
        vec![
            ("whole", Segmentation::whole()),
            ("fixed7", Segmentation::fixed(7)),
            ("single", Segmentation::single_bytes()),
            ("sizes", Segmentation::sizes(vec![1, 2, 3, 50, 0, 9])),
            ("reverse", Segmentation::fixed(10).reverse()),
            ("permute", Segmentation::fixed(13).permute(99)),
            ("dup", Segmentation::fixed(20).duplicate_all()),
            ("overlap", Segmentation::fixed(16).overlap(5, true)),
            (
                "dup_permute",
                Segmentation::fixed(11).duplicate_all().permute(3),
            ),
            ("retransmit", Segmentation::fixed(30).drop(2)),
        ]
    }

    #[test]
    fn handshake_data_close_numbers() {
        let mut c = TcpConversation::new(client(40000), server()).with_isns(100, 900);
        c.handshake()
            .client_sends(b"hello", &Segmentation::whole())
            .server_sends(b"hi", &Segmentation::whole())
            .close();
        let s = decode(c.frames(), 40000);
        let (syn, ack, psh, fin, a) = (
            TcpFlags::SYN,
            TcpFlags::ACK,
            TcpFlags::PSH,
            TcpFlags::FIN,
            TcpFlags::ACK,
        );
        let expected: Vec<(bool, u32, u32, u8, &[u8])> = vec![
            (true, 100, 0, syn, b""),            // SYN
            (false, 900, 101, syn | ack, b""),   // SYN/ACK
            (true, 101, 901, ack, b""),          // ACK
            (true, 101, 901, psh | a, b"hello"), // request
            (false, 901, 106, ack, b""),         // server ACK
            (false, 901, 106, psh | a, b"hi"),   // response
            (true, 106, 903, ack, b""),          // client ACK
            (true, 106, 903, fin | a, b""),      // client FIN
            (false, 903, 107, fin | a, b""),     // server FIN acks the client FIN
            (true, 107, 904, ack, b""),          // last ACK
        ];
        assert_eq!(s.len(), expected.len());
        for (got, want) in s.iter().zip(&expected) {
            assert_eq!((got.0, got.1, got.2, got.3, got.4.as_slice()), *want);
        }
        assert_eq!(c.stats().frames, 10);
        assert_eq!(c.stats().data_segments, 2);
        let ts: Vec<i64> = c.frames().iter().map(|f| f.0).collect();
        assert!(ts.windows(2).all(|w| w[1] - w[0] == DEFAULT_STEP_MICROS));
    }

    #[test]
    fn plans_cover_data() {
        let data: Vec<u8> = (0..100u8).collect();
        let lens = |s: &Segmentation| {
            s.plan(&data)
                .iter()
                .map(|p| p.bytes.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(lens(&Segmentation::whole()), vec![100]);
        assert_eq!(lens(&Segmentation::fixed(40)), vec![40, 40, 20]);
        assert_eq!(lens(&Segmentation::fixed(0)), vec![100]);
        assert_eq!(lens(&Segmentation::sizes(vec![0, 10, 5])), vec![10, 5, 85]);
        assert_eq!(lens(&Segmentation::sizes(vec![60, 60, 60])), vec![60, 40]);
        assert_eq!(Segmentation::single_bytes().plan(&data).len(), 100);
        let rev = Segmentation::fixed(40).reverse().plan(&data);
        assert_eq!(
            rev.iter().map(|p| p.offset).collect::<Vec<_>>(),
            vec![80, 40, 0]
        );
        let perm = Segmentation::fixed(10).permute(5).plan(&data);
        let mut offs: Vec<usize> = perm.iter().map(|p| p.offset).collect();
        assert_eq!(perm, Segmentation::fixed(10).permute(5).plan(&data));
        assert_ne!(offs, (0..10).map(|i| i * 10).collect::<Vec<_>>());
        offs.sort_unstable();
        assert_eq!(offs, (0..10).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(Segmentation::fixed(50).duplicate_all().plan(&data).len(), 4);
    }

    #[test]
    fn overlap_resends_previous_bytes() {
        let data = b"abcdefghij";
        let same = Segmentation::fixed(4).overlap(2, true).plan(data);
        assert_eq!(same[0].bytes, b"abcd");
        assert_eq!(
            (same[1].offset, same[1].bytes.as_slice()),
            (2, &b"cdefgh"[..])
        );
        assert_eq!(
            (same[2].offset, same[2].bytes.as_slice()),
            (6, &b"ghij"[..])
        );
        let diff = Segmentation::fixed(4).overlap(2, false).plan(data);
        assert_eq!(diff[1].bytes, b"XXefgh");
        assert_eq!(diff[2].bytes, b"XXij");
    }

    #[test]
    fn every_variant_rebuilds_the_request() {
        let req = request();
        for (name, seg) in variants() {
            let mut c = TcpConversation::new(client(40100), server());
            c.handshake().client_sends(&req, &seg);
            let segs = decode(c.frames(), 40100);
            let rebuilt: Vec<u8> = rebuild(&segs, 1000, req.len())
                .into_iter()
                .map(|b| b.unwrap())
                .collect();
            assert_eq!(rebuilt, req, "{name}");
            // The server's last ACK covers the whole request.
            let last_ack = segs.iter().rev().find(|s| !s.0).unwrap().2;
            assert_eq!(last_ack, 1001 + req.len() as u32, "{name}");
            // ACKs never go backwards.
            let acks: Vec<u32> = segs.iter().filter(|s| !s.0).map(|s| s.2).collect();
            assert!(acks.windows(2).all(|w| w[1] >= w[0]), "{name}: {acks:?}");
        }
    }

    #[test]
    fn drop_modes_shape_holes_and_acks() {
        let data = vec![b'z'; 100];
        let hole_start = 1001 + 20;
        let run = |mode: DropMode| {
            let mut c = TcpConversation::new(client(40200), server());
            c.handshake()
                .client_sends(&data, &Segmentation::fixed(10).drop_with(2, mode));
            (decode(c.frames(), 40200), c.stats())
        };
        let (segs, st) = run(DropMode::CaptureLoss);
        let rebuilt = rebuild(&segs, 1000, 100);
        assert!(rebuilt[20..30].iter().all(Option::is_none));
        assert_eq!(segs.iter().rfind(|s| !s.0).unwrap().2, 1101);
        assert_eq!(st.segments_not_captured, 1);

        let (segs, _) = run(DropMode::Lost);
        let acks: Vec<u32> = segs
            .iter()
            .filter(|s| !s.0 && s.3 == TcpFlags::ACK)
            .map(|s| s.2)
            .collect();
        assert!(acks.iter().all(|&a| a <= hole_start), "{acks:?}");
        assert_eq!(*acks.last().unwrap(), hole_start); // duplicate ACKs at the hole

        let (segs, st) = run(DropMode::Retransmit);
        assert_eq!(st.retransmissions, 1);
        let last = segs.last().unwrap();
        assert_eq!(last.2, 1101); // jump past everything buffered
        let retrans = &segs[segs.len() - 2];
        assert_eq!(retrans.1, hole_start);
        assert!(rebuild(&segs, 1000, 100).iter().all(Option::is_some));
    }

    #[test]
    fn isn_wraps_around() {
        let isn = u32::MAX - 5;
        let req = request();
        let mut c = TcpConversation::new(client(40300), server()).with_isns(isn, u32::MAX);
        c.handshake()
            .client_sends(&req, &Segmentation::fixed(4))
            .close();
        let segs = decode(c.frames(), 40300);
        assert!(segs.iter().any(|s| s.0 && s.1 < 100)); // wrapped past zero
        let rebuilt: Vec<u8> = rebuild(&segs, isn, req.len())
            .into_iter()
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(rebuilt, req);
    }

    #[test]
    fn receiver_merges_out_of_order_ranges() {
        let mut r = Receiver::default();
        r.receive(10, 20);
        r.receive(30, 40);
        assert_eq!(r.next, 0);
        r.receive(0, 10);
        assert_eq!(r.next, 20);
        r.receive(15, 35);
        assert_eq!(r.next, 40);
        assert!(r.pending.is_empty());
        r.fin_at = Some(40);
        assert_eq!(r.ack_offset(), 41);
    }

    fn write(stem: &str, frames: &[(i64, Vec<u8>)]) -> std::path::PathBuf {
        let path = tshark::temp_path(stem, "pcap");
        let file = std::fs::File::create(&path).unwrap();
        let mut w = PcapWriter::new(file, LinkType::ETHERNET).unwrap();
        for (ts, f) in frames {
            w.write_packet(*ts, f).unwrap();
        }
        w.into_inner().unwrap();
        path
    }

    #[test]
    fn tshark_reassembles_every_variant() {
        let req = request();
        let mut frames = Vec::new();
        let mut t = DEFAULT_START_MICROS;
        let names: Vec<&str> = variants().iter().map(|v| v.0).collect();
        for (i, (_, seg)) in variants().into_iter().enumerate() {
            let mut c =
                TcpConversation::new(client(41000 + i as u16), server()).with_start_micros(t);
            c.handshake().client_sends(&req, &seg);
            c.server_sends(b"HTTP/1.1 204 No Content\r\n\r\n", &Segmentation::whole())
                .close();
            t = c.now_micros() + 1000;
            frames.extend(c.take_frames());
        }
        // Wraparound and IPv6 with two VLAN tags.
        let mut c = TcpConversation::new(client(42000), server())
            .with_isns(u32::MAX - 3, u32::MAX - 1)
            .with_start_micros(t);
        c.handshake()
            .client_sends(&req, &Segmentation::fixed(9))
            .close();
        t = c.now_micros() + 1000;
        frames.extend(c.take_frames());
        let mut c = TcpConversation::new(client6(42001), server6())
            .with_vlan_tags(&[100, 200])
            .with_start_micros(t);
        c.handshake()
            .client_sends(&req, &Segmentation::fixed(25).reverse())
            .reset();
        frames.extend(c.take_frames());
        if !tshark::available("tshark_reassembles_every_variant") {
            return;
        }
        let path = write("tcpvariants", &frames);
        tshark::assert_clean(&path);
        let rows = tshark::fields_with(
            &path,
            Some("http.request"),
            &[
                "tcp.srcport",
                "http.host",
                "http.request.uri",
                "http.file_data",
            ],
            &["-o", "tcp.reassemble_out_of_order:TRUE"],
        );
        let expect_body = hex(br#"{"device":"synthetic-01","note":"test payload only"}"#);
        assert_eq!(rows.len(), names.len() + 2, "{rows:?}");
        for row in &rows {
            let cols: Vec<&str> = row.split('|').collect();
            assert_eq!(cols[1], "api.example.test", "{row}");
            assert_eq!(cols[2], "/v1/items?id=42&lang=en", "{row}");
            assert!(
                cols[3] == expect_body || cols[3].contains("synthetic-01"),
                "{row}"
            );
        }
        tshark::remove(&path);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn tshark_flags_capture_loss_and_sees_tunnels() {
        let req = request();
        let mut c = TcpConversation::new(client(43000), server());
        c.handshake().client_sends(
            &req,
            &Segmentation::fixed(20).drop_with(1, DropMode::CaptureLoss),
        );
        let mut frames = c.take_frames();
        let path4 = |n: u8| TunnelPath {
            src_mac: [2, 0, 0, 0, 9, 1],
            dst_mac: [2, 0, 0, 0, 9, 2],
            src_ip: Ipv4Addr::new(203, 0, 113, n).into(),
            dst_ip: Ipv4Addr::new(203, 0, 113, 250).into(),
        };
        let tunnels = vec![
            Tunnel::Gre {
                path: path4(1),
                key: Some(7),
            },
            Tunnel::Erspan2 {
                path: path4(2),
                session_id: 12,
            },
            Tunnel::Erspan3 {
                path: path4(3),
                session_id: 13,
            },
            Tunnel::Vxlan {
                path: path4(4),
                vni: 4242,
            },
            Tunnel::Custom(Box::new(|inner: &[u8]| inner.to_vec())),
        ];
        let mut t = DEFAULT_START_MICROS + 1_000_000;
        for (i, tun) in tunnels.into_iter().enumerate() {
            let mut c = TcpConversation::new(client(43100 + i as u16), server())
                .with_tunnel(tun)
                .with_start_micros(t);
            c.handshake()
                .client_sends(&req, &Segmentation::fixed(64))
                .close();
            t = c.now_micros();
            frames.extend(c.take_frames());
        }
        if !tshark::available("tshark_flags_capture_loss_and_sees_tunnels") {
            return;
        }
        let path = write("tcploss", &frames);
        tshark::assert_clean(&path);
        let lost = tshark::fields(
            &path,
            Some("tcp.analysis.ack_lost_segment"),
            &["tcp.dstport"],
        );
        assert!(
            !lost.is_empty() && lost.iter().all(|r| r == "43000"),
            "{lost:?}"
        );
        let rows = tshark::fields(
            &path,
            Some("http.request"),
            &["tcp.srcport", "http.request.uri"],
        );
        let ports: Vec<&str> = rows.iter().map(|r| r.split('|').next().unwrap()).collect();
        assert_eq!(
            ports,
            vec!["43100", "43101", "43102", "43103", "43104"],
            "{rows:?}"
        );
        tshark::remove(&path);
    }
}
