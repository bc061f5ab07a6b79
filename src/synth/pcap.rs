//! Classic pcap and pcapng writers for synthetic captures.
//!
//! Owns the file formats only: takes `(timestamp, frame)` pairs and emits a classic
//! libpcap file (microsecond timestamps, little-endian magic `0xa1b2c3d4`) or a pcapng
//! section with one interface (SHB, IDB with `if_tsresol` = 6, EPBs), per
//! draft-ietf-opsawg-pcapng. Both writers share the [`CaptureWrite`] trait so callers can
//! produce either format from the same frames.
//!
//! Limits: frames longer than the snap length (default [`DEFAULT_SNAPLEN`]) are truncated to
//! it with the original length kept, as a capture would; timestamps must be non-negative and
//! fit the format. Must not reorder, buffer or edit frames beyond that truncation.

use std::io::Write;

use thiserror::Error;

/// Snap length written into headers; 262144 is what current tcpdump and dumpcap use.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// Link-layer header type of a capture (tcpdump.org LINKTYPE_* values); unknown values
/// survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// IEEE 802.3 Ethernet.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IPv4 or IPv6, no link header.
    pub const RAW: LinkType = LinkType(101);
}

/// Errors of the capture writers.
#[derive(Debug, Error)]
pub enum Error {
    /// The requested captured length exceeds the frame.
    #[error("captured length {caplen} exceeds frame length {len}")]
    CaplenTooLarge {
        /// Requested captured length in bytes.
        caplen: usize,
        /// Frame length in bytes.
        len: usize,
    },
    /// The frame does not fit the 32-bit length fields.
    #[error("frame of {len} bytes is too long for the format")]
    FrameTooLong {
        /// Frame length in bytes.
        len: usize,
    },
    /// Writing to the output failed.
    #[error("write failed")]
    Io(#[from] std::io::Error),
    /// The timestamp is negative or does not fit the format.
    #[error("timestamp {micros} us cannot be written")]
    TimestampOutOfRange {
        /// The rejected timestamp, microseconds since the Unix epoch.
        micros: i64,
    },
}

/// Writing of captured frames, whatever the file format.
pub trait CaptureWrite {
    /// Writes a whole frame (truncated to the snap length if longer).
    fn write_packet(&mut self, ts_micros: i64, frame: &[u8]) -> Result<(), Error>;

    /// Writes the first `caplen` bytes of `frame`, recording `frame.len()` as the wire
    /// length, as a capture with a small snap length would.
    fn write_truncated(&mut self, ts_micros: i64, frame: &[u8], caplen: usize)
        -> Result<(), Error>;
}

/// Counters of a writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records written.
    pub packets: u64,
    /// Bytes written to the output, headers included.
    pub bytes: u64,
    /// Records whose captured length is below the wire length.
    pub truncated: u64,
}

/// Classic pcap writer (microsecond resolution).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    stats: Stats,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header with [`DEFAULT_SNAPLEN`] and returns the writer.
    pub fn new(out: W, linktype: LinkType) -> Result<Self, Error> {
        Self::with_snaplen(out, linktype, DEFAULT_SNAPLEN)
    }

    /// Writes the global header with the given snap length.
    pub fn with_snaplen(mut out: W, linktype: LinkType, snaplen: u32) -> Result<Self, Error> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, microseconds
        h[4..6].copy_from_slice(&2u16.to_le_bytes()); // version major
        h[6..8].copy_from_slice(&4u16.to_le_bytes()); // version minor
                                                      // thiszone and sigfigs stay 0
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.0.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            snaplen,
            stats: Stats {
                bytes: 24,
                ..Stats::default()
            },
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Flushes and returns the output.
    pub fn into_inner(mut self) -> Result<W, Error> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn record(&mut self, ts_micros: i64, frame: &[u8], caplen: usize) -> Result<(), Error> {
        let (secs, usec) = split_micros(ts_micros)?;
        let secs =
            u32::try_from(secs).map_err(|_| Error::TimestampOutOfRange { micros: ts_micros })?;
        let caplen = caplen.min(self.snaplen as usize);
        let data = frame.get(..caplen).ok_or(Error::CaplenTooLarge {
            caplen,
            len: frame.len(),
        })?;
        let orig =
            u32::try_from(frame.len()).map_err(|_| Error::FrameTooLong { len: frame.len() })?;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&usec.to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.stats.packets += 1;
        self.stats.bytes += 16 + data.len() as u64;
        if data.len() < frame.len() {
            self.stats.truncated += 1;
        }
        Ok(())
    }
}

impl<W: Write> CaptureWrite for PcapWriter<W> {
    fn write_packet(&mut self, ts_micros: i64, frame: &[u8]) -> Result<(), Error> {
        self.record(ts_micros, frame, frame.len())
    }

    fn write_truncated(
        &mut self,
        ts_micros: i64,
        frame: &[u8],
        caplen: usize,
    ) -> Result<(), Error> {
        check_caplen(frame, caplen)?;
        self.record(ts_micros, frame, caplen)
    }
}

/// pcapng writer: one section, one interface, enhanced packet blocks in microseconds.
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    out: W,
    snaplen: u32,
    stats: Stats,
}

/// Block type of the Section Header Block.
const BLOCK_SHB: u32 = 0x0A0D_0D0A;
/// Block type of the Interface Description Block.
const BLOCK_IDB: u32 = 0x0000_0001;
/// Block type of the Enhanced Packet Block.
const BLOCK_EPB: u32 = 0x0000_0006;
/// `if_tsresol` option code of the IDB.
const OPT_IF_TSRESOL: u16 = 9;

impl<W: Write> PcapNgWriter<W> {
    /// Writes the SHB and one IDB with [`DEFAULT_SNAPLEN`].
    pub fn new(out: W, linktype: LinkType) -> Result<Self, Error> {
        Self::with_snaplen(out, linktype, DEFAULT_SNAPLEN)
    }

    /// Writes the SHB and one IDB with the given snap length.
    pub fn with_snaplen(mut out: W, linktype: LinkType, snaplen: u32) -> Result<Self, Error> {
        let mut shb = Vec::with_capacity(28);
        shb.extend_from_slice(&BLOCK_SHB.to_le_bytes());
        shb.extend_from_slice(&28u32.to_le_bytes()); // block total length
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes()); // byte-order magic
        shb.extend_from_slice(&1u16.to_le_bytes()); // major version
        shb.extend_from_slice(&0u16.to_le_bytes()); // minor version
        shb.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown (-1)
        shb.extend_from_slice(&28u32.to_le_bytes()); // block total length again
        out.write_all(&shb)?;

        let linktype16 = u16::try_from(linktype.0).unwrap_or(u16::MAX);
        let mut idb = Vec::with_capacity(32);
        idb.extend_from_slice(&BLOCK_IDB.to_le_bytes());
        idb.extend_from_slice(&32u32.to_le_bytes()); // block total length
        idb.extend_from_slice(&linktype16.to_le_bytes()); // link type
        idb.extend_from_slice(&0u16.to_le_bytes()); // reserved
        idb.extend_from_slice(&snaplen.to_le_bytes()); // snap length
        idb.extend_from_slice(&OPT_IF_TSRESOL.to_le_bytes()); // option code
        idb.extend_from_slice(&1u16.to_le_bytes()); // option length
        idb.extend_from_slice(&[6, 0, 0, 0]); // 10^-6 s, padded to 32 bits
        idb.extend_from_slice(&0u32.to_le_bytes()); // opt_endofopt
        idb.extend_from_slice(&32u32.to_le_bytes()); // block total length again
        out.write_all(&idb)?;
        Ok(PcapNgWriter {
            out,
            snaplen,
            stats: Stats {
                bytes: 60,
                ..Stats::default()
            },
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Flushes and returns the output.
    pub fn into_inner(mut self) -> Result<W, Error> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn record(&mut self, ts_micros: i64, frame: &[u8], caplen: usize) -> Result<(), Error> {
        let ts = u64::try_from(ts_micros)
            .map_err(|_| Error::TimestampOutOfRange { micros: ts_micros })?;
        let caplen = caplen.min(self.snaplen as usize);
        let data = frame.get(..caplen).ok_or(Error::CaplenTooLarge {
            caplen,
            len: frame.len(),
        })?;
        let orig =
            u32::try_from(frame.len()).map_err(|_| Error::FrameTooLong { len: frame.len() })?;
        let pad = (4 - data.len() % 4) % 4;
        let total = 32 + data.len() + pad;
        let total32 = u32::try_from(total).map_err(|_| Error::FrameTooLong { len: frame.len() })?;
        let mut h = [0u8; 28];
        h[0..4].copy_from_slice(&BLOCK_EPB.to_le_bytes());
        h[4..8].copy_from_slice(&total32.to_le_bytes());
        // interface id 0 stays zero in h[8..12]
        h[12..16].copy_from_slice(&((ts >> 32) as u32).to_le_bytes()); // timestamp high
        h[16..20].copy_from_slice(&(ts as u32).to_le_bytes()); // timestamp low
        h[20..24].copy_from_slice(&(data.len() as u32).to_le_bytes()); // captured length
        h[24..28].copy_from_slice(&orig.to_le_bytes()); // original length
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.out.write_all(&total32.to_le_bytes())?;
        self.stats.packets += 1;
        self.stats.bytes += total as u64;
        if data.len() < frame.len() {
            self.stats.truncated += 1;
        }
        Ok(())
    }
}

impl<W: Write> CaptureWrite for PcapNgWriter<W> {
    fn write_packet(&mut self, ts_micros: i64, frame: &[u8]) -> Result<(), Error> {
        self.record(ts_micros, frame, frame.len())
    }

    fn write_truncated(
        &mut self,
        ts_micros: i64,
        frame: &[u8],
        caplen: usize,
    ) -> Result<(), Error> {
        check_caplen(frame, caplen)?;
        self.record(ts_micros, frame, caplen)
    }
}

fn check_caplen(frame: &[u8], caplen: usize) -> Result<(), Error> {
    if caplen > frame.len() {
        return Err(Error::CaplenTooLarge {
            caplen,
            len: frame.len(),
        });
    }
    Ok(())
}

/// Splits microseconds since the epoch into whole seconds and the microsecond remainder.
fn split_micros(ts_micros: i64) -> Result<(i64, u32), Error> {
    if ts_micros < 0 {
        return Err(Error::TimestampOutOfRange { micros: ts_micros });
    }
    Ok((ts_micros / 1_000_000, (ts_micros % 1_000_000) as u32))
}

/// Writes all frames to a classic pcap in memory (convenience for tests).
pub fn pcap_bytes<'a, I>(linktype: LinkType, frames: I) -> Result<Vec<u8>, Error>
where
    I: IntoIterator<Item = &'a (i64, Vec<u8>)>,
{
    let mut w = PcapWriter::new(Vec::new(), linktype)?;
    for (ts, f) in frames {
        w.write_packet(*ts, f)?;
    }
    w.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::tshark;

    #[test]
    fn classic_header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::RAW).unwrap();
        w.write_packet(1_700_000_000_123_456, &[0x45, 0, 0, 20])
            .unwrap();
        w.write_truncated(1_700_000_001_000_000, &[1, 2, 3, 4, 5], 2)
            .unwrap();
        assert_eq!(w.stats().packets, 2);
        assert_eq!(w.stats().truncated, 1);
        let b = w.into_inner().unwrap();
        #[rustfmt::skip]
        let header = [
            0xd4, 0xc3, 0xb2, 0xa1, // magic (little endian, microseconds)
            2, 0, 4, 0,             // version 2.4
            0, 0, 0, 0,             // thiszone
            0, 0, 0, 0,             // sigfigs
            0x00, 0x00, 0x04, 0x00, // snaplen 262144
            101, 0, 0, 0,           // LINKTYPE_RAW
        ];
        assert_eq!(&b[..24], &header);
        assert_eq!(&b[24..28], &1_700_000_000u32.to_le_bytes()); // ts_sec
        assert_eq!(&b[28..32], &123_456u32.to_le_bytes()); // ts_usec
        assert_eq!(&b[32..36], &4u32.to_le_bytes()); // incl_len
        assert_eq!(&b[36..40], &4u32.to_le_bytes()); // orig_len
        let second = &b[44..];
        assert_eq!(&second[8..12], &2u32.to_le_bytes()); // incl_len
        assert_eq!(&second[12..16], &5u32.to_le_bytes()); // orig_len
        assert_eq!(&second[16..], &[1, 2]);
    }

    #[test]
    fn rejects_bad_caplen_and_negative_time() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).unwrap();
        assert!(matches!(
            w.write_truncated(0, &[1, 2], 3),
            Err(Error::CaplenTooLarge { caplen: 3, len: 2 })
        ));
        assert!(matches!(
            w.write_packet(-1, &[1]),
            Err(Error::TimestampOutOfRange { micros: -1 })
        ));
        let mut n = PcapNgWriter::new(Vec::new(), LinkType::ETHERNET).unwrap();
        assert!(n.write_truncated(0, &[1], 2).is_err());
        assert!(n.write_packet(-5, &[1]).is_err());
    }

    #[test]
    fn snaplen_truncates_long_frames() {
        let mut w = PcapWriter::with_snaplen(Vec::new(), LinkType::RAW, 4).unwrap();
        w.write_packet(0, &[9; 10]).unwrap();
        let b = w.into_inner().unwrap();
        assert_eq!(&b[24 + 8..24 + 12], &4u32.to_le_bytes());
        assert_eq!(&b[24 + 12..24 + 16], &10u32.to_le_bytes());
        assert_eq!(b.len(), 24 + 16 + 4);
    }

    #[test]
    fn pcapng_blocks_are_aligned() {
        let mut w = PcapNgWriter::new(Vec::new(), LinkType::ETHERNET).unwrap();
        w.write_packet(0x1_0000_0002, &[1, 2, 3, 4, 5]).unwrap();
        let b = w.into_inner().unwrap();
        assert_eq!(&b[0..4], &BLOCK_SHB.to_le_bytes());
        assert_eq!(&b[28..32], &BLOCK_IDB.to_le_bytes());
        let epb = &b[60..];
        assert_eq!(epb.len(), 32 + 8);
        assert_eq!(&epb[4..8], &40u32.to_le_bytes());
        assert_eq!(&epb[12..16], &1u32.to_le_bytes()); // timestamp high
        assert_eq!(&epb[16..20], &2u32.to_le_bytes()); // timestamp low
        assert_eq!(&epb[36..40], &40u32.to_le_bytes()); // trailing length
    }

    #[test]
    fn tshark_reads_both_formats_with_truncation() {
        if !tshark::available("tshark_reads_both_formats_with_truncation") {
            return;
        }
        // A 60-byte Ethernet frame of an unknown ethertype.
        let mut frame = vec![0u8; 60];
        frame[12] = 0x88;
        frame[13] = 0xb5; // local experimental ethertype
        for (ext, ng) in [("pcap", false), ("pcapng", true)] {
            let path = tshark::temp_path("fmt", ext);
            let file = std::fs::File::create(&path).unwrap();
            let ts = 1_700_000_000_250_000;
            if ng {
                let mut w = PcapNgWriter::new(file, LinkType::ETHERNET).unwrap();
                w.write_packet(ts, &frame).unwrap();
                w.write_truncated(ts + 1, &frame, 20).unwrap();
                w.into_inner().unwrap();
            } else {
                let mut w = PcapWriter::new(file, LinkType::ETHERNET).unwrap();
                w.write_packet(ts, &frame).unwrap();
                w.write_truncated(ts + 1, &frame, 20).unwrap();
                w.into_inner().unwrap();
            }
            let rows = tshark::fields(
                &path,
                None,
                &["frame.len", "frame.cap_len", "frame.time_epoch"],
            );
            assert_eq!(rows.len(), 2, "{ext}: {rows:?}");
            assert!(rows[0].starts_with("60|60|1700000000.250000"), "{rows:?}");
            assert!(rows[1].starts_with("60|20|1700000000.250001"), "{rows:?}");
            tshark::remove(&path);
        }
    }
}
