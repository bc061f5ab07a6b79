//! JA3 and JA4 client fingerprints of a parsed ClientHello.
//!
//! JA3 (Salesforce): `SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats`
//! with decimal values joined by `-`, GREASE removed, and its MD5 in hex.
//! JA4 (FoxIO, technical_details/JA4.md): `a_b_c` where `a` is transport,
//! version, SNI marker, counts and ALPN, `b` the truncated SHA-256 of the
//! sorted cipher list, `c` that of the sorted extension list (without SNI and
//! ALPN) plus signature algorithms in wire order.
//!
//! Runs once per ClientHello; the strings it returns outlive the packet.

use std::fmt::Write as _;

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::parser::{ClientHello, ExtensionType, ProtocolVersion};

/// The transport a ClientHello came over; the first JA4 character.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// QUIC CRYPTO frames ("q").
    Quic,
    /// TLS over TCP ("t").
    Tcp,
}

impl Transport {
    fn ja4_char(self) -> char {
        match self {
            Transport::Quic => 'q',
            Transport::Tcp => 't',
        }
    }
}

/// Whether `v` is a GREASE value: 0x0a0a, 0x1a1a, ... 0xfafa (RFC 8701 §2).
pub fn is_grease(v: u16) -> bool {
    let [hi, lo] = v.to_be_bytes();
    hi == lo && lo & 0x0f == 0x0a
}

/// Appends `values` as decimal numbers joined by `-`.
fn push_dec_list(out: &mut String, values: impl Iterator<Item = u16>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push('-');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{v}");
    }
}

/// The JA3 string of a ClientHello: `SSLVersion,Ciphers,Extensions,
/// EllipticCurves,EcPointFormats`, decimal, GREASE removed, wire order.
pub fn ja3_string(ch: &ClientHello<'_>) -> String {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{},", ch.legacy_version.0);
    push_dec_list(&mut s, ch.cipher_suites.iter().filter(|v| !is_grease(*v)));
    s.push(',');
    push_dec_list(
        &mut s,
        ch.extensions()
            .map(|e| e.ext_type.0)
            .filter(|v| !is_grease(*v)),
    );
    s.push(',');
    push_dec_list(
        &mut s,
        ch.supported_groups.iter().filter(|v| !is_grease(*v)),
    );
    s.push(',');
    push_dec_list(&mut s, ch.ec_point_formats.iter().map(|&b| u16::from(b)));
    s
}

/// Lowercase hex MD5 of `s` (the JA3 hash).
pub fn md5_hex(s: &str) -> String {
    hex_lower(&Md5::digest(s.as_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// First 12 hex characters of SHA-256 of `s`, or `000000000000` when `s` is
/// empty (JA4.md: an empty list is shown as zeros, not as a hash).
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_owned();
    }
    let digest = Sha256::digest(s.as_bytes());
    let mut h = hex_lower(digest.get(..6).unwrap_or(&[]));
    h.truncate(12);
    h
}

/// JA4 version code (JA4.md "TLS and DTLS Version"); unknown is "00".
fn ja4_version(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::TLS1_3 => "13",
        ProtocolVersion::TLS1_2 => "12",
        ProtocolVersion::TLS1_1 => "11",
        ProtocolVersion::TLS1_0 => "10",
        ProtocolVersion::SSL3_0 => "s3",
        ProtocolVersion::SSL2_0 => "s2",
        ProtocolVersion::DTLS1_0 => "d1",
        ProtocolVersion::DTLS1_2 => "d2",
        ProtocolVersion::DTLS1_3 => "d3",
        _ => "00",
    }
}

/// JA4 ALPN code: first and last character of the first ALPN value if both
/// are ASCII alphanumeric, else first and last hex digit of its hex form;
/// "00" if there is no (non-empty) first value (JA4.md "ALPN Extension Value").
fn ja4_alpn(ch: &ClientHello<'_>) -> [char; 2] {
    let Some(first) = ch.alpn().next() else {
        return ['0', '0'];
    };
    let (Some(&a), Some(&z)) = (first.first(), first.last()) else {
        return ['0', '0'];
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return [char::from(a), char::from(z)];
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hi = HEX.get(usize::from(a >> 4)).copied().unwrap_or(b'0');
    let lo = HEX.get(usize::from(z & 0x0f)).copied().unwrap_or(b'0');
    [char::from(hi), char::from(lo)]
}

/// Appends `values` as 4-digit lowercase hex joined by `,`.
fn push_hex_list(out: &mut String, values: &[u16]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v:04x}");
    }
}

/// The JA4 fingerprint of a ClientHello, e.g.
/// `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(ch: &ClientHello<'_>, transport: Transport) -> String {
    let mut ciphers: Vec<u16> = ch.cipher_suites.iter().filter(|v| !is_grease(*v)).collect();
    let mut exts: Vec<u16> = ch
        .extensions()
        .map(|e| e.ext_type.0)
        .filter(|v| !is_grease(*v))
        .collect();
    let sigalgs: Vec<u16> = ch
        .signature_algorithms
        .iter()
        .filter(|v| !is_grease(*v))
        .collect();

    // Version: highest non-GREASE supported_versions entry, else legacy.
    let version = ch
        .supported_versions
        .iter()
        .filter(|v| !is_grease(*v))
        .max()
        .map(ProtocolVersion)
        .unwrap_or(ch.legacy_version);
    let sni = if ch.has_server_name_extension() {
        'd'
    } else {
        'i'
    };
    let [a0, a1] = ja4_alpn(ch);
    let mut out = String::with_capacity(36);
    let _ = write!(
        out,
        "{}{}{}{:02}{:02}{}{}_",
        transport.ja4_char(),
        ja4_version(version),
        sni,
        ciphers.len().min(99),
        exts.len().min(99),
        a0,
        a1
    );

    ciphers.sort_unstable();
    let mut list = String::with_capacity(ciphers.len() * 5);
    push_hex_list(&mut list, &ciphers);
    out.push_str(&hash12(&list));
    out.push('_');

    exts.retain(|&e| e != ExtensionType::SERVER_NAME.0 && e != ExtensionType::ALPN.0);
    exts.sort_unstable();
    list.clear();
    push_hex_list(&mut list, &exts);
    if !sigalgs.is_empty() {
        list.push('_');
        push_hex_list(&mut list, &sigalgs);
    }
    // JA4.md: "If there are no extensions in the sorted extensions list, then
    // the value of JA4_c is set to 000000000000".
    if exts.is_empty() {
        list.clear();
    }
    out.push_str(&hash12(&list));
    out
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse_client_hello;
    use super::super::parser::tests::sample_client_hello;
    use super::*;

    #[test]
    fn grease_values() {
        for i in 0..16u16 {
            assert!(is_grease(i << 12 | 0x0a00 | i << 4 | 0x0a));
        }
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
        assert!(!is_grease(0x0000));
    }

    #[test]
    fn hash12_of_spec_lists() {
        // Worked examples from FoxIO JA4.md.
        assert_eq!(
            hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        assert_eq!(
            hash12(
                "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
                 0403,0804,0401,0503,0805,0501,0806,0601"
            ),
            "e5627efa2ab1"
        );
        assert_eq!(
            hash12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
            "6d807ffa2a79"
        );
        assert_eq!(hash12(""), "000000000000");
    }

    /// Builds the ClientHello of the JA4.md worked example: 15 ciphers, 16
    /// extensions in the listed order, ALPN h2, the listed signature
    /// algorithms, supported_versions with TLS 1.3, plus GREASE to ignore.
    fn spec_example_hello() -> Vec<u8> {
        let ciphers: [u16; 16] = [
            0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let sigalgs: [u16; 8] = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let ext_order: [u16; 17] = [
            0xdada, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
            0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ];
        let mut ext = Vec::new();
        for t in ext_order {
            let body: Vec<u8> = match t {
                0x0000 => [&[0x00, 0x0e, 0x00, 0x00, 0x0b][..], b"example.com"].concat(),
                0x0010 => vec![0x00, 0x03, 0x02, b'h', b'2'],
                0x000d => {
                    let mut b = vec![0x00, 0x10];
                    sigalgs
                        .iter()
                        .for_each(|s| b.extend_from_slice(&s.to_be_bytes()));
                    b
                }
                0x002b => vec![0x04, 0x4a, 0x4a, 0x03, 0x04],
                0x000a => vec![0x00, 0x02, 0x00, 0x1d],
                0x000b => vec![0x01, 0x00],
                _ => vec![],
            };
            ext.extend_from_slice(&t.to_be_bytes());
            ext.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
            ext.extend_from_slice(&body);
        }
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0; 32]);
        body.push(0);
        body.extend_from_slice(&u16::try_from(ciphers.len() * 2).unwrap().to_be_bytes());
        ciphers
            .iter()
            .for_each(|c| body.extend_from_slice(&c.to_be_bytes()));
        body.extend_from_slice(&[0x01, 0x00]);
        body.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&ext);
        let mut msg = vec![0x01];
        msg.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn ja4_spec_example() {
        let msg = spec_example_hello();
        let ch = parse_client_hello(&msg).unwrap();
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
        assert_eq!(
            ja4(&ch, Transport::Quic),
            "q13d1516h2_8daaf6152771_e5627efa2ab1"
        );
    }

    #[test]
    fn ja3_of_sample() {
        let msg = sample_client_hello();
        let ch = parse_client_hello(&msg).unwrap();
        let s = ja3_string(&ch);
        assert_eq!(s, "771,4865-4866-49199,0-10-11-16-13-43,29-23,0");
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(&s).len(), 32);
    }

    #[test]
    fn ja4_of_sample() {
        let msg = sample_client_hello();
        let ch = parse_client_hello(&msg).unwrap();
        let j = ja4(&ch, Transport::Tcp);
        // 3 ciphers and 6 extensions once GREASE is removed; ALPN "h2".
        assert!(j.starts_with("t13d0306h2_"), "{j}");
        let ciphers = hash12("1301,1302,c02f");
        let exts = hash12("000a,000b,000d,002b_0403,0804,0401");
        assert_eq!(j, format!("t13d0306h2_{ciphers}_{exts}"));
    }

    #[test]
    fn ja4_alpn_rules() {
        // (first ALPN value, expected code) from JA4.md.
        let cases: [(&[u8], &str); 7] = [
            (b"h2", "h2"),
            (b"http/1.1", "h1"),
            (b"a", "aa"),
            (&[0xab], "ab"),
            (&[0xab, 0xcd], "ad"),
            (&[0x30, 0xab], "3b"),
            (&[0x30, 0xab, 0xcd, 0x31], "01"),
        ];
        for (value, want) in cases {
            let mut alpn = vec![0x00, 0x10];
            let list_len = u16::try_from(value.len() + 1).unwrap();
            alpn.extend_from_slice(&(list_len + 2).to_be_bytes());
            alpn.extend_from_slice(&list_len.to_be_bytes());
            alpn.push(u8::try_from(value.len()).unwrap());
            alpn.extend_from_slice(value);
            let mut body = vec![0x03, 0x03];
            body.extend_from_slice(&[0; 32]);
            body.extend_from_slice(&[0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]);
            body.extend_from_slice(&u16::try_from(alpn.len()).unwrap().to_be_bytes());
            body.extend_from_slice(&alpn);
            let mut msg = vec![0x01, 0x00, 0x00, u8::try_from(body.len()).unwrap()];
            msg.extend_from_slice(&body);
            let ch = parse_client_hello(&msg).unwrap();
            let code: String = ja4_alpn(&ch).iter().collect();
            assert_eq!(code, want, "value {value:02x?}");
            // Only ALPN: no extensions left for part c, no signature algorithms.
            assert!(ja4(&ch, Transport::Tcp).ends_with("_000000000000"));
        }
    }
}
