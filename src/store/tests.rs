//! Store tests: migrations, the writer thread, the investigator path, startup
//! reconciliation after simulated crashes, log rotation and `verify`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::verify::{verify, Failure};
use super::*;
use crate::capture::Timestamp;
use crate::record::{
    self, AppProto, Body, Common, DnsFields, EvidenceRef, FindingFields, FlowTuple, PiItem,
    PiLeakFields, PiMethod, Record,
};

pub(crate) fn dns_record(i: u64) -> Record {
    let common = Common {
        session_id: Some("lab3".into()),
        device: None,
        app: None,
        flow_id: 100 + i,
        community_id: "1:abc".into(),
        flow: FlowTuple {
            src_ip: "192.0.2.1".parse().unwrap(),
            src_port: 5353,
            dst_ip: "192.0.2.53".parse().unwrap(),
            dst_port: 53,
            proto: "udp",
        },
        app_proto: AppProto::Dns,
        host: None,
        sdk: None,
        third_party: false,
        consent_phase: "no_session",
    };
    let dns = DnsFields {
        kind: "query",
        query: format!("host{i}.example"),
        rrtype: "A".into(),
        ..DnsFields::default()
    };
    Record::new(
        Timestamp::from_secs(1_772_442_040 + i as i64),
        common,
        Body::Dns { dns },
    )
}

fn pi_leak(evidence: Option<EvidenceRef>) -> PendingRecord {
    let mut record = dns_record(0);
    record.body = Body::PiLeak(PiLeakFields {
        http: None,
        tls: None,
        pi: vec![PiItem {
            pi_type: "phone_number".into(),
            category: "contact".into(),
            sensitive: false,
            location: "url.query:tel".into(),
            encoding: "plain".into(),
            method: PiMethod::KnownValue,
            value: record::mask("13812345678"),
            confidence: 1.0,
            distance_m: None,
        }],
        evidence,
    });
    record.event_type = record.body.event_type();
    PendingRecord {
        record,
        secrets: vec![Secret {
            item: 0,
            pi_type: "phone_number".into(),
            value: "13812345678".into(),
        }],
    }
}

fn limits() -> Limits {
    Limits {
        batch_max_ms: 20,
        log_fsync: false,
        ..Limits::default()
    }
}

fn write_records(dir: &Path, n: u64) -> StoreStats {
    let writer = StoreWriter::open(dir, &limits(), None).unwrap();
    let handle = writer.handle();
    for i in 0..n {
        handle
            .submit_blocking(PendingRecord::new(dns_record(i)))
            .unwrap();
    }
    writer.shutdown().unwrap()
}

fn log_lines(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join(LOG_FILE))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join(DB_FILE)).unwrap()
}

fn store_seqs(dir: &Path) -> Vec<u64> {
    let conn = raw(dir);
    let mut stmt = conn
        .prepare("SELECT seq FROM records ORDER BY seq")
        .unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).unwrap();
    rows.map(|r| r.unwrap() as u64).collect()
}

#[test]
fn migrations_apply_from_empty_and_reopen_keeps_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    assert_eq!(writer.run_id(), 1);
    assert!(writer.resume_report().is_clean());
    writer.shutdown().unwrap();
    let reader = StoreReader::open(dir.path()).unwrap();
    assert_eq!(reader.schema_version().unwrap(), schema::latest_version());
    drop(reader);
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    assert_eq!(writer.run_id(), 2);
    writer.shutdown().unwrap();
    let conn = raw(dir.path());
    let versions: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(versions, schema::MIGRATIONS.len() as i64);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(DB_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_store_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 1);
    raw(dir.path())
        .execute(
            "INSERT INTO schema_version (version, applied, description) VALUES (99, 'x', 'future')",
            [],
        )
        .unwrap();
    let err = StoreWriter::open(dir.path(), &limits(), None)
        .err()
        .unwrap();
    assert!(matches!(
        err,
        Error::SchemaTooNew {
            found: 99,
            supported: 1,
            ..
        }
    ));
    assert!(err
        .to_string()
        .contains("schema version 99 is newer than this leaktap supports (1)"));
    assert!(matches!(
        StoreReader::open(dir.path()).err().unwrap(),
        Error::SchemaTooNew { found: 99, .. }
    ));
    assert!(matches!(verify(dir.path()), Err(Failure::Setup(m)) if m.contains("newer")));
}

#[test]
fn writer_batches_seals_logs_and_stores_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    let l = Limits {
        batch_max_records: 10,
        batch_max_ms: 1000,
        ..limits()
    };
    let writer = StoreWriter::open(dir.path(), &l, None).unwrap();
    let handle = writer.handle();
    for i in 0..25 {
        handle.submit(PendingRecord::new(dns_record(i))).unwrap();
    }
    assert_eq!(handle.flush().unwrap(), 25);
    let stats = handle.stats();
    assert_eq!(stats.records_written, 25);
    // 10 + 10 + 5 (the flush ends the last batch early).
    assert_eq!(stats.batches, 3);
    assert_eq!(stats.queue_full, 0);
    let lines = log_lines(dir.path());
    assert_eq!(lines.len(), 25);
    let reader = StoreReader::open(dir.path()).unwrap();
    let stored = reader.records_after(0, None, 100).unwrap();
    assert_eq!(stored.len(), 25);
    let mut prev = record::GENESIS_HASH.to_string();
    for (i, ((seq, json), line)) in stored.iter().zip(&lines).enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(json, line);
        prev = record::verify_line(&prev, *seq, line).unwrap();
    }
    assert_eq!(
        reader.records_after(20, Some("lab3"), 100).unwrap().len(),
        5
    );
    assert_eq!(
        reader.records_after(0, Some("other"), 100).unwrap().len(),
        0
    );
    writer.shutdown().unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.records, 25);
    assert_eq!(report.log_records, 25);
    assert!(report
        .to_string()
        .starts_with("OK\nrecords: 25 (seq 1..25)"));
}

#[test]
fn a_full_queue_hands_the_record_back_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    // The hook holds the writer thread on the first record until released.
    let hook: SealHook = Box::new(move |record, _line, _out| {
        if record.seq == 1 {
            let _ = entered_tx.send(());
            let _ = release_rx.lock().unwrap().recv();
        }
    });
    let l = Limits {
        queue_depth: 4,
        batch_max_records: 1,
        ..limits()
    };
    let writer = StoreWriter::open(dir.path(), &l, Some(hook)).unwrap();
    let handle = writer.handle();
    handle.submit(PendingRecord::new(dns_record(0))).unwrap();
    entered_rx.recv().unwrap();
    let mut accepted = 1;
    let mut rejected = None;
    for i in 1..20 {
        match handle.submit(PendingRecord::new(dns_record(i))) {
            Ok(()) => accepted += 1,
            Err(Rejected(r)) => {
                rejected = Some(r);
                break;
            }
        }
    }
    assert_eq!(accepted, 5, "one in the writer's hands, four queued");
    let back = rejected.expect("the fifth queued record is refused");
    assert_eq!(back.record.common.flow_id, 105);
    assert_eq!(handle.stats().queue_full, 1);
    release_tx.send(()).unwrap();
    assert_eq!(handle.flush().unwrap(), 5);
    // Resubmitting what came back works once there is room.
    handle.submit(*back).unwrap();
    assert_eq!(handle.flush().unwrap(), 6);
    writer.shutdown().unwrap();
    assert_eq!(verify(dir.path()).unwrap().records, 6);
}

#[test]
fn secrets_stay_out_of_the_log_and_reads_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    let handle = writer.handle();
    handle.submit_blocking(pi_leak(None)).unwrap();
    handle.flush().unwrap();
    let log = fs::read_to_string(dir.path().join(LOG_FILE)).unwrap();
    assert!(log.contains("138****5678"));
    assert!(!log.contains("13812345678"));
    let reader = StoreReader::open(dir.path()).unwrap();
    assert!(!reader
        .record_line(1)
        .unwrap()
        .unwrap()
        .contains("13812345678"));
    let secrets = reader.secrets(1, "investigator:wang", &handle).unwrap();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].value, "13812345678");
    let audit = reader.audit_entries(10).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "investigator:wang");
    assert_eq!(audit[0].2, "read_secrets");
    assert_eq!(audit[0].3, "record:1");
    writer.shutdown().unwrap();
}

#[test]
fn seal_hook_adds_derived_records_to_the_chain_and_findings_table() {
    let dir = tempfile::tempdir().unwrap();
    let hook: SealHook = Box::new(|record, line, out| {
        assert!(line.contains(&record.hash));
        if record.event_type == record::EventType::PiLeak {
            let mut finding = dns_record(9);
            finding.body = Body::Finding(FindingFields {
                rule: "LT-PRECONSENT".into(),
                title: "同意前收集 / collected before consent".into(),
                severity: "high".into(),
                regulation: vec!["PIPL Art. 13".into()],
                refs: vec![record.seq],
                pi_type: Some("imei".into()),
                destination: Some("ulogs.umeng.com".into()),
                count: 1,
            });
            finding.event_type = finding.body.event_type();
            out.push(PendingRecord::new(finding));
        }
    });
    let writer = StoreWriter::open(dir.path(), &limits(), Some(hook)).unwrap();
    let handle = writer.handle();
    handle
        .submit_blocking(PendingRecord::new(dns_record(1)))
        .unwrap();
    handle.submit_blocking(pi_leak(None)).unwrap();
    handle
        .submit_blocking(PendingRecord::new(dns_record(2)))
        .unwrap();
    assert_eq!(handle.flush().unwrap(), 4);
    assert_eq!(handle.stats().hook_records, 1);
    let conn = raw(dir.path());
    let (seq, rule, refs): (i64, String, String) = conn
        .query_row("SELECT seq, rule, refs FROM findings", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (seq, rule.as_str(), refs.as_str()),
        (3, "LT-PRECONSENT", "[2]")
    );
    writer.shutdown().unwrap();
    assert_eq!(verify(dir.path()).unwrap().records, 4);
}

#[test]
fn sessions_flows_events_and_audit_rows_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    let handle = writer.handle();
    let session = SessionRow {
        session_id: "lab3".into(),
        device_name: "Pixel".into(),
        app_name: "Reader".into(),
        app_package: "com.example.reader".into(),
        started: Some(Timestamp::from_secs(1)),
        ended: None,
        json: "{}".into(),
    };
    handle.session(session.clone()).unwrap();
    handle
        .session(SessionRow {
            ended: Some(Timestamp::from_secs(9)),
            ..session
        })
        .unwrap();
    handle
        .event(EventRow {
            session_id: "lab3".into(),
            ts: Timestamp::from_secs(5),
            kind: "consent_granted".into(),
            source: "api",
        })
        .unwrap();
    assert!(handle.flow(FlowRow {
        flow_id: u64::MAX,
        community_id: "1:x".into(),
        session_id: Some("lab3".into()),
        src_ip: "192.0.2.1".parse().unwrap(),
        src_port: 1,
        dst_ip: "192.0.2.2".parse().unwrap(),
        dst_port: 443,
        proto: "tcp",
        app_proto: "tls".into(),
        host: Some("sdk.example".into()),
        first_ts: Timestamp::from_secs(2),
        last_ts: Timestamp::from_secs(3),
        packets: 10,
        bytes: 1000,
    }));
    handle.flush().unwrap();
    let conn = raw(dir.path());
    let ended: String = conn
        .query_row(
            "SELECT ended FROM sessions WHERE session_id = 'lab3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ended, "1970-01-01T00:00:09.000000Z");
    let kind: String = conn
        .query_row("SELECT kind FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kind, "consent_granted");
    let (run, flow): (i64, i64) = conn
        .query_row("SELECT run_id, flow_id FROM flows", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((run, from_sql_u64(flow)), (1, u64::MAX));
    writer.shutdown().unwrap();
}

#[test]
fn resume_reinserts_what_the_store_lost_behind_the_log() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 30);
    // A kill between the log append and the commit: the store lacks the tail.
    raw(dir.path())
        .execute("DELETE FROM records WHERE seq > 20", [])
        .unwrap();
    let failure = verify(dir.path()).unwrap_err();
    assert_eq!(
        failure,
        Failure::Record {
            seq: 21,
            file: LOG_FILE.into(),
            line: 21,
            reason: "is in the log but not in the store (the daemon stopped between the two; \
                     starting it re-inserts the record)"
                .into()
        }
    );
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    let report = writer.resume_report().clone();
    assert_eq!(report.log_last_seq, 30);
    assert_eq!(report.store_last_seq, 20);
    assert_eq!(report.reinserted, 10);
    assert_eq!(report.next_seq, 31);
    assert!(report
        .to_string()
        .contains("10 records re-inserted from the log"));
    let handle = writer.handle();
    handle
        .submit_blocking(PendingRecord::new(dns_record(30)))
        .unwrap();
    assert_eq!(handle.flush().unwrap(), 31);
    writer.shutdown().unwrap();
    assert_eq!(store_seqs(dir.path()), (1..=31).collect::<Vec<_>>());
    assert_eq!(verify(dir.path()).unwrap().records, 31);
    // The run row keeps what resume did.
    let resume: String = raw(dir.path())
        .query_row("SELECT resume FROM runs WHERE run_id = 2", [], |r| r.get(0))
        .unwrap();
    assert!(resume.contains("\"reinserted\":10"));
}

#[test]
fn resume_fills_holes_and_rebuilds_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 12);
    raw(dir.path())
        .execute("DELETE FROM records WHERE seq IN (3, 7)", [])
        .unwrap();
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    assert_eq!(writer.resume_report().gaps_filled, 2);
    writer.shutdown().unwrap();
    assert_eq!(store_seqs(dir.path()).len(), 12);
    // A lost database file: everything comes back from the log.
    for f in ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm"] {
        let _ = fs::remove_file(dir.path().join(f));
    }
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    assert_eq!(writer.resume_report().reinserted, 12);
    writer.shutdown().unwrap();
    assert_eq!(verify(dir.path()).unwrap().records, 12);
}

#[test]
fn torn_last_line_is_reported_set_aside_and_the_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 5);
    let sixth = {
        let mut chain = record::Chain::resume(5, {
            let lines = log_lines(dir.path());
            serde_json::from_str::<serde_json::Value>(&lines[4]).unwrap()["hash"]
                .as_str()
                .unwrap()
                .to_string()
        });
        chain.seal(&mut dns_record(5))
    };
    // kill -9 in the middle of writing record 6.
    let mut log = OpenOptions::new()
        .append(true)
        .open(dir.path().join(LOG_FILE))
        .unwrap();
    log.write_all(&sixth.as_bytes()[..40]).unwrap();
    drop(log);
    let failure = verify(dir.path()).unwrap_err();
    assert!(
        matches!(&failure, Failure::Record { seq: 6, line: 6, reason, .. } if reason.contains("incomplete last line")),
        "{failure}"
    );
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    let torn = writer.resume_report().torn_tail.clone().unwrap();
    assert_eq!(torn.bytes, 40);
    assert_eq!(fs::read(&torn.moved_to).unwrap(), &sixth.as_bytes()[..40]);
    assert_eq!(writer.resume_report().next_seq, 6);
    let handle = writer.handle();
    handle
        .submit_blocking(PendingRecord::new(dns_record(5)))
        .unwrap();
    assert_eq!(handle.flush().unwrap(), 6);
    writer.shutdown().unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.records, 6);
    assert_eq!(report.torn_files, 1);
    assert!(report
        .to_string()
        .contains("1 torn record line(s) were set aside"));
}

#[test]
fn a_store_ahead_of_the_log_repairs_the_log_when_it_links() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 10);
    // Power loss without log fsync: the log lost its last 3 lines, the WAL kept them.
    let lines = log_lines(dir.path());
    fs::write(dir.path().join(LOG_FILE), lines[..7].join("\n") + "\n").unwrap();
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    assert_eq!(writer.resume_report().appended_to_log, 3);
    assert_eq!(writer.resume_report().next_seq, 11);
    writer.shutdown().unwrap();
    assert_eq!(log_lines(dir.path()), lines);
    assert_eq!(verify(dir.path()).unwrap().records, 10);
}

#[test]
fn log_and_store_that_disagree_stop_startup() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 3);
    raw(dir.path())
        .execute("UPDATE records SET hash = 'x' WHERE seq = 3", [])
        .unwrap();
    let err = StoreWriter::open(dir.path(), &limits(), None)
        .err()
        .unwrap();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("record seq 3 has hash"));
}

#[test]
fn verify_names_a_flipped_byte_in_the_log_and_a_store_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 8);
    assert!(verify(dir.path()).is_ok());
    let path = dir.path().join(LOG_FILE);
    let original = fs::read(&path).unwrap();
    // Flip one byte inside record 4's query name.
    let lines = log_lines(dir.path());
    let offset: usize = lines[..3].iter().map(|l| l.len() + 1).sum::<usize>()
        + lines[3].find("host3.example").unwrap();
    let mut bytes = original.clone();
    bytes[offset] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let failure = verify(dir.path()).unwrap_err();
    assert_eq!(
        failure.to_string(),
        "record seq 4 (records.jsonl line 4): hash does not match the record's content"
    );
    // Restore the log, alter the store's copy instead.
    fs::write(&path, &original).unwrap();
    raw(dir.path())
        .execute(
            "UPDATE records SET json = replace(json, 'host6', 'hosX') WHERE seq = 7",
            [],
        )
        .unwrap();
    let failure = verify(dir.path()).unwrap_err();
    assert_eq!(
        failure.to_string(),
        "record seq 7 (records.jsonl line 7): differs between the store and the log"
    );
}

#[test]
fn rotated_segments_are_followed_and_deleted_ones_checked_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    let handle = writer.handle();
    for i in 0..5 {
        handle
            .submit_blocking(PendingRecord::new(dns_record(i)))
            .unwrap();
    }
    handle.flush().unwrap();
    fs::rename(
        dir.path().join(LOG_FILE),
        dir.path().join("records.jsonl.1"),
    )
    .unwrap();
    handle.reopen_log().unwrap();
    for i in 5..8 {
        handle
            .submit_blocking(PendingRecord::new(dns_record(i)))
            .unwrap();
    }
    handle.flush().unwrap();
    assert_eq!(handle.stats().log_reopens, 1);
    writer.shutdown().unwrap();
    assert_eq!(log_lines(dir.path()).len(), 3);
    let report = verify(dir.path()).unwrap();
    assert_eq!((report.records, report.log_files), (8, 2));
    // Rotate again with nothing written since: a restart finds the last record in .1.
    fs::rename(
        dir.path().join("records.jsonl.1"),
        dir.path().join("records.jsonl.2"),
    )
    .unwrap();
    fs::rename(
        dir.path().join(LOG_FILE),
        dir.path().join("records.jsonl.1"),
    )
    .unwrap();
    let writer = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    assert!(writer.resume_report().is_clean());
    assert_eq!(writer.resume_report().next_seq, 9);
    writer.shutdown().unwrap();
    // The oldest segment compressed away: its records are checked from the store.
    fs::rename(
        dir.path().join("records.jsonl.2"),
        dir.path().join("records.jsonl.2.gz"),
    )
    .unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.records, 8);
    assert_eq!(report.store_only_records, 5);
    assert_eq!(report.unread_segments, 1);
}

#[test]
fn verify_checks_evidence_files_against_the_store() {
    use crate::capture::Frame;
    use crate::evidence::{
        self as ev, EvidenceEvent, EvidenceTap, EvidenceWriter, FlowInfo, FlowRing, WriterConfig,
    };
    let dir = tempfile::tempdir().unwrap();
    let store = StoreWriter::open(dir.path(), &limits(), None).unwrap();
    let handle = store.handle();
    let written = Arc::new(Mutex::new(Vec::new()));
    let sink_written = Arc::clone(&written);
    let mut to_store = handle.evidence_sink();
    let writer = EvidenceWriter::start(
        WriterConfig {
            root: dir.path().join(EVIDENCE_DIR),
            limits: ev::Limits::default(),
            run_id: store.run_id(),
            snaplen: 65_535,
        },
        Box::new(move |event| {
            if let EvidenceEvent::Written(file) = &event {
                sink_written.lock().unwrap().push(file.clone());
            }
            to_store(event);
        }),
    )
    .unwrap();
    let mut tap = EvidenceTap::new(&ev::Limits::default(), 1, Some(writer.sender()));
    let frame_bytes = [0x45u8; 80];
    for flow_id in [1u64, 2] {
        let mut ring = FlowRing::new();
        let frame = Frame {
            ts: Timestamp::from_secs(1_772_442_040),
            link_type: 101,
            data: &frame_bytes,
            wire_len: 80,
        };
        tap.packet(&mut ring, &frame);
        tap.matched(
            &mut ring,
            &FlowInfo {
                flow_id,
                session_id: Some("lab3"),
                ts: frame.ts,
            },
            None,
        );
        tap.flow_ended(&mut ring);
    }
    writer.flush().unwrap();
    let files = written.lock().unwrap().clone();
    assert_eq!(files.len(), 2);
    handle
        .submit_blocking(pi_leak(Some(EvidenceRef {
            pcap: files[0].path.clone(),
            sha256: files[0].sha256.clone(),
        })))
        .unwrap();
    handle.flush().unwrap();
    writer.shutdown();
    store.shutdown().unwrap();

    let report = verify(dir.path()).unwrap();
    assert_eq!(report.evidence_files, 2);
    assert_eq!(
        report.evidence_bytes,
        files.iter().map(|f| f.bytes).sum::<u64>()
    );
    assert_eq!(report.evidence_refs, 1);
    let text = report.to_string();
    assert!(text.contains("evidence files: 2 ("), "{text}");

    // Flip one byte of the second file.
    let path = dir.path().join(EVIDENCE_DIR).join(&files[1].path);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0x80;
    fs::write(&path, &bytes).unwrap();
    let failure = verify(dir.path()).unwrap_err();
    assert!(
        matches!(&failure, Failure::Evidence { path, reason } if *path == files[1].path && reason.starts_with("SHA-256 is ")),
        "{failure}"
    );
    assert!(failure
        .to_string()
        .starts_with("evidence file evidence/2026-03-02/lab3/1-2.pcapng: SHA-256 is "));
    // A removed file is named too.
    fs::remove_file(&path).unwrap();
    let failure = verify(dir.path()).unwrap_err();
    assert!(failure.to_string().contains("missing"), "{failure}");
    // Unless retention removed it and said so.
    raw(dir.path())
        .execute(
            "UPDATE evidence SET deleted = 'now', delete_reason = 'age' WHERE path = ?1",
            [&files[1].path],
        )
        .unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!((report.evidence_files, report.evidence_removed), (1, 1));
}

#[test]
fn verify_on_a_missing_or_empty_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let failure = verify(&dir.path().join("nope")).unwrap_err();
    assert!(failure.to_string().contains("no such data directory"));
    let failure = verify(dir.path()).unwrap_err();
    assert!(failure.to_string().contains("no store here"), "{failure}");
    StoreWriter::open(dir.path(), &limits(), None)
        .unwrap()
        .shutdown()
        .unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.records, 0);
}

#[test]
fn limits_validate_with_key_names() {
    assert_eq!(Limits::default().validate(), Ok(()));
    let bad = Limits {
        batch_max_records: 0,
        ..Limits::default()
    };
    assert_eq!(bad.validate().unwrap_err().0, "store.batch_max_records");
}
