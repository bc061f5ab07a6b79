//! Decoder tests over hand-built frames.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::build::*;
use super::*;

const T0: Timestamp = Timestamp::from_secs(1_700_000_000);

/// Decodes one frame with a fresh decoder; also returns the counters (from a second,
/// identical decoder, since the view keeps the first one borrowed).
fn decode_one(link: LinkType, frame: &[u8]) -> (Decoded<'static>, Stats) {
    let frame: &'static [u8] = Box::leak(frame.to_vec().into_boxed_slice());
    let mut probe = Decoder::default();
    let _ = probe.decode(link, frame, frame.len() as u32, T0);
    let stats = *probe.stats();
    // Leaked so the returned view may borrow it; fine in tests.
    let decoder = Box::leak(Box::new(Decoder::default()));
    (decoder.decode(link, frame, frame.len() as u32, T0), stats)
}

fn packet(link: LinkType, frame: &[u8]) -> Packet<'static> {
    match decode_one(link, frame).0 {
        Decoded::Packet(p) => p,
        other => panic!("expected a packet, got {other:?}"),
    }
}

fn tcp_of<'a>(p: &Packet<'a>) -> TcpSegment<'a> {
    match p.transport {
        Transport::Tcp(t) => t,
        other => panic!("expected tcp, got {other:?}"),
    }
}

fn udp_of<'a>(p: &Packet<'a>) -> UdpDatagram<'a> {
    match p.transport {
        Transport::Udp(u) => u,
        other => panic!("expected udp, got {other:?}"),
    }
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

/// Asserts the packet is the phone's TCP segment built by `phone_frame(b"hello")`.
fn assert_phone(p: &Packet<'_>) {
    assert_eq!(p.eth_src, Some(PHONE_MAC));
    assert_eq!(p.eth_dst, Some(GATEWAY_MAC));
    assert_eq!((p.src, p.dst), (v4(V4_PHONE), v4(V4_SERVER)));
    let t = tcp_of(p);
    assert_eq!((t.src_port, t.dst_port, t.seq), (40000, 443, 1000));
    assert_eq!(t.payload, b"hello");
}

#[test]
fn ethernet_ipv4_tcp() {
    let frame = phone_frame(b"hello");
    let p = packet(LinkType::ETHERNET, &frame);
    assert_phone(&p);
    assert_eq!(p.ip_proto, IpProto::TCP);
    assert!(p.encap.is_empty() && p.vlan_ids.is_empty());
    assert!(!p.truncated && !p.defragmented);
    let t = tcp_of(&p);
    assert!(t.flags.has(TcpFlags::PSH) && t.flags.has(TcpFlags::ACK));
    assert_eq!(t.missing_bytes, 0);
}

#[test]
fn ethernet_padding_is_trimmed_and_ipv4_options_skipped() {
    let ip = ipv4_with(
        V4_A,
        V4_B,
        17,
        &udp(53, 5353, b"q"),
        build::V4Opts {
            options: &[0x01, 0x01, 0x01, 0x00], // NOP NOP NOP EOL
            ..Default::default()
        },
    );
    let mut frame = ethernet(MAC_A, MAC_B, 0x0800, &ip);
    frame.resize(60, 0); // minimum Ethernet frame, zero padding
    let p = packet(LinkType::ETHERNET, &frame);
    let u = udp_of(&p);
    assert_eq!((u.src_port, u.dst_port), (53, 5353));
    assert_eq!(u.payload, b"q");
}

#[test]
fn non_ip_frames_are_classified() {
    let arp = ethernet([0xff; 6], MAC_A, 0x0806, &[0u8; 28]);
    assert_eq!(
        decode_one(LinkType::ETHERNET, &arp).0,
        Decoded::NotIp(NotIpClass::Arp)
    );
    let lldp = ethernet(MAC_B, MAC_A, 0x88cc, &[0u8; 20]);
    assert_eq!(
        decode_one(LinkType::ETHERNET, &lldp).0,
        Decoded::NotIp(NotIpClass::Lldp)
    );
    // 802.3 length field 38, LLC DSAP/SSAP 0x42 (spanning tree).
    let mut stp = ethernet([0x01, 0x80, 0xc2, 0, 0, 0], MAC_A, 38, &[0x42, 0x42, 0x03]);
    stp.extend_from_slice(&[0u8; 35]);
    let (decoded, stats) = decode_one(LinkType::ETHERNET, &stp);
    assert_eq!(decoded, Decoded::NotIp(NotIpClass::Llc));
    assert_eq!(stats.not_ip(NotIpClass::Llc), 1);
    assert_eq!(stats.not_ip, 1);
    // 802.3 with SNAP (RFC 1042) carrying IPv4 is decoded.
    let mut snap = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
    let ip = ipv4(V4_A, V4_B, 17, &udp(1, 2, b"x"));
    snap.extend_from_slice(&ip);
    let frame = ethernet(MAC_B, MAC_A, snap.len() as u16, &snap);
    assert_eq!(udp_of(&packet(LinkType::ETHERNET, &frame)).payload, b"x");
}

#[test]
fn vlan_qinq_and_qinqinq() {
    let inner = ipv4(V4_A, V4_B, 6, &tcp(1, 2, 3, 0x02, b""));
    let one = ethernet_tagged(MAC_B, MAC_A, &[(0x8100, 0x2064)], 0x0800, &inner);
    let p = packet(LinkType::ETHERNET, &one);
    assert_eq!(p.vlan_ids.as_slice(), &[100]); // PCP 1 stripped
    let qinq = ethernet_tagged(MAC_B, MAC_A, &[(0x88a8, 10), (0x8100, 20)], 0x0800, &inner);
    assert_eq!(
        packet(LinkType::ETHERNET, &qinq).vlan_ids.as_slice(),
        &[10, 20]
    );
    let q3 = ethernet_tagged(
        MAC_B,
        MAC_A,
        &[(0x9100, 1), (0x88a8, 2), (0x8100, 3)],
        0x0800,
        &inner,
    );
    let p = packet(LinkType::ETHERNET, &q3);
    assert_eq!(p.vlan_ids.as_slice(), &[1, 2, 3]);
    assert_eq!(p.vlan_ids.outer(), Some(1));
    assert_eq!(tcp_of(&p).flags, TcpFlags::SYN);
}

#[test]
fn deep_vlan_stacks_are_counted_and_limited() {
    let inner = ipv4(V4_A, V4_B, 6, &tcp(1, 2, 3, 0x02, b""));
    let tags: Vec<(u16, u16)> = (1..=6).map(|i| (0x8100, i)).collect();
    let frame = ethernet_tagged(MAC_B, MAC_A, &tags, 0x0800, &inner);
    let (decoded, stats) = decode_one(LinkType::ETHERNET, &frame);
    let Decoded::Packet(p) = decoded else {
        panic!("expected a packet")
    };
    assert_eq!(p.vlan_ids.as_slice(), &[1, 2, 3, 4]);
    assert_eq!(p.vlan_ids.total(), 6);
    assert_eq!(stats.anomaly(AnomalyKind::VlanIdsNotKept), 1);
    let tags: Vec<(u16, u16)> = (1..=9).map(|i| (0x8100, i)).collect();
    let frame = ethernet_tagged(MAC_B, MAC_A, &tags, 0x0800, &inner);
    let (decoded, stats) = decode_one(LinkType::ETHERNET, &frame);
    assert_eq!(decoded, Decoded::Dropped(Error::TooManyVlanTags));
    assert_eq!(stats.anomaly(AnomalyKind::TooManyVlanTags), 1);
    assert_eq!(stats.dropped, 1);
}

#[test]
fn mpls_two_labels_and_pseudowire() {
    let ip = ipv4(V4_A, V4_B, 17, &udp(1000, 2000, b"mpls"));
    let mut body = vec![
        0x00, 0x01, 0x20, 0x40, // label 18, TC 0, S 0, TTL 64
        0x00, 0x02, 0x01, 0x40, // label 32, TC 0, S 1, TTL 64
    ];
    body.extend_from_slice(&ip);
    let frame = ethernet(MAC_B, MAC_A, 0x8847, &body);
    let p = packet(LinkType::ETHERNET, &frame);
    assert!(p.encap.has(Encap::MPLS));
    assert_eq!(udp_of(&p).payload, b"mpls");
    assert_eq!(p.eth_src, Some(MAC_A));

    // Ethernet pseudowire: label, control word, then the customer's frame.
    let mut pw = vec![
        0x00, 0x01, 0x01, 0x40, // label 16, S 1
        0x00, 0x00, 0x00, 0x00, // control word
    ];
    pw.extend_from_slice(&phone_frame(b"hello"));
    let frame = ethernet(MAC_B, MAC_A, 0x8847, &pw);
    let p = packet(LinkType::ETHERNET, &frame);
    assert_phone(&p);
    assert!(p.encap.has(Encap::MPLS));
}

#[test]
fn pppoe_session_and_discovery() {
    let ip = ipv4(V4_A, V4_B, 6, &tcp(80, 5000, 9, 0x10, b"pppoe"));
    let mut body = vec![
        0x11, 0x00, // version 1, type 1, code 0 (session data)
        0x12, 0x34, // session id
    ];
    body.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes()); // length incl. PPP protocol
    body.extend_from_slice(&[0x00, 0x21]); // PPP protocol IPv4
    body.extend_from_slice(&ip);
    let mut frame = ethernet(MAC_B, MAC_A, 0x8864, &body);
    frame.resize(frame.len().max(60), 0);
    let p = packet(LinkType::ETHERNET, &frame);
    assert!(p.encap.has(Encap::PPPOE));
    assert_eq!(tcp_of(&p).payload, b"pppoe");
    let discovery = ethernet([0xff; 6], MAC_A, 0x8863, &[0x11, 0x09, 0, 0, 0, 0]);
    assert_eq!(
        decode_one(LinkType::ETHERNET, &discovery).0,
        Decoded::NotIp(NotIpClass::PppoeDiscovery)
    );
    // LCP inside a session is PPP control.
    let lcp = ethernet(
        MAC_B,
        MAC_A,
        0x8864,
        &[0x11, 0, 0, 1, 0, 6, 0xc0, 0x21, 1, 1, 0, 4],
    );
    assert_eq!(
        decode_one(LinkType::ETHERNET, &lcp).0,
        Decoded::NotIp(NotIpClass::PppControl)
    );
}

/// Outer Ethernet + IPv4 around `ip_payload` with protocol `proto`.
/// Leaked so views may borrow it for the rest of the test.
fn outer_v4(proto: u8, ip_payload: &[u8]) -> &'static [u8] {
    let frame = ethernet(MAC_B, MAC_A, 0x0800, &ipv4(V4_A, V4_B, proto, ip_payload));
    Box::leak(frame.into_boxed_slice())
}

#[test]
fn gre_plain_and_with_key_and_sequence() {
    let inner = ipv4(
        V4_PHONE,
        V4_SERVER,
        6,
        &tcp(40000, 443, 1000, 0x18, b"hello"),
    );
    let frame = outer_v4(47, &gre(0x0800, None, None, &inner));
    let p = packet(LinkType::ETHERNET, frame);
    assert_eq!((p.src, p.dst), (v4(V4_PHONE), v4(V4_SERVER)));
    assert!(p.encap.has(Encap::GRE));
    assert_eq!(p.eth_src, Some(MAC_A)); // no inner Ethernet: the outer one
    let frame = outer_v4(47, &gre(0x0800, Some(0xdead_beef), Some(7), &inner));
    let p = packet(LinkType::ETHERNET, frame);
    assert_eq!(tcp_of(&p).payload, b"hello");
    // Transparent Ethernet bridging.
    let frame = outer_v4(47, &gre(0x6558, Some(1), None, &phone_frame(b"hello")));
    assert_phone(&packet(LinkType::ETHERNET, frame));
    // An empty GRE payload (keepalive) is reported as the outer packet.
    let frame = outer_v4(47, &gre(0x0800, None, None, &[]));
    let p = packet(LinkType::ETHERNET, frame);
    assert_eq!((p.ip_proto, p.transport), (IpProto::GRE, Transport::Other));
    // Unknown GRE version drops.
    let frame = outer_v4(47, &[0x00, 0x05, 0x08, 0x00]);
    assert_eq!(
        decode_one(LinkType::ETHERNET, frame).0,
        Decoded::Dropped(Error::Malformed { layer: Layer::Gre })
    );
}

#[test]
fn pptp_enhanced_gre_with_ack() {
    let inner = ipv4(V4_PHONE, V4_SERVER, 17, &udp(1, 2, b"pptp"));
    let mut g = vec![
        0x30, // K and S set
        0x81, // A set, version 1
        0x88, 0x0b, // protocol PPP
    ];
    g.extend_from_slice(&((inner.len() + 4) as u16).to_be_bytes()); // payload length
    g.extend_from_slice(&[0x00, 0x07]); // call id
    g.extend_from_slice(&5u32.to_be_bytes()); // sequence
    g.extend_from_slice(&4u32.to_be_bytes()); // acknowledgment
    g.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]); // HDLC address/control, PPP IPv4
    g.extend_from_slice(&inner);
    let p = packet(LinkType::ETHERNET, outer_v4(47, &g));
    assert_eq!(udp_of(&p).payload, b"pptp");
}

#[test]
fn erspan_type_i_ii_and_iii_report_inner_macs() {
    let mirrored = phone_frame(b"hello");
    // Type II: GRE with sequence, 8-byte ERSPAN header.
    let mut erspan2 = vec![
        0x10, 0x64, // version 1, VLAN 100
        0x00, 0x2a, // COS 0, En 0, T 0, session 42
        0x00, 0x00, 0x00, 0x00, // reserved, index
    ];
    erspan2.extend_from_slice(&mirrored);
    let frame = outer_v4(47, &gre(0x88be, None, Some(1), &erspan2));
    let p = packet(LinkType::ETHERNET, frame);
    assert_phone(&p);
    assert!(p.encap.has(Encap::GRE) && p.encap.has(Encap::ERSPAN));
    // Type I: no sequence bit, Ethernet directly.
    let frame = outer_v4(47, &gre(0x88be, None, None, &mirrored));
    assert_phone(&packet(LinkType::ETHERNET, frame));
    // Type III with the O bit and an 8-byte platform subheader.
    let mut erspan3 = vec![
        0x20, 0x64, // version 2, VLAN 100
        0x00, 0x2a, // COS, BSO, T, session 42
        0x00, 0x00, 0x10, 0x00, // timestamp
        0x00, 0x00, // SGT
        0x00, // P 0, frame type 0 (Ethernet), hardware id high bits
        0x01, // hardware id low bits, D, granularity, O 1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // platform subheader
    ];
    erspan3.extend_from_slice(&mirrored);
    let frame = outer_v4(47, &gre(0x22eb, None, Some(9), &erspan3));
    let p = packet(LinkType::ETHERNET, frame);
    assert_phone(&p);
    assert!(p.encap.has(Encap::ERSPAN));
}

#[test]
fn vxlan_geneve_gtp_and_teredo() {
    let mirrored = phone_frame(b"hello");
    let frame = outer_v4(17, &udp(51000, 4789, &vxlan(5000, &mirrored)));
    let (decoded, stats) = decode_one(LinkType::ETHERNET, frame);
    let Decoded::Packet(p) = decoded else {
        panic!("expected a packet")
    };
    assert_phone(&p);
    assert_eq!(p.encap, Encap::VXLAN);
    assert_eq!(stats.encap_seen(Encap::VXLAN), 1);

    // VXLAN-GPE with next protocol IPv4.
    let mut gpe = vec![
        0x0c, // flags: I, P
        0x00, 0x00, // reserved
        0x01, // next protocol IPv4
        0x00, 0x00, 0x07, 0x00, // VNI 7, reserved
    ];
    gpe.extend_from_slice(&ipv4(V4_PHONE, V4_SERVER, 17, &udp(5, 6, b"gpe")));
    let p = packet(LinkType::ETHERNET, outer_v4(17, &udp(4789, 4790, &gpe)));
    assert_eq!((p.src, udp_of(&p).payload), (v4(V4_PHONE), &b"gpe"[..]));
    assert!(p.encap.has(Encap::VXLAN));

    // VXLAN port without the I flag stays plain UDP.
    let frame = outer_v4(17, &udp(51000, 4789, &[0u8; 8]));
    assert_eq!(udp_of(&packet(LinkType::ETHERNET, frame)).dst_port, 4789);

    let mut geneve = vec![
        0x01, // version 0, options length 1 word
        0x00, // O, C, reserved
        0x65, 0x58, // protocol Ethernet
        0x00, 0x00, 0x64, 0x00, // VNI 100, reserved
        0x01, 0x02, 0x03, 0x00, // option class, type, length 0
    ];
    geneve.extend_from_slice(&mirrored);
    let p = packet(LinkType::ETHERNET, outer_v4(17, &udp(4000, 6081, &geneve)));
    assert_phone(&p);
    assert!(p.encap.has(Encap::GENEVE));

    let user = ipv4(
        V4_PHONE,
        V4_SERVER,
        6,
        &tcp(40000, 443, 1000, 0x18, b"hello"),
    );
    let mut gtp = vec![
        0x36, // version 1, PT 1, E 1, S 1
        0xff, // G-PDU
    ];
    gtp.extend_from_slice(&((user.len() + 8) as u16).to_be_bytes()); // length after 8 bytes
    gtp.extend_from_slice(&[0, 0, 0, 1]); // TEID
    gtp.extend_from_slice(&[0x00, 0x01, 0x00, 0x85]); // sequence, N-PDU, next: PDU session
    gtp.extend_from_slice(&[0x01, 0x00, 0x09, 0x00]); // ext length 1, QFI, next 0
    gtp.extend_from_slice(&user);
    let p = packet(LinkType::ETHERNET, outer_v4(17, &udp(2152, 2152, &gtp)));
    assert_eq!((p.src, p.dst), (v4(V4_PHONE), v4(V4_SERVER)));
    assert_eq!(tcp_of(&p).payload, b"hello");
    assert!(p.encap.has(Encap::GTP));
    // GTP echo request stays UDP.
    let echo = [0x32, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00];
    let p = packet(LinkType::ETHERNET, outer_v4(17, &udp(2152, 2152, &echo)));
    assert_eq!(udp_of(&p).payload.len(), 12);

    let v6pkt = ipv6(V6_A, V6_B, 17, &udp(7, 8, b"teredo"));
    let mut teredo = vec![
        0x00, 0x00, // origin indication
        0x12, 0x34, 0xc0, 0x00, 0x02, 0x01, // obfuscated port, address
    ];
    teredo.extend_from_slice(&v6pkt);
    let p = packet(LinkType::ETHERNET, outer_v4(17, &udp(3544, 50000, &teredo)));
    assert_eq!(p.src, v6(V6_A));
    assert_eq!(udp_of(&p).payload, b"teredo");
    assert!(p.encap.has(Encap::TEREDO));
}

#[test]
fn ip_in_ip_both_directions() {
    let inner4 = ipv4(V4_PHONE, V4_SERVER, 17, &udp(1, 2, b"4in6"));
    let frame = ethernet(MAC_B, MAC_A, 0x86dd, &ipv6(V6_A, V6_B, 4, &inner4));
    let p = packet(LinkType::ETHERNET, &frame);
    assert_eq!((p.src, p.dst), (v4(V4_PHONE), v4(V4_SERVER)));
    assert!(p.encap.has(Encap::IP_IN_IP));
    let inner6 = ipv6(V6_A, V6_B, 6, &tcp(5, 6, 7, 0x02, b""));
    let p = packet(LinkType::ETHERNET, outer_v4(41, &inner6));
    assert_eq!((p.src, p.dst), (v6(V6_A), v6(V6_B)));
    assert_eq!(tcp_of(&p).src_port, 5);
    // 6in6 and 4in4 as well.
    let p = packet(LinkType::RAW, &ipv6(V6_B, V6_A, 41, &inner6));
    assert_eq!(p.src, v6(V6_A));
    let p = packet(LinkType::RAW, &ipv4(V4_A, V4_B, 4, &inner4));
    assert_eq!(udp_of(&p).payload, b"4in6");
}

#[test]
fn encapsulation_depth_is_limited() {
    let mut pkt = ipv4(V4_PHONE, V4_SERVER, 17, &udp(1, 2, b"deep"));
    for _ in 0..(DEFAULT_MAX_ENCAP_DEPTH + 1) {
        pkt = ipv4(V4_A, V4_B, 4, &pkt);
    }
    let (decoded, stats) = decode_one(LinkType::RAW, &pkt);
    assert_eq!(decoded, Decoded::Dropped(Error::EncapTooDeep));
    assert_eq!(stats.anomaly(AnomalyKind::EncapTooDeep), 1);
}

#[test]
fn ipv6_extension_chain_with_atomic_fragment() {
    let tcp_seg = tcp(443, 40000, 77, 0x10, b"v6");
    let frag = ipv6_frag(6, 0, false, 0x1234, &tcp_seg); // atomic fragment
    let dest = ipv6_ext(44, &[], &frag); // destination options -> fragment
    let mut routing_body = vec![
        0x00, 0x00, // routing type 0, segments left 0
        0x00, 0x00, 0x00, 0x00, // reserved
    ];
    routing_body.extend_from_slice(&V6_B); // address
    let routing = ipv6_ext(60, &routing_body, &dest); // routing -> destination options
    let hbh = ipv6_ext(43, &[0x05, 0x02, 0x00, 0x00], &routing); // router alert -> routing
    let frame = ethernet(MAC_B, MAC_A, 0x86dd, &ipv6(V6_A, V6_B, 0, &hbh));
    let p = packet(LinkType::ETHERNET, &frame);
    assert_eq!(p.ip_proto, IpProto::TCP);
    assert!(!p.defragmented);
    assert_eq!(tcp_of(&p).payload, b"v6");
    // Hop-by-hop after another extension header is invalid.
    let bad = ipv6_ext(0, &[], &ipv6_ext(59, &[], &[]));
    let frame = ipv6(V6_A, V6_B, 60, &bad);
    assert_eq!(
        decode_one(LinkType::RAW, &frame).0,
        Decoded::Dropped(Error::BadIpv6Extension)
    );
    // Mobility header with no next header: other.
    let mobility = ipv6_ext(59, &[0x05, 0x00, 0x00, 0x00], &[]);
    let p = packet(LinkType::RAW, &ipv6(V6_A, V6_B, 135, &mobility));
    assert_eq!(
        (p.ip_proto, p.transport),
        (IpProto::IPV6_NO_NEXT, Transport::Other)
    );
}

#[test]
fn ipv6_fragments_reassemble() {
    let payload: Vec<u8> = (0..100u8).collect();
    let datagram = udp(5353, 53, &payload);
    let (a, b) = datagram.split_at(48);
    let mut decoder = Decoder::default();
    let f1 = ipv6(V6_A, V6_B, 44, &ipv6_frag(17, 0, true, 99, a));
    let f2 = ipv6(
        V6_A,
        V6_B,
        60,
        &ipv6_ext(44, &[], &ipv6_frag(17, 48, false, 99, b)),
    );
    assert_eq!(
        decoder.decode(LinkType::RAW, &f2, f2.len() as u32, T0),
        Decoded::FragmentHeld
    );
    let p = match decoder.decode(LinkType::RAW, &f1, f1.len() as u32, T0) {
        Decoded::Packet(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(p.defragmented);
    assert_eq!(p.src, v6(V6_A));
    let u = udp_of(&p);
    assert_eq!(u.payload, payload.as_slice());
    assert_eq!(decoder.stats().fragments.reassembled, 1);
    assert_eq!(decoder.stats().fragments_held, 1);
}

/// IPv4 fragments of a UDP datagram (24-byte fragments) as Ethernet frames.
fn v4_fragments(id: u16, payload: &[u8]) -> Vec<Vec<u8>> {
    let datagram = udp(1234, 5678, payload);
    datagram
        .chunks(24)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = (i * 24) as u16;
            let more = offset as usize + chunk.len() < datagram.len();
            let ip = ipv4_with(
                V4_A,
                V4_B,
                17,
                chunk,
                build::V4Opts {
                    id,
                    more_fragments: more,
                    offset_bytes: offset,
                    ..Default::default()
                },
            );
            ethernet(MAC_B, MAC_A, 0x0800, &ip)
        })
        .collect()
}

fn feed<'d>(decoder: &'d mut Decoder, frames: &'d [Vec<u8>]) -> Vec<Decoded<'d>> {
    // Collect outcome kinds; only the last may borrow the decoder.
    let mut kinds = Vec::new();
    let n = frames.len();
    for frame in &frames[..n - 1] {
        let d = decoder.decode(LinkType::ETHERNET, frame, frame.len() as u32, T0);
        kinds.push(match d {
            Decoded::Packet(_) => panic!("completed early"),
            Decoded::FragmentHeld => Decoded::FragmentHeld,
            Decoded::NotIp(c) => Decoded::NotIp(c),
            Decoded::Dropped(e) => Decoded::Dropped(e),
        });
    }
    let last = &frames[n - 1];
    kinds.push(decoder.decode(LinkType::ETHERNET, last, last.len() as u32, T0));
    kinds
}

#[test]
fn ipv4_fragments_in_order_reverse_and_with_duplicate() {
    let payload: Vec<u8> = (0..60u8).collect();
    let frags = v4_fragments(1, &payload);
    assert_eq!(frags.len(), 3);

    let mut decoder = Decoder::default();
    let out = feed(&mut decoder, &frags);
    let Decoded::Packet(p) = out[2] else {
        panic!("{:?}", out[2])
    };
    assert!(p.defragmented);
    assert_eq!(udp_of(&p).payload, payload.as_slice());
    assert_eq!(p.eth_src, Some(MAC_A));

    let reversed: Vec<Vec<u8>> = frags.iter().rev().cloned().collect();
    let mut decoder = Decoder::default();
    let out = feed(&mut decoder, &reversed);
    let Decoded::Packet(p) = out[2] else {
        panic!("{:?}", out[2])
    };
    assert_eq!(udp_of(&p).payload, payload.as_slice());

    let with_dup = vec![
        frags[0].clone(),
        frags[1].clone(),
        frags[1].clone(),
        frags[2].clone(),
    ];
    let mut decoder = Decoder::default();
    let out = feed(&mut decoder, &with_dup);
    assert_eq!(out[2], Decoded::FragmentHeld);
    let Decoded::Packet(p) = out[3] else {
        panic!("{:?}", out[3])
    };
    assert_eq!(udp_of(&p).payload, payload.as_slice());
    assert_eq!(decoder.stats().anomaly(AnomalyKind::FragmentDuplicate), 1);
    assert_eq!(decoder.stats().fragments.duplicate, 1);
}

#[test]
fn ipv4_differing_overlap_refuses_datagram() {
    let payload: Vec<u8> = (0..60u8).collect();
    let frags = v4_fragments(2, &payload);
    let mut evil = v4_fragments(2, &[0xee; 60]);
    // Same extent as the second fragment, different bytes.
    let overlapping = evil.remove(1);
    let seq = vec![
        frags[0].clone(),
        frags[1].clone(),
        overlapping,
        frags[2].clone(),
    ];
    let mut decoder = Decoder::default();
    let out = feed(&mut decoder, &seq);
    assert_eq!(
        out[2],
        Decoded::Dropped(Error::FragmentRefused(FragmentRefusal::Overlap))
    );
    assert_eq!(
        out[3],
        Decoded::Dropped(Error::FragmentRefused(FragmentRefusal::AlreadyRefused))
    );
    let stats = decoder.stats();
    assert_eq!(stats.anomaly(AnomalyKind::FragmentOverlap), 1);
    assert_eq!(stats.fragments.overlap, 1);
    assert_eq!(stats.fragments.reassembled, 0);
    assert!(stats.fragments.memory_bytes > 0);
}

#[test]
fn fragment_timeout_and_memcap() {
    let payload: Vec<u8> = (0..60u8).collect();
    let frags = v4_fragments(3, &payload);
    let mut decoder = Decoder::default();
    let first = &frags[0];
    assert_eq!(
        decoder.decode(LinkType::ETHERNET, first, first.len() as u32, T0),
        Decoded::FragmentHeld
    );
    decoder.expire(Timestamp::from_micros(T0.as_micros() + 29_000_000));
    assert_eq!(decoder.stats().fragments.datagrams_in_progress, 1);
    decoder.expire(Timestamp::from_micros(T0.as_micros() + 31_000_000));
    assert_eq!(decoder.stats().fragments.timed_out, 1);
    assert_eq!(decoder.stats().fragments.datagrams_in_progress, 0);
    assert_eq!(decoder.stats().fragments.memory_bytes, 0);

    let limits = Limits {
        defrag: DefragLimits {
            memcap_bytes: 300,
            ..DefragLimits::default()
        },
        ..Limits::default()
    };
    let mut decoder = Decoder::new(limits);
    let mut held = 0;
    let mut refused = 0;
    for id in 0..10u16 {
        let frags = v4_fragments(100 + id, &payload);
        let f = &frags[0];
        match decoder.decode(LinkType::ETHERNET, f, f.len() as u32, T0) {
            Decoded::FragmentHeld => held += 1,
            Decoded::Dropped(Error::FragmentRefused(FragmentRefusal::Memcap)) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(held >= 1 && refused >= 1, "held {held} refused {refused}");
    assert_eq!(decoder.stats().fragments.memcap, refused);
    assert!(decoder.stats().fragments.memory_bytes <= 300);
}

#[test]
fn reassembled_datagram_carrying_a_tunnel() {
    // A fragmented outer UDP/VXLAN datagram whose inner frame is the phone's.
    let inner = vxlan(7, &phone_frame(b"hello"));
    let datagram = udp(40000, 4789, &inner);
    let (a, b) = datagram.split_at(40);
    let f1 = ipv4_with(
        V4_A,
        V4_B,
        17,
        a,
        build::V4Opts {
            id: 9,
            more_fragments: true,
            ..Default::default()
        },
    );
    let f2 = ipv4_with(
        V4_A,
        V4_B,
        17,
        b,
        build::V4Opts {
            id: 9,
            offset_bytes: 40,
            ..Default::default()
        },
    );
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder.decode(LinkType::RAW, &f1, f1.len() as u32, T0),
        Decoded::FragmentHeld
    );
    let Decoded::Packet(p) = decoder.decode(LinkType::RAW, &f2, f2.len() as u32, T0) else {
        panic!("expected a packet")
    };
    assert_phone(&p);
    assert!(p.defragmented && p.encap.has(Encap::VXLAN));
}

#[test]
fn snaplen_truncated_tcp_reports_missing_bytes() {
    let frame = phone_frame(&[b'x'; 1000]);
    let cut = &frame[..96];
    let mut decoder = Decoder::default();
    let Decoded::Packet(p) = decoder.decode(LinkType::ETHERNET, cut, frame.len() as u32, T0) else {
        panic!("expected a packet")
    };
    assert!(p.truncated);
    let t = tcp_of(&p);
    assert_eq!(t.payload.len(), 96 - 14 - 20 - 20);
    assert_eq!(t.missing_bytes, 1000 - 42);
    assert_eq!(decoder.stats().anomaly(AnomalyKind::SnaplenTruncated), 1);
    // A header cut by the snaplen is a drop.
    let cut = &frame[..40];
    assert_eq!(
        decoder.decode(LinkType::ETHERNET, cut, frame.len() as u32, T0),
        Decoded::Dropped(Error::Truncated { layer: Layer::Tcp })
    );
}

#[test]
fn tso_length_zero_uses_captured_bytes() {
    let seg = tcp(1, 2, 3, 0x10, &[7u8; 3000]);
    let ip = ipv4_with(
        V4_A,
        V4_B,
        6,
        &seg,
        build::V4Opts {
            total_len: Some(0),
            ..Default::default()
        },
    );
    let (decoded, stats) = decode_one(LinkType::RAW, &ip);
    let Decoded::Packet(p) = decoded else {
        panic!("expected a packet")
    };
    assert_eq!(tcp_of(&p).payload.len(), 3000);
    assert_eq!(stats.anomaly(AnomalyKind::IpLengthMismatch), 1);
    // Total length below the header length is invalid.
    let ip = ipv4_with(
        V4_A,
        V4_B,
        6,
        &seg,
        build::V4Opts {
            total_len: Some(12),
            ..Default::default()
        },
    );
    assert_eq!(
        decode_one(LinkType::RAW, &ip).0,
        Decoded::Dropped(Error::BadIpHeader)
    );
}

#[test]
fn ipv6_jumbogram() {
    let seg = udp(9, 10, &[1u8; 200]);
    let mut body = vec![
        0x11, 0x00, // next header UDP, length 0 (8 bytes)
        0xc2, 0x04, // jumbo payload option, length 4
    ];
    body.extend_from_slice(&((8 + seg.len()) as u32).to_be_bytes()); // jumbo payload length
    body.extend_from_slice(&seg);
    let mut pkt = ipv6_with_len(V6_A, V6_B, 0, &body, 0);
    pkt.extend_from_slice(&[0u8; 10]); // trailing bytes beyond the jumbo length
    let (decoded, stats) = decode_one(LinkType::IPV6, &pkt);
    let Decoded::Packet(p) = decoded else {
        panic!("expected a packet")
    };
    assert_eq!(udp_of(&p).payload.len(), 200);
    assert_eq!(stats.anomaly(AnomalyKind::IpLengthMismatch), 0);
}

#[test]
fn every_link_type() {
    let ip4 = ipv4(V4_A, V4_B, 17, &udp(1, 2, b"link"));
    let ip6 = ipv6(V6_A, V6_B, 17, &udp(1, 2, b"link"));
    let check = |link: LinkType, frame: &[u8], src: IpAddr| {
        let p = packet(link, frame);
        assert_eq!(p.src, src, "link {link:?}");
        assert_eq!(udp_of(&p).payload, b"link", "link {link:?}");
    };
    for raw in [LinkType::RAW, LinkType::RAW_12, LinkType::RAW_14] {
        check(raw, &ip4, v4(V4_A));
        check(raw, &ip6, v6(V6_A));
    }
    check(LinkType::IPV4, &ip4, v4(V4_A));
    check(LinkType::IPV6, &ip6, v6(V6_A));
    assert_eq!(
        decode_one(LinkType::IPV4, &ip6).0,
        Decoded::Dropped(Error::BadIpVersion(6))
    );

    let with = |prefix: &[u8], ip: &[u8]| [prefix, ip].concat();
    check(LinkType::NULL, &with(&[2, 0, 0, 0], &ip4), v4(V4_A)); // AF_INET little-endian
    check(LinkType::NULL, &with(&[0, 0, 0, 2], &ip4), v4(V4_A)); // AF_INET big-endian
    check(LinkType::NULL, &with(&[30, 0, 0, 0], &ip6), v6(V6_A)); // Darwin AF_INET6
    check(LinkType::LOOP, &with(&[0, 0, 0, 24], &ip6), v6(V6_A)); // OpenBSD AF_INET6
    check(LinkType::LOOP, &with(&[0, 0, 0, 28], &ip6), v6(V6_A)); // FreeBSD AF_INET6

    check(LinkType::PPP, &with(&[0x00, 0x21], &ip4), v4(V4_A));
    check(
        LinkType::PPP,
        &with(&[0xff, 0x03, 0x00, 0x57], &ip6),
        v6(V6_A),
    );
    check(LinkType::PPP, &with(&[0x21], &ip4), v4(V4_A)); // protocol field compressed
    check(
        LinkType::PPP_HDLC,
        &with(&[0xff, 0x03, 0x00, 0x21], &ip4),
        v4(V4_A),
    );
    check(
        LinkType::PPP_HDLC,
        &with(&[0x0f, 0x00, 0x86, 0xdd], &ip6),
        v6(V6_A),
    );

    let sll = [
        0x00, 0x00, // packet type: to us
        0x00, 0x01, // ARPHRD_ETHER
        0x00, 0x06, // address length
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x00, // address, padded to 8
        0x08, 0x00, // protocol IPv4
    ];
    check(LinkType::LINUX_SLL, &with(&sll, &ip4), v4(V4_A));
    assert_eq!(
        packet(LinkType::LINUX_SLL, &with(&sll, &ip4)).eth_src,
        Some(PHONE_MAC)
    );
    let sll2 = [
        0x86, 0xdd, // protocol IPv6
        0x00, 0x00, // reserved
        0x00, 0x00, 0x00, 0x02, // interface index
        0x00, 0x01, // ARPHRD_ETHER
        0x04, // packet type: outgoing
        0x06, // address length
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x00, // address
    ];
    check(LinkType::LINUX_SLL2, &with(&sll2, &ip6), v6(V6_A));

    let mut nflog = vec![
        0x02, // family AF_INET
        0x00, // version 0
        0x00, 0x05, // resource id
        0x08, 0x00, 0x01, 0x00, // TLV length 8, type 1 (packet header)
        0x08, 0x00, 0x01, 0x00, // hw protocol, hook, padding
    ];
    nflog.extend_from_slice(&((ip4.len() + 4) as u16).to_le_bytes()); // TLV length
    nflog.extend_from_slice(&9u16.to_le_bytes()); // NFULA_PAYLOAD
    nflog.extend_from_slice(&ip4);
    check(LinkType::NFLOG, &nflog, v4(V4_A));

    let (decoded, stats) = decode_one(LinkType(147), &ip4);
    assert_eq!(decoded, Decoded::Dropped(Error::UnsupportedLinkType(147)));
    assert_eq!(stats.anomaly(AnomalyKind::UnsupportedLinkType), 1);
}

#[test]
fn anomaly_labels_are_unique_snake_case() {
    let mut seen = std::collections::HashSet::new();
    for (i, kind) in AnomalyKind::ALL.iter().enumerate() {
        assert_eq!(kind.index(), i);
        assert!(seen.insert(kind.as_str()));
        assert!(kind
            .as_str()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    }
    for (i, class) in NotIpClass::ALL.iter().enumerate() {
        assert_eq!(class.index(), i);
    }
    for (i, encap) in Encap::ALL.iter().enumerate() {
        assert_eq!(encap.index(), i);
        assert_ne!(encap.as_str(), "mixed");
    }
}

/// xorshift64 PRNG for deterministic fuzzing.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn corpus() -> Vec<(LinkType, Vec<u8>)> {
    let mirrored = phone_frame(b"hello");
    let mut erspan2 = vec![0x10, 0x64, 0x00, 0x2a, 0, 0, 0, 0];
    erspan2.extend_from_slice(&mirrored);
    let frags = v4_fragments(5, &[3u8; 60]);
    let v6frag = ipv6(V6_A, V6_B, 44, &ipv6_frag(17, 0, true, 1, &[0u8; 16]));
    vec![
        (LinkType::ETHERNET, mirrored.clone()),
        (
            LinkType::ETHERNET,
            outer_v4(47, &gre(0x88be, None, Some(1), &erspan2)).to_vec(),
        ),
        (
            LinkType::ETHERNET,
            outer_v4(17, &udp(1, 4789, &vxlan(1, &mirrored))).to_vec(),
        ),
        (
            LinkType::ETHERNET,
            ethernet_tagged(MAC_A, MAC_B, &[(0x88a8, 1), (0x8100, 2)], 0x8847, &{
                let mut m = vec![0, 1, 0x01, 0x40, 0, 0, 0, 0];
                m.extend_from_slice(&mirrored);
                m
            }),
        ),
        (LinkType::ETHERNET, frags[0].clone()),
        (LinkType::ETHERNET, frags[2].clone()),
        (LinkType::RAW, v6frag),
        (
            LinkType::RAW,
            ipv6(
                V6_A,
                V6_B,
                0,
                &ipv6_ext(
                    60,
                    &[],
                    &ipv6_ext(41, &[], &ipv6(V6_B, V6_A, 6, &tcp(1, 2, 3, 2, b"x"))),
                ),
            ),
        ),
        (
            LinkType::NULL,
            [
                &[2u8, 0, 0, 0][..],
                &ipv4(V4_A, V4_B, 4, &ipv4(V4_A, V4_B, 6, &tcp(1, 2, 3, 2, b""))),
            ]
            .concat(),
        ),
        (
            LinkType::LOOP,
            [
                &[0u8, 0, 0, 24][..],
                &ipv6(V6_A, V6_B, 17, &udp(3544, 1, &[0u8; 48])),
            ]
            .concat(),
        ),
        (
            LinkType::PPP,
            [&[0xffu8, 0x03, 0x00, 0x21][..], &outer_v4(17, &[])[14..]].concat(),
        ),
        (
            LinkType::PPP_HDLC,
            [
                &[0x0fu8, 0x00, 0x08, 0x00][..],
                &ipv4(V4_A, V4_B, 47, &gre(0x6558, Some(1), Some(2), &mirrored)),
            ]
            .concat(),
        ),
        (
            LinkType::LINUX_SLL,
            [
                &[0u8, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x88, 0x64][..],
                &[0x11, 0, 0, 1, 0, 30, 0, 0x21],
                &ipv4(
                    V4_A,
                    V4_B,
                    17,
                    &udp(2152, 2152, &[0x30, 0xff, 0, 0, 0, 0, 0, 1]),
                ),
            ]
            .concat(),
        ),
        (
            LinkType::LINUX_SLL2,
            [
                &[
                    0x86u8, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
                ][..],
                &ipv6(
                    V6_A,
                    V6_B,
                    17,
                    &udp(1, 6081, &[0, 0, 0x65, 0x58, 0, 0, 0, 0]),
                ),
            ]
            .concat(),
        ),
        (
            LinkType::NFLOG,
            [&[2u8, 0, 0, 0, 8, 0, 9, 0][..], &ipv4(V4_A, V4_B, 6, &[])].concat(),
        ),
        (
            LinkType::IPV4,
            ipv4(V4_A, V4_B, 47, &gre(0x22eb, None, Some(1), &[0x20; 40])),
        ),
        (
            LinkType::IPV6,
            ipv6(V6_A, V6_B, 51, &[6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ),
    ]
}

const FUZZ_LINKS: [LinkType; 16] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::PPP,
    LinkType::RAW_12,
    LinkType::RAW_14,
    LinkType::PPP_HDLC,
    LinkType::RAW,
    LinkType::C_HDLC,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NFLOG,
    LinkType::LINUX_SLL2,
    LinkType(0xffff_ffff),
    LinkType(147),
];

#[test]
fn no_panic_on_random_truncated_and_mutated_frames() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let limits = Limits {
        defrag: DefragLimits {
            memcap_bytes: 64 * 1024,
            max_datagrams: 16,
            ..DefragLimits::default()
        },
        ..Limits::default()
    };
    let mut decoder = Decoder::new(limits);
    let mut ts = T0.as_micros();
    let mut cases = 0u64;
    // Every prefix of every corpus frame, under its own link type and all others.
    for (link, frame) in corpus() {
        for cut in 0..=frame.len() {
            for l in std::iter::once(link).chain(FUZZ_LINKS) {
                let _ = decoder.decode(
                    l,
                    &frame[..cut],
                    frame.len() as u32,
                    Timestamp::from_micros(ts),
                );
                cases += 1;
            }
        }
    }
    // Mutations: flip, overwrite and splice bytes of corpus frames.
    let corpus = corpus();
    for _ in 0..20_000 {
        let (link, base) = &corpus[rng.below(corpus.len())];
        let mut frame = base.clone();
        for _ in 0..=rng.below(4) {
            if frame.is_empty() {
                break;
            }
            let at = rng.below(frame.len());
            match rng.below(4) {
                0 => frame[at] ^= 1 << rng.below(8),
                1 => frame[at] = rng.next() as u8,
                2 => frame[at] = [0x00, 0xff, 0x08, 0x86, 0x88, 0x45, 0x60, 0x2f][rng.below(8)],
                _ => frame.truncate(at),
            }
        }
        let link = if rng.below(8) == 0 {
            FUZZ_LINKS[rng.below(FUZZ_LINKS.len())]
        } else {
            *link
        };
        let wire = frame.len() as u32
            + if rng.below(4) == 0 {
                rng.below(2000) as u32
            } else {
                0
            };
        ts += rng.below(2_000_000) as i64;
        let _ = decoder.decode(link, &frame, wire, Timestamp::from_micros(ts));
        cases += 1;
    }
    // Pure noise.
    for _ in 0..10_000 {
        let len = rng.below(200);
        let frame: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let link = FUZZ_LINKS[rng.below(FUZZ_LINKS.len())];
        let _ = decoder.decode(link, &frame, rng.next() as u32, Timestamp::from_micros(ts));
        cases += 1;
    }
    decoder.expire(Timestamp::from_micros(ts + 100_000_000));
    let stats = decoder.stats();
    assert_eq!(stats.packets, cases);
    assert_eq!(
        stats.decoded + stats.dropped + stats.fragments_held + stats.not_ip,
        stats.packets
    );
    assert!(stats.fragments.memory_bytes == 0 && stats.fragments.datagrams_in_progress == 0);
}
