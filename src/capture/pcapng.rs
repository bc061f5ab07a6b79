//! A small pcapng reader (draft-ietf-opsawg-pcapng) used when libpcap refuses a file it
//! cannot represent with one link type and snaplen: pcapng files whose interfaces differ
//! (Wireshark writes these when capturing on several interfaces at once).
//!
//! Reads Section Header, Interface Description, Enhanced, Simple and (obsolete) Packet
//! blocks; skips every other block. Each frame carries its own interface's link type and
//! timestamp resolution. Bounded: a block larger than [`MAX_BLOCK_BYTES`] is damage.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::{Frame, Timestamp};

/// pcapng's block type of a Section Header Block; also the file's magic.
pub const SHB_TYPE: u32 = 0x0A0D_0D0A;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const IDB_TYPE: u32 = 1;
const OPB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;
/// Larger than any frame plus options a capture tool writes; beyond this the length field
/// is corrupt.
pub const MAX_BLOCK_BYTES: usize = 16 << 20;
/// Interfaces per section kept; more is damage (or an attack on memory).
const MAX_INTERFACES: usize = 1024;

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
}

/// Reads frames from one pcapng file.
pub struct PcapngReader {
    input: BufReader<File>,
    big_endian: bool,
    interfaces: Vec<Interface>,
    block: Vec<u8>,
    /// Frame bytes of the last block: `block[data_start..data_end]`.
    data_start: usize,
    data_end: usize,
}

/// Whether the file at `path` starts with the pcapng magic.
pub fn is_pcapng(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && u32::from_le_bytes(magic) == SHB_TYPE
}

impl PcapngReader {
    pub fn open(path: &Path) -> io::Result<PcapngReader> {
        Ok(PcapngReader {
            input: BufReader::with_capacity(1 << 16, File::open(path)?),
            big_endian: false,
            interfaces: Vec::new(),
            block: Vec::with_capacity(1 << 16),
            data_start: 0,
            data_end: 0,
        })
    }

    fn u32_at(&self, bytes: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u16_at(&self, bytes: &[u8], at: usize) -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    /// The next frame, `Ok(None)` at the end of the file, or an error describing damage.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        loop {
            let mut head = [0u8; 8];
            match read_full(&mut self.input, &mut head) {
                Ok(0) => return Ok(None),
                Ok(8) => {}
                Ok(n) => return Err(format!("truncated block header ({n} of 8 bytes)")),
                Err(e) => return Err(e.to_string()),
            }
            let raw_type = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            if raw_type == SHB_TYPE {
                // The byte-order magic follows the length; read it to learn the order.
                let mut bom = [0u8; 4];
                self.input.read_exact(&mut bom).map_err(|e| e.to_string())?;
                self.big_endian = match u32::from_le_bytes(bom) {
                    BYTE_ORDER_MAGIC => false,
                    m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
                    _ => return Err("bad byte-order magic in a section header".into()),
                };
                let len = self.u32_at(&head, 4).unwrap_or(0) as usize;
                self.skip_block_rest(len, 12)?;
                self.interfaces.clear();
                continue;
            }
            let block_type = self.u32_at(&head, 0).unwrap_or(0);
            let len = self.u32_at(&head, 4).unwrap_or(0) as usize;
            if !(12..=MAX_BLOCK_BYTES).contains(&len) || len % 4 != 0 {
                return Err(format!(
                    "block of type {block_type} has an impossible length {len}"
                ));
            }
            self.block.resize(len - 8, 0);
            self.input
                .read_exact(&mut self.block)
                .map_err(|_| format!("block of type {block_type} cut short"))?;
            let body_len = len - 12;
            match block_type {
                IDB_TYPE => self.interface(body_len)?,
                EPB_TYPE | OPB_TYPE => {
                    let (iface, ts_hi, ts_lo, caplen, wire) = if block_type == EPB_TYPE {
                        (
                            self.u32_at(&self.block, 0),
                            self.u32_at(&self.block, 4),
                            self.u32_at(&self.block, 8),
                            self.u32_at(&self.block, 12),
                            self.u32_at(&self.block, 16),
                        )
                    } else {
                        (
                            self.u16_at(&self.block, 0).map(u32::from),
                            self.u32_at(&self.block, 4),
                            self.u32_at(&self.block, 8),
                            self.u32_at(&self.block, 12),
                            self.u32_at(&self.block, 16),
                        )
                    };
                    let (Some(iface), Some(hi), Some(lo), Some(caplen), Some(wire)) =
                        (iface, ts_hi, ts_lo, caplen, wire)
                    else {
                        return Err("packet block too short".into());
                    };
                    let Some(info) = self.interfaces.get(iface as usize).copied() else {
                        return Err(format!(
                            "packet block names interface {iface}, which was not described"
                        ));
                    };
                    let caplen = caplen as usize;
                    if 20 + caplen > body_len {
                        return Err(format!(
                            "packet block claims {caplen} bytes but holds {}",
                            body_len.saturating_sub(20)
                        ));
                    }
                    self.data_start = 20;
                    self.data_end = 20 + caplen;
                    let units = (u64::from(hi) << 32) | u64::from(lo);
                    return Ok(Some(self.frame(info, units, wire)));
                }
                SPB_TYPE => {
                    let Some(info) = self.interfaces.first().copied() else {
                        return Err("simple packet block before any interface".into());
                    };
                    let wire = self.u32_at(&self.block, 0).unwrap_or(0);
                    let caplen = (wire as usize)
                        .min(body_len.saturating_sub(4))
                        .min(info.snaplen.max(1) as usize);
                    self.data_start = 4;
                    self.data_end = 4 + caplen;
                    // Simple packet blocks carry no timestamp.
                    return Ok(Some(self.frame(info, 0, wire)));
                }
                _ => {}
            }
        }
    }

    fn frame(&self, info: Interface, units: u64, wire_len: u32) -> Frame<'_> {
        let per = info.units_per_sec.max(1);
        let secs = units / per;
        let frac = units % per;
        let micros = u128::from(frac) * 1_000_000 / u128::from(per);
        let ts = i64::try_from(secs)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000)
            .saturating_add(i64::try_from(micros).unwrap_or(0));
        Frame {
            ts: Timestamp::from_micros(ts),
            link_type: info.link_type,
            data: self
                .block
                .get(self.data_start..self.data_end)
                .unwrap_or(&[]),
            wire_len,
        }
    }

    /// Interface Description Block: link type, snaplen and the `if_tsresol` option.
    fn interface(&mut self, body_len: usize) -> Result<(), String> {
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err("too many interfaces in one section".into());
        }
        let link_type = u32::from(
            self.u16_at(&self.block, 0)
                .ok_or("interface block too short")?,
        );
        let snaplen = self
            .u32_at(&self.block, 4)
            .ok_or("interface block too short")?;
        let mut units_per_sec = 1_000_000u64;
        let mut at = 8;
        while at + 4 <= body_len {
            let code = self.u16_at(&self.block, at).unwrap_or(0);
            let olen = usize::from(self.u16_at(&self.block, at + 2).unwrap_or(0));
            if code == 0 {
                break;
            }
            if code == 9 && olen >= 1 {
                // if_tsresol: high bit set = power of two, else power of ten.
                let v = self.block.get(at + 4).copied().unwrap_or(6);
                let exp = u32::from(v & 0x7f);
                units_per_sec = if v & 0x80 != 0 {
                    1u64.checked_shl(exp).unwrap_or(1)
                } else {
                    10u64.checked_pow(exp).unwrap_or(1_000_000)
                };
            }
            at += 4 + olen.div_ceil(4) * 4;
        }
        self.interfaces.push(Interface {
            link_type,
            snaplen,
            units_per_sec,
        });
        Ok(())
    }

    fn skip_block_rest(&mut self, len: usize, consumed: usize) -> Result<(), String> {
        if !(28..=MAX_BLOCK_BYTES).contains(&len) || len % 4 != 0 {
            return Err(format!("section header has an impossible length {len}"));
        }
        let mut rest = (len - consumed) as u64;
        let copied = io::copy(&mut (&mut self.input).take(rest), &mut io::sink())
            .map_err(|e| e.to_string())?;
        rest -= copied;
        if rest > 0 {
            return Err("section header cut short".into());
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
