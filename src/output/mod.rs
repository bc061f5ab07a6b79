//! Where records go at the edge of an offline run: JSON Lines (sealed into the hash
//! chain) or a table for people, plus the end-of-run summary.
//!
//! **Order.** JSON Lines are written in emission order: the records of the pipeline as
//! they are produced (capture order), then — with `--findings` — every `finding` record,
//! after all others and sealed into the same chain (see `crate::finding`). The table is
//! written at the end, in sections: findings first, then `pi_leak` and `sdk_contact`
//! records grouped by consent phase and destination, then the protocol records in
//! emission order (at most [`table::DEFAULT_MAX_TABLE_ROWS`] rows are kept; the rest
//! are counted and the table says so).
//!
//! Takes: [`Record`]s in emission order and a [`Summary`]. Emits: text on a writer.
//! Must not: print personal data unmasked (records arrive masked).

use std::io::{self, Write};

use crate::record::{Body, Chain, Record};

mod summary;
pub mod table;

pub use summary::Summary;

/// Output format of `leaktap analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Table,
}

/// Seals records into the chain and writes them in the chosen format.
pub struct RecordWriter<W: Write> {
    out: W,
    format: Format,
    chain: Chain,
    written: u64,
    table: table::Sections,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(out: W, format: Format) -> Self {
        RecordWriter {
            out,
            format,
            chain: Chain::new(),
            written: 0,
            table: table::Sections::new(table::DEFAULT_MAX_TABLE_ROWS),
        }
    }

    pub fn write(&mut self, mut record: Record) -> io::Result<()> {
        self.write_ref(&mut record)
    }

    /// Seals `record` into the chain (setting `seq`, `prev_hash`, `hash`) and writes it
    /// (JSON Lines) or keeps its table row for [`RecordWriter::finish`].
    pub fn write_ref(&mut self, record: &mut Record) -> io::Result<()> {
        let line = self.chain.seal(record);
        self.written += 1;
        match self.format {
            Format::Jsonl => {
                self.out.write_all(line.as_bytes())?;
                self.out.write_all(b"\n")
            }
            Format::Table => {
                let mut row = Vec::with_capacity(160);
                write_table_row(&mut row, record)?;
                self.table
                    .add(record, String::from_utf8_lossy(&row).into_owned());
                Ok(())
            }
        }
    }

    /// Writes the table's sections (nothing for JSON Lines). Call once, after the last
    /// record.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.format == Format::Table {
            let header = format!(
                "{:<26} {:<11} {:<16} {:<45} {}",
                "时间 time (UTC+8)",
                "类型 type",
                "阶段 phase",
                "流 flow (device → peer)",
                "内容 detail"
            );
            self.table.write(&mut self.out, &header)?;
        }
        Ok(())
    }

    /// The chain so far (last hash, next seq).
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Beijing time (UTC+8) with milliseconds: what lab staff read on their wall clocks.
pub fn beijing_time(ts: crate::capture::Timestamp) -> String {
    let shifted = crate::capture::Timestamp::from_micros(
        ts.as_micros().saturating_add(8 * 3_600 * 1_000_000),
    );
    let s = shifted.to_rfc3339();
    // "2026-03-02T17:00:40.123456Z" -> "2026-03-02 17:00:40.123"
    let date = s.get(..10).unwrap_or("");
    let time = s.get(11..23).unwrap_or("");
    format!("{date} {time}")
}

fn write_table_row<W: Write>(out: &mut W, record: &Record) -> io::Result<()> {
    let c = &record.common;
    let flow = format!(
        "{} {}:{} → {}:{}",
        c.flow.proto, c.flow.src_ip, c.flow.src_port, c.flow.dst_ip, c.flow.dst_port
    );
    let detail = match &record.body {
        Body::Http { http } => format!(
            "{} {}{} → {}",
            http.method,
            http.host.as_deref().unwrap_or("-"),
            http.uri,
            http.status
                .map_or_else(|| "-".to_string(), |s| s.to_string())
        ),
        Body::Dns { dns } => {
            let answers: Vec<&str> = dns.answers.iter().map(|a| a.rdata.as_str()).collect();
            if answers.is_empty() {
                format!("{} {} {}", dns.kind, dns.rrtype, dns.query)
            } else {
                format!(
                    "{} {} {} = {}",
                    dns.kind,
                    dns.rrtype,
                    dns.query,
                    answers.join(",")
                )
            }
        }
        Body::Tls { tls } => format!(
            "sni={} {} alpn={} ja4={}",
            tls.sni.as_deref().unwrap_or("-"),
            tls.version.as_deref().unwrap_or("-"),
            tls.alpn.join(","),
            tls.ja4
        ),
        Body::Quic { quic } => format!(
            "sni={} {} alpn={}",
            quic.sni.as_deref().unwrap_or("-"),
            quic.version,
            quic.alpn.join(",")
        ),
        Body::PiLeak(leak) => {
            let items: Vec<String> = leak
                .pi
                .iter()
                .map(|p| format!("{}={} @{} [{}]", p.pi_type, p.value, p.location, p.encoding))
                .collect();
            format!(
                "{} {} {}",
                c.host.as_deref().unwrap_or("-"),
                c.sdk.as_ref().map_or("-", |s| s.name.as_str()),
                items.join("; ")
            )
        }
        Body::SdkContact(contact) => format!(
            "{} {} via {}",
            c.sdk.as_ref().map_or("-", |s| s.name.as_str()),
            c.host.as_deref().unwrap_or("-"),
            contact.via
        ),
        Body::Finding(finding) => {
            let shown: Vec<String> = finding.refs.iter().take(10).map(u64::to_string).collect();
            let more = finding.refs.len().saturating_sub(shown.len());
            format!(
                "{} [{}] {} · {} → {} · refs {}{} (count {})",
                finding.rule,
                finding.severity,
                finding.title,
                finding.pi_type.as_deref().unwrap_or("-"),
                finding.destination.as_deref().unwrap_or("*"),
                shown.join(","),
                if more > 0 {
                    format!(",… +{more}")
                } else {
                    String::new()
                },
                finding.count
            )
        }
        Body::Flow(f) => format!(
            "{} pkts {}/{} bytes {}/{} {}{}",
            f.state,
            f.pkts_toserver,
            f.pkts_toclient,
            f.bytes_toserver,
            f.bytes_toclient,
            f.reason,
            if f.anomalies.is_empty() {
                String::new()
            } else {
                format!(" anomalies={}", f.anomalies.join(","))
            }
        ),
    };
    writeln!(
        out,
        "{:<26} {:<11} {:<16} {:<45} {}",
        beijing_time(record.ts),
        record.event_type.as_str(),
        c.consent_phase,
        flow,
        detail
    )
}
