//! Real TLS clients against a real TLS server, decrypted by leaktap with the
//! client's key log.
//!
//! Each case creates two network namespaces joined by a veth pair
//! (10.200.x.0/24, inside the namespaces only), runs `openssl s_server -WWW`
//! in one and a client in the other with `SSLKEYLOGFILE` set, captures the
//! veth with tcpdump, then runs `leaktap analyze --keylog` on the capture and
//! asserts the request path, carrying a synthetic phone number, appears in
//! a decrypted `http` record. Cases: curl (OpenSSL) over TLS 1.3 with each
//! of the three suites and TLS 1.2 with AES-128-GCM, AES-256-GCM and
//! ChaCha20-Poly1305, HTTP/1.1; Python `requests` (urllib3) over TLS 1.3 and
//! 1.2. The namespaces are deleted even when a case fails.
//!
//! Needs root, `ip`, `openssl`, `curl`, `tcpdump` (and `python3` with
//! `requests` for its case); skips with the reason otherwise.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Synthetic mainland mobile number (valid format, not a real subscriber).
const PHONE: &str = "13812345678";

static NEXT: AtomicU32 = AtomicU32::new(0);

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Why the environment cannot run these tests, if it cannot.
fn skip_reason(extra: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("not root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    for tool in ["ip", "openssl", "curl", "tcpdump"].iter().chain(extra) {
        if !have(tool) {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Two namespaces and a veth pair; deleted (with the pair) on drop, and the
/// processes started in them are killed first.
struct Lab {
    server_ns: String,
    client_ns: String,
    server_ip: String,
    /// The client end of the veth pair, where tcpdump listens.
    client_dev: String,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Result<Lab, String> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{}", std::process::id() % 100_000, n);
        let server_ns = format!("lt-s{id}");
        let client_ns = format!("lt-c{id}");
        let (va, vb) = (format!("lta{id}"), format!("ltb{id}"));
        let subnet = 1 + n % 250;
        let lab = Lab {
            server_ns: server_ns.clone(),
            client_ns: client_ns.clone(),
            server_ip: format!("10.200.{subnet}.1"),
            client_dev: vb.clone(),
            children: Vec::new(),
            dir: tempfile::tempdir().map_err(|e| e.to_string())?,
        };
        // From here on, `lab` going out of scope deletes what exists.
        run(Command::new("ip").args(["netns", "add", &server_ns]))?;
        run(Command::new("ip").args(["netns", "add", &client_ns]))?;
        run(Command::new("ip").args([
            "link", "add", &va, "netns", &server_ns, "type", "veth", "peer", "name", &vb, "netns",
            &client_ns,
        ]))?;
        for (ns, dev, addr) in [
            (&server_ns, &va, format!("10.200.{subnet}.1/24")),
            (&client_ns, &vb, format!("10.200.{subnet}.2/24")),
        ] {
            run(Command::new("ip").args(["-n", ns, "addr", "add", &addr, "dev", dev]))?;
            run(Command::new("ip").args(["-n", ns, "link", "set", dev, "up"]))?;
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]))?;
        }
        Ok(lab)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `args` in namespace `ns`; its standard error goes to `log`.
    fn spawn_in(&mut self, ns: &str, args: &[&str], log: &str) -> Result<(), String> {
        let log = std::fs::File::create(self.path(log)).map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {args:?}: {e}"))?;
        self.children.push(child);
        Ok(())
    }

    /// Interrupts (SIGINT) the processes started, so tcpdump writes out
    /// its buffer, and waits for them.
    fn stop_children(&mut self) {
        for child in &mut self.children {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for child in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_children();
        for ns in [&self.server_ns, &self.client_ns] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn wait_for(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Capture files holding only the 24-byte pcap header: the capture missed
/// the connection (seen now and then right after a namespace is created).
const EMPTY_CAPTURE: &str = "capture holds no packets";

/// [`attempt`] up to three times while the capture comes out empty; a
/// leaktap failure is never retried.
fn case(
    name: &str,
    server_args: &[&str],
    client: &dyn Fn(&str, &Path) -> Vec<String>,
) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..3 {
        match attempt(name, server_args, client) {
            Err(e) if e.ends_with(EMPTY_CAPTURE) => last = e,
            other => return other,
        }
    }
    Err(last)
}

/// One client run: server with `server_args`, capture, `client` command
/// (run in the client namespace with SSLKEYLOGFILE), then leaktap.
fn attempt(
    name: &str,
    server_args: &[&str],
    client: &dyn Fn(&str, &Path) -> Vec<String>,
) -> Result<(), String> {
    let mut lab = Lab::new()?;
    let (cert, key) = (lab.path("cert.pem"), lab.path("key.pem"));
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=leaktap.test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null()))?;
    std::fs::write(lab.path("login"), "ok\n").map_err(|e| e.to_string())?;
    let cap = lab.path("capture.pcap");
    let keys = lab.path("keys.log");
    let client_ns = lab.client_ns.clone();
    let server_ns = lab.server_ns.clone();
    let cap_s = cap.display().to_string();
    let dev = lab.client_dev.clone();
    lab.spawn_in(
        &client_ns,
        &[
            "tcpdump", "-Z", "root", "-i", &dev, "-U", "-s", "0", "-w", &cap_s, "tcp", "port",
            "4433",
        ],
        "tcpdump.log",
    )?;
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let mut args = vec![
        "openssl", "s_server", "-quiet", "-accept", "4433", "-cert", &cert_s, "-key", &key_s,
        "-WWW",
    ];
    args.extend_from_slice(server_args);
    lab.spawn_in(&server_ns, &args, "server.log")?;
    // Wait until tcpdump listens and the server accepts.
    let tcpdump_log = lab.path("tcpdump.log");
    let started = wait_for(|| {
        std::fs::read_to_string(&tcpdump_log).is_ok_and(|t| t.contains("listening on"))
    });
    if !started {
        return Err(format!("{name}: tcpdump did not start"));
    }
    let listening = wait_for(|| {
        Command::new("ip")
            .args(["netns", "exec", &server_ns, "ss", "-ltn"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(":4433"))
    });
    if !listening {
        return Err(format!("{name}: s_server did not listen"));
    }
    // tcpdump writes its file header a moment before the first packets are
    // delivered to it; give it that moment.
    std::thread::sleep(Duration::from_millis(700));
    let url = format!(
        "https://{}:4433/login?tel={PHONE}&from=leaktap",
        lab.server_ip
    );
    let argv = client(&url, &keys);
    let out = Command::new("ip")
        .args(["netns", "exec", &client_ns, "env"])
        .arg(format!("SSLKEYLOGFILE={}", keys.display()))
        .args(&argv)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{name}: client failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // tcpdump drops what it has not read yet when interrupted: wait until
    // the file holds packets and stopped growing (the machine may be busy).
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut last = 0;
    let mut stable_since = Instant::now();
    while Instant::now() < deadline {
        let size = std::fs::metadata(&cap).map_or(0, |m| m.len());
        if size != last {
            last = size;
            stable_since = Instant::now();
        } else if size > 24 && stable_since.elapsed() > Duration::from_millis(500) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    lab.stop_children();
    if std::fs::metadata(&cap).map_or(0, |m| m.len()) <= 24 {
        return Err(format!("{name}: {EMPTY_CAPTURE}"));
    }
    let keylog = std::fs::read_to_string(&keys).unwrap_or_default();
    if keylog.is_empty() {
        return Err(format!("{name}: the client wrote no key log"));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_leaktap"))
        .args([
            "analyze",
            "--format",
            "jsonl",
            "--events",
            "http,tls",
            "--no-progress",
        ])
        .arg("--keylog")
        .arg(&keys)
        .arg(&cap)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut decrypted_tls = false;
    let mut found = None;
    let mut leak_decrypted = false;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        match v["event_type"].as_str() {
            Some("tls") => decrypted_tls |= v["tls"]["decrypted"].as_bool() == Some(true),
            Some("http") => {
                let uri = v["http"]["uri"].as_str().unwrap_or("");
                // Records mask the number (138****5678); the pi_leak check below names it.
                if uri.contains(&leaktap::record::mask(PHONE)) {
                    found = Some((uri.to_string(), v["tls"].is_null(), v["app_proto"].clone()));
                }
            }
            Some("pi_leak") => {
                let phone = v["pi"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["type"] == "phone_number");
                leak_decrypted |= phone && v["tls"]["decrypted"].as_bool() == Some(true);
            }
            _ => {}
        }
    }
    if !leak_decrypted {
        return Err(format!(
            "no pi_leak with the phone number inside decrypted TLS; leaktap said:\n{stdout}"
        ));
    }
    let Some((uri, _, app_proto)) = found else {
        return Err(format!(
            "{name}: no decrypted request with the phone number; leaktap said:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    };
    if !decrypted_tls {
        return Err(format!("{name}: tls record not marked decrypted"));
    }
    println!("{name}: decrypted {uri} (app_proto {app_proto})");
    Ok(())
}

fn curl(tls: &'static [&'static str]) -> impl Fn(&str, &Path) -> Vec<String> {
    move |url: &str, _keys: &Path| {
        let mut v: Vec<String> = [
            "curl",
            "-sS",
            "-k",
            "--http1.1",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(tls.iter().map(|s| s.to_string()));
        v.push(url.to_string());
        v
    }
}

#[test]
fn curl_tls12_and_tls13_are_decrypted() {
    if let Some(reason) = skip_reason(&[]) {
        println!("SKIP: {reason}");
        return;
    }
    let cases: [(&str, &[&str], &'static [&'static str]); 6] = [
        (
            "curl TLS 1.3 AES-128-GCM",
            &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
            &["--tlsv1.3", "--tls-max", "1.3"],
        ),
        (
            "curl TLS 1.3 AES-256-GCM",
            &["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"],
            &["--tlsv1.3", "--tls-max", "1.3"],
        ),
        (
            "curl TLS 1.3 CHACHA20-POLY1305",
            &["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            &["--tlsv1.3", "--tls-max", "1.3"],
        ),
        (
            "curl TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256",
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
            &["--tlsv1.2", "--tls-max", "1.2"],
        ),
        (
            "curl TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384",
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"],
            &["--tlsv1.2", "--tls-max", "1.2"],
        ),
        (
            "curl TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305",
            &["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"],
            &["--tlsv1.2", "--tls-max", "1.2"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, server, client) in cases {
        if let Err(e) = case(name, server, &curl(client)) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn python_requests_tls12_and_tls13_are_decrypted() {
    if let Some(reason) = skip_reason(&["python3"]) {
        println!("SKIP: {reason}");
        return;
    }
    let has_requests = Command::new("python3")
        .args(["-c", "import requests"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_requests {
        println!("SKIP: python3 has no `requests` module");
        return;
    }
    // urllib3 honours SSLKEYLOGFILE; the TLS version is pinned through an
    // ssl.SSLContext so both versions are exercised.
    let client = |max: &'static str| {
        move |url: &str, _keys: &Path| -> Vec<String> {
            let script = format!(
                "import ssl, sys, warnings, requests\n\
                 from requests.adapters import HTTPAdapter\n\
                 warnings.filterwarnings('ignore')\n\
                 class A(HTTPAdapter):\n\
                 \x20   def init_poolmanager(self, *a, **k):\n\
                 \x20       ctx = ssl.create_default_context()\n\
                 \x20       ctx.check_hostname = False\n\
                 \x20       ctx.verify_mode = ssl.CERT_NONE\n\
                 \x20       ctx.maximum_version = ssl.TLSVersion.{max}\n\
                 \x20       k['ssl_context'] = ctx\n\
                 \x20       return super().init_poolmanager(*a, **k)\n\
                 s = requests.Session()\n\
                 s.mount('https://', A())\n\
                 r = s.get(sys.argv[1], verify=False, timeout=10)\n"
            );
            vec!["python3".into(), "-c".into(), script, url.to_string()]
        }
    };
    let mut failures = Vec::new();
    for (name, server, max) in [
        ("python requests TLS 1.3", &["-tls1_3"][..], "TLSv1_3"),
        ("python requests TLS 1.2", &["-tls1_2"][..], "TLSv1_2"),
    ] {
        if let Err(e) = case(name, server, &client(max)) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
