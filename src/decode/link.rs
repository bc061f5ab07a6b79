//! Link layer: pcap link types, Ethernet II and 802.3/LLC, VLAN tags, MPLS, PPPoE, PPP,
//! Linux cooked captures (SLL v1/v2), BSD loopback and NFLOG.
//!
//! Takes a frame (or the payload of a tunnel carrying Ethernet) and says what comes next:
//! an EtherType, an IP packet, or a non-IP class. Records MACs and VLAN ids in the walk
//! context. Limits: VLAN tag count and MPLS label count (see [`super::Limits`]). Must not
//! allocate or panic; every read is bounds-checked.

use super::{be16, Ctx, Encap, Error, Layer, Limits, Next, Stats};
use super::{AnomalyKind, MAX_KEPT_VLAN_IDS};

/// pcap/pcapng link type (`LINKTYPE_*` of the tcpdump.org registry). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP (RFC 1661), optionally with the RFC 1662 `ff 03` address/control prefix.
    pub const PPP: LinkType = LinkType(9);
    /// DLT_RAW as written by some systems (raw IP).
    pub const RAW_12: LinkType = LinkType(12);
    /// DLT_RAW on OpenBSD (raw IP).
    pub const RAW_14: LinkType = LinkType(14);
    /// PPP in HDLC-like framing (RFC 1662) or Cisco HDLC framing.
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// Raw IP; version from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// Cisco HDLC: address, control, EtherType.
    pub const C_HDLC: LinkType = LinkType(104);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// IEEE 802.11 frames without a radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// IEEE 802.11 frames behind a radiotap header (monitor-mode Wi-Fi captures).
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    /// Linux netfilter NFLOG messages.
    pub const NFLOG: LinkType = LinkType(239);
    /// Linux cooked capture v2 (20-byte header).
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// EtherType (IEEE 802 numbers as used by Ethernet II, SLL, GRE and Geneve).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const ARP: EtherType = EtherType(0x0806);
    /// ERSPAN type III (GRE protocol type).
    pub const ERSPAN_III: EtherType = EtherType(0x22eb);
    /// Transparent Ethernet bridging (GRE/Geneve payload is an Ethernet frame).
    pub const TEB: EtherType = EtherType(0x6558);
    pub const RARP: EtherType = EtherType(0x8035);
    /// 802.1Q customer VLAN tag.
    pub const VLAN: EtherType = EtherType(0x8100);
    pub const IPV6: EtherType = EtherType(0x86dd);
    pub const SLOW_PROTOCOLS: EtherType = EtherType(0x8809);
    /// PPP (GRE protocol type, RFC 2637).
    pub const PPP: EtherType = EtherType(0x880b);
    pub const MPLS: EtherType = EtherType(0x8847);
    pub const MPLS_MULTICAST: EtherType = EtherType(0x8848);
    pub const PPPOE_DISCOVERY: EtherType = EtherType(0x8863);
    pub const PPPOE_SESSION: EtherType = EtherType(0x8864);
    pub const EAPOL: EtherType = EtherType(0x888e);
    /// 802.1ad service VLAN tag (QinQ).
    pub const QINQ: EtherType = EtherType(0x88a8);
    /// ERSPAN type I/II (GRE protocol type).
    pub const ERSPAN_II: EtherType = EtherType(0x88be);
    pub const LLDP: EtherType = EtherType(0x88cc);
    pub const MACSEC: EtherType = EtherType(0x88e5);
    /// Pre-standard QinQ tag used by some vendors.
    pub const VLAN_9100: EtherType = EtherType(0x9100);
}

/// PPP protocol field (RFC 1661 §2). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PppProtocol(pub u16);

impl PppProtocol {
    pub const IPV4: PppProtocol = PppProtocol(0x0021);
    pub const IPV6: PppProtocol = PppProtocol(0x0057);
    pub const MPLS: PppProtocol = PppProtocol(0x0281);
    pub const MPLS_MULTICAST: PppProtocol = PppProtocol(0x0283);
    pub const IPCP: PppProtocol = PppProtocol(0x8021);
    pub const LCP: PppProtocol = PppProtocol(0xc021);
}

/// Class of a non-IP frame, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotIpClass {
    /// ARP and RARP.
    Arp,
    /// 802.1X EAP over LAN.
    Eapol,
    /// 802.3 length-framed frames with LLC (STP, CDP, …), Novell raw.
    Llc,
    Lldp,
    /// MPLS whose payload is neither IP nor a pseudowire control word.
    Mpls,
    /// Anything else (unknown EtherType, loopback family, NFLOG without payload, …).
    Other,
    /// PPP link and network control protocols (LCP, IPCP, CHAP, …).
    PppControl,
    PppoeDiscovery,
    /// LACP, OAM and other slow protocols.
    SlowProtocols,
}

impl NotIpClass {
    /// Every class, in declaration order.
    pub const ALL: [NotIpClass; 9] = [
        NotIpClass::Arp,
        NotIpClass::Eapol,
        NotIpClass::Llc,
        NotIpClass::Lldp,
        NotIpClass::Mpls,
        NotIpClass::Other,
        NotIpClass::PppControl,
        NotIpClass::PppoeDiscovery,
        NotIpClass::SlowProtocols,
    ];

    /// snake_case metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            NotIpClass::Arp => "arp",
            NotIpClass::Eapol => "eapol",
            NotIpClass::Llc => "llc",
            NotIpClass::Lldp => "lldp",
            NotIpClass::Mpls => "mpls",
            NotIpClass::Other => "other",
            NotIpClass::PppControl => "ppp_control",
            NotIpClass::PppoeDiscovery => "pppoe_discovery",
            NotIpClass::SlowProtocols => "slow_protocols",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Ethernet II header length (destination, source, EtherType).
const ETHERNET_HEADER_LEN: usize = 14;
/// Linux cooked capture v1 header length.
const SLL_HEADER_LEN: usize = 16;
/// Linux cooked capture v2 header length.
const SLL2_HEADER_LEN: usize = 20;
/// ARPHRD_ETHER: the cooked header's address is a MAC.
const ARPHRD_ETHER: u16 = 1;
/// ARPHRD_NETLINK: the cooked header's protocol is a netlink family, not an EtherType.
const ARPHRD_NETLINK: u16 = 824;
/// NFLOG TLV type carrying the packet (NFULA_PAYLOAD).
const NFULA_PAYLOAD: u16 = 9;

/// Starts decoding a frame of link type `link`.
pub(crate) fn parse_link<'a>(
    link: LinkType,
    data: &'a [u8],
    ctx: &mut Ctx,
) -> Result<Next<'a>, Error> {
    match link {
        LinkType::ETHERNET => Ok(Next::Ethernet(data)),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => Ok(Next::Ip(data)),
        LinkType::IPV4 => Ok(Next::Ipv4(data)),
        LinkType::IPV6 => Ok(Next::Ipv6(data)),
        LinkType::NULL | LinkType::LOOP => parse_loopback(data),
        LinkType::PPP => {
            // pcap LINKTYPE_PPP: an optional RFC 1662 `ff 03` prefix, then the protocol.
            match data {
                [0xff, 0x03, rest @ ..] => Ok(Next::Ppp(rest)),
                _ => Ok(Next::Ppp(data)),
            }
        }
        LinkType::PPP_HDLC | LinkType::C_HDLC => parse_hdlc(data),
        LinkType::LINUX_SLL => parse_sll(data, ctx),
        LinkType::LINUX_SLL2 => parse_sll2(data, ctx),
        LinkType::NFLOG => parse_nflog(data),
        LinkType::IEEE802_11 => super::wifi::parse_80211(data, false, ctx),
        LinkType::IEEE802_11_RADIOTAP => super::wifi::parse_radiotap(data, ctx),
        LinkType(other) => Err(Error::UnsupportedLinkType(other)),
    }
}

/// BSD loopback: 4-byte address family. DLT_NULL stores it in the capturing host's byte
/// order, so both orders are accepted: families are small numbers, so the order that
/// gives a value ≤ 0xffff is the right one.
fn parse_loopback(data: &[u8]) -> Result<Next<'_>, Error> {
    let (family, rest) = match data {
        [a, b, c, d, rest @ ..] => {
            let be = u32::from_be_bytes([*a, *b, *c, *d]);
            let le = u32::from_le_bytes([*a, *b, *c, *d]);
            (if be <= 0xffff { be } else { le }, rest)
        }
        _ => {
            return Err(Error::Truncated {
                layer: Layer::Loopback,
            })
        }
    };
    match family {
        // AF_INET everywhere.
        2 => Ok(Next::Ipv4(rest)),
        // AF_INET6 on OpenBSD/NetBSD (24), FreeBSD (28) and Darwin (30).
        24 | 28 | 30 => Ok(Next::Ipv6(rest)),
        _ => Ok(Next::NotIp(NotIpClass::Other)),
    }
}

/// PPP in HDLC-like framing (RFC 1662 §3: address 0xff, control 0x03) or Cisco HDLC
/// (address 0x0f unicast / 0x8f broadcast, control 0x00, then an EtherType).
fn parse_hdlc(data: &[u8]) -> Result<Next<'_>, Error> {
    match data {
        [0xff, 0x03, rest @ ..] => Ok(Next::Ppp(rest)),
        [0x0f | 0x8f, 0x00, t0, t1, rest @ ..] => Ok(Next::EtherType(
            EtherType(u16::from_be_bytes([*t0, *t1])),
            rest,
        )),
        [_, _, _, _, ..] => Err(Error::Malformed { layer: Layer::Ppp }),
        _ => Err(Error::Truncated { layer: Layer::Ppp }),
    }
}

/// Linux cooked v1: packet type, ARPHRD type, address length, 8 address bytes, protocol.
fn parse_sll<'a>(data: &'a [u8], ctx: &mut Ctx) -> Result<Next<'a>, Error> {
    let header = data.get(..SLL_HEADER_LEN).ok_or(Error::Truncated {
        layer: Layer::LinuxSll,
    })?;
    let rest = data.get(SLL_HEADER_LEN..).unwrap_or(&[]);
    let hatype = be16(header, 2).unwrap_or(0);
    let halen = be16(header, 4).unwrap_or(0);
    let protocol = be16(header, 14).unwrap_or(0);
    if hatype == ARPHRD_ETHER && halen == 6 {
        ctx.eth_src = mac_at(header, 6);
    }
    Ok(cooked_protocol(hatype, protocol, rest))
}

/// Linux cooked v2: protocol, reserved, interface index, ARPHRD type, packet type,
/// address length, 8 address bytes.
fn parse_sll2<'a>(data: &'a [u8], ctx: &mut Ctx) -> Result<Next<'a>, Error> {
    let header = data.get(..SLL2_HEADER_LEN).ok_or(Error::Truncated {
        layer: Layer::LinuxSll2,
    })?;
    let rest = data.get(SLL2_HEADER_LEN..).unwrap_or(&[]);
    let protocol = be16(header, 0).unwrap_or(0);
    let hatype = be16(header, 8).unwrap_or(0);
    let halen = header.get(11).copied().unwrap_or(0);
    if hatype == ARPHRD_ETHER && halen == 6 {
        ctx.eth_src = mac_at(header, 12);
    }
    Ok(cooked_protocol(hatype, protocol, rest))
}

/// The cooked header's protocol field: an EtherType, except for netlink captures and the
/// small Linux-internal values (ETH_P_802_3 = 1, ETH_P_802_2 = 4, CAN, …).
fn cooked_protocol(hatype: u16, protocol: u16, rest: &[u8]) -> Next<'_> {
    if hatype == ARPHRD_NETLINK {
        return Next::NotIp(NotIpClass::Other);
    }
    match protocol {
        0x0001 | 0x0004 => Next::NotIp(NotIpClass::Llc),
        p if p < 0x0600 => Next::NotIp(NotIpClass::Other),
        p => Next::EtherType(EtherType(p), rest),
    }
}

/// NFLOG: family, version 0, resource id, then netlink-style TLVs (16-bit length and
/// type in little-endian order, length including the 4-byte TLV header, each TLV padded
/// to 4 bytes). The packet is the NFULA_PAYLOAD TLV.
fn parse_nflog(data: &[u8]) -> Result<Next<'_>, Error> {
    let (family, version) = match data {
        [family, version, _, _, ..] => (*family, *version),
        _ => {
            return Err(Error::Truncated {
                layer: Layer::Nflog,
            })
        }
    };
    if version != 0 {
        return Err(Error::Malformed {
            layer: Layer::Nflog,
        });
    }
    let mut rest = data.get(4..).unwrap_or(&[]);
    while !rest.is_empty() {
        let (len, tlv_type) = match rest {
            [l0, l1, t0, t1, ..] => (
                usize::from(u16::from_le_bytes([*l0, *l1])),
                // The top two bits are the netlink NESTED/BYTEORDER flags.
                u16::from_le_bytes([*t0, *t1]) & 0x3fff,
            ),
            _ => {
                return Err(Error::Truncated {
                    layer: Layer::Nflog,
                })
            }
        };
        if len < 4 {
            return Err(Error::Malformed {
                layer: Layer::Nflog,
            });
        }
        if tlv_type == NFULA_PAYLOAD {
            // A payload cut by the snaplen is still decoded as far as it goes.
            let payload = rest.get(4..len).or_else(|| rest.get(4..)).unwrap_or(&[]);
            return Ok(match family {
                2 => Next::Ipv4(payload),
                10 => Next::Ipv6(payload),
                _ => Next::Ip(payload),
            });
        }
        let padded = len.checked_add(3).map(|l| l & !3).unwrap_or(usize::MAX);
        rest = rest.get(padded..).unwrap_or(&[]);
    }
    Ok(Next::NotIp(NotIpClass::Other))
}

/// Ethernet II or IEEE 802.3 header. A nested Ethernet header (inside a tunnel) replaces
/// the recorded MACs and VLAN stack: the packet reports the innermost frame.
pub(crate) fn parse_ethernet<'a>(
    data: &'a [u8],
    ctx: &mut Ctx,
    _limits: &Limits,
) -> Result<Next<'a>, Error> {
    if data.len() < ETHERNET_HEADER_LEN {
        return Err(Error::Truncated {
            layer: Layer::Ethernet,
        });
    }
    if ctx.ethernet_seen {
        ctx.vlans = Default::default();
    }
    ctx.ethernet_seen = true;
    ctx.eth_dst = mac_at(data, 0);
    ctx.eth_src = mac_at(data, 6);
    let type_or_len = be16(data, 12).unwrap_or(0);
    let rest = data.get(ETHERNET_HEADER_LEN..).unwrap_or(&[]);
    // IEEE 802.3 §3.2.6: values up to 1500 are a length, from 0x0600 an EtherType.
    if type_or_len >= 0x0600 {
        return Ok(Next::EtherType(EtherType(type_or_len), rest));
    }
    if type_or_len > 1500 {
        return Ok(Next::NotIp(NotIpClass::Other));
    }
    Ok(parse_llc(rest))
}

/// 802.2 LLC after an 802.3 length. SNAP with OUI 0 (RFC 1042) carries an EtherType;
/// everything else (STP, CDP, Novell raw `ff ff`) is not IP.
pub(crate) fn parse_llc(data: &[u8]) -> Next<'_> {
    match data {
        [0xaa, 0xaa, 0x03, 0, 0, 0, t0, t1, rest @ ..] => {
            Next::EtherType(EtherType(u16::from_be_bytes([*t0, *t1])), rest)
        }
        _ => Next::NotIp(NotIpClass::Llc),
    }
}

/// Dispatches on an EtherType: IP, VLAN tag, MPLS, PPPoE, or a non-IP class.
pub(crate) fn dispatch_ethertype<'a>(
    ethertype: EtherType,
    data: &'a [u8],
    ctx: &mut Ctx,
    limits: &Limits,
    stats: &mut Stats,
) -> Result<Next<'a>, Error> {
    Ok(match ethertype {
        EtherType::IPV4 => Next::Ipv4(data),
        EtherType::IPV6 => Next::Ipv6(data),
        EtherType::VLAN | EtherType::QINQ | EtherType::VLAN_9100 => {
            return parse_vlan_tag(data, ctx, limits, stats)
        }
        EtherType::MPLS | EtherType::MPLS_MULTICAST => Next::Mpls(data),
        EtherType::PPPOE_SESSION => return parse_pppoe_session(data, ctx),
        EtherType::PPPOE_DISCOVERY => Next::NotIp(NotIpClass::PppoeDiscovery),
        EtherType::ARP | EtherType::RARP => Next::NotIp(NotIpClass::Arp),
        EtherType::LLDP => Next::NotIp(NotIpClass::Lldp),
        EtherType::EAPOL => Next::NotIp(NotIpClass::Eapol),
        EtherType::SLOW_PROTOCOLS => Next::NotIp(NotIpClass::SlowProtocols),
        _ => Next::NotIp(NotIpClass::Other),
    })
}

/// One 802.1Q/802.1ad tag: TCI (PCP, DEI, 12-bit VLAN id), then the inner EtherType.
fn parse_vlan_tag<'a>(
    data: &'a [u8],
    ctx: &mut Ctx,
    limits: &Limits,
    stats: &mut Stats,
) -> Result<Next<'a>, Error> {
    let (tci, inner) = match (be16(data, 0), be16(data, 2)) {
        (Some(tci), Some(inner)) => (tci, inner),
        _ => return Err(Error::Truncated { layer: Layer::Vlan }),
    };
    if ctx.vlans.total() >= limits.max_vlan_tags {
        return Err(Error::TooManyVlanTags);
    }
    ctx.vlans.push(tci & 0x0fff);
    if usize::from(ctx.vlans.total()) == MAX_KEPT_VLAN_IDS + 1 {
        stats.bump(AnomalyKind::VlanIdsNotKept);
    }
    Ok(Next::EtherType(
        EtherType(inner),
        data.get(4..).unwrap_or(&[]),
    ))
}

/// MPLS label stack (RFC 3032 §2.1) to the bottom-of-stack bit, then the payload: IP by
/// its version nibble, or a pseudowire control word (first nibble 0, RFC 4385 §3)
/// followed by an Ethernet frame (RFC 4448).
pub(crate) fn parse_mpls<'a>(
    data: &'a [u8],
    ctx: &mut Ctx,
    limits: &Limits,
) -> Result<Next<'a>, Error> {
    ctx.note(Encap::MPLS);
    let mut rest = data;
    let mut labels = 0u8;
    loop {
        let (entry, tail) = match rest {
            [a, b, c, d, tail @ ..] => ([*a, *b, *c, *d], tail),
            _ => return Err(Error::Truncated { layer: Layer::Mpls }),
        };
        rest = tail;
        labels = labels.saturating_add(1);
        if entry[2] & 0x01 != 0 {
            break;
        }
        if labels >= limits.max_mpls_labels {
            return Err(Error::Malformed { layer: Layer::Mpls });
        }
    }
    match rest.first().map(|b| b >> 4) {
        Some(4) => Ok(Next::Ipv4(rest)),
        Some(6) => Ok(Next::Ipv6(rest)),
        Some(0) => {
            let frame = rest
                .get(4..)
                .ok_or(Error::Truncated { layer: Layer::Mpls })?;
            ctx.enter(Encap::MPLS, limits)?;
            Ok(Next::Ethernet(frame))
        }
        Some(_) => Ok(Next::NotIp(NotIpClass::Mpls)),
        None => Err(Error::Truncated { layer: Layer::Mpls }),
    }
}

/// PPPoE session stage header (RFC 2516 §4): version/type 0x11, code 0, session id,
/// length of the PPP payload (which trims Ethernet padding).
fn parse_pppoe_session<'a>(data: &'a [u8], ctx: &mut Ctx) -> Result<Next<'a>, Error> {
    let (ver_type, code, length) = match data {
        [ver_type, code, _, _, l0, l1, ..] => (
            *ver_type,
            *code,
            usize::from(u16::from_be_bytes([*l0, *l1])),
        ),
        _ => {
            return Err(Error::Truncated {
                layer: Layer::Pppoe,
            })
        }
    };
    if ver_type != 0x11 || code != 0 {
        return Err(Error::Malformed {
            layer: Layer::Pppoe,
        });
    }
    ctx.note(Encap::PPPOE);
    let payload = data.get(6..).unwrap_or(&[]);
    Ok(Next::Ppp(payload.get(..length).unwrap_or(payload)))
}

/// PPP protocol field (RFC 1661 §2; one byte when protocol-field compression applies,
/// recognisable by the odd first byte, §6.5) and dispatch.
pub(crate) fn parse_ppp_protocol(data: &[u8]) -> Result<Next<'_>, Error> {
    let (protocol, rest) = match data {
        [p, rest @ ..] if p & 0x01 == 1 => (PppProtocol(u16::from(*p)), rest),
        [p0, p1, rest @ ..] => (PppProtocol(u16::from_be_bytes([*p0, *p1])), rest),
        _ => return Err(Error::Truncated { layer: Layer::Ppp }),
    };
    Ok(match protocol {
        PppProtocol::IPV4 => Next::Ipv4(rest),
        PppProtocol::IPV6 => Next::Ipv6(rest),
        PppProtocol::MPLS | PppProtocol::MPLS_MULTICAST => Next::Mpls(rest),
        // RFC 1661 §2: 0x8000–0xbfff network control, 0xc000–0xffff link control.
        PppProtocol(p) if p >= 0x8000 => Next::NotIp(NotIpClass::PppControl),
        _ => Next::NotIp(NotIpClass::Other),
    })
}

/// Six bytes at `at` as a MAC address.
pub(crate) fn mac_at(data: &[u8], at: usize) -> Option<[u8; 6]> {
    let bytes = data.get(at..at.checked_add(6)?)?;
    let mut mac = [0u8; 6];
    mac.copy_from_slice(bytes);
    Some(mac)
}
