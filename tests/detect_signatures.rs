//! Signature files: the repository's set loads; broken files fail with `file:line: reason`
//! from the library and from `leaktap signatures check` / `leaktap analyze --signatures`
//! (exit status 2); a good directory prints counts per kind.

mod detect_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use leaktap::detect::SignatureSet;

fn repo_signatures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures")
}

/// A copy of the repository's signatures plus the test SDK entries in a temp dir.
fn good_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("pi")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("sdks")).expect("mkdir");
    for entry in std::fs::read_dir(repo_signatures().join("pi"))
        .expect("pi")
        .flatten()
    {
        std::fs::copy(entry.path(), dir.path().join("pi").join(entry.file_name())).expect("copy");
    }
    for (stem, text) in detect_support::TEST_SDKS {
        std::fs::write(dir.path().join(format!("sdks/{stem}.toml")), text).expect("write");
    }
    dir
}

fn leaktap(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leaktap"))
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn repository_and_embedded_sets_load() {
    let from_dir = SignatureSet::load_dir(&repo_signatures()).unwrap_or_else(|e| panic!("{e}"));
    let embedded = SignatureSet::embedded().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_dir.counts().pi_types, embedded.counts().pi_types);
    assert_eq!(from_dir.counts().sdks, embedded.counts().sdks);
    assert!(embedded.counts().pi_types >= 21);
}

#[test]
fn check_prints_counts() {
    let dir = good_dir();
    let (code, out, err) = leaktap(&["signatures", "check", &dir.path().display().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("PI 类型 PI types:       21 (21 patterns, 9 files)"),
        "{out}"
    );
    assert!(out.contains("SDK:                   4 (3 files)"), "{out}");
    assert!(out.contains("SDK 域名 SDK domains:   5"), "{out}");
    assert!(out.contains("SDK 类别 categories:    3"), "{out}");
    assert!(out.trim_end().ends_with("OK"), "{out}");
    let (code, out, _) = leaktap(&["signatures", "check"]);
    assert_eq!(code, 0);
    assert!(out.contains("built-in"), "{out}");
}

#[test]
fn broken_files_fail_with_file_and_line() {
    let dir = good_dir();
    let pi = dir.path().join("pi/device.toml");
    let text = std::fs::read_to_string(&pi).expect("read");
    // A misspelt validator, an unknown key and a bad domain, in two files.
    let broken = text.replacen("validator = \"imei_tac\"", "validator = \"imei_tacc\"", 1);
    std::fs::write(&pi, &broken).expect("write");
    let validator_line = broken
        .lines()
        .position(|l| l.contains("imei_tacc"))
        .expect("line")
        + 1;
    let sdk = dir.path().join("sdks/ads.toml");
    let sdk_text = std::fs::read_to_string(&sdk).expect("read").replacen(
        "vendor = \"test\"",
        "vendor = \"test\"\nwebsite = \"x\"",
        1,
    );
    std::fs::write(&sdk, &sdk_text).expect("write");
    let website_line = sdk_text
        .lines()
        .position(|l| l.starts_with("website"))
        .expect("line")
        + 1;

    let errors = SignatureSet::load_dir(dir.path()).expect_err("must fail").0;
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let want_pi = format!(
        "{}:{validator_line}: unknown validator \"imei_tacc\"",
        pi.display()
    );
    let want_sdk = format!("{}:{website_line}: unknown field `website`", sdk.display());
    assert!(shown.iter().any(|e| e.starts_with(&want_pi)), "{shown:#?}");
    assert!(shown.iter().any(|e| e.starts_with(&want_sdk)), "{shown:#?}");

    let d = dir.path().display().to_string();
    let (code, out, err) = leaktap(&["signatures", "check", &d]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains(&want_pi) && err.contains(&want_sdk), "{err}");
    println!("{err}");

    let pcap = dir.path().join("empty.pcap");
    let no_frames: Vec<(i64, Vec<u8>)> = Vec::new();
    let bytes = leaktap::synth::pcap::pcap_bytes(leaktap::synth::pcap::LinkType(1), &no_frames)
        .expect("pcap");
    std::fs::write(&pcap, bytes).expect("write");
    let (code, _, err) = leaktap(&["analyze", "--signatures", &d, &pcap.display().to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains(&want_pi), "{err}");
}

#[test]
fn missing_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let errors = SignatureSet::load_dir(dir.path()).expect_err("must fail").0;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].reason.contains("no pi/ or sdks/"), "{errors:?}");
}
