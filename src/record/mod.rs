//! Records: the owned, serialisable facts leaktap reports (schema `leaktap/1`, see
//! `alert-schema.md`), the canonical JSON they are hashed in, and the hash chain that
//! links every record to the one before it.
//!
//! Takes: what the protocol layer and (later) detection found, with flow and session
//! context. Emits: [`Record`] values and their JSON. Must not: hold unmasked personal data
//! in a field the schema calls masked, or do I/O.

mod chain;

pub use chain::{hash_value, verify_line, Chain, GENESIS_HASH};

use std::net::IpAddr;

use serde::{Serialize, Serializer};

use crate::capture::Timestamp;
pub use crate::proto::AppProto;

/// Schema tag written in every record.
pub const SCHEMA: &str = "leaktap/1";

/// The kind of a record (`event_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Dns,
    Finding,
    Flow,
    Http,
    PiLeak,
    Quic,
    SdkContact,
    Tls,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::Dns,
        EventType::Finding,
        EventType::Flow,
        EventType::Http,
        EventType::PiLeak,
        EventType::Quic,
        EventType::SdkContact,
        EventType::Tls,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Dns => "dns",
            EventType::Finding => "finding",
            EventType::Flow => "flow",
            EventType::Http => "http",
            EventType::PiLeak => "pi_leak",
            EventType::Quic => "quic",
            EventType::SdkContact => "sdk_contact",
            EventType::Tls => "tls",
        }
    }
}

/// The flow 5-tuple oriented from the device (client).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowTuple {
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub proto: &'static str,
}

/// The session device as it appears in records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceRef {
    pub name: String,
    pub mac: Option<String>,
    pub ip: Option<IpAddr>,
}

/// The app under test as it appears in records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppRef {
    pub name: String,
    pub package: String,
}

/// A third-party SDK as it appears in records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SdkRef {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub category: String,
}

/// Fields common to every record except the chain fields.
#[derive(Clone, Debug, Serialize)]
pub struct Common {
    pub session_id: Option<String>,
    pub device: Option<DeviceRef>,
    pub app: Option<AppRef>,
    pub flow_id: u64,
    pub community_id: String,
    pub flow: FlowTuple,
    pub app_proto: AppProto,
    pub host: Option<String>,
    pub sdk: Option<SdkRef>,
    pub third_party: bool,
    pub consent_phase: &'static str,
}

/// `http` protocol record: one request/response pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HttpFields {
    pub method: String,
    pub host: Option<String>,
    pub uri: String,
    pub status: Option<u16>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub request_body_len: u64,
    pub response_body_len: u64,
    /// The connection switched to WebSocket after this exchange.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub websocket: bool,
    /// The exchange was an HTTP/2 stream (h2c, or decrypted TLS with ALPN h2).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub http2: bool,
}

/// One DNS answer as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    pub rrname: String,
    pub rrtype: String,
    pub ttl: u32,
    pub rdata: String,
}

/// `dns` protocol record: one message (query or response).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DnsFields {
    /// `query` or `answer`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u16,
    pub query: String,
    pub rrtype: String,
    pub rcode: Option<String>,
    pub answers: Vec<DnsAnswer>,
}

/// `tls` protocol record: one handshake seen from its ClientHello.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsFields {
    pub sni: Option<String>,
    pub version: Option<String>,
    pub alpn: Vec<String>,
    pub ja3: String,
    pub ja3_hash: String,
    pub ja4: String,
    pub decrypted: bool,
}

/// `quic` protocol record: one connection's client Initial.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QuicFields {
    pub sni: Option<String>,
    pub version: String,
    pub alpn: Vec<String>,
    pub ja4: String,
}

/// `flow` record: a summary when a flow ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowFields {
    #[serde(serialize_with = "ser_ts")]
    pub start: Timestamp,
    #[serde(serialize_with = "ser_ts")]
    pub end: Timestamp,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub state: &'static str,
    pub reason: &'static str,
    pub anomalies: Vec<&'static str>,
}

/// Method of a PI match (`pi[].method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PiMethod {
    /// The value equals (an encoding of) the session device's own identifier.
    KnownValue,
    /// Format, validator and key context.
    Pattern,
}

/// One PI item of a `pi_leak` record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PiItem {
    /// PI type id (`imei`, `phone_number`, ...).
    #[serde(rename = "type")]
    pub pi_type: String,
    pub category: String,
    pub sensitive: bool,
    /// `url.query:KEY`, `header:NAME`, `body.json:$.a.b[2]`, `stream.raw`, ...
    #[serde(rename = "where")]
    pub location: String,
    /// Encoding chain, outermost first: `plain`, `url`, `base64`, `gzip+base64`, `md5`, ...
    pub encoding: String,
    pub method: PiMethod,
    /// Masked per the schema's masking rule.
    pub value: String,
    pub confidence: f64,
    /// Great-circle distance to the session's location, for `gps_location` known values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

/// The HTTP request a `pi_leak` was found in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HttpRef {
    pub method: String,
    /// With PI values masked.
    pub url: String,
    pub user_agent: Option<String>,
}

/// The TLS session a `pi_leak` or contact was seen in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsRef {
    pub sni: Option<String>,
    pub version: Option<String>,
    pub decrypted: bool,
}

/// Where a record's evidence file is and its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceRef {
    /// Path relative to the evidence root.
    pub pcap: String,
    pub sha256: String,
}

/// `pi_leak`: PI seen leaving the device in one message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PiLeakFields {
    pub http: Option<HttpRef>,
    pub tls: Option<TlsRef>,
    pub pi: Vec<PiItem>,
    pub evidence: Option<EvidenceRef>,
}

/// `sdk_contact`: the device talked to a known third-party SDK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SdkContactFields {
    /// `dns`, `tls_sni`, `quic_sni` or `http_host`.
    pub via: &'static str,
}

/// `finding`: a rule about the session was broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingFields {
    pub rule: String,
    /// One line, Chinese and English.
    pub title: String,
    pub severity: String,
    pub regulation: Vec<String>,
    /// `seq` of the records that prove it.
    pub refs: Vec<u64>,
    /// The PI type it is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pi_type: Option<String>,
    /// Host (else address) it is about; absent when it spans several destinations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Number of proving records; `refs` lists at most a configured number of them.
    pub count: u64,
}

/// What a record says beyond the common fields.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Body {
    Dns {
        dns: DnsFields,
    },
    Finding(FindingFields),
    PiLeak(PiLeakFields),
    SdkContact(SdkContactFields),
    /// Flow summary fields sit at the top level of the record, as the schema says.
    Flow(FlowFields),
    Http {
        http: HttpFields,
    },
    Quic {
        quic: QuicFields,
    },
    Tls {
        tls: TlsFields,
    },
}

impl Body {
    pub fn event_type(&self) -> EventType {
        match self {
            Body::Dns { .. } => EventType::Dns,
            Body::Finding(_) => EventType::Finding,
            Body::PiLeak(_) => EventType::PiLeak,
            Body::SdkContact(_) => EventType::SdkContact,
            Body::Flow(_) => EventType::Flow,
            Body::Http { .. } => EventType::Http,
            Body::Quic { .. } => EventType::Quic,
            Body::Tls { .. } => EventType::Tls,
        }
    }
}

/// One record. `seq`, `prev_hash` and `hash` are filled by [`Chain::seal`].
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    pub schema: &'static str,
    #[serde(serialize_with = "ser_ts")]
    pub ts: Timestamp,
    pub event_type: EventType,
    pub seq: u64,
    pub prev_hash: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hash: String,
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub body: Body,
}

impl Record {
    pub fn new(ts: Timestamp, common: Common, body: Body) -> Record {
        Record {
            schema: SCHEMA,
            ts,
            event_type: body.event_type(),
            seq: 0,
            prev_hash: String::new(),
            hash: String::new(),
            common,
            body,
        }
    }
}

/// Masks a PI value for output outside the investigator role (alert-schema.md,
/// "Masking"): values of 11 characters or more keep at most their first 3 and last 4
/// characters, shorter ones their last 2; the rest become `*`. Counted in characters,
/// not bytes, so Chinese text masks correctly.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let (keep_front, keep_back) = if n >= 11 { (3, 4) } else { (0, 2.min(n)) };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_front || i >= n - keep_back {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

fn ser_ts<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_as_the_schema_says() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("861234567890127"), "861********0127");
        assert_eq!(mask("3a5f9c2e"), "******2e");
        assert_eq!(mask("ab"), "ab");
        assert_eq!(mask(""), "");
        assert_eq!(mask("张三丰"), "*三丰");
    }
}
