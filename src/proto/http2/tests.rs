//! Connection-level tests of the HTTP/2 observer: frames built by hand (one commented line
//! per field) and header blocks from `loona-hpack`'s encoder or RFC 7541 Appendix C.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use loona_hpack::Encoder;

use super::frame::{FrameHeader, FrameType, PREFACE};
use super::*;
use crate::flow::Direction::{self, ToClient, ToServer};
use crate::proto::http::{BodyKind, Event, Request, Transaction};

const END_STREAM: u8 = 0x01;
const ACK: u8 = 0x01;
const END_HEADERS: u8 = 0x04;
const PADDED: u8 = 0x08;
const PRIORITY: u8 = 0x20;

/// One frame: 9-byte header plus payload.
fn frame(kind: FrameType, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = FrameHeader {
        length: payload.len() as u32,
        kind,
        flags: frame::Flags(flags),
        stream_id,
    }
    .to_bytes()
    .to_vec();
    out.extend_from_slice(payload);
    out
}

/// A padded payload: pad-length byte, `body`, `pad` zero bytes (RFC 9113 §6.1).
fn padded(pad: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![pad];
    out.extend_from_slice(body);
    out.extend(std::iter::repeat(0u8).take(usize::from(pad)));
    out
}

/// A SETTINGS payload: 16-bit id, 32-bit value per entry.
fn settings_payload(entries: &[(u16, u32)]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
        .collect()
}

fn block(enc: &mut Encoder<'static>, fields: &[(&str, &str)]) -> Vec<u8> {
    enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Feeds every step in pieces of `piece` bytes, then closes both sides.
fn run_with(
    limits: Limits,
    steps: &[(Direction, Vec<u8>)],
    piece: usize,
) -> (Http2Flow, Vec<Event>) {
    let mut flow = Http2Flow::new(limits);
    let mut events = Vec::new();
    for (dir, bytes) in steps {
        for chunk in bytes.chunks(piece.max(1)) {
            flow.on_data(*dir, chunk, &mut events);
        }
    }
    flow.on_close(ToServer, &mut events);
    flow.on_close(ToClient, &mut events);
    (flow, events)
}

fn run(steps: &[(Direction, Vec<u8>)]) -> (Http2Flow, Vec<Event>) {
    run_with(Limits::default(), steps, usize::MAX)
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

fn h2_anomalies(events: &[Event]) -> Vec<AnomalyKind> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Http2Anomaly(k) => Some(*k),
            _ => None,
        })
        .collect()
}

fn http_anomalies(events: &[Event]) -> Vec<http::AnomalyKind> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Anomaly(k) => Some(*k),
            _ => None,
        })
        .collect()
}

/// Short labels of the request/transaction events in order, e.g. `req 1 GET /a`, `tx 200`.
fn outline(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Request(r) => Some(format!("req {} {}", r.method, r.uri)),
            Event::Transaction(t) => Some(format!(
                "tx {} {} {}",
                t.method,
                t.uri,
                t.status.map_or("-".to_string(), |s| s.to_string())
            )),
            _ => None,
        })
        .collect()
}

/// Client preface plus an empty SETTINGS frame.
fn client_start() -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    out.extend(frame(FrameType::SETTINGS, 0, 0, &[]));
    out
}

fn server_start() -> Vec<u8> {
    frame(FrameType::SETTINGS, 0, 0, &[])
}

/// The JSON body of the POST in [`exchange`].
const POST_JSON: &[u8] =
    br#"{"imei":"490154203237518","phone":"+8613812345678","lat":39.9042,"lon":116.4074}"#;

/// A whole h2c exchange; see `full_exchange` for what each step holds.
fn exchange() -> Vec<(Direction, Vec<u8>)> {
    let mut enc_c = Encoder::new();
    let mut enc_s = Encoder::new();
    let mut steps = Vec::new();

    // 1. Client: preface, SETTINGS, connection WINDOW_UPDATE.
    let mut c = PREFACE.to_vec();
    c.extend(frame(
        FrameType::SETTINGS,
        0,
        0,
        &settings_payload(&[
            (0x1, 65536),   // HEADER_TABLE_SIZE
            (0x2, 1),       // ENABLE_PUSH
            (0x4, 6291456), // INITIAL_WINDOW_SIZE
            (0x6, 262144),  // MAX_HEADER_LIST_SIZE
        ]),
    ));
    c.extend(frame(
        FrameType::WINDOW_UPDATE,
        0,
        0,
        &15_663_105u32.to_be_bytes(),
    ));
    steps.push((ToServer, c));

    // 2. Server: SETTINGS, ACK of the client's.
    let mut s = frame(
        FrameType::SETTINGS,
        0,
        0,
        &settings_payload(&[
            (0x3, 100),   // MAX_CONCURRENT_STREAMS
            (0x5, 32768), // MAX_FRAME_SIZE
        ]),
    );
    s.extend(frame(FrameType::SETTINGS, ACK, 0, &[]));
    steps.push((ToClient, s));

    // 3. Client: ACK; GET on stream 1 as HEADERS + CONTINUATION with three cookie crumbs;
    //    POST on stream 3 (HEADERS padded, with priority), first gzip DATA frame padded.
    let mut c = frame(FrameType::SETTINGS, ACK, 0, &[]);
    let get = block(
        &mut enc_c,
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/api/profile?uid=42"),
            (":authority", "api.example.com"),
            ("user-agent", "okhttp/4.12.0"),
            ("cookie", "sid=abc"),
            ("accept", "*/*"),
            ("cookie", "theme=dark"),
            ("cookie", "uid=42"),
            ("x-device-id", "8675309"),
        ],
    );
    let (first, second) = get.split_at(get.len() / 2);
    c.extend(frame(FrameType::HEADERS, END_STREAM, 1, first));
    c.extend(frame(FrameType::CONTINUATION, END_HEADERS, 1, second));
    let post = block(
        &mut enc_c,
        &[
            (":method", "POST"),
            (":scheme", "https"),
            (":path", "/v1/collect"),
            (":authority", "api.example.com"),
            ("user-agent", "okhttp/4.12.0"),
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
            ("x-device-id", "8675309"), // now a dynamic table entry
        ],
    );
    let mut payload = vec![0x80, 0, 0, 1, 219]; // priority: exclusive on stream 1, weight 220
    payload.extend_from_slice(&post);
    c.extend(frame(
        FrameType::HEADERS,
        PADDED | PRIORITY | END_HEADERS,
        3,
        &padded(5, &payload)[..],
    ));
    let gz = gzip(POST_JSON);
    c.extend(frame(FrameType::DATA, PADDED, 3, &padded(3, &gz[..10])));
    steps.push((ToServer, c));

    // 4. Server: response head and part of the body of stream 1; PUSH_PROMISE of stream 2
    //    whose block adds a dynamic table entry that later blocks use.
    let mut s = frame(
        FrameType::HEADERS,
        END_HEADERS,
        1,
        &block(
            &mut enc_s,
            &[
                (":status", "200"),
                ("content-type", "application/json"),
                ("x-trace", "t-1"),
            ],
        ),
    );
    s.extend(frame(FrameType::DATA, 0, 1, br#"{"ok":true}"#));
    let mut push = 2u32.to_be_bytes().to_vec(); // promised stream 2
    push.extend(block(
        &mut enc_s,
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/pushed.css"),
            (":authority", "api.example.com"),
            ("x-push", "yes"),
        ],
    ));
    s.extend(frame(FrameType::PUSH_PROMISE, END_HEADERS, 1, &push));
    steps.push((ToClient, s));

    // 5. Client: rest of the POST body (unpadded, then padded with pad 0 and END_STREAM),
    //    with a PING, an unknown frame type and a PRIORITY in between.
    let mut c = frame(FrameType::DATA, 0, 3, &gz[10..20]);
    c.extend(frame(FrameType::PING, 0, 0, &[1, 2, 3, 4, 5, 6, 7, 8]));
    c.extend(frame(FrameType(0xfa), 0x3, 0, b"xyz"));
    c.extend(frame(
        FrameType::DATA,
        PADDED | END_STREAM,
        3,
        &padded(0, &gz[20..]),
    ));
    c.extend(frame(FrameType::PRIORITY, 0, 5, &[0, 0, 0, 0, 15]));
    steps.push((ToServer, c));

    // 6. Server: pushed response on stream 2 (ignored), end of stream 1, interim and final
    //    response of stream 3; the later blocks refer to x-push and x-trace in the table.
    let mut s = frame(
        FrameType::HEADERS,
        END_HEADERS,
        2,
        &block(
            &mut enc_s,
            &[
                (":status", "200"),
                ("content-type", "text/css"),
                ("x-push", "yes"),
            ],
        ),
    );
    s.extend(frame(FrameType::DATA, END_STREAM, 2, b"body{}"));
    s.extend(frame(FrameType::DATA, END_STREAM, 1, b""));
    s.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        3,
        &block(&mut enc_s, &[(":status", "100")]),
    ));
    s.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        3,
        &block(
            &mut enc_s,
            &[
                (":status", "201"),
                ("content-type", "application/json"),
                ("x-trace", "t-1"),
            ],
        ),
    ));
    s.extend(frame(FrameType::DATA, END_STREAM, 3, b"{}"));
    steps.push((ToClient, s));

    // 7. Client: GET on stream 5 then cancelled; POST on stream 7 with part of a body; GET
    //    on stream 9.
    let mut c = frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        5,
        &block(
            &mut enc_c,
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/slow"),
                (":authority", "api.example.com"),
                ("x-device-id", "8675309"),
            ],
        ),
    );
    c.extend(frame(FrameType::RST_STREAM, 0, 5, &8u32.to_be_bytes())); // CANCEL
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        7,
        &block(
            &mut enc_c,
            &[
                (":method", "POST"),
                (":scheme", "https"),
                (":path", "/upload"),
                (":authority", "api.example.com"),
                ("content-type", "application/octet-stream"),
            ],
        ),
    ));
    c.extend(frame(FrameType::DATA, 0, 7, b"partial"));
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        9,
        &block(
            &mut enc_c,
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/late"),
                (":authority", "api.example.com"),
            ],
        ),
    ));
    steps.push((ToServer, c));

    // 8. Server: refuses stream 7, then GOAWAY with last stream 7 (stream 9 not processed).
    let mut s = frame(FrameType::RST_STREAM, 0, 7, &7u32.to_be_bytes()); // REFUSED_STREAM
    let mut goaway = 7u32.to_be_bytes().to_vec(); // last stream id
    goaway.extend(0u32.to_be_bytes()); // NO_ERROR
    goaway.extend(b"shutting down"); // debug data
    s.extend(frame(FrameType::GOAWAY, 0, 0, &goaway));
    steps.push((ToClient, s));
    steps
}

#[test]
fn full_exchange() {
    let (flow, events) = run(&exchange());
    assert_eq!(h2_anomalies(&events), vec![]);
    assert_eq!(http_anomalies(&events), vec![]);
    assert_eq!(
        outline(&events),
        vec![
            "req GET /api/profile?uid=42",
            "req POST /v1/collect",
            "tx GET /api/profile?uid=42 200",
            "tx POST /v1/collect 201",
            "req GET /slow",
            "tx GET /slow -",
            "req GET /late",
            "req POST /upload",
            "tx POST /upload -",
            "tx GET /late -",
        ]
    );
    let reqs = requests(&events);
    let get = reqs[0];
    assert_eq!(get.version, 2);
    assert!(get.is_http2());
    assert_eq!(get.host.as_deref(), Some("api.example.com"));
    assert_eq!(get.user_agent.as_deref(), Some("okhttp/4.12.0"));
    assert_eq!(get.query(), Some("uid=42"));
    let names: Vec<_> = get.headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["user-agent", "cookie", "accept", "x-device-id"]);
    assert_eq!(
        get.header("cookie"),
        Some(&b"sid=abc; theme=dark; uid=42"[..])
    );
    assert_eq!(get.cookies().count(), 3);
    assert_eq!(get.body_kind, BodyKind::Empty);
    assert!(!get.body_truncated && !get.headers_truncated);

    let post = reqs[1];
    assert_eq!(post.body, POST_JSON);
    assert_eq!(post.body_kind, BodyKind::Json);
    assert_eq!(post.body_wire_len, gzip(POST_JSON).len() as u64);
    assert_eq!(post.content_encoding, vec![http::Coding::Gzip]);
    assert_eq!(post.header("x-device-id"), Some(&b"8675309"[..]));
    assert!(!post.body_truncated);

    assert!(
        !reqs[2].body_truncated,
        "/slow had END_STREAM before the reset"
    );
    let upload = reqs[4];
    assert_eq!(upload.uri, "/upload");
    assert_eq!(upload.body, b"partial");
    assert!(upload.body_truncated, "reset before END_STREAM");
    assert_eq!(upload.body_kind, BodyKind::Binary);

    let txs = transactions(&events);
    assert!(txs.iter().all(|t| t.http2));
    assert_eq!(txs[0].response_body_len, 11);
    assert_eq!(
        txs[0].response_content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(txs[1].request_body_len, gzip(POST_JSON).len() as u64);
    assert_eq!(txs[1].response_body_len, 2);
    assert!(txs.iter().all(|t| !t.gap));

    let st = flow.stats();
    assert_eq!(st.requests, 5);
    assert_eq!(st.responses, 2);
    assert_eq!(st.interim_responses, 1);
    assert_eq!(st.transactions, 5);
    assert_eq!(st.transactions_unanswered, 3);
    assert_eq!(st.streams_reset, 2);
    assert_eq!(st.push_promises, 1);
    assert_eq!(st.goaways, 1);
    assert_eq!(st.frames_unknown, 1);
    assert_eq!(st.header_blocks, 10);
    assert_eq!(st.padding_bytes, 5 + 3);
    assert_eq!(st.response_body_bytes, 11 + 2);
    assert_eq!(st.ignored_bytes, 6, "the pushed body");
    assert_eq!(st.anomalies_total(), 0);
    assert_eq!(flow.open_streams(), 0);
}

#[test]
fn every_chunking_gives_the_same_events() {
    let steps = exchange();
    let (_, whole) = run(&steps);
    for piece in [1, 2, 3, 5, 7, 9, 10, 13, 64, 1000] {
        let (_, events) = run_with(Limits::default(), &steps, piece);
        assert_eq!(events, whole, "piece {piece}");
    }
    // Both sides cut at random points, interleaved as the capture would deliver them.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..50 {
        let mut flow = Http2Flow::new(Limits::default());
        let mut events = Vec::new();
        for (dir, bytes) in &steps {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = (xorshift(&mut x) % 40 + 1) as usize;
                let (a, b) = rest.split_at(n.min(rest.len()));
                flow.on_data(*dir, a, &mut events);
                rest = b;
            }
        }
        flow.on_close(ToServer, &mut events);
        flow.on_close(ToClient, &mut events);
        assert_eq!(events, whole);
    }
}

/// RFC 7541 C.3 (plain) and C.4 (Huffman) request blocks carried in HEADERS frames of
/// streams 1, 3, 5: the dynamic table carries `:authority` and `cache-control` over.
#[test]
fn rfc7541_request_examples_in_frames() {
    let c3: [&[u8]; 3] = [
        &[
            0x82, 0x86, 0x84, 0x41, 0x0f, b'w', b'w', b'w', b'.', b'e', b'x', b'a', b'm', b'p',
            b'l', b'e', b'.', b'c', b'o', b'm',
        ],
        &[
            0x82, 0x86, 0x84, 0xbe, 0x58, 0x08, b'n', b'o', b'-', b'c', b'a', b'c', b'h', b'e',
        ],
        &[
            0x82, 0x87, 0x85, 0xbf, 0x40, 0x0a, b'c', b'u', b's', b't', b'o', b'm', b'-', b'k',
            b'e', b'y', 0x0c, b'c', b'u', b's', b't', b'o', b'm', b'-', b'v', b'a', b'l', b'u',
            b'e',
        ],
    ];
    let c4: [&[u8]; 3] = [
        &[
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ],
        &[
            0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
        ],
        &[
            0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f,
            0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
        ],
    ];
    for blocks in [c3, c4] {
        let mut c = client_start();
        for (i, b) in blocks.iter().enumerate() {
            c.extend(frame(
                FrameType::HEADERS,
                END_HEADERS | END_STREAM,
                1 + 2 * i as u32,
                b,
            ));
        }
        let (_, events) = run(&[(ToServer, c), (ToClient, server_start())]);
        assert_eq!(h2_anomalies(&events), vec![]);
        let reqs = requests(&events);
        assert_eq!(reqs.len(), 3);
        assert!(reqs
            .iter()
            .all(|r| r.host.as_deref() == Some("www.example.com")));
        assert_eq!(reqs[0].uri, "/");
        assert!(reqs[0].headers.is_empty());
        assert_eq!(reqs[1].header("cache-control"), Some(&b"no-cache"[..]));
        assert_eq!(reqs[2].uri, "/index.html");
        assert_eq!(reqs[2].header("custom-key"), Some(&b"custom-value"[..]));
        // All three are unanswered at close.
        assert_eq!(transactions(&events).len(), 3);
    }
}

#[test]
fn trailers_connect_and_websocket() {
    let mut enc = Encoder::new();
    let mut c = client_start();
    // Stream 1: a body followed by a trailer block with END_STREAM.
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        1,
        &block(
            &mut enc,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/grpc.Svc/Call"),
                ("host", "grpc.example"), // no :authority: Host is used
                ("content-type", "application/grpc"),
            ],
        ),
    ));
    c.extend(frame(FrameType::DATA, 0, 1, b"\x00\x00\x00\x00\x02hi"));
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &block(&mut enc, &[("x-checksum", "abc")]),
    ));
    // Stream 3: CONNECT names its target in :authority.
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        3,
        &block(
            &mut enc,
            &[(":method", "CONNECT"), (":authority", "proxy.example:443")],
        ),
    ));
    // Stream 5: extended CONNECT for WebSocket (RFC 8441).
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        5,
        &block(
            &mut enc,
            &[
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "https"),
                (":path", "/chat"),
                (":authority", "ws.example"),
            ],
        ),
    ));
    let mut senc = Encoder::new();
    let mut s = server_start();
    s.extend(frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        5,
        &block(&mut senc, &[(":status", "200")]),
    ));
    let (_, events) = run(&[(ToServer, c), (ToClient, s)]);
    assert_eq!(h2_anomalies(&events), vec![]);
    let reqs = requests(&events);
    let grpc = reqs.iter().find(|r| r.uri == "/grpc.Svc/Call").unwrap();
    assert_eq!(grpc.host.as_deref(), Some("grpc.example"));
    assert_eq!(grpc.body, b"\x00\x00\x00\x00\x02hi");
    assert_eq!(
        grpc.headers.last().map(|h| h.name.as_str()),
        Some("x-checksum")
    );
    assert!(!grpc.body_truncated);
    let connect = reqs
        .iter()
        .find(|r| r.method == "CONNECT" && !r.websocket_upgrade);
    assert_eq!(connect.map(|r| r.uri.as_str()), Some("proxy.example:443"));
    let ws = reqs.iter().find(|r| r.websocket_upgrade).unwrap();
    assert_eq!(ws.uri, "/chat");
    let txs = transactions(&events);
    assert!(txs.iter().any(|t| t.websocket && t.status == Some(200)));
}

#[test]
fn gap_inside_data_is_absorbed() {
    let mut enc = Encoder::new();
    let mut head = client_start();
    head.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        1,
        &block(
            &mut enc,
            &[
                (":method", "POST"),
                (":path", "/up"),
                (":authority", "a.example"),
            ],
        ),
    ));
    // DATA of 20 bytes of which 5 are lost, then a second complete request.
    let data = frame(FrameType::DATA, END_STREAM, 1, b"0123456789abcdefghij");
    let mut tail = frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        3,
        &block(
            &mut enc,
            &[
                (":method", "GET"),
                (":path", "/after"),
                (":authority", "a.example"),
            ],
        ),
    );
    tail.splice(0..0, data[9 + 15..].iter().copied());
    let mut flow = Http2Flow::new(Limits::default());
    let mut ev = Vec::new();
    flow.on_data(ToServer, &head, &mut ev);
    flow.on_data(ToServer, &data[..9 + 10], &mut ev);
    flow.on_gap(ToServer, 5, &mut ev);
    flow.on_data(ToServer, &tail, &mut ev);
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 2, "{ev:?}");
    assert_eq!(reqs[0].body, b"0123456789fghij");
    assert!(reqs[0].body_truncated);
    assert_eq!(reqs[0].body_wire_len, 20);
    assert_eq!(reqs[1].uri, "/after");
    assert_eq!(http_anomalies(&ev), vec![http::AnomalyKind::BodyGap]);
    assert_eq!(h2_anomalies(&ev), vec![]);
    assert_eq!(flow.stats().gap_bytes, 5);
}

#[test]
fn gap_outside_data_stops_the_direction() {
    let mut enc = Encoder::new();
    let mut c = client_start();
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        1,
        &block(&mut enc, &[(":method", "POST"), (":path", "/a")]),
    ));
    c.extend(frame(FrameType::DATA, 0, 1, b"abc"));
    let mut flow = Http2Flow::new(Limits::default());
    let mut ev = Vec::new();
    flow.on_data(ToServer, &c, &mut ev);
    flow.on_data(ToClient, &server_start(), &mut ev);
    // The gap starts at a frame boundary: the next frame header is lost.
    flow.on_gap(ToServer, 30, &mut ev);
    assert!(flow.is_stopped(ToServer));
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::Gap]);
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body, b"abc");
    assert!(reqs[0].body_truncated);
    // Later client bytes are ignored; the server side still works.
    flow.on_data(ToServer, b"\x00\x00\x00\x01garbage", &mut ev);
    assert_eq!(flow.stats().ignored_bytes, 11);
    let mut senc = Encoder::new();
    let s = frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &block(&mut senc, &[(":status", "413")]),
    );
    flow.on_data(ToClient, &s, &mut ev);
    let txs = transactions(&ev);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].status, Some(413));
    assert!(txs[0].gap);
}

#[test]
fn server_gap_emits_open_transactions() {
    let mut enc = Encoder::new();
    let mut c = client_start();
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &block(&mut enc, &[(":method", "GET"), (":path", "/x")]),
    ));
    let mut flow = Http2Flow::new(Limits::default());
    let mut ev = Vec::new();
    flow.on_data(ToServer, &c, &mut ev);
    flow.on_data(ToClient, &server_start()[..4], &mut ev);
    flow.on_gap(ToClient, 100, &mut ev);
    let txs = transactions(&ev);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].status, None);
    assert!(txs[0].gap);
    // A request after the server side stopped gets its transaction at once.
    let c = frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        3,
        &block(&mut enc, &[(":method", "GET"), (":path", "/y")]),
    );
    flow.on_data(ToServer, &c, &mut ev);
    assert_eq!(outline(&ev).last().map(String::as_str), Some("tx GET /y -"));
    assert_eq!(flow.open_streams(), 0);
}

#[test]
fn hpack_error_stops_the_direction() {
    let mut c = client_start();
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &[0x82, 0xff, 0x00], // GET, then index 127+0 = 127: beyond the empty dynamic table
    ));
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        3,
        &[0x82, 0x84],
    ));
    let (flow, events) = run(&[(ToServer, c)]);
    assert_eq!(h2_anomalies(&events), vec![AnomalyKind::HpackError]);
    assert!(requests(&events).is_empty());
    assert!(flow.stats().ignored_bytes > 0);
}

#[test]
fn table_size_follows_the_peer_setting_and_the_cap() {
    // Server block starting with a size update to 65536 (001 11111, 65536-31 = 0xffe1).
    let update = [0x3f, 0xe1, 0xff, 0x03, 0x88]; // size update, then :status 200
    let mut enc = Encoder::new();
    let get = block(&mut enc, &[(":method", "GET"), (":path", "/")]);
    let steps = |table: u32| {
        let mut c = PREFACE.to_vec();
        c.extend(frame(
            FrameType::SETTINGS,
            0,
            0,
            &settings_payload(&[(0x1, table)]),
        ));
        c.extend(frame(FrameType::HEADERS, END_HEADERS | END_STREAM, 1, &get));
        let mut s = server_start();
        s.extend(frame(
            FrameType::HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &update,
        ));
        vec![(ToServer, c), (ToClient, s)]
    };
    // Allowed: the client announced 65536.
    let (_, ev) = run(&steps(65536));
    assert_eq!(h2_anomalies(&ev), vec![]);
    assert_eq!(transactions(&ev)[0].status, Some(200));
    // Not allowed: the client kept 4096.
    let (_, ev) = run(&steps(4096));
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::HpackError]);
    // Allowed by the peer but above our cap.
    let limits = Limits {
        max_hpack_table_bytes: 8192,
        ..Limits::default()
    };
    let (_, ev) = run_with(limits, &steps(65536), usize::MAX);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::HpackTableCap]);
}

#[test]
fn preface_and_first_frame_checks() {
    let (flow, ev) = run(&[(ToServer, b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".to_vec())]);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::PrefaceInvalid]);
    assert!(flow.is_stopped(ToServer));
    let mut c = PREFACE.to_vec();
    c.extend(frame(FrameType::PING, 0, 0, &[0; 8]));
    let (_, ev) = run(&[(ToServer, c)]);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::SettingsMissing]);
    let (_, ev) = run(&[(ToServer, PREFACE[..10].to_vec())]);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::TruncatedFrame]);
}

#[test]
fn continuation_rules() {
    let mut enc = Encoder::new();
    let get = block(
        &mut enc,
        &[
            (":method", "GET"),
            (":path", "/c"),
            (":authority", "c.example"),
        ],
    );
    // A PING between HEADERS and its CONTINUATION.
    let mut c = client_start();
    c.extend(frame(FrameType::HEADERS, END_STREAM, 1, &get[..3]));
    c.extend(frame(FrameType::PING, 0, 0, &[0; 8]));
    c.extend(frame(FrameType::CONTINUATION, END_HEADERS, 1, &get[3..]));
    let (_, ev) = run(&[(ToServer, c)]);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::ContinuationInvalid]);
    // A CONTINUATION with nothing open.
    let mut c = client_start();
    c.extend(frame(FrameType::CONTINUATION, END_HEADERS, 1, &get));
    let (_, ev) = run(&[(ToServer, c)]);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::ContinuationInvalid]);
    // Several CONTINUATIONs are fine.
    let mut enc = Encoder::new();
    let get = block(
        &mut enc,
        &[
            (":method", "GET"),
            (":path", "/c"),
            (":authority", "c.example"),
        ],
    );
    let mut c = client_start();
    c.extend(frame(FrameType::HEADERS, END_STREAM, 1, &get[..1]));
    c.extend(frame(FrameType::CONTINUATION, 0, 1, &get[1..2]));
    c.extend(frame(FrameType::CONTINUATION, 0, 1, &[]));
    c.extend(frame(FrameType::CONTINUATION, END_HEADERS, 1, &get[2..]));
    let (_, ev) = run(&[(ToServer, c)]);
    assert_eq!(h2_anomalies(&ev), vec![]);
    assert_eq!(requests(&ev)[0].uri, "/c");
}

#[test]
fn limits_are_counted() {
    let mut enc = Encoder::new();
    // Header block cap: a 2000-byte value in a 1024-byte limit stops the client side.
    let big = "v".repeat(2000);
    let mut c = client_start();
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &block(
            &mut enc,
            &[(":method", "GET"), (":path", "/"), ("x-big", &big)],
        ),
    ));
    let limits = Limits {
        max_header_block_bytes: 1024,
        ..Limits::default()
    };
    let (_, ev) = run_with(limits, &[(ToServer, c)], usize::MAX);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::HeaderBlockCap]);

    // Stream cap: three open streams with room for two.
    let mut enc = Encoder::new();
    let mut c = client_start();
    for id in [1u32, 3, 5] {
        let path = format!("/s{id}");
        c.extend(frame(
            FrameType::HEADERS,
            END_HEADERS,
            id,
            &block(&mut enc, &[(":method", "POST"), (":path", &path)]),
        ));
    }
    let limits = Limits {
        max_streams: 2,
        ..Limits::default()
    };
    let mut flow = Http2Flow::new(limits);
    let mut ev = Vec::new();
    flow.on_data(ToServer, &c, &mut ev);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::StreamOverflow]);
    assert_eq!(outline(&ev), vec!["req POST /s1", "tx POST /s1 -"]);
    assert!(requests(&ev)[0].body_truncated);
    assert_eq!(flow.open_streams(), 2);

    // Header count and bytes caps (from the shared HTTP limits), request still emitted.
    let mut enc = Encoder::new();
    let mut fields = vec![(":method", "GET"), (":path", "/h")];
    let names: Vec<String> = (0..10).map(|i| format!("x-h{i}")).collect();
    for n in &names {
        fields.push((n.as_str(), "1"));
    }
    let mut c = client_start();
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &block(&mut enc, &fields),
    ));
    let mut limits = Limits::default();
    limits.http.max_headers = 4;
    let (_, ev) = run_with(limits, &[(ToServer, c)], usize::MAX);
    assert_eq!(http_anomalies(&ev), vec![http::AnomalyKind::HeaderCountCap]);
    let r = requests(&ev)[0];
    assert_eq!(r.headers.len(), 4);
    assert!(r.headers_truncated);
}

#[test]
fn large_frames_and_body_caps() {
    let mut enc = Encoder::new();
    let body = vec![b'a'; 100_000];
    // One 100 000-byte DATA frame: over the initial max frame size (counted), processed.
    let mut c = client_start();
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        1,
        &block(&mut enc, &[(":method", "POST"), (":path", "/big")]),
    ));
    c.extend(frame(FrameType::DATA, END_STREAM, 1, &body));
    let mut limits = Limits::default();
    limits.http.max_decoded_body_bytes = 1000;
    let (_, ev) = run_with(limits, &[(ToServer, c.clone())], 4096);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::FrameTooLarge]);
    assert_eq!(http_anomalies(&ev), vec![http::AnomalyKind::BodySizeCap]);
    let r = requests(&ev)[0];
    assert_eq!(r.body.len(), 1000);
    assert_eq!(r.body_wire_len, 100_000);
    assert!(r.body_truncated);
    // After the server allows 2^24-1, the same frame is fine.
    let s = frame(
        FrameType::SETTINGS,
        0,
        0,
        &settings_payload(&[(0x5, (1 << 24) - 1)]),
    );
    let (_, ev) = run(&[(ToClient, s), (ToServer, c)]);
    assert_eq!(h2_anomalies(&ev), vec![]);
}

#[test]
fn close_mid_request() {
    let mut enc = Encoder::new();
    let mut c = client_start();
    c.extend(frame(
        FrameType::HEADERS,
        END_HEADERS,
        1,
        &block(&mut enc, &[(":method", "POST"), (":path", "/cut")]),
    ));
    let data = frame(FrameType::DATA, END_STREAM, 1, b"abcdef");
    c.extend(&data[..12]);
    let (_, ev) = run(&[(ToServer, c)]);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::TruncatedFrame]);
    assert_eq!(
        http_anomalies(&ev),
        vec![http::AnomalyKind::TruncatedMessage]
    );
    let r = requests(&ev)[0];
    assert_eq!(r.body, b"abc");
    assert!(r.body_truncated);
    assert_eq!(transactions(&ev).len(), 1);
}

#[test]
fn through_tcp_app() {
    use crate::proto::{AppEvent, AppProto, ProtoStats, TcpApp};
    use crate::reassembly::Chunk;
    let steps = exchange();
    let limits = crate::proto::Limits::default();
    let mut app = TcpApp::default();
    let mut stats = ProtoStats::default();
    let mut events = Vec::new();
    for (dir, bytes) in &steps {
        // Segments of up to 1400 bytes, as TCP would deliver them.
        for seg in bytes.chunks(1400) {
            app.on_chunk(*dir, Chunk::Data(seg), 80, &limits, &mut stats, &mut events);
        }
    }
    app.on_chunk(ToServer, Chunk::Fin, 80, &limits, &mut stats, &mut events);
    app.on_chunk(ToClient, Chunk::Fin, 80, &limits, &mut stats, &mut events);
    assert_eq!(app.app_proto(), AppProto::Http2);
    assert_eq!(stats.flows_http2, 1);
    assert!(stats.anomalies.is_empty(), "{:?}", stats.anomalies);
    let http_events: Vec<Event> = events
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::Http(e) => Some(e),
            _ => None,
        })
        .collect();
    let (_, direct) = run(&steps);
    assert_eq!(http_events, direct);
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Random, mutated and truncated input in random chunks, with gaps and closes: no panic,
/// and the stream list stays within its cap.
#[test]
fn random_input_never_panics() {
    let steps = exchange();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let limits = Limits {
        max_streams: 4,
        max_header_block_bytes: 4096,
        ..Limits::default()
    };
    for case in 0..4000 {
        let mut flow = Http2Flow::new(limits);
        let mut ev = Vec::new();
        let mode = case % 4;
        for (dir, bytes) in &steps {
            let mut bytes = bytes.clone();
            match mode {
                // Flip a few bytes anywhere (frame headers, HPACK, gzip).
                0 => {
                    for _ in 0..(xorshift(&mut x) % 4 + 1) {
                        let i = (xorshift(&mut x) as usize) % bytes.len();
                        bytes[i] ^= (xorshift(&mut x) % 255 + 1) as u8;
                    }
                }
                // Truncate.
                1 => bytes.truncate((xorshift(&mut x) as usize) % (bytes.len() + 1)),
                // Random frames with valid headers and random payloads.
                2 => {
                    let keep = if *dir == ToServer && bytes.starts_with(PREFACE) {
                        PREFACE.len()
                    } else {
                        0
                    };
                    bytes.truncate(keep);
                    for _ in 0..(xorshift(&mut x) % 8) {
                        let len = (xorshift(&mut x) % 64) as usize;
                        let payload: Vec<u8> = (0..len).map(|_| xorshift(&mut x) as u8).collect();
                        let kind = FrameType((xorshift(&mut x) % 11) as u8);
                        let flags = xorshift(&mut x) as u8;
                        let id = (xorshift(&mut x) % 8) as u32;
                        bytes.extend(frame(kind, flags, id, &payload));
                    }
                }
                // Pure noise after the preface.
                _ => {
                    let keep = if *dir == ToServer {
                        PREFACE.len().min(bytes.len())
                    } else {
                        0
                    };
                    bytes.truncate(keep);
                    let len = (xorshift(&mut x) % 300) as usize;
                    bytes.extend((0..len).map(|_| xorshift(&mut x) as u8));
                }
            }
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = (xorshift(&mut x) % 50 + 1) as usize;
                let (a, b) = rest.split_at(n.min(rest.len()));
                flow.on_data(*dir, a, &mut ev);
                if xorshift(&mut x) % 64 == 0 {
                    flow.on_gap(*dir, xorshift(&mut x) % 40 + 1, &mut ev);
                }
                rest = b;
            }
            assert!(flow.open_streams() <= limits.max_streams);
        }
        flow.on_close(ToServer, &mut ev);
        flow.on_close(ToClient, &mut ev);
        assert_eq!(
            flow.open_streams(),
            0,
            "case {case}: everything flushed at close"
        );
        for r in requests(&ev) {
            assert!(r.body.len() <= limits.http.max_decoded_body_bytes);
            assert!(r.headers.len() <= limits.http.max_headers);
        }
    }
}

#[test]
fn body_streams_cap_counts_without_keeping() {
    let mut enc = Encoder::new();
    let mut c = client_start();
    for id in [1u32, 3] {
        c.extend(frame(
            FrameType::HEADERS,
            END_HEADERS,
            id,
            &block(
                &mut enc,
                &[(":method", "POST"), (":path", &format!("/b{id}"))],
            ),
        ));
    }
    c.extend(frame(FrameType::DATA, END_STREAM, 3, b"not kept"));
    c.extend(frame(FrameType::DATA, END_STREAM, 1, b"kept"));
    let limits = Limits {
        max_body_streams: 1,
        ..Limits::default()
    };
    let (_, ev) = run_with(limits, &[(ToServer, c)], 3);
    assert_eq!(h2_anomalies(&ev), vec![AnomalyKind::BodyStreamsCap]);
    let reqs = requests(&ev);
    assert_eq!(reqs[0].uri, "/b3");
    assert_eq!(reqs[0].body, b"");
    assert_eq!(reqs[0].body_wire_len, 8);
    assert!(reqs[0].body_truncated);
    assert_eq!(reqs[1].body, b"kept");
    assert!(!reqs[1].body_truncated);
    let tx = transactions(&ev)
        .into_iter()
        .find(|t| t.uri == "/b3")
        .unwrap();
    assert_eq!(tx.request_body_len, 8);
}
