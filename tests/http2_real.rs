//! HTTP/2 cleartext (h2c, prior knowledge) from real clients, captured for real: `nghttpd`
//! serves on a loopback port, `curl`, `nghttp` and Python `httpx` send requests (with
//! cookies (one field, and crumbs), query strings, a gzip-encoded JSON body and concurrent
//! streams), `tcpdump` captures `lo`. Then:
//! - leaktap (`analyze`, the real pipeline) reports the same (method, authority, path)
//!   list as `tshark -d tcp.port==PORT,http2 -Y http2.type==1`;
//! - the HTTP/2 observer fed with each TCP stream's payload (from `tshark -z follow`)
//!   decodes the gzip body and joins cookie crumbs.
//!
//! Needs root (capturing on `lo`), nghttpd (Debian `nghttp2-server`), curl, tcpdump and
//! tshark; `nghttp` (`nghttp2-client`) and Python `httpx[http2]` are used when present. Skips
//! with a printed reason otherwise.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leaktap::flow::Direction;
use leaktap::proto::http::{BodyKind, Event};
use leaktap::proto::http2::{Http2Flow, Limits};

const BODY_JSON: &str = r#"{"imei":"490154203237518","phone":"+8613812345678","lat":39.9042}"#;

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn wait_for_port(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Kills a child we started, by its own id.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.stdin(Stdio::null()).output().expect("run command")
}

/// (method, authority, path) of every request HEADERS tshark decodes, sorted.
fn tshark_requests(pcap: &Path, port: u16) -> Vec<(String, String, String)> {
    let out = run(Command::new("tshark").arg("-r").arg(pcap).args([
        "-n",
        "-d",
        &format!("tcp.port=={port},http2"),
        "-Y",
        "http2.type==1",
        "-T",
        "fields",
        "-E",
        "aggregator=\u{1f}",
        "-e",
        "http2.headers.method",
        "-e",
        "http2.headers.authority",
        "-e",
        "http2.headers.path",
    ]));
    let mut got = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<Vec<&str>> = line
            .split('\t')
            .map(|c| c.split('\u{1f}').collect())
            .collect();
        let methods = cols.first().cloned().unwrap_or_default();
        for (i, m) in methods.iter().enumerate() {
            if m.is_empty() {
                continue;
            }
            let field = |c: usize| {
                cols.get(c)
                    .and_then(|v| v.get(i))
                    .copied()
                    .unwrap_or("")
                    .to_string()
            };
            got.push((m.to_string(), field(1), field(2)));
        }
    }
    got.sort();
    got
}

/// (method, host, uri) of every `http` record leaktap writes, sorted, and whether all are
/// marked `http2` with `app_proto` http2.
fn leaktap_requests(pcap: &Path) -> (Vec<(String, String, String)>, bool) {
    let out = run(Command::new(env!("CARGO_BIN_EXE_leaktap"))
        .args([
            "analyze",
            "--format",
            "jsonl",
            "--events",
            "http",
            "--no-progress",
        ])
        .arg(pcap));
    let mut got = Vec::new();
    let mut all_h2 = true;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["event_type"] != "http" {
            continue;
        }
        let h = &v["http"];
        all_h2 &= h["http2"] == true && v["app_proto"] == "http2";
        got.push((
            h["method"].as_str().unwrap_or("").to_string(),
            h["host"].as_str().unwrap_or("").to_string(),
            h["uri"].as_str().unwrap_or("").to_string(),
        ));
    }
    got.sort();
    (got, all_h2)
}

/// Client and server payload of TCP stream `index`, in order, from `tshark -z follow`.
fn follow(pcap: &Path, index: usize) -> Vec<(Direction, Vec<u8>)> {
    let out = run(Command::new("tshark").arg("-r").arg(pcap).args([
        "-q",
        "-z",
        &format!("follow,tcp,raw,{index}"),
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut steps = Vec::new();
    let mut in_body = false;
    for line in text.lines() {
        if line.starts_with("Node 1:") {
            in_body = true;
            continue;
        }
        if !in_body || line.starts_with("====") || line.trim().is_empty() {
            continue;
        }
        // Node 0 (the side that opened the connection) is not indented.
        let dir = if line.starts_with('\t') {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        let hex = line.trim();
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        steps.push((dir, bytes));
    }
    steps
}

fn tcp_stream_count(pcap: &Path) -> usize {
    let out =
        run(Command::new("tshark")
            .arg("-r")
            .arg(pcap)
            .args(["-T", "fields", "-e", "tcp.stream"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<usize>().ok())
        .max()
        .map_or(0, |m| m + 1)
}

#[test]
fn h2c_from_real_clients() {
    for (ok, why) in [
        (is_root(), "not root (tcpdump needs it on lo)"),
        (
            have("nghttpd"),
            "nghttpd absent (apt-get install nghttp2-server)",
        ),
        (have("curl"), "curl absent"),
        (have("tcpdump"), "tcpdump absent"),
        (have("tshark"), "tshark absent"),
    ] {
        if !ok {
            println!("skipped: {why}");
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let htdocs = dir.path().join("htdocs");
    std::fs::create_dir_all(htdocs.join("api")).unwrap();
    std::fs::write(htdocs.join("index.json"), "{\"ok\":true}\n").unwrap();
    std::fs::write(htdocs.join("api/collect"), "ok\n").unwrap();
    let body_gz = dir.path().join("body.gz");
    {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(BODY_JSON.as_bytes()).unwrap();
        std::fs::write(&body_gz, e.finish().unwrap()).unwrap();
    }
    let pcap = dir.path().join("h2c.pcap");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    let _server = Guard(
        Command::new("nghttpd")
            .args(["--no-tls", "-a", "127.0.0.1", "-d"])
            .arg(&htdocs)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nghttpd"),
    );
    assert!(wait_for_port(port), "nghttpd did not listen");
    let mut capture = Command::new("tcpdump")
        // Immediate mode: packets reach tcpdump at once, not in blocks retired by a timer,
        // so none is left behind when it is stopped.
        .args(["-i", "lo", "--immediate-mode", "-U", "-w"])
        .arg(&pcap)
        .arg(format!("tcp port {port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tcpdump");
    let pid = capture.id();
    let mut err = BufReader::new(capture.stderr.take().expect("stderr"));
    let mut line = String::new();
    let _ = err.read_line(&mut line); // "listening on lo, ..."
    assert!(line.contains("listening"), "tcpdump: {line}");
    // Keep reading so that tcpdump's closing statistics never meet a closed pipe.
    let drain = std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let capture = Guard(capture);

    // curl (nghttp2 encoder): GET with query and cookies; POST with a gzip JSON body.
    let curl = |args: &[&str]| {
        let out = run(Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--http2-prior-knowledge"])
            .args(args));
        assert!(out.status.success(), "curl {args:?}");
    };
    curl(&[
        "-A",
        "leaktap-test/1",
        "-H",
        "Cookie: sid=abc123; theme=dark",
        &format!("{base}/index.json?uid=42"),
    ]);
    curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", body_gz.display()),
        "-H",
        "Content-Encoding: gzip",
        "-H",
        "Content-Type: application/json",
        &format!("{base}/api/collect"),
    ]);
    // nghttp: several concurrent streams on one connection.
    let mut expected_extra = 0;
    if have("nghttp") {
        let out = run(Command::new("nghttp").args([
            "-n",
            "-H",
            "x-device-id: 8675309",
            &format!("{base}/index.json?n=1"),
            &format!("{base}/index.json?n=2"),
            &format!("{base}/api/collect?n=3"),
        ]));
        assert!(out.status.success(), "nghttp");
        expected_extra += 3;
    } else {
        println!("nghttp absent: concurrent streams not exercised");
    }
    // Python httpx + h2 (another HPACK encoder, with Huffman strings), sending the cookie as
    // three separate fields (crumbs, RFC 9113 §8.2.3) as browsers do.
    let py = "import httpx,sys\n\
              c=httpx.Client(http1=False,http2=True)\n\
              k=[('cookie','sid=py1'),('cookie','uid=42'),('cookie','lang=zh')]\n\
              for p in ['/index.json?py=1','/api/collect?py=2']:\n\
              \x20   c.get(sys.argv[1]+p,headers=k)\n\
              c.close()\n";
    let httpx = Command::new("python3")
        .args(["-c", "import httpx, h2"])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if httpx {
        let out = run(Command::new("python3").args(["-c", py, &base]));
        assert!(
            out.status.success(),
            "httpx: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        expected_extra += 2;
    } else {
        println!("python httpx[http2] absent: its client not exercised");
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut capture = capture;
    while capture.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(capture);
    let _ = drain.join();

    if let Ok(keep) = std::env::var("LEAKTAP_KEEP_PCAP") {
        let _ = std::fs::copy(&pcap, keep);
    }
    let want = tshark_requests(&pcap, port);
    let (got, all_h2) = leaktap_requests(&pcap);
    println!("tshark {} requests, leaktap {}", want.len(), got.len());
    for r in &got {
        println!("  {} {} {}", r.0, r.1, r.2);
    }
    if want.len() != 2 + expected_extra {
        // Seen once under heavy load: a whole connection missing from the capture (tshark
        // and leaktap agree on what is there). The comparison below still holds.
        println!(
            "note: capture holds {} of {} requests sent",
            want.len(),
            2 + expected_extra
        );
    }
    assert!(want.len() >= 2, "the curl requests are captured");
    assert_eq!(got, want, "leaktap vs tshark (method, authority, path)");
    assert!(all_h2, "records say http2");

    // Bodies and cookies, from each TCP stream's payload.
    let mut requests = Vec::new();
    for index in 0..tcp_stream_count(&pcap) {
        let mut flow = Http2Flow::new(Limits::default());
        let mut events = Vec::new();
        for (d, bytes) in follow(&pcap, index) {
            flow.on_data(d, &bytes, &mut events);
        }
        flow.on_close(Direction::ToServer, &mut events);
        flow.on_close(Direction::ToClient, &mut events);
        assert_eq!(
            flow.stats().anomalies_total(),
            0,
            "stream {index}: {events:?}"
        );
        requests.extend(events.into_iter().filter_map(|e| match e {
            Event::Request(r) => Some(r),
            _ => None,
        }));
    }
    assert_eq!(requests.len(), want.len());
    let post = requests.iter().find(|r| r.method == "POST").expect("POST");
    assert_eq!(post.body, BODY_JSON.as_bytes());
    assert_eq!(post.body_kind, BodyKind::Json);
    let get = requests
        .iter()
        .find(|r| r.uri == "/index.json?uid=42")
        .expect("curl GET");
    assert_eq!(get.user_agent.as_deref(), Some("leaktap-test/1"));
    assert_eq!(get.header("cookie"), Some(&b"sid=abc123; theme=dark"[..]));
    if let Some(py) = requests.iter().find(|r| r.uri == "/index.json?py=1") {
        assert_eq!(py.header("cookie"), Some(&b"sid=py1; uid=42; lang=zh"[..]));
        assert_eq!(py.headers_named("cookie").count(), 1, "crumbs joined");
    }
}

/// The public h2c capture `arkime_http2-nghttp2.pcap` (nghttp client, nghttpx server): a
/// 16 KiB HEADERS frame plus CONTINUATION frames carrying one huge header, PRIORITY frames
/// for idle streams, and a server push. tshark 4.0 cannot reassemble that request head
/// ("BoundError Unreassembled Packet"); its response head says `content-length: 6616`.
#[test]
fn arkime_nghttp2_capture() {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/pcaps/http/arkime_http2-nghttp2.pcap");
    if !pcap.exists() {
        println!("skipped: {} absent", pcap.display());
        return;
    }
    let (got, all_h2) = leaktap_requests(&pcap);
    assert_eq!(
        got,
        vec![(
            "GET".to_string(),
            "nghttp2.org".to_string(),
            "/".to_string()
        )]
    );
    assert!(all_h2);
    if !have("tshark") {
        println!("tshark absent: stream-level check skipped");
        return;
    }
    let mut flow = Http2Flow::new(Limits::default());
    let mut events = Vec::new();
    for (d, bytes) in follow(&pcap, 0) {
        flow.on_data(d, &bytes, &mut events);
    }
    flow.on_close(Direction::ToServer, &mut events);
    flow.on_close(Direction::ToClient, &mut events);
    assert_eq!(flow.stats().anomalies_total(), 0, "{events:?}");
    let mut reqs = Vec::new();
    let mut txs = Vec::new();
    for e in events {
        match e {
            Event::Request(r) => reqs.push(r),
            Event::Transaction(t) => txs.push(t),
            _ => {}
        }
    }
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    // Six 4096-byte fields `continuation-test-1..6`, split over HEADERS + CONTINUATION.
    let big: Vec<_> = r
        .headers
        .iter()
        .filter(|h| h.name.starts_with("continuation-test-"))
        .map(|h| h.value.len())
        .collect();
    assert_eq!(big, vec![4096; 6]);
    assert!(!r.headers_truncated);
    assert_eq!(r.user_agent.as_deref(), Some("nghttp2/1.41.0"));
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].status, Some(200));
    assert_eq!(
        txs[0].response_body_len, 6616,
        "equals the content-length field"
    );
    assert_eq!(flow.stats().push_promises, 1);
}
