//! Decryption of synthetic connections sealed with the same record keys:
//! TLS 1.3 (handshake and application epochs, KeyUpdate), TLS 1.2 GCM and
//! ChaCha20-Poly1305, keys arriving after the traffic, limits, every
//! segmentation.

use super::super::parser::tests::{record, sample_client_hello};
use super::super::state::{TlsEvent, TlsFlow};
use super::*;
use crate::keylog::{KeyLog, Label, Secret};

const CLIENT_RANDOM: [u8; 32] = [0x11; 32];
const SERVER_RANDOM: [u8; 32] = [0x22; 32];

/// A ServerHello message; TLS 1.3 adds supported_versions.
fn server_hello(tls13: bool, suite: u16) -> Vec<u8> {
    let mut body = vec![0x03, 0x03]; // legacy_version
    body.extend_from_slice(&SERVER_RANDOM); // random
    body.push(0x00); // session id echo: empty
    body.extend_from_slice(&suite.to_be_bytes()); // cipher suite
    body.push(0x00); // compression
    if tls13 {
        body.extend_from_slice(&[0x00, 0x06]); // extensions length
        body.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]); // supported_versions
    }
    let mut msg = vec![0x02, 0x00, 0x00, u8::try_from(body.len()).unwrap()];
    msg.extend_from_slice(&body);
    msg
}

/// A handshake message of `msg_type` with `len` body bytes.
fn handshake(msg_type: u8, len: usize) -> Vec<u8> {
    let l = u32::try_from(len).unwrap().to_be_bytes();
    let mut m = vec![msg_type, l[1], l[2], l[3]];
    m.resize(4 + len, 0x5a);
    m
}

#[derive(Default)]
struct Collect {
    events: Vec<TlsEvent>,
    plain: [Vec<u8>; 2],
}

impl TlsSink for Collect {
    fn event(&mut self, event: TlsEvent) {
        self.events.push(event);
    }
    fn plaintext(&mut self, dir: Direction, data: &[u8]) {
        self.plain[dir.index()].extend_from_slice(data);
    }
}

impl Collect {
    fn outcomes(&self) -> Vec<(bool, Option<OpaqueReason>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                TlsEvent::Decryption { decrypted, reason } => Some((*decrypted, *reason)),
                _ => None,
            })
            .collect()
    }
}

/// A synthetic connection: both streams and the key log lines.
struct Conn {
    client: Vec<u8>,
    server: Vec<u8>,
    secrets: Vec<(Label, Vec<u8>)>,
}

const REQUEST: &[u8] = b"GET /login?tel=13812345678 HTTP/1.1\r\nHost: a.example\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
const SECOND: &[u8] = b"GET /after-update HTTP/1.1\r\nHost: a.example\r\n\r\n";

fn tls13(suite_code: u16) -> Conn {
    let suite = Suite::tls13(suite_code).unwrap();
    let n = suite.hash.len();
    let secret = |b: u8| vec![b; n];
    let keys = |b: u8| RecordKeys::tls13(suite, &secret(b)).unwrap();
    let (mut c_hs, mut s_hs, mut c_ap, mut s_ap) = (keys(1), keys(2), keys(3), keys(4));

    let mut client = record(22, &sample_client_hello());
    client.extend_from_slice(&record(20, &[1])); // middlebox compatibility CCS
    c_hs.seal(22, &handshake(20, n), &mut client).unwrap(); // Finished
    c_ap.seal(23, REQUEST, &mut client).unwrap();
    c_ap.seal(22, &[24, 0, 0, 1, 0], &mut client).unwrap(); // KeyUpdate
    c_ap.key_update().unwrap();
    c_ap.seal(23, SECOND, &mut client).unwrap();
    c_ap.seal(21, &[1, 0], &mut client).unwrap(); // close_notify

    let mut server = record(22, &server_hello(true, suite_code));
    server.extend_from_slice(&record(20, &[1]));
    // EncryptedExtensions and Certificate in one record, CertificateVerify
    // and Finished in the next.
    let mut flight = handshake(8, 2);
    flight.extend_from_slice(&handshake(11, 200));
    s_hs.seal(22, &flight, &mut server).unwrap();
    let mut flight = handshake(15, 70);
    flight.extend_from_slice(&handshake(20, n));
    s_hs.seal(22, &flight, &mut server).unwrap();
    s_ap.seal(22, &handshake(4, 100), &mut server).unwrap(); // NewSessionTicket
    s_ap.seal(23, RESPONSE, &mut server).unwrap();
    s_ap.seal(23, RESPONSE, &mut server).unwrap();
    Conn {
        client,
        server,
        secrets: vec![
            (Label::ClientHandshakeTrafficSecret, secret(1)),
            (Label::ServerHandshakeTrafficSecret, secret(2)),
            (Label::ClientTrafficSecret0, secret(3)),
            (Label::ServerTrafficSecret0, secret(4)),
        ],
    }
}

fn tls12(suite_code: u16) -> Conn {
    let suite = Suite::tls12(suite_code).unwrap();
    let master = [0x33; 48];
    let keys = |d| RecordKeys::tls12(suite, &master, &CLIENT_RANDOM, &SERVER_RANDOM, d).unwrap();
    let (mut c, mut s) = (keys(Direction::ToServer), keys(Direction::ToClient));
    let mut client = record(22, &sample_client_hello());
    client.extend_from_slice(&record(22, &handshake(16, 33))); // ClientKeyExchange
    client.extend_from_slice(&record(20, &[1]));
    c.seal(22, &handshake(20, 12), &mut client).unwrap(); // Finished
    c.seal(23, REQUEST, &mut client).unwrap();
    c.seal(23, SECOND, &mut client).unwrap();
    let mut server = record(22, &server_hello(false, suite_code));
    server.extend_from_slice(&record(22, &handshake(11, 300))); // Certificate
    server.extend_from_slice(&record(22, &handshake(14, 0))); // ServerHelloDone
    server.extend_from_slice(&record(20, &[1]));
    s.seal(22, &handshake(20, 12), &mut server).unwrap();
    s.seal(23, RESPONSE, &mut server).unwrap();
    s.seal(23, RESPONSE, &mut server).unwrap();
    Conn {
        client,
        server,
        secrets: vec![(Label::ClientRandom, master.to_vec())],
    }
}

fn keylog_with(conn: &Conn) -> KeyLog {
    let log = KeyLog::default();
    for (label, secret) in &conn.secrets {
        log.insert(CLIENT_RANDOM, *label, Secret::from_slice(secret).unwrap());
    }
    log
}

/// Feeds the connection in the order a capture would show it: client
/// hello, server flight, then the rest of both, in `chunk`-byte pieces.
fn run(
    conn: &Conn,
    keylog: Option<&KeyLog>,
    limits: &DecryptLimits,
    chunk: usize,
    flow: &mut TlsFlow,
    sink: &mut Collect,
) -> u64 {
    let mut held = 0;
    let hello_len = 5 + sample_client_hello().len();
    let steps: [(Direction, &[u8]); 3] = [
        (Direction::ToServer, &conn.client[..hello_len]),
        (Direction::ToClient, &conn.server),
        (Direction::ToServer, &conn.client[hello_len..]),
    ];
    for (dir, bytes) in steps {
        for piece in bytes.chunks(chunk) {
            let mut ctx = DecryptCtx {
                keylog,
                limits,
                now_micros: 0,
                held_bytes: &mut held,
            };
            flow.on_data_decrypting(dir, piece, &mut ctx, sink);
        }
    }
    held
}

fn expect_plaintext(sink: &Collect) {
    let mut want_client = REQUEST.to_vec();
    want_client.extend_from_slice(SECOND);
    let mut want_server = RESPONSE.to_vec();
    want_server.extend_from_slice(RESPONSE);
    assert_eq!(sink.plain[0], want_client);
    assert_eq!(sink.plain[1], want_server);
}

#[test]
fn tls13_all_suites_any_segmentation() {
    for code in [0x1301, 0x1302, 0x1303] {
        let conn = tls13(code);
        let log = keylog_with(&conn);
        for chunk in [1, 3, 7, 100, 1400, 1 << 20] {
            let mut flow = TlsFlow::default();
            let mut sink = Collect::default();
            run(
                &conn,
                Some(&log),
                &DecryptLimits::default(),
                chunk,
                &mut flow,
                &mut sink,
            );
            expect_plaintext(&sink);
            assert_eq!(
                sink.outcomes(),
                [(true, None)],
                "suite {code:#x} chunk {chunk}"
            );
            assert!(flow.is_decrypted());
            let st = flow.decrypt_stats();
            assert_eq!(st.key_updates, 1);
            assert_eq!(st.failures, 0);
            // Client: Finished, request, KeyUpdate, request, alert; server:
            // two handshake records, ticket, two responses.
            assert_eq!(st.records, 10, "suite {code:#x} chunk {chunk}");
        }
    }
}

#[test]
fn tls13_without_handshake_secrets_still_reads_application_data() {
    let mut conn = tls13(0x1301);
    conn.secrets
        .retain(|(l, _)| matches!(l, Label::ClientTrafficSecret0 | Label::ServerTrafficSecret0));
    let log = keylog_with(&conn);
    let mut flow = TlsFlow::default();
    let mut sink = Collect::default();
    run(
        &conn,
        Some(&log),
        &DecryptLimits::default(),
        1400,
        &mut flow,
        &mut sink,
    );
    expect_plaintext(&sink);
}

#[test]
fn tls12_gcm_and_chacha() {
    for code in [0xc02f, 0xc030, 0x009c, 0xcca8, 0xcca9] {
        let conn = tls12(code);
        let log = keylog_with(&conn);
        for chunk in [1, 5, 1400] {
            let mut flow = TlsFlow::default();
            let mut sink = Collect::default();
            run(
                &conn,
                Some(&log),
                &DecryptLimits::default(),
                chunk,
                &mut flow,
                &mut sink,
            );
            expect_plaintext(&sink);
            assert_eq!(sink.outcomes(), [(true, None)]);
        }
    }
}

#[test]
fn keys_arriving_after_the_traffic_decrypt_held_records() {
    for conn in [tls13(0x1302), tls12(0xc02b)] {
        let log = KeyLog::default();
        let mut flow = TlsFlow::default();
        let mut sink = Collect::default();
        let limits = DecryptLimits::default();
        let held = run(&conn, Some(&log), &limits, 1400, &mut flow, &mut sink);
        assert!(held > 0);
        assert!(sink.plain[0].is_empty() && sink.outcomes().is_empty());
        assert_eq!(flow.decrypt_status(), Status::Waiting);
        // The keys arrive; the flow ends: held records are decrypted.
        for (label, secret) in &conn.secrets {
            log.insert(CLIENT_RANDOM, *label, Secret::from_slice(secret).unwrap());
        }
        let mut held_now = held;
        let mut ctx = DecryptCtx {
            keylog: Some(&log),
            limits: &limits,
            now_micros: 0,
            held_bytes: &mut held_now,
        };
        flow.on_end(&mut ctx, &mut sink);
        expect_plaintext(&sink);
        assert_eq!(sink.outcomes(), [(true, None)]);
        assert_eq!(held_now, 0, "the worker gauge is given back");
        assert!(flow.decrypt_stats().held_records_decrypted > 0);
    }
}

#[test]
fn keys_arriving_mid_flow_decrypt_on_the_next_record() {
    let conn = tls12(0xc02f);
    let log = KeyLog::default();
    let limits = DecryptLimits::default();
    let mut flow = TlsFlow::default();
    let mut sink = Collect::default();
    let mut held = 0;
    // Everything but the server's last record, without keys.
    let cut = conn.server.len() - (5 + 8 + RESPONSE.len() + 16);
    let hello_len = 5 + sample_client_hello().len();
    for (dir, bytes) in [
        (Direction::ToServer, &conn.client[..hello_len]),
        (Direction::ToClient, &conn.server[..cut]),
        (Direction::ToServer, &conn.client[hello_len..]),
    ] {
        let mut ctx = DecryptCtx {
            keylog: Some(&log),
            limits: &limits,
            now_micros: 0,
            held_bytes: &mut held,
        };
        flow.on_data_decrypting(dir, bytes, &mut ctx, &mut sink);
    }
    assert!(sink.plain[0].is_empty());
    for (label, secret) in &conn.secrets {
        log.insert(CLIENT_RANDOM, *label, Secret::from_slice(secret).unwrap());
    }
    let mut ctx = DecryptCtx {
        keylog: Some(&log),
        limits: &limits,
        now_micros: 0,
        held_bytes: &mut held,
    };
    flow.on_data_decrypting(
        Direction::ToClient,
        &conn.server[cut..],
        &mut ctx,
        &mut sink,
    );
    expect_plaintext(&sink);
    assert_eq!(held, 0);
}

#[test]
fn missing_keys_and_limits_give_reasons() {
    let conn = tls13(0x1301);
    // No keys at all.
    let log = KeyLog::default();
    let mut flow = TlsFlow::default();
    let mut sink = Collect::default();
    let limits = DecryptLimits::default();
    let mut held = run(&conn, Some(&log), &limits, 1400, &mut flow, &mut sink);
    let mut ctx = DecryptCtx {
        keylog: Some(&log),
        limits: &limits,
        now_micros: 0,
        held_bytes: &mut held,
    };
    flow.on_end(&mut ctx, &mut sink);
    assert_eq!(sink.outcomes(), [(false, Some(OpaqueReason::KeysMissing))]);
    assert_eq!(held, 0);
    assert!(flow.decrypt_stats().held_bytes_dropped > 0);

    // A per-flow hold limit smaller than the traffic.
    let small = DecryptLimits {
        max_hold_bytes: 300,
        ..DecryptLimits::default()
    };
    let mut flow = TlsFlow::default();
    let mut sink = Collect::default();
    let held = run(&conn, Some(&log), &small, 1400, &mut flow, &mut sink);
    assert_eq!(sink.outcomes(), [(false, Some(OpaqueReason::HoldLimit))]);
    assert_eq!(held, 0);

    // The worker-wide cap.
    let capped = DecryptLimits {
        hold_memcap_bytes: 100,
        ..DecryptLimits::default()
    };
    let mut flow = TlsFlow::default();
    let mut sink = Collect::default();
    run(&conn, Some(&log), &capped, 1400, &mut flow, &mut sink);
    assert_eq!(sink.outcomes(), [(false, Some(OpaqueReason::HoldMemcap))]);

    // No key log configured: opaque at the ServerHello.
    let mut flow = TlsFlow::default();
    let mut sink = Collect::default();
    run(&conn, None, &limits, 1400, &mut flow, &mut sink);
    assert_eq!(sink.outcomes(), [(false, Some(OpaqueReason::NoKeylog))]);
    assert!(sink.plain[0].is_empty());
}

#[test]
fn hold_timeout_uses_packet_time() {
    let conn = tls12(0xc02f);
    let log = KeyLog::default();
    let limits = DecryptLimits {
        max_hold_secs: 5,
        ..DecryptLimits::default()
    };
    let mut flow = TlsFlow::default();
    let mut sink = Collect::default();
    let mut held = 0;
    let hello_len = 5 + sample_client_hello().len();
    let mut now = 0;
    for (dir, bytes) in [
        (Direction::ToServer, &conn.client[..hello_len]),
        (Direction::ToClient, &conn.server[..]),
        (Direction::ToServer, &conn.client[hello_len..]),
    ] {
        let mut ctx = DecryptCtx {
            keylog: Some(&log),
            limits: &limits,
            now_micros: now,
            held_bytes: &mut held,
        };
        flow.on_data_decrypting(dir, bytes, &mut ctx, &mut sink);
        now += 10_000_000;
    }
    assert_eq!(sink.outcomes(), [(false, Some(OpaqueReason::HoldTimeout))]);
    assert_eq!(held, 0);
}

#[test]
fn unsupported_suites_and_versions_are_opaque() {
    let log = KeyLog::default();
    for (tls13, suite, reason) in [
        (false, 0xc013, OpaqueReason::UnsupportedCipherSuite), // ECDHE-RSA-AES128-CBC-SHA
        (true, 0x1304, OpaqueReason::UnsupportedCipherSuite),  // TLS_AES_128_CCM_SHA256
    ] {
        let mut flow = TlsFlow::default();
        let mut sink = Collect::default();
        let mut held = 0;
        let mut ctx = DecryptCtx {
            keylog: Some(&log),
            limits: &DecryptLimits::default(),
            now_micros: 0,
            held_bytes: &mut held,
        };
        flow.on_data_decrypting(
            Direction::ToServer,
            &record(22, &sample_client_hello()),
            &mut ctx,
            &mut sink,
        );
        flow.on_data_decrypting(
            Direction::ToClient,
            &record(22, &server_hello(tls13, suite)),
            &mut ctx,
            &mut sink,
        );
        assert_eq!(sink.outcomes(), [(false, Some(reason))]);
    }
}

#[test]
fn tampered_record_stops_the_direction_without_panic() {
    let conn = tls12(0xc02f);
    let log = keylog_with(&conn);
    let mut tampered = Conn {
        client: conn.client.clone(),
        server: conn.server.clone(),
        secrets: conn.secrets.clone(),
    };
    let last = tampered.server.len() - 3;
    tampered.server[last] ^= 1;
    let mut flow = TlsFlow::default();
    let mut sink = Collect::default();
    run(
        &tampered,
        Some(&log),
        &DecryptLimits::default(),
        1400,
        &mut flow,
        &mut sink,
    );
    // The first response decrypts; the damaged second one does not.
    assert_eq!(sink.plain[1], RESPONSE);
    assert_eq!(flow.decrypt_stats().failures, 1);
}

/// Tiny xorshift generator so the property test needs no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_streams_with_keys_never_panic() {
    let conns = [tls13(0x1301), tls13(0x1303), tls12(0xc02f), tls12(0xcca8)];
    let logs: Vec<KeyLog> = conns.iter().map(keylog_with).collect();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for round in 0..400 {
        let i = round % conns.len();
        let mut client = conns[i].client.clone();
        let mut server = conns[i].server.clone();
        for _ in 0..(rng.next() % 6 + 1) {
            let target = if rng.next() % 2 == 0 {
                &mut client
            } else {
                &mut server
            };
            let at = (rng.next() as usize) % target.len();
            target[at] = rng.next() as u8;
        }
        let cut = (rng.next() as usize) % (server.len() + 1);
        server.truncate(cut);
        let conn = Conn {
            client,
            server,
            secrets: Vec::new(),
        };
        let step = (rng.next() % 300 + 1) as usize;
        let mut flow = TlsFlow::default();
        let mut sink = Collect::default();
        let limits = DecryptLimits::default();
        let mut held = run(&conn, Some(&logs[i]), &limits, step, &mut flow, &mut sink);
        let mut ctx = DecryptCtx {
            keylog: Some(&logs[i]),
            limits: &limits,
            now_micros: 0,
            held_bytes: &mut held,
        };
        flow.on_end(&mut ctx, &mut sink);
        assert_eq!(held, 0);
        assert_eq!(sink.outcomes().len(), 1, "exactly one outcome per flow");
    }
}
