//! The whole `analyze` path — read a pcap file through libpcap, decode, flows, reassembly,
//! protocol parsers, record building and JSON serialisation into a sink — over a generated
//! capture of mixed traffic. Throughput is reported in bytes of capture per second; the
//! script `benches/run.sh` turns it into Gbit/s and packets/s next to a bare libpcap read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use leaktap::capture::{FileSource, Step};
use leaktap::config::Runtime;
use leaktap::detect::SignatureSet;
use leaktap::output::{Format, RecordWriter};
use leaktap::pipeline::{EventSet, Worker};
use leaktap::proto::ResolvedNames;
use leaktap::session::SessionSet;
use leaktap::synth::traffic::MixedTraffic;

/// Big enough that per-run set-up is noise, small enough for a 2-core CI box.
const CAPTURE_MB: u64 = 64;

fn capture() -> PathBuf {
    let path = std::env::var_os("LEAKTAP_BENCH_PCAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-mixed-{CAPTURE_MB}mb.pcap"))
        });
    if !path.exists() {
        MixedTraffic::new(5, CAPTURE_MB << 20)
            .write_to_path(&path)
            .expect("generate the bench capture");
    }
    path
}

fn analyze(path: &Path, events: EventSet, signatures: Option<&Arc<SignatureSet>>) -> u64 {
    let runtime = Runtime::default();
    let mut settings = runtime.pipeline_settings();
    settings.events = events;
    if let Some(set) = signatures {
        settings.signatures = Arc::clone(set);
    }
    let sessions = Arc::new(SessionSet::new(Vec::new()).expect("empty session set"));
    let mut worker = Worker::new(settings, sessions, Arc::new(ResolvedNames::default()), 0);
    let mut writer = RecordWriter::new(std::io::sink(), Format::Jsonl);
    let mut emit = |r| {
        let _ = writer.write(r);
    };
    let mut source = FileSource::new(vec![path.to_path_buf()]);
    loop {
        match source.next_step() {
            Step::Frame(frame) => worker.process(&frame, &mut emit),
            Step::Finished => break,
            Step::FileError(e) => panic!("{e}"),
            Step::FileDone | Step::Switched => {}
        }
    }
    worker.finish(&mut emit);
    worker.stats().packets
}

fn bench(c: &mut Criterion) {
    let path = capture();
    let bytes = std::fs::metadata(&path).expect("capture").len();
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("records_only", |b| {
        b.iter(|| analyze(&path, EventSet::default(), None))
    });
    let all = EventSet {
        dns: true,
        flow: true,
        http: true,
        quic: true,
        tls: true,
    };
    group.bench_function("all_protocol_records", |b| {
        b.iter(|| analyze(&path, all, None))
    });
    // PI detection and SDK attribution with every built-in signature, as `analyze` runs.
    let signatures = Arc::new(SignatureSet::embedded().expect("built-in signatures"));
    group.bench_function("with_signatures", |b| {
        b.iter(|| analyze(&path, EventSet::default(), Some(&signatures)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
