//! Decrypted throughput of TLS application data, per core: record opening
//! alone (`open/<suite>`) and the whole per-flow path (`flow/<suite>`:
//! record framing from 1460-byte TCP chunks, collection, decryption, the
//! plaintext handed to a sink). Records are sealed here with the same
//! crates; throughput counts plaintext bytes.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use leaktap::flow::Direction;
use leaktap::keylog::{KeyLog, Label, RecordKeys, Secret, Suite};
use leaktap::proto::tls::{DecryptCtx, DecryptLimits, TlsEvent, TlsFlow, TlsSink};

const RECORD_PLAINTEXT_BYTES: usize = 16 * 1024;
const RECORDS: usize = 64;
const CLIENT_RANDOM: [u8; 32] = [0x11; 32];

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 0x03, 0x03];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// ClientHello offering `suite` with supported_versions = TLS 1.3.
fn client_hello(suite: u16) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&CLIENT_RANDOM);
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x02]);
    body.extend_from_slice(&suite.to_be_bytes());
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    body.extend_from_slice(&[0x00, 0x07, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
    let mut msg = vec![0x01, 0x00, 0x00, body.len() as u8];
    msg.extend_from_slice(&body);
    msg
}

fn server_hello(suite: u16) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x22; 32]);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    body.extend_from_slice(&[0x00, 0x06, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
    let mut msg = vec![0x02, 0x00, 0x00, body.len() as u8];
    msg.extend_from_slice(&body);
    msg
}

struct Count(u64);

impl TlsSink for Count {
    fn event(&mut self, _event: TlsEvent) {}
    fn plaintext(&mut self, _dir: Direction, data: &[u8]) {
        self.0 += data.len() as u64;
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tls_decrypt");
    group.throughput(Throughput::Bytes((RECORD_PLAINTEXT_BYTES * RECORDS) as u64));
    let plaintext = vec![0x61u8; RECORD_PLAINTEXT_BYTES];

    // Record opening alone, TLS 1.2 and 1.3 suites.
    let suites: [(&str, Suite, bool); 5] = [
        ("tls13_aes128gcm", Suite::tls13(0x1301).unwrap(), true),
        ("tls13_aes256gcm", Suite::tls13(0x1302).unwrap(), true),
        ("tls13_chacha20", Suite::tls13(0x1303).unwrap(), true),
        ("tls12_aes128gcm", Suite::tls12(0xc02f).unwrap(), false),
        ("tls12_chacha20", Suite::tls12(0xcca8).unwrap(), false),
    ];
    for (name, suite, tls13) in suites {
        let make = || {
            if tls13 {
                RecordKeys::tls13(suite, &vec![7; suite.hash.len()]).unwrap()
            } else {
                RecordKeys::tls12(suite, &[7; 48], &[1; 32], &[2; 32], Direction::ToServer).unwrap()
            }
        };
        let mut tx = make();
        let mut records = Vec::new();
        for _ in 0..RECORDS {
            let mut r = Vec::new();
            tx.seal(23, &plaintext, &mut r).unwrap();
            records.push(r);
        }
        group.bench_function(BenchmarkId::new("open", name), |b| {
            let mut scratch = Vec::with_capacity(RECORD_PLAINTEXT_BYTES + 64);
            b.iter(|| {
                let mut rx = make();
                let mut total = 0;
                for r in &records {
                    scratch.clear();
                    scratch.extend_from_slice(&r[5..]);
                    let header: [u8; 5] = r[..5].try_into().unwrap();
                    let o = rx.open(&header, &mut scratch).unwrap();
                    total += o.end - o.start;
                }
                black_box(total)
            })
        });
    }

    // The whole per-flow path for the TLS 1.3 suites.
    for (name, code) in [
        ("tls13_aes128gcm", 0x1301u16),
        ("tls13_aes256gcm", 0x1302),
        ("tls13_chacha20", 0x1303),
    ] {
        let suite = Suite::tls13(code).unwrap();
        let n = suite.hash.len();
        let keylog = KeyLog::default();
        for (label, b) in [
            (Label::ClientHandshakeTrafficSecret, 1u8),
            (Label::ServerHandshakeTrafficSecret, 2),
            (Label::ClientTrafficSecret0, 3),
            (Label::ServerTrafficSecret0, 4),
        ] {
            keylog.insert(
                CLIENT_RANDOM,
                label,
                Secret::from_slice(&vec![b; n]).unwrap(),
            );
        }
        let mut s_hs = RecordKeys::tls13(suite, &vec![2; n]).unwrap();
        let mut s_ap = RecordKeys::tls13(suite, &vec![4; n]).unwrap();
        let hello = record(22, &client_hello(code));
        let mut server = record(22, &server_hello(code));
        let mut finished = vec![20, 0, 0, n as u8];
        finished.resize(4 + n, 0);
        s_hs.seal(22, &finished, &mut server).unwrap();
        for _ in 0..RECORDS {
            s_ap.seal(23, &plaintext, &mut server).unwrap();
        }
        let limits = DecryptLimits::default();
        group.bench_function(BenchmarkId::new("flow", name), |b| {
            b.iter(|| {
                let mut flow = TlsFlow::default();
                let mut sink = Count(0);
                let mut held = 0;
                let mut ctx = DecryptCtx {
                    keylog: Some(&keylog),
                    limits: &limits,
                    now_micros: 0,
                    held_bytes: &mut held,
                };
                flow.on_data_decrypting(Direction::ToServer, &hello, &mut ctx, &mut sink);
                for chunk in server.chunks(1460) {
                    flow.on_data_decrypting(Direction::ToClient, chunk, &mut ctx, &mut sink);
                }
                assert_eq!(sink.0, (RECORD_PLAINTEXT_BYTES * RECORDS) as u64);
                black_box(sink.0)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
