//! Frame builders: Ethernet (802.1Q / 802.1ad), IPv4, IPv6, TCP, UDP, GRE, ERSPAN, VXLAN.
//!
//! Owns header layout and checksums of synthetic frames. Takes header values and a payload;
//! emits one owned `Vec<u8>` per layer, with lengths and checksums filled in (headers are
//! laid out with the `pnet_packet` mutable views). Builders nest: `ethernet(.., ipv4(..,
//! tcp(..)))`. [`fragment_ipv4`] and [`fragment_ipv6`] split a datagram into fragments.
//!
//! Limits: an IP packet holds at most 65535 bytes (IPv4 total length, IPv6 payload length);
//! builders panic when asked for more, which is a bug in the calling test, not input.
//! Must not: parse traffic from elsewhere beyond the IPv4 header of [`fragment_ipv4`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_packet::ethernet::MutableEthernetPacket;
use pnet_packet::gre::MutableGrePacket;
use pnet_packet::ipv4::{self, MutableIpv4Packet};
use pnet_packet::ipv6::{MutableFragmentPacket, MutableIpv6Packet};
use pnet_packet::tcp::{self, MutableTcpPacket};
use pnet_packet::udp::{self, MutableUdpPacket};
use pnet_packet::vlan::MutableVlanPacket;
use pnet_packet::vxlan::MutableVxlanPacket;
use pnet_packet::MutablePacket;
use thiserror::Error;

pub use pnet_packet::ethernet::{EtherType, EtherTypes};
pub use pnet_packet::ip::{IpNextHeaderProtocol, IpNextHeaderProtocols};
pub use pnet_packet::tcp::TcpFlags;

/// Ethernet header length without tags.
pub const ETHERNET_HEADER_BYTES: usize = 14;
/// IPv4 header length without options.
pub const IPV4_HEADER_BYTES: usize = 20;
/// IPv6 fixed header length.
pub const IPV6_HEADER_BYTES: usize = 40;
/// IPv6 fragment extension header length (RFC 8200 section 4.5).
pub const IPV6_FRAGMENT_HEADER_BYTES: usize = 8;
/// TCP header length without options.
pub const TCP_HEADER_BYTES: usize = 20;
/// UDP header length.
pub const UDP_HEADER_BYTES: usize = 8;
/// VXLAN header length (RFC 7348 section 5).
pub const VXLAN_HEADER_BYTES: usize = 8;
/// IANA UDP port of VXLAN (RFC 7348 section 5).
pub const VXLAN_PORT: u16 = 4789;
/// Default TTL / hop limit of built packets.
pub const DEFAULT_TTL: u8 = 64;
/// Largest IP packet (IPv4 total length and IPv6 payload length are 16 bits).
pub const MAX_IP_PACKET_BYTES: usize = 65_535;

/// TPID of a customer VLAN tag (IEEE 802.1Q).
pub const TPID_8021Q: EtherType = EtherType(0x8100);
/// TPID of a service (outer) VLAN tag (IEEE 802.1ad).
pub const TPID_8021AD: EtherType = EtherType(0x88a8);
/// GRE protocol type of ERSPAN type II.
pub const ETHERTYPE_ERSPAN_II: EtherType = EtherType(0x88be);
/// GRE protocol type of ERSPAN type III.
pub const ETHERTYPE_ERSPAN_III: EtherType = EtherType(0x22eb);
/// GRE protocol type of transparent Ethernet bridging (Ethernet inside GRE).
pub const ETHERTYPE_TEB: EtherType = EtherType(0x6558);

/// Errors of [`fragment_ipv4`], the one builder that reads bytes.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum Error {
    /// The datagram is shorter than its header says.
    #[error("incomplete ipv4 datagram, {needed} more bytes needed")]
    Incomplete {
        /// Missing bytes.
        needed: usize,
    },
    /// The datagram cannot be fragmented.
    #[error("cannot fragment: {}", .0.as_str())]
    Invalid(InvalidKind),
}

/// Why a datagram cannot be fragmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidKind {
    /// The Don't Fragment flag is set (RFC 791 section 2.3).
    DontFragment,
    /// IHL below 5 words.
    HeaderLength,
    /// The MTU leaves no room for 8 bytes of data after the header.
    MtuTooSmall,
    /// Version is not 4.
    NotIpv4,
}

impl InvalidKind {
    /// Snake-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::DontFragment => "dont_fragment",
            InvalidKind::HeaderLength => "header_length",
            InvalidKind::MtuTooSmall => "mtu_too_small",
            InvalidKind::NotIpv4 => "not_ipv4",
        }
    }
}

/// The IPv4 flags and fragment offset word (RFC 791 section 3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragmentField(pub u16);

impl FragmentField {
    /// No flags, offset 0.
    pub const NONE: FragmentField = FragmentField(0);
    /// Don't Fragment, offset 0: what most hosts send.
    pub const DONT_FRAGMENT: FragmentField = FragmentField(0x4000);
    /// More Fragments bit.
    pub const MORE_FRAGMENTS_BIT: u16 = 0x2000;

    /// A fragment at `offset_bytes` (must be a multiple of 8 below 65536).
    ///
    /// # Panics
    /// When `offset_bytes` is not a multiple of 8 or too large for 13 bits.
    pub fn fragment(offset_bytes: usize, more_fragments: bool) -> Self {
        assert!(
            offset_bytes.is_multiple_of(8) && offset_bytes / 8 < 0x2000,
            "bad fragment offset {offset_bytes}"
        );
        let mf = if more_fragments {
            Self::MORE_FRAGMENTS_BIT
        } else {
            0
        };
        FragmentField(mf | (offset_bytes / 8) as u16)
    }

    /// Offset of the fragment in bytes.
    pub fn offset_bytes(self) -> usize {
        usize::from(self.0 & 0x1fff) * 8
    }

    /// More Fragments flag.
    pub fn more_fragments(self) -> bool {
        self.0 & Self::MORE_FRAGMENTS_BIT != 0
    }

    /// Don't Fragment flag.
    pub fn dont_fragment(self) -> bool {
        self.0 & 0x4000 != 0
    }
}

/// Options of a GRE header (RFC 2784, RFC 2890).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GreOptions {
    /// Include a checksum over header and payload.
    pub checksum: bool,
    /// Key field (RFC 2890 section 2.1).
    pub key: Option<u32>,
    /// Sequence number field (RFC 2890 section 2.2).
    pub seq: Option<u32>,
}

/// Builds an Ethernet II frame, with 802.1Q tags when `vlan_tags` is not empty.
///
/// With two or more tags the outermost uses TPID 0x88a8 (802.1ad service tag) and the inner
/// ones 0x8100. Frames shorter than 60 bytes are not padded: captures taken on the sending
/// host look like that too, and decoders must cope.
///
/// # Panics
/// When a VLAN id is above 4095.
pub fn ethernet(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    vlan_tags: &[u16],
    ethertype: EtherType,
    payload: &[u8],
) -> Vec<u8> {
    let len = ETHERNET_HEADER_BYTES + 4 * vlan_tags.len() + payload.len();
    let mut buf = vec![0u8; len];
    {
        // Buffer length is at least the 14-byte minimum, so the view exists.
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("buffer sized above");
        let first = match vlan_tags.len() {
            0 => ethertype,
            1 => TPID_8021Q,
            _ => TPID_8021AD,
        };
        eth.set_ethertype(first);
        let raw = eth.packet_mut();
        raw[0..6].copy_from_slice(&dst_mac);
        raw[6..12].copy_from_slice(&src_mac);
    }
    let mut at = ETHERNET_HEADER_BYTES;
    for (i, &vid) in vlan_tags.iter().enumerate() {
        assert!(vid < 4096, "vlan id {vid} above 4095");
        let next = if i + 1 == vlan_tags.len() {
            ethertype
        } else {
            TPID_8021Q
        };
        // Each tag is 4 bytes and the buffer holds all of them plus the payload.
        let mut tag = MutableVlanPacket::new(&mut buf[at..]).expect("buffer sized above");
        tag.set_vlan_identifier(vid);
        tag.set_ethertype(next);
        at += 4;
    }
    buf[at..].copy_from_slice(payload);
    buf
}

/// Builds an IPv4 packet (no options) with a correct header checksum.
///
/// `frag` is the flags and fragment-offset word, usually [`FragmentField::DONT_FRAGMENT`].
///
/// # Panics
/// When the packet would exceed 65535 bytes.
pub fn ipv4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: IpNextHeaderProtocol,
    id: u16,
    frag: FragmentField,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let len = IPV4_HEADER_BYTES + payload.len();
    assert!(len <= MAX_IP_PACKET_BYTES, "ipv4 packet of {len} bytes");
    let mut buf = vec![0u8; len];
    {
        // The buffer is at least the 20-byte header.
        let mut ip = MutableIpv4Packet::new(&mut buf).expect("buffer sized above");
        ip.set_version(4);
        ip.set_header_length(5);
        ip.set_total_length(len as u16);
        ip.set_identification(id);
        ip.set_flags((frag.0 >> 13) as u8);
        ip.set_fragment_offset(frag.0 & 0x1fff);
        ip.set_ttl(ttl);
        ip.set_next_level_protocol(proto);
        ip.set_source(src);
        ip.set_destination(dst);
        ip.set_payload(payload);
        let sum = ipv4::checksum(&ip.to_immutable());
        ip.set_checksum(sum);
    }
    buf
}

/// Builds an IPv6 packet (hop limit [`DEFAULT_TTL`], no extension headers).
///
/// # Panics
/// When the payload exceeds 65535 bytes.
pub fn ipv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: IpNextHeaderProtocol,
    payload: &[u8],
) -> Vec<u8> {
    assert!(
        payload.len() <= MAX_IP_PACKET_BYTES,
        "ipv6 payload of {} bytes",
        payload.len()
    );
    let mut buf = vec![0u8; IPV6_HEADER_BYTES + payload.len()];
    {
        // The buffer is at least the 40-byte header.
        let mut ip = MutableIpv6Packet::new(&mut buf).expect("buffer sized above");
        ip.set_version(6);
        ip.set_payload_length(payload.len() as u16);
        ip.set_next_header(next_header);
        ip.set_hop_limit(DEFAULT_TTL);
        ip.set_source(src);
        ip.set_destination(dst);
        ip.set_payload(payload);
    }
    buf
}

/// Builds an IPv6 packet carrying one fragment (RFC 8200 section 4.5): fragment header with
/// `id`, `offset_bytes` (multiple of 8) and the M flag, then `fragment` (a slice of the
/// upper-layer packet, whose checksum must be computed over the whole, unfragmented one).
///
/// # Panics
/// When `offset_bytes` is not a multiple of 8 or above 65528, or the packet is too large.
pub fn ipv6_with_fragment(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: IpNextHeaderProtocol,
    id: u32,
    offset_bytes: usize,
    more_fragments: bool,
    fragment: &[u8],
) -> Vec<u8> {
    assert!(
        offset_bytes.is_multiple_of(8) && offset_bytes / 8 < 0x2000,
        "bad fragment offset {offset_bytes}"
    );
    let mut ext = vec![0u8; IPV6_FRAGMENT_HEADER_BYTES + fragment.len()];
    {
        // The buffer is at least the 8-byte fragment header.
        let mut fh = MutableFragmentPacket::new(&mut ext).expect("buffer sized above");
        fh.set_next_header(next_header);
        fh.set_fragment_offset(offset_bytes as u16);
        fh.set_last_fragment(!more_fragments);
        fh.set_id(id);
    }
    ext[IPV6_FRAGMENT_HEADER_BYTES..].copy_from_slice(fragment);
    ipv6(src, dst, IpNextHeaderProtocols::Ipv6Frag, &ext)
}

/// Splits an upper-layer packet (e.g. a UDP datagram built for `src`/`dst`) into IPv6
/// fragments of at most `mtu` bytes each.
///
/// # Panics
/// When `mtu` leaves less than 8 bytes of data per fragment or `upper` is too large.
pub fn fragment_ipv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: IpNextHeaderProtocol,
    id: u32,
    upper: &[u8],
    mtu: usize,
) -> Vec<Vec<u8>> {
    let room = mtu.saturating_sub(IPV6_HEADER_BYTES + IPV6_FRAGMENT_HEADER_BYTES) / 8 * 8;
    assert!(room >= 8, "mtu {mtu} too small for ipv6 fragments");
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < upper.len() || (offset == 0 && upper.is_empty()) {
        let end = (offset + room).min(upper.len());
        let more = end < upper.len();
        out.push(ipv6_with_fragment(
            src,
            dst,
            next_header,
            id,
            offset,
            more,
            &upper[offset..end],
        ));
        if upper.is_empty() {
            break;
        }
        offset = end;
    }
    out
}

/// Builds an IPv4 (DF set, TTL [`DEFAULT_TTL`]) or IPv6 packet depending on the address
/// family.
///
/// # Panics
/// When `src` and `dst` are of different families, or the packet is too large.
pub fn ip_packet(
    src: IpAddr,
    dst: IpAddr,
    proto: IpNextHeaderProtocol,
    id: u16,
    payload: &[u8],
) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
            s,
            d,
            proto,
            id,
            FragmentField::DONT_FRAGMENT,
            DEFAULT_TTL,
            payload,
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(s, d, proto, payload),
        _ => panic!("mixed address families {src} / {dst}"),
    }
}

/// Ethertype of the IP version of `addr`.
pub fn ethertype_of(addr: IpAddr) -> EtherType {
    match addr {
        IpAddr::V4(_) => EtherTypes::Ipv4,
        IpAddr::V6(_) => EtherTypes::Ipv6,
    }
}

/// Builds a TCP segment (no options) with the checksum over the pseudo-header of
/// `src_ip`/`dst_ip`. `flags` is a combination of [`TcpFlags`] constants.
///
/// # Panics
/// When the addresses are of different families.
#[allow(clippy::too_many_arguments)] // mirrors the header fields one for one
pub fn tcp(
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    payload: &[u8],
    src_ip: IpAddr,
    dst_ip: IpAddr,
) -> Vec<u8> {
    tcp_with_options(
        src_port,
        dst_port,
        seq,
        ack,
        flags,
        window,
        &[],
        payload,
        src_ip,
        dst_ip,
    )
}

/// Like [`tcp`] with raw option bytes, padded with zero (end of option list) to 32 bits.
///
/// # Panics
/// When options exceed 40 bytes or the addresses are of different families.
#[allow(clippy::too_many_arguments)] // mirrors the header fields one for one
pub fn tcp_with_options(
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
    src_ip: IpAddr,
    dst_ip: IpAddr,
) -> Vec<u8> {
    let opt_len = options.len().div_ceil(4) * 4;
    assert!(opt_len <= 40, "tcp options of {} bytes", options.len());
    let hlen = TCP_HEADER_BYTES + opt_len;
    let mut buf = vec![0u8; hlen + payload.len()];
    buf[TCP_HEADER_BYTES..TCP_HEADER_BYTES + options.len()].copy_from_slice(options);
    buf[hlen..].copy_from_slice(payload);
    {
        // The buffer is at least the 20-byte header.
        let mut t = MutableTcpPacket::new(&mut buf).expect("buffer sized above");
        t.set_source(src_port);
        t.set_destination(dst_port);
        t.set_sequence(seq);
        t.set_acknowledgement(ack);
        t.set_data_offset((hlen / 4) as u8);
        t.set_flags(flags);
        t.set_window(window);
        let sum = match (src_ip, dst_ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&t.to_immutable(), &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&t.to_immutable(), &s, &d),
            _ => panic!("mixed address families {src_ip} / {dst_ip}"),
        };
        t.set_checksum(sum);
    }
    buf
}

/// Builds a UDP datagram with the checksum over the pseudo-header of `src_ip`/`dst_ip`
/// (a computed zero is sent as 0xffff, RFC 768).
///
/// # Panics
/// When the addresses are of different families or the datagram exceeds 65535 bytes.
pub fn udp(
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
    src_ip: IpAddr,
    dst_ip: IpAddr,
) -> Vec<u8> {
    let len = UDP_HEADER_BYTES + payload.len();
    assert!(len <= MAX_IP_PACKET_BYTES, "udp datagram of {len} bytes");
    let mut buf = vec![0u8; len];
    {
        // The buffer is at least the 8-byte header.
        let mut u = MutableUdpPacket::new(&mut buf).expect("buffer sized above");
        u.set_source(src_port);
        u.set_destination(dst_port);
        u.set_length(len as u16);
        u.set_payload(payload);
        let sum = match (src_ip, dst_ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => udp::ipv4_checksum(&u.to_immutable(), &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => udp::ipv6_checksum(&u.to_immutable(), &s, &d),
            _ => panic!("mixed address families {src_ip} / {dst_ip}"),
        };
        u.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
    buf
}

/// Builds a GRE packet (RFC 2784 header, RFC 2890 key and sequence) carrying `payload` of
/// protocol type `proto`; the optional checksum covers header and payload.
pub fn gre(proto: EtherType, payload: &[u8], opts: GreOptions) -> Vec<u8> {
    let hlen = 4
        + if opts.checksum { 4 } else { 0 }
        + if opts.key.is_some() { 4 } else { 0 }
        + if opts.seq.is_some() { 4 } else { 0 };
    let mut buf = vec![0u8; hlen + payload.len()];
    {
        // The buffer holds the base header and every optional field set below.
        let mut g = MutableGrePacket::new(&mut buf).expect("buffer sized above");
        g.set_checksum_present(u8::from(opts.checksum));
        g.set_key_present(u8::from(opts.key.is_some()));
        g.set_sequence_present(u8::from(opts.seq.is_some()));
        g.set_protocol_type(proto.0);
    }
    // Optional fields follow in the order checksum+reserved, key, sequence (RFC 2890 2.).
    let mut at = if opts.checksum { 8 } else { 4 };
    if let Some(k) = opts.key {
        buf[at..at + 4].copy_from_slice(&k.to_be_bytes());
        at += 4;
    }
    if let Some(s) = opts.seq {
        buf[at..at + 4].copy_from_slice(&s.to_be_bytes());
        at += 4;
    }
    buf[at..].copy_from_slice(payload);
    if opts.checksum {
        // Checksum word is the third 16-bit word (RFC 2784 section 2.5).
        let sum = pnet_packet::util::checksum(&buf, 2);
        buf[4..6].copy_from_slice(&sum.to_be_bytes());
    }
    buf
}

/// Builds the GRE payload of an ERSPAN type II mirror of `inner_frame`
/// (draft-foschiano-erspan section 4.2): GRE with sequence number `seq`, protocol 0x88be,
/// then the 8-byte ERSPAN header (version 1, VLAN 0, session id `session_id` & 0x3ff).
pub fn erspan2(session_id: u16, inner_frame: &[u8], seq: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + inner_frame.len());
    #[rustfmt::skip]
    let hdr = [
        0x10, 0x00,                                   // ver 1, vlan 0
        ((session_id >> 8) & 0x03) as u8,             // cos 0, en 0, t 0, session id high
        session_id as u8,                             // session id low
        0x00, 0x00, 0x00, 0x00,                       // reserved, index 0
    ];
    body.extend_from_slice(&hdr);
    body.extend_from_slice(inner_frame);
    gre(
        ETHERTYPE_ERSPAN_II,
        &body,
        GreOptions {
            seq: Some(seq),
            ..GreOptions::default()
        },
    )
}

/// Builds the GRE payload of an ERSPAN type III mirror of `inner_frame`
/// (draft-foschiano-erspan section 4.3): GRE with sequence `seq`, protocol 0x22eb, then the
/// 12-byte header (version 2, session id, `timestamp` in 100 µs units, frame type
/// Ethernet, no platform sub-header).
pub fn erspan3(session_id: u16, inner_frame: &[u8], seq: u32, timestamp: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(12 + inner_frame.len());
    body.extend_from_slice(&[0x20, 0x00]); // ver 2, vlan 0
    body.push(((session_id >> 8) & 0x03) as u8); // cos 0, bso 0, t 0, session id high
    body.push(session_id as u8); // session id low
    body.extend_from_slice(&timestamp.to_be_bytes()); // timestamp
    body.extend_from_slice(&[0x00, 0x00]); // sgt 0
    body.extend_from_slice(&[0x00, 0x00]); // p 0, ft 0 (ethernet), hw id 0, d 0, gra 00, o 0
    body.extend_from_slice(inner_frame);
    gre(
        ETHERTYPE_ERSPAN_III,
        &body,
        GreOptions {
            seq: Some(seq),
            ..GreOptions::default()
        },
    )
}

/// Builds a VXLAN header (I flag set, RFC 7348 section 5) followed by `inner_frame`; carry
/// it in UDP to port [`VXLAN_PORT`].
pub fn vxlan(vni: u32, inner_frame: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; VXLAN_HEADER_BYTES + inner_frame.len()];
    {
        // The buffer is at least the 8-byte header.
        let mut v = MutableVxlanPacket::new(&mut buf).expect("buffer sized above");
        v.set_flags(0x08);
        v.set_vni(vni & 0x00ff_ffff);
    }
    buf[VXLAN_HEADER_BYTES..].copy_from_slice(inner_frame);
    buf
}

/// Splits an IPv4 datagram into fragments of at most `mtu` bytes (RFC 791 section 3.2,
/// "fragmentation"): data split at multiples of 8 bytes, MF on all but the last, offsets
/// relative to the original (so an existing fragment can be split again), options copied to
/// later fragments only when their copied flag is set, checksums recomputed. A datagram that
/// already fits is returned as the only fragment, unchanged.
pub fn fragment_ipv4(datagram: &[u8], mtu: usize) -> Result<Vec<Vec<u8>>, Error> {
    let first = *datagram.first().ok_or(Error::Incomplete {
        needed: IPV4_HEADER_BYTES,
    })?;
    if first >> 4 != 4 {
        return Err(Error::Invalid(InvalidKind::NotIpv4));
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < IPV4_HEADER_BYTES {
        return Err(Error::Invalid(InvalidKind::HeaderLength));
    }
    let header = datagram.get(..ihl).ok_or(Error::Incomplete {
        needed: ihl.saturating_sub(datagram.len()),
    })?;
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if total < ihl {
        return Err(Error::Invalid(InvalidKind::HeaderLength));
    }
    let data = datagram.get(ihl..total).ok_or(Error::Incomplete {
        needed: total.saturating_sub(datagram.len()),
    })?;
    if total <= mtu {
        return Ok(vec![datagram[..total].to_vec()]);
    }
    let field = FragmentField(u16::from_be_bytes([header[6], header[7]]));
    if field.dont_fragment() {
        return Err(Error::Invalid(InvalidKind::DontFragment));
    }
    let options = header.get(IPV4_HEADER_BYTES..).unwrap_or(&[]);
    let copied = copied_options(options);
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < data.len() {
        let opts: &[u8] = if offset == 0 { options } else { &copied };
        let hlen = IPV4_HEADER_BYTES + opts.len();
        let room = mtu.saturating_sub(hlen) / 8 * 8;
        if room == 0 {
            return Err(Error::Invalid(InvalidKind::MtuTooSmall));
        }
        let end = (offset + room).min(data.len());
        let last = end == data.len();
        let more = !last || field.more_fragments();
        let frag_off = field.offset_bytes() + offset;
        if frag_off / 8 >= 0x2000 {
            return Err(Error::Invalid(InvalidKind::HeaderLength));
        }
        let mut pkt = Vec::with_capacity(hlen + end - offset);
        pkt.extend_from_slice(&header[..IPV4_HEADER_BYTES]);
        pkt.extend_from_slice(opts);
        pkt.extend_from_slice(&data[offset..end]);
        pkt[0] = 0x40 | (hlen / 4) as u8;
        let pkt_len = pkt.len() as u16; // at most mtu-sized and below the original total
        pkt[2..4].copy_from_slice(&pkt_len.to_be_bytes());
        let ff = FragmentField((field.0 & 0x8000) | FragmentField::fragment(frag_off, more).0);
        pkt[6..8].copy_from_slice(&ff.0.to_be_bytes());
        pkt[10..12].copy_from_slice(&[0, 0]);
        let sum = pnet_packet::util::checksum(&pkt[..hlen], 5);
        pkt[10..12].copy_from_slice(&sum.to_be_bytes());
        out.push(pkt);
        offset = end;
    }
    Ok(out)
}

/// Options whose copied flag is set, padded with EOL to 32 bits (RFC 791 section 3.1).
fn copied_options(options: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&kind) = options.get(i) {
        match kind {
            0 => break,  // end of option list
            1 => i += 1, // no-operation, not copied
            _ => {
                let len = usize::from(options.get(i + 1).copied().unwrap_or(0)).max(2);
                if kind & 0x80 != 0 {
                    if let Some(opt) = options.get(i..i + len) {
                        out.extend_from_slice(opt);
                    }
                }
                i += len;
            }
        }
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::pcap::{CaptureWrite, LinkType, PcapWriter};
    use crate::synth::tshark;

    const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
    const MAC_B: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];
    const V4_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    const V4_B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);

    fn v6(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
    }

    fn write(stem: &str, frames: &[Vec<u8>]) -> std::path::PathBuf {
        let path = tshark::temp_path(stem, "pcap");
        let file = std::fs::File::create(&path).unwrap();
        let mut w = PcapWriter::new(file, LinkType::ETHERNET).unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.write_packet(1_700_000_000_000_000 + i as i64 * 1000, f)
                .unwrap();
        }
        w.into_inner().unwrap();
        path
    }

    fn udp4_frame(payload: &[u8], tags: &[u16]) -> Vec<u8> {
        let u = udp(40000, 9999, payload, V4_A.into(), V4_B.into());
        let ip = ipv4(
            V4_A,
            V4_B,
            IpNextHeaderProtocols::Udp,
            7,
            FragmentField::DONT_FRAGMENT,
            64,
            &u,
        );
        ethernet(MAC_A, MAC_B, tags, EtherTypes::Ipv4, &ip)
    }

    /// Internet checksum over a buffer, 0 when the embedded checksum is right.
    fn fold(data: &[u8]) -> u16 {
        let mut sum = 0u32;
        for c in data.chunks(2) {
            let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
            sum += u32::from(w);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn ipv4_header_fields_and_checksum() {
        let p = ipv4(
            V4_A,
            V4_B,
            IpNextHeaderProtocols::Tcp,
            0x1234,
            FragmentField::DONT_FRAGMENT,
            64,
            b"abc",
        );
        #[rustfmt::skip]
        let expected_prefix = [
            0x45, 0x00,             // version 4, ihl 5, dscp/ecn 0
            0x00, 23,               // total length
            0x12, 0x34,             // identification
            0x40, 0x00,             // DF, offset 0
            64, 6,                  // ttl, protocol tcp
        ];
        assert_eq!(&p[..10], &expected_prefix);
        assert_eq!(&p[12..16], &V4_A.octets());
        assert_eq!(&p[16..20], &V4_B.octets());
        assert_eq!(fold(&p[..20]), 0);
        assert_eq!(&p[20..], b"abc");
    }

    #[test]
    fn vlan_tags_use_8021ad_outer() {
        let one = ethernet(MAC_A, MAC_B, &[100], EtherTypes::Ipv4, &[]);
        assert_eq!(&one[0..6], &MAC_B); // destination first on the wire
        assert_eq!(&one[12..18], &[0x81, 0x00, 0x00, 100, 0x08, 0x00]);
        let two = ethernet(MAC_A, MAC_B, &[10, 20], EtherTypes::Ipv6, &[]);
        #[rustfmt::skip]
        let tags = [
            0x88, 0xa8, 0x00, 10,   // 802.1ad, vid 10
            0x81, 0x00, 0x00, 20,   // 802.1Q, vid 20
            0x86, 0xdd,             // inner ethertype
        ];
        assert_eq!(&two[12..], &tags);
    }

    #[test]
    fn gre_options_layout_and_checksum() {
        let g = gre(
            EtherTypes::Ipv4,
            b"xyz",
            GreOptions {
                checksum: true,
                key: Some(0xdead_beef),
                seq: Some(5),
            },
        );
        assert_eq!(g[0], 0xb0); // C, K, S bits
        assert_eq!(&g[2..4], &[0x08, 0x00]);
        assert_eq!(&g[8..12], &0xdead_beefu32.to_be_bytes());
        assert_eq!(&g[12..16], &5u32.to_be_bytes());
        assert_eq!(fold(&g), 0);
    }

    #[test]
    fn fragment_ipv4_offsets_and_flags() {
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let u = udp(1, 2, &payload, V4_A.into(), V4_B.into());
        let dg = ipv4(
            V4_A,
            V4_B,
            IpNextHeaderProtocols::Udp,
            9,
            FragmentField::NONE,
            64,
            &u,
        );
        let frags = fragment_ipv4(&dg, 1500).unwrap();
        assert_eq!(frags.len(), 3);
        let mut joined = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            assert!(f.len() <= 1500);
            assert_eq!(fold(&f[..20]), 0);
            let ff = FragmentField(u16::from_be_bytes([f[6], f[7]]));
            assert_eq!(ff.offset_bytes(), joined.len());
            assert_eq!(ff.more_fragments(), i < 2);
            joined.extend_from_slice(&f[20..]);
        }
        assert_eq!(joined, u);
        assert_eq!(
            fragment_ipv4(&frags[0], 1500).unwrap(),
            vec![frags[0].clone()]
        );
        let df = ipv4(
            V4_A,
            V4_B,
            IpNextHeaderProtocols::Udp,
            9,
            FragmentField::DONT_FRAGMENT,
            64,
            &u,
        );
        assert_eq!(
            fragment_ipv4(&df, 1500),
            Err(Error::Invalid(InvalidKind::DontFragment))
        );
        assert_eq!(
            fragment_ipv4(&dg, 24),
            Err(Error::Invalid(InvalidKind::MtuTooSmall))
        );
        assert!(matches!(
            fragment_ipv4(&dg[..100], 1500),
            Err(Error::Incomplete { .. })
        ));
        assert_eq!(
            fragment_ipv4(&[0x60; 40], 1500),
            Err(Error::Invalid(InvalidKind::NotIpv4))
        );
    }

    #[test]
    fn copied_options_keep_only_copied_flag() {
        #[rustfmt::skip]
        let opts = [
            0x01,                   // NOP (not copied)
            0x07, 0x03, 0x04,       // record route, length 3 (not copied)
            0x83, 0x03, 0x04,       // loose source route, length 3 (copied)
            0x00,                   // end of list
        ];
        assert_eq!(copied_options(&opts), vec![0x83, 0x03, 0x04, 0x00]);
    }

    #[test]
    fn tshark_checksums_vlans_and_ipv6() {
        let tcp4 = tcp(
            40001,
            80,
            1000,
            2000,
            TcpFlags::PSH | TcpFlags::ACK,
            512,
            b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n",
            V4_A.into(),
            V4_B.into(),
        );
        let ip4 = ip_packet(
            V4_A.into(),
            V4_B.into(),
            IpNextHeaderProtocols::Tcp,
            1,
            &tcp4,
        );
        let tcp6 = tcp(
            40002,
            443,
            7,
            0,
            TcpFlags::SYN,
            65535,
            &[],
            v6(1).into(),
            v6(2).into(),
        );
        let ip6 = ip_packet(
            v6(1).into(),
            v6(2).into(),
            IpNextHeaderProtocols::Tcp,
            0,
            &tcp6,
        );
        let udp6 = udp(40010, 9, &[0u8; 1], v6(3).into(), v6(4).into());
        let udp6 = ipv6(v6(3), v6(4), IpNextHeaderProtocols::Udp, &udp6);
        let frames = vec![
            ethernet(MAC_A, MAC_B, &[], EtherTypes::Ipv4, &ip4),
            ethernet(MAC_A, MAC_B, &[], EtherTypes::Ipv6, &ip6),
            udp4_frame(b"odd", &[42]),
            udp4_frame(b"even", &[100, 200]),
            ethernet(MAC_A, MAC_B, &[7], EtherTypes::Ipv6, &udp6),
        ];
        if !tshark::available("tshark_checksums_vlans_and_ipv6") {
            return;
        }
        let path = write("basic", &frames);
        tshark::assert_clean(&path);
        let rows = tshark::fields(
            &path,
            None,
            &[
                "ieee8021ad.id",
                "vlan.id",
                "tcp.checksum.status",
                "udp.checksum.status",
                "ip.checksum.status",
                "http.host",
            ],
        );
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0], "||1||1|example.test");
        assert_eq!(rows[1], "||1|||");
        assert_eq!(rows[2], "|42||1|1|");
        assert_eq!(rows[3], "100|200||1|1|");
        assert_eq!(rows[4], "|7||1||");
        tshark::remove(&path);
    }

    #[test]
    fn tshark_decodes_tunnels() {
        // One inner connection per tunnel, so tshark sees no retransmissions.
        let inner_ip = |port: u16| {
            let t = tcp(
                port,
                80,
                1,
                1,
                TcpFlags::ACK | TcpFlags::PSH,
                100,
                b"GET /tunnel HTTP/1.1\r\nHost: inner.test\r\n\r\n",
                V4_A.into(),
                V4_B.into(),
            );
            ip_packet(V4_A.into(), V4_B.into(), IpNextHeaderProtocols::Tcp, 3, &t)
        };
        let inner_eth = |port: u16| ethernet(MAC_A, MAC_B, &[], EtherTypes::Ipv4, &inner_ip(port));
        let (t1, t2): (IpAddr, IpAddr) = (
            Ipv4Addr::new(203, 0, 113, 1).into(),
            Ipv4Addr::new(203, 0, 113, 2).into(),
        );
        let outer = |proto: IpNextHeaderProtocol, payload: &[u8]| {
            let ip = ip_packet(t1, t2, proto, 77, payload);
            ethernet(
                [2, 0, 0, 0, 1, 1],
                [2, 0, 0, 0, 1, 2],
                &[],
                EtherTypes::Ipv4,
                &ip,
            )
        };
        let gre_plain = gre(
            EtherTypes::Ipv4,
            &inner_ip(41000),
            GreOptions {
                checksum: true,
                key: Some(9),
                seq: None,
            },
        );
        let vx = vxlan(5001, &inner_eth(41003));
        let vx_udp = udp(49152, VXLAN_PORT, &vx, t1, t2);
        let frames = vec![
            outer(IpNextHeaderProtocols::Gre, &gre_plain),
            outer(
                IpNextHeaderProtocols::Gre,
                &erspan2(300, &inner_eth(41001), 1),
            ),
            outer(
                IpNextHeaderProtocols::Gre,
                &erspan3(301, &inner_eth(41002), 2, 12345),
            ),
            outer(IpNextHeaderProtocols::Udp, &vx_udp),
        ];
        if !tshark::available("tshark_decodes_tunnels") {
            return;
        }
        let path = write("tunnels", &frames);
        tshark::assert_clean(&path);
        let rows = tshark::fields(
            &path,
            None,
            &[
                "gre.proto",
                "erspan.spanid",
                "vxlan.vni",
                "http.request.uri",
                "ip.src",
            ],
        );
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(rows[0], "0x0800|||/tunnel|203.0.113.1,192.0.2.10");
        assert_eq!(rows[1], "0x88be|300||/tunnel|203.0.113.1,192.0.2.10");
        assert_eq!(rows[2], "0x22eb|301||/tunnel|203.0.113.1,192.0.2.10");
        assert_eq!(rows[3], "||5001|/tunnel|203.0.113.1,192.0.2.10");
        tshark::remove(&path);
    }

    #[test]
    fn tshark_reassembles_fragments() {
        let payload: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
        let u4 = udp(40004, 7000, &payload, V4_A.into(), V4_B.into());
        let dg = ipv4(
            V4_A,
            V4_B,
            IpNextHeaderProtocols::Udp,
            0x4242,
            FragmentField::NONE,
            64,
            &u4,
        );
        let mut frames: Vec<Vec<u8>> = fragment_ipv4(&dg, 1400)
            .unwrap()
            .iter()
            .map(|f| ethernet(MAC_A, MAC_B, &[], EtherTypes::Ipv4, f))
            .collect();
        frames.reverse(); // out-of-order fragments still reassemble
        let u6 = udp(40005, 7001, &payload, v6(1).into(), v6(2).into());
        for f in fragment_ipv6(v6(1), v6(2), IpNextHeaderProtocols::Udp, 0x99, &u6, 1280) {
            frames.push(ethernet(MAC_A, MAC_B, &[], EtherTypes::Ipv6, &f));
        }
        assert_eq!(frames.len(), 3 + 4);
        if !tshark::available("tshark_reassembles_fragments") {
            return;
        }
        let path = write("frags", &frames);
        tshark::assert_clean(&path);
        let rows = tshark::fields(
            &path,
            Some("udp"),
            &["udp.srcport", "udp.length", "udp.checksum.status"],
        );
        assert_eq!(
            rows,
            vec!["40004|4008|1".to_owned(), "40005|4008|1".to_owned()]
        );
        // Two passes so fragments point forward to the frame that reassembles them.
        let inr = tshark::fields_with(
            &path,
            None,
            &[
                "ip.reassembled_in",
                "ip.fragment.count",
                "ipv6.fragment.count",
            ],
            &["-2"],
        );
        assert_eq!(inr[..4], ["3||", "3||", "|3|", "||"], "{inr:?}");
        assert_eq!(inr[6], "||4", "{inr:?}");
        tshark::remove(&path);
    }
}
