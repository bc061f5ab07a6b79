//! Frame decoding: one captured frame in, a borrowed view of its innermost IP packet out.
//!
//! Owns: the link-layer, tunnel, IP and TCP/UDP header parsers, the IP [`Defragmenter`]
//! (its buffers and limits) and the decode [`Stats`].
//!
//! Takes: the capture's [`LinkType`], the captured bytes (caplen), the original frame
//! length (wire length) and the capture [`Timestamp`] of each frame.
//!
//! Emits: [`Decoded`] — a [`Packet`] describing the *innermost* IP packet and its TCP/UDP
//! part (inside VLAN tags, MPLS, PPPoE, GRE, ERSPAN, VXLAN, Geneve, GTP-U, IP-in-IP and
//! Teredo), or "fragment held", or "not IP" (ARP, LLDP, STP, …) with its class, or a dropped
//! frame with a small `Copy` [`Error`]. Every outcome is counted in [`Stats`].
//!
//! Limits: encapsulation depth ([`DEFAULT_MAX_ENCAP_DEPTH`]), VLAN tags
//! ([`DEFAULT_MAX_VLAN_TAGS`]), MPLS labels ([`DEFAULT_MAX_MPLS_LABELS`]), IPv6 extension
//! headers ([`DEFAULT_MAX_IPV6_EXT_HEADERS`]) and, for reassembly, the fragment timeout,
//! memcap, datagrams in progress and fragments per datagram (see [`defrag`]).
//!
//! Must not: panic on any input, allocate per packet (only fragment reassembly allocates,
//! under its memcap), read the clock (time is the packet's timestamp), or verify checksums.
//! IPv4 header, TCP and UDP checksums are deliberately **not** verified: on a switch mirror
//! port the sending host's NIC often computes them after the copy is taken (checksum
//! offload), so a "bad" checksum is normal there and dropping such packets would lose
//! real traffic.

pub mod defrag;
pub mod ip;
pub mod link;
pub mod transport;
pub mod tunnel;
mod wifi;

use std::net::IpAddr;

use crate::capture::Timestamp;

pub use defrag::{DefragLimits, Defragmenter, FragmentRefusal, FragmentStats};
pub use link::{EtherType, LinkType, NotIpClass, PppProtocol};

/// Default maximum number of nested headers started inside the outermost link header
/// (each tunnel, inner Ethernet or inner IP header counts one). Real deployments nest at
/// most 3–4 (ERSPAN → Ethernet → VXLAN → Ethernet → IP); 8 leaves room and stops
/// crafted matryoshka frames from costing more than a few header parses.
pub const DEFAULT_MAX_ENCAP_DEPTH: u8 = 8;

/// Default maximum number of VLAN tags parsed in one Ethernet header. QinQinQ is 3;
/// anything deeper than 8 is crafted.
pub const DEFAULT_MAX_VLAN_TAGS: u8 = 8;

/// Default maximum number of MPLS labels walked to the bottom of the stack. Carrier
/// stacks rarely exceed 5 labels (transport, service, entropy pair, …).
pub const DEFAULT_MAX_MPLS_LABELS: u8 = 16;

/// Default maximum number of IPv6 extension headers walked. RFC 8200 §4.1 recommends at
/// most one of each kind (destination options twice), about 8; 16 tolerates odd stacks.
pub const DEFAULT_MAX_IPV6_EXT_HEADERS: u8 = 16;

/// Number of VLAN ids kept in a [`VlanStack`] (QinQinQ plus one).
pub const MAX_KEPT_VLAN_IDS: usize = 4;

/// Decoder limits. Build with [`Limits::default`] and adjust fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nested headers inside the outermost link header; beyond it the frame is
    /// dropped with [`Error::EncapTooDeep`].
    pub max_encap_depth: u8,
    /// Maximum VLAN tags in one Ethernet header; beyond it [`Error::TooManyVlanTags`].
    pub max_vlan_tags: u8,
    /// Maximum MPLS labels; beyond it [`Error::Malformed`] at [`Layer::Mpls`].
    pub max_mpls_labels: u8,
    /// Maximum IPv6 extension headers; beyond it [`Error::BadIpv6Extension`].
    pub max_ipv6_ext_headers: u8,
    /// Fragment reassembly limits.
    pub defrag: DefragLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_encap_depth: DEFAULT_MAX_ENCAP_DEPTH,
            max_vlan_tags: DEFAULT_MAX_VLAN_TAGS,
            max_mpls_labels: DEFAULT_MAX_MPLS_LABELS,
            max_ipv6_ext_headers: DEFAULT_MAX_IPV6_EXT_HEADERS,
            defrag: DefragLimits::default(),
        }
    }
}

/// IP protocol number (IPv4 protocol / IPv6 next header). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProto(pub u8);

impl IpProto {
    pub const HOPOPT: IpProto = IpProto(0);
    pub const ICMP: IpProto = IpProto(1);
    pub const IGMP: IpProto = IpProto(2);
    pub const IPV4: IpProto = IpProto(4);
    pub const TCP: IpProto = IpProto(6);
    pub const UDP: IpProto = IpProto(17);
    pub const IPV6: IpProto = IpProto(41);
    pub const IPV6_ROUTE: IpProto = IpProto(43);
    pub const IPV6_FRAG: IpProto = IpProto(44);
    pub const GRE: IpProto = IpProto(47);
    pub const ESP: IpProto = IpProto(50);
    pub const AH: IpProto = IpProto(51);
    pub const ICMPV6: IpProto = IpProto(58);
    pub const IPV6_NO_NEXT: IpProto = IpProto(59);
    pub const IPV6_OPTS: IpProto = IpProto(60);
    pub const SCTP: IpProto = IpProto(132);
    pub const MOBILITY: IpProto = IpProto(135);
    pub const HIP: IpProto = IpProto(139);
    pub const SHIM6: IpProto = IpProto(140);
}

/// Set of encapsulations crossed on the way to the innermost IP packet (bit flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Encap(u16);

impl Encap {
    pub const NONE: Encap = Encap(0);
    pub const ERSPAN: Encap = Encap(1 << 0);
    pub const GENEVE: Encap = Encap(1 << 1);
    pub const GRE: Encap = Encap(1 << 2);
    pub const GTP: Encap = Encap(1 << 3);
    pub const IP_IN_IP: Encap = Encap(1 << 4);
    pub const MPLS: Encap = Encap(1 << 5);
    pub const PPPOE: Encap = Encap(1 << 6);
    pub const TEREDO: Encap = Encap(1 << 7);
    pub const VXLAN: Encap = Encap(1 << 8);
    /// Every single-flag value, in bit order (index = bit number).
    pub const ALL: [Encap; 9] = [
        Encap::ERSPAN,
        Encap::GENEVE,
        Encap::GRE,
        Encap::GTP,
        Encap::IP_IN_IP,
        Encap::MPLS,
        Encap::PPPOE,
        Encap::TEREDO,
        Encap::VXLAN,
    ];

    /// Raw bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// True when every flag of `other` is set in `self`.
    pub const fn has(self, other: Encap) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when no encapsulation was crossed.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Metric label of a single flag (`"mixed"` for several, `"none"` for none).
    pub fn as_str(self) -> &'static str {
        match self {
            Encap::NONE => "none",
            Encap::ERSPAN => "erspan",
            Encap::GENEVE => "geneve",
            Encap::GRE => "gre",
            Encap::GTP => "gtp",
            Encap::IP_IN_IP => "ip_in_ip",
            Encap::MPLS => "mpls",
            Encap::PPPOE => "pppoe",
            Encap::TEREDO => "teredo",
            Encap::VXLAN => "vxlan",
            _ => "mixed",
        }
    }

    fn insert(&mut self, other: Encap) {
        self.0 |= other.0;
    }

    fn index(self) -> usize {
        self.0.trailing_zeros() as usize
    }
}

/// VLAN ids of the innermost Ethernet header, outermost tag first.
///
/// Keeps the first [`MAX_KEPT_VLAN_IDS`] ids; deeper tags are still parsed (up to
/// [`Limits::max_vlan_tags`]) and counted in [`VlanStack::total`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VlanStack {
    ids: [u16; MAX_KEPT_VLAN_IDS],
    kept: u8,
    total: u8,
}

impl VlanStack {
    /// The kept ids (12-bit VLAN identifiers), outermost first.
    pub fn as_slice(&self) -> &[u16] {
        self.ids.get(..usize::from(self.kept)).unwrap_or(&[])
    }

    /// Outermost VLAN id, if tagged.
    pub fn outer(&self) -> Option<u16> {
        self.as_slice().first().copied()
    }

    /// Number of tags parsed, including those not kept.
    pub fn total(&self) -> u8 {
        self.total
    }

    /// True when the frame carried no VLAN tag.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn push(&mut self, id: u16) {
        if let Some(slot) = self.ids.get_mut(usize::from(self.kept)) {
            *slot = id;
            self.kept += 1;
        }
        self.total = self.total.saturating_add(1);
    }
}

/// TCP flags byte (RFC 9293 §3.1, with ECE/CWR from RFC 3168).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// True when every flag of `other` is set.
    pub const fn has(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A decoded frame: the innermost IP packet and its transport part, borrowed from the
/// captured bytes or from the decoder's reassembly buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Source MAC of the innermost Ethernet header (inside ERSPAN/VXLAN the inner one:
    /// the phone's). For Linux cooked captures the sender address when it is a MAC.
    pub eth_src: Option<[u8; 6]>,
    /// Destination MAC of the innermost Ethernet header.
    pub eth_dst: Option<[u8; 6]>,
    /// VLAN tags of the innermost Ethernet header.
    pub vlan_ids: VlanStack,
    /// Encapsulations crossed.
    pub encap: Encap,
    /// Innermost IP source address.
    pub src: IpAddr,
    /// Innermost IP destination address.
    pub dst: IpAddr,
    /// Innermost upper-layer protocol (after IPv6 extension headers).
    pub ip_proto: IpProto,
    /// True when the packet was rebuilt from fragments (the frame fields describe the
    /// frame carrying the completing fragment).
    pub defragmented: bool,
    /// True when the frame was cut by the capture snaplen (caplen < wire length).
    pub truncated: bool,
    /// The transport part.
    pub transport: Transport<'a>,
}

/// Transport part of a [`Packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    /// ICMPv4 or ICMPv6 (not decoded further).
    Icmp,
    /// Any other protocol, ESP, "no next header", or a tunnel packet without inner packet.
    Other,
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
}

/// A TCP segment view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Payload bytes present in the capture (Ethernet padding excluded).
    pub payload: &'a [u8],
    /// Payload bytes the IP length says exist beyond the captured bytes (snaplen cut).
    pub missing_bytes: u32,
}

/// A UDP datagram view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    /// Payload bytes present in the capture, trimmed to the UDP length.
    pub payload: &'a [u8],
    /// Payload bytes the UDP/IP length says exist beyond the captured bytes.
    pub missing_bytes: u32,
}

/// Outcome of [`Decoder::decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The frame was dropped; the reason is counted in [`Stats`].
    Dropped(Error),
    /// A fragment was stored (or was an exact duplicate); nothing to emit yet.
    FragmentHeld,
    /// Not an IP frame (ARP, LLDP, STP, PPP control, …).
    NotIp(NotIpClass),
    Packet(Packet<'a>),
}

/// Header layer named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Erspan,
    Ethernet,
    Gre,
    /// IEEE 802.11 (Wi-Fi) MAC header.
    Ieee80211,
    Ipv4,
    Ipv6,
    Ipv6Extension,
    LinuxSll,
    LinuxSll2,
    Loopback,
    Mpls,
    Nflog,
    Ppp,
    Pppoe,
    Radiotap,
    Tcp,
    Udp,
    Vlan,
}

impl Layer {
    /// snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Erspan => "erspan",
            Layer::Ethernet => "ethernet",
            Layer::Gre => "gre",
            Layer::Ieee80211 => "ieee802_11",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Ipv6Extension => "ipv6_extension",
            Layer::LinuxSll => "linux_sll",
            Layer::LinuxSll2 => "linux_sll2",
            Layer::Loopback => "loopback",
            Layer::Mpls => "mpls",
            Layer::Nflog => "nflog",
            Layer::Ppp => "ppp",
            Layer::Pppoe => "pppoe",
            Layer::Radiotap => "radiotap",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Vlan => "vlan",
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a frame was dropped. Small and `Copy`; one frame never aborts the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// IPv4 header length below 20 bytes or total length below the header length.
    #[error("bad ipv4 header")]
    BadIpHeader,
    /// The IP version nibble is not the expected 4 or 6.
    #[error("bad ip version {0}")]
    BadIpVersion(u8),
    /// IPv6 extension header chain invalid (hop-by-hop not first, AH length 0, too long).
    #[error("bad ipv6 extension header chain")]
    BadIpv6Extension,
    /// TCP data offset below 5 words.
    #[error("bad tcp header")]
    BadTcpHeader,
    /// UDP length field below 8 (and not the jumbogram 0).
    #[error("bad udp header")]
    BadUdpHeader,
    /// More nested headers than [`Limits::max_encap_depth`].
    #[error("encapsulation too deep")]
    EncapTooDeep,
    /// The fragment could not be stored or its datagram was refused.
    #[error("fragment refused: {0}")]
    FragmentRefused(FragmentRefusal),
    /// A header field is inconsistent (unknown version, bad flags, bad length).
    #[error("malformed {layer} header")]
    Malformed { layer: Layer },
    /// More VLAN tags than [`Limits::max_vlan_tags`].
    #[error("too many vlan tags")]
    TooManyVlanTags,
    /// The captured bytes end inside a header.
    #[error("truncated {layer} header")]
    Truncated { layer: Layer },
    /// The capture's link type is not decoded.
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(u32),
}

impl Error {
    /// The anomaly counter this error bumps.
    pub fn anomaly_kind(self) -> AnomalyKind {
        match self {
            Error::BadIpHeader => AnomalyKind::BadIpHeader,
            Error::BadIpVersion(_) => AnomalyKind::BadIpVersion,
            Error::BadIpv6Extension => AnomalyKind::BadIpv6Extension,
            Error::BadTcpHeader => AnomalyKind::BadTcpHeader,
            Error::BadUdpHeader => AnomalyKind::BadUdpHeader,
            Error::EncapTooDeep => AnomalyKind::EncapTooDeep,
            Error::FragmentRefused(_) => AnomalyKind::FragmentRefused,
            Error::Malformed { .. } => AnomalyKind::MalformedHeader,
            Error::TooManyVlanTags => AnomalyKind::TooManyVlanTags,
            Error::Truncated { .. } => AnomalyKind::TruncatedHeader,
            Error::UnsupportedLinkType(_) => AnomalyKind::UnsupportedLinkType,
        }
    }
}

/// Kinds of anomaly counted in [`Stats`]; the drop reasons plus tolerated oddities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    BadIpHeader,
    BadIpVersion,
    BadIpv6Extension,
    BadTcpHeader,
    BadUdpHeader,
    EncapTooDeep,
    /// An exact duplicate fragment, ignored.
    FragmentDuplicate,
    /// Fragments that overlap with different bytes or extents; the datagram is refused.
    FragmentOverlap,
    /// A fragment dropped for any reason (overlap, memcap, limits, …).
    FragmentRefused,
    /// IP length 0 or beyond the captured bytes in an uncut frame (TSO/GSO); captured
    /// bytes used instead.
    IpLengthMismatch,
    MalformedHeader,
    /// The frame was cut by the snaplen.
    SnaplenTruncated,
    TooManyVlanTags,
    TruncatedHeader,
    /// UDP length beyond the IP payload in an uncut frame; captured bytes used.
    UdpLengthMismatch,
    UnsupportedLinkType,
    /// More VLAN tags than [`MAX_KEPT_VLAN_IDS`] (parsed, not all kept).
    VlanIdsNotKept,
}

impl AnomalyKind {
    /// Every kind, in declaration order (index = position).
    pub const ALL: [AnomalyKind; 17] = [
        AnomalyKind::BadIpHeader,
        AnomalyKind::BadIpVersion,
        AnomalyKind::BadIpv6Extension,
        AnomalyKind::BadTcpHeader,
        AnomalyKind::BadUdpHeader,
        AnomalyKind::EncapTooDeep,
        AnomalyKind::FragmentDuplicate,
        AnomalyKind::FragmentOverlap,
        AnomalyKind::FragmentRefused,
        AnomalyKind::IpLengthMismatch,
        AnomalyKind::MalformedHeader,
        AnomalyKind::SnaplenTruncated,
        AnomalyKind::TooManyVlanTags,
        AnomalyKind::TruncatedHeader,
        AnomalyKind::UdpLengthMismatch,
        AnomalyKind::UnsupportedLinkType,
        AnomalyKind::VlanIdsNotKept,
    ];

    /// snake_case metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::BadIpHeader => "bad_ip_header",
            AnomalyKind::BadIpVersion => "bad_ip_version",
            AnomalyKind::BadIpv6Extension => "bad_ipv6_extension",
            AnomalyKind::BadTcpHeader => "bad_tcp_header",
            AnomalyKind::BadUdpHeader => "bad_udp_header",
            AnomalyKind::EncapTooDeep => "encap_too_deep",
            AnomalyKind::FragmentDuplicate => "fragment_duplicate",
            AnomalyKind::FragmentOverlap => "fragment_overlap",
            AnomalyKind::FragmentRefused => "fragment_refused",
            AnomalyKind::IpLengthMismatch => "ip_length_mismatch",
            AnomalyKind::MalformedHeader => "malformed_header",
            AnomalyKind::SnaplenTruncated => "snaplen_truncated",
            AnomalyKind::TooManyVlanTags => "too_many_vlan_tags",
            AnomalyKind::TruncatedHeader => "truncated_header",
            AnomalyKind::UdpLengthMismatch => "udp_length_mismatch",
            AnomalyKind::UnsupportedLinkType => "unsupported_link_type",
            AnomalyKind::VlanIdsNotKept => "vlan_ids_not_kept",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Decoder counters (worker-local, plain u64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames given to [`Decoder::decode`].
    pub packets: u64,
    /// Sum of their wire lengths.
    pub bytes: u64,
    /// Frames that produced a [`Packet`] (including reassembled datagrams).
    pub decoded: u64,
    /// Frames dropped with an [`Error`].
    pub dropped: u64,
    /// Frames held as fragments.
    pub fragments_held: u64,
    /// Frames that were not IP.
    pub not_ip: u64,
    /// Fragment reassembly counters (copied from the [`Defragmenter`]).
    pub fragments: FragmentStats,
    anomalies: [u64; AnomalyKind::ALL.len()],
    not_ip_by_class: [u64; NotIpClass::ALL.len()],
    encap_seen: [u64; Encap::ALL.len()],
}

impl Stats {
    /// Count of one anomaly kind.
    pub fn anomaly(&self, kind: AnomalyKind) -> u64 {
        self.anomalies.get(kind.index()).copied().unwrap_or(0)
    }

    /// Count of non-IP frames of one class.
    pub fn not_ip(&self, class: NotIpClass) -> u64 {
        self.not_ip_by_class
            .get(class.index())
            .copied()
            .unwrap_or(0)
    }

    /// Frames that crossed one encapsulation (a single flag), counted once per frame.
    pub fn encap_seen(&self, kind: Encap) -> u64 {
        self.encap_seen.get(kind.index()).copied().unwrap_or(0)
    }

    fn bump(&mut self, kind: AnomalyKind) {
        if let Some(c) = self.anomalies.get_mut(kind.index()) {
            *c += 1;
        }
    }
}

/// Per-frame decoder; one per worker. Owns the defragmenter, limits and counters.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    defrag: Defragmenter,
    /// Output buffers for completed datagrams: one for a reassembled packet and one for
    /// a reassembled packet tunnelled inside it. Reused; capacity stays ≤ 64 KiB each.
    reassembled: [Vec<u8>; 2],
    stats: Stats,
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            defrag: Defragmenter::new(limits.defrag),
            reassembled: [Vec::new(), Vec::new()],
            stats: Stats::default(),
        }
    }

    /// Decodes one frame. `captured` holds the bytes present (caplen); `wire_len` is the
    /// original frame length. The returned view borrows `captured` or, for a reassembled
    /// datagram, this decoder's buffer.
    pub fn decode<'a>(
        &'a mut self,
        link: LinkType,
        captured: &'a [u8],
        wire_len: u32,
        ts: Timestamp,
    ) -> Decoded<'a> {
        let Decoder {
            limits,
            defrag,
            reassembled,
            stats,
        } = self;
        stats.packets += 1;
        stats.bytes += u64::from(wire_len);
        let truncated = u64::try_from(captured.len()).unwrap_or(u64::MAX) < u64::from(wire_len);
        if truncated {
            stats.bump(AnomalyKind::SnaplenTruncated);
        }
        let [first, second] = reassembled;
        let mut walk = Walk {
            limits: &*limits,
            defrag: &mut *defrag,
            stats: &mut *stats,
            spare: [Some(first), Some(second)],
            ts,
            ctx: Ctx {
                truncated,
                ..Ctx::default()
            },
        };
        let outcome = walk.run(link, captured);
        let encap = walk.ctx.encap;
        stats.fragments = *defrag.stats();
        for kind in Encap::ALL {
            if encap.has(kind) {
                if let Some(c) = stats.encap_seen.get_mut(kind.index()) {
                    *c += 1;
                }
            }
        }
        match outcome {
            Ok(decoded) => {
                match decoded {
                    Decoded::Packet(_) => stats.decoded += 1,
                    Decoded::FragmentHeld => stats.fragments_held += 1,
                    Decoded::NotIp(class) => {
                        stats.not_ip += 1;
                        if let Some(c) = stats.not_ip_by_class.get_mut(class.index()) {
                            *c += 1;
                        }
                    }
                    Decoded::Dropped(_) => stats.dropped += 1,
                }
                decoded
            }
            Err(err) => {
                stats.dropped += 1;
                stats.bump(err.anomaly_kind());
                Decoded::Dropped(err)
            }
        }
    }

    /// Drops fragment datagrams first seen more than the timeout before `now` (packet
    /// time). Call it periodically with the latest packet timestamp.
    pub fn expire(&mut self, now: Timestamp) {
        self.defrag.expire(now);
        self.stats.fragments = *self.defrag.stats();
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The limits this decoder was built with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Limits::default())
    }
}

/// What the walk parses next.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Next<'a> {
    EtherType(EtherType, &'a [u8]),
    Ethernet(&'a [u8]),
    /// IPv4 or IPv6 chosen by the version nibble.
    Ip(&'a [u8]),
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    Mpls(&'a [u8]),
    NotIp(NotIpClass),
    /// Starts with the PPP protocol field (possibly compressed to one byte).
    Ppp(&'a [u8]),
}

/// Result of one IP-level step.
pub(crate) enum Step<'a> {
    Continue(Next<'a>),
    Done(Packet<'a>),
    Held,
}

/// Per-frame accumulated state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ctx {
    pub(crate) eth_src: Option<[u8; 6]>,
    pub(crate) eth_dst: Option<[u8; 6]>,
    pub(crate) vlans: VlanStack,
    pub(crate) encap: Encap,
    pub(crate) depth: u8,
    pub(crate) ethernet_seen: bool,
    pub(crate) truncated: bool,
    pub(crate) defragmented: bool,
}

/// One decode call: borrowed decoder parts plus the frame's context.
pub(crate) struct Walk<'a, 'w> {
    pub(crate) limits: &'w Limits,
    pub(crate) defrag: &'w mut Defragmenter,
    pub(crate) stats: &'w mut Stats,
    /// Unused reassembly buffers; each can back one completed datagram per call.
    pub(crate) spare: [Option<&'a mut Vec<u8>>; 2],
    pub(crate) ts: Timestamp,
    pub(crate) ctx: Ctx,
}

impl<'a> Walk<'a, '_> {
    /// Upper bound on loop iterations; every step consumes at least one header, so this
    /// only guards against a logic error turning into an endless loop.
    const MAX_STEPS: u32 = 256;

    fn run(&mut self, link: LinkType, captured: &'a [u8]) -> Result<Decoded<'a>, Error> {
        let mut next = link::parse_link(link, captured, &mut self.ctx)?;
        for _ in 0..Self::MAX_STEPS {
            let step = match next {
                Next::Ethernet(data) => {
                    Step::Continue(link::parse_ethernet(data, &mut self.ctx, self.limits)?)
                }
                Next::EtherType(ethertype, data) => Step::Continue(link::dispatch_ethertype(
                    ethertype,
                    data,
                    &mut self.ctx,
                    self.limits,
                    self.stats,
                )?),
                Next::Mpls(data) => {
                    Step::Continue(link::parse_mpls(data, &mut self.ctx, self.limits)?)
                }
                Next::Ppp(data) => Step::Continue(link::parse_ppp_protocol(data)?),
                Next::Ip(data) => match data.first().map(|b| b >> 4) {
                    Some(4) => self.ipv4(data)?,
                    Some(6) => self.ipv6(data)?,
                    Some(v) => return Err(Error::BadIpVersion(v)),
                    None => return Err(Error::Truncated { layer: Layer::Ipv4 }),
                },
                Next::Ipv4(data) => self.ipv4(data)?,
                Next::Ipv6(data) => self.ipv6(data)?,
                Next::NotIp(class) => return Ok(Decoded::NotIp(class)),
            };
            match step {
                Step::Continue(n) => next = n,
                Step::Done(packet) => return Ok(Decoded::Packet(packet)),
                Step::Held => return Ok(Decoded::FragmentHeld),
            }
        }
        Err(Error::EncapTooDeep)
    }
}

impl Ctx {
    /// Enters a nested header (tunnel payload): counts depth, notes the encapsulation.
    pub(crate) fn enter(&mut self, encap: Encap, limits: &Limits) -> Result<(), Error> {
        self.encap.insert(encap);
        self.depth = self.depth.saturating_add(1);
        if self.depth > limits.max_encap_depth {
            return Err(Error::EncapTooDeep);
        }
        Ok(())
    }

    /// Notes a shim (MPLS, PPPoE) that does not start a new frame.
    pub(crate) fn note(&mut self, encap: Encap) {
        self.encap.insert(encap);
    }
}

/// Reads a big-endian u16 at `at`, if present.
pub(crate) fn be16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

#[cfg(test)]
pub(crate) mod build;

#[cfg(test)]
mod tests;
