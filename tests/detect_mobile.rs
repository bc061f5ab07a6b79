//! The built-in signatures over the public mobile captures in
//! `../shared/data/pcaps/mobile/` (nDPI and Arkime test captures of phone apps): prints
//! every `sdk_contact` and `pi_leak` record found, one line each, and checks the PI items
//! against what reading the requests confirmed. Skips with a reason when the captures are
//! absent.
//!
//! Confirmed by reading the requests (tshark):
//! - `ndpi_1kxun.pcap`: the app (com.sceneway.kankan) and the Mintegral ad SDK send the
//!   emulator's ANDROID_ID in `_android_id=` / `android_id=` query parameters — 10 items
//!   in 10 requests to 6 hosts.
//! - `arkime_gtp-iphone.pcap`: a SIP REGISTER carries the phone's IMEI as
//!   `+sip.instance="<urn:gsma:imei:35442706-323347-9>"` (RFC 7254) — 1 item.
//!
//! False positives found here and fixed: an 11-digit Mintegral campaign id
//! (`cid=199…`, `display_cids=[199…]`) taken for a phone number (fixed by `not_keys` and by
//! judging percent-encoded values on their decoding); IMS identities
//! (`310410…@ims.mnc410.mcc310.3gppnetwork.org`, `263734@imstest.lan`) taken for email
//! addresses (fixed: SIP URIs, IMS realms and private top-level names are not mailboxes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leaktap::capture::{FileSource, Step};
use leaktap::detect::SignatureSet;
use leaktap::pipeline::{Settings, Worker};
use leaktap::proto::ResolvedNames;
use leaktap::session::SessionSet;
use serde_json::Value;

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
            Some("pcap" | "pcapng" | "cap")
        ) {
            out.push(path);
        }
    }
}

fn analyze(path: &Path, set: &Arc<SignatureSet>) -> Vec<Value> {
    let settings = Settings {
        signatures: Arc::clone(set),
        ..Settings::default()
    };
    let sessions = Arc::new(SessionSet::new(Vec::new()).expect("sessions"));
    let names = Arc::new(ResolvedNames::new(65_536, 3600));
    let mut worker = Worker::new(settings, sessions, names, 0);
    let mut records = Vec::new();
    let mut emit =
        |r: leaktap::record::Record| records.push(serde_json::to_value(&r).expect("json"));
    let mut source = FileSource::new(vec![path.to_path_buf()]);
    loop {
        match source.next_step() {
            Step::Frame(frame) => worker.process(&frame, &mut emit),
            Step::FileError(_) | Step::FileDone | Step::Switched => {}
            Step::Finished => break,
        }
    }
    worker.finish(&mut emit);
    records
}

#[test]
fn mobile_captures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pcaps/mobile");
    let mut files = Vec::new();
    captures(&dir, &mut files);
    if files.is_empty() {
        println!("skipped: no captures under {}", dir.display());
        return;
    }
    let set = Arc::new(SignatureSet::embedded().unwrap_or_else(|e| panic!("{e}")));
    let mut contacts = 0usize;
    let mut leaks = 0usize;
    let mut items: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_sdk: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        for r in analyze(file, &set) {
            let host = r["host"].as_str().unwrap_or("-");
            match r["event_type"].as_str() {
                Some("sdk_contact") => {
                    contacts += 1;
                    *by_sdk
                        .entry(r["sdk"]["id"].as_str().unwrap_or("-").to_string())
                        .or_insert(0) += 1;
                    println!(
                        "sdk_contact {name} via={} host={host} sdk={}",
                        r["via"], r["sdk"]["id"]
                    );
                }
                Some("pi_leak") => {
                    leaks += 1;
                    let url = r["http"]["url"].as_str().unwrap_or("-");
                    for pi in r["pi"].as_array().into_iter().flatten() {
                        let ty = pi["type"].as_str().unwrap_or_default();
                        *items.entry(ty.to_string()).or_insert(0) += 1;
                        println!(
                            "pi_leak {name} {}:{} host={host} sdk={} type={ty} where={} enc={} value={} conf={} url={url}",
                            r["flow"]["dst_ip"], r["flow"]["dst_port"], r["sdk"]["id"],
                            pi["where"], pi["encoding"], pi["value"], pi["confidence"]
                        );
                    }
                }
                _ => {}
            }
        }
    }
    println!(
        "{} files: {contacts} sdk_contact, {leaks} pi_leak, items {items:?}",
        files.len()
    );
    println!("sdk_contact by SDK: {by_sdk:?}");
    let want: BTreeMap<String, usize> = [("android_id".to_string(), 10), ("imei".to_string(), 1)]
        .into_iter()
        .collect();
    assert_eq!(items, want, "PI items differ from the reviewed set");
    assert_eq!(leaks, 11);
}
