//! A streaming pcapng encoder for evidence files (draft-ietf-opsawg-pcapng, "PCAP Next
//! Generation Dump File Format"), little-endian, one section per file.
//!
//! [`Encoder`] turns packets into blocks appended to a caller's buffer and never does I/O,
//! so the same code serves the evidence thread (which hashes and writes the buffer) and the
//! tests. [`PcapngWriter`] wraps it around any `Write` for callers that want a stream.
//!
//! Layout written: one Section Header Block (`shb_userappl` and a comment naming leaktap
//! and its version), one Interface Description Block per distinct link type, written
//! just before the first packet that uses it (the format allows an IDB anywhere before its
//! first use), each with the snap length and `if_tsresol` = 6 (microseconds), then one
//! Enhanced Packet Block per packet with an optional `opt_comment`.
//!
//! Every input is checked before a byte is appended: a packet that cannot be written (link
//! type over 16 bits, negative timestamp, too many interfaces) is refused with a small
//! `Copy` error and leaves the buffer as it was, so the file stays well-formed.

use std::io::Write;

use super::ring::PacketMeta;

/// Section Header Block type (§4.1); its value reads the same in either byte order.
const BLOCK_SHB: u32 = 0x0A0D_0D0A;
/// Interface Description Block type (§4.2).
const BLOCK_IDB: u32 = 0x0000_0001;
/// Enhanced Packet Block type (§4.3).
const BLOCK_EPB: u32 = 0x0000_0006;
/// Byte-order magic of the SHB (§4.1), written little-endian.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// `opt_endofopt` (§3.5).
const OPT_END: u16 = 0;
/// `opt_comment` (§3.5): UTF-8 text, valid in every block.
const OPT_COMMENT: u16 = 1;
/// `shb_userappl` (§4.1): the application that wrote the section.
const OPT_SHB_USERAPPL: u16 = 4;
/// `if_tsresol` (§4.2): 6 = timestamps count microseconds.
const OPT_IF_TSRESOL: u16 = 9;
/// Option values carry a 16-bit length; longer comments are cut at a character boundary
/// below this (a multiple of 4 so the padding stays simple).
const MAX_OPTION_BYTES: usize = 65_532;
/// Distinct link types in one file. A flow's frames come from one interface, so more than
/// a few means something is wrong; the limit keeps the interface list tiny.
pub const MAX_INTERFACES: usize = 16;
/// Bytes of one packet written at most, whatever the snap length says: far above any
/// capture's frames (64 KiB GRO segments, 9 KiB jumbo frames), and it keeps every block
/// length well inside pcapng's 32-bit fields.
const MAX_CAPTURED_BYTES: usize = 16 << 20;

/// Why one packet was not encoded. The buffer is unchanged when this is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// pcapng link types are 16 bits (§4.2 `LinkType`).
    #[error("link type {0} does not fit pcapng's 16-bit field")]
    LinkTypeOutOfRange(u32),
    /// Timestamps are unsigned counts since 1970 (§4.3).
    #[error("timestamp {0} us is before 1970")]
    TimestampBeforeEpoch(i64),
    /// More distinct link types than [`MAX_INTERFACES`].
    #[error("more than {MAX_INTERFACES} link types in one file")]
    TooManyInterfaces,
}

impl PacketError {
    /// Fixed label for counters.
    pub fn as_str(self) -> &'static str {
        match self {
            PacketError::LinkTypeOutOfRange(_) => "link_type_out_of_range",
            PacketError::TimestampBeforeEpoch(_) => "timestamp_before_epoch",
            PacketError::TooManyInterfaces => "too_many_interfaces",
        }
    }
}

/// Errors of [`PcapngWriter`].
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write pcapng")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Packet(#[from] PacketError),
}

/// Encodes pcapng blocks into a buffer. Holds the interface list of the section.
#[derive(Clone, Debug)]
pub struct Encoder {
    snaplen: u32,
    /// Link type of interface id `i` at index `i`.
    interfaces: Vec<u16>,
    /// Packets cut to the snap length so far.
    truncated: u64,
}

impl Encoder {
    /// An encoder whose IDBs announce `snaplen` (0 means "no limit" in pcapng; leaktap
    /// passes the capture's snap length). Packets longer than a non-zero snaplen are cut
    /// to it, keeping their original length.
    pub fn new(snaplen: u32) -> Encoder {
        Encoder {
            snaplen,
            interfaces: Vec::new(),
            truncated: 0,
        }
    }

    /// An encoder continuing a section whose IDBs for `link_types` (in interface-id
    /// order) were already written, e.g. after the file was closed and reopened.
    pub fn resume(snaplen: u32, link_types: &[u16]) -> Encoder {
        Encoder {
            snaplen,
            interfaces: link_types.to_vec(),
            truncated: 0,
        }
    }

    /// Link types of the interfaces written so far, in interface-id order.
    pub fn link_types(&self) -> &[u16] {
        &self.interfaces
    }

    /// Packets cut to the snap length so far.
    pub fn truncated(&self) -> u64 {
        self.truncated
    }

    /// Appends the Section Header Block. `comment` names the writer (cut if too long).
    pub fn section_header(&self, out: &mut Vec<u8>, userappl: &str, comment: &str) {
        let start = begin_block(out, BLOCK_SHB);
        put_u32(out, BYTE_ORDER_MAGIC);
        put_u16(out, 1); // major version
        put_u16(out, 0); // minor version
        out.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
        put_option(out, OPT_SHB_USERAPPL, userappl.as_bytes());
        put_option(out, OPT_COMMENT, cut_utf8(comment).as_bytes());
        put_u16(out, OPT_END);
        put_u16(out, 0);
        end_block(out, start);
    }

    /// Appends one packet (and, first, the IDB of its link type if this is the first
    /// packet of that type). `data` is what was captured; `meta.wire_len` below
    /// `data.len()` is raised to it.
    pub fn packet(
        &mut self,
        out: &mut Vec<u8>,
        meta: &PacketMeta,
        data: &[u8],
        comment: Option<&str>,
    ) -> Result<(), PacketError> {
        let link = u16::try_from(meta.link_type)
            .map_err(|_| PacketError::LinkTypeOutOfRange(meta.link_type))?;
        let micros = u64::try_from(meta.ts.as_micros())
            .map_err(|_| PacketError::TimestampBeforeEpoch(meta.ts.as_micros()))?;
        let interface = match self.interfaces.iter().position(|&l| l == link) {
            Some(i) => i,
            None => {
                if self.interfaces.len() >= MAX_INTERFACES {
                    return Err(PacketError::TooManyInterfaces);
                }
                self.interface_block(out, link);
                self.interfaces.push(link);
                self.interfaces.len() - 1
            }
        };
        let limit = if self.snaplen == 0 {
            MAX_CAPTURED_BYTES
        } else {
            (self.snaplen as usize).min(MAX_CAPTURED_BYTES)
        };
        let captured = if data.len() > limit {
            self.truncated += 1;
            data.get(..limit).unwrap_or(data)
        } else {
            data
        };
        let caplen = captured.len() as u32;
        let wire_len = meta
            .wire_len
            .max(u32::try_from(data.len()).unwrap_or(u32::MAX));

        let start = begin_block(out, BLOCK_EPB);
        put_u32(out, interface as u32);
        put_u32(out, (micros >> 32) as u32);
        put_u32(out, micros as u32);
        put_u32(out, caplen);
        put_u32(out, wire_len);
        out.extend_from_slice(captured);
        pad4(out);
        if let Some(text) = comment {
            put_option(out, OPT_COMMENT, cut_utf8(text).as_bytes());
            put_u16(out, OPT_END);
            put_u16(out, 0);
        }
        end_block(out, start);
        Ok(())
    }

    fn interface_block(&self, out: &mut Vec<u8>, link: u16) {
        let start = begin_block(out, BLOCK_IDB);
        put_u16(out, link);
        put_u16(out, 0); // reserved
        put_u32(out, self.snaplen);
        put_option(out, OPT_IF_TSRESOL, &[6]);
        put_u16(out, OPT_END);
        put_u16(out, 0);
        end_block(out, start);
    }
}

/// A pcapng stream over any writer: writes the SHB on creation and each packet as it
/// comes. Counts bytes and packets.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    encoder: Encoder,
    buf: Vec<u8>,
    bytes: u64,
    packets: u64,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header; `comment` goes into the SHB.
    pub fn new(mut out: W, snaplen: u32, comment: &str) -> Result<Self, WriteError> {
        let encoder = Encoder::new(snaplen);
        let mut buf = Vec::with_capacity(4096);
        encoder.section_header(&mut buf, &userappl(), comment);
        out.write_all(&buf)?;
        let bytes = buf.len() as u64;
        buf.clear();
        Ok(PcapngWriter {
            out,
            encoder,
            buf,
            bytes,
            packets: 0,
        })
    }

    /// Writes one packet. A refused packet ([`WriteError::Packet`]) leaves the stream
    /// well-formed; an I/O error does not.
    pub fn write_packet(
        &mut self,
        meta: &PacketMeta,
        data: &[u8],
        comment: Option<&str>,
    ) -> Result<(), WriteError> {
        self.buf.clear();
        self.encoder.packet(&mut self.buf, meta, data, comment)?;
        self.out.write_all(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.packets += 1;
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the output.
    pub fn into_inner(mut self) -> Result<W, WriteError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// `shb_userappl` text: `leaktap <version>`.
pub fn userappl() -> String {
    format!("leaktap {}", env!("CARGO_PKG_VERSION"))
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// Writes the block type and a placeholder length; returns the block's start offset.
fn begin_block(out: &mut Vec<u8>, block_type: u32) -> usize {
    // Blocks start 4-aligned relative to the buffer start; callers only append whole
    // blocks, so the buffer length is always a multiple of 4 here.
    let start = out.len();
    put_u32(out, block_type);
    put_u32(out, 0);
    start
}

/// Appends the trailing length and patches the leading one (§3.1: both equal the whole
/// block's size).
fn end_block(out: &mut Vec<u8>, start: usize) {
    let total = (out.len() - start + 4) as u32;
    put_u32(out, total);
    out[start + 4..start + 8].copy_from_slice(&total.to_le_bytes());
}

/// One option: code, length, value, padding to 32 bits (§3.5).
fn put_option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = value.get(..MAX_OPTION_BYTES).unwrap_or(value);
    put_u16(out, code);
    put_u16(out, value.len() as u16);
    out.extend_from_slice(value);
    pad4(out);
}

/// The longest prefix of `text` that fits an option, ending on a character boundary.
fn cut_utf8(text: &str) -> &str {
    if text.len() <= MAX_OPTION_BYTES {
        return text;
    }
    let mut end = MAX_OPTION_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;

    fn meta(ts: i64, link: u32, wire: u32) -> PacketMeta {
        PacketMeta {
            ts: Timestamp::from_micros(ts),
            link_type: link,
            caplen: 0,
            wire_len: wire,
        }
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
    }

    /// Splits a buffer into (type, body) blocks, checking both length fields.
    pub(crate) fn blocks(b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < b.len() {
            let ty = u32_at(b, at);
            let len = u32_at(b, at + 4) as usize;
            assert_eq!(len % 4, 0, "block length is 32-bit aligned");
            assert_eq!(u32_at(b, at + len - 4) as usize, len, "trailing length");
            out.push((ty, b[at + 8..at + len - 4].to_vec()));
            at += len;
        }
        assert_eq!(at, b.len());
        out
    }

    #[test]
    fn section_header_fields() {
        let enc = Encoder::new(262_144);
        let mut b = Vec::new();
        enc.section_header(&mut b, "leaktap 0.1.0", "evidence");
        let blocks = blocks(&b);
        assert_eq!(blocks.len(), 1);
        let (ty, body) = &blocks[0];
        assert_eq!(*ty, BLOCK_SHB);
        assert_eq!(u32_at(body, 0), BYTE_ORDER_MAGIC);
        assert_eq!(u16_at(body, 4), 1); // major
        assert_eq!(u16_at(body, 6), 0); // minor
        assert_eq!(&body[8..16], &[0xff; 8]); // section length -1
        assert_eq!(u16_at(body, 16), OPT_SHB_USERAPPL);
        assert_eq!(u16_at(body, 18), 13);
        assert_eq!(&body[20..33], b"leaktap 0.1.0");
        // Padded to 36, then the comment.
        assert_eq!(u16_at(body, 36), OPT_COMMENT);
        assert_eq!(u16_at(body, 38), 8);
        assert_eq!(&body[40..48], b"evidence");
        assert_eq!(u16_at(body, 48), OPT_END);
        assert_eq!(body.len(), 52);
    }

    #[test]
    fn interface_per_link_type_then_packets() {
        let mut enc = Encoder::new(1500);
        let mut b = Vec::new();
        enc.packet(
            &mut b,
            &meta(1_772_442_040_500_001, 1, 60),
            &[0xaa; 60],
            None,
        )
        .unwrap();
        enc.packet(&mut b, &meta(5, 101, 3), &[1, 2, 3], Some("héllo"))
            .unwrap();
        enc.packet(&mut b, &meta(6, 1, 2), &[9, 9], None).unwrap();
        let blocks = blocks(&b);
        let types: Vec<u32> = blocks.iter().map(|b| b.0).collect();
        assert_eq!(
            types,
            [BLOCK_IDB, BLOCK_EPB, BLOCK_IDB, BLOCK_EPB, BLOCK_EPB]
        );
        // IDB: link type, reserved, snaplen, if_tsresol = 6, end.
        let idb = &blocks[0].1;
        assert_eq!(u16_at(idb, 0), 1);
        assert_eq!(u32_at(idb, 4), 1500);
        assert_eq!(u16_at(idb, 8), OPT_IF_TSRESOL);
        assert_eq!(u16_at(idb, 10), 1);
        assert_eq!(idb[12], 6);
        assert_eq!(u16_at(&blocks[2].1, 0), 101);
        // EPB: interface, ts high/low in microseconds, caplen, wire length, data.
        let epb = &blocks[1].1;
        let micros = 1_772_442_040_500_001u64;
        assert_eq!(u32_at(epb, 0), 0);
        assert_eq!(u32_at(epb, 4), (micros >> 32) as u32);
        assert_eq!(u32_at(epb, 8), micros as u32);
        assert_eq!(u32_at(epb, 12), 60);
        assert_eq!(u32_at(epb, 16), 60);
        assert_eq!(&epb[20..80], &[0xaa; 60]);
        assert_eq!(epb.len(), 80); // no options
                                   // Second packet: interface 1, data padded, then the comment option.
        let epb = &blocks[3].1;
        assert_eq!(u32_at(epb, 0), 1);
        assert_eq!(u32_at(epb, 12), 3);
        assert_eq!(&epb[20..24], &[1, 2, 3, 0]);
        assert_eq!(u16_at(epb, 24), OPT_COMMENT);
        assert_eq!(u16_at(epb, 26), "héllo".len() as u16);
        assert_eq!(&epb[28..34], "héllo".as_bytes());
        // Third packet reuses interface 0.
        assert_eq!(u32_at(&blocks[4].1, 0), 0);
        assert_eq!(enc.link_types(), &[1, 101]);
    }

    #[test]
    fn snaplen_cuts_and_keeps_wire_length() {
        let mut enc = Encoder::new(4);
        let mut b = Vec::new();
        enc.packet(&mut b, &meta(1, 1, 0), &[1, 2, 3, 4, 5, 6], None)
            .unwrap();
        let blocks = blocks(&b);
        let epb = &blocks[1].1;
        assert_eq!(u32_at(epb, 12), 4); // captured
        assert_eq!(u32_at(epb, 16), 6); // wire length raised to the data length
        assert_eq!(enc.truncated(), 1);
    }

    #[test]
    fn refused_packets_leave_the_buffer_alone() {
        let mut enc = Encoder::new(0);
        let mut b = Vec::new();
        assert_eq!(
            enc.packet(&mut b, &meta(-1, 1, 1), &[1], None),
            Err(PacketError::TimestampBeforeEpoch(-1))
        );
        assert_eq!(
            enc.packet(&mut b, &meta(1, 70_000, 1), &[1], None),
            Err(PacketError::LinkTypeOutOfRange(70_000))
        );
        for link in 0..MAX_INTERFACES as u32 {
            enc.packet(&mut b, &meta(1, link, 1), &[1], None).unwrap();
        }
        let len = b.len();
        assert_eq!(
            enc.packet(&mut b, &meta(1, 999, 1), &[1], None),
            Err(PacketError::TooManyInterfaces)
        );
        assert_eq!(b.len(), len);
        blocks(&b);
    }

    #[test]
    fn long_comments_are_cut_on_a_character_boundary() {
        let mut enc = Encoder::new(0);
        let mut b = Vec::new();
        let long = "证".repeat(30_000); // 90 000 bytes
        enc.packet(&mut b, &meta(1, 1, 1), &[1], Some(&long))
            .unwrap();
        let blocks = blocks(&b);
        let epb = &blocks[1].1;
        let len = u16_at(epb, 26) as usize;
        assert!(len <= MAX_OPTION_BYTES);
        assert!(std::str::from_utf8(&epb[28..28 + len]).is_ok());
    }

    #[test]
    fn arbitrary_frames_always_give_well_formed_blocks() {
        // A small deterministic generator stands in for a fuzzer: lengths, link types,
        // timestamps and comments at and around every boundary the encoder checks.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut enc = Encoder::new(256);
        let mut b = Vec::new();
        let mut written = 0;
        for _ in 0..2000 {
            let r = next();
            let len = (r % 600) as usize;
            let data = vec![(r >> 8) as u8; len];
            let m = PacketMeta {
                ts: Timestamp::from_micros((next() as i64) >> (r % 3)),
                link_type: [1, 101, 113, 276, 65_535, 65_536, u32::MAX][(r % 7) as usize],
                caplen: 0,
                wire_len: (next() % 2000) as u32,
            };
            let comment = (r % 5 == 0).then(|| "x".repeat((r % 9) as usize));
            if enc.packet(&mut b, &m, &data, comment.as_deref()).is_ok() {
                written += 1;
            }
        }
        let blocks = blocks(&b);
        assert_eq!(blocks.iter().filter(|b| b.0 == BLOCK_EPB).count(), written);
    }

    #[test]
    fn writer_streams_and_counts() {
        let mut w = PcapngWriter::new(Vec::new(), 65_535, "test").unwrap();
        w.write_packet(&meta(10, 1, 3), &[1, 2, 3], None).unwrap();
        assert_eq!(w.packets(), 1);
        let bytes = w.bytes();
        let out = w.into_inner().unwrap();
        assert_eq!(out.len() as u64, bytes);
        let types: Vec<u32> = blocks(&out).iter().map(|b| b.0).collect();
        assert_eq!(types, [BLOCK_SHB, BLOCK_IDB, BLOCK_EPB]);
    }
}
