//! The table view of `analyze`: rows kept until the end of the run and written in
//! sections — findings, then PI leaks and SDK contacts grouped by consent phase and
//! destination, then protocol records in emission order.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::record::{Body, Record};

/// Rows kept for the table. A person reads a few thousand; captures of hours give
/// millions of protocol records, which belong in `--format jsonl`. Beyond this,
/// protocol rows are counted, not kept (finding and leak rows are kept up to twice
/// this).
pub const DEFAULT_MAX_TABLE_ROWS: usize = 100_000;

/// Phases in timeline order, for grouping.
const PHASE_ORDER: [&str; 5] = [
    "before_consent",
    "after_consent",
    "after_denial",
    "after_withdrawal",
    "no_session",
];

/// Rows of the table, by section.
#[derive(Debug, Default)]
pub struct Sections {
    max_rows: usize,
    rows: usize,
    findings: Vec<String>,
    /// (phase order, phase, destination) → rows.
    leaks: BTreeMap<(usize, &'static str, String), Vec<String>>,
    events: Vec<String>,
    /// Rows not kept because of the limit.
    not_shown: u64,
}

impl Sections {
    pub fn new(max_rows: usize) -> Sections {
        Sections {
            max_rows,
            ..Sections::default()
        }
    }

    /// Keeps one record's row in its section.
    pub fn add(&mut self, record: &Record, row: String) {
        let important = matches!(
            record.body,
            Body::Finding(_) | Body::PiLeak(_) | Body::SdkContact(_)
        );
        let limit = if important {
            self.max_rows.saturating_mul(2)
        } else {
            self.max_rows
        };
        if self.rows >= limit {
            self.not_shown += 1;
            return;
        }
        self.rows += 1;
        let c = &record.common;
        match &record.body {
            Body::Finding(_) => self.findings.push(row),
            Body::PiLeak(_) | Body::SdkContact(_) => {
                let order = PHASE_ORDER
                    .iter()
                    .position(|p| *p == c.consent_phase)
                    .unwrap_or(PHASE_ORDER.len());
                let destination = match &c.host {
                    Some(h) if !h.is_empty() => h.clone(),
                    _ => c.flow.dst_ip.to_string(),
                };
                self.leaks
                    .entry((order, c.consent_phase, destination))
                    .or_default()
                    .push(row);
            }
            _ => self.events.push(row),
        }
    }

    /// Rows not kept.
    pub fn not_shown(&self) -> u64 {
        self.not_shown
    }

    /// Writes every non-empty section; `header` is the column header line.
    pub fn write<W: Write>(&self, out: &mut W, header: &str) -> io::Result<()> {
        if !self.findings.is_empty() {
            writeln!(out, "== 发现 findings ({}) ==", self.findings.len())?;
            writeln!(out, "{header}")?;
            for row in &self.findings {
                out.write_all(row.as_bytes())?;
            }
            writeln!(out)?;
        }
        if !self.leaks.is_empty() {
            writeln!(
                out,
                "== 个人信息与SDK连接（按同意阶段、目的地） PI leaks and SDK contacts by phase and destination =="
            )?;
            writeln!(out, "{header}")?;
            for ((_, phase, destination), rows) in &self.leaks {
                writeln!(out, "-- {phase} · {destination} ({}) --", rows.len())?;
                for row in rows {
                    out.write_all(row.as_bytes())?;
                }
            }
            writeln!(out)?;
        }
        if !self.events.is_empty() {
            writeln!(
                out,
                "== 协议记录 protocol records ({}) ==",
                self.events.len()
            )?;
            writeln!(out, "{header}")?;
            for row in &self.events {
                out.write_all(row.as_bytes())?;
            }
        }
        if self.not_shown > 0 {
            writeln!(
                out,
                "… 另有 {n} 行未显示 {n} more rows not shown (use --format jsonl)",
                n = self.not_shown
            )?;
        }
        Ok(())
    }
}
