//! The end-of-run summary: what was read, what was found, and every anomaly by stage
//! and kind. Labels are bilingual (Chinese first) for lab staff.

use std::fmt;

use crate::finding::FindingEngine;
use crate::pipeline::PipelineStats;
use crate::record::EventType;

/// A printable summary of one `analyze` run.
#[derive(Clone, Debug)]
pub struct Summary {
    stats: PipelineStats,
    files: usize,
    file_errors: Vec<String>,
    findings: Option<FindingsSummary>,
}

/// What the findings engine did, for the summary.
#[derive(Clone, Debug, Default)]
struct FindingsSummary {
    total: usize,
    /// (severity, count) for high, medium, low.
    by_severity: Vec<(&'static str, usize)>,
    /// (rule id, count), rules with findings only, in findings.md order.
    by_rule: Vec<(&'static str, usize)>,
    /// (rule id, reason) of rules that did not run.
    off: Vec<(&'static str, &'static str)>,
    anomalies: Vec<(&'static str, u64)>,
}

impl Summary {
    pub fn new(stats: &PipelineStats, files: usize, file_errors: &[String]) -> Summary {
        Summary {
            stats: stats.clone(),
            files,
            file_errors: file_errors.to_vec(),
            findings: None,
        }
    }

    /// Adds the findings engine's results (counts by severity and rule, rules that did
    /// not run and why, limit counters).
    pub fn with_findings(mut self, engine: &FindingEngine) -> Summary {
        let findings = engine.findings();
        let by_severity = ["high", "medium", "low"]
            .into_iter()
            .map(|sev| {
                (
                    sev,
                    findings
                        .iter()
                        .filter(|f| f.severity.as_str() == sev)
                        .count(),
                )
            })
            .collect();
        let by_rule = crate::finding::RuleId::ALL
            .into_iter()
            .map(|r| (r.as_str(), findings.iter().filter(|f| f.rule == r).count()))
            .filter(|(_, n)| *n > 0)
            .collect();
        self.findings = Some(FindingsSummary {
            total: findings.len(),
            by_severity,
            by_rule,
            off: engine
                .rules_off()
                .iter()
                .map(|o| (o.rule.as_str(), o.reason_en))
                .collect(),
            anomalies: engine.stats().anomalies(),
        });
        self
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(f, "== 摘要 summary ==")?;
        writeln!(
            f,
            "文件 files:            {} ({} with problems)",
            self.files,
            self.file_errors.len()
        )?;
        writeln!(f, "数据包 packets:        {}", s.packets)?;
        writeln!(f, "字节 bytes:            {}", s.bytes)?;
        if let (Some(first), Some(last)) = (s.first_ts, s.last_ts) {
            writeln!(f, "时间 capture time:     {first} .. {last}")?;
        }
        writeln!(
            f,
            "流 flows:              {} (tcp {}, udp {}, mid-stream {}, timed out {}, evicted {})",
            s.flow.created,
            s.flow.created_tcp,
            s.flow.created_udp,
            s.flow.midstream,
            s.flow.timed_out,
            s.flow.evicted
        )?;
        writeln!(
            f,
            "协议 protocols:        http requests {}, tls client hellos {}, quic client hellos {}, dns messages {}",
            s.proto.http_requests, s.proto.tls_client_hellos, s.proto.quic_client_hellos, s.proto.dns_messages
        )?;
        if s.proto.flows_tls > 0 {
            let d = &s.proto.tls_decrypt;
            writeln!(
                f,
                "解密 decrypted:        {} tls flows ({} http/1, {} http/2 pending {} bytes, {} other), {} plaintext bytes",
                s.proto.tls_decrypted_flows,
                s.proto.tls_http1_flows,
                s.proto.tls_h2_flows,
                s.proto.tls_h2_bytes,
                s.proto.tls_other_flows,
                d.plaintext_bytes_to_server + d.plaintext_bytes_to_client
            )?;
            let o = &s.opaque;
            writeln!(
                f,
                "不透明 opaque:         {} flows, {} bytes",
                o.total.flows, o.total.bytes
            )?;
            for (name, c) in o.top(5) {
                writeln!(f, "  {name:<38} {} flows, {} bytes", c.flows, c.bytes)?;
            }
        }
        let records: Vec<String> = EventType::ALL
            .iter()
            .filter(|t| s.records_of(**t) > 0)
            .map(|t| format!("{} {}", t.as_str(), s.records_of(*t)))
            .collect();
        writeln!(
            f,
            "记录 records:          {}",
            if records.is_empty() {
                "none".to_string()
            } else {
                records.join(", ")
            }
        )?;
        let by_type: Vec<String> = s
            .detect
            .leaks_by_type
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if !by_type.is_empty() {
            writeln!(f, "泄露 PI by type:       {}", by_type.join(", "))?;
        }
        let by_sdk: Vec<String> = s
            .detect
            .leaks_by_sdk
            .iter()
            .map(|(k, v)| {
                let name = if k == "-" { "(no SDK)" } else { k.as_str() };
                format!("{name} {v}")
            })
            .collect();
        if !by_sdk.is_empty() {
            writeln!(f, "泄露 leaks by SDK:     {}", by_sdk.join(", "))?;
        }
        if let Some(fs) = &self.findings {
            let sev: Vec<String> = fs
                .by_severity
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect();
            writeln!(
                f,
                "发现 findings:         {} ({})",
                fs.total,
                sev.join(", ")
            )?;
            for (rule, n) in &fs.by_rule {
                writeln!(f, "  {rule:<40} {n}")?;
            }
            for (rule, reason) in &fs.off {
                writeln!(f, "未执行 rule off:       {rule}: {reason}")?;
            }
        }
        let mut anomalies = s.anomalies();
        if let Some(fs) = &self.findings {
            anomalies.extend(fs.anomalies.iter().map(|(k, n)| ("findings", *k, *n)));
        }
        if anomalies.is_empty() {
            writeln!(f, "异常 anomalies:        none")?;
        } else {
            writeln!(f, "异常 anomalies:")?;
            for (stage, kind, count) in anomalies {
                writeln!(f, "  {:<40} {count}", format!("{stage}/{kind}"))?;
            }
        }
        for err in &self.file_errors {
            writeln!(f, "文件问题 file problem:  {err}")?;
        }
        Ok(())
    }
}
