//! Flows: the bidirectional 5-tuple table of one worker.
//!
//! Owns: [`FlowKey`] (direction-independent), client/server orientation, per-direction
//! packet and byte counters, idle timeouts per protocol, the maximum flow count with
//! eviction, and the Community ID v1 of every flow. Each flow carries a payload `S`
//! chosen by the caller (the pipeline keeps reassembly and protocol state there), so this
//! module knows nothing of the stages to its right.
//!
//! Takes: decoded packet addresses and the packet time. Emits: `(flow, direction)` for
//! each packet, and ended flows (timed out, evicted, flushed) through a callback.
//! Must not: read the clock (time is the packet timestamp), or allocate per packet.

mod community_id;
mod table;

pub use community_id::community_id_v1;
pub use table::{EndReason, Flow, FlowLimits, FlowMeta, FlowState, FlowStats, FlowTable};

use std::net::IpAddr;

/// Direction of a packet or byte stream relative to the flow's client (initiator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ToClient,
    ToServer,
}

impl Direction {
    /// Index into per-direction arrays: 0 = to server, 1 = to client.
    pub const fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    pub const fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "toserver",
            Direction::ToClient => "toclient",
        }
    }
}

/// IP protocol number of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Proto(pub u8);

impl Proto {
    pub const ICMP: Proto = Proto(1);
    pub const TCP: Proto = Proto(6);
    pub const UDP: Proto = Proto(17);
    pub const ICMPV6: Proto = Proto(58);

    pub fn name(self) -> &'static str {
        match self {
            Proto::TCP => "tcp",
            Proto::UDP => "udp",
            Proto::ICMP => "icmp",
            Proto::ICMPV6 => "ipv6-icmp",
            _ => "other",
        }
    }
}

/// Direction-independent identity of a flow: the two endpoints in canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo_addr: IpAddr,
    hi_addr: IpAddr,
    lo_port: u16,
    hi_port: u16,
    proto: Proto,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is the key's low endpoint.
    pub fn new(
        src: IpAddr,
        src_port: u16,
        dst: IpAddr,
        dst_port: u16,
        proto: Proto,
    ) -> (FlowKey, bool) {
        let src_is_lo = (src, src_port) <= (dst, dst_port);
        let key = if src_is_lo {
            FlowKey {
                lo_addr: src,
                hi_addr: dst,
                lo_port: src_port,
                hi_port: dst_port,
                proto,
            }
        } else {
            FlowKey {
                lo_addr: dst,
                hi_addr: src,
                lo_port: dst_port,
                hi_port: src_port,
                proto,
            }
        };
        (key, src_is_lo)
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// A hash that is the same for both directions of a flow, for pinning a flow to one
    /// worker. Not keyed: it only spreads load, the per-worker table uses a seeded hasher.
    pub fn symmetric_hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for addr in [self.lo_addr, self.hi_addr] {
            match addr {
                IpAddr::V4(a) => mix(&a.octets()),
                IpAddr::V6(a) => mix(&a.octets()),
            }
        }
        mix(&self.lo_port.to_be_bytes());
        mix(&self.hi_port.to_be_bytes());
        mix(&[self.proto.0]);
        h
    }
}
