//! IP layer: IPv4 (with options) and IPv6 (with extension headers), lengths, fragments,
//! and dispatch of the IP payload to TCP, UDP, tunnels or "other".
//!
//! Takes an IP packet slice; header parsing uses etherparse's checked slices. Emits the
//! next step of the walk: a finished [`Packet`], a tunnel payload, or "fragment held".
//!
//! Length rules: the IP length trims link-layer padding. A length beyond the captured
//! bytes is a snaplen cut when the frame is truncated (the excess becomes
//! `missing_bytes`); in an uncut frame it (and a length of 0) comes from TSO/GSO
//! super-packets captured on the sending host, so the captured bytes are used and
//! `ip_length_mismatch` is counted. Header checksums are not verified (see the module
//! documentation of [`super`]). Must not panic or allocate (reassembly aside).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    IpAuthHeaderSlice, Ipv4HeaderSlice, Ipv6FragmentHeaderSlice, Ipv6HeaderSlice,
    Ipv6RawExtHeaderSlice,
};

use super::defrag::{Fragment, FragmentKey, FragmentRefusal, Insert};
use super::{transport, tunnel};
use super::{AnomalyKind, Encap, Error, IpProto, Layer, Next, Packet, Step, Transport, Walk};

/// IPv6 fixed header length (RFC 8200 §3).
const IPV6_HEADER_LEN: usize = 40;
/// Hop-by-hop option type of the jumbo payload length (RFC 2675 §2).
const OPTION_JUMBO: u8 = 0xc2;

/// Addresses of the IP header being decoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpInfo {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
}

impl<'a> Walk<'a, '_> {
    /// IPv4 header (RFC 791 §3.1).
    pub(crate) fn ipv4(&mut self, data: &'a [u8]) -> Result<Step<'a>, Error> {
        use etherparse::err::ipv4::{HeaderError, HeaderSliceError};
        let header = Ipv4HeaderSlice::from_slice(data).map_err(|err| match err {
            HeaderSliceError::Len(_) => Error::Truncated { layer: Layer::Ipv4 },
            HeaderSliceError::Content(HeaderError::UnexpectedVersion { version_number }) => {
                Error::BadIpVersion(version_number)
            }
            HeaderSliceError::Content(HeaderError::HeaderLengthSmallerThanHeader { .. }) => {
                Error::BadIpHeader
            }
        })?;
        let header_len = header.slice().len();
        let total = usize::from(header.total_len());
        let declared = match total {
            0 => None,
            t if t < header_len => return Err(Error::BadIpHeader),
            t => Some(t),
        };
        let short_by = declared.map_or(0, |d| d.saturating_sub(data.len()));
        let (end, missing) = self.ip_extent(declared, data.len());
        let payload = data.get(header_len..end).unwrap_or(&[]);
        let info = IpInfo {
            src: IpAddr::V4(Ipv4Addr::from(header.source())),
            dst: IpAddr::V4(Ipv4Addr::from(header.destination())),
        };
        let proto = IpProto(header.protocol().0);
        let offset = header.fragments_offset().byte_offset();
        if offset == 0 && header.more_fragments() && short_by > 0 {
            // The capture cut this first fragment (its IP length exceeds the bytes
            // present), so the datagram can never be completed. Inspect what is visible —
            // the transport header and the start of its payload — as a truncated packet
            // rather than lose it.
            self.defrag.count_refusal(FragmentRefusal::Truncated);
            let cut = u32::try_from(short_by).unwrap_or(u32::MAX);
            return self.ip_payload(info, proto, payload, missing.max(cut));
        }
        if header.more_fragments() || offset != 0 {
            let key = FragmentKey::V4 {
                src: Ipv4Addr::from(header.source()),
                dst: Ipv4Addr::from(header.destination()),
                id: header.identification(),
                proto,
            };
            let fragment = Fragment {
                offset: u32::from(offset),
                more: header.more_fragments(),
                next_header: proto,
                payload,
                truncated: missing > 0,
            };
            return match self.reassemble(key, fragment)? {
                Some((proto, bytes)) => self.ip_payload(info, proto, bytes, 0),
                None => Ok(Step::Held),
            };
        }
        self.ip_payload(info, proto, payload, missing)
    }

    /// IPv6 header (RFC 8200 §3), then its extension headers.
    pub(crate) fn ipv6(&mut self, data: &'a [u8]) -> Result<Step<'a>, Error> {
        use etherparse::err::ipv6::HeaderSliceError;
        let header = Ipv6HeaderSlice::from_slice(data).map_err(|err| match err {
            HeaderSliceError::Len(_) => Error::Truncated { layer: Layer::Ipv6 },
            HeaderSliceError::Content(etherparse::err::ipv6::HeaderError::UnexpectedVersion {
                version_number,
            }) => Error::BadIpVersion(version_number),
        })?;
        let info = IpInfo {
            src: IpAddr::V6(Ipv6Addr::from(header.source())),
            dst: IpAddr::V6(Ipv6Addr::from(header.destination())),
        };
        let next = IpProto(header.next_header().0);
        let after = data.get(IPV6_HEADER_LEN..).unwrap_or(&[]);
        let payload_len = usize::from(header.payload_length());
        let declared = if payload_len != 0 || next == IpProto::IPV6_NO_NEXT {
            Some(IPV6_HEADER_LEN + payload_len)
        } else if next == IpProto::HOPOPT {
            // RFC 2675 §3: payload length 0 plus a jumbo option in hop-by-hop.
            jumbo_payload_len(after).and_then(|len| IPV6_HEADER_LEN.checked_add(len))
        } else {
            None
        };
        let (end, missing) = self.ip_extent(declared, data.len());
        let body = data.get(IPV6_HEADER_LEN..end).unwrap_or(&[]);
        self.ipv6_extensions(info, next, body, missing, true)
    }

    /// Walks IPv6 extension headers from `next` over `body` (RFC 8200 §4), reassembling
    /// at a fragmenting fragment header, then dispatches the upper layer. `at_start` is
    /// false after reassembly (hop-by-hop is then out of place).
    fn ipv6_extensions(
        &mut self,
        info: IpInfo,
        mut next: IpProto,
        body: &'a [u8],
        missing: u32,
        at_start: bool,
    ) -> Result<Step<'a>, Error> {
        let truncated = Error::Truncated {
            layer: Layer::Ipv6Extension,
        };
        let mut rest = body;
        let mut count = 0u8;
        loop {
            match next {
                IpProto::HOPOPT if !(at_start && count == 0) => {
                    // RFC 8200 §4.3: hop-by-hop only directly after the IPv6 header.
                    return Err(Error::BadIpv6Extension);
                }
                IpProto::HOPOPT
                | IpProto::IPV6_ROUTE
                | IpProto::IPV6_OPTS
                | IpProto::MOBILITY
                | IpProto::HIP
                | IpProto::SHIM6 => {
                    // RFC 8200 §4.2 / RFC 6275 §6.1 / RFC 7401 / RFC 5533: the generic
                    // layout (next header, length in 8-octet units past the first 8).
                    let ext = Ipv6RawExtHeaderSlice::from_slice(rest).map_err(|_| truncated)?;
                    rest = rest.get(ext.slice().len()..).unwrap_or(&[]);
                    next = IpProto(ext.next_header().0);
                }
                IpProto::AH => {
                    use etherparse::err::ip_auth::HeaderSliceError;
                    let ext = IpAuthHeaderSlice::from_slice(rest).map_err(|err| match err {
                        HeaderSliceError::Len(_) => truncated,
                        HeaderSliceError::Content(_) => Error::BadIpv6Extension,
                    })?;
                    rest = rest.get(ext.slice().len()..).unwrap_or(&[]);
                    next = IpProto(ext.next_header().0);
                }
                IpProto::IPV6_FRAG => {
                    let ext = Ipv6FragmentHeaderSlice::from_slice(rest).map_err(|_| truncated)?;
                    rest = rest.get(ext.slice().len()..).unwrap_or(&[]);
                    next = IpProto(ext.next_header().0);
                    // Offset and M are read here rather than through etherparse 0.16,
                    // whose `fragment_offset`/`more_fragments` misplace the bits (fixed
                    // upstream in later versions). RFC 8200 §4.5: 13-bit offset in
                    // 8-octet units, 2 reserved bits, M.
                    let field = super::be16(ext.slice(), 2).unwrap_or(0);
                    let offset_bytes = u32::from(field >> 3) * 8;
                    let more = field & 0x0001 != 0;
                    // RFC 6946: offset 0 without M is an atomic fragment; pass it through.
                    if offset_bytes != 0 || more {
                        let (IpAddr::V6(src), IpAddr::V6(dst)) = (info.src, info.dst) else {
                            return Err(Error::BadIpv6Extension);
                        };
                        let key = FragmentKey::V6 {
                            src,
                            dst,
                            id: ext.identification(),
                        };
                        let fragment = Fragment {
                            offset: offset_bytes,
                            more,
                            next_header: next,
                            payload: rest,
                            truncated: missing > 0,
                        };
                        return match self.reassemble(key, fragment)? {
                            Some((proto, bytes)) => {
                                self.ipv6_extensions(info, proto, bytes, 0, false)
                            }
                            None => Ok(Step::Held),
                        };
                    }
                }
                _ => return self.ip_payload(info, next, rest, missing),
            }
            count = count.saturating_add(1);
            if count > self.limits.max_ipv6_ext_headers {
                return Err(Error::BadIpv6Extension);
            }
        }
    }

    /// Dispatches an IP payload: TCP, UDP (and UDP tunnels), GRE, IP-in-IP, ICMP, other.
    /// `missing` is how many payload bytes the IP length says were cut by the snaplen.
    pub(crate) fn ip_payload(
        &mut self,
        info: IpInfo,
        proto: IpProto,
        payload: &'a [u8],
        missing: u32,
    ) -> Result<Step<'a>, Error> {
        let transport = match proto {
            IpProto::TCP => Transport::Tcp(transport::parse_tcp(payload, missing)?),
            IpProto::UDP => {
                let (udp, mismatch) = transport::parse_udp(payload, missing, self.ctx.truncated)?;
                if mismatch {
                    self.stats.bump(AnomalyKind::UdpLengthMismatch);
                }
                if let Some(next) = tunnel::probe_udp(&udp, &mut self.ctx, self.limits)? {
                    return Ok(Step::Continue(next));
                }
                Transport::Udp(udp)
            }
            IpProto::GRE => match tunnel::parse_gre(payload, &mut self.ctx, self.limits)? {
                Some(next) => return Ok(Step::Continue(next)),
                None => Transport::Other,
            },
            IpProto::IPV4 => {
                self.ctx.enter(Encap::IP_IN_IP, self.limits)?;
                return Ok(Step::Continue(Next::Ipv4(payload)));
            }
            IpProto::IPV6 => {
                self.ctx.enter(Encap::IP_IN_IP, self.limits)?;
                return Ok(Step::Continue(Next::Ipv6(payload)));
            }
            IpProto::ICMP | IpProto::ICMPV6 => Transport::Icmp,
            _ => Transport::Other,
        };
        Ok(Step::Done(Packet {
            eth_src: self.ctx.eth_src,
            eth_dst: self.ctx.eth_dst,
            vlan_ids: self.ctx.vlans,
            encap: self.ctx.encap,
            src: info.src,
            dst: info.dst,
            ip_proto: proto,
            defragmented: self.ctx.defragmented,
            truncated: self.ctx.truncated,
            transport,
        }))
    }

    /// End of the IP packet within `available` bytes and the bytes cut by the snaplen.
    fn ip_extent(&mut self, declared: Option<usize>, available: usize) -> (usize, u32) {
        match declared {
            Some(len) if len <= available => (len, 0),
            Some(len) if self.ctx.truncated => (
                available,
                u32::try_from(len - available).unwrap_or(u32::MAX),
            ),
            _ => {
                self.stats.bump(AnomalyKind::IpLengthMismatch);
                (available, 0)
            }
        }
    }

    /// Offers a fragment to the defragmenter. `Ok(None)` when held, `Ok(Some)` with the
    /// fragmentable part (borrowed from a decoder buffer) when complete.
    fn reassemble(
        &mut self,
        key: FragmentKey,
        fragment: Fragment<'_>,
    ) -> Result<Option<(IpProto, &'a [u8])>, Error> {
        let Some((slot, buf)) = self
            .spare
            .iter_mut()
            .enumerate()
            .find_map(|(i, s)| s.take().map(|b| (i, b)))
        else {
            self.defrag.count_refusal(FragmentRefusal::Nested);
            return Err(Error::FragmentRefused(FragmentRefusal::Nested));
        };
        match self.defrag.insert(key, fragment, self.ts, buf) {
            Insert::Complete(proto) => {
                self.ctx.defragmented = true;
                let bytes: &'a Vec<u8> = buf;
                Ok(Some((proto, bytes.as_slice())))
            }
            outcome => {
                if let Some(s) = self.spare.get_mut(slot) {
                    *s = Some(buf);
                }
                match outcome {
                    Insert::Duplicate => {
                        self.stats.bump(AnomalyKind::FragmentDuplicate);
                        Ok(None)
                    }
                    Insert::Refused(refusal) => {
                        if refusal == FragmentRefusal::Overlap {
                            self.stats.bump(AnomalyKind::FragmentOverlap);
                        }
                        Err(Error::FragmentRefused(refusal))
                    }
                    _ => Ok(None),
                }
            }
        }
    }
}

/// Jumbo payload length from a hop-by-hop header at the start of `data` (RFC 2675 §2:
/// option type 0xC2, length 4, 32-bit length excluding the IPv6 header).
fn jumbo_payload_len(data: &[u8]) -> Option<usize> {
    let ext = Ipv6RawExtHeaderSlice::from_slice(data).ok()?;
    let mut options = ext.payload();
    while let Some((&kind, tail)) = options.split_first() {
        if kind == 0 {
            // Pad1 has no length byte (RFC 8200 §4.2).
            options = tail;
            continue;
        }
        let (&len, tail) = tail.split_first()?;
        let value = tail.get(..usize::from(len))?;
        if kind == OPTION_JUMBO {
            let bytes: [u8; 4] = value.try_into().ok()?;
            return usize::try_from(u32::from_be_bytes(bytes)).ok();
        }
        options = tail.get(usize::from(len)..)?;
    }
    None
}
