//! Tests of [`HttpFlow`] over whole conversations; byte fixtures are written one field per
//! line. Personal data in fixtures is synthetic (example.com, 555 numbers, test IMEIs).

use std::io::Write;

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;

use super::*;
use crate::flow::Direction::{ToClient, ToServer};
use crate::proto::http::{DEFAULT_DECOMPRESS_RATIO_GRACE_BYTES, DEFAULT_MAX_DECODED_BODY_BYTES};

fn flow() -> HttpFlow {
    HttpFlow::new(Limits::default())
}

/// Feeds `(direction, bytes)` steps, each in pieces of at most `piece` bytes.
fn run_pieces(f: &mut HttpFlow, steps: &[(Direction, &[u8])], piece: usize) -> Vec<Event> {
    let mut events = Vec::new();
    for (dir, data) in steps {
        for chunk in data.chunks(piece.max(1)) {
            f.on_data(*dir, chunk, &mut events);
        }
    }
    events
}

fn run(steps: &[(Direction, &[u8])]) -> (HttpFlow, Vec<Event>) {
    let mut f = flow();
    let events = run_pieces(&mut f, steps, usize::MAX);
    (f, events)
}

fn requests(events: &[Event]) -> Vec<&Request> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Request(r) => Some(&**r),
            _ => None,
        })
        .collect()
}

fn transactions(events: &[Event]) -> Vec<&Transaction> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Transaction(t) => Some(&**t),
            _ => None,
        })
        .collect()
}

fn anomalies(events: &[Event]) -> Vec<AnomalyKind> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Anomaly(k) => Some(*k),
            _ => None,
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Wraps `body` in a request head with the given extra header lines and Content-Length.
fn post(extra: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "POST /upload HTTP/1.1\r\nHost: t.example.com\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

const GET_QUERY_COOKIES: &[u8] = concat!(
    "GET /v1/track?email=alice%40example.com&lat=52.52 HTTP/1.1\r\n", // request line
    "Host: api.example.com\r\n",                                      // Host
    "User-Agent: TestApp/1.0 (Android 14)\r\n",                       // User-Agent
    "Cookie: sid=abc123; uid=u-42\r\n",                               // first Cookie field
    "cookie: theme=dark\r\n",                                         // second, other case
    "\r\n",                                                           // end of head
)
.as_bytes();

const RESPONSE_200_EMPTY: &[u8] = concat!(
    "HTTP/1.1 200 OK\r\n",   // status line
    "Content-Length: 0\r\n", // no body
    "\r\n",                  // end of head
)
.as_bytes();

#[test]
fn get_with_query_and_cookies() {
    let (f, events) = run(&[
        (ToServer, GET_QUERY_COOKIES),
        (ToClient, RESPONSE_200_EMPTY),
    ]);
    let reqs = requests(&events);
    assert_eq!(reqs.len(), 1);
    let r = reqs[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.uri, "/v1/track?email=alice%40example.com&lat=52.52");
    assert_eq!(r.query(), Some("email=alice%40example.com&lat=52.52"));
    assert_eq!(r.version, 1);
    assert_eq!(r.host.as_deref(), Some("api.example.com"));
    assert_eq!(r.user_agent.as_deref(), Some("TestApp/1.0 (Android 14)"));
    assert_eq!(r.headers.len(), 4);
    assert_eq!(r.headers[2].name, "Cookie");
    let cookies: Vec<_> = r.cookies().collect();
    assert_eq!(
        cookies,
        vec![
            (&b"sid"[..], &b"abc123"[..]),
            (&b"uid"[..], &b"u-42"[..]),
            (&b"theme"[..], &b"dark"[..]),
        ]
    );
    assert_eq!(r.body_kind, BodyKind::Empty);
    assert!(!r.body_truncated);
    let txs = transactions(&events);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].status, Some(200));
    assert_eq!(txs[0].uri, r.uri);
    assert_eq!(txs[0].host.as_deref(), Some("api.example.com"));
    assert!(anomalies(&events).is_empty());
    assert_eq!(f.stats().requests, 1);
    assert_eq!(f.stats().transactions, 1);
    assert_eq!(f.pending_len(), 0);
}

#[test]
fn post_form() {
    let req = concat!(
        "POST /login HTTP/1.1\r\n",                            // request line
        "Host: shop.example.com\r\n",                          // Host
        "Content-Type: application/x-www-form-urlencoded\r\n", // form
        "Content-Length: 45\r\n",                              // body length
        "\r\n",                                                // end of head
        "user=alice%40example.com&phone=%2B15555550100",       // body, 45 bytes
    );
    let (_, events) = run(&[(ToServer, req.as_bytes())]);
    let r = requests(&events)[0];
    assert_eq!(r.body, b"user=alice%40example.com&phone=%2B15555550100");
    assert_eq!(r.body_wire_len, 45);
    assert_eq!(r.body_kind, BodyKind::Form);
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
}

#[test]
fn post_json_sniffed_without_type() {
    let body = br#"{"email":"alice@example.com","imei":"490154203237518"}"#;
    let (_, events) = run(&[(ToServer, &post("", body))]);
    let r = requests(&events)[0];
    assert_eq!(r.body, body);
    assert_eq!(r.body_kind, BodyKind::Json);
    let (_, events) = run(&[(
        ToServer,
        &post("Content-Type: application/json; charset=utf-8\r\n", b"true"),
    )]);
    assert_eq!(requests(&events)[0].body_kind, BodyKind::Json);
}

#[test]
fn multipart() {
    let body = concat!(
        "--b0undary\r\n",                                         // first part
        "Content-Disposition: form-data; name=\"email\"\r\n\r\n", // part head
        "alice@example.com\r\n",                                  // part body
        "--b0undary--\r\n",                                       // closing delimiter
    );
    let req = post(
        "Content-Type: multipart/form-data; boundary=\"b0undary\"\r\n",
        body.as_bytes(),
    );
    let (_, events) = run(&[(ToServer, &req)]);
    let r = requests(&events)[0];
    assert_eq!(
        r.body_kind,
        BodyKind::Multipart {
            boundary: "b0undary".into()
        }
    );
    assert_eq!(r.body, body.as_bytes());
}

#[test]
fn keep_alive_three_requests() {
    let mut f = flow();
    let mut events = Vec::new();
    for i in 0..3 {
        let req = format!("GET /item/{i} HTTP/1.1\r\nHost: a.example.com\r\n\r\n");
        f.on_data(ToServer, req.as_bytes(), &mut events);
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\nitem {i}",
            5 + i.to_string().len()
        );
        f.on_data(ToClient, resp.as_bytes(), &mut events);
    }
    let txs = transactions(&events);
    assert_eq!(txs.len(), 3);
    for (i, tx) in txs.iter().enumerate() {
        assert_eq!(tx.uri, format!("/item/{i}"));
        assert_eq!(tx.status, Some(200));
        assert_eq!(tx.response_body_len, 6);
        assert_eq!(tx.response_content_type.as_deref(), Some("text/plain"));
    }
    assert_eq!(requests(&events).len(), 3);
    assert!(anomalies(&events).is_empty());
}

#[test]
fn pipelined_three_and_three_in_one_chunk() {
    let reqs = concat!(
        "GET /a HTTP/1.1\r\nHost: p.example.com\r\n\r\n", // request 1
        "POST /b HTTP/1.1\r\nHost: p.example.com\r\nContent-Length: 3\r\n\r\nx=1", // request 2
        "HEAD /c HTTP/1.1\r\nHost: p.example.com\r\n\r\n", // request 3
    );
    let resps = concat!(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", // response 1
        "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", // response 2
        "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", // response 3 (HEAD: no body)
    );
    let (f, events) = run(&[(ToServer, reqs.as_bytes()), (ToClient, resps.as_bytes())]);
    let txs = transactions(&events);
    let got: Vec<_> = txs
        .iter()
        .map(|t| {
            (
                t.method.as_str(),
                t.uri.as_str(),
                t.status,
                t.request_body_len,
                t.response_body_len,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("GET", "/a", Some(200), 0, 2),
            ("POST", "/b", Some(201), 3, 0),
            ("HEAD", "/c", Some(200), 0, 0),
        ]
    );
    assert_eq!(requests(&events)[1].body, b"x=1");
    assert_eq!(f.pending_len(), 0);
    assert!(anomalies(&events).is_empty());
}

#[test]
fn expect_100_continue() {
    let head = concat!(
        "PUT /profile HTTP/1.1\r\n", // request line
        "Host: c.example.com\r\n",   // Host
        "Expect: 100-continue\r\n",  // wait for 100
        "Content-Length: 9\r\n",     // body length
        "\r\n",                      // end of head
    );
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(ToServer, head.as_bytes(), &mut ev);
    f.on_data(ToClient, b"HTTP/1.1 100 Continue\r\n\r\n", &mut ev);
    assert!(
        transactions(&ev).is_empty(),
        "100 is not the final response"
    );
    f.on_data(ToServer, b"name=bob!", &mut ev);
    f.on_data(ToClient, b"HTTP/1.1 204 No Content\r\n\r\n", &mut ev);
    let r = requests(&ev)[0];
    assert!(r.expect_continue);
    assert_eq!(r.body, b"name=bob!");
    let txs = transactions(&ev);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].status, Some(204));
    assert_eq!(txs[0].request_body_len, 9);
    assert_eq!(f.stats().interim_responses, 1);
}

#[test]
fn head_response_has_no_body_even_with_length() {
    let (f, ev) = run(&[
        (ToServer, b"HEAD /big HTTP/1.1\r\nHost: h.example.com\r\n\r\nGET /next HTTP/1.1\r\nHost: h.example.com\r\n\r\n"),
        (
            ToClient,
            concat!(
                "HTTP/1.1 200 OK\r\n",          // status line
                "Content-Length: 100000\r\n",   // length of the GET representation
                "\r\n",                         // end of head, no body follows
                "HTTP/1.1 200 OK\r\n",          // next response
                "Content-Length: 2\r\n\r\nhi",  // with body
            )
            .as_bytes(),
        ),
    ]);
    let txs = transactions(&ev);
    assert_eq!(txs.len(), 2);
    assert_eq!(
        (txs[0].method.as_str(), txs[0].response_body_len),
        ("HEAD", 0)
    );
    assert_eq!(
        (txs[1].uri.as_str(), txs[1].response_body_len),
        ("/next", 2)
    );
    assert_eq!(f.pending_len(), 0);
}

#[test]
fn no_body_for_204_and_304() {
    let reqs = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
    let resps = concat!(
        "HTTP/1.1 204 No Content\r\n\r\n", // no body by status
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", // length of the cached one
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz", // real body
    );
    let (_, ev) = run(&[(ToServer, reqs), (ToClient, resps.as_bytes())]);
    let got: Vec<_> = transactions(&ev)
        .iter()
        .map(|t| (t.status, t.response_body_len))
        .collect();
    assert_eq!(got, vec![(Some(204), 0), (Some(304), 0), (Some(200), 1)]);
}

#[test]
fn chunked_request_with_extensions_and_trailers() {
    let req = concat!(
        "POST /sync HTTP/1.1\r\n",        // request line
        "Host: s.example.com\r\n",        // Host
        "Transfer-Encoding: chunked\r\n", // chunked
        "Content-Length: 999\r\n",        // ignored: chunked wins (RFC 9112 §6.3)
        "Trailer: X-Checksum\r\n",        // announces a trailer
        "\r\n",                           // end of head
        "5;name=value\r\n",               // chunk-size with extension
        "hello\r\n",                      // chunk data
        "7 ; a=\"b c\"\r\n",              // chunk-size with BWS and quoted extension
        ", world\r\n",                    // chunk data
        "0\r\n",                          // last chunk
        "X-Checksum: 1234\r\n",           // trailer field
        "\r\n",                           // end of trailers
        "GET /after HTTP/1.1\r\n\r\n",    // next request
    );
    let (_, ev) = run(&[(ToServer, req.as_bytes())]);
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, b"hello, world");
    assert_eq!(reqs[0].body_wire_len, 12);
    assert_eq!(reqs[0].header("x-checksum"), Some(&b"1234"[..]));
    assert_eq!(reqs[1].uri, "/after");
    assert_eq!(anomalies(&ev), vec![AnomalyKind::TeAndCl]);
}

/// A chunked request whose gzip body is cut across three chunks at awkward places
/// (inside the gzip header, inside the deflate data).
fn gzip_chunked_request() -> (Vec<u8>, Vec<u8>) {
    let plain = br#"{"email":"alice@example.com","phone":"+1 555 555 0100","lat":52.52}"#.repeat(3);
    let gz = gzip(&plain);
    let mut req = concat!(
        "POST /collect HTTP/1.1\r\n",         // request line
        "Host: g.example.com\r\n",            // Host
        "Content-Type: application/json\r\n", // JSON
        "Content-Encoding: gzip\r\n",         // gzip'd
        "Transfer-Encoding: chunked\r\n",     // chunked
        "\r\n",                               // end of head
    )
    .as_bytes()
    .to_vec();
    for part in [&gz[..5], &gz[5..23], &gz[23..]] {
        req.extend(format!("{:x};x=y\r\n", part.len()).bytes()); // chunk-size
        req.extend_from_slice(part); // chunk data
        req.extend(b"\r\n"); // end of chunk data
    }
    req.extend(b"0\r\n\r\n"); // last chunk, no trailers
    (req, plain)
}

const GZIP_RESPONSE: &[u8] = concat!(
    "HTTP/1.1 200 OK\r\n",            // status line
    "Content-Encoding: gzip\r\n",     // not decoded for responses
    "Transfer-Encoding: chunked\r\n", // chunked
    "\r\n",                           // end of head
    "3\r\nabc\r\n0\r\n\r\n",          // one chunk, last chunk
)
.as_bytes();

#[test]
fn gzip_chunked_body_decodes() {
    let (req, plain) = gzip_chunked_request();
    let (_, ev) = run(&[(ToServer, &req), (ToClient, GZIP_RESPONSE)]);
    let r = requests(&ev)[0];
    assert_eq!(r.body, plain);
    assert_eq!(r.content_encoding, vec![Coding::Gzip]);
    assert_eq!(r.body_kind, BodyKind::Json);
    assert!(!r.body_truncated);
    let t = transactions(&ev)[0];
    assert_eq!(t.request_body_len, gzip(&plain).len() as u64);
    assert_eq!(t.response_body_len, 3);
    assert!(anomalies(&ev).is_empty());
}

#[test]
fn gzip_chunked_every_split_gives_identical_events() {
    let (req, _) = gzip_chunked_request();
    let (_, baseline) = run(&[(ToServer, &req), (ToClient, GZIP_RESPONSE)]);
    for split in 0..=req.len() {
        let (_, ev) = run(&[
            (ToServer, &req[..split]),
            (ToServer, &req[split..]),
            (ToClient, GZIP_RESPONSE),
        ]);
        assert_eq!(ev, baseline, "split at {split}");
    }
    let mut f = flow();
    let ev = run_pieces(&mut f, &[(ToServer, &req), (ToClient, GZIP_RESPONSE)], 1);
    assert_eq!(ev, baseline, "one-byte chunks");
    for piece in [2, 3, 7, 13] {
        let mut f = flow();
        let ev = run_pieces(
            &mut f,
            &[(ToServer, &req), (ToClient, GZIP_RESPONSE)],
            piece,
        );
        assert_eq!(ev, baseline, "piece {piece}");
    }
}

#[test]
fn deflate_raw_and_zlib_request_bodies() {
    let plain = b"imei=490154203237518&email=bob%40example.com";
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(plain).unwrap();
    let zlib = z.finish().unwrap();
    let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
    d.write_all(plain).unwrap();
    let raw = d.finish().unwrap();
    for body in [zlib, raw] {
        let req = post("Content-Encoding: deflate\r\n", &body);
        for piece in [1, usize::MAX] {
            let mut f = flow();
            let ev = run_pieces(&mut f, &[(ToServer, &req)], piece);
            let r = requests(&ev)[0];
            assert_eq!(r.body, plain);
            assert_eq!(r.body_kind, BodyKind::Form);
            assert!(anomalies(&ev).is_empty());
        }
    }
}

/// `brotli.compress(b'{"email":"alice@example.com","imei":"490154203237518"}', quality=5)`,
/// produced once with Python's brotli module.
const BROTLI_JSON: &[u8] = &[
    0x1b, 0x35, 0x00, 0x00, 0x04, 0x22, 0x6f, 0xa9, 0x5f, 0x16, 0xfc, 0xfc, 0x0f, 0x9f, 0xa4, 0x6a,
    0x26, 0xfc, 0x46, 0x48, 0x06, 0x36, 0xe0, 0xc0, 0x21, 0xd0, 0x88, 0xf2, 0x01, 0xe4, 0xec, 0xbe,
    0xd3, 0x07, 0xca, 0x38, 0xf3, 0xc4, 0xda, 0x03, 0x99, 0xa7, 0xe1, 0x92, 0x88, 0xbb, 0x03, 0x47,
    0x7b, 0x16, 0xd3, 0xb6, 0x5a, 0xaa, 0x49, 0xe3, 0x03,
];

#[test]
fn brotli_request_body() {
    let req = post("Content-Encoding: br\r\n", BROTLI_JSON);
    for piece in [1, 5, usize::MAX] {
        let mut f = flow();
        let ev = run_pieces(&mut f, &[(ToServer, &req)], piece);
        let r = requests(&ev)[0];
        assert_eq!(
            r.body,
            br#"{"email":"alice@example.com","imei":"490154203237518"}"#
        );
        assert_eq!(r.body_kind, BodyKind::Json);
        assert_eq!(r.content_encoding, vec![Coding::Brotli]);
    }
}

#[test]
fn zip_bomb_stops_at_cap() {
    // 50 MB of zeros compress to about 50 KB.
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..50 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 1024 * 1024);
    let req = post("Content-Encoding: gzip\r\n", &bomb);
    let mut f = flow();
    let ev = run_pieces(&mut f, &[(ToServer, &req)], 1460);
    let r = requests(&ev)[0];
    assert!(r.body_truncated);
    assert!(r.body.len() <= DEFAULT_MAX_DECODED_BODY_BYTES);
    assert!(r.body.len() as u64 >= DEFAULT_DECOMPRESS_RATIO_GRACE_BYTES);
    assert!(r.body.iter().all(|&b| b == 0));
    assert_eq!(r.body_wire_len, bomb.len() as u64);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::DecompressRatioCap]);
    assert_eq!(f.stats().anomaly(AnomalyKind::DecompressRatioCap), 1);

    // Without the ratio cap, the size cap stops it.
    let limits = Limits {
        max_decompress_ratio: u64::MAX,
        ..Limits::default()
    };
    let mut f = HttpFlow::new(limits);
    let ev = run_pieces(&mut f, &[(ToServer, &req)], 1460);
    let r = requests(&ev)[0];
    assert_eq!(r.body.len(), DEFAULT_MAX_DECODED_BODY_BYTES);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::DecompressSizeCap]);
}

#[test]
fn undecodable_body_kept_raw() {
    let req = post("Content-Encoding: gzip\r\n", b"a=1&b=2");
    let (_, ev) = run(&[(ToServer, &req)]);
    assert_eq!(requests(&ev)[0].body, b"a=1&b=2");
    assert_eq!(anomalies(&ev), vec![AnomalyKind::DecompressError]);
}

const WS_REQUEST: &[u8] = concat!(
    "GET /chat HTTP/1.1\r\n",                          // request line
    "Host: ws.example.com\r\n",                        // Host
    "Upgrade: websocket\r\n",                          // RFC 6455 §4.1
    "Connection: Upgrade\r\n",                         // hop-by-hop upgrade
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", // RFC 6455 §1.3 sample nonce
    "Sec-WebSocket-Version: 13\r\n",                   // version
    "\r\n",                                            // end of head
)
.as_bytes();

const WS_RESPONSE: &[u8] = concat!(
    "HTTP/1.1 101 Switching Protocols\r\n", // status line
    "Upgrade: websocket\r\n",               // protocol
    "Connection: Upgrade\r\n",              // hop-by-hop upgrade
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", // RFC 6455 §1.3 sample
    "\r\n",                                 // end of head
)
.as_bytes();

/// An unmasked WebSocket text frame "Hi" from the server (RFC 6455 §5.2).
const WS_SERVER_FRAME: &[u8] = &[0x81, 0x02, b'H', b'i'];
/// A masked text frame "Hi" from the client.
const WS_CLIENT_FRAME: &[u8] = &[0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];

#[test]
fn websocket_upgrade() {
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(ToServer, WS_REQUEST, &mut ev);
    // The client jumps the gun; the bytes are held until the answer.
    f.on_data(ToServer, WS_CLIENT_FRAME, &mut ev);
    let mut resp = WS_RESPONSE.to_vec();
    resp.extend_from_slice(WS_SERVER_FRAME);
    f.on_data(ToClient, &resp, &mut ev);
    let r = requests(&ev)[0];
    assert!(r.websocket_upgrade);
    let t = transactions(&ev)[0];
    assert_eq!(t.status, Some(101));
    assert!(t.websocket);
    assert!(ev.contains(&Event::Upgrade {
        kind: TunnelKind::Upgrade,
        protocol: "websocket".into()
    }));
    assert!(ev.contains(&Event::Tunnel {
        dir: ToClient,
        kind: TunnelKind::Upgrade,
        first_bytes: WS_SERVER_FRAME.to_vec()
    }));
    assert!(ev.contains(&Event::Tunnel {
        dir: ToServer,
        kind: TunnelKind::Upgrade,
        first_bytes: WS_CLIENT_FRAME.to_vec()
    }));
    assert!(f.is_tunnel(ToClient) && f.is_tunnel(ToServer));
    let before = ev.len();
    f.on_data(ToServer, WS_CLIENT_FRAME, &mut ev);
    f.on_data(ToClient, WS_SERVER_FRAME, &mut ev);
    assert_eq!(ev.len(), before, "tunnel bytes produce no events");
    assert_eq!(f.stats().tunnel_bytes, 12);
    assert!(anomalies(&ev).is_empty());
}

#[test]
fn websocket_upgrade_split_at_every_byte() {
    let mut resp = WS_RESPONSE.to_vec();
    resp.extend_from_slice(WS_SERVER_FRAME);
    let (_, base) = run(&[(ToServer, WS_REQUEST), (ToClient, &resp)]);
    let mut f = flow();
    let ev = run_pieces(&mut f, &[(ToServer, WS_REQUEST), (ToClient, &resp)], 1);
    // The head ends a call, so both Tunnel events carry no bytes (client side first) and
    // the frame bytes that follow are counted as misrouted tunnel bytes.
    let firsts: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Tunnel {
                dir, first_bytes, ..
            } => Some((*dir, first_bytes.len())),
            _ => None,
        })
        .collect();
    assert_eq!(firsts, vec![(ToServer, 0), (ToClient, 0)]);
    assert_eq!(requests(&ev), requests(&base));
    assert_eq!(transactions(&ev), transactions(&base));
    assert_eq!(f.stats().tunnel_bytes, 4);
}

#[test]
fn upgrade_declined_replays_held_bytes() {
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(ToServer, WS_REQUEST, &mut ev);
    f.on_data(
        ToServer,
        b"GET /next HTTP/1.1\r\nHost: ws.example.com\r\n\r\n",
        &mut ev,
    );
    assert_eq!(requests(&ev).len(), 1, "held until the answer");
    f.on_data(
        ToClient,
        b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        &mut ev,
    );
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].uri, "/next");
    let got: Vec<_> = transactions(&ev)
        .iter()
        .map(|t| (t.uri.clone(), t.status))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/chat".to_string(), Some(426)),
            ("/next".to_string(), Some(200))
        ]
    );
    assert!(!f.is_tunnel(ToServer));
    assert!(anomalies(&ev).is_empty());
}

#[test]
fn connect_tunnel() {
    let tls_hello: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0];
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(
        ToServer,
        b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n",
        &mut ev,
    );
    f.on_data(
        ToClient,
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        &mut ev,
    );
    f.on_data(ToServer, tls_hello, &mut ev);
    let r = requests(&ev)[0];
    assert_eq!(r.host.as_deref(), Some("api.example.com:443"));
    assert!(ev.contains(&Event::Upgrade {
        kind: TunnelKind::Connect,
        protocol: "api.example.com:443".into()
    }));
    assert!(f.is_tunnel(ToServer) && f.is_tunnel(ToClient));
    assert_eq!(f.stats().tunnel_bytes, tls_hello.len() as u64);
    assert_eq!(transactions(&ev)[0].status, Some(200));
}

#[test]
fn connect_refused_stays_http() {
    let (f, ev) = run(&[
        (ToServer, b"CONNECT x.example.com:443 HTTP/1.1\r\n\r\n"),
        (
            ToClient,
            b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\ndeny",
        ),
        (ToServer, b"GET http://y.example.com/p HTTP/1.1\r\n\r\n"),
    ]);
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].host.as_deref(),
        Some("y.example.com"),
        "absolute form"
    );
    assert!(!f.is_tunnel(ToServer));
}

#[test]
fn close_delimited_response() {
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(ToServer, b"GET /old HTTP/1.0\r\n\r\n", &mut ev);
    f.on_data(
        ToClient,
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",
        &mut ev,
    );
    f.on_data(ToClient, b"</html>", &mut ev);
    assert!(transactions(&ev).is_empty());
    f.on_close(ToClient, &mut ev);
    let t = transactions(&ev);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].response_body_len, 13);
    assert_eq!(requests(&ev)[0].version, 0);
    assert!(anomalies(&ev).is_empty());
}

#[test]
fn close_flushes_unanswered_and_truncated() {
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(
        ToServer,
        b"GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
        &mut ev,
    );
    f.on_close(ToServer, &mut ev);
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].body_truncated);
    assert_eq!(reqs[1].body, b"abc");
    assert!(transactions(&ev).is_empty(), "responses may still come");
    f.on_close(ToClient, &mut ev);
    let t = transactions(&ev);
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|t| t.status.is_none()));
    assert_eq!(t[1].request_body_len, 3);
    assert_eq!(f.stats().transactions_unanswered, 2);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::TruncatedMessage]);
}

#[test]
fn gap_in_body_skips_bytes() {
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(
        ToServer,
        b"POST /f HTTP/1.1\r\nContent-Length: 20\r\n\r\nname=al",
        &mut ev,
    );
    f.on_gap(ToServer, 5, &mut ev);
    f.on_data(ToServer, b"&x=12345GET /g HTTP/1.1\r\n\r\n", &mut ev);
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].body_truncated);
    assert_eq!(reqs[0].body, b"name=al&x=12345");
    assert_eq!(reqs[0].body_wire_len, 20);
    assert_eq!(reqs[1].uri, "/g");
    assert_eq!(anomalies(&ev), vec![AnomalyKind::BodyGap]);
    f.on_data(
        ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01",
        &mut ev,
    );
    f.on_gap(ToClient, 6, &mut ev);
    f.on_data(
        ToClient,
        b"89HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        &mut ev,
    );
    let t = transactions(&ev);
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].status, t[0].response_body_len, t[0].gap),
        (Some(200), 10, true)
    );
    assert_eq!(
        (t[1].uri.as_str(), t[1].status, t[1].gap),
        ("/g", Some(404), false)
    );
    assert_eq!(f.stats().gap_bytes, 11);
}

#[test]
fn gap_in_compressed_body_keeps_decoded_prefix() {
    let plain = b"0123456789abcdef".repeat(4096);
    let gz = gzip(&plain);
    let req = post("Content-Encoding: gzip\r\n", &gz);
    let head_len = req.len() - gz.len();
    let cut = head_len + gz.len() / 2;
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(ToServer, &req[..cut], &mut ev);
    f.on_gap(ToServer, 10, &mut ev);
    f.on_data(ToServer, &req[cut + 10..], &mut ev);
    let r = requests(&ev)[0];
    assert!(r.body_truncated);
    assert!(plain.starts_with(&r.body));
    assert_eq!(r.body_wire_len, gz.len() as u64);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::BodyGap]);
}

#[test]
fn gap_in_headers_resyncs() {
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(
        ToServer,
        b"GET /a HTTP/1.1\r\nHost: r.example.com\r\nCookie: sid=",
        &mut ev,
    );
    f.on_gap(ToServer, 100, &mut ev);
    f.on_data(
        ToServer,
        b"ab; junk\r\nAccept: */*\r\n\r\nGET /b HTTP/1.1\r\nHost: r.example.com\r\n\r\n",
        &mut ev,
    );
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].uri, "/a");
    assert!(reqs[0].headers_truncated);
    assert_eq!(reqs[0].host.as_deref(), Some("r.example.com"));
    assert_eq!(reqs[1].uri, "/b");
    assert!(!reqs[1].headers_truncated);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::GapResync]);

    // Response side: the head of the first response is lost; pairing stays aligned.
    f.on_data(ToClient, b"HTTP/1.1 200 OK\r\nContent-Le", &mut ev);
    f.on_gap(ToClient, 30, &mut ev);
    f.on_data(
        ToClient,
        b"xx\r\n\r\nbodyHTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
        &mut ev,
    );
    let t = transactions(&ev);
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].uri.as_str(), t[0].status, t[0].gap),
        ("/a", Some(200), true)
    );
    assert_eq!((t[1].uri.as_str(), t[1].status), ("/b", Some(302)));
    assert_eq!(f.stats().anomaly(AnomalyKind::GapResync), 2);
}

#[test]
fn gap_between_messages_keeps_pairing() {
    let mut f = flow();
    let mut ev = Vec::new();
    f.on_data(ToServer, b"GET /1 HTTP/1.1\r\n\r\n", &mut ev);
    // Request 2 is lost entirely.
    f.on_gap(ToServer, 40, &mut ev);
    f.on_data(ToServer, b"GET /3 HTTP/1.1\r\n\r\n", &mut ev);
    f.on_data(
        ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n",
        &mut ev,
    );
    let got: Vec<_> = transactions(&ev)
        .iter()
        .map(|t| (t.uri.clone(), t.status, t.gap))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/1".to_string(), Some(200), false),
            (String::new(), Some(201), true),
            ("/3".to_string(), Some(202), false),
        ]
    );
}

#[test]
fn garbage_start_line_gives_up() {
    let (f, ev) = run(&[(
        ToServer,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n more",
    )]);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::StartLineInvalid]);
    assert_eq!(f.direction_state(ToServer), DirectionState::GaveUp);
    assert_eq!(f.stats().ignored_bytes, 5);
    let (f, ev) = run(&[(ToClient, b"SSH-2.0-OpenSSH_9.6\r\n")]);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::StartLineInvalid]);
    assert_eq!(f.direction_state(ToClient), DirectionState::GaveUp);
    assert_eq!(f.direction_state(ToServer), DirectionState::Http);
}

#[test]
fn conflicting_content_length_resyncs_on_the_next_request() {
    let req = concat!(
        "POST /x HTTP/1.1\r\n",           // request line
        "Content-Length: 5\r\n",          // first length
        "Content-Length: 6\r\n",          // disagrees: framing unknown (RFC 9110 §8.6)
        "\r\n",                           // end of head
        "hello!",                         // body of unknown length
        "GET /smuggled HTTP/1.1\r\n\r\n", // a request hidden behind the bad length
    );
    let (f, ev) = run(&[(ToServer, req.as_bytes())]);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::ContentLengthConflict]);
    let r = requests(&ev)[0];
    assert!(r.body_truncated);
    assert!(r.body.is_empty());
    assert_eq!(requests(&ev)[1].uri, "/smuggled");
    assert_eq!(f.direction_state(ToServer), DirectionState::Http);
    // A list of equal values is fine.
    let (_, ev) = run(&[(
        ToServer,
        b"POST /x HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok",
    )]);
    assert_eq!(requests(&ev)[0].body, b"ok");
    assert!(anomalies(&ev).is_empty());
}

#[test]
fn non_chunked_request_transfer_encoding_resyncs() {
    let (f, ev) = run(&[(
        ToServer,
        b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nzzGET /next HTTP/1.1\r\n\r\n",
    )]);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::TransferEncodingInvalid]);
    assert_eq!(requests(&ev)[1].uri, "/next");
    assert_eq!(f.direction_state(ToServer), DirectionState::Http);
}

#[test]
fn bare_lf_and_obs_fold_tolerated() {
    let req = concat!(
        "POST /f HTTP/1.1\n",     // bare LF
        "Host: lf.example.com\n", // bare LF
        "X-Long: first\r\n",      // field that is folded
        " \tsecond\r\n",          // obs-fold continuation (RFC 9112 §5.2)
        "Content-Length: 3\n",    // bare LF
        "\n",                     // end of head
        "a=b",                    // body
    );
    let (_, ev) = run(&[(ToServer, req.as_bytes())]);
    let r = requests(&ev)[0];
    assert_eq!(r.header("x-long"), Some(&b"first second"[..]));
    assert_eq!(r.body, b"a=b");
    assert_eq!(
        anomalies(&ev),
        vec![AnomalyKind::BareLf, AnomalyKind::ObsFold]
    );
}

#[test]
fn header_limits_keep_framing() {
    let limits = Limits {
        max_headers: 3,
        max_line_bytes: 64,
        ..Limits::default()
    };
    let mut req = b"POST /h HTTP/1.1\r\n".to_vec();
    for i in 0..5 {
        req.extend(format!("X-{i}: v\r\n").bytes());
    }
    req.extend(format!("Cookie: {}\r\n", "c".repeat(200)).bytes());
    req.extend(b"Content-Length: 2\r\n\r\nokGET /next HTTP/1.1\r\n\r\n");
    let mut f = HttpFlow::new(limits);
    let ev = run_pieces(&mut f, &[(ToServer, &req)], 7);
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].headers.len(), 3);
    assert!(reqs[0].headers_truncated);
    assert_eq!(reqs[0].body, b"ok", "Content-Length read past the limit");
    assert_eq!(
        anomalies(&ev),
        vec![AnomalyKind::HeaderCountCap, AnomalyKind::LineTooLong]
    );
}

#[test]
fn header_bytes_limit() {
    let limits = Limits {
        max_header_bytes: 40,
        ..Limits::default()
    };
    let req = b"GET / HTTP/1.1\r\nA: 0123456789\r\nB: 0123456789\r\nC: 0123456789\r\nD: 1\r\n\r\n";
    let mut f = HttpFlow::new(limits);
    let ev = run_pieces(&mut f, &[(ToServer, req)], usize::MAX);
    assert_eq!(requests(&ev)[0].headers.len(), 2);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::HeaderBytesCap]);
}

#[test]
fn pending_overflow_emits_oldest() {
    let limits = Limits {
        max_pending: 2,
        ..Limits::default()
    };
    let mut f = HttpFlow::new(limits);
    let mut ev = Vec::new();
    for i in 0..3 {
        f.on_data(
            ToServer,
            format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes(),
            &mut ev,
        );
    }
    let t = transactions(&ev);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].uri.as_str(), t[0].status), ("/0", None));
    assert_eq!(anomalies(&ev), vec![AnomalyKind::PendingOverflow]);
    assert_eq!(f.pending_len(), 2);
    f.on_data(
        ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        &mut ev,
    );
    assert_eq!(transactions(&ev)[1].uri, "/1");
}

#[test]
fn response_without_request_is_counted() {
    let (f, ev) = run(&[(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")]);
    assert_eq!(anomalies(&ev), vec![AnomalyKind::ResponseWithoutRequest]);
    assert!(transactions(&ev).is_empty());
    assert_eq!(f.stats().responses, 1);
}

#[test]
fn chunked_response_and_close_delimited_te() {
    let (_, ev) = run(&[
        (ToServer, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
        (
            ToClient,
            concat!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", // chunked response
                "A\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",                // 10 bytes and a trailer
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",    // not chunked: to close
                "rest of stream",
            )
            .as_bytes(),
        ),
    ]);
    let t = transactions(&ev);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].response_body_len, 10);
}

/// xorshift64 PRNG: deterministic and dependency-free.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_and_truncated_input_never_panics() {
    let (gz_req, _) = gzip_chunked_request();
    let seeds: Vec<Vec<u8>> = vec![
        GET_QUERY_COOKIES.to_vec(),
        gz_req,
        WS_REQUEST.to_vec(),
        WS_RESPONSE.to_vec(),
        GZIP_RESPONSE.to_vec(),
        post("Content-Encoding: br\r\n", BROTLI_JSON),
        post("Content-Encoding: deflate, gzip\r\n", &gzip(b"x")),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n".to_vec(),
    ];
    let alphabet: &[u8] = b"GET POST HTTP/1.1 \r\n:;0123456789abcdefABCDEF\x1f\x8b\x08\t";
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let limits = Limits {
        max_line_bytes: 64,
        max_header_bytes: 256,
        max_headers: 8,
        max_pending: 4,
        max_decoded_body_bytes: 512,
        max_held_bytes: 32,
        ..Limits::default()
    };
    for case in 0..4000 {
        let mut f = if case % 2 == 0 {
            flow()
        } else {
            HttpFlow::new(limits)
        };
        let mut ev = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let dir = if rng.below(2) == 0 {
                ToServer
            } else {
                ToClient
            };
            let mut data = match rng.below(3) {
                0 => {
                    // A seed, mutated and truncated.
                    let mut d = seeds[rng.below(seeds.len())].clone();
                    for _ in 0..rng.below(4) {
                        let i = rng.below(d.len());
                        d[i] = rng.next() as u8;
                    }
                    d.truncate(rng.below(d.len() + 1));
                    d
                }
                1 => (0..rng.below(300))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect(),
                _ => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            };
            if rng.below(4) == 0 {
                data.splice(
                    0..0,
                    b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
                        .iter()
                        .copied(),
                );
            }
            let piece = 1 + rng.below(40);
            for chunk in data.chunks(piece) {
                f.on_data(dir, chunk, &mut ev);
                if rng.below(50) == 0 {
                    f.on_gap(dir, rng.below(100) as u64, &mut ev);
                }
            }
        }
        if rng.below(2) == 0 {
            f.on_close(ToServer, &mut ev);
        }
        f.on_close(ToClient, &mut ev);
        assert_eq!(f.pending_len(), 0, "case {case}");
        let anomaly_events = anomalies(&ev).len() as u64;
        assert_eq!(f.stats().anomalies_total(), anomaly_events, "case {case}");
        for r in requests(&ev) {
            let cap = if case % 2 == 0 {
                DEFAULT_MAX_DECODED_BODY_BYTES
            } else {
                512
            };
            assert!(r.body.len() <= cap);
        }
    }
}
