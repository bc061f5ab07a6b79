//! Validator names of `signatures/pi/*.toml` and what each one checks.
//!
//! Owns the mapping from the `validator = "…"` strings of signature files to the pure
//! functions of [`crate::pi::validator`] (plus a few compositions the detector needs, such
//! as an IIN check for bank cards seen without key context). Takes a candidate value that
//! a pattern matched; emits a [`Verdict`]. Must not allocate or read the clock: the date
//! that bounds a birth date is passed in.

use time::Date;

use crate::pi::validator as v;

/// What a validator says about one candidate value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Shape and checks good.
    Accept,
    /// A placeholder (`000000000000000`, `02:00:00:00:00:00`, a zero UUID …): never PI.
    Placeholder,
    /// Wrong shape or check digit.
    Reject,
    /// Shape good but a soft check failed (an ICCID whose Luhn digit does not verify):
    /// accepted only with key context, at lower confidence (regulation-cn.md §6).
    Soft,
}

/// A named validator (`validator = "…"` in a PI signature).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    /// Android ID: 13–16 hex digits, not all zeros, not `9774d56d682e549c`.
    AndroidId,
    /// 16–19 digits passing Luhn, not one repeated digit.
    BankCard,
    /// [`Validator::BankCard`] plus a known IIN (UnionPay 62, Visa 4, Mastercard 51–55 and
    /// 2221–2720, JCB 35, Amex 34/37): for numbers seen without key context.
    BankCardIin,
    /// A cell identity as a decimal number: not 0, not the "unknown" values
    /// 2147483647 / 65535 / 268435455, at most 36 bits (NR NCI).
    CellId,
    /// Mainland mobile number, with or without +86/0086/86 prefix and 3-4-4 separators.
    CnMobile,
    /// Resident ID number, 18-character or 15-digit legacy form.
    CnResidentId,
    /// Pragmatic email address.
    Email,
    /// Chinese ICCID (8986…, Luhn soft).
    Iccid,
    /// IDFA/IDFV: a UUID that is not all zeros.
    Idfa,
    /// IMEI: 15 digits, Luhn, reporting body not 00, not a placeholder.
    Imei,
    /// [`Validator::Imei`] plus a reporting body seen on phones sold in China (35 BABT, 86
    /// TAF, 01 CTIA, 99 GHA): for numbers seen without key context.
    ImeiTac,
    /// Chinese IMSI (460 + known MNC).
    ImsiCn,
    /// Vehicle licence plate (GA 36-2018).
    LicensePlate,
    /// MAC address or Wi-Fi BSSID, not a placeholder, not a multicast address.
    Mac,
    /// MEID (14 hex, RR A0–FF, optional hex Luhn check digit).
    Meid,
    /// No check beyond the pattern.
    None,
    /// OAID: UUID or 16/32/64 hex, not all zeros.
    Oaid,
    /// Unified Social Credit Code with a good check character.
    Uscc,
    /// A UUID that is not all zeros.
    Uuid,
}

impl Validator {
    /// Every validator, for listing in messages.
    pub const ALL: [Validator; 19] = [
        Validator::AndroidId,
        Validator::BankCard,
        Validator::BankCardIin,
        Validator::CellId,
        Validator::CnMobile,
        Validator::CnResidentId,
        Validator::Email,
        Validator::Iccid,
        Validator::Idfa,
        Validator::Imei,
        Validator::ImeiTac,
        Validator::ImsiCn,
        Validator::LicensePlate,
        Validator::Mac,
        Validator::Meid,
        Validator::None,
        Validator::Oaid,
        Validator::Uscc,
        Validator::Uuid,
    ];

    /// The name used in signature files.
    pub fn as_str(self) -> &'static str {
        match self {
            Validator::AndroidId => "android_id",
            Validator::BankCard => "bank_card",
            Validator::BankCardIin => "bank_card_iin",
            Validator::CellId => "cell_id",
            Validator::CnMobile => "cn_mobile",
            Validator::CnResidentId => "cn_resident_id",
            Validator::Email => "email",
            Validator::Iccid => "iccid",
            Validator::Idfa => "idfa",
            Validator::Imei => "imei",
            Validator::ImeiTac => "imei_tac",
            Validator::ImsiCn => "imsi_cn",
            Validator::LicensePlate => "license_plate",
            Validator::Mac => "mac",
            Validator::Meid => "meid",
            Validator::None => "none",
            Validator::Oaid => "oaid",
            Validator::Uscc => "uscc",
            Validator::Uuid => "uuid",
        }
    }

    /// Looks a validator up by its signature-file name.
    pub fn from_name(name: &str) -> Option<Validator> {
        Validator::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// Checks `value` (the exact text the pattern matched). `today` bounds birth dates.
    pub fn check(self, value: &[u8], today: Date) -> Verdict {
        let Ok(s) = std::str::from_utf8(value) else {
            return Verdict::Reject;
        };
        let ok = |b: bool| if b { Verdict::Accept } else { Verdict::Reject };
        match self {
            Validator::None => Verdict::Accept,
            Validator::AndroidId => {
                if s.eq_ignore_ascii_case(v::BAD_ANDROID_ID) || v::is_zero_id(s) {
                    Verdict::Placeholder
                } else {
                    ok(v::android_id(s))
                }
            }
            Validator::BankCard => ok(v::bank_card(s)),
            Validator::BankCardIin => ok(v::bank_card(s) && known_iin(value)),
            Validator::CellId => cell_id(value),
            Validator::CnMobile => {
                if v::normalize_cn_mobile(s).is_some_and(|d| &d == b"13800138000") {
                    // The number every tutorial uses (regulation-cn.md §6 "traps").
                    Verdict::Placeholder
                } else {
                    ok(v::cn_mobile(s))
                }
            }
            Validator::CnResidentId => ok(v::cn_resident_id(s, today)),
            Validator::Email => ok(v::email(s) && !file_name_like(s)),
            Validator::Iccid => match v::iccid(s) {
                v::IccidCheck::Valid => Verdict::Accept,
                v::IccidCheck::ChecksumMismatch => Verdict::Soft,
                v::IccidCheck::Invalid => Verdict::Reject,
            },
            Validator::Idfa | Validator::Uuid => {
                if v::is_zero_uuid(s) {
                    Verdict::Placeholder
                } else {
                    ok(v::idfa(s))
                }
            }
            Validator::Imei | Validator::ImeiTac => {
                let mut buf = [0u8; 15];
                let Some(digits) = imei_digits(value, &mut buf) else {
                    return Verdict::Reject;
                };
                let value = digits;
                let Ok(s) = std::str::from_utf8(digits) else {
                    return Verdict::Reject;
                };
                if v::is_placeholder_imei(s) {
                    Verdict::Placeholder
                } else if self == Validator::ImeiTac {
                    ok(v::imei(s) && matches!(value.get(..2), Some(b"35" | b"86" | b"01" | b"99")))
                } else {
                    ok(v::imei(s))
                }
            }
            Validator::ImsiCn => ok(v::imsi_cn(s)),
            Validator::LicensePlate => ok(v::license_plate(s)),
            Validator::Mac => match v::mac(s) {
                Some(mac) if v::is_placeholder_mac(&mac) => Verdict::Placeholder,
                // A group (multicast/broadcast) address names no device.
                Some(mac) if mac[0] & 1 == 1 => Verdict::Reject,
                Some(_) => Verdict::Accept,
                None => Verdict::Reject,
            },
            Validator::Meid => ok(v::meid(s)),
            Validator::Oaid => {
                if v::is_zero_id(s) {
                    Verdict::Placeholder
                } else {
                    ok(v::oaid(s))
                }
            }
            Validator::Uscc => ok(v::uscc(s)),
        }
    }
}

/// File extensions that end "addresses" such as `icon@2x.png` (iOS asset names) or
/// `lib@1.2.js`: the part after `@` is a scale or version, not a mail domain.
const FILE_EXTENSIONS: [&str; 16] = [
    "png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "ico", "js", "css", "html", "json", "xml",
    "mp4", "mp3", "webm",
];

/// Top-level names used only inside private networks (RFC 6762 appendix G, RFC 2606,
/// RFC 8375): a `user@host.lan` is a login on a lab or IMS system, not a mailbox.
const PRIVATE_TLDS: [&str; 8] = [
    "lan",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "home",
    "corp",
    "invalid",
];

fn file_name_like(s: &str) -> bool {
    let tld = s.rsplit('.').next().unwrap_or_default();
    let domain = s
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    FILE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(tld))
        || PRIVATE_TLDS.iter().any(|e| e.eq_ignore_ascii_case(tld))
        // IMS realms (3GPP TS 23.003 §13): `<IMSI>@ims.mncXXX.mccYYY.3gppnetwork.org` is a
        // SIP private identity, not an email address.
        || domain == "3gppnetwork.org"
        || domain.ends_with(".3gppnetwork.org")
}

/// The 15 digits of an IMEI written bare, or as `TAC-SNR-CD` (`35442706-323347-9`),
/// optionally with the `urn:gsma:imei:` prefix of RFC 7254.
pub fn imei_digits<'b>(value: &[u8], buf: &'b mut [u8; 15]) -> Option<&'b [u8]> {
    let value = value
        .get(..14)
        .filter(|p| p.eq_ignore_ascii_case(b"urn:gsma:imei:"))
        .and_then(|_| value.get(14..))
        .unwrap_or(value);
    let mut n = 0usize;
    for (i, &c) in value.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                *buf.get_mut(n)? = c;
                n += 1;
            }
            // RFC 7254 §3: hyphens after the TAC (8 digits) and the serial (14).
            b'-' if (i == 8 || i == 15) && value.len() == 17 => {}
            _ => return None,
        }
    }
    (n == 15).then_some(&buf[..])
}

/// Issuer identification numbers accepted for a bank card without key context.
fn known_iin(d: &[u8]) -> bool {
    let two = d.get(..2).unwrap_or_default();
    let four: u32 = d
        .get(..4)
        .and_then(|p| std::str::from_utf8(p).ok())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    matches!(
        two,
        b"62" | b"35" | b"34" | b"37" | b"51" | b"52" | b"53" | b"54" | b"55"
    ) || d.first() == Some(&b'4')
        || (2221..=2720).contains(&four)
}

/// Decimal cell identity (regulation-cn.md §6 "Cell"): GSM CID 16 bits up to NR NCI 36
/// bits; Android reports `Integer.MAX_VALUE` for unknown, and 65535 / 268435455 are the
/// all-ones "unavailable" values of the 16- and 28-bit fields.
fn cell_id(value: &[u8]) -> Verdict {
    if value.is_empty() || value.len() > 11 || !value.iter().all(u8::is_ascii_digit) {
        return Verdict::Reject;
    }
    let n = value
        .iter()
        .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
    match n {
        0 | 65_535 | 268_435_455 | 2_147_483_647 => Verdict::Placeholder,
        n if n >= 1 << 36 => Verdict::Reject,
        _ => Verdict::Accept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 03 - 02);

    fn check(v: Validator, s: &str) -> Verdict {
        v.check(s.as_bytes(), TODAY)
    }

    #[test]
    fn names_round_trip() {
        for v in Validator::ALL {
            assert_eq!(Validator::from_name(v.as_str()), Some(v));
        }
        assert_eq!(Validator::from_name("lunh"), None);
    }

    #[test]
    fn verdicts() {
        assert_eq!(check(Validator::CnMobile, "13912345678"), Verdict::Accept);
        assert_eq!(
            check(Validator::CnMobile, "13800138000"),
            Verdict::Placeholder
        );
        assert_eq!(check(Validator::CnMobile, "12912345678"), Verdict::Reject);
        assert_eq!(
            check(Validator::CnResidentId, "11010519491231002X"),
            Verdict::Accept
        );
        assert_eq!(
            check(Validator::CnResidentId, "110105194912310021"),
            Verdict::Reject
        );
        assert_eq!(
            check(Validator::Imei, "000000000000000"),
            Verdict::Placeholder
        );
        assert_eq!(check(Validator::Imei, "490154203237518"), Verdict::Accept);
        assert_eq!(
            check(Validator::ImeiTac, "490154203237518"),
            Verdict::Reject
        );
        assert_eq!(
            check(Validator::ImeiTac, "861234567890123"),
            check(Validator::Imei, "861234567890123")
        );
        assert_eq!(
            check(Validator::Mac, "02:00:00:00:00:00"),
            Verdict::Placeholder
        );
        assert_eq!(check(Validator::Mac, "01:00:5e:00:00:fb"), Verdict::Reject);
        assert_eq!(check(Validator::Mac, "3c:22:fb:12:34:56"), Verdict::Accept);
        assert_eq!(
            check(Validator::AndroidId, "9774d56d682e549c"),
            Verdict::Placeholder
        );
        assert_eq!(
            check(Validator::Idfa, "00000000-0000-0000-0000-000000000000"),
            Verdict::Placeholder
        );
        assert_eq!(check(Validator::CellId, "2147483647"), Verdict::Placeholder);
        assert_eq!(check(Validator::CellId, "123456789"), Verdict::Accept);
        assert_eq!(
            check(Validator::BankCardIin, "6222020200112233445"),
            check(Validator::BankCard, "6222020200112233445")
        );
        assert_eq!(
            check(Validator::BankCardIin, "9999999999999995"),
            Verdict::Reject
        );
        assert_eq!(check(Validator::Email, "icon@2x.png"), Verdict::Reject);
        assert_eq!(
            check(Validator::Email, "263734@imstest.lan"),
            Verdict::Reject
        );
        assert_eq!(
            check(
                Validator::Email,
                "310410010001002@ims.mnc410.mcc310.3gppnetwork.org"
            ),
            Verdict::Reject
        );
        let urn = format!("urn:gsma:imei:49015420-323751-{}", 8);
        assert_eq!(check(Validator::Imei, &urn), Verdict::Accept);
        assert_eq!(check(Validator::Imei, "49015420-323751-8"), Verdict::Accept);
        assert_eq!(check(Validator::Imei, "4901542-0323751-8"), Verdict::Reject);
        assert_eq!(
            check(Validator::Email, "zhang.san@example.com"),
            Verdict::Accept
        );
    }
}
