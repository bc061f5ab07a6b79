//! Test sessions: which phone, which app, which consent timeline.
//!
//! Owns the session model ([`Session`]), its TOML file format
//! (`session-format.md`, read by [`load`]/[`parse`] in `file.rs`), the consent
//! phase of a timestamp (`timeline.rs`) and the set of sessions running at
//! once, one per phone ([`SessionSet`]), which maps a packet to its session.
//!
//! Takes session files (or parsed text) plus the ids the caller knows
//! ([`KnownIds`]: PI types of the taxonomy and signatures, SDK ids of the
//! signatures). Emits validated [`Session`]s or a [`LoadError`] naming file,
//! line and reason. Every list read from a file is bounded by [`Limits`];
//! exceeding a limit is a load error (files are operator input, so nothing
//! is dropped silently and there are no counters).
//!
//! Must not: read the clock (phases are decided by capture timestamps passed
//! in), log identifier values, or accept a file with an unknown key or a
//! malformed value.

mod file;
mod timeline;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::capture::Timestamp;
use crate::pi::taxonomy::{self, AppCategory};

pub use file::{load, load_with_limits, parse, parse_with_limits};
pub use timeline::ConsentPhase;

/// Largest session file read, in bytes. A hand-written session is a few KiB;
/// anything near this size is the wrong file.
pub const DEFAULT_MAX_FILE_BYTES: usize = 1 << 20;
/// Most `[[events]]` in one session. A manual test has tens; scripted runs
/// driven through the API may log a few thousand.
pub const DEFAULT_MAX_EVENTS: usize = 10_000;
/// Most values for one identifier key. Dual SIM needs two; work profiles and
/// multi-user phones add a few more.
pub const DEFAULT_MAX_VALUES_PER_IDENTIFIER: usize = 16;
/// Most package names in `installed_apps`. Phones with system packages list
/// several hundred.
pub const DEFAULT_MAX_INSTALLED_APPS: usize = 4_096;
/// Most entries in each `[app]` list (`declared_pi`, `declared_sdks`,
/// `first_party_domains`). Privacy policies name at most a few hundred SDKs.
pub const DEFAULT_MAX_LIST_ITEMS: usize = 1_024;
/// Most addresses in `device.ip`. One IPv4 plus stable and rotating
/// temporary IPv6 addresses (RFC 8981) over a long session.
pub const DEFAULT_MAX_DEVICE_IPS: usize = 64;

/// Bounds applied while reading a session file; exceeding one is a
/// [`LoadError`] at the line of the first value over the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// See [`DEFAULT_MAX_FILE_BYTES`].
    pub max_file_bytes: usize,
    /// See [`DEFAULT_MAX_EVENTS`].
    pub max_events: usize,
    /// See [`DEFAULT_MAX_VALUES_PER_IDENTIFIER`].
    pub max_values_per_identifier: usize,
    /// See [`DEFAULT_MAX_INSTALLED_APPS`].
    pub max_installed_apps: usize,
    /// See [`DEFAULT_MAX_LIST_ITEMS`].
    pub max_list_items: usize,
    /// See [`DEFAULT_MAX_DEVICE_IPS`].
    pub max_device_ips: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_events: DEFAULT_MAX_EVENTS,
            max_values_per_identifier: DEFAULT_MAX_VALUES_PER_IDENTIFIER,
            max_installed_apps: DEFAULT_MAX_INSTALLED_APPS,
            max_list_items: DEFAULT_MAX_LIST_ITEMS,
            max_device_ips: DEFAULT_MAX_DEVICE_IPS,
        }
    }
}

/// A session file that could not be loaded: which file, which line, why.
///
/// `line` is 1-based. It is 0 only when the error concerns the file as a
/// whole and no line exists (the file cannot be read, or is too large).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", path.display())]
pub struct LoadError {
    /// The session file.
    pub path: PathBuf,
    /// 1-based line of the offending key or value; 0 = whole file.
    pub line: usize,
    /// Lower-case explanation. Reasons from semantic checks never quote an
    /// identifier value; syntax and type errors are the TOML parser's own
    /// message and may quote the offending token.
    pub reason: String,
}

/// The module's error type under the project-wide name.
pub type Error = LoadError;

/// The ids a session file may refer to, supplied by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownIds {
    /// PI type ids allowed as `[device.identifiers]` keys and in
    /// `app.declared_pi`: the taxonomy's built-in ids plus any that
    /// signature files add.
    pub pi_types: BTreeSet<String>,
    /// SDK ids allowed in `app.declared_sdks` (from `signatures/sdks`);
    /// `None` skips that check, e.g. before signatures are loaded.
    pub sdk_ids: Option<BTreeSet<String>>,
}

impl KnownIds {
    /// The taxonomy's built-in PI types and no SDK check.
    pub fn builtin() -> Self {
        KnownIds {
            pi_types: taxonomy::builtin_types()
                .iter()
                .map(|info| info.id.to_owned())
                .collect(),
            sdk_ids: None,
        }
    }

    /// Adds the given SDK ids and turns the `declared_sdks` check on.
    pub fn with_sdk_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set = self.sdk_ids.get_or_insert_with(BTreeSet::new);
        set.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Adds PI type ids beyond the built-in ones (e.g. from signatures).
    pub fn with_pi_types<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pi_types.extend(ids.into_iter().map(Into::into));
        self
    }
}

impl Default for KnownIds {
    fn default() -> Self {
        KnownIds::builtin()
    }
}

/// One test session: one phone, one app under test, one consent timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The session id: the file name without its last extension
    /// (`lab3-2026-03-02.toml` → `lab3-2026-03-02`), lossily converted to
    /// UTF-8. Empty if the path has no file name.
    pub id: String,
    /// The file the session was read from (as given to [`load`]/[`parse`]).
    pub path: PathBuf,
    /// The phone on the mirror port.
    pub device: Device,
    /// What the phone itself reports; the known values to search for.
    pub identifiers: Identifiers,
    /// The app under test.
    pub app: App,
    /// Consent timeline, in non-decreasing time order (checked at load;
    /// [`Session::phase_at`] relies on it).
    pub events: Vec<Event>,
}

/// The phone whose traffic belongs to a session. Has a MAC, at least one IP,
/// or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Free text (`device.name`); empty if absent.
    pub name: String,
    /// Frames from or to this unicast MAC belong to the device.
    pub mac: Option<[u8; 6]>,
    /// Packets from or to these addresses belong to the device (no
    /// duplicates, none unspecified or multicast).
    pub ips: Vec<IpAddr>,
    /// 1-based line of the `[device]` table, for errors found later (overlap
    /// between sessions).
    pub line: usize,
}

/// Identifier values the phone reports (`[device.identifiers]`).
///
/// Values are stored normalised so known-value search starts from one form:
/// `phone_number` as its 11 digits, `mac_address`/`wifi_bssid` as lower-case
/// `aa:bb:cc:dd:ee:ff`, `id_card` with an upper-case `X`; all others as
/// written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identifiers {
    /// PI type id → its values, in file order, for every key except
    /// `gps_location` and `installed_apps`.
    pub values: BTreeMap<String, Vec<String>>,
    /// `gps_location` as (latitude, longitude) in WGS-84 degrees.
    pub gps: Option<(f64, f64)>,
    /// `installed_apps`: package names, in file order.
    pub installed_apps: Vec<String>,
}

impl Identifiers {
    /// The values of one PI type; empty if the file did not give it.
    pub fn values_of(&self, pi_type: &str) -> &[String] {
        self.values.get(pi_type).map_or(&[], Vec::as_slice)
    }

    /// True if no identifier was given at all.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.gps.is_none() && self.installed_apps.is_empty()
    }
}

/// Intended audience of the app (`app.audience`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Aimed at children under 14: guardian consent applies (PIPL Art. 31).
    Children,
    /// The default.
    #[default]
    General,
}

impl Audience {
    /// The id used in session files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Audience::Children => "children",
            Audience::General => "general",
        }
    }

    /// Parses a session-file id (exact, case-sensitive).
    pub fn from_id(s: &str) -> Option<Self> {
        match s {
            "children" => Some(Audience::Children),
            "general" => Some(Audience::General),
            _ => None,
        }
    }
}

/// The app under test (`[app]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// Display name.
    pub name: String,
    /// Package name (Android) or bundle id (iOS).
    pub package: String,
    /// PI type ids its privacy policy says it collects.
    pub declared_pi: Vec<String>,
    /// SDK ids it discloses.
    pub declared_sdks: Vec<String>,
    /// The app's own back-end domains, lower-case.
    pub first_party_domains: Vec<String>,
    /// App category id under 必要范围规定, if given (a valid
    /// [`taxonomy::app_category`] id).
    pub category: Option<String>,
    /// Intended audience; [`Audience::General`] if absent.
    pub audience: Audience,
}

impl App {
    /// The table entry of [`App::category`].
    pub fn category_info(&self) -> Option<&'static AppCategory> {
        self.category.as_deref().and_then(taxonomy::app_category)
    }

    /// Whether `host` is one of the app's own domains or a subdomain of one
    /// (case-insensitive; a trailing dot is ignored).
    pub fn is_first_party(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.first_party_domains.iter().any(|domain| {
            host.len() >= domain.len()
                && host
                    .get(host.len() - domain.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(domain))
                && (host.len() == domain.len()
                    || host.as_bytes().get(host.len() - domain.len() - 1) == Some(&b'.'))
        })
    }
}

/// Kind of a timeline event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The tester started the app.
    AppLaunched,
    /// The user refused the privacy policy / non-necessary processing.
    ConsentDenied,
    /// The user agreed to the privacy policy.
    ConsentGranted,
    /// The user withdrew consent (PIPL Art. 15).
    ConsentWithdrawn,
    /// A guardian consented for a child under 14 (PIPL Art. 31).
    GuardianConsentGranted,
    /// Separate consent for sensitive PI (PIPL Art. 29).
    SensitiveConsentGranted,
    /// End of the test: later traffic belongs to no session.
    SessionEnd,
}

impl EventKind {
    /// All kinds, in declaration order.
    pub const ALL: [EventKind; 7] = [
        EventKind::AppLaunched,
        EventKind::ConsentDenied,
        EventKind::ConsentGranted,
        EventKind::ConsentWithdrawn,
        EventKind::GuardianConsentGranted,
        EventKind::SensitiveConsentGranted,
        EventKind::SessionEnd,
    ];

    /// The id used in session files and records.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::AppLaunched => "app_launched",
            EventKind::ConsentDenied => "consent_denied",
            EventKind::ConsentGranted => "consent_granted",
            EventKind::ConsentWithdrawn => "consent_withdrawn",
            EventKind::GuardianConsentGranted => "guardian_consent_granted",
            EventKind::SensitiveConsentGranted => "sensitive_consent_granted",
            EventKind::SessionEnd => "session_end",
        }
    }

    /// Parses a session-file id (exact, case-sensitive).
    pub fn from_id(s: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One timeline event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it happened (UTC).
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
    /// 1-based line of its `[[events]]` header; 0 for events not read from a
    /// file.
    pub line: usize,
}

/// Which end of a packet the session's device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The device received the packet.
    Destination,
    /// The device sent the packet.
    Source,
}

/// The sessions running on the mirror port, one per phone, with indexes from
/// MAC and IP to session.
///
/// The same device (MAC or IP) may appear in several sessions only if their
/// time spans do not overlap. A session's span runs from its first event
/// (unbounded if it has none) to its `session_end` (unbounded if none),
/// end excluded.
#[derive(Clone, Debug)]
pub struct SessionSet {
    sessions: Vec<Session>,
    /// (start, end) of each session, see [`Session::start`]/[`Session::end`].
    spans: Vec<(Option<Timestamp>, Option<Timestamp>)>,
    /// MAC → sessions with that MAC, sorted by start.
    by_mac: HashMap<[u8; 6], Vec<usize>>,
    /// IP → sessions with that IP, sorted by start.
    by_ip: HashMap<IpAddr, Vec<usize>>,
}

impl SessionSet {
    /// Builds the set and its indexes.
    ///
    /// Errors if two sessions share a MAC or an IP and their spans overlap;
    /// the error is reported at the `[device]` line of the later session in
    /// the list and its reason names the other file and line.
    pub fn new(sessions: Vec<Session>) -> Result<Self, LoadError> {
        let spans: Vec<_> = sessions.iter().map(|s| (s.start(), s.end())).collect();
        let mut by_mac: HashMap<[u8; 6], Vec<usize>> = HashMap::new();
        let mut by_ip: HashMap<IpAddr, Vec<usize>> = HashMap::new();
        for (i, session) in sessions.iter().enumerate() {
            if let Some(mac) = session.device.mac {
                by_mac.entry(mac).or_default().push(i);
            }
            for ip in &session.device.ips {
                by_ip.entry(*ip).or_default().push(i);
            }
        }
        let start_key = |i: &usize| spans.get(*i).and_then(|s| s.0);
        for (mac, list) in by_mac.iter_mut() {
            list.sort_by_key(start_key);
            check_overlap(&sessions, &spans, list, || {
                format!("mac {}", format_mac(mac))
            })?;
        }
        for (ip, list) in by_ip.iter_mut() {
            list.sort_by_key(start_key);
            check_overlap(&sessions, &spans, list, || format!("ip {ip}"))?;
        }
        Ok(SessionSet {
            sessions,
            spans,
            by_mac,
            by_ip,
        })
    }

    /// Loads every file with [`load`] and builds the set.
    pub fn load<P: AsRef<Path>>(paths: &[P], known: &KnownIds) -> Result<Self, LoadError> {
        let sessions = paths
            .iter()
            .map(|p| load(p.as_ref(), known))
            .collect::<Result<Vec<_>, _>>()?;
        SessionSet::new(sessions)
    }

    /// The sessions, in the order given to [`SessionSet::new`]; indexes
    /// returned by [`SessionSet::match_packet`] point here.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// The session at `index` (as returned by [`SessionSet::match_packet`]).
    pub fn get(&self, index: usize) -> Option<&Session> {
        self.sessions.get(index)
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True if there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Finds the session a packet captured at `ts` belongs to, and which end
    /// of the packet its device is.
    ///
    /// Each end is resolved by MAC first, then by IP (a MAC names the phone
    /// even when it changes address; the IP covers captures without a link
    /// layer or behind a router). The source is tried before the destination,
    /// so a packet between two session devices goes to the sender's session:
    /// leaks are attributed to the phone that sent them.
    ///
    /// Among the sessions of one device, the packet goes to the earliest one
    /// that has not ended by `ts` (its `session_end` is after `ts`): traffic
    /// before a session's first event belongs to that upcoming session
    /// (phase `before_consent`). `None` if no device matches or all of its
    /// sessions have ended (phase `no_session`). Does not allocate.
    pub fn match_packet(
        &self,
        ts: Timestamp,
        src_mac: Option<[u8; 6]>,
        dst_mac: Option<[u8; 6]>,
        src_ip: Option<IpAddr>,
        dst_ip: Option<IpAddr>,
    ) -> Option<(usize, Side)> {
        if let Some(i) = self.resolve(ts, src_mac, src_ip) {
            return Some((i, Side::Source));
        }
        self.resolve(ts, dst_mac, dst_ip)
            .map(|i| (i, Side::Destination))
    }

    /// The consent phase of a packet: [`SessionSet::match_packet`], then
    /// [`Session::phase_at`]; [`ConsentPhase::NoSession`] if no session
    /// matches.
    pub fn phase_of_packet(
        &self,
        ts: Timestamp,
        src_mac: Option<[u8; 6]>,
        dst_mac: Option<[u8; 6]>,
        src_ip: Option<IpAddr>,
        dst_ip: Option<IpAddr>,
    ) -> ConsentPhase {
        self.match_packet(ts, src_mac, dst_mac, src_ip, dst_ip)
            .and_then(|(i, _)| self.sessions.get(i))
            .map_or(ConsentPhase::NoSession, |s| s.phase_at(ts))
    }

    fn resolve(&self, ts: Timestamp, mac: Option<[u8; 6]>, ip: Option<IpAddr>) -> Option<usize> {
        let by_mac = mac.and_then(|m| self.by_mac.get(&m));
        if let Some(i) = by_mac.and_then(|list| self.live(list, ts)) {
            return Some(i);
        }
        ip.and_then(|a| self.by_ip.get(&a))
            .and_then(|list| self.live(list, ts))
    }

    /// First session of `list` (sorted by start) not ended at `ts`.
    fn live(&self, list: &[usize], ts: Timestamp) -> Option<usize> {
        list.iter().copied().find(|&i| {
            self.spans
                .get(i)
                .is_some_and(|&(_, end)| end.is_none_or(|end| ts < end))
        })
    }
}

/// Two spans `[start, end)` overlap; `None` is unbounded.
fn spans_overlap(
    a: (Option<Timestamp>, Option<Timestamp>),
    b: (Option<Timestamp>, Option<Timestamp>),
) -> bool {
    let before = |start: Option<Timestamp>, end: Option<Timestamp>| match (start, end) {
        (Some(s), Some(e)) => s < e,
        _ => true,
    };
    before(a.0, b.1) && before(b.0, a.1)
}

fn check_overlap(
    sessions: &[Session],
    spans: &[(Option<Timestamp>, Option<Timestamp>)],
    list: &[usize],
    what: impl Fn() -> String,
) -> Result<(), LoadError> {
    for (n, &i) in list.iter().enumerate() {
        for &j in list.iter().skip(n + 1) {
            let (Some(&a), Some(&b)) = (spans.get(i), spans.get(j)) else {
                continue;
            };
            if !spans_overlap(a, b) {
                continue;
            }
            let (first, second) = (i.min(j), i.max(j));
            let (Some(x), Some(y)) = (sessions.get(first), sessions.get(second)) else {
                continue;
            };
            return Err(LoadError {
                path: y.path.clone(),
                line: y.device.line,
                reason: format!(
                    "device {} is also the device of session {}:{} and their times overlap",
                    what(),
                    x.path.display(),
                    x.device.line
                ),
            });
        }
    }
    Ok(())
}

/// `aa:bb:cc:dd:ee:ff`, lower case.
pub(crate) fn format_mac(mac: &[u8; 6]) -> String {
    let mut out = String::with_capacity(17);
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(T0 + secs)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    /// A session file for one device, with optional first event and end
    /// times (seconds after T0).
    fn session(file: &str, device: &str, start: Option<i64>, end: Option<i64>) -> Session {
        let mut text =
            format!("[device]\n{device}\n[app]\nname = \"A\"\npackage = \"com.example.a\"\n");
        let stamp = |secs: i64| {
            time::OffsetDateTime::from_unix_timestamp(T0 + secs)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default()
        };
        if let Some(s) = start {
            text.push_str(&format!(
                "[[events]]\nat = \"{}\"\nkind = \"consent_granted\"\n",
                stamp(s)
            ));
        }
        if let Some(e) = end {
            text.push_str(&format!(
                "[[events]]\nat = \"{}\"\nkind = \"session_end\"\n",
                stamp(e)
            ));
        }
        match parse(&text, Path::new(file), &KnownIds::builtin()) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    const MAC_A: [u8; 6] = [0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e];
    const MAC_B: [u8; 6] = [0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5f];
    const ROUTER: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];

    fn two_phones() -> SessionSet {
        let a = session(
            "a.toml",
            "mac = \"02:1a:2b:3c:4d:5e\"\nip = [\"192.0.2.23\", \"2001:db8::23\"]",
            Some(0),
            None,
        );
        let b = session("b.toml", "ip = [\"2001:db8::42\"]", None, None);
        match SessionSet::new(vec![a, b]) {
            Ok(set) => set,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn match_by_mac() {
        let set = two_phones();
        let t = at(10);
        assert_eq!(
            set.match_packet(t, Some(MAC_A), Some(ROUTER), None, None),
            Some((0, Side::Source))
        );
        assert_eq!(
            set.match_packet(t, Some(ROUTER), Some(MAC_A), None, None),
            Some((0, Side::Destination))
        );
        // The MAC decides even when the address is another phone's.
        assert_eq!(
            set.match_packet(
                t,
                Some(MAC_A),
                Some(ROUTER),
                ip("2001:db8::42"),
                ip("203.0.113.5")
            ),
            Some((0, Side::Source))
        );
        assert_eq!(
            set.match_packet(t, Some(ROUTER), Some(ROUTER), None, None),
            None
        );
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn match_by_ipv6() {
        let set = two_phones();
        let t = at(10);
        assert_eq!(
            set.match_packet(t, None, None, ip("2001:db8::42"), ip("2606:4700::1")),
            Some((1, Side::Source))
        );
        assert_eq!(
            set.match_packet(
                t,
                Some(ROUTER),
                Some(ROUTER),
                ip("2606:4700::1"),
                ip("2001:db8::23")
            ),
            Some((0, Side::Destination))
        );
        assert_eq!(
            set.match_packet(t, None, None, ip("2001:db8::99"), ip("2606:4700::1")),
            None
        );
    }

    #[test]
    fn packet_between_two_devices_goes_to_sender() {
        let set = two_phones();
        let t = at(10);
        assert_eq!(
            set.match_packet(t, None, None, ip("2001:db8::42"), ip("2001:db8::23")),
            Some((1, Side::Source))
        );
        assert_eq!(
            set.match_packet(t, Some(MAC_A), None, ip("192.0.2.23"), ip("2001:db8::42")),
            Some((0, Side::Source))
        );
    }

    #[test]
    fn same_device_in_sequential_sessions() {
        let dev = "mac = \"02:1a:2b:3c:4d:5e\"";
        let morning = session("morning.toml", dev, Some(0), Some(3_600));
        let afternoon = session("afternoon.toml", dev, Some(7_200), Some(10_800));
        // Given out of time order on purpose: the index sorts by start.
        let set = match SessionSet::new(vec![afternoon, morning]) {
            Ok(set) => set,
            Err(e) => panic!("{e}"),
        };
        let who = |secs: i64| {
            set.match_packet(at(secs), Some(MAC_A), None, None, None)
                .map(|m| m.0)
        };
        assert_eq!(who(-60), Some(1)); // before the morning session: belongs to it
        assert_eq!(who(3_599), Some(1));
        assert_eq!(who(3_600), Some(0)); // morning ended: upcoming afternoon session
        assert_eq!(who(10_799), Some(0));
        assert_eq!(who(10_800), None);
        let phase = |secs: i64| set.phase_of_packet(at(secs), Some(MAC_A), None, None, None);
        assert_eq!(phase(3_600), ConsentPhase::BeforeConsent);
        assert_eq!(phase(7_200), ConsentPhase::AfterConsent);
        assert_eq!(phase(10_800), ConsentPhase::NoSession);
        assert_eq!(set.match_packet(at(0), Some(MAC_B), None, None, None), None);
    }

    #[test]
    fn overlapping_devices_are_an_error() {
        let a = session(
            "lab/a.toml",
            "mac = \"02:1a:2b:3c:4d:5e\"",
            Some(0),
            Some(3_600),
        );
        let b = session(
            "lab/b.toml",
            "ip = \"192.0.2.7\"\nmac = \"02-1A-2B-3C-4D-5E\"",
            Some(1_800),
            None,
        );
        let e = SessionSet::new(vec![a.clone(), b]).map(|_| ()).unwrap_err();
        assert_eq!(e.path, PathBuf::from("lab/b.toml"));
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("mac 02:1a:2b:3c:4d:5e"), "{e}");
        assert!(e.reason.contains("lab/a.toml:1"), "{e}");

        let c = session(
            "lab/c.toml",
            "ip = [\"192.0.2.8\", \"2001:db8::23\"]",
            None,
            None,
        );
        let d = session("lab/d.toml", "ip = \"2001:db8::23\"", Some(99_999), None);
        let e = SessionSet::new(vec![c, d]).map(|_| ()).unwrap_err();
        assert!(
            e.reason.contains("ip 2001:db8::23") && e.reason.contains("lab/c.toml"),
            "{e}"
        );

        // Back to back (end == next start) does not overlap.
        let later = session(
            "lab/e.toml",
            "mac = \"02:1a:2b:3c:4d:5e\"",
            Some(3_600),
            None,
        );
        assert!(SessionSet::new(vec![a, later]).is_ok());
    }

    #[test]
    fn known_ids_and_kinds() {
        let known = KnownIds::builtin()
            .with_pi_types(["qimei"])
            .with_sdk_ids(["umeng"]);
        assert!(known.pi_types.contains("imei") && known.pi_types.contains("qimei"));
        assert_eq!(known.sdk_ids.map(|s| s.len()), Some(1));
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_id(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::from_id("Consent_Granted"), None);
        assert_eq!(
            Audience::from_id(Audience::Children.as_str()),
            Some(Audience::Children)
        );
        assert_eq!(format_mac(&MAC_A), "02:1a:2b:3c:4d:5e");
    }
}
