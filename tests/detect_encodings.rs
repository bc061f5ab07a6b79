//! Values split across TCP segments and across chunk boundaries of a gzip body, values
//! behind URL, base64 (standard and URL-safe), hex and base64+gzip layers, JSON inside
//! JSON strings, and raw streams of a protocol leaktap does not parse — all as real
//! packets through the real pipeline, with exact `pi_leak` items.

mod detect_support;

use base64::Engine as _;
use leaktap::record::mask;
use leaktap::synth::tcp::{Segmentation, TcpConversation};
use leaktap::synth::traffic;
use serde_json::{json, Value};

use detect_support::*;

const START: i64 = 1_772_442_000_000_000;

fn item(ty: &str, cat: &str, sens: bool, place: &str, enc: &str, value: &str, conf: f64) -> Value {
    json!({
        "type": ty, "category": cat, "sensitive": sens, "where": place, "encoding": enc,
        "method": "pattern", "value": mask(value), "confidence": conf,
    })
}

fn only_leak(records: &[Value]) -> Value {
    let leaks = of_type(records, "pi_leak");
    assert_eq!(leaks.len(), 1, "{leaks:#?}");
    leaks[0].clone()
}

#[test]
fn value_split_across_tcp_segments() {
    let req = traffic::http_request(
        "GET",
        "api.example.net",
        "/v1/report?phone=13912345678&imei=861234567890127",
        &[],
        b"",
    );
    let text = String::from_utf8_lossy(&req).into_owned();
    let cut_phone = text.find("13912").expect("phone") + 5;
    let cut_imei = text.find("8612345").expect("imei") + 7;
    for seg in [
        Segmentation::sizes(vec![cut_phone, cut_imei - cut_phone]),
        Segmentation::single_bytes(),
        Segmentation::sizes(vec![cut_phone, cut_imei - cut_phone]).reverse(),
    ] {
        let frames = http_exchange(40_001, &req, &seg, START);
        let (records, _) = run(&frames, signature_set(), Vec::new());
        let leak = only_leak(&records);
        assert_eq!(
            leak["pi"],
            json!([
                item(
                    "phone_number",
                    "basic",
                    false,
                    "url.query:phone",
                    "plain",
                    "13912345678",
                    0.95
                ),
                item(
                    "imei",
                    "device",
                    false,
                    "url.query:imei",
                    "plain",
                    "861234567890127",
                    0.95
                ),
            ])
        );
        assert_eq!(
            leak["http"]["url"],
            "http://api.example.net/v1/report?phone=139****5678&imei=861********0127"
        );
    }
}

#[test]
fn value_across_a_chunk_boundary_inside_a_gzip_body() {
    // serde_json writes object keys sorted: d, f, h, j, z.
    let body =
        json!({"event": "launch", "device": {"imei": "861234567890127", "ts": 1772442000123u64}})
            .to_string();
    let gz = traffic::gzip(body.as_bytes());
    // Cut the compressed stream into many chunks so that the deflate block holding the
    // IMEI crosses chunk boundaries, and cut the TCP segments elsewhere.
    let chunked = traffic::chunked(&gz, &[7, 5, 11, 3, 9]);
    let mut req =
        b"POST /v1/events HTTP/1.1\r\nHost: api.example.net\r\nContent-Type: application/json\r\n\
         Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    req.extend_from_slice(&chunked);
    let frames = http_exchange(40_002, &req, &Segmentation::fixed(13), START);
    let (records, _) = run(&frames, signature_set(), Vec::new());
    let leak = only_leak(&records);
    assert_eq!(
        leak["pi"],
        json!([item(
            "imei",
            "device",
            false,
            "body.json:$.device.imei",
            "plain",
            "861234567890127",
            0.95
        )])
    );
}

#[test]
fn encoding_layers_are_peeled_and_named() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let inner_json = r#"{"imei":"861234567890127","android_id":"3a5f9c2e7b1d4f60"}"#;
    let gz_b64 = b64.encode(traffic::gzip(
        br#"{"oaid":"5b8f1c2a-7d3e-4f6a-9b0c-1d2e3f4a5b6c"}"#,
    ));
    let hex: String = "phone=13912345678"
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let form_b64 = b64url.encode("mac=3c:22:fb:12:34:56&x=1");
    let double_json = json!({"payload": r#"{"email":"zhang.san@example.com"}"#}).to_string();
    // serde_json writes object keys sorted: d, f, h, j, z.
    let body = json!({
        "d": b64.encode(inner_json),
        "z": gz_b64,
        "h": hex,
        "f": form_b64,
        "j": double_json,
    })
    .to_string();
    let url_b64 = b64.encode("id_card=11010519491231002X");
    let url_b64_escaped = url_b64
        .replace('=', "%3D")
        .replace('+', "%2B")
        .replace('/', "%2F");
    let req = traffic::http_request(
        "POST",
        "api.example.net",
        &format!("/v1/collect?q={url_b64_escaped}"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    let frames = http_exchange(40_003, &req, &Segmentation::whole(), START);
    let (records, stats) = run(&frames, signature_set(), Vec::new());
    let leak = only_leak(&records);
    assert_eq!(
        leak["pi"],
        json!([
            item(
                "id_card",
                "identity",
                true,
                "url.query:q>form:id_card",
                "url+base64",
                "11010519491231002X",
                0.98
            ),
            item(
                "imei",
                "device",
                false,
                "body.json:$.d>json:$.imei",
                "base64",
                "861234567890127",
                0.95
            ),
            item(
                "android_id",
                "device",
                false,
                "body.json:$.d>json:$.android_id",
                "base64",
                "3a5f9c2e7b1d4f60",
                0.9
            ),
            item(
                "mac_address",
                "device",
                false,
                "body.json:$.f>form:mac",
                "base64",
                "3c:22:fb:12:34:56",
                0.9
            ),
            item(
                "phone_number",
                "basic",
                false,
                "body.json:$.h>form:phone",
                "hex",
                "13912345678",
                0.95
            ),
            item(
                "email",
                "basic",
                false,
                "body.json:$.j>json:$.payload>json:$.email",
                "plain",
                "zhang.san@example.com",
                0.98
            ),
            item(
                "oaid",
                "device",
                false,
                "body.json:$.z>json:$.oaid",
                "base64+gzip",
                "5b8f1c2a-7d3e-4f6a-9b0c-1d2e3f4a5b6c",
                0.9
            ),
        ])
    );
    // The whole encoded query value is masked in the URL.
    let url = leak["http"]["url"].as_str().expect("url");
    assert!(
        url.starts_with("http://api.example.net/v1/collect?q="),
        "{url}"
    );
    assert!(!url.contains(&url_b64_escaped), "{url}");
    assert!(
        stats.detect.decoded_base64 >= 4
            && stats.detect.decoded_gzip >= 1
            && stats.detect.decoded_hex >= 1
    );
}

#[test]
fn hashed_identifiers_under_hash_keys() {
    let md5_imei = "5d41402abc4b2a76b9719d911017c592";
    let sha256_oaid = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let req = traffic::http_request(
        "GET",
        "api.example.net",
        &format!("/v1/ad?imei_md5={md5_imei}&oaid_sha256={sha256_oaid}&sign={md5_imei}"),
        &[],
        b"",
    );
    let frames = http_exchange(40_004, &req, &Segmentation::whole(), START);
    let (records, _) = run(&frames, signature_set(), Vec::new());
    let leak = only_leak(&records);
    assert_eq!(
        leak["pi"],
        json!([
            item(
                "imei",
                "device",
                false,
                "url.query:imei_md5",
                "md5",
                md5_imei,
                0.95
            ),
            item(
                "oaid",
                "device",
                false,
                "url.query:oaid_sha256",
                "sha256",
                sha256_oaid,
                0.95
            ),
        ])
    );
    // The md5 of an empty string is no identifier.
    let req = traffic::http_request(
        "GET",
        "api.example.net",
        "/v1/ad?imei_md5=d41d8cd98f00b204e9800998ecf8427e",
        &[],
        b"",
    );
    let (records, _) = run(
        &http_exchange(40_005, &req, &Segmentation::whole(), START),
        signature_set(),
        Vec::new(),
    );
    assert!(of_type(&records, "pi_leak").is_empty());
}

#[test]
fn raw_stream_of_an_unparsed_protocol() {
    // A private binary protocol on port 9000: a length-prefixed frame holding JSON, the
    // phone number split across two segments.
    let payload = br#"{"cmd":"login","mobile":"13912345678","v":3}"#;
    let mut msg = vec![0x00, 0x01, 0xA5, payload.len() as u8];
    msg.extend_from_slice(payload);
    let cut = 4
        + payload
            .windows(5)
            .position(|w| w == b"13912")
            .expect("phone")
        + 5;
    let mut conv = TcpConversation::new(phone(40_006), server(20, 9000)).with_start_micros(START);
    conv.handshake();
    conv.client_sends(&msg, &Segmentation::sizes(vec![cut]));
    conv.server_sends(b"\x00\x02ok", &Segmentation::whole());
    conv.close();
    let (records, _) = run(&conv.take_frames(), signature_set(), Vec::new());
    let leak = only_leak(&records);
    assert_eq!(leak["app_proto"], "unknown");
    assert_eq!(leak["http"], Value::Null);
    assert_eq!(
        leak["pi"],
        json!([item(
            "phone_number",
            "basic",
            false,
            "stream.raw",
            "plain",
            "13912345678",
            0.7
        )])
    );
}

#[test]
fn http_records_carry_the_masked_uri() {
    let req = traffic::http_request(
        "GET",
        "api.example.net",
        "/u/13912345678/profile?phone=13912345678&page=2",
        &[],
        b"",
    );
    let frames = http_exchange(40_007, &req, &Segmentation::whole(), START);
    let settings = leaktap::pipeline::Settings {
        signatures: signature_set(),
        events: leaktap::pipeline::EventSet {
            http: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let (records, _) = run_with(&frames, settings, Vec::new());
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 1);
    assert_eq!(
        http[0]["http"]["uri"],
        "/u/139****5678/profile?phone=139****5678&page=2"
    );
    let leak = only_leak(&records);
    assert_eq!(
        leak["http"]["url"],
        "http://api.example.net/u/139****5678/profile?phone=139****5678&page=2"
    );
    assert_eq!(
        leak["pi"],
        json!([item(
            "phone_number",
            "basic",
            false,
            "url.path",
            "plain",
            "13912345678",
            0.95
        )])
    );
}
