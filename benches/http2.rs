//! HTTP/2 observer throughput: request heads with Huffman-coded strings (the HPACK decoder
//! dominates), and DATA payload streaming.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use leaktap::flow::Direction;
use leaktap::proto::http2::frame::PREFACE;
use leaktap::proto::http2::{Http2Flow, Limits};

/// One request head using only static-table indexes and literals without indexing, so that
/// it can be repeated on any stream: GET https /, `:authority: www.example.com` and
/// `custom-key: custom-value` three times, all strings Huffman-coded (RFC 7541 C.4).
fn head_block() -> Vec<u8> {
    let mut b = vec![0x82, 0x87, 0x84];
    // :authority (static 1) without indexing, Huffman "www.example.com".
    b.extend_from_slice(&[
        0x01, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
    ]);
    for _ in 0..3 {
        // New name without indexing, Huffman "custom-key" / "custom-value".
        b.extend_from_slice(&[
            0x00, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f, 0x89, 0x25, 0xa8, 0x49,
            0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
        ]);
    }
    b
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let l = payload.len();
    let mut out = vec![(l >> 16) as u8, (l >> 8) as u8, l as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn start() -> Vec<u8> {
    let mut d = PREFACE.to_vec();
    d.extend(frame(0x4, 0, 0, &[]));
    d
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("http2");
    let block = head_block();
    let mut heads = start();
    for i in 0..1000u32 {
        heads.extend(frame(0x1, 0x5, 1 + 2 * i, &block));
    }
    group.throughput(Throughput::Elements(1000));
    group.bench_function("request_heads_huffman", |b| {
        b.iter(|| {
            let mut f = Http2Flow::new(Limits::default());
            let mut ev = Vec::new();
            for seg in heads.chunks(1400) {
                f.on_data(Direction::ToServer, seg, &mut ev);
            }
            ev.len()
        })
    });
    let mut data = start();
    data.extend(frame(0x1, 0x4, 1, &[0x83, 0x84]));
    let body = vec![b'x'; 16384];
    for _ in 0..256 {
        data.extend(frame(0x0, 0, 1, &body));
    }
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("data_frames", |b| {
        b.iter(|| {
            let mut f = Http2Flow::new(Limits::default());
            let mut ev = Vec::new();
            for seg in data.chunks(1400) {
                f.on_data(Direction::ToServer, seg, &mut ev);
            }
            ev.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
