//! The detection step of a worker: PI in HTTP requests and raw streams → `pi_leak`
//! records, known SDK hosts in DNS, SNI and Host → `sdk_contact` records.
//!
//! Owns the worker's [`Detector`] with its scratch, the hit buffers, the per-flow raw-scan
//! window state, and the set that makes `sdk_contact` records unique per (session, SDK,
//! host, phase). Takes events with their flow; emits records through the worker's sink.
//! `sdk_contact` records are always emitted (not gated by `--events`).
//!
//! Limits: the raw window per flow and the contact set size (`detect.*` config keys), each
//! counted when hit. Must not: log or count PI values; allocate on the no-hit path beyond
//! the per-flow raw state created once per flow.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};

use super::{Ctx, FlowData};
use crate::capture::Timestamp;
use crate::detect::{self, Detector, PiHit, SignatureSet};
use crate::flow::Flow;
use crate::proto::http::Request;
use crate::record::{Body, EventType, HttpRef, PiLeakFields, Record, SdkContactFields, TlsRef};

/// Bytes of a raw stream kept from the previous chunk so that a value split across two
/// segments is still seen whole; longer than any identifier pattern except email.
pub const RAW_TAIL_BYTES: usize = 64;

/// Worker-owned detection state.
pub(super) struct DetectState {
    pub(super) detector: Detector,
    hits: Vec<PiHit>,
    raw_hits: Vec<PiHit>,
    raw_buf: Vec<u8>,
    /// Keyed hashes of (session, SDK, lower-case host, phase) already reported: checking
    /// a repeated contact allocates nothing. The hasher is randomly keyed, so a crafted
    /// host cannot collide on purpose; a chance collision (2⁻⁶⁴) only drops a duplicate.
    contacts: HashSet<u64>,
    contact_hasher: RandomState,
    max_contacts: usize,
}

/// Per-flow state of the raw client→server scan of an unparsed protocol.
#[derive(Debug)]
pub(super) struct RawState {
    tail: [u8; RAW_TAIL_BYTES],
    tail_len: usize,
    /// The tail was scanned (not only held while the protocol was undecided).
    tail_scanned: bool,
    scanned: usize,
    capped: bool,
}

/// How raw bytes reach [`DetectState::raw_bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RawMode {
    /// One datagram: scanned alone.
    Datagram,
    /// Stream bytes before the protocol is decided: only kept in the tail.
    Hold,
    /// Stream bytes of an unparsed protocol: scanned with the tail before them.
    Stream,
}

impl DetectState {
    pub(super) fn new(limits: detect::Limits) -> DetectState {
        DetectState {
            detector: Detector::new(limits),
            hits: Vec::new(),
            raw_hits: Vec::new(),
            raw_buf: Vec::new(),
            contacts: HashSet::new(),
            contact_hasher: RandomState::new(),
            max_contacts: limits.max_sdk_contacts,
        }
    }

    /// Scans one chunk (TCP) or datagram (UDP) of client→server bytes of a protocol
    /// leaktap does not parse, within the flow's raw window. Hits wait in `raw_hits`
    /// until [`Ctx::emit_raw_hits`].
    pub(super) fn raw_bytes(
        &mut self,
        set: &SignatureSet,
        state: &mut Option<Box<RawState>>,
        bytes: &[u8],
        window: usize,
        mode: RawMode,
    ) {
        let st = state.get_or_insert_with(|| {
            Box::new(RawState {
                tail: [0; RAW_TAIL_BYTES],
                tail_len: 0,
                tail_scanned: false,
                scanned: 0,
                capped: false,
            })
        });
        let room = window.saturating_sub(st.scanned);
        if room == 0 {
            if !st.capped {
                st.capped = true;
                self.detector.stats_mut().raw_window_cap += 1;
            }
            return;
        }
        let bytes = bytes.get(..room.min(bytes.len())).unwrap_or_default();
        st.scanned += bytes.len();
        let stream = mode != RawMode::Datagram;
        let tail = st.tail.get(..st.tail_len).unwrap_or_default();
        self.raw_buf.clear();
        if stream {
            self.raw_buf.extend_from_slice(tail);
        }
        self.raw_buf.extend_from_slice(bytes);
        if mode != RawMode::Hold {
            let first = self.raw_hits.len();
            self.detector
                .scan_raw(set, &self.raw_buf, &mut self.raw_hits);
            // A value wholly inside an already scanned tail was reported with the
            // previous chunk.
            if stream && st.tail_scanned && !tail.is_empty() {
                let mut i = first;
                while i < self.raw_hits.len() {
                    let seen = self.raw_hits.get(i).is_some_and(|h| {
                        detect::field::find_subslice(tail, h.value.as_bytes()).is_some()
                    });
                    if seen {
                        self.raw_hits.remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
        }
        if stream {
            let keep = self.raw_buf.len().min(RAW_TAIL_BYTES);
            let from = self.raw_buf.len() - keep;
            if let (Some(dst), Some(src)) = (st.tail.get_mut(..keep), self.raw_buf.get(from..)) {
                dst.copy_from_slice(src);
                st.tail_len = keep;
                st.tail_scanned = mode == RawMode::Stream;
            }
        }
    }
}

/// `host` without a port, for SDK lookup and records.
fn bare_host(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.contains(':') => {
            name
        }
        _ => host,
    }
}

impl Ctx {
    /// An `sdk_contact` record if `host` belongs to a known SDK and this (session, SDK,
    /// host, phase) was not reported yet.
    pub(super) fn sdk_contact(
        &mut self,
        flow: &Flow<FlowData>,
        host: &str,
        via: &'static str,
        ts: Timestamp,
        out: &mut dyn FnMut(Record),
    ) {
        let set = self.settings.signatures.clone();
        let host = bare_host(host).trim_end_matches('.');
        let Some(sdk_index) = set.sdk_index_for_host(host) else {
            return;
        };
        let (session, phase) = self.session_phase(flow, ts);
        let mut h = self.detect.contact_hasher.build_hasher();
        session.hash(&mut h);
        sdk_index.hash(&mut h);
        for b in host.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        phase.hash(&mut h);
        let key = h.finish();
        if self.detect.contacts.contains(&key) {
            return;
        }
        let common = self.common_with_host(flow, ts, Some(host.to_ascii_lowercase()));
        if self.detect.contacts.len() >= self.detect.max_contacts {
            self.detect.contacts.clear();
            self.detect.detector.stats_mut().contact_set_reset += 1;
        }
        self.detect.contacts.insert(key);
        self.stats.count_record(EventType::SdkContact);
        out(Record::new(
            ts,
            common,
            Body::SdkContact(SdkContactFields { via }),
        ));
    }

    /// Scans an HTTP request and emits its `pi_leak` record if it holds PI.
    pub(super) fn http_request(
        &mut self,
        flow: &Flow<FlowData>,
        request: &Request,
        ts: Timestamp,
        out: &mut dyn FnMut(Record),
    ) {
        if let Some(host) = &request.host {
            self.sdk_contact(flow, host, "http_host", ts, out);
        }
        let set = self.settings.signatures.clone();
        let mut hits = std::mem::take(&mut self.detect.hits);
        hits.clear();
        self.detect.detector.set_time(ts);
        self.detect.detector.scan_request(&set, request, &mut hits);
        if !hits.is_empty() {
            let http = HttpRef {
                method: request.method.clone(),
                url: detect::masked_url(request, &hits),
                user_agent: request.user_agent.as_deref().map(|ua| mask_in(ua, &hits)),
            };
            let host = request.host.as_deref().map(|h| bare_host(h).to_string());
            let common = self.common_with_host(flow, ts, host);
            // An HTTP request inside a TLS flow was decrypted with the lab's keys.
            let tls = (common.app_proto == crate::proto::AppProto::Tls).then(|| TlsRef {
                sni: flow.state_data.sni.clone(),
                version: flow
                    .state_data
                    .tls_version
                    .map(|v| crate::proto::tls::version_name(v).to_string()),
                decrypted: true,
            });
            self.emit_leak(common, Some(http), tls, &hits, &set, ts, out);
        }
        hits.clear();
        self.detect.hits = hits;
    }

    /// `uri` with its PI values masked (the `uri` of `http` records, alert-schema.md).
    pub(super) fn masked_uri(&mut self, uri: &str) -> String {
        let set = self.settings.signatures.clone();
        let mut hits = std::mem::take(&mut self.detect.hits);
        hits.clear();
        self.detect.detector.scan_target(&set, uri, &mut hits);
        let masked = if hits.is_empty() {
            uri.to_string()
        } else {
            detect::masked_target(uri, &hits)
        };
        hits.clear();
        self.detect.hits = hits;
        masked
    }

    /// Emits one `pi_leak` record for the raw hits collected during this packet.
    pub(super) fn emit_raw_hits(
        &mut self,
        flow: &Flow<FlowData>,
        ts: Timestamp,
        out: &mut dyn FnMut(Record),
    ) {
        if self.detect.raw_hits.is_empty() {
            return;
        }
        let hits = std::mem::take(&mut self.detect.raw_hits);
        let set = self.settings.signatures.clone();
        let common = self.common(flow, ts);
        self.emit_leak(common, None, None, &hits, &set, ts, out);
        let mut hits = hits;
        hits.clear();
        self.detect.raw_hits = hits;
    }

    fn emit_leak(
        &mut self,
        common: crate::record::Common,
        http: Option<HttpRef>,
        tls: Option<TlsRef>,
        hits: &[PiHit],
        set: &SignatureSet,
        ts: Timestamp,
        out: &mut dyn FnMut(Record),
    ) {
        let stats = self.detect.detector.stats_mut();
        for hit in hits {
            *stats.leaks_by_type.entry(hit.pi_type.clone()).or_insert(0) += 1;
        }
        let sdk_id = common.sdk.as_ref().map_or("-", |s| s.id.as_str());
        *stats.leaks_by_sdk.entry(sdk_id.to_string()).or_insert(0) += 1;
        let fields = PiLeakFields {
            http,
            tls,
            pi: hits.iter().map(|h| set.pi_item(h)).collect(),
            evidence: None,
        };
        self.stats.count_record(EventType::PiLeak);
        out(Record::new(ts, common, Body::PiLeak(fields)));
    }
}

/// `text` with every hit value in it masked.
fn mask_in(text: &str, hits: &[PiHit]) -> String {
    let mut s = text.to_string();
    for hit in hits {
        if !hit.value.is_empty() && s.contains(&hit.value) {
            s = s.replace(&hit.value, &crate::record::mask(&hit.value));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_ports() {
        assert_eq!(bare_host("a.example.com:8080"), "a.example.com");
        assert_eq!(bare_host("a.example.com"), "a.example.com");
        assert_eq!(bare_host("[2001:db8::1]:80"), "[2001:db8::1]:80");
        assert_eq!(bare_host("2001:db8::1"), "2001:db8::1");
    }

    #[test]
    fn masks_values_in_text() {
        let hit = PiHit {
            sig: 0,
            pi_type: "phone_number".into(),
            location: "header:User-Agent".into(),
            encoding: "plain".into(),
            value: "13912345678".into(),
            confidence: 0.9,
        };
        assert_eq!(
            mask_in("App/1.0 (13912345678)", &[hit]),
            "App/1.0 (139****5678)"
        );
    }
}
