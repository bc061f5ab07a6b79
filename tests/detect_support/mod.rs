//! Shared helpers of the `detect_*` integration tests: the repository's PI signatures plus
//! a few SDK entries that exist only here, synthetic captures of real packets, and a run
//! of the real pipeline over them.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use leaktap::capture::{Frame, Timestamp};
use leaktap::detect::{FileKind, SignatureSet, SourceFile};
use leaktap::pipeline::{Settings, Worker};
use leaktap::proto::ResolvedNames;
use leaktap::session::{Session, SessionSet};
use leaktap::synth::tcp::{Segmentation, TcpConversation};
use leaktap::synth::traffic;
use leaktap::synth::Endpoint;
use serde_json::Value;

/// SDK entries used by the tests only (the real list lives in signatures/sdks/).
pub const TEST_SDKS: [(&str, &str); 3] = [
    (
        "analytics",
        r#"
[[sdk]]
id = "test_umeng"
name = "友盟+ 统计分析 (test entry)"
name_en = "Umeng+ Analytics (test entry)"
vendor = "test"
category = "analytics"
domains = ["umeng.com", "umengcloud.com"]
sources = ["tests/detect_support"]
"#,
    ),
    (
        "ads",
        r#"
[[sdk]]
id = "test_gdt"
name = "优量汇 (test entry)"
vendor = "test"
category = "ads"
domains = ["gdt.qq.com"]
host_patterns = ['^mi\.gdt[0-9]*\.qq\.com$']
sources = ["tests/detect_support"]

[[sdk]]
id = "test_quic_example"
name = "QUIC test entry"
vendor = "test"
category = "ads"
domains = ["example.com"]
sources = ["RFC 9001 A.2 uses SNI example.com"]
"#,
    ),
    (
        "face_recognition",
        r#"
[[sdk]]
id = "test_face"
name = "人脸识别 (test entry)"
vendor = "test"
category = "face_recognition"
domains = ["faceid-test.cn"]
sources = ["tests/detect_support"]
"#,
    ),
];

/// The repository's `signatures/pi/*.toml` plus [`TEST_SDKS`].
pub fn signature_set() -> Arc<SignatureSet> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures/pi");
    let mut files = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("signatures/pi")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        files.push(SourceFile {
            name: path.display().to_string(),
            kind: FileKind::Pi,
            text: std::fs::read_to_string(&path).expect("read"),
        });
    }
    for (stem, text) in TEST_SDKS {
        files.push(SourceFile {
            name: format!("tests/sdks/{stem}.toml"),
            kind: FileKind::Sdk,
            text: text.to_string(),
        });
    }
    Arc::new(SignatureSet::from_files(&files).unwrap_or_else(|e| panic!("{e}")))
}

pub const PHONE_MAC: [u8; 6] = [0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e];
pub const GATEWAY_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
pub const PHONE_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 23);

pub fn phone(port: u16) -> Endpoint {
    Endpoint::new(PHONE_MAC, IpAddr::V4(PHONE_IP), port)
}

pub fn server(last: u8, port: u16) -> Endpoint {
    Endpoint::new(
        GATEWAY_MAC,
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, last)),
        port,
    )
}

/// One HTTP exchange on its own connection: `request` cut by `seg`, a 204 answer.
pub fn http_exchange(
    port: u16,
    request: &[u8],
    seg: &Segmentation,
    start_micros: i64,
) -> Vec<(i64, Vec<u8>)> {
    let mut conv =
        TcpConversation::new(phone(port), server(10, 80)).with_start_micros(start_micros);
    conv.handshake();
    conv.client_sends(request, seg);
    conv.server_sends(
        &traffic::http_response(204, &[], b""),
        &Segmentation::whole(),
    );
    conv.close();
    conv.take_frames()
}

/// Runs the real pipeline over Ethernet frames; returns every record as JSON.
pub fn run(
    frames: &[(i64, Vec<u8>)],
    signatures: Arc<SignatureSet>,
    sessions: Vec<Session>,
) -> (Vec<Value>, leaktap::pipeline::PipelineStats) {
    let settings = Settings {
        signatures,
        ..Settings::default()
    };
    run_with(frames, settings, sessions)
}

/// As [`run`] with the given settings.
pub fn run_with(
    frames: &[(i64, Vec<u8>)],
    settings: Settings,
    sessions: Vec<Session>,
) -> (Vec<Value>, leaktap::pipeline::PipelineStats) {
    let sessions = Arc::new(SessionSet::new(sessions).expect("sessions"));
    let names = Arc::new(ResolvedNames::new(1024, 3600));
    let mut worker = Worker::new(settings, sessions, names, 0);
    let mut records = Vec::new();
    let mut emit =
        |r: leaktap::record::Record| records.push(serde_json::to_value(&r).expect("json"));
    for (ts, data) in frames {
        let frame = Frame {
            ts: Timestamp::from_micros(*ts),
            link_type: 1,
            data,
            wire_len: data.len() as u32,
        };
        worker.process(&frame, &mut emit);
    }
    worker.finish(&mut emit);
    (records, worker.stats())
}

pub fn of_type<'a>(records: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["event_type"] == event_type)
        .collect()
}
