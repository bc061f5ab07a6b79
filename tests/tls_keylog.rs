//! leaktap's TLS decryption against tshark over the public captures with key
//! logs in `../shared/data/pcaps/tls-keylog/` (pairs listed in `PAIRS.tsv`
//! there, see SOURCES.md).
//!
//! For every capture whose ServerHello (over TCP) picks a suite leaktap
//! decrypts (TLS 1.2 AES-GCM / ChaCha20-Poly1305, TLS 1.3 AES-GCM /
//! ChaCha20-Poly1305) and whose key log has that connection's client random,
//! leaktap must decrypt it, and the set of HTTP/1.x requests (host, URI) leaktap reports
//! must equal what `tshark -o tls.keylog_file:KEYS -Y http.request` shows;
//! requests only leaktap finds (tshark did not dissect that stream as HTTP)
//! are listed, not failed.
//! HTTP/2 requests are only counted (pending the HTTP/2 layer). The test
//! prints the ratio and every capture it did not decrypt with the reason.
//!
//! Skips with a printed reason when the captures or tshark are absent.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pcaps/tls-keylog")
}

/// Whether leaktap decrypts `suite` at `version`.
fn supported(version: u16, suite: u16) -> bool {
    match version {
        0x0304 => (0x1301..=0x1303).contains(&suite),
        0x0303 => supported_tls12(suite),
        _ => false,
    }
}

/// TLS 1.2 suites leaktap decrypts (mirrors `keylog::Suite::tls12`).
fn supported_tls12(code: u16) -> bool {
    matches!(
        code,
        0x009c..=0x00ad | 0xc02b..=0xc032 | 0xd001 | 0xd002 | 0xcca8..=0xccae
    )
}

/// What tshark says about one capture.
#[derive(Default, Debug)]
struct Truth {
    /// (version, suite) of each ServerHello over TCP.
    hellos: Vec<(u16, u16)>,
    /// Whether a connection with a suite leaktap decrypts has its client
    /// random in the key log (otherwise tshark cannot decrypt it either).
    keyed: bool,
    http1: BTreeSet<String>,
    http2_requests: usize,
}

fn parse_num(s: &str) -> Option<u16> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x") {
        u16::from_str_radix(hex, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn tshark(args: &[&str], cap: &Path, keys: &Path) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(cap)
        .arg("-n")
        .args(["-d", "tcp.port==9000,tls"])
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keys.display()))
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("run tshark");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn truth(cap: &Path, keys: &Path) -> Truth {
    let mut t = Truth::default();
    let client_hellos = tshark(
        &[
            "-Y",
            "tls.handshake.type == 1 && tcp",
            "-T",
            "fields",
            "-E",
            "aggregator=,",
            "-e",
            "tcp.stream",
            "-e",
            "tls.handshake.random",
        ],
        cap,
        keys,
    );
    let key_text = std::fs::read_to_string(keys)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut keyed_streams = BTreeSet::new();
    for line in client_hellos.lines() {
        let mut cols = line.split('\t');
        let (Some(stream), Some(random)) = (cols.next(), cols.next()) else {
            continue;
        };
        let random = random.split(',').next().unwrap_or("").to_ascii_lowercase();
        if random.len() == 64 && key_text.contains(&random) {
            keyed_streams.insert(stream.to_string());
        }
    }
    let hellos = tshark(
        &[
            "-Y",
            "tls.handshake.type == 2 && tcp",
            "-T",
            "fields",
            "-E",
            "aggregator=,",
            "-e",
            "tcp.stream",
            "-e",
            "tls.handshake.version",
            "-e",
            "tls.handshake.ciphersuite",
            "-e",
            "tls.handshake.extensions.supported_version",
        ],
        cap,
        keys,
    );
    for line in hellos.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let first = |i: usize| {
            cols.get(i)
                .and_then(|c| c.split(',').next())
                .and_then(parse_num)
        };
        let (legacy, suite, selected) = (first(1), first(2), first(3));
        if let (Some(v), Some(s)) = (selected.or(legacy), suite) {
            t.hellos.push((v, s));
            let stream = cols.first().copied().unwrap_or("");
            if supported(v, s) && keyed_streams.contains(stream) {
                t.keyed = true;
            }
        }
    }
    let http = tshark(
        &[
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-E",
            "aggregator=\u{1f}",
            "-e",
            "http.host",
            "-e",
            "http.request.uri",
        ],
        cap,
        keys,
    );
    for line in http.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let hosts: Vec<&str> = cols.first().unwrap_or(&"").split('\u{1f}').collect();
        let uris: Vec<&str> = cols
            .get(1)
            .unwrap_or(&"")
            .split('\u{1f}')
            .filter(|s| !s.is_empty())
            .collect();
        for (i, uri) in uris.iter().enumerate() {
            let host = hosts.get(i).copied().unwrap_or("").to_ascii_lowercase();
            t.http1.insert(format!("{host} {uri}"));
        }
    }
    let h2 = tshark(
        &[
            "-Y",
            "http2.headers.method",
            "-T",
            "fields",
            "-E",
            "aggregator=\u{1f}",
            "-e",
            "http2.headers.method",
        ],
        cap,
        keys,
    );
    t.http2_requests = h2
        .lines()
        .map(|l| l.split('\u{1f}').filter(|s| !s.is_empty()).count())
        .sum();
    t
}

/// What leaktap reports about one capture.
#[derive(Default, Debug)]
struct Ours {
    http1: BTreeSet<String>,
    tls_records: usize,
    decrypted_records: usize,
    /// `tls_opaque/<reason>` counters from the summary.
    reasons: Vec<String>,
}

fn leaktap(cap: &Path, keys: &Path) -> Ours {
    let out = Command::new(env!("CARGO_BIN_EXE_leaktap"))
        .args(["analyze", "--format", "jsonl", "--events", "http,tls"])
        .arg("--no-progress")
        .arg("--keylog")
        .arg(keys)
        .arg(cap)
        .output()
        .expect("run leaktap");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "{}: leaktap panicked: {stderr}",
        cap.display()
    );
    let mut ours = Ours::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON record");
        match v["event_type"].as_str() {
            Some("http") => {
                let host = v["http"]["host"]
                    .as_str()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let uri = v["http"]["uri"].as_str().unwrap_or("");
                ours.http1.insert(format!("{host} {uri}"));
            }
            Some("tls") => {
                ours.tls_records += 1;
                if v["tls"]["decrypted"].as_bool() == Some(true) {
                    ours.decrypted_records += 1;
                }
            }
            _ => {}
        }
    }
    for line in stderr.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("tls_opaque/") {
            ours.reasons
                .push(rest.split_whitespace().collect::<Vec<_>>().join(" x"));
        }
    }
    ours
}

#[test]
fn decrypted_http_matches_tshark_on_keylog_captures() {
    let dir = data_dir();
    let pairs_file = dir.join("PAIRS.tsv");
    let Ok(pairs_text) = std::fs::read_to_string(&pairs_file) else {
        println!(
            "SKIP: {} is absent; the key log captures are not on this machine",
            pairs_file.display()
        );
        return;
    };
    if Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        println!("SKIP: tshark is not installed (scripts/setup.sh installs it)");
        return;
    }
    let pairs: Vec<(String, String)> = pairs_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("capture\t"))
        .filter_map(|l| {
            let mut it = l.split('\t');
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect();
    assert!(
        pairs.len() > 150,
        "expected about 193 pairs, found {}",
        pairs.len()
    );

    let results: Vec<(String, Truth, Ours)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let chunk: Vec<(String, String)> =
                    pairs.iter().skip(i).step_by(2).cloned().collect();
                let dir = &dir;
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(cap, keys)| {
                            let (c, k) = (dir.join(&cap), dir.join(&keys));
                            (cap, truth(&c, &k), leaktap(&c, &k))
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

    let mut in_scope = 0;
    let mut decrypted = 0;
    let (mut theirs_total, mut matched) = (0, 0);
    let mut h2_pending = 0;
    let mut mismatches = Vec::new();
    // Requests leaktap finds where tshark does not dissect HTTP at all (an
    // HTTP request line on a port tshark does not treat as HTTP).
    let mut extras = Vec::new();
    let mut not_decrypted = Vec::new();
    for (cap, truth, ours) in &results {
        let suite_ok = truth.hellos.iter().any(|&(v, s)| supported(v, s));
        let in_scope_capture = suite_ok && truth.keyed;
        let ours_decrypted = ours.decrypted_records > 0;
        if !ours_decrypted {
            let why = if truth.hellos.is_empty() {
                "no TLS-over-TCP ServerHello (DTLS, QUIC or handshake failure)".to_string()
            } else if !suite_ok {
                let suites: Vec<String> = truth
                    .hellos
                    .iter()
                    .map(|(v, s)| format!("{v:#06x}/{s:#06x}"))
                    .collect();
                format!("unsupported_cipher_suite or version {}", suites.join(","))
            } else if !truth.keyed {
                format!(
                    "the key log has no line for its client random (tshark cannot decrypt it either); leaktap: {:?}",
                    ours.reasons
                )
            } else {
                format!("{:?}", ours.reasons)
            };
            not_decrypted.push(format!("{cap}: {why}"));
        }
        if !in_scope_capture {
            continue;
        }
        in_scope += 1;
        if ours_decrypted {
            decrypted += 1;
        }
        h2_pending += truth.http2_requests;
        theirs_total += truth.http1.len();
        matched += truth.http1.intersection(&ours.http1).count();
        let missed: Vec<&String> = truth.http1.difference(&ours.http1).collect();
        let extra: Vec<&String> = ours.http1.difference(&truth.http1).collect();
        if !missed.is_empty() {
            mismatches.push(format!(
                "{cap}: tshark-only {missed:?}, leaktap-only {extra:?}"
            ));
        } else if !extra.is_empty() {
            extras.push(format!("{cap}: {extra:?}"));
        }
    }
    println!("key log captures: {}", results.len());
    println!(
        "in scope (suite leaktap decrypts): {in_scope}; decrypted by leaktap: {decrypted}/{in_scope}"
    );
    let ratio = if theirs_total == 0 {
        1.0
    } else {
        matched as f64 / theirs_total as f64
    };
    println!("HTTP/1.x requests (host, uri) matched: {matched}/{theirs_total} = {ratio:.4}");
    println!("HTTP/2 requests pending (no HTTP/2 layer yet): {h2_pending}");
    println!("requests only leaktap reports ({}):", extras.len());
    for line in &extras {
        println!("  {line}");
    }
    println!("captures not decrypted ({}):", not_decrypted.len());
    for line in &not_decrypted {
        println!("  {line}");
    }
    assert!(
        mismatches.is_empty(),
        "requests tshark decrypts that leaktap misses:\n{}",
        mismatches.join("\n")
    );
    assert_eq!(decrypted, in_scope, "every in-scope capture must decrypt");
}
