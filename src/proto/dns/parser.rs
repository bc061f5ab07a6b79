//! Parsing of one whole DNS message (RFC 1035 §4.1) into an owned [`Message`].
//!
//! Takes the bytes of exactly one message: positions, and so compression pointers, are
//! relative to the first byte of `buf`. Emits a [`Message`] or an [`Error`]:
//!
//! - the header or the question section failing is an error (`Incomplete` when bytes run
//!   out, `Invalid` when they cannot be DNS);
//! - a record section running out of bytes keeps what was parsed and flags
//!   [`Anomaly::TruncatedRecords`] (a sender-truncated or snapped datagram still names the
//!   queried host);
//! - an invalid owner name in a record section is an error (record framing is lost);
//! - rdata of a known type that does not decode keeps the record as [`RData::Other`] and
//!   flags [`Anomaly::RdataMalformed`] (the framing by RDLENGTH is intact).
//!
//! Allocation: one `String` per kept name (rendered into a reused scratch buffer first, then
//! copied once at its exact length), the `Vec`s of kept questions and answers, TXT strings
//! and SVCB hint lists, all bounded by [`Limits`]. Names of records that are not kept are
//! walked without being rendered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    Anomalies, Anomaly, Class, Edns, Error, InvalidKind, Limits, Message, Opcode, Question, RData,
    Rcode, ResourceRecord, RrType, Truncation, HEADER_BYTES, MAX_NAME_WIRE_BYTES,
    MAX_POINTER_JUMPS,
};

/// Most questions a datagram may announce and still pass [`probe_udp`]: mDNS queries bundle
/// several questions, unicast ones carry one; 64 is far above both.
const MAX_PROBE_QUESTIONS: u16 = 64;

/// Smallest question on the wire: the root name (1 octet), QTYPE and QCLASS.
const MIN_QUESTION_BYTES: usize = 5;

/// Smallest resource record on the wire: the root name (1 octet) and the 10 fixed octets.
const MIN_RECORD_BYTES: usize = 11;

/// Top bit of QCLASS/CLASS, reused by mDNS (RFC 6762 §5.4, §10.2).
const CLASS_TOP_BIT: u16 = 0x8000;

/// SvcParamKey of `ipv4hint` (RFC 9460 §14.3.2).
const SVC_KEY_IPV4HINT: u16 = 4;

/// SvcParamKey of `ipv6hint` (RFC 9460 §14.3.2).
const SVC_KEY_IPV6HINT: u16 = 6;

/// The record sections after the question section (RFC 1035 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Additional,
    Answer,
    Authority,
}

/// State of one parse: the message, the read position and what has been produced so far.
struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    /// Reused rendering buffer, so each kept name costs one exact-size allocation.
    scratch: String,
    truncation: Truncation,
    anomalies: Anomalies,
    edns: Option<Edns>,
    ext_rcode_high: u8,
}

/// Parses one DNS message with the default [`Limits`]. See [`parse_message_with`].
pub fn parse_message(buf: &[u8]) -> Result<Message, Error> {
    parse_message_with(buf, &Limits::default())
}

/// Parses one DNS message (a whole UDP payload or one TCP-framed message).
///
/// Errors: [`InvalidKind::HeaderTooShort`] under 12 bytes; `Incomplete` or `Invalid` from the
/// question section; `Invalid` from an owner name in a record section. Records missing at the
/// end are not an error (see the module doc).
pub fn parse_message_with(buf: &[u8], limits: &Limits) -> Result<Message, Error> {
    let header = buf
        .get(..HEADER_BYTES)
        .ok_or(Error::Invalid(InvalidKind::HeaderTooShort))?;
    // `header` is 12 bytes and every offset below is at most 10, so the 0 is never used.
    let word = |i: usize| read_u16(header, i).unwrap_or(0);
    let id = word(0);
    let flags = word(2);
    let questions_count = word(4);
    let answers_count = word(6);
    let authorities_count = word(8);
    let additionals_count = word(10);

    let mut p = Parser {
        buf,
        pos: HEADER_BYTES,
        limits,
        scratch: String::new(),
        truncation: Truncation::default(),
        anomalies: Anomalies::default(),
        edns: None,
        ext_rcode_high: 0,
    };

    let questions = p.parse_questions(questions_count)?;
    let mut answers = Vec::with_capacity(usize::from(answers_count).min(limits.max_answers));
    let sections = [
        (Section::Answer, answers_count),
        (Section::Authority, authorities_count),
        (Section::Additional, additionals_count),
    ];
    let mut complete = true;
    'sections: for (section, count) in sections {
        for _ in 0..count {
            match p.parse_record(section, &mut answers) {
                Ok(()) => {}
                Err(Error::Incomplete { .. }) => {
                    p.anomalies.insert(Anomaly::TruncatedRecords);
                    complete = false;
                    break 'sections;
                }
                Err(err) => return Err(err),
            }
        }
    }
    if complete && p.pos < buf.len() {
        p.anomalies.insert(Anomaly::TrailingBytes);
    }

    // RFC 6891 §6.1.3: the OPT record holds the upper 8 bits of the 12-bit RCODE.
    let rcode = (u16::from(p.ext_rcode_high) << 4) | (flags & 0x000f);
    Ok(Message {
        id,
        is_response: flags & 0x8000 != 0,
        opcode: Opcode(((flags >> 11) & 0x0f) as u8),
        authoritative: flags & 0x0400 != 0,
        truncated: flags & 0x0200 != 0,
        recursion_desired: flags & 0x0100 != 0,
        recursion_available: flags & 0x0080 != 0,
        authentic_data: flags & 0x0020 != 0,
        checking_disabled: flags & 0x0010 != 0,
        rcode: Rcode(rcode),
        questions,
        answers,
        questions_count,
        answers_count,
        authorities_count,
        additionals_count,
        edns: p.edns,
        truncation: p.truncation,
        anomalies: p.anomalies,
    })
}

/// Cheap check that a UDP payload looks like a DNS message, for port-independent dispatch.
///
/// Requires a full header, a defined opcode (0..=5, RFC 1035/1996/2136; DSO is TCP-only),
/// at least one and at most a few dozen records, enough bytes for the smallest possible
/// encoding of every counted entry, and a first name that starts with a label length (a
/// compression pointer there could only point into the header).
pub fn probe_udp(payload: &[u8]) -> bool {
    let Some(header) = payload.get(..HEADER_BYTES) else {
        return false;
    };
    // `header` is 12 bytes and every offset below is at most 10, so the 0 is never used.
    let word = |i: usize| usize::from(read_u16(header, i).unwrap_or(0));
    let opcode = (word(2) >> 11) & 0x0f;
    if opcode > 5 || opcode == 3 {
        return false;
    }
    let qd = word(4);
    let records = word(6) + word(8) + word(10);
    if qd > usize::from(MAX_PROBE_QUESTIONS) || qd + records == 0 {
        return false;
    }
    let min_len = HEADER_BYTES + qd * MIN_QUESTION_BYTES + records * MIN_RECORD_BYTES;
    if min_len > payload.len() {
        return false;
    }
    matches!(payload.get(HEADER_BYTES), Some(b) if b & 0xc0 == 0)
}

impl<'a> Parser<'a> {
    fn parse_questions(&mut self, count: u16) -> Result<Vec<Question>, Error> {
        let mut questions = Vec::with_capacity(usize::from(count).min(self.limits.max_questions));
        for _ in 0..count {
            let keep = questions.len() < self.limits.max_questions;
            self.pos = parse_name(self.buf, self.pos, keep.then_some(&mut self.scratch))?;
            let rrtype = RrType(read_u16(self.buf, self.pos)?);
            let raw_class = read_u16(self.buf, self.pos + 2)?;
            self.pos += 4;
            if keep {
                questions.push(Question {
                    name: self.scratch.clone(),
                    rrtype,
                    class: Class(raw_class & !CLASS_TOP_BIT),
                    unicast_response: raw_class & CLASS_TOP_BIT != 0,
                });
            } else {
                self.truncation.questions_dropped =
                    self.truncation.questions_dropped.saturating_add(1);
                self.anomalies.insert(Anomaly::QuestionLimit);
            }
        }
        Ok(questions)
    }

    /// Parses one record at `self.pos`; keeps it in `answers` when it is a kept answer.
    fn parse_record(
        &mut self,
        section: Section,
        answers: &mut Vec<ResourceRecord>,
    ) -> Result<(), Error> {
        let keep = section == Section::Answer && answers.len() < self.limits.max_answers;
        let name_end = parse_name(self.buf, self.pos, keep.then_some(&mut self.scratch))?;
        let fixed = read_array::<10>(self.buf, name_end)?;
        let rrtype = RrType(u16::from_be_bytes([fixed[0], fixed[1]]));
        let raw_class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlength = u16::from_be_bytes([fixed[8], fixed[9]]);
        let rd_start = name_end + 10;
        let rd_end = rd_start + usize::from(rdlength);
        if rd_end > self.buf.len() {
            return Err(Error::Incomplete {
                needed: rd_end - self.buf.len(),
            });
        }

        if rrtype == RrType::OPT && section == Section::Additional {
            self.note_opt(raw_class, ttl);
        }
        if keep {
            let name = self.scratch.clone();
            let data = self.decode_rdata(rrtype, rd_start, rd_end);
            answers.push(ResourceRecord {
                name,
                rrtype,
                class: Class(raw_class & !CLASS_TOP_BIT),
                cache_flush: raw_class & CLASS_TOP_BIT != 0,
                ttl,
                data,
            });
        } else if section == Section::Answer {
            self.truncation.answers_dropped = self.truncation.answers_dropped.saturating_add(1);
            self.anomalies.insert(Anomaly::AnswerLimit);
        }
        self.pos = rd_end;
        Ok(())
    }

    /// Reads the EDNS fields of an OPT record (RFC 6891 §6.1.3): CLASS is the UDP payload
    /// size, TTL is extended RCODE (8), VERSION (8), DO (1) and Z (15).
    fn note_opt(&mut self, raw_class: u16, ttl: u32) {
        if self.edns.is_some() {
            self.anomalies.insert(Anomaly::DuplicateOpt);
            return;
        }
        let [ext_rcode, version, flags_high, _] = ttl.to_be_bytes();
        self.ext_rcode_high = ext_rcode;
        self.edns = Some(Edns {
            udp_payload_size: raw_class,
            version,
            dnssec_ok: flags_high & 0x80 != 0,
        });
    }

    /// Decodes the rdata in `rd_start..rd_end`; failures become [`RData::Other`] plus an
    /// anomaly, because RDLENGTH still frames the record correctly.
    fn decode_rdata(&mut self, rrtype: RrType, rd_start: usize, rd_end: usize) -> RData {
        let len = u16::try_from(rd_end.saturating_sub(rd_start)).unwrap_or(u16::MAX);
        // Reading from the message cut at `rd_end` bounds every read, names included, to
        // the rdata; compression pointers point backwards, so they stay inside the cut.
        let Some(msg) = self.buf.get(..rd_end) else {
            return RData::Other { len };
        };
        match self.decode_known(msg, rrtype, rd_start) {
            Ok(Some((data, end))) => {
                if end < rd_end {
                    self.anomalies.insert(Anomaly::RdataLengthMismatch);
                }
                data
            }
            Ok(None) => RData::Other { len },
            Err(_) => {
                self.anomalies.insert(Anomaly::RdataMalformed);
                RData::Other { len }
            }
        }
    }

    /// Decodes the types this module understands; `Ok(None)` for the others. Returns the
    /// data and the offset just past what was read.
    fn decode_known(
        &mut self,
        msg: &[u8],
        rrtype: RrType,
        start: usize,
    ) -> Result<Option<(RData, usize)>, InvalidKind> {
        let rd_len = msg.len().saturating_sub(start);
        let decoded = match rrtype {
            RrType::A => {
                if rd_len != 4 {
                    return Err(InvalidKind::RdataOverrun);
                }
                let b = read_array::<4>(msg, start).map_err(overrun)?;
                (RData::Addr(IpAddr::V4(Ipv4Addr::from(b))), start + 4)
            }
            RrType::AAAA => {
                if rd_len != 16 {
                    return Err(InvalidKind::RdataOverrun);
                }
                let b = read_array::<16>(msg, start).map_err(overrun)?;
                (RData::Addr(IpAddr::V6(Ipv6Addr::from(b))), start + 16)
            }
            RrType::CNAME | RrType::NS | RrType::PTR | RrType::DNAME => {
                let end = self.name_at(msg, start)?;
                (RData::Name(self.scratch.clone()), end)
            }
            RrType::SOA => {
                // MNAME, RNAME, then SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM (RFC 1035 §3.3.13).
                let mname_end = self.name_at(msg, start)?;
                let mname = self.scratch.clone();
                let rname_end = parse_name(msg, mname_end, None).map_err(overrun)?;
                read_array::<20>(msg, rname_end).map_err(overrun)?;
                (RData::Name(mname), rname_end + 20)
            }
            RrType::MX => {
                let preference = read_u16(msg, start).map_err(overrun)?;
                let end = self.name_at(msg, start + 2)?;
                let exchange = self.scratch.clone();
                (
                    RData::Mx {
                        preference,
                        exchange,
                    },
                    end,
                )
            }
            RrType::SRV => {
                let b = read_array::<6>(msg, start).map_err(overrun)?;
                let end = self.name_at(msg, start + 6)?;
                let srv = RData::Srv {
                    priority: u16::from_be_bytes([b[0], b[1]]),
                    weight: u16::from_be_bytes([b[2], b[3]]),
                    port: u16::from_be_bytes([b[4], b[5]]),
                    target: self.scratch.clone(),
                };
                (srv, end)
            }
            RrType::TXT => self.decode_txt(msg, start)?,
            RrType::SVCB | RrType::HTTPS => self.decode_svcb(msg, start)?,
            _ => return Ok(None),
        };
        Ok(Some(decoded))
    }

    /// Renders the name at `pos` of `msg` into the scratch buffer.
    fn name_at(&mut self, msg: &[u8], pos: usize) -> Result<usize, InvalidKind> {
        parse_name(msg, pos, Some(&mut self.scratch)).map_err(overrun)
    }

    /// TXT: character-strings up to the end of the rdata (RFC 1035 §3.3.14), kept up to
    /// [`Limits::max_txt_bytes`] wire bytes.
    fn decode_txt(&mut self, msg: &[u8], start: usize) -> Result<(RData, usize), InvalidKind> {
        let end = msg.len();
        let mut strings = Vec::new();
        let mut pos = start;
        let mut kept = 0usize;
        while pos < end {
            let len = usize::from(*msg.get(pos).ok_or(InvalidKind::RdataOverrun)?);
            let bytes = msg
                .get(pos + 1..pos + 1 + len)
                .ok_or(InvalidKind::RdataOverrun)?;
            if kept + 1 + len > self.limits.max_txt_bytes {
                let dropped = u32::try_from(end - pos).unwrap_or(u32::MAX);
                self.truncation.txt_bytes_dropped =
                    self.truncation.txt_bytes_dropped.saturating_add(dropped);
                self.anomalies.insert(Anomaly::TxtLimit);
                break;
            }
            let mut text = String::with_capacity(len);
            escape_text(bytes, &mut text);
            strings.push(text);
            kept += 1 + len;
            pos += 1 + len;
        }
        Ok((RData::Text(strings), end))
    }

    /// SVCB/HTTPS (RFC 9460 §2.2): SvcPriority, TargetName, then SvcParams of which the
    /// address hints are kept.
    fn decode_svcb(&mut self, msg: &[u8], start: usize) -> Result<(RData, usize), InvalidKind> {
        let priority = read_u16(msg, start).map_err(overrun)?;
        let mut pos = self.name_at(msg, start + 2)?;
        let target = self.scratch.clone();
        let mut addrs = Vec::new();
        while pos < msg.len() {
            let key = read_u16(msg, pos).map_err(overrun)?;
            let len = usize::from(read_u16(msg, pos + 2).map_err(overrun)?);
            let value = msg
                .get(pos + 4..pos + 4 + len)
                .ok_or(InvalidKind::RdataOverrun)?;
            let width = match key {
                SVC_KEY_IPV4HINT => 4,
                SVC_KEY_IPV6HINT => 16,
                _ => 0,
            };
            if width != 0 {
                // RFC 9460 §7.3: a hint is a non-empty list of whole addresses.
                if len == 0 || len % width != 0 {
                    return Err(InvalidKind::RdataOverrun);
                }
                for chunk in value.chunks_exact(width) {
                    if addrs.len() >= self.limits.max_svcb_addrs {
                        self.truncation.svcb_addrs_dropped =
                            self.truncation.svcb_addrs_dropped.saturating_add(1);
                        self.anomalies.insert(Anomaly::SvcbAddrLimit);
                        continue;
                    }
                    if let Ok(b) = <[u8; 4]>::try_from(chunk) {
                        addrs.push(IpAddr::V4(Ipv4Addr::from(b)));
                    } else if let Ok(b) = <[u8; 16]>::try_from(chunk) {
                        addrs.push(IpAddr::V6(Ipv6Addr::from(b)));
                    }
                }
            }
            pos += 4 + len;
        }
        Ok((
            RData::Svcb {
                priority,
                target,
                addrs,
            },
            pos,
        ))
    }
}

/// Any failure inside rdata is reported as an overrun of the rdata: running out of bytes
/// there means RDLENGTH and the structure disagree.
fn overrun(err: Error) -> InvalidKind {
    match err {
        Error::Incomplete { .. } => InvalidKind::RdataOverrun,
        Error::Invalid(kind) => kind,
    }
}

/// Reads the (possibly compressed) name starting at `start` in `msg` (RFC 1035 §3.1,
/// §4.1.4) and returns the offset just past it at its original position.
///
/// When `out` is given it is cleared and receives the rendered name (see the module doc);
/// otherwise the name is only validated. Rules: a pointer must land after the header and
/// before itself; at most [`MAX_POINTER_JUMPS`] pointers; at most [`MAX_NAME_WIRE_BYTES`]
/// octets in the decompressed name; label types `01` and `10` are rejected.
pub fn parse_name(msg: &[u8], start: usize, mut out: Option<&mut String>) -> Result<usize, Error> {
    if let Some(text) = out.as_deref_mut() {
        text.clear();
    }
    let mut pos = start;
    let mut after_name: Option<usize> = None;
    let mut jumps = 0usize;
    // The terminating zero octet counts towards the 255-octet limit.
    let mut wire_len = 1usize;
    let mut labels = 0usize;
    loop {
        let octet = *msg.get(pos).ok_or(Error::Incomplete {
            needed: (pos + 1).saturating_sub(msg.len()),
        })?;
        match octet & 0xc0 {
            0x00 if octet == 0 => {
                if labels == 0 {
                    if let Some(text) = out.as_deref_mut() {
                        text.push('.');
                    }
                }
                return Ok(after_name.unwrap_or(pos + 1));
            }
            0x00 => {
                let len = usize::from(octet);
                wire_len += 1 + len;
                if wire_len > MAX_NAME_WIRE_BYTES {
                    return Err(Error::Invalid(InvalidKind::NameTooLong));
                }
                let label = msg.get(pos + 1..pos + 1 + len).ok_or(Error::Incomplete {
                    needed: (pos + 1 + len).saturating_sub(msg.len()),
                })?;
                if let Some(text) = out.as_deref_mut() {
                    if labels > 0 {
                        text.push('.');
                    }
                    escape_label(label, text);
                }
                labels += 1;
                pos += 1 + len;
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(Error::Incomplete {
                    needed: (pos + 2).saturating_sub(msg.len()),
                })?;
                let target = usize::from(u16::from_be_bytes([octet & 0x3f, low]));
                if after_name.is_none() {
                    after_name = Some(pos + 2);
                }
                if target < HEADER_BYTES || target >= msg.len() {
                    return Err(Error::Invalid(InvalidKind::PointerOutOfBounds));
                }
                if target >= pos {
                    return Err(Error::Invalid(InvalidKind::PointerForward));
                }
                jumps += 1;
                if jumps > MAX_POINTER_JUMPS {
                    return Err(Error::Invalid(InvalidKind::PointerLoop));
                }
                pos = target;
            }
            _ => return Err(Error::Invalid(InvalidKind::LabelType)),
        }
    }
}

/// Appends a label in presentation form (RFC 1035 §5.1, as `dig` prints it): `.` and `\`
/// escaped with a backslash, bytes outside `0x21..=0x7e` as `\DDD`.
fn escape_label(label: &[u8], out: &mut String) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => push_decimal_escape(b, out),
        }
    }
}

/// Appends a TXT character-string: printable ASCII (space included) as is, `\` and `"`
/// escaped with a backslash, other bytes as `\DDD` (RFC 1035 §5.1).
fn escape_text(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => push_decimal_escape(b, out),
        }
    }
}

fn push_decimal_escape(b: u8, out: &mut String) {
    out.push('\\');
    out.push(char::from(b'0' + b / 100));
    out.push(char::from(b'0' + (b / 10) % 10));
    out.push(char::from(b'0' + b % 10));
}

fn read_array<const N: usize>(buf: &[u8], pos: usize) -> Result<[u8; N], Error> {
    buf.get(pos..pos + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(Error::Incomplete {
            needed: (pos + N).saturating_sub(buf.len()),
        })
}

fn read_u16(buf: &[u8], pos: usize) -> Result<u16, Error> {
    read_array::<2>(buf, pos).map(u16::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::dns::resolved_addresses;

    /// Query for www.example.com A with an EDNS OPT record.
    const QUERY: &[u8] = &[
        0x12, 0x34, // ID
        0x01, 0x00, // flags: QR=0 OPCODE=QUERY RD=1
        0x00, 0x01, // QDCOUNT 1
        0x00, 0x00, // ANCOUNT 0
        0x00, 0x00, // NSCOUNT 0
        0x00, 0x01, // ARCOUNT 1
        3, b'w', b'w', b'w', // label "www" (offset 12)
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // label "example"
        3, b'c', b'o', b'm', // label "com"
        0,    // root
        0x00, 0x01, // QTYPE A
        0x00, 0x01, // QCLASS IN
        0x00, // OPT owner: root
        0x00, 0x29, // TYPE OPT
        0x04, 0xd0, // CLASS: UDP payload size 1232
        0x00, 0x00, 0x80, 0x00, // TTL: extended RCODE 0, VERSION 0, DO=1
        0x00, 0x00, // RDLENGTH 0
    ];

    /// Response to QUERY: A and AAAA answers whose owners point at the question name.
    const RESPONSE: &[u8] = &[
        0x12, 0x34, // ID
        0x81, 0x80, // flags: QR=1 OPCODE=QUERY RD=1 RA=1 RCODE=NOERROR
        0x00, 0x01, // QDCOUNT 1
        0x00, 0x02, // ANCOUNT 2
        0x00, 0x00, // NSCOUNT 0
        0x00, 0x00, // ARCOUNT 0
        3, b'w', b'w', b'w', // label "www" (offset 12)
        7, b'E', b'x', b'a', b'm', b'p', b'l', b'e', // label "Example" (case kept)
        3, b'c', b'o', b'm', // label "com"
        0,    // root
        0x00, 0x01, // QTYPE A
        0x00, 0x01, // QCLASS IN
        0xc0, 0x0c, // answer 1 owner: pointer to offset 12
        0x00, 0x01, // TYPE A
        0x00, 0x01, // CLASS IN
        0x00, 0x00, 0x01, 0x2c, // TTL 300
        0x00, 0x04, // RDLENGTH 4
        93, 184, 216, 34, // 93.184.216.34
        0xc0, 0x0c, // answer 2 owner: pointer to offset 12
        0x00, 0x1c, // TYPE AAAA
        0x00, 0x01, // CLASS IN
        0x00, 0x00, 0x00, 0x3c, // TTL 60
        0x00, 0x10, // RDLENGTH 16
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
    ];

    /// www.a.com CNAME x.cdn.net, x.cdn.net A 1.2.3.4 and 5.6.7.8.
    const CNAME_CHAIN: &[u8] = &[
        0xbe, 0xef, // ID
        0x81, 0x80, // flags: QR=1 RD=1 RA=1 NOERROR
        0x00, 0x01, // QDCOUNT 1
        0x00, 0x03, // ANCOUNT 3
        0x00, 0x00, // NSCOUNT 0
        0x00, 0x00, // ARCOUNT 0
        3, b'w', b'w', b'w', // label "www" (offset 12)
        1, b'a', // label "a"
        3, b'c', b'o', b'm', // label "com"
        0,    // root
        0x00, 0x01, // QTYPE A
        0x00, 0x01, // QCLASS IN
        0xc0, 0x0c, // answer 1 owner: www.a.com (offset 27)
        0x00, 0x05, // TYPE CNAME
        0x00, 0x01, // CLASS IN
        0x00, 0x00, 0x0e, 0x10, // TTL 3600
        0x00, 0x0b, // RDLENGTH 11
        1, b'x', // label "x" (offset 39)
        3, b'c', b'd', b'n', // label "cdn"
        3, b'n', b'e', b't', // label "net"
        0,    // root
        0xc0, 0x27, // answer 2 owner: pointer to x.cdn.net at offset 39
        0x00, 0x01, // TYPE A
        0x00, 0x01, // CLASS IN
        0x00, 0x00, 0x00, 0x14, // TTL 20
        0x00, 0x04, // RDLENGTH 4
        1, 2, 3, 4, // 1.2.3.4
        0xc0, 0x27, // answer 3 owner: pointer to x.cdn.net
        0x00, 0x01, // TYPE A
        0x00, 0x01, // CLASS IN
        0x00, 0x00, 0x00, 0x14, // TTL 20
        0x00, 0x04, // RDLENGTH 4
        5, 6, 7, 8, // 5.6.7.8
    ];

    /// HTTPS record with alpn, ipv4hint and ipv6hint (RFC 9460 §7).
    const HTTPS_RR: &[u8] = &[
        0x00, 0x07, // ID
        0x81, 0x80, // flags: QR=1 RD=1 RA=1 NOERROR
        0x00, 0x01, // QDCOUNT 1
        0x00, 0x01, // ANCOUNT 1
        0x00, 0x00, // NSCOUNT 0
        0x00, 0x00, // ARCOUNT 0
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // label "example" (offset 12)
        3, b'c', b'o', b'm', // label "com"
        0,    // root
        0x00, 0x41, // QTYPE HTTPS
        0x00, 0x01, // QCLASS IN
        0xc0, 0x0c, // owner: example.com
        0x00, 0x41, // TYPE HTTPS
        0x00, 0x01, // CLASS IN
        0x00, 0x00, 0x00, 0x3c, // TTL 60
        0x00, 0x2a, // RDLENGTH 42
        0x00, 0x01, // SvcPriority 1 (ServiceMode)
        0x00, // TargetName "." (the owner)
        0x00, 0x01, 0x00, 0x03, 0x02, b'h', b'2', // alpn: len 3, "h2"
        0x00, 0x04, 0x00, 0x08, // ipv4hint: len 8
        1, 2, 3, 4, 5, 6, 7, 8, // 1.2.3.4, 5.6.7.8
        0x00, 0x06, 0x00, 0x10, // ipv6hint: len 16
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
    ];

    /// mDNS announcement: AAAA with the cache-flush bit, no question.
    const MDNS_RESPONSE: &[u8] = &[
        0x00, 0x00, // ID 0 (RFC 6762 §18.1)
        0x84, 0x00, // flags: QR=1 AA=1
        0x00, 0x00, // QDCOUNT 0
        0x00, 0x01, // ANCOUNT 1
        0x00, 0x00, // NSCOUNT 0
        0x00, 0x00, // ARCOUNT 0
        5, b'p', b'h', b'o', b'n', b'e', // label "phone"
        5, b'l', b'o', b'c', b'a', b'l', // label "local"
        0,    // root
        0x00, 0x1c, // TYPE AAAA
        0x80, 0x01, // CLASS IN with cache-flush bit
        0x00, 0x00, 0x00, 0x78, // TTL 120
        0x00, 0x10, // RDLENGTH 16
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // fe80::1
    ];

    /// mDNS query with the unicast-response (QU) bit.
    const MDNS_QUERY: &[u8] = &[
        0x00, 0x00, // ID 0
        0x00, 0x00, // flags: query
        0x00, 0x01, // QDCOUNT 1
        0x00, 0x00, // ANCOUNT 0
        0x00, 0x00, // NSCOUNT 0
        0x00, 0x00, // ARCOUNT 0
        8, b'_', b'a', b'i', b'r', b'p', b'l', b'a', b'y', // label "_airplay"
        4, b'_', b't', b'c', b'p', // label "_tcp"
        5, b'l', b'o', b'c', b'a', b'l', // label "local"
        0,    // root
        0x00, 0x0c, // QTYPE PTR
        0x80, 0x01, // QCLASS IN with QU bit
    ];

    /// TXT response with two strings, one holding a quote and a NUL byte.
    const TXT_RESPONSE: &[u8] = &[
        0x00, 0x09, // ID
        0x81, 0x80, // flags: QR=1 RD=1 RA=1 NOERROR
        0x00, 0x01, // QDCOUNT 1
        0x00, 0x01, // ANCOUNT 1
        0x00, 0x00, // NSCOUNT 0
        0x00, 0x00, // ARCOUNT 0
        1, b't', // label "t" (offset 12)
        0,    // root
        0x00, 0x10, // QTYPE TXT
        0x00, 0x01, // QCLASS IN
        0xc0, 0x0c, // owner: t
        0x00, 0x10, // TYPE TXT
        0x00, 0x01, // CLASS IN
        0x00, 0x00, 0x00, 0x05, // TTL 5
        0x00, 0x11, // RDLENGTH 17
        11, b'v', b'=', b's', b'p', b'f', b'1', b' ', b'-', b'a', b'l', b'l', // "v=spf1 -all"
        4, b'a', b'"', 0x00, b'b', // a"<NUL>b
    ];

    /// Appends `name` in uncompressed wire form.
    fn push_name(out: &mut Vec<u8>, name: &str) {
        for label in name.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }

    /// A header followed by one question for `qname`.
    fn header_and_question(counts: [u16; 4], qname: &str) -> Vec<u8> {
        let mut out = vec![0xab, 0xcd, 0x81, 0x80];
        for c in counts {
            out.extend_from_slice(&c.to_be_bytes());
        }
        push_name(&mut out, qname);
        out.extend_from_slice(&[0, 1, 0, 1]);
        out
    }

    /// Appends a record with owner pointer to offset 12.
    fn push_record(out: &mut Vec<u8>, rrtype: u16, rdata: &[u8]) {
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&rrtype.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }

    #[test]
    fn query_with_edns() {
        let msg = parse_message(QUERY).unwrap();
        assert_eq!(msg.id, 0x1234);
        assert!(!msg.is_response);
        assert!(msg.recursion_desired);
        assert_eq!(msg.opcode, Opcode::QUERY);
        assert_eq!(msg.rcode, Rcode::NOERROR);
        assert_eq!(msg.questions.len(), 1);
        let q = &msg.questions[0];
        assert_eq!(q.name, "www.example.com");
        assert_eq!(q.rrtype, RrType::A);
        assert_eq!(q.class, Class::IN);
        assert!(!q.unicast_response);
        assert_eq!(msg.additionals_count, 1);
        assert_eq!(
            msg.edns,
            Some(Edns {
                udp_payload_size: 1232,
                version: 0,
                dnssec_ok: true
            })
        );
        assert!(msg.anomalies.is_empty());
    }

    #[test]
    fn response_with_compression() {
        let msg = parse_message(RESPONSE).unwrap();
        assert!(msg.is_response && msg.recursion_available);
        assert_eq!(msg.questions[0].name, "www.Example.com");
        assert_eq!(msg.answers.len(), 2);
        let a = &msg.answers[0];
        assert_eq!(a.name, "www.Example.com");
        assert_eq!((a.rrtype, a.class, a.ttl), (RrType::A, Class::IN, 300));
        assert_eq!(a.data, RData::Addr("93.184.216.34".parse().unwrap()));
        let aaaa = &msg.answers[1];
        assert_eq!(aaaa.rrtype, RrType::AAAA);
        assert_eq!(aaaa.data, RData::Addr("2001:db8::1".parse().unwrap()));
        assert!(msg.anomalies.is_empty());
        let pairs: Vec<_> = resolved_addresses(&msg).collect();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].1, "www.Example.com");
    }

    #[test]
    fn cname_chain_resolves_to_question_name() {
        let msg = parse_message(CNAME_CHAIN).unwrap();
        assert_eq!(msg.answers[0].rrtype, RrType::CNAME);
        assert_eq!(msg.answers[0].data, RData::Name("x.cdn.net".into()));
        assert_eq!(msg.answers[1].name, "x.cdn.net");
        let pairs: Vec<_> = resolved_addresses(&msg).collect();
        assert_eq!(
            pairs,
            vec![
                ("1.2.3.4".parse().unwrap(), "www.a.com"),
                ("5.6.7.8".parse().unwrap(), "www.a.com"),
            ]
        );
    }

    #[test]
    fn https_record_with_hints() {
        let msg = parse_message(HTTPS_RR).unwrap();
        assert_eq!(msg.questions[0].rrtype, RrType::HTTPS);
        assert_eq!(
            msg.answers[0].data,
            RData::Svcb {
                priority: 1,
                target: ".".into(),
                addrs: vec![
                    "1.2.3.4".parse().unwrap(),
                    "5.6.7.8".parse().unwrap(),
                    "2001:db8::2".parse().unwrap(),
                ],
            }
        );
        assert!(msg.anomalies.is_empty());
        // Hints are not answers: no resolution pairs.
        assert_eq!(resolved_addresses(&msg).count(), 0);
    }

    #[test]
    fn https_hint_limit_and_bad_hint_length() {
        let limits = Limits {
            max_svcb_addrs: 1,
            ..Limits::default()
        };
        let msg = parse_message_with(HTTPS_RR, &limits).unwrap();
        let RData::Svcb { addrs, .. } = &msg.answers[0].data else {
            panic!("not svcb");
        };
        assert_eq!(addrs.len(), 1);
        assert_eq!(msg.truncation.svcb_addrs_dropped, 2);
        assert!(msg.anomalies.contains(Anomaly::SvcbAddrLimit));

        // ipv4hint of 7 bytes: the record is kept without data.
        let mut bad = HTTPS_RR.to_vec();
        let at = bad.iter().position(|&b| b == 0x04).unwrap();
        bad[at + 2] = 0x07;
        let msg = parse_message(&bad).unwrap();
        assert_eq!(msg.answers[0].data, RData::Other { len: 42 });
        assert!(msg.anomalies.contains(Anomaly::RdataMalformed));
    }

    #[test]
    fn mdns_bits_are_masked() {
        let msg = parse_message(MDNS_RESPONSE).unwrap();
        assert!(msg.authoritative);
        assert!(msg.questions.is_empty());
        let rr = &msg.answers[0];
        assert_eq!(rr.name, "phone.local");
        assert_eq!(rr.class, Class::IN);
        assert!(rr.cache_flush);
        assert_eq!(rr.data, RData::Addr("fe80::1".parse().unwrap()));
        // No question: the owner name itself is what was resolved.
        let pairs: Vec<_> = resolved_addresses(&msg).collect();
        assert_eq!(pairs, vec![("fe80::1".parse().unwrap(), "phone.local")]);

        let msg = parse_message(MDNS_QUERY).unwrap();
        let q = &msg.questions[0];
        assert_eq!(q.name, "_airplay._tcp.local");
        assert_eq!((q.rrtype, q.class), (RrType::PTR, Class::IN));
        assert!(q.unicast_response);
    }

    #[test]
    fn txt_strings_are_escaped_and_bounded() {
        let msg = parse_message(TXT_RESPONSE).unwrap();
        assert_eq!(
            msg.answers[0].data,
            RData::Text(vec!["v=spf1 -all".into(), "a\\\"\\000b".into()])
        );
        assert!(msg.anomalies.is_empty());

        let limits = Limits {
            max_txt_bytes: 12,
            ..Limits::default()
        };
        let msg = parse_message_with(TXT_RESPONSE, &limits).unwrap();
        assert_eq!(msg.answers[0].data, RData::Text(vec!["v=spf1 -all".into()]));
        assert_eq!(msg.truncation.txt_bytes_dropped, 5);
        assert!(msg.anomalies.contains(Anomaly::TxtLimit));
    }

    #[test]
    fn mx_srv_soa_and_ptr() {
        let mut m = header_and_question([1, 4, 0, 0], "z.org");
        // MX: preference 10, exchange "mail" + pointer to z.org.
        push_record(&mut m, 15, &[0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 0x0c]);
        // SRV: priority 1, weight 2, port 5060, target z.org (pointer).
        push_record(&mut m, 33, &[0, 1, 0, 2, 0x13, 0xc4, 0xc0, 0x0c]);
        // SOA: mname ns1.z.org, rname root (.), five 32-bit fields.
        let mut soa = vec![3, b'n', b's', b'1', 0xc0, 0x0c, 0];
        soa.extend_from_slice(&[0; 20]);
        push_record(&mut m, 6, &soa);
        // PTR to the root name.
        push_record(&mut m, 12, &[0]);
        let msg = parse_message(&m).unwrap();
        let data: Vec<_> = msg.answers.iter().map(|rr| rr.data.clone()).collect();
        assert_eq!(
            data,
            vec![
                RData::Mx {
                    preference: 10,
                    exchange: "mail.z.org".into()
                },
                RData::Srv {
                    priority: 1,
                    weight: 2,
                    port: 5060,
                    target: "z.org".into()
                },
                RData::Name("ns1.z.org".into()),
                RData::Name(".".into()),
            ]
        );
        assert!(msg.anomalies.is_empty(), "{:?}", msg.anomalies);
    }

    #[test]
    fn unknown_type_and_extended_rcode() {
        let mut m = header_and_question([1, 1, 0, 1], "q");
        push_record(&mut m, 999, &[1, 2, 3]);
        // OPT with extended RCODE 1: 1 << 4 | 0 = 16 (BADVERS).
        m.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 1, 0, 0, 0, 0, 0]);
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.answers[0].rrtype.name(), "TYPE999");
        assert_eq!(msg.answers[0].data, RData::Other { len: 3 });
        assert_eq!(msg.rcode, Rcode::BADVERS);
        assert_eq!(msg.rcode.name(), "BADVERS");
        assert_eq!(msg.edns.map(|e| e.udp_payload_size), Some(4096));
    }

    #[test]
    fn names_are_escaped_and_root_is_a_dot() {
        let mut m = header_and_question([1, 0, 0, 0], "");
        // Replace the root question name with a label "a.b\0 c" then "x".
        m.truncate(12);
        m.extend_from_slice(&[6, b'a', b'.', b'b', 0, b' ', b'\\', 1, b'x', 0, 0, 1, 0, 1]);
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.questions[0].name, "a\\.b\\000\\032\\\\.x");

        let root = header_and_question([1, 0, 0, 0], "");
        assert_eq!(parse_message(&root).unwrap().questions[0].name, ".");
    }

    #[test]
    fn code_point_names() {
        assert_eq!(RrType::AAAA.name(), "AAAA");
        assert_eq!(RrType(65).name(), "HTTPS");
        assert_eq!(RrType(65280).name(), "TYPE65280");
        assert_eq!(RrType::SVCB.to_string(), "SVCB");
        assert_eq!(Rcode::NXDOMAIN.name(), "NXDOMAIN");
        assert_eq!(Rcode(3841).name(), "RCODE3841");
        assert_eq!(Class(0x42).to_string(), "CLASS66");
        assert_eq!(Opcode(3).to_string(), "OPCODE3");
    }

    #[test]
    fn limits_on_questions_and_answers() {
        let mut m = header_and_question([20, 70, 0, 0], "q");
        for _ in 1..20 {
            m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        }
        for i in 0..70u8 {
            push_record(&mut m, 1, &[10, 0, 0, i]);
        }
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.questions.len(), 16);
        assert_eq!(msg.answers.len(), 64);
        assert_eq!(msg.truncation.questions_dropped, 4);
        assert_eq!(msg.truncation.answers_dropped, 6);
        assert!(msg.anomalies.contains(Anomaly::QuestionLimit));
        assert!(msg.anomalies.contains(Anomaly::AnswerLimit));
        assert!(!msg.anomalies.contains(Anomaly::TruncatedRecords));
        let mut stats = crate::proto::dns::Stats::default();
        stats.observe(&Ok(msg));
        stats.observe(&parse_message(&[]));
        assert_eq!(stats.messages_total, 1);
        assert_eq!(stats.answers_dropped_total, 6);
        assert_eq!(stats.invalid_total, 1);
    }

    #[test]
    fn pointer_loop_is_rejected() {
        let mut m = header_and_question([1, 0, 0, 0], "");
        m.truncate(12);
        // label "a" at offset 12, then a pointer back to 12: a.a.a.a... forever.
        m.extend_from_slice(&[1, b'a', 0xc0, 0x0c, 0, 1, 0, 1]);
        assert_eq!(
            parse_message(&m),
            Err(Error::Invalid(InvalidKind::PointerLoop))
        );
    }

    #[test]
    fn pointer_to_itself_or_forward_is_rejected() {
        let mut m = header_and_question([1, 0, 0, 0], "");
        m.truncate(12);
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]); // pointer to itself
        assert_eq!(
            parse_message(&m),
            Err(Error::Invalid(InvalidKind::PointerForward))
        );
        m[13] = 0x0e; // pointer to offset 14, after itself
        assert_eq!(
            parse_message(&m),
            Err(Error::Invalid(InvalidKind::PointerForward))
        );
    }

    #[test]
    fn pointer_out_of_bounds_is_rejected() {
        let mut m = header_and_question([1, 0, 0, 0], "");
        m.truncate(12);
        m.extend_from_slice(&[0xc0, 0xff, 0, 1, 0, 1]); // past the end
        assert_eq!(
            parse_message(&m),
            Err(Error::Invalid(InvalidKind::PointerOutOfBounds))
        );
        m[13] = 0x02; // into the header
        assert_eq!(
            parse_message(&m),
            Err(Error::Invalid(InvalidKind::PointerOutOfBounds))
        );
    }

    #[test]
    fn name_length_limit() {
        let label = "x".repeat(63);
        // 3 × 64 + 62 + 1 = 255 octets: the longest legal name.
        let longest = format!("{label}.{label}.{label}.{}", "y".repeat(61));
        let msg = parse_message(&header_and_question([1, 0, 0, 0], &longest)).unwrap();
        assert_eq!(msg.questions[0].name, longest);
        // 4 × 64 + 1 = 257 octets.
        let too_long = format!("{label}.{label}.{label}.{label}");
        assert_eq!(
            parse_message(&header_and_question([1, 0, 0, 0], &too_long)),
            Err(Error::Invalid(InvalidKind::NameTooLong))
        );
    }

    #[test]
    fn reserved_label_type_is_rejected() {
        let mut m = header_and_question([1, 0, 0, 0], "");
        m.truncate(12);
        m.extend_from_slice(&[0x41, 0, 0, 1, 0, 1]);
        assert_eq!(
            parse_message(&m),
            Err(Error::Invalid(InvalidKind::LabelType))
        );
    }

    #[test]
    fn short_buffers() {
        assert_eq!(
            parse_message(&[]),
            Err(Error::Invalid(InvalidKind::HeaderTooShort))
        );
        assert_eq!(
            parse_message(&QUERY[..11]),
            Err(Error::Invalid(InvalidKind::HeaderTooShort))
        );
        // Question cut inside QTYPE.
        assert_eq!(
            parse_message(&QUERY[..30]),
            Err(Error::Incomplete { needed: 1 })
        );
    }

    #[test]
    fn counts_larger_than_data_keep_what_is_there() {
        // Header says 5 answers, the message holds the first one only.
        let mut m = RESPONSE[..RESPONSE.len() - 28].to_vec();
        m[7] = 5;
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.answers_count, 5);
        assert_eq!(msg.answers.len(), 1);
        assert!(msg.anomalies.contains(Anomaly::TruncatedRecords));
        // Cut inside the rdata of the first answer: the question survives.
        let msg = parse_message(&RESPONSE[..44]).unwrap();
        assert_eq!(msg.questions[0].name, "www.Example.com");
        assert!(msg.answers.is_empty());
        assert!(msg.anomalies.contains(Anomaly::TruncatedRecords));
        // Question count larger than data: that is an error.
        let mut q = QUERY[..33].to_vec();
        q[5] = 2;
        q[11] = 0;
        assert!(matches!(parse_message(&q), Err(Error::Incomplete { .. })));
    }

    #[test]
    fn rdata_problems_keep_the_record() {
        // A record with 5 bytes of rdata.
        let mut m = header_and_question([1, 2, 0, 0], "q");
        push_record(&mut m, 1, &[1, 2, 3, 4, 5]);
        // CNAME whose rdata is a pointer to itself.
        let at = m.len() + 12;
        push_record(&mut m, 5, &[0xc0, at as u8]);
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.answers[0].data, RData::Other { len: 5 });
        assert_eq!(msg.answers[1].data, RData::Other { len: 2 });
        assert!(msg.anomalies.contains(Anomaly::RdataMalformed));

        // CNAME name running past RDLENGTH.
        let mut m = header_and_question([1, 1, 0, 0], "q");
        push_record(&mut m, 5, &[3, b'a', b'b']);
        m.extend_from_slice(&[b'c', 0]);
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.answers[0].data, RData::Other { len: 3 });
        assert!(msg.anomalies.contains(Anomaly::TrailingBytes));

        // MX with a byte of slack after the name.
        let mut m = header_and_question([1, 1, 0, 0], "q");
        push_record(&mut m, 15, &[0, 1, 0, 0xff]);
        let msg = parse_message(&m).unwrap();
        assert!(msg.anomalies.contains(Anomaly::RdataLengthMismatch));
    }

    #[test]
    fn probe() {
        for good in [
            QUERY,
            RESPONSE,
            CNAME_CHAIN,
            HTTPS_RR,
            MDNS_RESPONSE,
            MDNS_QUERY,
        ] {
            assert!(probe_udp(good));
        }
        assert!(!probe_udp(&[]));
        assert!(!probe_udp(&QUERY[..12]));
        let mut m = QUERY.to_vec();
        m[2] = 0x38; // opcode 7
        assert!(!probe_udp(&m));
        let mut m = QUERY.to_vec();
        m[7] = 9; // nine answers cannot fit
        assert!(!probe_udp(&m));
        let mut m = QUERY.to_vec();
        m[12] = 0xc0; // first name starts with a pointer
        assert!(!probe_udp(&m));
        assert!(!probe_udp(&[0u8; 40]));
    }

    /// xorshift64: deterministic pseudo-random numbers for the robustness tests.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    fn check_invariants(buf: &[u8]) {
        let limits = Limits::default();
        let _ = probe_udp(buf);
        if let Ok(msg) = parse_message(buf) {
            assert!(msg.questions.len() <= limits.max_questions);
            assert!(msg.answers.len() <= limits.max_answers);
            for q in &msg.questions {
                // Escaping at most quadruples the 254 printable octets of a name.
                assert!(!q.name.is_empty() && q.name.len() <= 4 * MAX_NAME_WIRE_BYTES);
            }
            for rr in &msg.answers {
                assert!(!rr.name.is_empty() && rr.name.len() <= 4 * MAX_NAME_WIRE_BYTES);
                if let RData::Text(strings) = &rr.data {
                    let raw: usize = strings.iter().map(|s| s.len()).sum();
                    assert!(raw <= 4 * limits.max_txt_bytes);
                }
            }
            let _ = resolved_addresses(&msg).count();
        }
    }

    #[test]
    fn no_panic_on_random_truncated_and_mutated_input() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let fixtures = [
            QUERY,
            RESPONSE,
            CNAME_CHAIN,
            HTTPS_RR,
            MDNS_RESPONSE,
            MDNS_QUERY,
            TXT_RESPONSE,
        ];
        for fixture in fixtures {
            for len in 0..=fixture.len() {
                check_invariants(&fixture[..len]);
            }
            for _ in 0..3000 {
                let mut m = fixture.to_vec();
                for _ in 0..=(rng.next() % 4) {
                    let at = (rng.next() as usize) % m.len();
                    m[at] = rng.next() as u8;
                }
                let cut = (rng.next() as usize) % (m.len() + 1);
                check_invariants(&m);
                check_invariants(&m[..cut]);
            }
        }
        for _ in 0..5000 {
            let len = (rng.next() % 300) as usize;
            let mut m: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Plausible headers reach deeper code: small counts, names of small labels.
            if m.len() >= 12 && rng.next().is_multiple_of(2) {
                m[4] = 0;
                m[5] = (rng.next() % 3) as u8;
                m[6] = 0;
                m[7] = (rng.next() % 5) as u8;
                for b in m.iter_mut().skip(12).step_by(3) {
                    *b &= 0xcf;
                }
            }
            check_invariants(&m);
        }
    }
}
