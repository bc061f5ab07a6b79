//! Helpers shared by the findings and report integration tests: synthetic lab captures
//! written as real pcap files, the pipeline run over them through the capture stage,
//! and a stand-in for PI/SDK detection.
//!
//! **Detection seam.** The detection engine (`pi_leak` / `sdk_contact` records) is built
//! on another branch. Until it is merged, [`detect`] derives those records from the
//! pipeline's real `http` and `dns` records with [`stub_detect`]: a `pi_leak` for every
//! HTTP request whose query carries `imei=`, `android_id=`, `oaid=` or `phone=`, and an
//! `sdk_contact` for the first DNS answer per (session, SDK, host, phase) of a host in
//! [`SDK_HOSTS`], each with the http/dns record's own flow, session and phase. After the
//! merge, set [`REAL_DETECTION`] to `true`: the same tests then run on the pipeline's own
//! `pi_leak`/`sdk_contact` records (and fail loudly, below, if the switch is forgotten).
#![allow(dead_code)]

use std::fs::File;
use std::io::BufWriter;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leaktap::capture::{FileSource, Step};
use leaktap::config::Runtime;
use leaktap::flow::Direction;
use leaktap::pi::taxonomy;
use leaktap::pipeline::{EventSet, Worker};
use leaktap::proto::ResolvedNames;
use leaktap::record::{
    mask, Body, EventType, PiItem, PiLeakFields, PiMethod, Record, SdkContactFields, SdkRef,
};
use leaktap::session::{self, KnownIds, SessionSet};
use leaktap::synth::pcap::{CaptureWrite, LinkType, PcapWriter};
use leaktap::synth::tcp::{Segmentation, TcpConversation};
use leaktap::synth::traffic::{self, RrType};
use leaktap::synth::Endpoint;

/// Flip to `true` once the detection engine emits `pi_leak` / `sdk_contact` records.
pub const REAL_DETECTION: bool = true;

/// 2026-03-02T09:00:00Z in microseconds: the sessions' `app_launched`.
pub const T0: i64 = 1_772_442_000_000_000;
pub const SEC: i64 = 1_000_000;

pub const MAC_A: [u8; 6] = [0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e];
pub const MAC_B: [u8; 6] = [0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5f];
pub const MAC_OTHER: [u8; 6] = [0x02, 0x99, 0x00, 0x00, 0x00, 0x99];
pub const GATEWAY: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];

/// Hosts the stand-in detector attributes to SDKs: (host suffix, id, name, vendor).
pub const SDK_HOSTS: &[(&str, &str, &str, &str)] = &[
    ("umeng.com", "umeng", "Umeng+ (友盟)", "Umeng"),
    ("getui.net", "getui", "Getui (个推)", "Getui"),
    ("jpush.cn", "jpush", "JPush (极光)", "Aurora Mobile"),
];

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

/// A fresh directory under the system temp dir, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Frames of one capture, built step by step.
#[derive(Default)]
pub struct Capture {
    pub frames: Vec<(i64, Vec<u8>)>,
}

impl Capture {
    /// A DNS query and its answer (12 ms later) from `client`.
    pub fn dns(&mut self, client: Endpoint, name: &str, answer: &str, at: i64) {
        let resolver = Endpoint::new(GATEWAY, ip("192.0.2.1"), 53);
        let query = traffic::dns_query(0x1a00 ^ (at as u16), name, RrType::A);
        let reply = traffic::dns_response(0x1a00 ^ (at as u16), name, &[ip(answer)]);
        self.frames.extend(traffic::udp_exchange(
            &client,
            &resolver,
            &[],
            &[(Direction::ToServer, &query), (Direction::ToClient, &reply)],
            at,
            12_000,
        ));
    }

    /// An HTTP GET from `client` to `server` starting at `at`, the request cut into
    /// segments of `seg_bytes` (0 = one segment), frames `step` µs apart. Returns (time,
    /// payload length) of each request frame carrying data.
    #[allow(clippy::too_many_arguments)]
    pub fn http_get(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        host: &str,
        path: &str,
        at: i64,
        seg_bytes: usize,
        step: i64,
    ) -> Vec<(i64, usize)> {
        let request =
            traffic::http_request("GET", host, path, &[("User-Agent", "LabApp/1.0")], b"");
        let response =
            traffic::http_response(200, &[("Content-Type", "application/json")], b"{\"ok\":1}");
        let mut conv = TcpConversation::new(client, server)
            .with_start_micros(at)
            .with_step_micros(step);
        let seg = if seg_bytes == 0 {
            Segmentation::whole()
        } else {
            Segmentation::fixed(seg_bytes)
        };
        conv.handshake();
        let before = conv.frames().len();
        conv.client_sends(&request, &seg);
        // (time, payload length) of each request frame carrying data.
        let sent: Vec<(i64, usize)> = conv.frames()[before..]
            .iter()
            .map(|(ts, f)| (*ts, tcp_payload_len(f)))
            .filter(|(_, len)| *len > 0)
            .collect();
        conv.server_sends(&response, &Segmentation::whole()).close();
        self.frames.extend(conv.take_frames());
        sent
    }

    /// Writes a classic pcap (Ethernet), frames in time order.
    pub fn write(&mut self, path: &Path) {
        self.frames.sort_by_key(|(ts, _)| *ts);
        let out = BufWriter::new(File::create(path).expect("create capture"));
        let mut w = PcapWriter::new(out, LinkType::ETHERNET).expect("pcap header");
        for (ts, f) in &self.frames {
            w.write_packet(*ts, f).expect("write frame");
        }
        w.into_inner().expect("flush capture");
    }
}

/// TCP payload length of an Ethernet/IPv4 frame built by synth.
fn tcp_payload_len(frame: &[u8]) -> usize {
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = &ip[ihl..];
    let off = usize::from(tcp[12] >> 4) * 4;
    total - ihl - off
}

/// A session file for a device, written to `dir/<id>.toml`.
pub fn session_file(
    dir: &Path,
    id: &str,
    device: &str,
    app_extra: &str,
    events: &[(i64, &str)],
) -> PathBuf {
    let mut text = format!(
        "[device]\nname = \"{id} phone\"\n{device}\n\n[device.identifiers]\nimei = \"861234567890127\"\n\
         android_id = \"3a5f9c2e8b7d6140\"\n\n[app]\nname = \"Example Reader\"\npackage = \"com.example.reader\"\n{app_extra}\n"
    );
    for (secs, kind) in events {
        let at = time::OffsetDateTime::from_unix_timestamp(T0 / SEC + secs)
            .expect("time")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format");
        text.push_str(&format!("\n[[events]]\nat = \"{at}\"\nkind = \"{kind}\"\n"));
    }
    let path = dir.join(format!("{id}.toml"));
    std::fs::write(&path, text).expect("write session");
    path
}

/// Loads session files into a set.
pub fn sessions(paths: &[PathBuf]) -> Arc<SessionSet> {
    Arc::new(SessionSet::load(paths, &KnownIds::builtin()).expect("sessions load"))
}

/// Runs the real pipeline (capture → … → records) over capture files with protocol
/// records `events` switched on. Records are unsealed, in emission order.
pub fn pipeline(captures: &[PathBuf], sessions: &Arc<SessionSet>, events: &str) -> Vec<Record> {
    let runtime = Runtime::default();
    let mut settings = runtime.pipeline_settings();
    settings.events = EventSet::parse(events).expect("events");
    if REAL_DETECTION {
        settings.signatures =
            Arc::new(leaktap::detect::SignatureSet::embedded().expect("built-in signatures"));
    }
    let names = Arc::new(ResolvedNames::new(
        runtime.dns_names_max_entries,
        runtime.dns_names_lifetime_secs,
    ));
    let mut worker = Worker::new(settings, Arc::clone(sessions), names, 0);
    let mut out = Vec::new();
    let mut source = FileSource::new(captures.to_vec());
    loop {
        match source.next_step() {
            Step::Frame(frame) => worker.process(&frame, &mut |r| out.push(r)),
            Step::FileError(e) => panic!("capture problem: {e}"),
            Step::FileDone | Step::Switched => {}
            Step::Finished => break,
        }
    }
    worker.finish(&mut |r| out.push(r));
    out
}

/// The pipeline's records plus `pi_leak` / `sdk_contact` records: the pipeline's own
/// with [`REAL_DETECTION`], else the stand-in's (see the module doc).
pub fn detect(records: Vec<Record>) -> Vec<Record> {
    let real = records
        .iter()
        .any(|r| matches!(r.event_type, EventType::PiLeak | EventType::SdkContact));
    if REAL_DETECTION {
        return records;
    }
    assert!(
        !real,
        "the pipeline now emits pi_leak/sdk_contact records: set REAL_DETECTION = true in tests/common/mod.rs"
    );
    stub_detect(records)
}

/// The stand-in detector (see the module doc). Keeps every input record and inserts
/// the derived record right after the one it comes from.
pub fn stub_detect(records: Vec<Record>) -> Vec<Record> {
    let mut out = Vec::with_capacity(records.len() * 2);
    let mut contacted: Vec<(Option<String>, String, String, &'static str)> = Vec::new();
    for record in records {
        let derived = match &record.body {
            Body::Http { http } => {
                let items = query_pi(&http.uri);
                (!items.is_empty()).then(|| {
                    let mut common = record.common.clone();
                    common.sdk = sdk_of(common.host.as_deref().unwrap_or(""));
                    common.third_party |= common.sdk.is_some();
                    Record::new(
                        record.ts,
                        common,
                        Body::PiLeak(PiLeakFields {
                            http: None,
                            tls: None,
                            pi: items,
                            evidence: None,
                        }),
                    )
                })
            }
            Body::Dns { dns } if dns.kind == "answer" => {
                let sdk = sdk_of(&dns.query);
                let key = (
                    record.common.session_id.clone(),
                    sdk.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
                    dns.query.clone(),
                    record.common.consent_phase,
                );
                match sdk {
                    Some(sdk) if !contacted.contains(&key) => {
                        contacted.push(key);
                        let mut common = record.common.clone();
                        common.host = Some(dns.query.clone());
                        common.sdk = Some(sdk);
                        common.third_party = true;
                        Some(Record::new(
                            record.ts,
                            common,
                            Body::SdkContact(SdkContactFields { via: "dns" }),
                        ))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        out.push(record);
        out.extend(derived);
    }
    out
}

fn sdk_of(host: &str) -> Option<SdkRef> {
    SDK_HOSTS
        .iter()
        .find(|(suffix, ..)| host == *suffix || host.ends_with(&format!(".{suffix}")))
        .map(|(_, id, name, vendor)| SdkRef {
            id: (*id).into(),
            name: (*name).into(),
            vendor: (*vendor).into(),
            category: "analytics".into(),
        })
}

fn query_pi(uri: &str) -> Vec<PiItem> {
    let Some((_, query)) = uri.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| {
            let pi_type = match k {
                "imei" => "imei",
                "android_id" => "android_id",
                "oaid" => "oaid",
                "phone" => "phone_number",
                "loc" => "gps_location",
                _ => return None,
            };
            let info = taxonomy::pi_type(pi_type)?;
            Some(PiItem {
                pi_type: pi_type.into(),
                category: info.category.into(),
                sensitive: info.sensitive,
                location: format!("url.query:{k}"),
                encoding: "plain".into(),
                method: PiMethod::KnownValue,
                value: mask(v),
                confidence: 1.0,
                distance_m: None,
            })
        })
        .collect()
}

/// Loads one session file (for the report).
pub fn load_session(path: &Path) -> session::Session {
    session::load(path, &KnownIds::builtin()).expect("session")
}
