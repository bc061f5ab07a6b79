//! Evidence tests across ring, tap, writer and retention, with real frames from `synth`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

use super::*;
use crate::capture::{Frame, Timestamp};
use crate::synth::tcp::{Segmentation, TcpConversation};
use crate::synth::Endpoint;

const MATCH_TS: i64 = 1_772_442_040_000_000; // 2026-03-02T09:00:40Z

fn conversation(port: u16, body_len: usize) -> Vec<(i64, Vec<u8>)> {
    let client = Endpoint::new([2, 0, 0, 0, 0, 1], "192.0.2.10".parse().unwrap(), port);
    let server = Endpoint::new([2, 0, 0, 0, 0, 2], "198.51.100.7".parse().unwrap(), 80);
    let mut request = b"POST /collect HTTP/1.1\r\nHost: sdk.example\r\n\r\n".to_vec();
    request.resize(request.len() + body_len, b'a');
    let mut conv = TcpConversation::new(client, server).with_start_micros(MATCH_TS - 1_000);
    conv.handshake()
        .client_sends(&request, &Segmentation::fixed(1000))
        .server_sends(b"HTTP/1.1 204 No Content\r\n\r\n", &Segmentation::whole())
        .close();
    conv.frames().to_vec()
}

fn as_frame(ts: i64, data: &[u8]) -> Frame<'_> {
    Frame {
        ts: Timestamp::from_micros(ts),
        link_type: 1,
        data,
        wire_len: data.len() as u32,
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    root: PathBuf,
    writer: EvidenceWriter,
    events: mpsc::Receiver<EvidenceEvent>,
}

fn harness(limits: Limits) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("evidence");
    let (tx, events) = mpsc::channel();
    let writer = EvidenceWriter::start(
        WriterConfig {
            root: root.clone(),
            limits,
            run_id: 7,
            snaplen: 65_535,
        },
        Box::new(move |e| {
            let _ = tx.send(e);
        }),
    )
    .unwrap();
    Harness {
        _dir: dir,
        root,
        writer,
        events,
    }
}

fn info(flow_id: u64) -> FlowInfo<'static> {
    FlowInfo {
        flow_id,
        session_id: Some("lab3-reader"),
        ts: Timestamp::from_micros(MATCH_TS),
    }
}

fn written(events: &mpsc::Receiver<EvidenceEvent>) -> Vec<EvidenceFile> {
    events
        .try_iter()
        .filter_map(|e| match e {
            EvidenceEvent::Written(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// Every file under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("tshark not on PATH: skipping the tshark check");
    }
    ok
}

fn tshark_fields(path: &Path, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(path).args(["-T", "fields"]);
    for f in fields {
        cmd.arg("-e").arg(f);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn paths_are_per_day_and_session_and_cannot_escape() {
    let ts = Timestamp::from_micros(MATCH_TS);
    assert_eq!(
        evidence_path(ts, Some("lab3-reader"), 2, 9),
        "2026-03-02/lab3-reader/2-9.pcapng"
    );
    assert_eq!(
        evidence_path(ts, None, 2, 9),
        "2026-03-02/no_session/2-9.pcapng"
    );
    assert_eq!(
        evidence_path(ts, Some("../../etc/x"), 2, 9),
        "2026-03-02/_._.._etc_x/2-9.pcapng"
    );
    assert_eq!(
        evidence_path(ts, Some("实验室3"), 2, 9),
        "2026-03-02/实验室3/2-9.pcapng"
    );
}

#[test]
fn limits_validate_with_key_names() {
    assert_eq!(Limits::default().validate(), Ok(()));
    let bad = Limits {
        max_flow_bytes: 1024,
        ..Limits::default()
    };
    assert_eq!(bad.validate().unwrap_err().0, "evidence.max_flow_bytes");
}

#[test]
fn matched_flow_becomes_a_pcapng_that_tshark_reads_with_its_hash() {
    let h = harness(Limits::default());
    let frames = conversation(40_000, 3000);
    let mut tap = EvidenceTap::new(&Limits::default(), 1, Some(h.writer.sender()));
    let mut ring = FlowRing::new();
    // Match after the 5th frame: earlier frames come from the ring, later ones stream.
    for (i, (ts, data)) in frames.iter().enumerate() {
        tap.packet(&mut ring, &as_frame(*ts, data));
        if i == 4 {
            let path = tap.matched(&mut ring, &info(1), Some("leaktap: pi_leak"));
            assert_eq!(path.as_deref(), Some("2026-03-02/lab3-reader/7-1.pcapng"));
        }
    }
    // While the flow is open only the temporary file exists.
    h.writer.flush().unwrap();
    assert_eq!(tree(&h.root), ["2026-03-02/lab3-reader/7-1.pcapng.tmp"]);
    tap.flow_ended(&mut ring);
    h.writer.flush().unwrap();
    assert_eq!(tree(&h.root), ["2026-03-02/lab3-reader/7-1.pcapng"]);

    let files = written(&h.events);
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(file.flow_id, 1);
    assert_eq!(file.run_id, 7);
    assert_eq!(file.packets, frames.len() as u64);
    assert_eq!(file.missing_packets, 0);
    assert_eq!(file.reason, CloseReason::Ended);
    assert_eq!(file.first_ts, Timestamp::from_micros(frames[0].0));
    let abs = h.root.join(&file.path);
    let (sha, bytes) = hash_file(&abs).unwrap();
    assert_eq!(sha, file.sha256);
    assert_eq!(bytes, file.bytes);
    assert_eq!(fs::metadata(&abs).unwrap().len(), file.bytes);
    let stats = h.writer.counters().snapshot();
    assert_eq!(stats.files_written, 1);
    assert_eq!(stats.packets_written, frames.len() as u64);
    assert_eq!(stats.open_files, 0);

    if tshark_available() {
        let lens = tshark_fields(&abs, &["frame.len"]);
        let want: Vec<String> = frames.iter().map(|(_, d)| d.len().to_string()).collect();
        assert_eq!(lens, want);
        let times = tshark_fields(&abs, &["frame.time_epoch"]);
        assert_eq!(times[0], "1772442039.999000000");
        let comments = tshark_fields(&abs, &["frame.comment"]);
        assert_eq!(comments[4], "leaktap: pi_leak");
        let http = tshark_fields(&abs, &["http.host"]);
        assert!(http.iter().any(|l| l == "sdk.example"), "{http:?}");
    }
    h.writer.shutdown();
}

#[test]
fn lost_batches_are_noted_in_the_file_and_the_report() {
    let h = harness(Limits::default());
    let frames = conversation(40_001, 0);
    let mut tap = EvidenceTap::new(&Limits::default(), 1, Some(h.writer.sender()));
    let mut ring = FlowRing::new();
    tap.packet(&mut ring, &as_frame(frames[0].0, &frames[0].1));
    tap.matched(&mut ring, &info(2), None);
    // Simulate the channel having been full for frames 1 and 2: the worker counts them,
    // they never reach the writer.
    let sender = h.writer.sender();
    let stream = ring.stream.as_deref_mut().unwrap();
    stream.evidence_packets += 2;
    stream.pending_index += 2;
    for (ts, data) in &frames[3..] {
        tap.packet(&mut ring, &as_frame(*ts, data));
    }
    tap.flow_ended(&mut ring);
    drop(sender);
    h.writer.flush().unwrap();
    let files = written(&h.events);
    assert_eq!(files[0].missing_packets, 2);
    assert_eq!(files[0].packets, frames.len() as u64 - 2);
    if tshark_available() {
        let comments = tshark_fields(&h.root.join(&files[0].path), &["frame.comment"]);
        assert!(comments[1].contains("2 frame(s) of this flow before this one are missing"));
    }
    h.writer.shutdown();
}

#[test]
fn descriptor_cap_reopens_files_for_append() {
    let limits = Limits {
        max_open_files: 1,
        flush_bytes: 1,
        ..Limits::default()
    };
    let h = harness(limits.clone());
    let convs: Vec<Vec<(i64, Vec<u8>)>> = (0..3).map(|i| conversation(41_000 + i, 500)).collect();
    let mut tap = EvidenceTap::new(&limits, 1, Some(h.writer.sender()));
    let mut rings: Vec<FlowRing> = (0..3).map(|_| FlowRing::new()).collect();
    for (i, ring) in rings.iter_mut().enumerate() {
        tap.matched(ring, &info(10 + i as u64), None);
    }
    // Interleave the three flows frame by frame.
    let longest = convs.iter().map(Vec::len).max().unwrap();
    for n in 0..longest {
        for (conv, ring) in convs.iter().zip(rings.iter_mut()) {
            if let Some((ts, data)) = conv.get(n) {
                tap.packet(ring, &as_frame(*ts, data));
            }
        }
        h.writer.flush().unwrap();
    }
    for ring in &mut rings {
        tap.flow_ended(ring);
    }
    h.writer.flush().unwrap();
    let files = written(&h.events);
    assert_eq!(files.len(), 3);
    let stats = h.writer.counters().snapshot();
    assert!(stats.handles_evicted > 0);
    for (file, conv) in files.iter().zip(&convs) {
        assert_eq!(file.packets, conv.len() as u64);
        assert_eq!(hash_file(&h.root.join(&file.path)).unwrap().0, file.sha256);
        if tshark_available() {
            let lens = tshark_fields(&h.root.join(&file.path), &["frame.len"]);
            assert_eq!(lens.len(), conv.len());
        }
    }
    h.writer.shutdown();
}

#[test]
fn crash_leaves_only_temporary_files_which_the_next_start_removes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("evidence");
    // A "crashed" writer: the flow was open, so only its .tmp exists (with a torn tail).
    let day = root.join("2026-03-02/lab3");
    fs::create_dir_all(&day).unwrap();
    fs::write(day.join("1-5.pcapng.tmp"), b"\x0a\x0d\x0d\x0a\x1c\x00").unwrap();
    fs::write(day.join("1-6.pcapng.tmp"), b"").unwrap();
    fs::write(day.join("1-4.pcapng"), b"finished earlier").unwrap();
    let (tx, _events) = mpsc::channel();
    let writer = EvidenceWriter::start(
        WriterConfig {
            root: root.clone(),
            limits: Limits::default(),
            run_id: 2,
            snaplen: 0,
        },
        Box::new(move |e| {
            let _ = tx.send(e);
        }),
    )
    .unwrap();
    assert_eq!(writer.counters().snapshot().tmp_cleaned, 2);
    assert_eq!(tree(&root), ["2026-03-02/lab3/1-4.pcapng"]);
    writer.shutdown();
}

#[test]
fn shutdown_finishes_files_whose_flows_never_ended() {
    let h = harness(Limits::default());
    let frames = conversation(40_002, 0);
    let mut tap = EvidenceTap::new(&Limits::default(), 1, Some(h.writer.sender()));
    let mut ring = FlowRing::new();
    for (ts, data) in &frames {
        tap.packet(&mut ring, &as_frame(*ts, data));
    }
    tap.matched(&mut ring, &info(3), None);
    let root = h.root.clone();
    let stats = h.writer.shutdown();
    assert_eq!(stats.files_written, 1);
    let files = written(&h.events);
    assert_eq!(files[0].packets, frames.len() as u64);
    assert_eq!(tree(&root), ["2026-03-02/lab3-reader/7-3.pcapng"]);
}

#[test]
fn name_collision_gets_a_suffix() {
    let h = harness(Limits::default());
    let final_path = h.root.join("2026-03-02/lab3-reader/7-4.pcapng");
    fs::create_dir_all(final_path.parent().unwrap()).unwrap();
    fs::write(&final_path, b"older file").unwrap();
    let mut tap = EvidenceTap::new(&Limits::default(), 1, Some(h.writer.sender()));
    let mut ring = FlowRing::new();
    let frames = conversation(40_003, 0);
    tap.packet(&mut ring, &as_frame(frames[0].0, &frames[0].1));
    tap.matched(&mut ring, &info(4), None);
    tap.flow_ended(&mut ring);
    h.writer.flush().unwrap();
    let files = written(&h.events);
    assert_eq!(files[0].path, "2026-03-02/lab3-reader/7-4-2.pcapng");
    assert_eq!(fs::read(&final_path).unwrap(), b"older file");
    assert_eq!(h.writer.counters().snapshot().name_collisions, 1);
    h.writer.shutdown();
}

#[test]
fn retention_spares_capped_flows_until_they_end() {
    let limits = Limits {
        ring_bytes: 4096,
        max_flow_bytes: 4096,
        flush_bytes: 1024,
        retention_max_bytes: 1,
        retention_days: 0,
        ..Limits::default()
    };
    let h = harness(limits.clone());
    let mut tap = EvidenceTap::new(&limits, 1, Some(h.writer.sender()));
    let frames = conversation(40_004, 6000);
    let mut ring = FlowRing::new();
    tap.packet(&mut ring, &as_frame(frames[0].0, &frames[0].1));
    tap.matched(&mut ring, &info(5), None);
    for (ts, data) in &frames[1..] {
        tap.packet(&mut ring, &as_frame(*ts, data));
    }
    assert_eq!(ring.state(), RingState::Capped);
    h.writer.flush().unwrap();
    let files = written(&h.events);
    assert_eq!(files[0].reason, CloseReason::Capped);
    assert!(files[0].bytes > 1);
    // Over the size limit, but the flow is still open: kept and counted.
    h.writer.run_retention().unwrap();
    h.writer.flush().unwrap();
    assert!(h.root.join(&files[0].path).exists());
    assert_eq!(h.writer.counters().snapshot().retention_kept_open, 1);
    // Once the flow ends, the next pass removes it and reports it.
    tap.flow_ended(&mut ring);
    h.writer.run_retention().unwrap();
    h.writer.flush().unwrap();
    assert!(!h.root.join(&files[0].path).exists());
    let deleted: Vec<DeletedFile> = h
        .events
        .try_iter()
        .filter_map(|e| match e {
            EvidenceEvent::Deleted(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].path, files[0].path);
    assert_eq!(deleted[0].reason, DeleteReason::Size);
    h.writer.shutdown();
}
