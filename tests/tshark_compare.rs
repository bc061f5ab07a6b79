//! leaktap against tshark over every public sample capture in `../shared/data/pcaps/`:
//! no panic, hang or crash on any file, and the sets of HTTP host+path, DNS query names,
//! TLS SNI and QUIC SNI leaktap reports contain at least 97 % of what tshark extracts
//! (compared as sets per file, summed over files).
//!
//! Skips with a printed reason when the captures or tshark are absent.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REQUIRED_RATIO: f64 = 0.97;
/// A file that takes longer than this is a hang.
const PER_FILE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default, Clone)]
struct Sets {
    http: BTreeSet<String>,
    dns: BTreeSet<String>,
    tls: BTreeSet<String>,
    quic: BTreeSet<String>,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pcaps")
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            captures(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng" | "cap" | "pcap0")
        ) {
            out.push(path);
        }
    }
}

fn path_of(uri: &str) -> &str {
    uri.split('?').next().unwrap_or(uri)
}

/// The comparison key of a request: host and path. Where no Host header was sent the host
/// comes from an absolute-form (`http://h/p`) or authority-form (`h:443`, CONNECT) target,
/// the same way on both sides.
fn http_key(host: &str, uri: &str) -> String {
    let host = if host.is_empty() {
        if let Some(rest) = uri
            .strip_prefix("http://")
            .or_else(|| uri.strip_prefix("https://"))
        {
            rest.split('/').next().unwrap_or("").to_string()
        } else if !uri.starts_with('/') && uri.contains(':') {
            uri.to_string()
        } else {
            String::new()
        }
    } else {
        host.to_string()
    };
    format!("{} {}", host.to_ascii_lowercase(), path_of(uri))
}

fn norm_name(name: &str) -> String {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name == "<Root>" {
        ".".to_string()
    } else {
        name.to_ascii_lowercase()
    }
}

/// Runs a command with a deadline; returns (exit code or None if killed/signalled, stdout).
fn run_with_deadline(mut cmd: Command) -> (Option<i32>, String, String, bool) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out_thread =
        std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err_thread =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > PER_FILE_TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = out_thread.join().unwrap_or_default();
    let err = err_thread.join().unwrap_or_default();
    (status.code(), out, err, timed_out)
}

fn leaktap_sets(file: &Path) -> Result<Sets, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leaktap"));
    cmd.args([
        "analyze",
        "--format",
        "jsonl",
        "--events",
        "http,dns,tls,quic",
        "--no-progress",
    ])
    .arg(file);
    let (code, out, err, timed_out) = run_with_deadline(cmd);
    if timed_out {
        return Err(format!("hang: no result within {PER_FILE_TIMEOUT:?}"));
    }
    match code {
        Some(0) | Some(2) => {}
        Some(c) => {
            return Err(format!(
                "exit status {c}: {}",
                err.lines().last().unwrap_or("")
            ))
        }
        None => {
            return Err(format!(
                "killed by a signal (crash): {}",
                err.lines().last().unwrap_or("")
            ))
        }
    }
    if err.contains("panicked") {
        return Err(format!("panic: {err}"));
    }
    let mut sets = Sets::default();
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("bad JSON line: {e}"))?;
        match v["event_type"].as_str() {
            Some("http") => {
                let host = v["http"]["host"]
                    .as_str()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let uri = v["http"]["uri"].as_str().unwrap_or("");
                sets.http.insert(format!("{host} {}", path_of(uri)));
            }
            Some("dns") => {
                sets.dns
                    .insert(norm_name(v["dns"]["query"].as_str().unwrap_or("")));
            }
            Some("tls") => {
                if let Some(sni) = v["tls"]["sni"].as_str() {
                    sets.tls.insert(sni.to_ascii_lowercase());
                }
            }
            Some("quic") => {
                if let Some(sni) = v["quic"]["sni"].as_str() {
                    sets.quic.insert(sni.to_ascii_lowercase());
                }
            }
            _ => {}
        }
    }
    Ok(sets)
}

fn tshark_sets(file: &Path) -> Sets {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args([
        "-n",
        "-Y",
        "(http.request or dns or tls.handshake.type == 1) and not icmp and not icmpv6",
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "aggregator=\u{1f}",
        "-e",
        "frame.protocols",
        "-e",
        "http.host",
        "-e",
        "http.request.uri",
        "-e",
        "dns.qry.name",
        "-e",
        "tls.handshake.extensions_server_name",
    ]);
    let (_, out, _, _) = run_with_deadline(cmd);
    let mut sets = Sets::default();
    for line in out.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let field = |i: usize| cols.get(i).copied().unwrap_or("");
        let protocols = field(0);
        let hosts: Vec<&str> = field(1).split('\u{1f}').collect();
        let uris: Vec<&str> = field(2).split('\u{1f}').filter(|s| !s.is_empty()).collect();
        for (i, uri) in uris.iter().enumerate() {
            let host = hosts.get(i).copied().unwrap_or("");
            sets.http.insert(http_key(host, uri));
        }
        if protocols
            .split(':')
            .any(|p| p == "dns" || p == "mdns" || p == "llmnr")
        {
            // tshark writes "<Root>" for the root and "<name too long>"-style placeholders
            // for names it could not decode; those are not names.
            for name in field(3)
                .split('\u{1f}')
                .filter(|s| !s.is_empty() && (!s.starts_with('<') || *s == "<Root>"))
            {
                sets.dns.insert(norm_name(name));
            }
        }
        let is_quic = protocols.split(':').any(|p| p == "quic");
        for sni in field(4).split('\u{1f}').filter(|s| !s.is_empty()) {
            if is_quic {
                sets.quic.insert(sni.to_ascii_lowercase());
            } else {
                sets.tls.insert(sni.to_ascii_lowercase());
            }
        }
    }
    sets
}

#[derive(Default)]
struct Tally {
    theirs: usize,
    found: usize,
    misses: Vec<(String, Vec<String>)>,
}

impl Tally {
    fn add(&mut self, file: &str, ours: &BTreeSet<String>, theirs: &BTreeSet<String>) {
        self.theirs += theirs.len();
        let missing: Vec<String> = theirs.difference(ours).cloned().collect();
        self.found += theirs.len() - missing.len();
        if !missing.is_empty() {
            self.misses.push((file.to_string(), missing));
        }
    }

    fn ratio(&self) -> f64 {
        if self.theirs == 0 {
            1.0
        } else {
            self.found as f64 / self.theirs as f64
        }
    }
}

#[test]
fn agrees_with_tshark_on_public_captures() {
    let dir = data_dir();
    if !dir.is_dir() {
        println!(
            "SKIP: {} is absent; the public capture corpus is not on this machine",
            dir.display()
        );
        return;
    }
    if Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        println!("SKIP: tshark is not installed (scripts/setup.sh installs it)");
        return;
    }
    let mut files = Vec::new();
    captures(&dir, &mut files);
    assert!(
        files.len() > 600,
        "expected over 600 captures, found {}",
        files.len()
    );

    let results: Vec<(PathBuf, Result<Sets, String>, Sets)> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<PathBuf>> = (0..2)
            .map(|i| files.iter().skip(i).step_by(2).cloned().collect())
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|f| {
                            let ours = leaktap_sets(&f);
                            let theirs = tshark_sets(&f);
                            (f, ours, theirs)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    });

    let mut failures = Vec::new();
    let (mut http, mut dns, mut tls, mut quic) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    for (file, ours, theirs) in &results {
        let name = file
            .strip_prefix(&dir)
            .unwrap_or(file)
            .display()
            .to_string();
        match ours {
            Err(reason) => failures.push(format!("{name}: {reason}")),
            Ok(ours) => {
                http.add(&name, &ours.http, &theirs.http);
                dns.add(&name, &ours.dns, &theirs.dns);
                tls.add(&name, &ours.tls, &theirs.tls);
                quic.add(&name, &ours.quic, &theirs.quic);
            }
        }
    }
    println!("files: {}", results.len());
    for (label, t) in [
        ("HTTP host+path", &http),
        ("DNS query names", &dns),
        ("TLS SNI", &tls),
        ("QUIC SNI", &quic),
    ] {
        println!("{label:<16} {}/{} = {:.4}", t.found, t.theirs, t.ratio());
        for (file, missing) in t.misses.iter().take(15) {
            let shown: Vec<&String> = missing.iter().take(3).collect();
            println!("    missed in {file}: {} e.g. {shown:?}", missing.len());
        }
    }
    assert!(
        failures.is_empty(),
        "files that crashed, hung or failed:\n{}",
        failures.join("\n")
    );
    for (label, t) in [
        ("HTTP host+path", &http),
        ("DNS query names", &dns),
        ("TLS SNI", &tls),
        ("QUIC SNI", &quic),
    ] {
        assert!(
            t.ratio() >= REQUIRED_RATIO,
            "{label}: {:.4} < {REQUIRED_RATIO}",
            t.ratio()
        );
    }
}
