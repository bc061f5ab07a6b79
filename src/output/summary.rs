//! The end-of-run summary: what was read, what was found, and every anomaly by stage
//! and kind. Labels are bilingual (Chinese first) for lab staff.

use std::fmt;

use crate::pipeline::PipelineStats;
use crate::record::EventType;

/// A printable summary of one `analyze` run.
#[derive(Clone, Debug)]
pub struct Summary {
    stats: PipelineStats,
    files: usize,
    file_errors: Vec<String>,
}

impl Summary {
    pub fn new(stats: &PipelineStats, files: usize, file_errors: &[String]) -> Summary {
        Summary {
            stats: stats.clone(),
            files,
            file_errors: file_errors.to_vec(),
        }
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
        let anomalies = s.anomalies();
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
