//! DNS messages as seen by a passive observer.
//!
//! Owns the DNS wire format of RFC 1035 §4 with its extensions: AAAA (RFC 3596), EDNS(0)
//! (RFC 6891), SVCB/HTTPS (RFC 9460), and the two link-local variants that share the same
//! format, mDNS (RFC 6762) and LLMNR (RFC 4795).
//!
//! Takes one whole message (a UDP payload, or a message cut out of a TCP stream by
//! [`state::TcpFramer`]) and emits an owned [`Message`]: header fields, questions, answer
//! records with decoded rdata, header counts of the other two sections and the EDNS fields.
//! [`resolved_addresses`] turns a response into `(address, queried name)` pairs for the flow
//! layer's resolution memory; [`probe_udp`] is the cheap yes/no used by protocol dispatch.
//!
//! Names are rendered as text the way `dig` presents them (RFC 1035 §5.1): labels joined by
//! `.`, no trailing dot, case preserved, a `.` or `\` inside a label escaped as `\.` / `\\`,
//! and bytes outside printable ASCII (`0x21..=0x7e`) escaped as `\DDD` (three decimal digits).
//! The root name is rendered as `"."` (tshark shows `<Root>`). TXT strings use the same
//! `\DDD` escaping but keep spaces and dots, and escape `"` and `\` with a backslash.
//!
//! Limits: names are bounded by the protocol (255 wire octets, hence at most 127 labels, and at most
//! [`MAX_POINTER_JUMPS`] compression jumps); the number of questions, answers, TXT bytes and
//! SVCB hint addresses kept is bounded by [`Limits`]. What is cut is counted in
//! [`Truncation`] and flagged in [`Anomalies`]; [`Stats`] sums those over many messages.
//! Authority and additional records are walked (for framing and for the EDNS OPT record) but
//! not stored, so they cost no allocation.
//!
//! Must not: look at ports, flows or time, keep state between messages (except the TCP
//! framer, which holds at most one partial message per direction), or panic on any input.

pub mod parser;
pub mod state;

use std::fmt;
use std::net::IpAddr;

pub use parser::{parse_message, parse_message_with, probe_udp};
pub use state::{FramerStats, TcpFramer, TcpState};

/// Most compression pointers followed while reading one name (RFC 1035 §4.1.4). Legitimate
/// names need a handful; the cap turns a pointer loop into [`InvalidKind::PointerLoop`].
pub const MAX_POINTER_JUMPS: usize = 32;

/// Longest name on the wire, length octets and the final zero octet included
/// (RFC 1035 §2.3.4, §3.1).
pub const MAX_NAME_WIRE_BYTES: usize = 255;

/// Most CNAME records [`resolved_addresses`] follows back from one address record: resolvers
/// give up on longer chains (RFC 1034 §3.6.2 warns against them), and the cap bounds the
/// quadratic walk over a hostile answer section.
pub const MAX_CNAME_CHAIN: usize = 16;

/// Length of the fixed DNS header (RFC 1035 §4.1.1).
pub const HEADER_BYTES: usize = 12;

/// Errors of this module. Small and `Copy`: one is produced per bad message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The message ends before a structure that must be complete (the header, or the
    /// question section); `needed` more bytes would have been required at least.
    #[error("dns message truncated, {needed} more bytes needed")]
    Incomplete {
        /// Lower bound of the missing byte count.
        needed: usize,
    },
    /// The bytes cannot be a DNS message; give up on this message.
    #[error("invalid dns message: {0}")]
    Invalid(InvalidKind),
}

/// Why a message was rejected as invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    /// Fewer than 12 bytes: not even a header (RFC 1035 §4.1.1).
    HeaderTooShort,
    /// A label length octet with the reserved `01`/`10` top bits (RFC 6891 §5 retired the
    /// extended label type `01`).
    LabelType,
    /// A name longer than [`MAX_NAME_WIRE_BYTES`] octets once decompressed (RFC 1035 §3.1).
    NameTooLong,
    /// A compression pointer at or after its own position: pointers refer to a *prior*
    /// occurrence of a name (RFC 1035 §4.1.4); this also catches a pointer to itself.
    PointerForward,
    /// More than [`MAX_POINTER_JUMPS`] compression pointers in one name: a loop.
    PointerLoop,
    /// A compression pointer into the header or past the end of the message.
    PointerOutOfBounds,
    /// Record data shorter than its type requires, or a name inside it running past
    /// RDLENGTH (RFC 1035 §3.2.1). Only reported for rdata inside answers via
    /// [`Anomaly::RdataMalformed`]; the record is then kept as [`RData::Other`].
    RdataOverrun,
}

/// Record type code (RFC 1035 §3.2.2, IANA "Resource Record (RR) TYPEs"). Unknown values
/// survive and print as `TYPE<n>` (RFC 3597 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RrType(pub u16);

/// Class code (RFC 1035 §3.2.4), with the mDNS top bit already removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(pub u16);

/// Header opcode (RFC 1035 §4.1.1, RFC 1996, RFC 2136, RFC 8490).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Opcode(pub u8);

/// Response code: the 4 header bits, extended to 12 bits by the EDNS OPT record when present
/// (RFC 6891 §6.1.3). A `u16` because extended codes go past 255.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rcode(pub u16);

/// One entry of the question section (RFC 1035 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Queried name, rendered as described in the module doc.
    pub name: String,
    /// QTYPE.
    pub rrtype: RrType,
    /// QCLASS with the mDNS unicast-response bit removed.
    pub class: Class,
    /// The top bit of QCLASS: "QU" unicast-response request in mDNS (RFC 6762 §5.4).
    /// Meaningless in unicast DNS, where it is normally clear.
    pub unicast_response: bool,
}

/// One answer record (RFC 1035 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRecord {
    /// Owner name, rendered as described in the module doc.
    pub name: String,
    /// TYPE.
    pub rrtype: RrType,
    /// CLASS with the mDNS cache-flush bit removed.
    pub class: Class,
    /// The top bit of CLASS: mDNS cache-flush (RFC 6762 §10.2).
    pub cache_flush: bool,
    /// Time to live, seconds.
    pub ttl: u32,
    /// Decoded record data.
    pub data: RData,
}

/// Decoded record data. Names inside are rendered like owner names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    /// A (RFC 1035 §3.4.1) or AAAA (RFC 3596 §2.2).
    Addr(IpAddr),
    /// MX (RFC 1035 §3.3.9).
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// Mail exchanger host.
        exchange: String,
    },
    /// The single name of CNAME, NS, PTR, DNAME, and the MNAME (primary server) of SOA.
    Name(String),
    /// Types not decoded here (and records whose rdata did not decode, see
    /// [`Anomaly::RdataMalformed`]): only RDLENGTH is kept.
    Other {
        /// RDLENGTH, bytes.
        len: u16,
    },
    /// SRV (RFC 2782).
    Srv {
        /// Lower is preferred.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// Service port.
        port: u16,
        /// Service host.
        target: String,
    },
    /// SVCB or HTTPS (RFC 9460 §2.2).
    Svcb {
        /// SvcPriority; 0 is AliasMode.
        priority: u16,
        /// TargetName; `"."` means the owner name (RFC 9460 §2.5).
        target: String,
        /// Addresses of the `ipv4hint` and `ipv6hint` parameters (RFC 9460 §7.3), at most
        /// [`Limits::max_svcb_addrs`].
        addrs: Vec<IpAddr>,
    },
    /// TXT character-strings (RFC 1035 §3.3.14), `\DDD`-escaped, at most
    /// [`Limits::max_txt_bytes`] wire bytes kept per record.
    Text(Vec<String>),
}

/// EDNS(0) fields from the OPT pseudo-record (RFC 6891 §6.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's UDP payload size (the OPT record's CLASS field).
    pub udp_payload_size: u16,
    /// EDNS version; only 0 is defined.
    pub version: u8,
    /// DNSSEC OK bit (RFC 3225).
    pub dnssec_ok: bool,
}

/// What the parser cut or noticed in one message (counts, not flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truncation {
    /// Questions parsed but not kept, over [`Limits::max_questions`].
    pub questions_dropped: u16,
    /// Answers parsed but not kept, over [`Limits::max_answers`].
    pub answers_dropped: u16,
    /// TXT wire bytes not kept, over [`Limits::max_txt_bytes`] per record.
    pub txt_bytes_dropped: u32,
    /// SVCB hint addresses not kept, over [`Limits::max_svcb_addrs`] per record.
    pub svcb_addrs_dropped: u16,
}

/// Something unusual about a message that did not stop the parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anomaly {
    /// More answers than [`Limits::max_answers`]; the rest were walked but not kept.
    AnswerLimit,
    /// More than one OPT record (RFC 6891 §6.1.1 allows one); the first one counts.
    DuplicateOpt,
    /// More questions than [`Limits::max_questions`]; the rest were walked but not kept.
    QuestionLimit,
    /// RDLENGTH longer than the decoded rdata of a known type; the extra bytes were skipped.
    RdataLengthMismatch,
    /// The rdata of a known type did not decode; the record is kept as [`RData::Other`].
    RdataMalformed,
    /// More SVCB hint addresses than [`Limits::max_svcb_addrs`] in one record.
    SvcbAddrLimit,
    /// Bytes left after the last record the header counts announce.
    TrailingBytes,
    /// The header counts more records than the message holds; the records present were kept.
    TruncatedRecords,
    /// A TXT record longer than [`Limits::max_txt_bytes`]; the rest was not kept.
    TxtLimit,
}

/// A set of [`Anomaly`] values, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Anomalies(u16);

/// One parsed DNS message, owned; outlives the packet it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Transaction ID, pairs a response with its query.
    pub id: u16,
    /// QR: this is a response.
    pub is_response: bool,
    /// OPCODE.
    pub opcode: Opcode,
    /// AA: authoritative answer.
    pub authoritative: bool,
    /// TC: truncated by the sender (RFC 1035 §4.1.1); the full answer comes over TCP.
    pub truncated: bool,
    /// RD: recursion desired.
    pub recursion_desired: bool,
    /// RA: recursion available.
    pub recursion_available: bool,
    /// AD: authentic data (RFC 4035 §3.2.3).
    pub authentic_data: bool,
    /// CD: checking disabled (RFC 4035 §3.2.2).
    pub checking_disabled: bool,
    /// RCODE, extended by EDNS when an OPT record is present.
    pub rcode: Rcode,
    /// Kept questions, in wire order.
    pub questions: Vec<Question>,
    /// Kept answer records, in wire order.
    pub answers: Vec<ResourceRecord>,
    /// QDCOUNT from the header.
    pub questions_count: u16,
    /// ANCOUNT from the header.
    pub answers_count: u16,
    /// NSCOUNT from the header.
    pub authorities_count: u16,
    /// ARCOUNT from the header.
    pub additionals_count: u16,
    /// EDNS fields when the additional section holds an OPT record.
    pub edns: Option<Edns>,
    /// What the limits cut.
    pub truncation: Truncation,
    /// Unusual things that did not stop the parse.
    pub anomalies: Anomalies,
}

/// Per-message limits of the parser. Protocol limits (name length, labels, pointer jumps)
/// are constants, not settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Questions kept per message.
    pub max_questions: usize,
    /// Answer records kept per message.
    pub max_answers: usize,
    /// TXT wire bytes (length octets included) kept per record.
    pub max_txt_bytes: usize,
    /// SVCB/HTTPS hint addresses kept per record.
    pub max_svcb_addrs: usize,
}

/// Parser counters, summed by the caller over messages with [`Stats::observe`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages parsed (possibly with anomalies).
    pub messages_total: u64,
    /// Messages rejected as [`Error::Incomplete`].
    pub incomplete_total: u64,
    /// Messages rejected as [`Error::Invalid`].
    pub invalid_total: u64,
    /// Sum of [`Truncation::questions_dropped`].
    pub questions_dropped_total: u64,
    /// Sum of [`Truncation::answers_dropped`].
    pub answers_dropped_total: u64,
    /// Sum of [`Truncation::txt_bytes_dropped`].
    pub txt_bytes_dropped_total: u64,
    /// Sum of [`Truncation::svcb_addrs_dropped`].
    pub svcb_addrs_dropped_total: u64,
    /// Messages with [`Anomaly::TruncatedRecords`].
    pub truncated_records_total: u64,
    /// Messages with [`Anomaly::RdataMalformed`].
    pub rdata_malformed_total: u64,
    /// Messages with any anomaly.
    pub anomalous_total: u64,
}

impl Error {
    /// Short snake_case name of the error, for a metric `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Error::Incomplete { .. } => "incomplete",
            Error::Invalid(kind) => kind.as_str(),
        }
    }
}

impl From<InvalidKind> for Error {
    fn from(kind: InvalidKind) -> Self {
        Error::Invalid(kind)
    }
}

impl InvalidKind {
    /// Short snake_case name, for a metric `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::HeaderTooShort => "header_too_short",
            InvalidKind::LabelType => "label_type",
            InvalidKind::NameTooLong => "name_too_long",
            InvalidKind::PointerForward => "pointer_forward",
            InvalidKind::PointerLoop => "pointer_loop",
            InvalidKind::PointerOutOfBounds => "pointer_out_of_bounds",
            InvalidKind::RdataOverrun => "rdata_overrun",
        }
    }
}

impl fmt::Display for InvalidKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidKind::HeaderTooShort => "header shorter than 12 bytes",
            InvalidKind::LabelType => "reserved label type",
            InvalidKind::NameTooLong => "name longer than 255 octets",
            InvalidKind::PointerForward => "compression pointer does not point backwards",
            InvalidKind::PointerLoop => "too many compression pointers in a name",
            InvalidKind::PointerOutOfBounds => "compression pointer outside the message",
            InvalidKind::RdataOverrun => "record data overruns its length",
        })
    }
}

impl RrType {
    pub const A: RrType = RrType(1);
    pub const NS: RrType = RrType(2);
    pub const CNAME: RrType = RrType(5);
    pub const SOA: RrType = RrType(6);
    pub const NULL: RrType = RrType(10);
    pub const PTR: RrType = RrType(12);
    pub const HINFO: RrType = RrType(13);
    pub const MX: RrType = RrType(15);
    pub const TXT: RrType = RrType(16);
    pub const AAAA: RrType = RrType(28);
    pub const LOC: RrType = RrType(29);
    pub const SRV: RrType = RrType(33);
    pub const NAPTR: RrType = RrType(35);
    pub const DNAME: RrType = RrType(39);
    pub const OPT: RrType = RrType(41);
    pub const DS: RrType = RrType(43);
    pub const SSHFP: RrType = RrType(44);
    pub const RRSIG: RrType = RrType(46);
    pub const NSEC: RrType = RrType(47);
    pub const DNSKEY: RrType = RrType(48);
    pub const NSEC3: RrType = RrType(50);
    pub const NSEC3PARAM: RrType = RrType(51);
    pub const TLSA: RrType = RrType(52);
    pub const CDS: RrType = RrType(59);
    pub const CDNSKEY: RrType = RrType(60);
    pub const SVCB: RrType = RrType(64);
    pub const HTTPS: RrType = RrType(65);
    pub const TKEY: RrType = RrType(249);
    pub const TSIG: RrType = RrType(250);
    pub const IXFR: RrType = RrType(251);
    pub const AXFR: RrType = RrType(252);
    pub const ANY: RrType = RrType(255);
    pub const URI: RrType = RrType(256);
    pub const CAA: RrType = RrType(257);

    /// Mnemonic of a known type, `None` otherwise.
    pub fn known_name(self) -> Option<&'static str> {
        Some(match self {
            RrType::A => "A",
            RrType::NS => "NS",
            RrType::CNAME => "CNAME",
            RrType::SOA => "SOA",
            RrType::NULL => "NULL",
            RrType::PTR => "PTR",
            RrType::HINFO => "HINFO",
            RrType::MX => "MX",
            RrType::TXT => "TXT",
            RrType::AAAA => "AAAA",
            RrType::LOC => "LOC",
            RrType::SRV => "SRV",
            RrType::NAPTR => "NAPTR",
            RrType::DNAME => "DNAME",
            RrType::OPT => "OPT",
            RrType::DS => "DS",
            RrType::SSHFP => "SSHFP",
            RrType::RRSIG => "RRSIG",
            RrType::NSEC => "NSEC",
            RrType::DNSKEY => "DNSKEY",
            RrType::NSEC3 => "NSEC3",
            RrType::NSEC3PARAM => "NSEC3PARAM",
            RrType::TLSA => "TLSA",
            RrType::CDS => "CDS",
            RrType::CDNSKEY => "CDNSKEY",
            RrType::SVCB => "SVCB",
            RrType::HTTPS => "HTTPS",
            RrType::TKEY => "TKEY",
            RrType::TSIG => "TSIG",
            RrType::IXFR => "IXFR",
            RrType::AXFR => "AXFR",
            RrType::ANY => "ANY",
            RrType::URI => "URI",
            RrType::CAA => "CAA",
            _ => return None,
        })
    }

    /// Mnemonic (`"A"`, `"AAAA"`, ...) or `"TYPE<n>"` for unknown types (RFC 3597 §5).
    /// Allocates only for unknown types.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self.known_name() {
            Some(name) => std::borrow::Cow::Borrowed(name),
            None => std::borrow::Cow::Owned(format!("TYPE{}", self.0)),
        }
    }
}

impl fmt::Display for RrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

impl Class {
    pub const IN: Class = Class(1);
    pub const CH: Class = Class(3);
    pub const HS: Class = Class(4);
    pub const NONE: Class = Class(254);
    pub const ANY: Class = Class(255);
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Class::IN => f.write_str("IN"),
            Class::CH => f.write_str("CH"),
            Class::HS => f.write_str("HS"),
            Class::NONE => f.write_str("NONE"),
            Class::ANY => f.write_str("ANY"),
            // RFC 3597 §5 notation for unknown classes.
            Class(n) => write!(f, "CLASS{n}"),
        }
    }
}

impl Opcode {
    pub const QUERY: Opcode = Opcode(0);
    pub const IQUERY: Opcode = Opcode(1);
    pub const STATUS: Opcode = Opcode(2);
    pub const NOTIFY: Opcode = Opcode(4);
    pub const UPDATE: Opcode = Opcode(5);
    pub const DSO: Opcode = Opcode(6);

    /// Mnemonic of a known opcode, `None` otherwise (`Display` prints `OPCODE<n>` then).
    pub fn known_name(self) -> Option<&'static str> {
        Some(match self {
            Opcode::QUERY => "QUERY",
            Opcode::IQUERY => "IQUERY",
            Opcode::STATUS => "STATUS",
            Opcode::NOTIFY => "NOTIFY",
            Opcode::UPDATE => "UPDATE",
            Opcode::DSO => "DSO",
            _ => return None,
        })
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "OPCODE{}", self.0),
        }
    }
}

impl Rcode {
    pub const NOERROR: Rcode = Rcode(0);
    pub const FORMERR: Rcode = Rcode(1);
    pub const SERVFAIL: Rcode = Rcode(2);
    pub const NXDOMAIN: Rcode = Rcode(3);
    pub const NOTIMP: Rcode = Rcode(4);
    pub const REFUSED: Rcode = Rcode(5);
    pub const YXDOMAIN: Rcode = Rcode(6);
    pub const YXRRSET: Rcode = Rcode(7);
    pub const NXRRSET: Rcode = Rcode(8);
    pub const NOTAUTH: Rcode = Rcode(9);
    pub const NOTZONE: Rcode = Rcode(10);
    pub const DSOTYPENI: Rcode = Rcode(11);
    /// BADVERS (RFC 6891); 16 is also BADSIG in TSIG records, which this module does not read.
    pub const BADVERS: Rcode = Rcode(16);
    pub const BADCOOKIE: Rcode = Rcode(23);

    /// Mnemonic of a known code, `None` otherwise.
    pub fn known_name(self) -> Option<&'static str> {
        Some(match self {
            Rcode::NOERROR => "NOERROR",
            Rcode::FORMERR => "FORMERR",
            Rcode::SERVFAIL => "SERVFAIL",
            Rcode::NXDOMAIN => "NXDOMAIN",
            Rcode::NOTIMP => "NOTIMP",
            Rcode::REFUSED => "REFUSED",
            Rcode::YXDOMAIN => "YXDOMAIN",
            Rcode::YXRRSET => "YXRRSET",
            Rcode::NXRRSET => "NXRRSET",
            Rcode::NOTAUTH => "NOTAUTH",
            Rcode::NOTZONE => "NOTZONE",
            Rcode::DSOTYPENI => "DSOTYPENI",
            Rcode::BADVERS => "BADVERS",
            Rcode::BADCOOKIE => "BADCOOKIE",
            _ => return None,
        })
    }

    /// Mnemonic (`"NOERROR"`, `"NXDOMAIN"`, ...) or `"RCODE<n>"` for unknown codes.
    /// Allocates only for unknown codes.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self.known_name() {
            Some(name) => std::borrow::Cow::Borrowed(name),
            None => std::borrow::Cow::Owned(format!("RCODE{}", self.0)),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "RCODE{}", self.0),
        }
    }
}

impl Anomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: [Anomaly; 9] = [
        Anomaly::AnswerLimit,
        Anomaly::DuplicateOpt,
        Anomaly::QuestionLimit,
        Anomaly::RdataLengthMismatch,
        Anomaly::RdataMalformed,
        Anomaly::SvcbAddrLimit,
        Anomaly::TrailingBytes,
        Anomaly::TruncatedRecords,
        Anomaly::TxtLimit,
    ];

    /// Short snake_case name, for a metric label or a flow's anomaly list.
    pub fn as_str(self) -> &'static str {
        match self {
            Anomaly::AnswerLimit => "answer_limit",
            Anomaly::DuplicateOpt => "duplicate_opt",
            Anomaly::QuestionLimit => "question_limit",
            Anomaly::RdataLengthMismatch => "rdata_length_mismatch",
            Anomaly::RdataMalformed => "rdata_malformed",
            Anomaly::SvcbAddrLimit => "svcb_addr_limit",
            Anomaly::TrailingBytes => "trailing_bytes",
            Anomaly::TruncatedRecords => "truncated_records",
            Anomaly::TxtLimit => "txt_limit",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl Anomalies {
    /// Adds one anomaly to the set.
    pub fn insert(&mut self, anomaly: Anomaly) {
        self.0 |= anomaly.bit();
    }

    /// Whether the set holds `anomaly`.
    pub fn contains(self, anomaly: Anomaly) -> bool {
        self.0 & anomaly.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The anomalies in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Anomaly> {
        Anomaly::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl Message {
    /// The first question, which is the only one in practice outside mDNS.
    pub fn first_question(&self) -> Option<&Question> {
        self.questions.first()
    }
}

impl Limits {
    /// Unicast DNS carries one question (RFC 9619); mDNS queries bundle a few more. 16 keeps
    /// every real query whole and bounds a hostile one.
    pub const DEFAULT_MAX_QUESTIONS: usize = 16;
    /// Real answers rarely exceed a few dozen records (CDN address pools, PTR sweeps);
    /// 64 keeps them while capping a 64 KiB TCP response of tiny records.
    pub const DEFAULT_MAX_ANSWERS: usize = 64;
    /// SPF/DKIM/verification TXT records fit in 1 KiB; the rest of a big TXT is rarely about
    /// the device, and 1 KiB per record × 64 answers bounds a message's TXT memory.
    pub const DEFAULT_MAX_TXT_BYTES: usize = 1024;
    /// HTTPS records carry a handful of hints per family; 16 keeps them all in practice.
    pub const DEFAULT_MAX_SVCB_ADDRS: usize = 16;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_questions: Limits::DEFAULT_MAX_QUESTIONS,
            max_answers: Limits::DEFAULT_MAX_ANSWERS,
            max_txt_bytes: Limits::DEFAULT_MAX_TXT_BYTES,
            max_svcb_addrs: Limits::DEFAULT_MAX_SVCB_ADDRS,
        }
    }
}

impl Stats {
    /// Adds the outcome of one [`parse_message`] call to the counters.
    pub fn observe(&mut self, result: &Result<Message, Error>) {
        match result {
            Ok(msg) => {
                self.messages_total += 1;
                let t = msg.truncation;
                self.questions_dropped_total += u64::from(t.questions_dropped);
                self.answers_dropped_total += u64::from(t.answers_dropped);
                self.txt_bytes_dropped_total += u64::from(t.txt_bytes_dropped);
                self.svcb_addrs_dropped_total += u64::from(t.svcb_addrs_dropped);
                if msg.anomalies.contains(Anomaly::TruncatedRecords) {
                    self.truncated_records_total += 1;
                }
                if msg.anomalies.contains(Anomaly::RdataMalformed) {
                    self.rdata_malformed_total += 1;
                }
                if !msg.anomalies.is_empty() {
                    self.anomalous_total += 1;
                }
            }
            Err(Error::Incomplete { .. }) => self.incomplete_total += 1,
            Err(Error::Invalid(_)) => self.invalid_total += 1,
        }
    }
}

/// Pairs every A/AAAA answer of `msg` with the name the client asked for.
///
/// A CNAME chain is followed back from the address record's owner to a question name
/// (case-insensitively, RFC 4343), so `www.a.com CNAME x.cdn.net`, `x.cdn.net A 1.2.3.4`
/// yields `(1.2.3.4, "www.a.com")`. When the chain reaches no question (mDNS announcements
/// have none), the earliest name reached is returned. DNAME records are not followed:
/// servers send the synthesized CNAME alongside (RFC 6672 §3.4). At most
/// [`MAX_CNAME_CHAIN`] steps are taken, so a CNAME loop ends. SVCB/HTTPS address hints are
/// not included: they are hints, not answers.
pub fn resolved_addresses(msg: &Message) -> impl Iterator<Item = (IpAddr, &str)> + '_ {
    msg.answers.iter().filter_map(move |rr| {
        let RData::Addr(addr) = rr.data else {
            return None;
        };
        Some((addr, alias_origin(msg, &rr.name)))
    })
}

/// Walks CNAME records backwards from `name` until a question name or the chain's start.
fn alias_origin<'m>(msg: &'m Message, name: &'m str) -> &'m str {
    let mut current = name;
    for step in 0..=MAX_CNAME_CHAIN {
        if let Some(q) = msg
            .questions
            .iter()
            .find(|q| q.name.eq_ignore_ascii_case(current))
        {
            return &q.name;
        }
        if step == MAX_CNAME_CHAIN {
            break;
        }
        let alias = msg.answers.iter().find(|rr| {
            rr.rrtype == RrType::CNAME
                && matches!(&rr.data, RData::Name(target) if target.eq_ignore_ascii_case(current))
        });
        match alias {
            Some(rr) => current = &rr.name,
            None => break,
        }
    }
    current
}

impl fmt::Display for RData {
    /// Presentation text as records show it: an address, a name, `10 mx.example`,
    /// `0 5 443 target`, quoted TXT strings, or `<N bytes>` for undecoded data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::Addr(addr) => write!(f, "{addr}"),
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RData::Name(name) => f.write_str(name),
            RData::Other { len } => write!(f, "<{len} bytes>"),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            RData::Svcb {
                priority,
                target,
                addrs,
            } => {
                write!(f, "{priority} {target}")?;
                for addr in addrs {
                    write!(f, " {addr}")?;
                }
                Ok(())
            }
            RData::Text(strings) => {
                for (i, text) in strings.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "\"{text}\"")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(name: &str, rrtype: RrType, data: RData) -> ResourceRecord {
        ResourceRecord {
            name: name.into(),
            rrtype,
            class: Class::IN,
            cache_flush: false,
            ttl: 60,
            data,
        }
    }

    fn response(qname: Option<&str>, answers: Vec<ResourceRecord>) -> Message {
        Message {
            id: 1,
            is_response: true,
            opcode: Opcode::QUERY,
            authoritative: false,
            truncated: false,
            recursion_desired: true,
            recursion_available: true,
            authentic_data: false,
            checking_disabled: false,
            rcode: Rcode::NOERROR,
            questions: qname
                .into_iter()
                .map(|name| Question {
                    name: name.into(),
                    rrtype: RrType::A,
                    class: Class::IN,
                    unicast_response: false,
                })
                .collect(),
            questions_count: u16::from(qname.is_some()),
            answers_count: answers.len() as u16,
            answers,
            authorities_count: 0,
            additionals_count: 0,
            edns: None,
            truncation: Truncation::default(),
            anomalies: Anomalies::default(),
        }
    }

    #[test]
    fn chain_of_two_cnames_with_case_differences() {
        let msg = response(
            Some("WWW.Shop.example"),
            vec![
                rr(
                    "www.shop.example",
                    RrType::CNAME,
                    RData::Name("Shop.Edge.net".into()),
                ),
                rr(
                    "shop.edge.net",
                    RrType::CNAME,
                    RData::Name("a1.cdn.net".into()),
                ),
                rr(
                    "A1.CDN.NET",
                    RrType::AAAA,
                    RData::Addr("2001:db8::7".parse().unwrap()),
                ),
            ],
        );
        let pairs: Vec<_> = resolved_addresses(&msg).collect();
        assert_eq!(
            pairs,
            vec![("2001:db8::7".parse().unwrap(), "WWW.Shop.example")]
        );
    }

    #[test]
    fn unrelated_and_looping_chains_end() {
        let msg = response(
            Some("q.example"),
            vec![
                rr("a.loop", RrType::CNAME, RData::Name("b.loop".into())),
                rr("b.loop", RrType::CNAME, RData::Name("a.loop".into())),
                rr(
                    "a.loop",
                    RrType::A,
                    RData::Addr("192.0.2.1".parse().unwrap()),
                ),
                rr(
                    "other.example",
                    RrType::A,
                    RData::Addr("192.0.2.2".parse().unwrap()),
                ),
            ],
        );
        let pairs: Vec<_> = resolved_addresses(&msg).collect();
        assert_eq!(pairs.len(), 2);
        // No path to the question: some name of the chain, never a panic or a hang.
        assert!(pairs[0].1 == "a.loop" || pairs[0].1 == "b.loop");
        assert_eq!(pairs[1].1, "other.example");
    }

    #[test]
    fn chain_length_is_capped() {
        let hops = |n: usize| {
            let mut answers: Vec<_> = (0..n)
                .map(|i| {
                    let target = RData::Name(format!("h{}", i + 1));
                    rr(&format!("h{i}"), RrType::CNAME, target)
                })
                .collect();
            let addr = RData::Addr("192.0.2.9".parse().unwrap());
            answers.push(rr(&format!("h{n}"), RrType::A, addr));
            response(Some("h0"), answers)
        };
        let msg = hops(MAX_CNAME_CHAIN);
        assert_eq!(resolved_addresses(&msg).next().unwrap().1, "h0");
        let msg = hops(MAX_CNAME_CHAIN + 1);
        assert_eq!(resolved_addresses(&msg).next().unwrap().1, "h1");
    }

    #[test]
    fn anomaly_set() {
        let mut set = Anomalies::default();
        assert!(set.is_empty());
        set.insert(Anomaly::TxtLimit);
        set.insert(Anomaly::AnswerLimit);
        let names: Vec<_> = set.iter().map(Anomaly::as_str).collect();
        assert_eq!(names, vec!["answer_limit", "txt_limit"]);
        assert!(!set.contains(Anomaly::TruncatedRecords));
        assert_eq!(
            Error::Invalid(InvalidKind::PointerLoop).to_string(),
            "invalid dns message: too many compression pointers in a name"
        );
        assert_eq!(Error::Incomplete { needed: 3 }.as_str(), "incomplete");
    }
}
