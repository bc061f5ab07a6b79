//! Where an address is: the pluggable IP-to-country lookup behind `LT-CROSS-BORDER`.
//!
//! leaktap ships no geolocation database. A lab that wants the cross-border rule
//! supplies one as a simple CSV of `CIDR,country_code` lines (for example exported from
//! a database it licenses), loaded by [`CidrTable::load`]; any other source can plug in
//! through [`CountryLookup`]. Without one, the rule is off and the run summary and the
//! report say so.
//!
//! Takes CSV text; emits a table answering longest-prefix matches. Lines: `#` comments
//! and blank lines are ignored, an optional header `cidr,country_code` may come first,
//! extra columns after the second are ignored. Every other problem (bad CIDR, host bits
//! set, a code that is not two letters, the same prefix twice with different codes, more
//! than [`DEFAULT_MAX_ENTRIES`] entries) is an error naming the file and line.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::Error;

/// Most entries in one table. Public country databases hold roughly half a million
/// IPv4 and a few hundred thousand IPv6 networks; this leaves room and bounds memory
/// (about 40 bytes per entry).
pub const DEFAULT_MAX_ENTRIES: usize = 4_000_000;
/// Largest CSV file read, in bytes (a full country database is a few tens of MiB).
pub const MAX_FILE_BYTES: u64 = 512 << 20;
/// The code of mainland China. Hong Kong (`HK`), Macao (`MO`) and Taiwan (`TW`) have
/// their own codes and are outside the mainland for PIPL Art. 38–39.
pub const MAINLAND: CountryCode = CountryCode(*b"CN");

/// An ISO 3166-1 alpha-2 code, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CountryCode(pub [u8; 2]);

impl CountryCode {
    /// Parses two ASCII letters (either case).
    pub fn parse(s: &str) -> Option<CountryCode> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Some(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// True for mainland China.
    pub fn is_mainland(&self) -> bool {
        *self == MAINLAND
    }
}

/// Maps an address to the country it is registered in.
pub trait CountryLookup: Send + Sync {
    /// The country of `ip`, or `None` when the database does not know it.
    fn country(&self, ip: IpAddr) -> Option<CountryCode>;
}

/// A table of CIDR prefixes and their countries with longest-prefix match.
#[derive(Clone, Debug, Default)]
pub struct CidrTable {
    /// (prefix length, network as u128 with host bits zero, family is v6) → code.
    entries: HashMap<(u8, u128, bool), CountryCode>,
    /// Prefix lengths present, longest first, per family (v4, v6).
    lengths_v4: Vec<u8>,
    lengths_v6: Vec<u8>,
}

impl CidrTable {
    /// Reads a CSV file (see the module doc for the format).
    pub fn load(path: &Path) -> Result<CidrTable, Error> {
        let read_error = |reason: String| Error::Read {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| read_error(e.to_string()))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(read_error(format!(
                "file is larger than {MAX_FILE_BYTES} bytes"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        CidrTable::parse(&text, path, DEFAULT_MAX_ENTRIES)
    }

    /// Parses CSV text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path, max_entries: usize) -> Result<CidrTable, Error> {
        let mut table = CidrTable::default();
        let mut seen_data = false;
        for (n, raw_line) in text.lines().enumerate() {
            let line_no = n + 1;
            let err = |reason: String| Error::Countries {
                path: path.to_path_buf(),
                line: line_no,
                reason,
            };
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split(',').map(str::trim);
            let cidr = cols.next().unwrap_or("");
            let code = cols.next();
            if !seen_data && cidr.eq_ignore_ascii_case("cidr") {
                seen_data = true;
                continue;
            }
            seen_data = true;
            let Some(code) = code else {
                return Err(err("expected CIDR,country_code".into()));
            };
            let code = CountryCode::parse(code).ok_or_else(|| {
                err(format!(
                    "country code '{code}' is not two letters (ISO 3166-1 alpha-2)"
                ))
            })?;
            let (addr, len) = parse_cidr(cidr).map_err(err)?;
            let key = (len, addr.0, addr.1);
            if let Some(old) = table.entries.get(&key) {
                if *old != code {
                    return Err(err(format!(
                        "{cidr} is listed before with country {}",
                        old.as_str()
                    )));
                }
                continue;
            }
            if table.entries.len() >= max_entries {
                return Err(err(format!("more than {max_entries} entries")));
            }
            table.entries.insert(key, code);
            let lengths = if addr.1 {
                &mut table.lengths_v6
            } else {
                &mut table.lengths_v4
            };
            if !lengths.contains(&len) {
                lengths.push(len);
                lengths.sort_unstable_by(|a, b| b.cmp(a));
            }
        }
        Ok(table)
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the table has no prefix.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl CountryLookup for CidrTable {
    fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        let (value, v6, lengths) = match ip {
            IpAddr::V4(a) => (u128::from(u32::from(a)), false, &self.lengths_v4),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), false, &self.lengths_v4),
                None => (u128::from(a), true, &self.lengths_v6),
            },
        };
        let bits: u8 = if v6 { 128 } else { 32 };
        lengths.iter().find_map(|&len| {
            let network = value & mask(bits, len);
            self.entries.get(&(len, network, v6)).copied()
        })
    }
}

/// Network mask of `len` leading ones within a `bits`-wide address, as u128.
fn mask(bits: u8, len: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let width_mask: u128 = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let host_bits = u32::from(bits.saturating_sub(len));
    (width_mask >> host_bits) << host_bits
}

/// `a.b.c.d/len` or `x::/len` (a bare address is a host route).
fn parse_cidr(s: &str) -> Result<((u128, bool), u8), String> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("'{s}' is not an IPv4 or IPv6 network in CIDR form"))?;
    let (value, v6, bits) = match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), false, 32u8),
        IpAddr::V6(a) => (u128::from(a), true, 128u8),
    };
    let len = match len {
        None => bits,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= bits)
            .ok_or_else(|| format!("'{s}' has a prefix length outside 0..={bits}"))?,
    };
    if value & !mask(bits, len) != 0 {
        return Err(format!("'{s}' has host bits set beyond the prefix length"));
    }
    Ok(((value, v6), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<CidrTable, Error> {
        CidrTable::parse(text, Path::new("geo.csv"), 100)
    }

    fn cc(t: &CidrTable, ip: &str) -> Option<String> {
        t.country(ip.parse().unwrap())
            .map(|c| c.as_str().to_owned())
    }

    #[test]
    fn longest_prefix_wins() {
        let t = table(
            "# lab database\ncidr,country_code\n0.0.0.0/0,us\n203.0.113.0/24,SG\n\
             203.0.113.128/25,CN\n2001:db8::/32,DE\n2001:db8:1::/48,CN\n198.51.100.7,HK,extra\n",
        )
        .unwrap();
        assert_eq!(t.len(), 6);
        assert_eq!(cc(&t, "8.8.8.8").as_deref(), Some("US"));
        assert_eq!(cc(&t, "203.0.113.5").as_deref(), Some("SG"));
        assert_eq!(cc(&t, "203.0.113.200").as_deref(), Some("CN"));
        assert_eq!(cc(&t, "198.51.100.7").as_deref(), Some("HK"));
        assert_eq!(cc(&t, "::ffff:203.0.113.200").as_deref(), Some("CN"));
        assert_eq!(cc(&t, "2001:db8:1::9").as_deref(), Some("CN"));
        assert_eq!(cc(&t, "2001:db8:2::9").as_deref(), Some("DE"));
        assert_eq!(cc(&t, "2606:4700::1"), None);
        assert!(t
            .country("203.0.113.200".parse().unwrap())
            .unwrap()
            .is_mainland());
        assert!(!t
            .country("198.51.100.7".parse().unwrap())
            .unwrap()
            .is_mainland());
    }

    #[test]
    fn errors_name_the_line() {
        let e = table("10.0.0.0/8,CN\n10.0.0.1/8,CN\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "geo.csv:2: '10.0.0.1/8' has host bits set beyond the prefix length"
        );
        let e = table("10.0.0.0/33,CN\n").unwrap_err().to_string();
        assert!(
            e.starts_with("geo.csv:1: '10.0.0.0/33' has a prefix length"),
            "{e}"
        );
        let e = table("\n# c\n10.0.0.0/8,China\n").unwrap_err().to_string();
        assert!(e.starts_with("geo.csv:3: country code 'China'"), "{e}");
        let e = table("10.0.0.0/8\n").unwrap_err().to_string();
        assert_eq!(e, "geo.csv:1: expected CIDR,country_code");
        let e = table("example.com/8,CN\n").unwrap_err().to_string();
        assert!(e.contains("is not an IPv4 or IPv6 network"), "{e}");
        let e = table("10.0.0.0/8,CN\n10.0.0.0/8,US\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "geo.csv:2: 10.0.0.0/8 is listed before with country CN");
        let many: String = (0..101).map(|i| format!("10.0.{i}.0/24,CN\n")).collect();
        let e = table(&many).unwrap_err().to_string();
        assert_eq!(e, "geo.csv:101: more than 100 entries");
        // The same prefix with the same code twice is harmless.
        assert_eq!(table("10.0.0.0/8,CN\n10.0.0.0/8,cn\n").unwrap().len(), 1);
    }
}
