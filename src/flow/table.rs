//! The per-worker flow table: lookup, creation with client/server orientation, idle
//! expiry by packet time, and eviction at the configured maximum.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::capture::Timestamp;

use super::{community_id_v1, Direction, FlowKey, Proto};

/// Maximum flows tracked by one worker. At about 1 KiB of state per idle flow this bounds
/// the table near 256 MiB even for a mirror port full of scanners.
pub const DEFAULT_MAX_FLOWS: u32 = 262_144;
/// A TCP flow that has not completed its handshake dies quickly: SYN floods and probes.
pub const DEFAULT_TCP_NEW_TIMEOUT_SECS: u32 = 60;
/// Push and long-poll channels of SDKs idle for minutes between heartbeats.
pub const DEFAULT_TCP_ESTABLISHED_TIMEOUT_SECS: u32 = 600;
/// After FIN in both directions or a RST only stragglers remain.
pub const DEFAULT_TCP_CLOSED_TIMEOUT_SECS: u32 = 10;
pub const DEFAULT_UDP_TIMEOUT_SECS: u32 = 60;
/// DNS exchanges are one query and one answer.
pub const DEFAULT_DNS_TIMEOUT_SECS: u32 = 10;
pub const DEFAULT_OTHER_TIMEOUT_SECS: u32 = 60;
/// How many flows an eviction looks at to pick the least recently seen one.
const EVICTION_SAMPLE: usize = 32;

/// Limits and timeouts of one flow table (config section `[flow]`).
#[derive(Clone, Debug)]
pub struct FlowLimits {
    pub max_flows: u32,
    pub tcp_new_timeout_secs: u32,
    pub tcp_established_timeout_secs: u32,
    pub tcp_closed_timeout_secs: u32,
    pub udp_timeout_secs: u32,
    pub dns_timeout_secs: u32,
    pub other_timeout_secs: u32,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_flows: DEFAULT_MAX_FLOWS,
            tcp_new_timeout_secs: DEFAULT_TCP_NEW_TIMEOUT_SECS,
            tcp_established_timeout_secs: DEFAULT_TCP_ESTABLISHED_TIMEOUT_SECS,
            tcp_closed_timeout_secs: DEFAULT_TCP_CLOSED_TIMEOUT_SECS,
            udp_timeout_secs: DEFAULT_UDP_TIMEOUT_SECS,
            dns_timeout_secs: DEFAULT_DNS_TIMEOUT_SECS,
            other_timeout_secs: DEFAULT_OTHER_TIMEOUT_SECS,
        }
    }
}

/// TCP connection state as far as timeouts care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// Both directions finished (FIN) or a RST was seen.
    Closed,
    /// Data or a completed handshake seen.
    Established,
    /// Only a SYN (or nothing TCP-specific) so far.
    New,
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Closed => "closed",
            FlowState::Established => "established",
            FlowState::New => "new",
        }
    }
}

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The table was full and this flow was the least recently seen of a sample.
    Evicted,
    /// End of input or shutdown.
    Flushed,
    /// Idle longer than its protocol's timeout.
    Timeout,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Evicted => "evicted",
            EndReason::Flushed => "flushed",
            EndReason::Timeout => "timeout",
        }
    }
}

/// What the table needs to know about a packet to find or create its flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub proto: Proto,
    /// TCP flags byte when TCP (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10), else 0.
    pub tcp_flags: u8,
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
}

/// One bidirectional flow with the caller's state `S`.
#[derive(Debug)]
pub struct Flow<S> {
    /// Unique within the run: worker index in the top 8 bits, a counter below.
    pub id: u64,
    pub proto: Proto,
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
    pub client_mac: Option<[u8; 6]>,
    pub server_mac: Option<[u8; 6]>,
    pub community_id: String,
    pub start: Timestamp,
    pub last_seen: Timestamp,
    /// Indexed by [`Direction::index`].
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub state: FlowState,
    fin_seen: [bool; 2],
    /// True when orientation came from a SYN; false when guessed from ports.
    pub handshake_seen: bool,
    pub state_data: S,
}

impl<S> Flow<S> {
    fn timeout_secs(&self, limits: &FlowLimits) -> u32 {
        match self.proto {
            Proto::TCP => match self.state {
                FlowState::New => limits.tcp_new_timeout_secs,
                FlowState::Established => limits.tcp_established_timeout_secs,
                FlowState::Closed => limits.tcp_closed_timeout_secs,
            },
            Proto::UDP if self.server_port == 53 || self.server_port == 5353 => {
                limits.dns_timeout_secs
            }
            Proto::UDP => limits.udp_timeout_secs,
            _ => limits.other_timeout_secs,
        }
    }

    fn update_tcp_state(&mut self, dir: Direction, flags: u8) {
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        const ACK: u8 = 0x10;
        if flags & RST != 0 {
            self.state = FlowState::Closed;
            return;
        }
        if flags & FIN != 0 {
            self.fin_seen[dir.index()] = true;
            if self.fin_seen[0] && self.fin_seen[1] {
                self.state = FlowState::Closed;
                return;
            }
        }
        if self.state == FlowState::New && (flags & ACK != 0 && flags & SYN == 0) {
            self.state = FlowState::Established;
        }
    }
}

/// Counters of one flow table; the pipeline adds them up across workers.
#[derive(Clone, Debug, Default)]
pub struct FlowStats {
    pub created: u64,
    pub created_tcp: u64,
    pub created_udp: u64,
    pub created_other: u64,
    pub timed_out: u64,
    pub evicted: u64,
    pub flushed: u64,
    pub active: u64,
    /// Flows whose client side had to be guessed from ports (no SYN seen).
    pub midstream: u64,
}

/// The flows of one worker, keyed by a randomly seeded hash (the keys are chosen by
/// whoever sends packets).
pub struct FlowTable<S> {
    flows: HashMap<FlowKey, Flow<S>, ahash::RandomState>,
    limits: FlowLimits,
    worker: u8,
    next_id: u64,
    last_expiry: Timestamp,
    stats: FlowStats,
}

impl<S> FlowTable<S> {
    pub fn new(limits: FlowLimits, worker: u8) -> Self {
        let capacity = (limits.max_flows as usize).min(16_384);
        FlowTable {
            flows: HashMap::with_capacity_and_hasher(capacity, ahash::RandomState::new()),
            limits,
            worker,
            next_id: 1,
            last_expiry: Timestamp::default(),
            stats: FlowStats::default(),
        }
    }

    pub fn stats(&self) -> FlowStats {
        let mut stats = self.stats.clone();
        stats.active = self.flows.len() as u64;
        stats
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Finds the flow of a packet, creating it (oriented client → server) if new.
    /// Flows pushed out to make room are handed to `ended` first. Also counts the packet.
    pub fn packet(
        &mut self,
        meta: &FlowMeta,
        wire_len: u32,
        ts: Timestamp,
        make_state: impl FnOnce() -> S,
        ended: &mut impl FnMut(Flow<S>, EndReason),
    ) -> (&mut Flow<S>, Direction) {
        let (key, src_is_lo) =
            FlowKey::new(meta.src, meta.src_port, meta.dst, meta.dst_port, meta.proto);
        if !self.flows.contains_key(&key) {
            if self.flows.len() >= self.limits.max_flows as usize {
                self.evict_one(ended);
            }
            let flow = self.create(meta, ts, make_state());
            self.flows.insert(key, flow);
        }
        // The entry exists: it was either found or inserted just above.
        let flow = self
            .flows
            .get_mut(&key)
            .unwrap_or_else(|| unreachable!("flow inserted above"));
        let from_client = (flow.client, flow.client_port) == (meta.src, meta.src_port)
            && (flow.server, flow.server_port) == (meta.dst, meta.dst_port);
        // A flow between one address and itself on one port pair is degenerate; the key
        // ordering decides.
        let dir = if from_client
            || (meta.src == meta.dst && meta.src_port == meta.dst_port && src_is_lo)
        {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        flow.last_seen = flow.last_seen.max(ts);
        flow.packets[dir.index()] += 1;
        flow.bytes[dir.index()] += u64::from(wire_len);
        if flow.proto == Proto::TCP {
            flow.update_tcp_state(dir, meta.tcp_flags);
        } else if flow.packets[1] > 0 {
            flow.state = FlowState::Established;
        }
        (flow, dir)
    }

    fn create(&mut self, meta: &FlowMeta, ts: Timestamp, state_data: S) -> Flow<S> {
        const SYN: u8 = 0x02;
        const ACK: u8 = 0x10;
        let syn = meta.tcp_flags & SYN != 0;
        let ack = meta.tcp_flags & ACK != 0;
        let (src_is_client, handshake_seen) = if meta.proto == Proto::TCP && syn && !ack {
            (true, true)
        } else if meta.proto == Proto::TCP && syn && ack {
            (false, true)
        } else {
            (!looks_like_server_port(meta.src_port, meta.dst_port), false)
        };
        let (client, client_port, client_mac, server, server_port, server_mac) = if src_is_client {
            (
                meta.src,
                meta.src_port,
                meta.src_mac,
                meta.dst,
                meta.dst_port,
                meta.dst_mac,
            )
        } else {
            (
                meta.dst,
                meta.dst_port,
                meta.dst_mac,
                meta.src,
                meta.src_port,
                meta.src_mac,
            )
        };
        let id = (u64::from(self.worker) << 56) | (self.next_id & 0x00ff_ffff_ffff_ffff);
        self.next_id += 1;
        self.stats.created += 1;
        match meta.proto {
            Proto::TCP => self.stats.created_tcp += 1,
            Proto::UDP => self.stats.created_udp += 1,
            _ => self.stats.created_other += 1,
        }
        if !handshake_seen && meta.proto == Proto::TCP {
            self.stats.midstream += 1;
        }
        Flow {
            id,
            proto: meta.proto,
            client,
            client_port,
            server,
            server_port,
            client_mac,
            server_mac,
            community_id: community_id_v1(client, client_port, server, server_port, meta.proto, 0),
            start: ts,
            last_seen: ts,
            packets: [0; 2],
            bytes: [0; 2],
            state: FlowState::New,
            fin_seen: [false; 2],
            handshake_seen,
            state_data,
        }
    }

    /// Removes the least recently seen flow among a sample of the table.
    fn evict_one(&mut self, ended: &mut impl FnMut(Flow<S>, EndReason)) {
        let victim = self
            .flows
            .iter()
            .take(EVICTION_SAMPLE)
            .min_by_key(|(_, f)| (f.state != FlowState::Closed, f.last_seen))
            .map(|(k, _)| *k);
        if let Some(key) = victim {
            if let Some(flow) = self.flows.remove(&key) {
                self.stats.evicted += 1;
                ended(flow, EndReason::Evicted);
            }
        }
    }

    /// Ends flows idle past their timeout. Cheap to call per packet: it scans the table
    /// at most once per second of packet time.
    pub fn expire(&mut self, now: Timestamp, ended: &mut impl FnMut(Flow<S>, EndReason)) {
        if now.micros_since(self.last_expiry) < 1_000_000 {
            return;
        }
        self.last_expiry = now;
        let limits = &self.limits;
        let mut expired: Vec<FlowKey> = Vec::new();
        for (key, flow) in &self.flows {
            let idle = now.micros_since(flow.last_seen);
            if idle > u64::from(flow.timeout_secs(limits)) * 1_000_000 {
                expired.push(*key);
            }
        }
        for key in expired {
            if let Some(flow) = self.flows.remove(&key) {
                self.stats.timed_out += 1;
                ended(flow, EndReason::Timeout);
            }
        }
    }

    /// Ends every flow (end of input, shutdown), oldest first so output is stable.
    pub fn flush(&mut self, ended: &mut impl FnMut(Flow<S>, EndReason)) {
        let mut flows: Vec<Flow<S>> = self.flows.drain().map(|(_, f)| f).collect();
        flows.sort_by_key(|f| (f.start, f.id));
        for flow in flows {
            self.stats.flushed += 1;
            ended(flow, EndReason::Flushed);
        }
    }

    /// Looks up a live flow by id (slow: for tests and rare paths).
    pub fn find_by_id(&self, id: u64) -> Option<&Flow<S>> {
        self.flows.values().find(|f| f.id == id)
    }
}

/// Guess for flows picked up mid-stream: is the *source* port the service side?
fn looks_like_server_port(src_port: u16, dst_port: u16) -> bool {
    let well_known = |p: u16| {
        p < 1024
            || matches!(
                p,
                1080 | 1883
                    | 3128
                    | 5222
                    | 5228
                    | 5353
                    | 5355
                    | 8000
                    | 8080
                    | 8081
                    | 8443
                    | 8883
                    | 8888
                    | 9000
            )
    };
    match (well_known(src_port), well_known(dst_port)) {
        (true, false) => true,
        (false, true) => false,
        (true, true) => src_port < dst_port,
        (false, false) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(src: &str, sp: u16, dst: &str, dp: u16, flags: u8) -> FlowMeta {
        FlowMeta {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: sp,
            dst_port: dp,
            proto: Proto::TCP,
            tcp_flags: flags,
            src_mac: None,
            dst_mac: None,
        }
    }

    #[test]
    fn orients_from_syn_and_from_ports() {
        let mut table: FlowTable<()> = FlowTable::new(FlowLimits::default(), 0);
        let mut ended = |_f: Flow<()>, _r: EndReason| panic!("nothing ends");
        let ts = Timestamp::from_secs(100);
        // SYN-ACK seen first: its receiver is the client.
        let (flow, dir) = table.packet(
            &meta("10.0.0.2", 443, "10.0.0.1", 40000, 0x12),
            60,
            ts,
            || (),
            &mut ended,
        );
        assert_eq!(dir, Direction::ToClient);
        assert_eq!(flow.client_port, 40000);
        let (_, dir) = table.packet(
            &meta("10.0.0.1", 40000, "10.0.0.2", 443, 0x10),
            60,
            ts,
            || (),
            &mut ended,
        );
        assert_eq!(dir, Direction::ToServer);
        // Mid-stream data from the server side: ports decide.
        let (flow, dir) = table.packet(
            &meta("10.0.0.9", 80, "10.0.0.3", 51000, 0x18),
            60,
            ts,
            || (),
            &mut ended,
        );
        assert_eq!((dir, flow.server_port), (Direction::ToClient, 80));
        assert_eq!(table.stats().created, 2);
        assert_eq!(table.stats().midstream, 1);
    }

    #[test]
    fn expires_by_protocol_timeout_and_evicts_at_the_limit() {
        let limits = FlowLimits {
            max_flows: 2,
            ..FlowLimits::default()
        };
        let mut table: FlowTable<u32> = FlowTable::new(limits, 3);
        let mut gone = Vec::new();
        let t0 = Timestamp::from_secs(1000);
        table.packet(
            &meta("10.0.0.1", 1000, "10.0.0.2", 80, 0x02),
            60,
            t0,
            || 1,
            &mut |f, r| gone.push((f.state_data, r)),
        );
        table.packet(
            &meta("10.0.0.1", 1001, "10.0.0.2", 80, 0x02),
            60,
            Timestamp::from_secs(1001),
            || 2,
            &mut |f, r| gone.push((f.state_data, r)),
        );
        // Third flow: the table is full, the least recently seen goes.
        let (flow, _) = table.packet(
            &meta("10.0.0.1", 1002, "10.0.0.2", 80, 0x02),
            60,
            Timestamp::from_secs(1002),
            || 3,
            &mut |f, r| gone.push((f.state_data, r)),
        );
        assert_eq!(flow.id >> 56, 3, "worker index in the top byte");
        assert_eq!(gone, vec![(1, EndReason::Evicted)]);
        // New TCP flows time out after 60 s idle.
        table.expire(Timestamp::from_secs(1062), &mut |f, r| {
            gone.push((f.state_data, r))
        });
        assert_eq!(gone.len(), 2);
        assert_eq!(gone[1], (2, EndReason::Timeout));
        table.flush(&mut |f, r| gone.push((f.state_data, r)));
        assert_eq!(gone[2], (3, EndReason::Flushed));
        assert!(table.is_empty());
    }
}
