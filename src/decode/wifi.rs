//! IEEE 802.11 data frames, optionally behind a radiotap header: what a lab sees when it
//! captures the phones' Wi-Fi in monitor mode instead of (or besides) a wired mirror port.
//!
//! Only unprotected data frames carry IP that can be read here; protected frames (WPA
//! without the lab's keys), management and control frames are not IP. The transmitter and
//! receiver addresses give the phone's MAC, as an Ethernet header would.

use super::link::{mac_at, parse_llc, NotIpClass};
use super::{Ctx, Error, Layer, Next};

/// Radiotap "present" bit of the Flags field (radiotap.org, field 1).
const RADIOTAP_FLAGS_BIT: u32 = 1 << 1;
/// Radiotap present bit 31: another present word follows.
const RADIOTAP_EXT_BIT: u32 = 1 << 31;
/// Flags value: the frame ends with a 4-byte FCS.
const RADIOTAP_FLAG_FCS: u8 = 0x10;
/// Most present words a header may chain before it is called malformed.
const MAX_PRESENT_WORDS: usize = 8;

/// Radiotap header (version 0): length and present bitmaps, then fields; reads the Flags
/// field to learn whether an FCS trails the 802.11 frame.
pub(crate) fn parse_radiotap<'a>(data: &'a [u8], ctx: &mut Ctx) -> Result<Next<'a>, Error> {
    let truncated = Error::Truncated {
        layer: Layer::Radiotap,
    };
    let (version, len) = match data {
        [v, _, l0, l1, ..] => (*v, usize::from(u16::from_le_bytes([*l0, *l1]))),
        _ => return Err(truncated),
    };
    if version != 0 || len < 8 {
        return Err(Error::Malformed {
            layer: Layer::Radiotap,
        });
    }
    let header = data.get(..len).ok_or(truncated)?;
    let frame = data.get(len..).unwrap_or(&[]);
    let mut offset = 4;
    let mut first_present = None;
    for _ in 0..MAX_PRESENT_WORDS {
        let word = header
            .get(offset..offset + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(truncated)?;
        first_present.get_or_insert(word);
        offset += 4;
        if word & RADIOTAP_EXT_BIT == 0 {
            break;
        }
    }
    let present = first_present.unwrap_or(0);
    let mut has_fcs = false;
    if present & RADIOTAP_FLAGS_BIT != 0 {
        // Field 0 (TSFT, 8 bytes aligned to 8) precedes Flags when present.
        if present & 1 != 0 {
            offset = (offset + 7) & !7;
            offset += 8;
        }
        let flags = header.get(offset).copied().ok_or(truncated)?;
        has_fcs = flags & RADIOTAP_FLAG_FCS != 0;
    }
    parse_80211(frame, has_fcs, ctx)
}

/// An 802.11 MAC frame (IEEE 802.11-2020 §9.2): data frames with an LLC/SNAP header lead
/// to an EtherType; everything else is not IP.
pub(crate) fn parse_80211<'a>(
    data: &'a [u8],
    has_fcs: bool,
    ctx: &mut Ctx,
) -> Result<Next<'a>, Error> {
    let data = if has_fcs {
        data.get(..data.len().saturating_sub(4)).unwrap_or(&[])
    } else {
        data
    };
    let fc = match data {
        [a, b, ..] => u16::from_le_bytes([*a, *b]),
        _ => {
            return Err(Error::Truncated {
                layer: Layer::Ieee80211,
            })
        }
    };
    let frame_type = (fc >> 2) & 0x3;
    let subtype = (fc >> 4) & 0xf;
    let to_ds = fc & 0x0100 != 0;
    let from_ds = fc & 0x0200 != 0;
    let protected = fc & 0x4000 != 0;
    let order = fc & 0x8000 != 0;
    // Type 2 = data; subtypes with bit 2 set carry no frame body (Null, CF-Ack, ...).
    if frame_type != 2 || subtype & 0x4 != 0 || protected {
        return Ok(Next::NotIp(NotIpClass::Other));
    }
    let qos = subtype & 0x8 != 0;
    let mut header_len = 24;
    if to_ds && from_ds {
        header_len += 6;
    }
    if qos {
        header_len += 2;
        // The +HTC (order) bit adds a 4-byte HT control field to QoS data frames.
        if order {
            header_len += 4;
        }
    }
    if data.len() < header_len {
        return Err(Error::Truncated {
            layer: Layer::Ieee80211,
        });
    }
    let (addr1, addr2, addr3, addr4) = (
        mac_at(data, 4),
        mac_at(data, 10),
        mac_at(data, 16),
        mac_at(data, 24),
    );
    let (dst, src) = match (to_ds, from_ds) {
        (false, false) => (addr1, addr2),
        (true, false) => (addr3, addr2),
        (false, true) => (addr1, addr3),
        (true, true) => (addr3, addr4),
    };
    ctx.eth_dst = dst;
    ctx.eth_src = src;
    ctx.ethernet_seen = true;
    Ok(parse_llc(data.get(header_len..).unwrap_or(&[])))
}
