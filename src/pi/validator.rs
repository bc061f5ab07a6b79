//! Format and check-digit validators for PI values (regulation-cn.md §6).
//!
//! Every function is pure: it takes the candidate value (already extracted
//! and, where the detector does so, decoded), never allocates, never reads
//! the clock. A `true` answer means "has the shape and checksum of the
//! identifier", not "is PI": checksums are weak alone (Luhn passes 10 % of
//! random digit strings), so callers combine format + checksum + key context
//! or known values (§6 "General").
//!
//! Functions taking `&str` expect the bare value: no surrounding whitespace
//! is trimmed unless the function says so.

use time::{Date, Month};

/// Numeric value of an ASCII hex digit (either case).
fn hex_val(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'a'..=b'f' => Some(u32::from(c - b'a') + 10),
        b'A'..=b'F' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

fn all_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

fn all_hex(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_hexdigit)
}

/// Two ASCII digits as a number; `None` if either is not a digit.
fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            Some(u32::from(a - b'0') * 10 + u32::from(c - b'0'))
        }
        _ => None,
    }
}

/// Luhn sum in `base` (reduced mod `base`) over `digits`, doubling the positions `double_parity`
/// (0 = rightmost) counted from the right. `None` on a non-digit.
fn luhn_sum(digits: &[u8], base: u32, double_parity: usize) -> Option<u32> {
    let mut sum = 0u32;
    for (i, &c) in digits.iter().rev().enumerate() {
        let mut d = hex_val(c)?;
        if d >= base {
            return None;
        }
        if i % 2 == double_parity {
            d *= 2;
            // Adding the two base-`base` digits of 2d equals 2d - (base - 1).
            if d >= base {
                d -= base - 1;
            }
        }
        // Reduced as we go so arbitrarily long input cannot overflow.
        sum = (sum + d) % base;
    }
    Some(sum)
}

/// Luhn (ISO/IEC 7812-1 Annex B) over ASCII decimal digits whose last digit is
/// the check digit: double every second digit from the right, subtract 9 from
/// results above 9, the sum must be ≡ 0 mod 10 (regulation-cn.md §6, bank
/// card). False for fewer than 2 bytes or any non-digit.
pub fn luhn(digits: &[u8]) -> bool {
    digits.len() >= 2 && all_digits(digits) && luhn_sum(digits, 10, 1).is_some_and(|s| s % 10 == 0)
}

/// The Luhn check digit (ASCII) to append to `payload` (ASCII decimal
/// digits); `None` if `payload` is empty or has a non-digit.
pub fn luhn_check_digit(payload: &[u8]) -> Option<u8> {
    if !all_digits(payload) {
        return None;
    }
    let sum = luhn_sum(payload, 10, 0)?;
    // (10 - sum mod 10) mod 10 is < 10, so the cast cannot truncate.
    Some(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// Luhn in base 16 over ASCII hex digits (either case) whose last digit is the
/// check digit: double every second digit from the right, subtract 15 from
/// results above 15, the sum must be ≡ 0 mod 16. Used for the optional MEID
/// check digit (3GPP2 S.R0048; regulation-cn.md §6: `AF0123450ABCDE` → `C`).
pub fn luhn_hex(digits: &[u8]) -> bool {
    digits.len() >= 2 && all_hex(digits) && luhn_sum(digits, 16, 1).is_some_and(|s| s % 16 == 0)
}

/// The base-16 Luhn check digit (ASCII upper-case hex) to append to
/// `payload`; `None` if `payload` is empty or has a non-hex byte.
pub fn luhn_hex_check_digit(payload: &[u8]) -> Option<u8> {
    if !all_hex(payload) {
        return None;
    }
    let sum = luhn_sum(payload, 16, 0)?;
    let check = (16 - sum % 16) % 16;
    b"0123456789ABCDEF".get(check as usize).copied()
}

/// Province part (first two digits) of a GB/T 2260 address code accepted in a
/// resident ID: 11–15, 21–23, 31–37, 41–46, 50–54, 61–65, and 81/82/83 for
/// the residence permits of Hong Kong, Macau and Taiwan residents
/// (regulation-cn.md §6). The remaining four address digits are not checked
/// because retired codes stay valid on old cards.
fn id_province(p: u32) -> bool {
    matches!(p, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 81..=83)
}

/// A real calendar date from ASCII `YYYY`, `MM`, `DD`, ≥ 1900-01-01 and not
/// after `today`.
fn id_birth_date(year: &[u8], month: &[u8], day: &[u8], today: Date) -> bool {
    let (Some(y_hi), Some(y_lo), Some(m), Some(d)) = (
        two_digits(year),
        year.get(2..).and_then(two_digits),
        two_digits(month),
        two_digits(day),
    ) else {
        return false;
    };
    let year = (y_hi * 100 + y_lo) as i32;
    if year < 1900 {
        return false;
    }
    let Ok(month) = Month::try_from(m as u8) else {
        return false;
    };
    match Date::from_calendar_date(year, month, d as u8) {
        Ok(date) => date <= today,
        Err(_) => false,
    }
}

/// ISO 7064 MOD 11-2 weights Wᵢ = 2^(18−i) mod 11 for the 17 body digits of
/// a resident ID (GB 11643-1999; regulation-cn.md §6).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character indexed by S mod 11.
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// The ISO 7064 MOD 11-2 check character (`0`–`9` or upper-case `X`) of the
/// first 17 digits of a resident ID: S = Σ dᵢ·Wᵢ, check = `"10X98765432"[S mod
/// 11]` (GB 11643-1999; regulation-cn.md §6). `None` unless `body` is exactly
/// 17 ASCII digits.
pub fn cn_resident_id_check_char(body: &[u8]) -> Option<u8> {
    if body.len() != 17 || !all_digits(body) {
        return None;
    }
    let sum: u32 = body
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    ID_CHECK.get((sum % 11) as usize).copied()
}

/// Mainland resident ID number (居民身份证号, GB 11643-1999; regulation-cn.md §6).
///
/// 18-character form: 6-digit address code whose province (first two
/// digits) is 11–15, 21–23, 31–37, 41–46, 50–54, 61–65 or 81–83, birth date `YYYYMMDD` that is a real date, not before
/// 1900 and not after `today` (passed in: no clock reads), 3-digit sequence,
/// and the MOD 11-2 check character; lower-case `x` is accepted.
/// 15-digit legacy form: address 6 + `YYMMDD` (read as 19YY) + sequence 3, no
/// check digit; the same province and date rules apply.
pub fn cn_resident_id(s: &str, today: Date) -> bool {
    let b = s.as_bytes();
    // The fixed-offset slices below are in bounds: each arm has checked the
    // length first.
    match b.len() {
        18 => {
            let (Some(body), Some(&last)) = (b.get(..17), b.get(17)) else {
                return false;
            };
            two_digits(body).is_some_and(id_province)
                && id_birth_date(&body[6..10], &body[10..12], &body[12..14], today)
                && cn_resident_id_check_char(body) == Some(last.to_ascii_uppercase())
        }
        15 => {
            all_digits(b)
                && two_digits(b).is_some_and(id_province)
                && id_birth_date(&[b'1', b'9', b[6], b[7]], &b[8..10], &b[10..12], today)
        }
        _ => false,
    }
}

/// Converts a 15-digit legacy resident ID to the 18-character form by inserting
/// `19` before the two-digit year and appending the MOD 11-2 check character
/// (regulation-cn.md §6). Checks only that the input is 15 ASCII digits; run
/// [`cn_resident_id`] on either form for the semantic checks.
pub fn upgrade_resident_id_15(s: &str) -> Option<[u8; 18]> {
    let b = s.as_bytes();
    if b.len() != 15 || !all_digits(b) {
        return None;
    }
    let mut out = [0u8; 18];
    out[..6].copy_from_slice(&b[..6]);
    out[6] = b'1';
    out[7] = b'9';
    out[8..17].copy_from_slice(&b[6..15]);
    out[17] = cn_resident_id_check_char(&out[..17])?;
    Some(out)
}

/// Parses exactly 11 ASCII digits, or 3-4-4 groups separated by one space or
/// one `-` (the same separator twice).
fn mobile_body(b: &[u8]) -> Option<[u8; 11]> {
    let mut out = [0u8; 11];
    match b.len() {
        11 if all_digits(b) => out.copy_from_slice(b),
        13 => {
            let sep = *b.get(3)?;
            if !(sep == b' ' || sep == b'-') || b.get(8) != Some(&sep) {
                return None;
            }
            let (a, rest) = (&b[..3], &b[4..]);
            let (m, e) = (&rest[..4], &rest[5..]);
            if !(all_digits(a) && all_digits(m) && all_digits(e)) {
                return None;
            }
            out[..3].copy_from_slice(a);
            out[3..7].copy_from_slice(m);
            out[7..].copy_from_slice(e);
        }
        _ => return None,
    }
    Some(out)
}

/// Normalises a written mainland mobile number to its 11 ASCII digits.
///
/// Accepts the bare 11 digits, 3-4-4 groups separated by spaces or `-`, and
/// the country prefixes `+86`, `0086` and `86`, each optionally followed by one
/// space or `-` (regulation-cn.md §6). Returns `None` for anything else; the
/// result is not yet checked against the segment list (see [`cn_mobile`]).
pub fn normalize_cn_mobile(s: &str) -> Option<[u8; 11]> {
    let b = s.as_bytes();
    if let Some(d) = mobile_body(b) {
        return Some(d);
    }
    for prefix in [&b"+86"[..], b"0086", b"86"] {
        if let Some(rest) = b.strip_prefix(prefix) {
            let rest = match rest.first() {
                Some(b' ' | b'-') => &rest[1..],
                _ => rest,
            };
            if let Some(d) = mobile_body(rest) {
                return Some(d);
            }
        }
    }
    None
}

/// True if 11 ASCII digits form a mainland mobile number: `1[3-9]` and a
/// 3-digit segment in the 2020 list of regulation-cn.md §6 (China Mobile,
/// Unicom, Telecom, Broadnet, MVNO 162/165/167/170/171, data-only
/// 145/147/149; 174 only as 17400–17405). The 13-digit IoT ranges
/// (1410, 144x, 146, 148) are not mobile numbers.
pub fn cn_mobile_digits(d: &[u8]) -> bool {
    if d.len() != 11 || !all_digits(d) || d[0] != b'1' {
        return false;
    }
    let Some(seg) = two_digits(&d[1..]) else {
        return false;
    };
    match seg {
        30..=39 | 45 | 47 | 49 | 50..=53 | 55..=59 | 62 | 65..=67 => true,
        70..=73 | 75..=78 | 80..=89 | 90..=93 | 95..=99 => true,
        74 => d[3] == b'0' && (b'0'..=b'5').contains(&d[4]),
        _ => false,
    }
}

/// Mainland mobile number (手机号, regulation-cn.md §6): [`normalize_cn_mobile`]
/// then [`cn_mobile_digits`].
pub fn cn_mobile(s: &str) -> bool {
    normalize_cn_mobile(s).is_some_and(|d| cn_mobile_digits(&d))
}

/// Emulator IMEI listed in regulation-cn.md §6 (unverified there).
const EMULATOR_IMEIS: [&[u8]; 1] = [b"358240051111110"];

/// True for IMEI-shaped values that are placeholders, not a device's
/// identity: the first 14 digits all the same digit (`000000000000000`,
/// `111111111111119`…), an ascending or descending run of digits
/// (`012345678901234`, `123456789012347`), or a known emulator value
/// (regulation-cn.md §6: placeholder values are not PI). Takes 14 or 15
/// digits; other input is not an IMEI and returns false.
pub fn is_placeholder_imei(s: &str) -> bool {
    let b = s.as_bytes();
    if !(b.len() == 14 || b.len() == 15) || !all_digits(b) {
        return false;
    }
    let body = &b[..14];
    let same = body.iter().all(|&c| c == body[0]);
    let step = |delta: u8| {
        body.windows(2)
            .all(|w| w[1] == b'0' + (w[0] - b'0' + delta) % 10)
    };
    same || step(1) || step(9) || EMULATOR_IMEIS.iter().any(|e| e.starts_with(body))
}

/// Reporting-body rule for an IMEI: `00` is the test/placeholder body and is
/// rejected. The other bodies of §6 (`01` CTIA, `35` BABT, `86` TAF, `99` GHA,
/// the `02`–`09` ranges) are accepted: the §6 table is partly unverified and
/// rejecting a real phone's IMEI would break a session file.
fn imei_reporting_body(b: &[u8]) -> bool {
    !b.starts_with(b"00")
}

/// The IMEI check digit (ASCII) for a 14-digit body: Luhn over TAC 8 + serial
/// 6 (3GPP TS 23.003 §6.2.1; regulation-cn.md §6).
pub fn imei_check_digit(body: &[u8]) -> Option<u8> {
    if body.len() != 14 {
        return None;
    }
    luhn_check_digit(body)
}

/// IMEI (regulation-cn.md §6): 15 ASCII digits = TAC 8 + serial 6 + Luhn
/// check digit; reporting body (first two digits) not `00`; not a
/// placeholder ([`is_placeholder_imei`]).
pub fn imei(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 15 && luhn(b) && imei_reporting_body(b) && !is_placeholder_imei(s)
}

/// IMEI without its check digit, as some SDKs send it (regulation-cn.md §6):
/// 14 ASCII digits, reporting body not `00`, not a placeholder.
pub fn imei14(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 14 && all_digits(b) && imei_reporting_body(b) && !is_placeholder_imei(s)
}

/// The optional MEID check digit (ASCII upper-case hex) for a 14-hex MEID:
/// Luhn in base 16 (regulation-cn.md §6).
pub fn meid_check_digit(meid: &[u8]) -> Option<u8> {
    if meid.len() != 14 {
        return None;
    }
    luhn_hex_check_digit(meid)
}

/// MEID (CDMA; regulation-cn.md §6): 14 hex digits (either case) `RR XXXXXX
/// ZZZZZZ` with regional code RR in `A0`–`FF`, optionally followed by the
/// base-16 Luhn check digit (15 hex digits, which must then verify). A serial
/// of all zeros after RR is rejected as a placeholder. The 18-digit decimal
/// form is not accepted here.
pub fn meid(s: &str) -> bool {
    let b = s.as_bytes();
    if !(b.len() == 14 || b.len() == 15) || !all_hex(b) {
        return false;
    }
    let rr = match (hex_val(b[0]), hex_val(b[1])) {
        (Some(h), Some(l)) => h * 16 + l,
        _ => return false,
    };
    if rr < 0xA0 || b[2..14].iter().all(|&c| c == b'0') {
        return false;
    }
    b.len() == 14 || luhn_hex(b)
}

/// Mobile network codes under MCC 460 accepted for an IMSI
/// (regulation-cn.md §6): China Mobile 00, 02, 04 (IoT, unverified), 07, 08,
/// 20 (Tietong, unverified); China Unicom 01, 06, 09; China Telecom 03, 05,
/// 11; China Broadnet 15. The disputed 10, 12 and 13 are rejected.
const CN_MNCS: [u32; 13] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15, 20];

/// Chinese IMSI (regulation-cn.md §6): 15 ASCII digits = MCC `460` + a known
/// Chinese MNC (00–09, 11, 15, 20; the disputed 10, 12, 13 rejected) + MSIN
/// 10, MSIN not all zeros (placeholder).
pub fn imsi_cn(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 15
        && all_digits(b)
        && b.starts_with(b"460")
        && two_digits(&b[3..]).is_some_and(|mnc| CN_MNCS.contains(&mnc))
        && !b[5..].iter().all(|&c| c == b'0')
}

/// Outcome of the soft ICCID check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IccidCheck {
    /// Chinese ICCID shape but the Luhn check fails, or the account part
    /// holds letters so no Luhn check is possible: lower confidence, not
    /// rejection (regulation-cn.md §6 "soft check").
    ChecksumMismatch,
    /// Not a Chinese ICCID.
    Invalid,
    /// Shape and Luhn check digit both good.
    Valid,
}

/// Chinese ICCID (ITU-T E.118; regulation-cn.md §6): 19–20 characters
/// starting `8986` (`89` telecom + `86` China), the rest ASCII digits (or,
/// softly, upper-case letters, seen on some Chinese SIMs), the last one a
/// Luhn check digit over the rest. One trailing `F`/`f` (padding from raw SIM
/// reads) is ignored.
pub fn iccid(s: &str) -> IccidCheck {
    let mut b = s.as_bytes();
    if b.len() == 20 || b.len() == 21 {
        if let Some(rest) = b.strip_suffix(b"F").or_else(|| b.strip_suffix(b"f")) {
            b = rest;
        }
    }
    if !(19..=20).contains(&b.len()) || !b.starts_with(b"8986") {
        return IccidCheck::Invalid;
    }
    let tail = &b[4..];
    if !tail
        .iter()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return IccidCheck::Invalid;
    }
    if luhn(b) {
        IccidCheck::Valid
    } else {
        IccidCheck::ChecksumMismatch
    }
}

/// Value of a GB 32100-2015 code character: `0`–`9` → 0–9, then the upper-case
/// letters without I, O, S, V, Z → 10–30.
fn uscc_val(c: u8) -> Option<u32> {
    const LETTERS: &[u8; 21] = b"ABCDEFGHJKLMNPQRTUWXY";
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        _ => LETTERS.iter().position(|&l| l == c).map(|p| p as u32 + 10),
    }
}

/// GB 32100-2015 weights Wᵢ = 3^(i−1) mod 31 (regulation-cn.md §6).
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The GB 32100-2015 check character of the first 17 characters of a Unified
/// Social Credit Code: (31 − Σ cᵢ·Wᵢ mod 31) mod 31, written back in the code
/// alphabet. `None` on a character outside the alphabet or a length ≠ 17.
pub fn uscc_check_char(body: &[u8]) -> Option<u8> {
    if body.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (&c, w) in body.iter().zip(USCC_WEIGHTS) {
        sum += uscc_val(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    b"0123456789ABCDEFGHJKLMNPQRTUWXY"
        .get(check as usize)
        .copied()
}

/// Unified Social Credit Code (统一社会信用代码, GB 32100-2015;
/// regulation-cn.md §6): 18 upper-case characters from `0-9A-HJ-NPQRTUWXY`,
/// the last being [`uscc_check_char`] of the first 17. Only `92…` codes
/// (individual businesses) are tied to a natural person; that decision is the
/// caller's.
pub fn uscc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18 && uscc_check_char(&b[..17]).is_some_and(|c| Some(&c) == b.get(17))
}

/// Organisation code (GB 11714; positions 9–17 of a USCC, regulation-cn.md
/// §6): 8 characters `0-9A-Z` with weights 3 7 9 10 5 8 4 2 (A = 10 … Z = 35)
/// and check C = 11 − (S mod 11), 10 → `X`, 11 → `0`.
pub fn cn_org_code(s: &str) -> bool {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let b = s.as_bytes();
    if b.len() != 9 {
        return false;
    }
    let mut sum = 0u32;
    for (&c, w) in b.iter().zip(W) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        sum += v * w;
    }
    let expected = match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        // 1..=9 here, so the cast cannot truncate.
        n => b'0' + n as u8,
    };
    b[8] == expected
}

/// Parses a 48-bit MAC address written as six hex pairs separated by `:` or by
/// `-` (the same separator throughout), or as 12 bare hex digits; either case
/// (regulation-cn.md §6 "Wi-Fi BSSID / MAC").
pub fn mac(s: &str) -> Option<[u8; 6]> {
    let b = s.as_bytes();
    let mut out = [0u8; 6];
    let (stride, sep) = match b.len() {
        12 => (2, None),
        17 => match b[2] {
            sep @ (b':' | b'-') => (3, Some(sep)),
            _ => return None,
        },
        _ => return None,
    };
    for (i, byte) in out.iter_mut().enumerate() {
        let at = i * stride;
        let hi = hex_val(*b.get(at)?)?;
        let lo = hex_val(*b.get(at + 1)?)?;
        if let Some(sep) = sep {
            if i < 5 && b.get(at + 2) != Some(&sep) {
                return None;
            }
        }
        // hi and lo are < 16, so the value fits a byte.
        *byte = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// True for MAC values that stand for "no MAC": `02:00:00:00:00:00` (Android
/// 6+ without permission), all zeros and all ones (regulation-cn.md §6).
pub fn is_placeholder_mac(mac: &[u8; 6]) -> bool {
    *mac == [0x02, 0, 0, 0, 0, 0] || *mac == [0; 6] || *mac == [0xff; 6]
}

/// Parses a UUID in the hyphenated `8-4-4-4-12` hex form, either case (IDFA,
/// IDFV, Huawei OAID; regulation-cn.md §6). The bare 32-hex form is not
/// accepted: it cannot be told from an MD5 digest.
pub fn uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut n = 0usize;
    let mut i = 0usize;
    while i < 36 {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b[i] != b'-' {
                return None;
            }
            i += 1;
            continue;
        }
        let hi = hex_val(b[i])?;
        let lo = hex_val(*b.get(i + 1)?)?;
        *out.get_mut(n)? = (hi * 16 + lo) as u8;
        n += 1;
        i += 2;
    }
    Some(out)
}

/// True if `s` is a UUID of all zeros (IDFA without ATT consent, OAID with
/// limited tracking): a placeholder, not PI (regulation-cn.md §6).
pub fn is_zero_uuid(s: &str) -> bool {
    uuid(s) == Some([0; 16])
}

/// True if `s` is non-empty and made only of `0` and `-`: the zero strings of
/// any length that OAID providers return under limited tracking
/// (regulation-cn.md §6).
pub fn is_zero_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c == b'0' || c == b'-') && s.contains('0')
}

/// OAID (MSA supplementary device id; regulation-cn.md §6): a UUID (Huawei/
/// Honor), or 16, 32 or 64 hex digits (other vendors), and not all zeros.
pub fn oaid(s: &str) -> bool {
    let b = s.as_bytes();
    let shaped = uuid(s).is_some() || (matches!(b.len(), 16 | 32 | 64) && all_hex(b));
    shaped && !is_zero_id(s)
}

/// IDFA/IDFV (regulation-cn.md §6): a UUID that is not all zeros.
pub fn idfa(s: &str) -> bool {
    uuid(s).is_some() && !is_zero_uuid(s)
}

/// The Android 2.2 bug value of `ANDROID_ID`, shared by many devices.
pub const BAD_ANDROID_ID: &str = "9774d56d682e549c";

/// Android ID (`Settings.Secure.ANDROID_ID`; regulation-cn.md §6): a 64-bit
/// value printed as hex with leading zeros dropped, so usually 16 digits;
/// 13 to 16 hex digits (either case) are accepted — 12 or fewer would need
/// four leading zero nibbles (probability 2⁻¹⁶) and would match too many
/// short tokens. Rejects all zeros and the known bad value
/// [`BAD_ANDROID_ID`].
pub fn android_id(s: &str) -> bool {
    let b = s.as_bytes();
    (13..=16).contains(&b.len())
        && all_hex(b)
        && !b.iter().all(|&c| c == b'0')
        && !s.eq_ignore_ascii_case(BAD_ANDROID_ID)
}

/// A WGS-84 (or GCJ-02/BD-09) coordinate pair in degrees that can be a real
/// fix: both finite, latitude in [−90, 90], longitude in [−180, 180], and not
/// the failure sentinel `0,0` (which includes the subnormal `4.9E-324` of
/// some SDKs; regulation-cn.md §6 "Coordinates").
pub fn lat_lng(lat: f64, lng: f64) -> bool {
    let zero = |v: f64| v.abs() < f64::MIN_POSITIVE;
    lat.is_finite()
        && lng.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lng)
        && !(zero(lat) && zero(lng))
}

/// The "in China" box of the coordinate-transform libraries:
/// 0.8293 < lat < 55.8271 and 72.004 < lng < 137.8347 (regulation-cn.md §6).
/// Used to require a pattern-detected lat/lng pair to lie in China.
pub fn in_china_box(lat: f64, lng: f64) -> bool {
    lat > 0.8293 && lat < 55.8271 && lng > 72.004 && lng < 137.8347
}

/// Pragmatic email address (regulation-cn.md §6):
/// `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`, at most 254 bytes
/// (RFC 5321 §4.5.3.1.3 path limit less the brackets).
pub fn email(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() > 254 {
        return false;
    }
    let Some(at) = b.iter().position(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    let local_ok = !local.is_empty()
        && local
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"._%+-".contains(&c));
    let domain_chars = domain
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-');
    let Some(dot) = domain.iter().rposition(|&c| c == b'.') else {
        return false;
    };
    let tld = &domain[dot + 1..];
    local_ok && domain_chars && dot > 0 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)
}

/// Bank card number (regulation-cn.md §6): 16–19 ASCII digits passing Luhn,
/// not a single repeated digit (`0000000000000000` passes Luhn). The IIN
/// (`62` UnionPay, `4`, `5`, `35`) is not required: co-branded cards exist.
pub fn bank_card(s: &str) -> bool {
    let b = s.as_bytes();
    (16..=19).contains(&b.len()) && luhn(b) && !b.iter().all(|&c| c == b[0])
}

/// Province abbreviations that open a plate, plus 使 (embassy) and 领
/// (consulate) (GA 36-2018; regulation-cn.md §6).
const PLATE_REGIONS: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领";

fn plate_letter(c: char) -> bool {
    c.is_ascii_uppercase() && c != 'I' && c != 'O'
}

fn plate_alnum(c: char) -> bool {
    plate_letter(c) || c.is_ascii_digit()
}

fn new_energy_class(c: char) -> bool {
    "DABCEFGHJK".contains(c)
}

/// Vehicle licence plate (GA 36-2018; regulation-cn.md §6): region
/// abbreviation + issuing letter `[A-HJ-NP-Z]`, optionally followed by `·` or
/// one space as printed, then either the ordinary 5 characters
/// `[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳]` or a new-energy 6: small
/// `[DABCEFGHJK][A-HJ-NP-Z0-9]\d{4}`, large `\d{5}[DABCEFGHJK]`. Upper case only.
pub fn license_plate(s: &str) -> bool {
    let mut chars = s.chars();
    let (Some(region), Some(issuer)) = (chars.next(), chars.next()) else {
        return false;
    };
    if !PLATE_REGIONS.contains(region) || !plate_letter(issuer) {
        return false;
    }
    let mut rest = ['\0'; 6];
    let mut n = 0usize;
    for (i, c) in chars.enumerate() {
        if i == 0 && (c == '·' || c == ' ') {
            continue;
        }
        match rest.get_mut(n) {
            Some(slot) => *slot = c,
            None => return false,
        }
        n += 1;
    }
    match n {
        5 => {
            rest[..4].iter().all(|&c| plate_alnum(c))
                && (plate_alnum(rest[4]) || "挂学警港澳".contains(rest[4]))
        }
        6 => {
            let small = new_energy_class(rest[0])
                && plate_alnum(rest[1])
                && rest[2..].iter().all(char::is_ascii_digit);
            let large = rest[..5].iter().all(char::is_ascii_digit) && new_energy_class(rest[5]);
            small || large
        }
        _ => false,
    }
}

/// Android application id / Java package name (as in `installed_apps`): at
/// least two `.`-separated segments, each an ASCII letter followed by ASCII
/// letters, digits or `_`; at most 255 bytes.
pub fn android_package(s: &str) -> bool {
    s.len() <= 255
        && s.contains('.')
        && s.split('.').all(|seg| {
            let mut it = seg.bytes();
            it.next().is_some_and(|c| c.is_ascii_alphabetic())
                && it.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 03 - 02);

    /// Appends a computed check character to an ASCII body.
    fn with_check(body: &str, check: Option<u8>) -> String {
        let c = check.map(char::from).unwrap_or('?');
        format!("{body}{c}")
    }

    #[test]
    fn luhn_known_vectors() {
        // The classic textbook number 7992739871 with check digit 3.
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"79927398710"));
        assert_eq!(luhn_check_digit(b"7992739871"), Some(b'3'));
        assert!(!luhn(b"0"));
        assert!(!luhn(b""));
        assert!(!luhn(b"7992739871a"));
        // Long input does not overflow the running sum.
        assert!(!luhn(&[b'9'; 1 << 20]));
        assert!(luhn(&[b'0'; 1 << 20]));
        assert_eq!(luhn_check_digit(b""), None);
        // Every computed check digit verifies; every other digit fails.
        for body in ["8612345678901", "35209900176148", "6222020200112233445"] {
            let good = luhn_check_digit(body.as_bytes());
            for d in b'0'..=b'9' {
                let full = format!("{body}{}", char::from(d));
                assert_eq!(luhn(full.as_bytes()), Some(d) == good, "{full}");
            }
        }
    }

    #[test]
    fn luhn_hex_meid_example() {
        // regulation-cn.md §6: AF0123450ABCDE -> check digit C.
        assert_eq!(luhn_hex_check_digit(b"AF0123450ABCDE"), Some(b'C'));
        assert_eq!(meid_check_digit(b"af0123450abcde"), Some(b'C'));
        assert!(luhn_hex(b"AF0123450ABCDEC"));
        assert!(luhn_hex(b"af0123450abcdec"));
        assert!(!luhn_hex(b"AF0123450ABCDED"));
        assert!(!luhn_hex(b"AF0123450ABCDEG"));
    }

    #[test]
    fn resident_id_standard_example_and_computed() {
        assert_eq!(cn_resident_id_check_char(b"11010519491231002"), Some(b'X'));
        assert!(cn_resident_id("11010519491231002X", TODAY));
        assert!(cn_resident_id("11010519491231002x", TODAY));
        assert!(!cn_resident_id("110105194912310021", TODAY));
        // Synthetic identity: Shanghai, born 1990-02-28, computed check.
        let id = with_check(
            "31011519900228123",
            cn_resident_id_check_char(b"31011519900228123"),
        );
        assert!(cn_resident_id(&id, TODAY), "{id}");
        // Hong Kong residence permit code 810000.
        let hk = with_check(
            "81000019851111004",
            cn_resident_id_check_char(b"81000019851111004"),
        );
        assert!(cn_resident_id(&hk, TODAY));
    }

    #[test]
    fn resident_id_rejects_bad_province_date_and_length() {
        let check = |body: &str| with_check(body, cn_resident_id_check_char(body.as_bytes()));
        // Province 16 and 71 are not issued.
        assert!(!cn_resident_id(&check("16010519900101123"), TODAY));
        assert!(!cn_resident_id(&check("71010519900101123"), TODAY));
        // 1990-02-30 is not a date; 1899 too early; 2026-03-03 after today.
        assert!(!cn_resident_id(&check("31011519900230123"), TODAY));
        assert!(!cn_resident_id(&check("31011518991231123"), TODAY));
        assert!(!cn_resident_id(&check("31011520260303123"), TODAY));
        // Born today is fine; leap day only in leap years.
        assert!(cn_resident_id(&check("31011520260302123"), TODAY));
        assert!(cn_resident_id(&check("31011520000229123"), TODAY));
        assert!(!cn_resident_id(&check("31011519000229123"), TODAY));
        assert!(!cn_resident_id("3101151990022812", TODAY));
        assert!(!cn_resident_id("31011519900228123XX", TODAY));
        assert!(!cn_resident_id("3101151990022812X3", TODAY));
    }

    #[test]
    fn resident_id_legacy_15() {
        assert!(cn_resident_id("110105491231002", TODAY));
        assert!(!cn_resident_id("110105491331002", TODAY));
        assert!(!cn_resident_id("990105491231002", TODAY));
        assert!(!cn_resident_id("11010549123100X", TODAY));
        let up = upgrade_resident_id_15("110105491231002");
        assert_eq!(
            up.as_ref().map(|b| &b[..]),
            Some(&b"11010519491231002X"[..])
        );
        assert_eq!(upgrade_resident_id_15("11010549123100"), None);
    }

    #[test]
    fn mobile_forms_and_segments() {
        for ok in [
            "13812345678",
            "+8613812345678",
            "008613812345678",
            "8613812345678",
            "+86 13812345678",
            "+86-13812345678",
            "138 1234 5678",
            "+86 138 1234 5678",
            "138-1234-5678",
            "17401234567",
            "19212345678",
            "16612345678",
        ] {
            assert!(cn_mobile(ok), "{ok}");
        }
        assert_eq!(
            normalize_cn_mobile("+86 138 1234 5678"),
            Some(*b"13812345678")
        );
        for bad in [
            "1381234567",      // 10 digits
            "138123456789",    // 12 digits
            "12812345678",     // second digit 2
            "15412345678",     // 154 unassigned
            "14612345678",     // 146 is 13-digit IoT
            "16112345678",     // 161 unassigned
            "19412345678",     // 194 unassigned
            "17406123456",     // 1740 only 0-5
            "17412345678",     // 1741x not mobile
            "138 12345678",    // mixed grouping
            "138-1234 5678",   // mixed separators
            "+87 13812345678", // other country
            " 13812345678",
            "１３８１２３４５６７８", // full-width digits: caller normalises
        ] {
            assert!(!cn_mobile(bad), "{bad}");
        }
    }

    #[test]
    fn imei_rules() {
        let body = "86123456789012";
        let full = with_check(body, imei_check_digit(body.as_bytes()));
        assert!(imei(&full), "{full}");
        assert!(imei14(body));
        // Wrong check digit.
        let wrong = format!("{body}{}", if full.ends_with('0') { '1' } else { '0' });
        assert!(!imei(&wrong));
        // Reporting body 00 with a correct check digit.
        let test_body = "00123456789012";
        let test_imei = with_check(test_body, imei_check_digit(test_body.as_bytes()));
        assert!(!imei(&test_imei));
        assert!(!imei14(test_body));
        // Placeholders, even with a correct check digit.
        let ones = with_check("11111111111111", imei_check_digit(b"11111111111111"));
        assert!(is_placeholder_imei(&ones));
        assert!(!imei(&ones));
        let run = with_check("12345678901234", imei_check_digit(b"12345678901234"));
        assert!(is_placeholder_imei(&run) && !imei(&run));
        assert!(is_placeholder_imei("000000000000000"));
        assert!(is_placeholder_imei("358240051111110"));
        assert!(!imei("358240051111110"));
        assert!(!is_placeholder_imei(&full));
        assert!(!imei("8612345678901"));
        assert!(!imei("86123456789012a"));
        assert_eq!(imei_check_digit(b"861234567890"), None);
    }

    #[test]
    fn meid_rules() {
        assert!(meid("A0000012345678"));
        assert!(meid("af0123450abcde"));
        assert!(meid("AF0123450ABCDEC"));
        assert!(!meid("AF0123450ABCDE1"));
        assert!(!meid("990123450ABCDE")); // RR below A0
        assert!(!meid("A0000000000000")); // zero serial
        assert!(!meid("AF0123450ABCD"));
        assert!(!meid("AF0123450ABCDG"));
    }

    #[test]
    fn imsi_rules() {
        assert!(imsi_cn("460001234567890"));
        assert!(imsi_cn("460111234567890"));
        assert!(imsi_cn("460151234567890"));
        assert!(!imsi_cn("460101234567890")); // disputed MNC 10
        assert!(!imsi_cn("310260000000000")); // emulator, not MCC 460
        assert!(!imsi_cn("460000000000000")); // zero MSIN
        assert!(!imsi_cn("46000123456789"));
        assert!(!imsi_cn("46000123456789x"));
    }

    #[test]
    fn iccid_soft_check() {
        for body in ["898600123456789012", "8986001234567890123"] {
            let full = with_check(body, luhn_check_digit(body.as_bytes()));
            assert_eq!(iccid(&full), IccidCheck::Valid, "{full}");
            let padded = format!("{full}F");
            if padded.len() <= 21 {
                assert_eq!(iccid(&padded), IccidCheck::Valid, "{padded}");
            }
            let wrong = format!("{body}{}", if full.ends_with('0') { '1' } else { '0' });
            assert_eq!(iccid(&wrong), IccidCheck::ChecksumMismatch);
        }
        assert_eq!(iccid("89860A12345678901234"), IccidCheck::ChecksumMismatch);
        assert_eq!(iccid("89440012345678901234"), IccidCheck::Invalid); // UK
        assert_eq!(iccid("898600123456789"), IccidCheck::Invalid);
        assert_eq!(iccid("898600123456789012345"), IccidCheck::Invalid);
        assert_eq!(iccid("89860012345678901-34"), IccidCheck::Invalid);
    }

    #[test]
    fn uscc_and_org_code() {
        assert!(uscc("91350100M000100Y43"));
        assert_eq!(uscc_check_char(b"91350100M000100Y4"), Some(b'3'));
        assert!(cn_org_code("M000100Y4"));
        assert!(!uscc("91350100M000100Y44"));
        assert!(!uscc("91350100M000100Y4"));
        assert!(!uscc("91350100I000100Y43")); // I not in the alphabet
        assert!(!uscc("91350100m000100y43"));
        // Synthetic individual business, computed check.
        let code = with_check("92110105MA0000001", uscc_check_char(b"92110105MA0000001"));
        assert!(uscc(&code), "{code}");
        assert!(!cn_org_code("M000100Y5"));
    }

    #[test]
    fn mac_forms_and_placeholders() {
        let want = Some([0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]);
        assert_eq!(mac("02:1a:2b:3c:4d:5e"), want);
        assert_eq!(mac("02-1A-2B-3C-4D-5E"), want);
        assert_eq!(mac("021a2b3c4d5e"), want);
        assert_eq!(mac("02:1a-2b:3c:4d:5e"), None);
        assert_eq!(mac("02:1a:2b:3c:4d:5g"), None);
        assert_eq!(mac("02:1a:2b:3c:4d"), None);
        assert_eq!(mac("02.1a.2b.3c.4d.5e"), None);
        assert_eq!(mac("021a2b3c4d5e0"), None);
        assert!(is_placeholder_mac(&[0x02, 0, 0, 0, 0, 0]));
        assert!(is_placeholder_mac(&[0; 6]));
        assert!(is_placeholder_mac(&[0xff; 6]));
        assert!(!is_placeholder_mac(&[0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]));
    }

    #[test]
    fn uuid_oaid_idfa() {
        let oaid_v = "6f1b0f5e-3c1a-4e8b-9a51-2d0c5b7e9f10";
        assert_eq!(uuid(oaid_v).map(|u| u[0]), Some(0x6f));
        assert!(uuid("6F1B0F5E-3C1A-4E8B-9A51-2D0C5B7E9F10").is_some());
        assert!(uuid("6f1b0f5e3c1a4e8b9a512d0c5b7e9f10").is_none());
        assert!(uuid("6f1b0f5e-3c1a-4e8b-9a51-2d0c5b7e9f1").is_none());
        assert!(uuid("6f1b0f5e-3c1a-4e8b-9a51_2d0c5b7e9f10").is_none());
        assert!(is_zero_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(!is_zero_uuid(oaid_v));
        assert!(oaid(oaid_v));
        assert!(oaid("a1b2c3d4e5f60718"));
        assert!(!oaid("00000000-0000-0000-0000-000000000000"));
        assert!(!oaid(&"0".repeat(64)));
        assert!(!oaid("a1b2c3d4e5f6071"));
        assert!(idfa("E621E1F8-C36C-495A-93FC-0C247A3E6E5F"));
        assert!(!idfa("00000000-0000-0000-0000-000000000000"));
        assert!(is_zero_id("0000000000000000"));
        assert!(!is_zero_id("----"));
        assert!(!is_zero_id(""));
    }

    #[test]
    fn android_id_rules() {
        assert!(android_id("3c5f1a9e0b7d2468"));
        assert!(android_id("c5f1a9e0b7d2468")); // leading zero dropped
        assert!(android_id("3C5F1A9E0B7D2468"));
        assert!(!android_id("9774d56d682e549c"));
        assert!(!android_id("9774D56D682E549C"));
        assert!(!android_id("0000000000000000"));
        assert!(!android_id("3c5f1a9e0b7d2468a"));
        assert!(!android_id("1a9e0b7d2468")); // 12 digits: too short
        assert!(!android_id("3c5f1a9e0b7d246g"));
    }

    #[test]
    fn coordinates() {
        assert!(lat_lng(39.908823, 116.397470));
        assert!(lat_lng(-33.86, 151.21));
        assert!(lat_lng(0.0, 116.4));
        assert!(!lat_lng(0.0, 0.0));
        assert!(!lat_lng(4.9e-324, 4.9e-324));
        assert!(!lat_lng(91.0, 116.0));
        assert!(!lat_lng(39.9, 180.5));
        assert!(!lat_lng(f64::NAN, 116.0));
        assert!(in_china_box(39.908823, 116.397470));
        assert!(in_china_box(18.25, 109.5)); // Sanya
        assert!(!in_china_box(116.397470, 39.908823)); // swapped
        assert!(!in_china_box(51.5, -0.12)); // London
    }

    #[test]
    fn email_rules() {
        for ok in [
            "tester03@example.com",
            "12345678@qq.com",
            "a.b+c_d%e-f@mail.example.co",
        ] {
            assert!(email(ok), "{ok}");
        }
        for bad in [
            "tester03example.com",
            "@example.com",
            "tester@example",
            "tester@.com",
            "tester@example.c",
            "tester@example.c0m",
            "te ster@example.com",
            "a@b@example.com",
        ] {
            assert!(!email(bad), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(!email(&long));
    }

    #[test]
    fn bank_card_rules() {
        let body = "621700123456789012";
        let card = with_check(body, luhn_check_digit(body.as_bytes()));
        assert!(bank_card(&card), "{card}");
        let credit = with_check("625807123456789", luhn_check_digit(b"625807123456789"));
        assert!(bank_card(&credit));
        assert!(!bank_card("0000000000000000"));
        assert!(!bank_card("79927398713")); // too short
        let wrong = format!("{body}{}", if card.ends_with('0') { '1' } else { '0' });
        assert!(!bank_card(&wrong));
    }

    #[test]
    fn plates() {
        for ok in [
            "京A12345",
            "京A·12345",
            "沪B 1234挂",
            "粤BD12345",
            "粤BFA2345",
            "粤BF12345",
            "川A12345D",
            "使A12345",
        ] {
            assert!(license_plate(ok), "{ok}");
        }
        for bad in [
            "京I12345",   // I not an issuing letter
            "京A1234",    // too short
            "京A1234567", // too long
            "A京12345",
            "京a12345",
            "京AO1234A", // O not allowed
            "粤BX12345", // X not a new-energy class
            "粤B12345X",
            "京A··12345",
        ] {
            assert!(!license_plate(bad), "{bad}");
        }
    }

    #[test]
    fn package_names() {
        assert!(android_package("com.tencent.mm"));
        assert!(android_package("com.eg.android.AlipayGphone"));
        assert!(android_package("a.b_1"));
        assert!(!android_package("tencent"));
        assert!(!android_package("com..mm"));
        assert!(!android_package("com.1mm"));
        assert!(!android_package("com.tencent.mm "));
    }
}
