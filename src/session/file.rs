//! Session file reader: TOML text → raw serde structs → validated
//! [`Session`] (session-format.md).
//!
//! The raw structs deny unknown fields and keep `toml::Spanned` positions for
//! every value that needs a semantic check, so each error names the line of
//! the offending value. Syntax and type errors from `toml` carry a byte span,
//! converted to a 1-based line here.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime};
use toml::Spanned;

use super::{
    format_mac, App, Audience, Device, Event, EventKind, Identifiers, KnownIds, Limits, LoadError,
    Session,
};
use crate::capture::Timestamp;
use crate::pi::taxonomy;
use crate::pi::validator::{self, IccidCheck};

/// Whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    device: Spanned<RawDevice>,
    app: RawApp,
    #[serde(default)]
    events: Vec<Spanned<RawEvent>>,
}

/// `[device]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    mac: Option<Spanned<String>>,
    #[serde(default)]
    ip: Option<Spanned<OneOrMany>>,
    /// `[device.identifiers]`: PI type id → value(s). Keys are checked against
    /// [`KnownIds::pi_types`] after parsing, so unknown keys still get a line.
    #[serde(default)]
    identifiers: BTreeMap<Spanned<String>, Spanned<OneOrMany>>,
}

/// `[app]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    name: Spanned<String>,
    package: Spanned<String>,
    #[serde(default)]
    declared_pi: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    declared_sdks: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    first_party_domains: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    category: Option<Spanned<String>>,
    #[serde(default)]
    audience: Option<Spanned<String>>,
}

/// `[[events]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    /// An RFC 3339 string, or a TOML offset date-time (same text unquoted).
    at: Spanned<toml::Value>,
    kind: Spanned<String>,
}

/// A value written as one string or as an array of strings.
enum OneOrMany {
    Many(Vec<Spanned<String>>),
    One(String),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;

        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_owned()))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// The items of a [`OneOrMany`], each with the span of its own text.
fn items(value: &Spanned<OneOrMany>) -> Vec<(Range<usize>, &str)> {
    match value.get_ref() {
        OneOrMany::One(s) => vec![(value.span(), s.as_str())],
        OneOrMany::Many(list) => list
            .iter()
            .map(|s| (s.span(), s.get_ref().as_str()))
            .collect(),
    }
}

/// File name and text, to turn byte offsets into located errors.
struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Ctx<'_> {
    /// 1-based line of byte `offset` (clamped to the text).
    fn line(&self, offset: usize) -> usize {
        let bytes = self.text.as_bytes();
        let head = bytes.get(..offset).unwrap_or(bytes);
        head.iter().filter(|&&b| b == b'\n').count() + 1
    }

    fn err(&self, span: Range<usize>, reason: impl Into<String>) -> LoadError {
        LoadError {
            path: self.path.to_path_buf(),
            line: self.line(span.start),
            reason: reason.into(),
        }
    }
}

/// Reads and parses a session file with the default [`Limits`].
///
/// I/O errors and files over the size limit are reported with line 0.
pub fn load(path: &Path, known: &KnownIds) -> Result<Session, LoadError> {
    load_with_limits(path, known, &Limits::default())
}

/// [`load`] with explicit limits.
pub fn load_with_limits(
    path: &Path,
    known: &KnownIds,
    limits: &Limits,
) -> Result<Session, LoadError> {
    let whole_file = |reason: String| LoadError {
        path: path.to_path_buf(),
        line: 0,
        reason,
    };
    let file =
        std::fs::File::open(path).map_err(|e| whole_file(format!("cannot open file: {e}")))?;
    let mut text = String::new();
    // Read one byte past the limit to tell "at the limit" from "over it".
    let cap = u64::try_from(limits.max_file_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    file.take(cap)
        .read_to_string(&mut text)
        .map_err(|e| whole_file(format!("cannot read file: {e}")))?;
    if text.len() > limits.max_file_bytes {
        return Err(whole_file(format!(
            "file is larger than the limit of {} bytes",
            limits.max_file_bytes
        )));
    }
    parse_with_limits(&text, path, known, limits)
}

/// Parses session-file text with the default [`Limits`]; `path` names the
/// file in errors and gives the session id (its file stem).
pub fn parse(text: &str, path: &Path, known: &KnownIds) -> Result<Session, LoadError> {
    parse_with_limits(text, path, known, &Limits::default())
}

/// [`parse`] with explicit limits.
pub fn parse_with_limits(
    text: &str,
    path: &Path,
    known: &KnownIds,
    limits: &Limits,
) -> Result<Session, LoadError> {
    let ctx = Ctx { text, path };
    if text.len() > limits.max_file_bytes {
        return Err(LoadError {
            path: path.to_path_buf(),
            line: 0,
            reason: format!(
                "file is larger than the limit of {} bytes",
                limits.max_file_bytes
            ),
        });
    }
    let raw: RawSession = toml::from_str(text).map_err(|e| LoadError {
        path: path.to_path_buf(),
        line: e.span().map_or(1, |s| ctx.line(s.start)),
        reason: e.message().to_owned(),
    })?;

    let today = latest_event_date(&raw.events);
    let (device, identifiers) = build_device(&ctx, &raw.device, known, today, limits)?;
    let app = build_app(&ctx, &raw.app, known, limits)?;
    let events = build_events(&ctx, &raw.events, limits)?;
    Ok(Session {
        id: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        device,
        identifiers,
        app,
        events,
    })
}

/// The "today" against which an `id_card` birth date must not lie in the
/// future: the UTC date of the latest parseable event plus one day (the test
/// ran then; the extra day covers UTC+8), or no bound if there are no events.
/// Taken from the file rather than the clock so loading is deterministic.
fn latest_event_date(events: &[Spanned<RawEvent>]) -> Date {
    events
        .iter()
        .filter_map(|e| parse_time(e.get_ref().at.get_ref()).ok())
        .max()
        .and_then(|ts| {
            OffsetDateTime::from_unix_timestamp(ts.as_micros().div_euclid(1_000_000)).ok()
        })
        .and_then(|t| t.date().checked_add(Duration::DAY))
        .unwrap_or(Date::MAX)
}

fn build_device(
    ctx: &Ctx<'_>,
    raw: &Spanned<RawDevice>,
    known: &KnownIds,
    today: Date,
    limits: &Limits,
) -> Result<(Device, Identifiers), LoadError> {
    let dev = raw.get_ref();
    let mac = match &dev.mac {
        None => None,
        Some(m) => {
            let Some(value) = validator::mac(m.get_ref()) else {
                return Err(ctx.err(
                    m.span(),
                    "device mac is not a mac address (aa:bb:cc:dd:ee:ff)",
                ));
            };
            if validator::is_placeholder_mac(&value) {
                return Err(ctx.err(m.span(), "device mac is a placeholder value"));
            }
            if value[0] & 0x01 != 0 {
                return Err(ctx.err(m.span(), "device mac is a group (multicast) address"));
            }
            Some(value)
        }
    };
    let mut ips: Vec<IpAddr> = Vec::new();
    if let Some(ip) = &dev.ip {
        let list = items(ip);
        if list.len() > limits.max_device_ips {
            return Err(ctx.err(
                ip.span(),
                format!("more than {} device ips", limits.max_device_ips),
            ));
        }
        for (span, text) in list {
            let Ok(addr) = text.parse::<IpAddr>() else {
                return Err(ctx.err(span, format!("device ip `{text}` is not an ip address")));
            };
            if addr.is_unspecified() || addr.is_multicast() {
                return Err(ctx.err(span, format!("device ip `{text}` is not a unicast address")));
            }
            if ips.contains(&addr) {
                return Err(ctx.err(span, format!("device ip `{text}` is listed twice")));
            }
            ips.push(addr);
        }
    }
    if mac.is_none() && ips.is_empty() {
        return Err(ctx.err(raw.span(), "device needs a mac or at least one ip"));
    }
    let identifiers = build_identifiers(ctx, &dev.identifiers, known, today, limits)?;
    let device = Device {
        name: dev.name.clone().unwrap_or_default(),
        mac,
        ips,
        line: ctx.line(raw.span().start),
    };
    Ok((device, identifiers))
}

fn build_identifiers(
    ctx: &Ctx<'_>,
    raw: &BTreeMap<Spanned<String>, Spanned<OneOrMany>>,
    known: &KnownIds,
    today: Date,
    limits: &Limits,
) -> Result<Identifiers, LoadError> {
    // Check in file order so the first error reported is the first in the file.
    let mut entries: Vec<_> = raw.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    let mut out = Identifiers::default();
    for (key, value) in entries {
        let id = key.get_ref().as_str();
        if !known.pi_types.contains(id) {
            return Err(ctx.err(
                key.span(),
                format!("unknown pi type `{id}` in [device.identifiers]"),
            ));
        }
        let list = items(value);
        if list.is_empty() {
            return Err(ctx.err(value.span(), format!("`{id}` has an empty list")));
        }
        let max = if id == "installed_apps" {
            limits.max_installed_apps
        } else {
            limits.max_values_per_identifier
        };
        if list.len() > max {
            return Err(ctx.err(value.span(), format!("`{id}` has more than {max} values")));
        }
        match id {
            "gps_location" => {
                let [(span, text)] = list.as_slice() else {
                    return Err(ctx.err(value.span(), "gps_location takes one \"lat,lng\" value"));
                };
                let pair = parse_lat_lng(text).ok_or_else(|| {
                    ctx.err(
                        span.clone(),
                        "gps_location is not a \"lat,lng\" pair in range",
                    )
                })?;
                out.gps = Some(pair);
            }
            "installed_apps" => {
                for (span, text) in list {
                    if !app_id(text) {
                        return Err(ctx.err(
                            span,
                            format!("installed_apps entry `{text}` is not a package name"),
                        ));
                    }
                    out.installed_apps.push(text.to_owned());
                }
            }
            _ => {
                let mut values = Vec::with_capacity(list.len());
                for (span, text) in list {
                    let value = check_identifier(id, text, today)
                        .map_err(|reason| ctx.err(span, reason))?;
                    values.push(value);
                }
                out.values.insert(id.to_owned(), values);
            }
        }
    }
    Ok(out)
}

/// Validates one identifier value of PI type `id`; returns its normalised
/// form (see [`Identifiers`]) or the reason it is rejected. The reason never
/// contains the value. Types without a validator (`name`, `passport`,
/// `serial_number`, `cell_id`, `contacts`, `face_image`, `clipboard`, and
/// ids added by signatures) need a non-empty value without control
/// characters.
fn check_identifier(id: &str, s: &str, today: Date) -> Result<String, String> {
    let bad = |what: &str| Err(format!("{id} value is not {what}"));
    match id {
        "phone_number" => match validator::normalize_cn_mobile(s) {
            Some(d) if validator::cn_mobile_digits(&d) => {
                Ok(String::from_utf8_lossy(&d).into_owned())
            }
            _ => bad("a mainland mobile number (11 digits, known segment)"),
        },
        "id_card" => {
            if validator::cn_resident_id(s, today) {
                Ok(s.to_ascii_uppercase())
            } else {
                bad("a resident id number (province, birth date, mod 11-2 check)")
            }
        }
        "imei" => check_imei(s),
        "meid" if validator::meid(s) => Ok(s.to_owned()),
        "meid" => bad("a meid (14 hex digits, rr a0-ff, optional hex check digit)"),
        "imsi" if validator::imsi_cn(s) => Ok(s.to_owned()),
        "imsi" => bad("a chinese imsi (15 digits, mcc 460 and a known mnc)"),
        "iccid" => match validator::iccid(s) {
            // The ICCID check is soft (regulation-cn.md §6): some real
            // Chinese ICCIDs fail Luhn.
            IccidCheck::Valid | IccidCheck::ChecksumMismatch => Ok(s.to_owned()),
            IccidCheck::Invalid => bad("a chinese iccid (19-20 digits starting 8986)"),
        },
        "bank_card" if validator::bank_card(s) => Ok(s.to_owned()),
        "bank_card" => bad("a bank card number (16-19 digits, luhn check)"),
        "email" if validator::email(s) => Ok(s.to_owned()),
        "email" => bad("an email address"),
        "android_id" if validator::android_id(s) => Ok(s.to_owned()),
        "android_id" => bad("an android id (16 hex digits, not zero or 9774d56d682e549c)"),
        "oaid" if validator::oaid(s) => Ok(s.to_owned()),
        "oaid" => bad("an oaid (uuid or 16/32/64 hex digits, not all zeros)"),
        "idfa" if validator::idfa(s) => Ok(s.to_owned()),
        "idfa" => bad("an idfa/idfv (uuid, not all zeros)"),
        "mac_address" | "wifi_bssid" => match validator::mac(s) {
            Some(m) if !validator::is_placeholder_mac(&m) => Ok(format_mac(&m)),
            Some(_) => Err(format!("{id} value is a placeholder mac")),
            None => bad("a mac address (aa:bb:cc:dd:ee:ff)"),
        },
        "wifi_ssid" if !s.is_empty() && s.len() <= 32 => Ok(s.to_owned()),
        // IEEE 802.11 limits an SSID to 32 octets.
        "wifi_ssid" => bad("an ssid (1-32 bytes)"),
        "license_plate" if validator::license_plate(s) => Ok(s.to_owned()),
        "license_plate" => bad("a vehicle plate (ga 36-2018)"),
        "uscc" if validator::uscc(s) => Ok(s.to_owned()),
        "uscc" => bad("a unified social credit code (gb 32100 check)"),
        _ if s.trim().is_empty() || s.chars().any(char::is_control) => {
            Err(format!("{id} value is empty or has control characters"))
        }
        _ => Ok(s.to_owned()),
    }
}

/// IMEI with a precise reason, since a mistyped IMEI is the commonest error.
fn check_imei(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    if b.len() != 15 || !b.iter().all(u8::is_ascii_digit) {
        return Err("imei value is not 15 digits".into());
    }
    if !validator::luhn(b) {
        return Err("imei value fails the luhn check digit".into());
    }
    if validator::is_placeholder_imei(s) {
        return Err("imei value is a placeholder".into());
    }
    if !validator::imei(s) {
        return Err("imei value has the test reporting body 00".into());
    }
    Ok(s.to_owned())
}

/// `"lat,lng"` in degrees, optional spaces around each number.
fn parse_lat_lng(s: &str) -> Option<(f64, f64)> {
    let (lat, lng) = s.split_once(',')?;
    let lat: f64 = lat.trim().parse().ok()?;
    let lng: f64 = lng.trim().parse().ok()?;
    validator::lat_lng(lat, lng).then_some((lat, lng))
}

/// An Android package name, or an iOS bundle id (which may also hold `-`).
fn app_id(s: &str) -> bool {
    validator::android_package(s)
        || (s.len() <= 255
            && s.contains('.')
            && s.split('.').all(|seg| {
                seg.bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
                    && seg
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            }))
}

/// A DNS name of at least two labels, each 1–63 of `[A-Za-z0-9-]` not
/// starting or ending with `-`, at most 253 bytes (RFC 1035 §2.3.4).
fn domain_name(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// Checks a list value's length against `max`.
fn check_list_len(
    ctx: &Ctx<'_>,
    list: &Option<Spanned<Vec<Spanned<String>>>>,
    key: &str,
    max: usize,
) -> Result<(), LoadError> {
    let Some(list) = list else {
        return Ok(());
    };
    if list.get_ref().len() > max {
        return Err(ctx.err(list.span(), format!("`{key}` has more than {max} entries")));
    }
    Ok(())
}

fn build_app(
    ctx: &Ctx<'_>,
    raw: &RawApp,
    known: &KnownIds,
    limits: &Limits,
) -> Result<App, LoadError> {
    let name = raw.name.get_ref();
    if name.trim().is_empty() {
        return Err(ctx.err(raw.name.span(), "app name is empty"));
    }
    let package = raw.package.get_ref();
    if !app_id(package) {
        return Err(ctx.err(
            raw.package.span(),
            format!("app package `{package}` is not a package name"),
        ));
    }

    check_list_len(ctx, &raw.declared_pi, "declared_pi", limits.max_list_items)?;
    let mut declared_pi = Vec::new();
    for item in raw.declared_pi.iter().flat_map(|l| l.get_ref()) {
        let id = item.get_ref();
        if !known.pi_types.contains(id) {
            return Err(ctx.err(
                item.span(),
                format!("unknown pi type `{id}` in declared_pi"),
            ));
        }
        declared_pi.push(id.clone());
    }

    check_list_len(
        ctx,
        &raw.declared_sdks,
        "declared_sdks",
        limits.max_list_items,
    )?;
    let mut declared_sdks = Vec::new();
    for item in raw.declared_sdks.iter().flat_map(|l| l.get_ref()) {
        let id = item.get_ref();
        if let Some(sdks) = &known.sdk_ids {
            if !sdks.contains(id) {
                return Err(ctx.err(
                    item.span(),
                    format!("unknown sdk id `{id}` in declared_sdks"),
                ));
            }
        }
        declared_sdks.push(id.clone());
    }

    check_list_len(
        ctx,
        &raw.first_party_domains,
        "first_party_domains",
        limits.max_list_items,
    )?;
    let mut first_party_domains = Vec::new();
    for item in raw.first_party_domains.iter().flat_map(|l| l.get_ref()) {
        let domain = item.get_ref();
        if !domain_name(domain) {
            return Err(ctx.err(
                item.span(),
                format!("first_party_domains entry `{domain}` is not a domain name"),
            ));
        }
        first_party_domains.push(domain.to_ascii_lowercase());
    }

    let category = match &raw.category {
        None => None,
        Some(c) => match taxonomy::app_category(c.get_ref()) {
            Some(info) => Some(info.id.to_owned()),
            None => {
                return Err(ctx.err(c.span(), format!("unknown app category `{}`", c.get_ref())))
            }
        },
    };
    let audience = match &raw.audience {
        None => Audience::default(),
        Some(a) => Audience::from_id(a.get_ref()).ok_or_else(|| {
            ctx.err(
                a.span(),
                format!(
                    "unknown audience `{}`, expected \"general\" or \"children\"",
                    a.get_ref()
                ),
            )
        })?,
    };
    Ok(App {
        name: name.clone(),
        package: package.clone(),
        declared_pi,
        declared_sdks,
        first_party_domains,
        category,
        audience,
    })
}

/// RFC 3339 time with offset (string or TOML offset date-time) → UTC
/// microseconds; sub-microsecond digits are truncated towards the past.
fn parse_time(value: &toml::Value) -> Result<Timestamp, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(format!(
                "event time must be an rfc 3339 string, not a {}",
                other.type_str()
            ))
        }
    };
    let t = OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| {
        format!("event time `{text}` is not rfc 3339 with an offset (e.g. 2026-03-02T09:00:00Z)")
    })?;
    let micros = t.unix_timestamp_nanos().div_euclid(1_000);
    i64::try_from(micros)
        .map(Timestamp::from_micros)
        .map_err(|_| format!("event time `{text}` is out of range"))
}

fn build_events(
    ctx: &Ctx<'_>,
    raw: &[Spanned<RawEvent>],
    limits: &Limits,
) -> Result<Vec<Event>, LoadError> {
    if let Some(extra) = raw.get(limits.max_events) {
        return Err(ctx.err(
            extra.span(),
            format!("more than {} events", limits.max_events),
        ));
    }
    let mut events: Vec<Event> = Vec::with_capacity(raw.len());
    let mut end_line: Option<usize> = None;
    for spanned in raw {
        let ev = spanned.get_ref();
        let line = ctx.line(spanned.span().start);
        let kind_text = ev.kind.get_ref();
        let Some(kind) = EventKind::from_id(kind_text) else {
            return Err(ctx.err(ev.kind.span(), format!("unknown event kind `{kind_text}`")));
        };
        let at = parse_time(ev.at.get_ref()).map_err(|reason| ctx.err(ev.at.span(), reason))?;
        if let Some(prev) = events.last() {
            if at < prev.at {
                return Err(ctx.err(
                    ev.at.span(),
                    format!(
                        "event is earlier than the event on line {}; events must be in time order",
                        prev.line
                    ),
                ));
            }
        }
        if let Some(end) = end_line {
            return Err(ctx.err(
                spanned.span(),
                format!("event after session_end on line {end}"),
            ));
        }
        if kind == EventKind::SessionEnd {
            end_line = Some(line);
        }
        events.push(Event { at, kind, line });
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::pi::validator::{cn_resident_id_check_char, imei_check_digit, luhn_check_digit};
    use crate::session::ConsentPhase;

    /// The example of session-format.md with synthetic identifiers that pass
    /// the validators (check digits verified in `fixture_check_digits`).
    /// Line numbers matter: the error tests replace single lines.
    const EXAMPLE: &str = r#"[device]
name = "lab phone 3"
mac  = "02:1a:2b:3c:4d:5e"
ip   = ["192.0.2.23", "2001:db8::23"]

[device.identifiers]
imei           = ["861234567890127", "869876543210986"]
meid           = "A0000012345678"
imsi           = "460001234567890"
iccid          = "89860012345678901238"
phone_number   = "+86 138 1234 5678"
android_id     = "3c5f1a9e0b7d2468"
oaid           = "6f1b0f5e-3c1a-4e8b-9a51-2d0c5b7e9f10"
idfa           = "5B3F7C2A-91D4-4E6B-8A0F-3C2D1E4B5A69"
mac_address    = "02-1A-2B-3C-4D-5E"
serial_number  = "R58N12ABCDE"
wifi_ssid      = "LabAP-5G"
wifi_bssid     = "a4:5e:60:11:22:33"
gps_location   = "39.908823,116.397470"
email          = "tester03@example.com"
id_card        = "310115199002281234"
installed_apps = ["com.tencent.mm", "com.eg.android.AlipayGphone"]

[app]
name          = "Example Reader"
package       = "com.example.reader"
declared_pi   = ["phone_number", "android_id"]
declared_sdks = ["umeng"]
first_party_domains = ["Example-Reader.cn"]
category      = "news"
audience      = "general"

[[events]]
at   = "2026-03-02T09:00:00Z"
kind = "app_launched"

[[events]]
at   = "2026-03-02T17:00:40+08:00"
kind = "consent_granted"

[[events]]
at   = 2026-03-02T09:30:00Z
kind = "consent_withdrawn"

[[events]]
at   = "2026-03-02T09:45:00Z"
kind = "session_end"
"#;

    const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z

    fn path() -> PathBuf {
        PathBuf::from("cases/lab3-2026-03-02.toml")
    }

    fn known() -> KnownIds {
        KnownIds::builtin().with_sdk_ids(["umeng", "getui"])
    }

    fn parse_text(text: &str) -> Result<Session, LoadError> {
        parse(text, &path(), &known())
    }

    /// EXAMPLE with 1-based line `n` replaced by `new` (may span lines).
    fn replace_line(n: usize, new: &str) -> String {
        let mut lines: Vec<&str> = EXAMPLE.lines().collect();
        lines[n - 1] = new;
        lines.join("\n") + "\n"
    }

    /// Parses EXAMPLE with line `n` replaced and returns the error.
    fn error_with(n: usize, new: &str) -> LoadError {
        match parse_text(&replace_line(n, new)) {
            Ok(_) => panic!("line {n} `{new}` was accepted"),
            Err(e) => e,
        }
    }

    /// Asserts the error is on line `line` and its reason contains `needle`.
    fn assert_error(e: &LoadError, line: usize, needle: &str) {
        assert_eq!(e.path, path());
        assert_eq!(e.line, line, "{e}");
        assert!(e.reason.contains(needle), "{e}");
    }

    #[test]
    fn fixture_check_digits() {
        assert_eq!(imei_check_digit(b"86123456789012"), Some(b'7'));
        assert_eq!(imei_check_digit(b"86987654321098"), Some(b'6'));
        assert_eq!(luhn_check_digit(b"8986001234567890123"), Some(b'8'));
        assert_eq!(cn_resident_id_check_char(b"31011519900228123"), Some(b'4'));
    }

    #[test]
    fn complete_example() {
        let s = parse_text(EXAMPLE).expect("example parses");
        assert_eq!(s.id, "lab3-2026-03-02");
        assert_eq!(s.device.name, "lab phone 3");
        assert_eq!(s.device.mac, Some([0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]));
        let ips: Vec<IpAddr> = ["192.0.2.23", "2001:db8::23"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        assert_eq!(s.device.ips, ips);
        assert_eq!(s.device.line, 1);

        let ids = &s.identifiers;
        assert_eq!(
            ids.values_of("imei"),
            ["861234567890127", "869876543210986"]
        );
        assert_eq!(ids.values_of("phone_number"), ["13812345678"]);
        assert_eq!(ids.values_of("mac_address"), ["02:1a:2b:3c:4d:5e"]);
        assert_eq!(ids.values_of("iccid"), ["89860012345678901238"]);
        assert_eq!(ids.values_of("id_card"), ["310115199002281234"]);
        assert_eq!(ids.values_of("passport"), [] as [&str; 0]);
        assert_eq!(ids.values.len(), 14);
        assert_eq!(ids.gps, Some((39.908823, 116.397470)));
        assert_eq!(
            ids.installed_apps,
            ["com.tencent.mm", "com.eg.android.AlipayGphone"]
        );

        assert_eq!(s.app.name, "Example Reader");
        assert_eq!(s.app.package, "com.example.reader");
        assert_eq!(s.app.declared_pi, ["phone_number", "android_id"]);
        assert_eq!(s.app.declared_sdks, ["umeng"]);
        assert_eq!(s.app.first_party_domains, ["example-reader.cn"]);
        assert_eq!(s.app.category.as_deref(), Some("news"));
        assert_eq!(s.app.category_info().map(|c| c.needs_no_pi()), Some(true));
        assert_eq!(s.app.audience, Audience::General);

        let got: Vec<(i64, &str, usize)> = s
            .events
            .iter()
            .map(|e| (e.at.as_micros() / 1_000_000 - T0, e.kind.as_str(), e.line))
            .collect();
        assert_eq!(
            got,
            [
                (0, "app_launched", 33),
                (40, "consent_granted", 37),
                (1800, "consent_withdrawn", 41),
                (2700, "session_end", 45),
            ]
        );
        let phase = |secs: i64| s.phase_at(Timestamp::from_secs(T0 + secs));
        assert_eq!(phase(39), ConsentPhase::BeforeConsent);
        assert_eq!(phase(40), ConsentPhase::AfterConsent);
        assert_eq!(phase(1800), ConsentPhase::AfterWithdrawal);
        assert_eq!(phase(2700), ConsentPhase::NoSession);
    }

    #[test]
    fn minimal_file() {
        let s = parse_text(
            "[device]\nip = \"192.0.2.9\"\n[app]\nname = \"A\"\npackage = \"com.a.b\"\n",
        )
        .expect("minimal file parses");
        assert_eq!(s.device.mac, None);
        assert!(s.identifiers.is_empty());
        assert!(s.events.is_empty());
        assert_eq!(s.app.audience, Audience::General);
        assert_eq!(s.app.category, None);
    }

    #[test]
    fn unknown_keys() {
        assert_error(&error_with(2, "nmae = \"x\""), 2, "unknown field `nmae`");
        assert_error(
            &error_with(16, "serial = \"R58N12ABCDE\""),
            16,
            "unknown pi type `serial`",
        );
        assert_error(
            &error_with(31, "audiance = \"general\""),
            31,
            "unknown field `audiance`",
        );
        assert_error(
            &error_with(35, "knd = \"app_launched\""),
            35,
            "unknown field `knd`",
        );
        assert_error(&error_with(32, "[extra]"), 32, "unknown field `extra`");
    }

    #[test]
    fn toml_syntax_and_type_errors() {
        assert_error(&error_with(25, "name = \"Example"), 25, "");
        assert_error(&error_with(26, "name = \"Other\""), 26, "duplicate key");
        assert_error(&error_with(25, "name = 3"), 25, "invalid type");
        assert_error(
            &error_with(7, "imei = 861234567890127"),
            7,
            "string or an array of strings",
        );
        assert_error(
            &error_with(7, "imei = [861234567890127]"),
            7,
            "invalid type",
        );
        // A missing required key is reported at its table's header.
        assert_error(&error_with(26, ""), 24, "missing field `package`");
        assert_error(&error_with(35, ""), 33, "missing field `kind`");
        let e = parse_text("[device]\nip = \"192.0.2.9\"\n")
            .map(|_| ())
            .unwrap_err();
        assert_error(&e, 1, "missing field `app`");
    }

    #[test]
    fn malformed_identifiers() {
        assert_error(
            &error_with(7, "imei = [\"861234567890127\", \"869876543210985\"]"),
            7,
            "luhn",
        );
        // In a multi-line list the error names the element's own line.
        let e = error_with(
            7,
            "imei = [\n  \"861234567890127\",\n  \"869876543210985\",\n]",
        );
        assert_error(&e, 9, "luhn");
        assert_error(&error_with(7, "imei = \"86123456789012\""), 7, "15 digits");
        let zeros = format!(
            "imei = \"00000000000000{}\"",
            char::from(imei_check_digit(b"00000000000000").unwrap_or(b'0'))
        );
        assert_error(&error_with(7, &zeros), 7, "placeholder");
        assert_error(&error_with(7, "imei = []"), 7, "empty list");
        assert_error(&error_with(8, "meid = \"990123450ABCDE\""), 8, "meid");
        assert_error(&error_with(9, "imsi = \"310260000000000\""), 9, "imsi");
        assert_error(
            &error_with(10, "iccid = \"89440012345678901234\""),
            10,
            "iccid",
        );
        assert_error(
            &error_with(11, "phone_number = \"12812345678\""),
            11,
            "mobile",
        );
        assert_error(
            &error_with(12, "android_id = \"9774d56d682e549c\""),
            12,
            "android id",
        );
        assert_error(
            &error_with(13, "oaid = \"00000000-0000-0000-0000-000000000000\""),
            13,
            "oaid",
        );
        assert_error(&error_with(14, "idfa = \"not-a-uuid\""), 14, "idfa");
        assert_error(
            &error_with(15, "mac_address = \"02:00:00:00:00:00\""),
            15,
            "placeholder",
        );
        assert_error(
            &error_with(18, "wifi_bssid = \"a4:5e:60:11:22\""),
            18,
            "mac address",
        );
        assert_error(&error_with(17, "wifi_ssid = \"\""), 17, "ssid");
        assert_error(
            &error_with(19, "gps_location = \"39.908823\""),
            19,
            "lat,lng",
        );
        assert_error(&error_with(19, "gps_location = \"0,0\""), 19, "lat,lng");
        assert_error(
            &error_with(19, "gps_location = \"116.39747,39.908823\""),
            19,
            "lat,lng",
        );
        assert_error(
            &error_with(19, "gps_location = [\"39.9,116.3\", \"31.2,121.4\"]"),
            19,
            "one",
        );
        assert_error(&error_with(20, "email = \"tester03@example\""), 20, "email");
        assert_error(
            &error_with(21, "id_card = \"310115199002281235\""),
            21,
            "resident id",
        );
        // Born after the session (events end 2026-03-02, so the bound is 03-03).
        let future = "31011520260304123";
        let id = format!(
            "id_card = \"{future}{}\"",
            char::from(cn_resident_id_check_char(future.as_bytes()).unwrap_or(b'0'))
        );
        assert_error(&error_with(21, &id), 21, "birth date");
        assert_error(
            &error_with(22, "installed_apps = [\"com.tencent.mm\", \"wechat\"]"),
            22,
            "package name",
        );
        assert_error(&error_with(16, "serial_number = \"\""), 16, "empty");
    }

    #[test]
    fn malformed_device() {
        assert_error(
            &error_with(3, "mac  = \"02:1a:2b:3c:4d\""),
            3,
            "not a mac address",
        );
        assert_error(&error_with(3, "mac  = \"01:00:5e:00:00:01\""), 3, "group");
        assert_error(
            &error_with(4, "ip = [\"192.0.2.23\", \"192.0.2.300\"]"),
            4,
            "`192.0.2.300` is not an ip",
        );
        assert_error(&error_with(4, "ip = \"2001:db8::23::1\""), 4, "not an ip");
        assert_error(
            &error_with(4, "ip = [\"192.0.2.23\", \"192.0.2.23\"]"),
            4,
            "twice",
        );
        assert_error(&error_with(4, "ip = \"0.0.0.0\""), 4, "unicast");
        let text = replace_line(3, "").replace("ip   = [\"192.0.2.23\", \"2001:db8::23\"]", "");
        assert_error(
            &parse_text(&text).map(|_| ()).unwrap_err(),
            1,
            "needs a mac or at least one ip",
        );
        // IP alone (no MAC) is enough.
        assert!(parse_text(&replace_line(3, "")).is_ok());
    }

    #[test]
    fn malformed_app() {
        assert_error(&error_with(26, "package = \"reader\""), 26, "package name");
        assert_error(
            &error_with(27, "declared_pi = [\"phone_number\", \"phone\"]"),
            27,
            "unknown pi type `phone`",
        );
        assert_error(
            &error_with(28, "declared_sdks = [\"umeng\", \"unknown_sdk\"]"),
            28,
            "unknown sdk id `unknown_sdk`",
        );
        assert_error(
            &error_with(29, "first_party_domains = [\"example reader.cn\"]"),
            29,
            "domain",
        );
        assert_error(
            &error_with(30, "category = \"newspaper\""),
            30,
            "unknown app category `newspaper`",
        );
        assert_error(
            &error_with(31, "audience = \"kids\""),
            31,
            "unknown audience `kids`",
        );
        // Without an SDK list the SDK ids are not checked.
        let text = replace_line(28, "declared_sdks = [\"unknown_sdk\"]");
        assert!(parse(&text, &path(), &KnownIds::builtin()).is_ok());
        let kids = parse_text(&replace_line(31, "audience = \"children\"")).map(|s| s.app.audience);
        assert_eq!(kids, Ok(Audience::Children));
    }

    #[test]
    fn malformed_events() {
        assert_error(
            &error_with(39, "kind = \"consent_given\""),
            39,
            "unknown event kind `consent_given`",
        );
        assert_error(
            &error_with(46, "at   = \"2026-03-02 09:45\""),
            46,
            "rfc 3339",
        );
        assert_error(
            &error_with(46, "at   = 2026-03-02T09:45:00"),
            46,
            "rfc 3339",
        );
        assert_error(
            &error_with(46, "at   = \"2026-03-02T09:45:00\""),
            46,
            "rfc 3339",
        );
        assert_error(
            &error_with(46, "at   = 1772445900"),
            46,
            "must be an rfc 3339 string",
        );
        // 09:10 is before the 09:30 event of line 41.
        assert_error(
            &error_with(46, "at   = \"2026-03-02T09:10:00Z\""),
            46,
            "earlier than the event on line 41",
        );
        // Equal times are allowed.
        assert!(parse_text(&replace_line(46, "at   = \"2026-03-02T09:30:00Z\"")).is_ok());
        let after_end = format!(
            "{EXAMPLE}\n[[events]]\nat = \"2026-03-02T10:00:00Z\"\nkind = \"app_launched\"\n"
        );
        assert_error(
            &parse_text(&after_end).map(|_| ()).unwrap_err(),
            49,
            "after session_end on line 45",
        );
    }

    #[test]
    fn limits_are_errors() {
        let limits = Limits {
            max_events: 2,
            max_values_per_identifier: 1,
            ..Limits::default()
        };
        let e = parse_with_limits(
            &replace_line(7, "imei = \"861234567890127\""),
            &path(),
            &known(),
            &limits,
        )
        .map(|_| ())
        .unwrap_err();
        assert_error(&e, 41, "more than 2 events");
        let limits = Limits {
            max_values_per_identifier: 1,
            ..Limits::default()
        };
        let e = parse_with_limits(EXAMPLE, &path(), &known(), &limits)
            .map(|_| ())
            .unwrap_err();
        assert_error(&e, 7, "more than 1 values");
        let limits = Limits {
            max_file_bytes: 100,
            ..Limits::default()
        };
        let e = parse_with_limits(EXAMPLE, &path(), &known(), &limits)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.line, 0);
    }

    #[test]
    fn load_from_disk_and_display() {
        let dir = std::env::temp_dir().join(format!("leaktap-session-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let good = dir.join("phone3.toml");
        std::fs::write(&good, EXAMPLE).expect("write");
        let s = load(&good, &known()).expect("loads");
        assert_eq!(s.id, "phone3");
        assert_eq!(s.path, good);

        let bad = dir.join("bad.toml");
        std::fs::write(&bad, replace_line(11, "phone_number = \"12812345678\"")).expect("write");
        let e = load(&bad, &known()).map(|_| ()).unwrap_err();
        assert_eq!(e.to_string(), format!("{}:11: {}", bad.display(), e.reason));
        assert!(
            !e.to_string().contains("12812345678"),
            "reason leaks the value"
        );

        let missing = dir.join("missing.toml");
        let e = load(&missing, &known()).map(|_| ()).unwrap_err();
        assert_eq!((e.line, e.path.clone()), (0, missing));
        assert!(e.reason.starts_with("cannot open file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
