//! The detector allocates nothing on the no-hit path once its scratch has grown: a
//! counting global allocator watches 1000 scans of requests that hold no PI (query with
//! escapes, headers, cookies, a nested JSON body with a base64 value and a JSON string,
//! a form body, a raw stream chunk).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use leaktap::detect::{Detector, Limits, PiHit, SignatureSet};
use leaktap::proto::http::{BodyKind, Header, Request};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn request(uri: &str, headers: &[(&str, &str)], body: &[u8], kind: BodyKind) -> Request {
    Request {
        method: "POST".into(),
        uri: uri.into(),
        version: 1,
        headers: headers
            .iter()
            .map(|(n, v)| Header {
                name: (*n).into(),
                value: v.as_bytes().to_vec(),
            })
            .collect(),
        headers_truncated: false,
        host: Some("api.example.net".into()),
        user_agent: None,
        content_type: None,
        content_encoding: Vec::new(),
        body: body.to_vec(),
        body_wire_len: body.len() as u64,
        body_truncated: false,
        body_kind: kind,
        websocket_upgrade: false,
        expect_continue: false,
    }
}

#[test]
fn no_allocation_without_hits() {
    let set = SignatureSet::embedded().unwrap_or_else(|e| panic!("{e}"));
    let json = br#"{"ver":"2.1.0","ts":1772442000123,"data":{"items":[{"sku":"A-1","price":39.9},{"sku":"B-2","price":12.5}],
        "token":"eyJhbGciOiJIUzI1NiJ9eyJzdWIiOiJ0ZXN0LXVzZXIifQ","inner":"{\"k\":\"v\",\"n\":[1,2,3]}",
        "trace":"4bf92f3577b34da6a3ce929d0e0e4736","note":"hello%20world"}}"#;
    let requests = [
        request(
            "/v1/feed/list?page=2&size=20&q=%E6%96%B0%E9%97%BB&sign=3c28ded04e0f4090229968618244b583",
            &[
                ("Host", "api.example.net"),
                ("User-Agent", "ExampleReader/3.2 (Android 13)"),
                ("X-Request-Id", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
                ("Cookie", "sid=1772442000123; theme=dark; lang=zh-CN"),
                ("Content-Type", "application/json"),
            ],
            json,
            BodyKind::Json,
        ),
        request(
            "/v1/log",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"event=open&dur=1520&net=wifi&data=a2V5PXZhbHVlJm90aGVyPTEyMw%3D%3D",
            BodyKind::Form,
        ),
    ];
    let raw = b"\x00\x01\x02HELLO proto v3 session=9c1f3e5a7b2d counter=1772442000123\n";
    let mut detector = Detector::new(Limits::default());
    let mut hits: Vec<PiHit> = Vec::with_capacity(16);
    // Warm up: scratch buffers grow to their working size.
    for _ in 0..3 {
        for r in &requests {
            detector.scan_request(&set, r, &mut hits);
        }
        detector.scan_raw(&set, raw, &mut hits);
    }
    assert!(hits.is_empty(), "{hits:?}");
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        for r in &requests {
            detector.scan_request(&set, r, &mut hits);
        }
        detector.scan_raw(&set, raw, &mut hits);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert!(hits.is_empty());
    assert_eq!(allocations, 0, "allocations on the no-hit path");
    let stats = detector.stats();
    assert!(
        stats.fields > 3000 && stats.decoded_base64 > 0 && stats.decoded_url > 0,
        "{stats:?}"
    );
    println!("3000 scans, {} fields, 0 allocations", stats.fields);
}
