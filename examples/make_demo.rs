//! Writes `demo/lab-demo.pcap`: a synthetic capture of lab phone 1 (see
//! `demo/phone1.toml`) launching an app, an analytics SDK reporting device identifiers
//! before consent, an ad SDK over TLS, the app's own API after consent, and one host that
//! belongs to no session. Deterministic: running it again gives the same bytes.
//!
//! Run: `cargo run --example make_demo`

use std::fs::File;
use std::io::BufWriter;
use std::net::IpAddr;

use leaktap::flow::Direction;
use leaktap::synth::pcap::{CaptureWrite, LinkType, PcapWriter};
use leaktap::synth::tcp::{Segmentation, TcpConversation};
use leaktap::synth::traffic::{self, RrType};
use leaktap::synth::Endpoint;

/// 2026-03-02T09:00:00Z, the session's app_launched event.
const T0: i64 = 1_772_442_000_000_000;
const SEC: i64 = 1_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let phone_mac = [0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e];
    let gateway_mac = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
    let phone = |port| Endpoint::new(phone_mac, ip("192.0.2.23"), port);
    let resolver = Endpoint::new(gateway_mac, ip("192.0.2.1"), 53);
    let mut frames: Vec<(i64, Vec<u8>)> = Vec::new();

    let dns =
        |frames: &mut Vec<(i64, Vec<u8>)>, id: u16, port: u16, name: &str, addr: &str, at: i64| {
            let query = traffic::dns_query(id, name, RrType::A);
            let answer = traffic::dns_response(id, name, &[ip(addr)]);
            frames.extend(traffic::udp_exchange(
                &phone(port),
                &resolver,
                &[],
                &[
                    (Direction::ToServer, &query),
                    (Direction::ToClient, &answer),
                ],
                at,
                12_000,
            ));
        };

    // Before consent: an analytics SDK posts device identifiers in a form body.
    dns(
        &mut frames,
        0x1a01,
        40001,
        "ulogs.umeng.com",
        "203.0.113.10",
        T0 + SEC,
    );
    let body = b"imei=861234567890127&android_id=3a5f9c2e8b7d6140&model=LAB-1&os=android14";
    let request = traffic::http_request(
        "POST",
        "ulogs.umeng.com",
        "/unify_logs?appkey=5f1d0e2a",
        &[
            ("User-Agent", "Dalvik/2.1.0 (Linux; U; Android 14)"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body,
    );
    let response =
        traffic::http_response(200, &[("Content-Type", "application/json")], b"{\"ok\":1}");
    let mut conv = TcpConversation::new(
        phone(50001),
        Endpoint::new(gateway_mac, ip("203.0.113.10"), 80),
    )
    .with_start_micros(T0 + 2 * SEC);
    conv.handshake()
        .client_sends(&request, &Segmentation::fixed(40))
        .server_sends(&response, &Segmentation::whole())
        .close();
    frames.extend(conv.take_frames());

    // Before consent: an ad SDK over TLS (only the name is visible without keys).
    dns(
        &mut frames,
        0x1a02,
        40002,
        "sdk.e.qq.com",
        "203.0.113.20",
        T0 + 3 * SEC,
    );
    let hello = traffic::tls_client_hello("sdk.e.qq.com", &["h2", "http/1.1"], [7u8; 32]);
    let server_hello = traffic::tls_server_hello([9u8; 32], &[3u8; 32]);
    let mut conv = TcpConversation::new(
        phone(50002),
        Endpoint::new(gateway_mac, ip("203.0.113.20"), 443),
    )
    .with_start_micros(T0 + 4 * SEC);
    conv.handshake()
        .client_sends(&hello, &Segmentation::whole())
        .server_sends(&server_hello, &Segmentation::whole())
        .close();
    frames.extend(conv.take_frames());

    // After consent: the app's own API, with a gzip'd chunked response.
    dns(
        &mut frames,
        0x1a03,
        40003,
        "api.example-reader.cn",
        "198.51.100.7",
        T0 + 45 * SEC,
    );
    let request = traffic::http_request(
        "GET",
        "api.example-reader.cn",
        "/v1/feed?page=1",
        &[
            ("User-Agent", "ExampleReader/3.2 (Android 14)"),
            ("Accept-Encoding", "gzip"),
        ],
        b"",
    );
    let feed = traffic::gzip(
        b"{\"items\":[{\"id\":1,\"title\":\"hello\"},{\"id\":2,\"title\":\"world\"}]}",
    );
    let mut response_body = traffic::chunked(&feed, &[16, 16, 64]);
    let mut response = traffic::http_response(
        200,
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    response.append(&mut response_body);
    let mut conv = TcpConversation::new(
        phone(50003),
        Endpoint::new(gateway_mac, ip("198.51.100.7"), 80),
    )
    .with_start_micros(T0 + 46 * SEC);
    conv.handshake()
        .client_sends(&request, &Segmentation::whole())
        .server_sends(&response, &Segmentation::fixed(30))
        .close();
    frames.extend(conv.take_frames());

    // A host outside every session.
    let other = Endpoint::new([0x02, 0x99, 0, 0, 0, 0x99], ip("192.0.2.99"), 51000);
    let request = traffic::http_request(
        "GET",
        "www.example.com",
        "/",
        &[("User-Agent", "curl/8.5.0")],
        b"",
    );
    let response =
        traffic::http_response(200, &[("Content-Type", "text/html")], b"<html>ok</html>");
    let mut conv = TcpConversation::new(other, Endpoint::new(gateway_mac, ip("198.51.100.80"), 80))
        .with_start_micros(T0 + 50 * SEC);
    conv.handshake()
        .client_sends(&request, &Segmentation::whole())
        .server_sends(&response, &Segmentation::whole())
        .close();
    frames.extend(conv.take_frames());

    frames.sort_by_key(|(ts, _)| *ts);
    let out = BufWriter::new(File::create("demo/lab-demo.pcap")?);
    let mut writer = PcapWriter::new(out, LinkType::ETHERNET)?;
    for (ts, frame) in &frames {
        writer.write_packet(*ts, frame)?;
    }
    writer.into_inner()?;
    println!("wrote demo/lab-demo.pcap: {} packets", frames.len());
    Ok(())
}
