//! leaktap: finds personal information (PI) leaving test phones in mirror-port traffic
//! and turns it into evidence for PIPL cases.
//!
//! The pipeline runs one way:
//!
//! ```text
//! capture → decode → flow → reassembly → proto → (detect) → record → output
//!                                           ↑
//!                                   session (which phone, which consent phase)
//! ```
//!
//! - [`capture`]: frames and their capture timestamps from pcap/pcapng files (libpcap).
//! - [`decode`]: borrowed views of link, tunnel, IP and TCP/UDP headers; IP defragmentation.
//! - [`flow`]: the bidirectional flow table, orientation, timeouts, Community ID.
//! - [`reassembly`]: per-direction TCP stream reassembly with gap and overlap policy.
//! - [`keylog`]: TLS key logs (SSLKEYLOGFILE) and TLS 1.2/1.3 record decryption.
//! - [`proto`]: protocol probing and the HTTP/1.x, HTTP/2, DNS, TLS and QUIC parsers.
//! - [`session`]: test sessions (device, app, consent timeline) and their files.
//! - [`detect`]: PI and SDK signatures, field extraction, multi-pattern matching, the
//!   per-worker detector and host → SDK attribution.
//! - [`pi`]: PI type ids, categories and identifier validators.
//! - [`record`]: the record schema, canonical JSON and the hash chain.
//! - [`finding`]: rules that turn a session's records into findings (findings.md).
//! - [`report`]: the investigator report (HTML and JSON) of one session.
//! - [`pipeline`]: one worker wiring the stages together.
//! - [`output`]: JSON Lines and table output, the run summary.
//! - [`evidence`]: per-flow packet rings and pcapng evidence files with their SHA-256.
//! - [`store`]: the record log, SQLite store, single writer thread and `verify`.
//! - [`config`]: the configuration file and its validated runtime form.
//! - [`synth`]: synthetic, checksum-correct traffic for tests, benchmarks and the demo.
//!
//! Below `capture`, time is always the packet timestamp, so replaying a file gives the
//! same records every time.

#![forbid(unsafe_code)]

pub mod capture;
pub mod config;
pub mod decode;
pub mod detect;
pub mod evidence;
pub mod finding;
pub mod flow;
pub mod keylog;
pub mod output;
pub mod pi;
pub mod pipeline;
pub mod proto;
pub mod reassembly;
pub mod record;
pub mod report;
pub mod session;
pub mod store;
pub mod synth;
