//! Test-only frame builder: assembles headers field by field (with a correct IPv4 header
//! checksum, although the decoder does not verify it).

pub(crate) const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
pub(crate) const MAC_B: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];
pub(crate) const PHONE_MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
pub(crate) const GATEWAY_MAC: [u8; 6] = [0x02, 0x66, 0x77, 0x88, 0x99, 0xaa];
pub(crate) const V4_A: [u8; 4] = [192, 0, 2, 1];
pub(crate) const V4_B: [u8; 4] = [198, 51, 100, 2];
pub(crate) const V4_PHONE: [u8; 4] = [10, 1, 2, 3];
pub(crate) const V4_SERVER: [u8; 4] = [203, 0, 113, 9];
pub(crate) const V6_A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub(crate) const V6_B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Ethernet II header with optional VLAN tags `(tpid, tci)`, outermost first.
pub(crate) fn ethernet_tagged(
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[(u16, u16)],
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst); // destination MAC
    f.extend_from_slice(&src); // source MAC
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes()); // tag protocol id
        f.extend_from_slice(&tci.to_be_bytes()); // PCP/DEI/VLAN id
    }
    f.extend_from_slice(&ethertype.to_be_bytes()); // EtherType
    f.extend_from_slice(payload);
    f
}

pub(crate) fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    ethernet_tagged(dst, src, &[], ethertype, payload)
}

/// IPv4 header options for [`ipv4_with`].
#[derive(Clone, Copy, Default)]
pub(crate) struct V4Opts<'o> {
    pub(crate) id: u16,
    pub(crate) more_fragments: bool,
    /// Fragment offset in bytes (multiple of 8).
    pub(crate) offset_bytes: u16,
    pub(crate) options: &'o [u8],
    /// Overrides the total length field.
    pub(crate) total_len: Option<u16>,
}

pub(crate) fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_with(src, dst, proto, payload, V4Opts::default())
}

pub(crate) fn ipv4_with(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    payload: &[u8],
    o: V4Opts<'_>,
) -> Vec<u8> {
    assert!(o.options.len().is_multiple_of(4));
    let header_len = 20 + o.options.len();
    let total = o.total_len.unwrap_or((header_len + payload.len()) as u16);
    let flags_offset = (if o.more_fragments { 0x2000 } else { 0 }) | (o.offset_bytes / 8);
    let mut h = Vec::new();
    h.push(0x40 | (header_len / 4) as u8); // version 4, IHL
    h.push(0); // DSCP/ECN
    h.extend_from_slice(&total.to_be_bytes()); // total length
    h.extend_from_slice(&o.id.to_be_bytes()); // identification
    h.extend_from_slice(&flags_offset.to_be_bytes()); // flags, fragment offset
    h.push(64); // TTL
    h.push(proto); // protocol
    h.extend_from_slice(&[0, 0]); // header checksum, filled below
    h.extend_from_slice(&src); // source
    h.extend_from_slice(&dst); // destination
    h.extend_from_slice(o.options); // options
    let sum = internet_checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// RFC 1071 one's-complement sum.
pub(crate) fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub(crate) fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_with_len(src, dst, next, payload, payload.len() as u16)
}

pub(crate) fn ipv6_with_len(
    src: [u8; 16],
    dst: [u8; 16],
    next: u8,
    payload: &[u8],
    payload_len: u16,
) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class, flow label
    h.extend_from_slice(&payload_len.to_be_bytes()); // payload length
    h.push(next); // next header
    h.push(64); // hop limit
    h.extend_from_slice(&src); // source
    h.extend_from_slice(&dst); // destination
    h.extend_from_slice(payload);
    h
}

/// Generic IPv6 extension header (hop-by-hop, routing, destination options) with `body`
/// padded by PadN to a multiple of 8 bytes.
pub(crate) fn ipv6_ext(next: u8, body: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut h = vec![next, 0]; // next header, length (filled below)
    h.extend_from_slice(body);
    let pad = (8 - h.len() % 8) % 8;
    match pad {
        0 => {}
        1 => h.push(0), // Pad1
        n => {
            h.push(1); // PadN
            h.push((n - 2) as u8);
            h.extend(std::iter::repeat_n(0, n - 2));
        }
    }
    h[1] = (h.len() / 8 - 1) as u8;
    h.extend_from_slice(rest);
    h
}

/// IPv6 fragment header (RFC 8200 §4.5) followed by `rest`.
pub(crate) fn ipv6_frag(next: u8, offset_bytes: u16, more: bool, id: u32, rest: &[u8]) -> Vec<u8> {
    let mut h = vec![next, 0]; // next header, reserved
    h.extend_from_slice(&(offset_bytes | u16::from(more)).to_be_bytes()); // offset, M
    h.extend_from_slice(&id.to_be_bytes()); // identification
    h.extend_from_slice(rest);
    h
}

pub(crate) fn tcp(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sport.to_be_bytes()); // source port
    h.extend_from_slice(&dport.to_be_bytes()); // destination port
    h.extend_from_slice(&seq.to_be_bytes()); // sequence number
    h.extend_from_slice(&1u32.to_be_bytes()); // acknowledgment number
    h.push(0x50); // data offset 5
    h.push(flags); // flags
    h.extend_from_slice(&65535u16.to_be_bytes()); // window
    h.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    h.extend_from_slice(payload);
    h
}

pub(crate) fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sport.to_be_bytes()); // source port
    h.extend_from_slice(&dport.to_be_bytes()); // destination port
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes()); // length
    h.extend_from_slice(&[0, 0]); // checksum
    h.extend_from_slice(payload);
    h
}

/// GRE version 0 with optional key and sequence number.
pub(crate) fn gre(protocol: u16, key: Option<u32>, seq: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u8;
    if key.is_some() {
        flags |= 0x20;
    }
    if seq.is_some() {
        flags |= 0x10;
    }
    let mut h = vec![flags, 0]; // C R K S s Recur, flags/version 0
    h.extend_from_slice(&protocol.to_be_bytes()); // protocol type
    if let Some(k) = key {
        h.extend_from_slice(&k.to_be_bytes()); // key
    }
    if let Some(s) = seq {
        h.extend_from_slice(&s.to_be_bytes()); // sequence number
    }
    h.extend_from_slice(payload);
    h
}

pub(crate) fn vxlan(vni: u32, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x08, 0, 0, 0]; // flags (I), reserved
    h.extend_from_slice(&(vni << 8).to_be_bytes()); // VNI, reserved
    h.extend_from_slice(payload);
    h
}

/// A phone's TCP segment inside Ethernet: the typical innermost frame.
pub(crate) fn phone_frame(payload: &[u8]) -> Vec<u8> {
    ethernet(
        GATEWAY_MAC,
        PHONE_MAC,
        0x0800,
        &ipv4(
            V4_PHONE,
            V4_SERVER,
            6,
            &tcp(40000, 443, 1000, 0x18, payload),
        ),
    )
}
