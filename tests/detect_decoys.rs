//! Decoys that look like PI but are not, in the places real apps put them: none may give
//! a `pi_leak` record. Each decoy sits under a key that gives it the strongest context it
//! could plausibly have, so a miss cannot hide behind the absence of a key.

mod detect_support;

use leaktap::pi::validator;
use leaktap::synth::tcp::Segmentation;
use leaktap::synth::traffic;
use serde_json::json;

use detect_support::*;

const START: i64 = 1_772_442_000_000_000;

/// A 16-digit number starting 62 whose Luhn check fails.
fn bad_luhn_card() -> String {
    let body = "622202020011223";
    let good = validator::luhn_check_digit(body.as_bytes()).expect("digit");
    let bad = if good == b'9' { b'0' } else { good + 1 };
    let card = format!("{body}{}", char::from(bad));
    assert!(!validator::bank_card(&card));
    card
}

/// An 18-character ID number with a wrong check character.
fn bad_id() -> String {
    let id = "110105194912310021";
    assert!(!validator::cn_resident_id(
        id,
        time::macros::date!(2026 - 03 - 02)
    ));
    id.into()
}

#[test]
fn decoys_are_not_reported() {
    let card = bad_luhn_card();
    let id = bad_id();
    let query = format!(
        "/v2/log?ts=1772442000123&t=1700000000000&order_id=13912345678901234&trace=8f3a9c2e71b04d5a\
         &request_id=3f2b8c1e-9d4a-4e7b-b6c5-0a1d2e3f4a5b&price=39.908&amount=116.397&ver=13.9.1&build=10.13.8.1391234&card_no={card}\
         &id_card={id}&v=1.3.912345678"
    );
    let body = json!({
        "imei": "000000000000000",
        "mac": "02:00:00:00:00:00",
        "bssid": "00:00:00:00:00:00",
        "idfa": "00000000-0000-0000-0000-000000000000",
        "oaid": "00000000-0000-0000-0000-000000000000",
        "android_id": "9774d56d682e549c",
        "session": "9c1f3e5a7b2d4f6081a3c5e7f9b1d3e5",
        "uuid": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "event_id": "a1b2c3d4e5f60718",
        "items": [{"sku": "SKU2201-77", "price": 39.90, "lat_offset": 0.001}],
        "lat": 39.9, "lng": 116.4,
        "version": "116.397477.39",
        "phone": "13800138000",
        "timestamps": [1772442000123u64, 1772442000456u64],
        "serial": "13912345678901234567890",
        "hex": "deadbeefcafebabe13912345678deadbeef",
        "nonce": "QmFzZTY0Tm9uY2VWYWx1ZTEyMzQ1Njc4",
        "asset": "icon@2x.png",
        "apps": "com.example.one",
        "cell_id": "2147483647",
        "cid": 19944365299u64,
        "display_cids": [19944365299u64, 13912345677u64],
        "realm": "310410010001002@ims.mnc410.mcc310.3gppnetwork.org",
        "username": "263734@imstest.lan",
        "uri": "sip:zhang.san@example.com"
    })
    .to_string();
    let req = traffic::http_request(
        "POST",
        "api.example.net",
        &query,
        &[
            ("Content-Type", "application/json"),
            ("X-Request-Id", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            ("X-Trace-Id", "4bf92f3577b34da6a3ce929d0e0e4736"),
            (
                "User-Agent",
                "Dalvik/2.1.0 (Linux; U; Android 13; V2203A Build/TP1A.220624.014)",
            ),
            ("Cookie", "sid=1772442000123; imei=000000000000000"),
        ],
        body.as_bytes(),
    );
    let frames = http_exchange(41_000, &req, &Segmentation::whole(), START);
    let (records, stats) = run(&frames, signature_set(), Vec::new());
    let leaks = of_type(&records, "pi_leak");
    assert!(leaks.is_empty(), "decoys reported: {leaks:#?}");
    // The decoys were looked at, not skipped.
    assert!(stats.detect.fields > 30, "{:?}", stats.detect);
    assert!(stats.detect.rejected_placeholder >= 6, "{:?}", stats.detect);
    assert!(stats.detect.rejected_validator >= 2, "{:?}", stats.detect);
}

#[test]
fn the_same_values_done_right_are_reported() {
    // Control for the decoy test: the detector is not simply blind in these places.
    let card = format!(
        "622202020011223{}",
        char::from(validator::luhn_check_digit(b"622202020011223").expect("digit"))
    );
    let query = format!(
        "/v2/log?ts=1772442000123&mobile=13912345678&card_no={card}&id_card=11010519491231002X"
    );
    let req = traffic::http_request("GET", "api.example.net", &query, &[], b"");
    let frames = http_exchange(41_001, &req, &Segmentation::whole(), START);
    let (records, _) = run(&frames, signature_set(), Vec::new());
    let leaks = of_type(&records, "pi_leak");
    assert_eq!(leaks.len(), 1);
    let types: Vec<&str> = leaks[0]["pi"]
        .as_array()
        .expect("pi")
        .iter()
        .map(|p| p["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["phone_number", "bank_card", "id_card"]);
}
