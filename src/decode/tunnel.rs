//! Tunnels: GRE (versions 0 and 1) with ERSPAN types I/II/III, and the UDP tunnels
//! VXLAN, Geneve, GTP-U and Teredo.
//!
//! Takes the payload of an IP packet (GRE) or a UDP datagram; emits the next step of the
//! walk (an Ethernet frame, an IP packet, PPP, MPLS) and counts one level of
//! encapsulation depth per tunnel. GRE is identified by its protocol number, so a bad GRE
//! header drops the frame; UDP tunnels are identified by port, so a payload that does not
//! look like the tunnel header is left as a plain UDP datagram. Must not panic or
//! allocate.

use super::{be16, Ctx, Encap, Error, EtherType, Layer, Limits, Next, UdpDatagram};

/// VXLAN UDP port (RFC 7348 §5).
pub const VXLAN_PORT: u16 = 4789;
/// VXLAN-GPE UDP port (draft-ietf-nvo3-vxlan-gpe §3.3).
pub const VXLAN_GPE_PORT: u16 = 4790;
/// Geneve UDP port (RFC 8926 §3.3).
pub const GENEVE_PORT: u16 = 6081;
/// GTP-U UDP port (3GPP TS 29.281 §4.4.2.3).
pub const GTP_U_PORT: u16 = 2152;
/// Teredo UDP port (RFC 4380 §2.9).
pub const TEREDO_PORT: u16 = 3544;

/// GTP message type of user data (G-PDU, TS 29.281 §6.1).
const GTP_G_PDU: u8 = 255;

/// GRE header (RFC 2784 §2, keys and sequence numbers RFC 2890 §2, routing RFC 1701
/// §2.1, enhanced GRE version 1 RFC 2637 §4.1) and its payload. `Ok(None)` when the
/// payload is empty or of a protocol type that carries no IP packet we decode (the outer
/// packet is then reported with transport "other").
pub(crate) fn parse_gre<'a>(
    data: &'a [u8],
    ctx: &mut Ctx,
    limits: &Limits,
) -> Result<Option<Next<'a>>, Error> {
    let malformed = Error::Malformed { layer: Layer::Gre };
    let (flags, version_byte, protocol) = match data {
        [flags, version, p0, p1, ..] => (*flags, *version, u16::from_be_bytes([*p0, *p1])),
        _ => return Err(Error::Truncated { layer: Layer::Gre }),
    };
    let checksum = flags & 0x80 != 0;
    let routing = flags & 0x40 != 0;
    let key = flags & 0x20 != 0;
    let seq = flags & 0x10 != 0;
    let version = version_byte & 0x07;
    let mut len = 4usize;
    match version {
        0 => {
            if checksum || routing {
                len += 4; // checksum and offset (present together, RFC 1701 §2.1)
            }
            if key {
                len += 4;
            }
            if seq {
                len += 4;
            }
            if routing {
                // Source route entries: address family, SRE offset, SRE length, data;
                // the list ends with family 0 and length 0.
                loop {
                    let sre_len = data
                        .get(len + 3)
                        .copied()
                        .ok_or(Error::Truncated { layer: Layer::Gre })?;
                    let family = be16(data, len).unwrap_or(0);
                    len += 4 + usize::from(sre_len);
                    if family == 0 && sre_len == 0 {
                        break;
                    }
                }
            }
        }
        1 => {
            // PPTP: key (payload length and call id) mandatory, no checksum or routing,
            // protocol PPP; sequence and acknowledgment optional.
            if checksum || routing || !key || protocol != EtherType::PPP.0 {
                return Err(malformed);
            }
            len += 4;
            if seq {
                len += 4;
            }
            if version_byte & 0x80 != 0 {
                len += 4;
            }
        }
        _ => return Err(malformed),
    }
    let payload = data
        .get(len..)
        .ok_or(Error::Truncated { layer: Layer::Gre })?;
    if payload.is_empty() {
        return Ok(None);
    }
    let next = match EtherType(protocol) {
        EtherType::IPV4 => Next::Ipv4(payload),
        EtherType::IPV6 => Next::Ipv6(payload),
        EtherType::TEB => Next::Ethernet(payload),
        EtherType::MPLS | EtherType::MPLS_MULTICAST => Next::Mpls(payload),
        EtherType::PPP => match payload {
            [0xff, 0x03, rest @ ..] => Next::Ppp(rest),
            _ => Next::Ppp(payload),
        },
        EtherType::ERSPAN_II => {
            ctx.note(Encap::GRE);
            return parse_erspan_ii(payload, seq, ctx, limits).map(Some);
        }
        EtherType::ERSPAN_III => {
            ctx.note(Encap::GRE);
            return parse_erspan_iii(payload, ctx, limits).map(Some);
        }
        _ => return Ok(None),
    };
    ctx.enter(Encap::GRE, limits)?;
    Ok(Some(next))
}

/// ERSPAN over GRE protocol 0x88be. Type I has no sequence number and no ERSPAN header;
/// type II has the sequence bit and an 8-byte header (version 1, VLAN, COS, encap type,
/// truncated flag, session id, index), then the mirrored Ethernet frame.
fn parse_erspan_ii<'a>(
    data: &'a [u8],
    gre_seq: bool,
    ctx: &mut Ctx,
    limits: &Limits,
) -> Result<Next<'a>, Error> {
    if !gre_seq {
        ctx.enter(Encap::ERSPAN, limits)?;
        return Ok(Next::Ethernet(data));
    }
    let version = data.first().map(|b| b >> 4).ok_or(Error::Truncated {
        layer: Layer::Erspan,
    })?;
    if version != 1 {
        return Err(Error::Malformed {
            layer: Layer::Erspan,
        });
    }
    let frame = data.get(8..).ok_or(Error::Truncated {
        layer: Layer::Erspan,
    })?;
    ctx.enter(Encap::ERSPAN, limits)?;
    Ok(Next::Ethernet(frame))
}

/// ERSPAN type III (GRE protocol 0x22eb): 12-byte header (version 2, VLAN, COS, BSO, T,
/// session id, timestamp, SGT, P, frame type, hardware id, D, granularity, O), then an
/// 8-byte platform-specific subheader when O is set, then the mirrored frame: Ethernet
/// for frame type 0, IP for frame type 2.
fn parse_erspan_iii<'a>(data: &'a [u8], ctx: &mut Ctx, limits: &Limits) -> Result<Next<'a>, Error> {
    let header = data.get(..12).ok_or(Error::Truncated {
        layer: Layer::Erspan,
    })?;
    let malformed = Error::Malformed {
        layer: Layer::Erspan,
    };
    if header.first().map(|b| b >> 4) != Some(2) {
        return Err(malformed);
    }
    let ft_byte = header.get(10).copied().unwrap_or(0);
    let o_byte = header.get(11).copied().unwrap_or(0);
    let frame_type = (ft_byte >> 2) & 0x1f;
    let header_len = if o_byte & 0x01 != 0 { 20 } else { 12 };
    let frame = data.get(header_len..).ok_or(Error::Truncated {
        layer: Layer::Erspan,
    })?;
    ctx.enter(Encap::ERSPAN, limits)?;
    match frame_type {
        0 => Ok(Next::Ethernet(frame)),
        2 => Ok(Next::Ip(frame)),
        _ => Err(malformed),
    }
}

/// Recognises a UDP tunnel by port and header shape. `Ok(None)` leaves the datagram as
/// plain UDP.
pub(crate) fn probe_udp<'a>(
    udp: &UdpDatagram<'a>,
    ctx: &mut Ctx,
    limits: &Limits,
) -> Result<Option<Next<'a>>, Error> {
    let payload = udp.payload;
    let next = if udp.dst_port == VXLAN_PORT {
        probe_vxlan(payload).map(|n| (n, Encap::VXLAN))
    } else if udp.dst_port == VXLAN_GPE_PORT {
        probe_vxlan_gpe(payload).map(|n| (n, Encap::VXLAN))
    } else if udp.dst_port == GENEVE_PORT {
        probe_geneve(payload).map(|n| (n, Encap::GENEVE))
    } else if udp.dst_port == GTP_U_PORT || udp.src_port == GTP_U_PORT {
        probe_gtp_u(payload).map(|n| (n, Encap::GTP))
    } else if udp.dst_port == TEREDO_PORT || udp.src_port == TEREDO_PORT {
        probe_teredo(payload, udp.missing_bytes > 0).map(|n| (n, Encap::TEREDO))
    } else {
        None
    };
    match next {
        Some((next, encap)) => {
            ctx.enter(encap, limits)?;
            Ok(Some(next))
        }
        None => Ok(None),
    }
}

/// VXLAN (RFC 7348 §5): flags with I (VNI valid) set, 24 reserved bits, 24-bit VNI,
/// 8 reserved bits, then an Ethernet frame.
fn probe_vxlan(data: &[u8]) -> Option<Next<'_>> {
    let flags = *data.first()?;
    if flags & 0x08 == 0 {
        return None;
    }
    Some(Next::Ethernet(data.get(8..)?))
}

/// VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe §3.1): flags (version, I, P, B, O), reserved,
/// next protocol (1 IPv4, 2 IPv6, 3 Ethernet; assumed Ethernet without the P flag), VNI,
/// reserved.
fn probe_vxlan_gpe(data: &[u8]) -> Option<Next<'_>> {
    let flags = *data.first()?;
    if flags & 0x08 == 0 || flags >> 6 != 0 {
        return None;
    }
    let payload = data.get(8..)?;
    let next_protocol = if flags & 0x04 != 0 { *data.get(3)? } else { 3 };
    match next_protocol {
        1 => Some(Next::Ipv4(payload)),
        2 => Some(Next::Ipv6(payload)),
        3 => Some(Next::Ethernet(payload)),
        _ => None,
    }
}

/// Geneve (RFC 8926 §3.4): version 0, options length in 4-byte units, O/C flags,
/// protocol type (an EtherType), VNI, reserved, options, then the payload.
fn probe_geneve(data: &[u8]) -> Option<Next<'_>> {
    let first = *data.first()?;
    if first >> 6 != 0 {
        return None;
    }
    let header_len = 8 + usize::from(first & 0x3f) * 4;
    let protocol = EtherType(be16(data, 2)?);
    let payload = data.get(header_len..)?;
    match protocol {
        EtherType::TEB => Some(Next::Ethernet(payload)),
        EtherType::IPV4 => Some(Next::Ipv4(payload)),
        EtherType::IPV6 => Some(Next::Ipv6(payload)),
        _ => None,
    }
}

/// GTP-U (3GPP TS 29.281 §5.1): version 1, protocol type 1, E/S/PN flags, message type,
/// length of everything after the first 8 bytes, TEID; when any of E/S/PN is set, a
/// sequence number, N-PDU number and next extension type; then extension headers (length
/// in 4-byte units, content, next type; §5.2). Only G-PDUs carry an IP packet.
fn probe_gtp_u(data: &[u8]) -> Option<Next<'_>> {
    let flags = *data.first()?;
    let message_type = *data.get(1)?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || message_type != GTP_G_PDU {
        return None;
    }
    let length = usize::from(be16(data, 2)?);
    // The length counts bytes after the mandatory 8; a snaplen cut keeps what is there.
    let message = data.get(..8 + length).unwrap_or(data);
    let mut at = 8usize;
    if flags & 0x07 != 0 {
        let mut next_type = *message.get(11)?;
        at = 12;
        while next_type != 0 {
            let units = usize::from(*message.get(at)?);
            if units == 0 {
                return None;
            }
            let end = at + units * 4;
            next_type = *message.get(end - 1)?;
            at = end;
        }
    }
    let payload = message.get(at..)?;
    Some(Next::Ip(payload))
}

/// Teredo (RFC 4380 §5.1.1): optional authentication indicator (`00 01`, id length, auth
/// length, id, auth value, 8-byte nonce, confirmation byte) and origin indication
/// (`00 00`, port, address), then an IPv6 packet. Accepted only when an IPv6 header
/// whose payload length matches follows, so other traffic on port 3544 stays UDP.
fn probe_teredo(data: &[u8], cut: bool) -> Option<Next<'_>> {
    let mut rest = data;
    if let [0x00, 0x01, id_len, auth_len, ..] = rest {
        let len = 4 + usize::from(*id_len) + usize::from(*auth_len) + 8 + 1;
        rest = rest.get(len..)?;
    }
    if let [0x00, 0x00, ..] = rest {
        rest = rest.get(8..)?;
    }
    if rest.first()? >> 4 != 6 {
        return None;
    }
    let payload_len = usize::from(be16(rest, 4)?);
    let total = 40 + payload_len;
    let plausible = total == rest.len() || (cut && total > rest.len() && rest.len() >= 40);
    plausible.then_some(Next::Ipv6(rest))
}
