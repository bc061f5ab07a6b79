//! A real `kill -9` during a record burst, then a restart: the store opens, the chain
//! verifies, and every record the log held at the kill is in the store after resume.
//!
//! The burst runs in a child process (`leaktap debug-store-burst`), killed with SIGKILL
//! after a varying delay. Where exactly it dies (before, inside or after a log append or
//! a commit) is up to the scheduler; the deterministic versions of each case are unit
//! tests in `src/store/tests.rs`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use leaktap::store::{self, StoreReader, StoreWriter, LOG_FILE};

/// Complete lines of the log (a torn last line is left out).
fn complete_lines(dir: &Path) -> Vec<String> {
    let text = std::fs::read(dir.join(LOG_FILE)).unwrap_or_default();
    let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    String::from_utf8(text[..end].to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn kill_9_during_a_burst_then_restart() {
    let bin = env!("CARGO_BIN_EXE_leaktap");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut reinserted_total = 0;
    let mut torn_total = 0;
    for (round, delay_ms) in [150u64, 230, 310, 90, 400].into_iter().enumerate() {
        let mut child = Command::new(bin)
            .args(["debug-store-burst", "--data-dir"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        let start_seq: u64 = ready
            .trim()
            .strip_prefix("ready ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {ready:?}"));
        // Let the burst get going (a debug build takes a while per batch), then some more.
        let log = data.join(LOG_FILE);
        let going = |lines: u64| {
            std::fs::metadata(&log).map_or(0, |m| m.len()) > 0
                && complete_lines(data).len() as u64 >= lines
        };
        for _ in 0..200 {
            if going(start_seq) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        // Child::kill sends SIGKILL on Unix.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "round {round}: killed by SIGKILL");
        }
        let lines = complete_lines(data);
        let last_seq = lines.len() as u64;
        assert!(
            last_seq >= start_seq,
            "round {round}: the burst wrote records before the kill ({last_seq} < {start_seq})"
        );

        // Restart: the store opens and catches up with the log.
        let writer = StoreWriter::open(data, &store::Limits::default(), None).unwrap();
        let report = writer.resume_report().clone();
        eprintln!("round {round}: killed after {delay_ms} ms at seq {last_seq}: {report}");
        reinserted_total += report.reinserted;
        torn_total += u64::from(report.torn_tail.is_some());
        assert_eq!(report.log_last_seq, last_seq);
        assert_eq!(report.next_seq, last_seq + 1);
        writer.shutdown().unwrap();

        // Every record the log had at the kill is in the store, line for line.
        let reader = StoreReader::open(data).unwrap();
        assert_eq!(reader.record_count().unwrap(), last_seq);
        let mut after = 0;
        let mut n = 0;
        loop {
            let batch = reader.records_after(after, None, 5000).unwrap();
            if batch.is_empty() {
                break;
            }
            for (seq, json) in &batch {
                assert_eq!(
                    json,
                    &lines[(*seq - 1) as usize],
                    "round {round}: seq {seq}"
                );
                n += 1;
            }
            after = batch.last().unwrap().0;
        }
        assert_eq!(n, last_seq);
        drop(reader);

        // And `leaktap verify` agrees.
        let out = Command::new(bin)
            .args(["verify", "--data-dir"])
            .arg(data)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("OK\n"),
            "round {round}: verify said {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&format!("records: {last_seq} (seq 1..{last_seq})")));
    }
    eprintln!(
        "over 5 kills: {reinserted_total} records re-inserted from the log, {torn_total} torn lines set aside"
    );
}
