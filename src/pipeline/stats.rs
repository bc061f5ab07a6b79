//! Counters of one worker, gathered from every stage; the summary and (later) the
//! metrics registry read them.

use crate::capture::Timestamp;
use crate::decode;
use crate::flow::FlowStats;
use crate::proto::{NameStats, ProtoStats};
use crate::reassembly::StreamStats;
use crate::record::EventType;

/// Everything one worker counted.
#[derive(Clone, Debug, Default)]
pub struct PipelineStats {
    pub packets: u64,
    pub bytes: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    /// IP packets that are neither TCP nor UDP (ICMP, ESP, ...).
    pub non_tcp_udp: u64,
    pub decode: decode::Stats,
    pub flow: FlowStats,
    pub reassembly: StreamStats,
    pub reassembly_memory_bytes: u64,
    pub reassembly_memcap_hits: u64,
    pub proto: ProtoStats,
    pub names: NameStats,
    pub detect: crate::detect::DetectStats,
    /// Records emitted, indexed like [`EventType::ALL`].
    pub records: [u64; EventType::ALL.len()],
    /// TLS flows not decrypted, per destination.
    pub opaque: super::opaque::OpaqueStats,
}

impl PipelineStats {
    pub fn count_record(&mut self, event_type: EventType) {
        if let Some(i) = EventType::ALL.iter().position(|t| *t == event_type) {
            self.records[i] += 1;
        }
    }

    /// Every non-zero problem counter as (stage, kind, count), in a stable order.
    pub fn anomalies(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for kind in decode::AnomalyKind::ALL {
            out.push(("decode", kind.as_str(), self.decode.anomaly(kind)));
        }
        let f = &self.decode.fragments;
        for (kind, count) in [
            ("fragment_duplicate", f.duplicate),
            ("fragment_overlap", f.overlap),
            ("fragment_inconsistent", f.inconsistent),
            ("fragment_invalid", f.invalid),
            ("fragment_memcap", f.memcap),
            ("fragment_timeout", f.timed_out),
            ("fragment_too_large", f.too_large),
            ("fragment_too_many_datagrams", f.too_many_datagrams),
            ("fragment_too_many_fragments", f.too_many_fragments),
            ("fragment_truncated", f.truncated),
        ] {
            out.push(("defrag", kind, count));
        }
        out.push(("flow", "evicted", self.flow.evicted));
        for kind in crate::reassembly::AnomalyKind::ALL {
            out.push(("reassembly", kind.as_str(), self.reassembly.anomaly(kind)));
        }
        out.push(("reassembly", "gap", self.reassembly.gaps));
        out.push(("reassembly", "memcap_refused", self.reassembly_memcap_hits));
        for ((protocol, kind), count) in &self.proto.anomalies {
            out.push((protocol, kind, *count));
        }
        out.push(("dns_names", "table_full", self.names.full));
        for (kind, count) in self.detect.anomalies() {
            out.push(("detect", kind, count));
        }
        out.retain(|(_, _, count)| *count > 0);
        out
    }

    pub fn records_of(&self, event_type: EventType) -> u64 {
        EventType::ALL
            .iter()
            .position(|t| *t == event_type)
            .map_or(0, |i| self.records[i])
    }
}
