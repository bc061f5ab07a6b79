//! Consent phase of a timestamp within a session (session-format.md
//! "Meaning").
//!
//! Takes a capture timestamp; emits the [`ConsentPhase`] that decides which
//! finding rules apply to a packet. Reads only the session's sorted events:
//! no clock, no allocation.

use super::{EventKind, Session};
use crate::capture::Timestamp;

/// Consent state of the app at a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsentPhase {
    /// After a `consent_granted` (also a grant after a denial or a
    /// withdrawal).
    AfterConsent,
    /// After a `consent_denied` with no later grant.
    AfterDenial,
    /// After a `consent_withdrawn` with no later grant.
    AfterWithdrawal,
    /// Before the first consent decision.
    BeforeConsent,
    /// At or after `session_end`, or traffic of a host in no session.
    NoSession,
}

impl ConsentPhase {
    /// snake_case id, used in records and as a metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConsentPhase::AfterConsent => "after_consent",
            ConsentPhase::AfterDenial => "after_denial",
            ConsentPhase::AfterWithdrawal => "after_withdrawal",
            ConsentPhase::BeforeConsent => "before_consent",
            ConsentPhase::NoSession => "no_session",
        }
    }
}

impl Session {
    /// Consent phase at capture time `ts`.
    ///
    /// The phase is set by the last phase-changing event at or before `ts`
    /// (an event at exactly `ts` already applies to a packet captured at
    /// `ts`): `consent_granted` → after_consent, `consent_denied` →
    /// after_denial, `consent_withdrawn` → after_withdrawal, `session_end` →
    /// no_session (traffic at or after the end belongs to no session). With no
    /// such event yet the phase is before_consent, also before the first event
    /// of the session. `app_launched`, `sensitive_consent_granted` and
    /// `guardian_consent_granted` do not change the phase; rules query them
    /// with [`Session::has_event_before`].
    ///
    /// Relies on `events` being in non-decreasing time order, which loading
    /// guarantees; with unsorted events the answer is unspecified (no panic).
    pub fn phase_at(&self, ts: Timestamp) -> ConsentPhase {
        let applied = self.events.partition_point(|e| e.at <= ts);
        // partition_point returns at most len, so the range is in bounds.
        let prefix = self.events.get(..applied).unwrap_or(&[]);
        for event in prefix.iter().rev() {
            match event.kind {
                EventKind::ConsentGranted => return ConsentPhase::AfterConsent,
                EventKind::ConsentDenied => return ConsentPhase::AfterDenial,
                EventKind::ConsentWithdrawn => return ConsentPhase::AfterWithdrawal,
                EventKind::SessionEnd => return ConsentPhase::NoSession,
                EventKind::AppLaunched
                | EventKind::GuardianConsentGranted
                | EventKind::SensitiveConsentGranted => {}
            }
        }
        ConsentPhase::BeforeConsent
    }

    /// True if an event of `kind` happened at or before `ts` (same "at
    /// exactly `ts` applies" rule as [`Session::phase_at`]); used by the
    /// separate-consent and guardian-consent rules.
    pub fn has_event_before(&self, kind: EventKind, ts: Timestamp) -> bool {
        self.events
            .iter()
            .take_while(|e| e.at <= ts)
            .any(|e| e.kind == kind)
    }

    /// Start of the session's span: the time of its first event; `None` (no
    /// bound) if it has no events.
    pub fn start(&self) -> Option<Timestamp> {
        self.events.first().map(|e| e.at)
    }

    /// End of the session's span: the time of its `session_end` event;
    /// `None` (open) if it has none.
    pub fn end(&self) -> Option<Timestamp> {
        self.events
            .iter()
            .find(|e| e.kind == EventKind::SessionEnd)
            .map(|e| e.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{App, Audience, Device, Event, Identifiers};

    const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(T0 + secs)
    }

    fn session(events: &[(i64, EventKind)]) -> Session {
        Session {
            id: "t".into(),
            path: "t.toml".into(),
            device: Device {
                name: String::new(),
                mac: Some([0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]),
                ips: Vec::new(),
                line: 1,
            },
            identifiers: Identifiers::default(),
            app: App {
                name: "x".into(),
                package: "com.example.x".into(),
                declared_pi: Vec::new(),
                declared_sdks: Vec::new(),
                first_party_domains: Vec::new(),
                category: None,
                audience: Audience::General,
            },
            events: events
                .iter()
                .map(|&(secs, kind)| Event {
                    at: at(secs),
                    kind,
                    line: 0,
                })
                .collect(),
        }
    }

    fn phases(s: &Session, times: &[i64]) -> Vec<&'static str> {
        times.iter().map(|&t| s.phase_at(at(t)).as_str()).collect()
    }

    #[test]
    fn grant() {
        use EventKind::*;
        let s = session(&[(0, AppLaunched), (40, ConsentGranted), (600, SessionEnd)]);
        assert_eq!(
            phases(&s, &[-10, 0, 39, 40, 41, 599, 600, 601]),
            [
                "before_consent",
                "before_consent",
                "before_consent",
                "after_consent",
                "after_consent",
                "after_consent",
                "no_session",
                "no_session"
            ]
        );
        // One microsecond before the grant.
        let just_before = Timestamp::from_micros(at(40).as_micros() - 1);
        assert_eq!(s.phase_at(just_before), ConsentPhase::BeforeConsent);
        assert_eq!((s.start(), s.end()), (Some(at(0)), Some(at(600))));
    }

    #[test]
    fn deny() {
        use EventKind::*;
        let s = session(&[(0, AppLaunched), (30, ConsentDenied)]);
        assert_eq!(
            phases(&s, &[29, 30, 10_000]),
            ["before_consent", "after_denial", "after_denial"]
        );
        assert_eq!(s.end(), None);
    }

    #[test]
    fn grant_then_withdraw_then_grant() {
        use EventKind::*;
        let s = session(&[
            (10, ConsentGranted),
            (100, ConsentWithdrawn),
            (200, ConsentGranted),
        ]);
        assert_eq!(
            phases(&s, &[9, 10, 99, 100, 199, 200]),
            [
                "before_consent",
                "after_consent",
                "after_consent",
                "after_withdrawal",
                "after_withdrawal",
                "after_consent"
            ]
        );
    }

    #[test]
    fn deny_then_grant() {
        use EventKind::*;
        let s = session(&[
            (5, ConsentDenied),
            (50, ConsentGranted),
            (60, SensitiveConsentGranted),
        ]);
        assert_eq!(
            phases(&s, &[4, 5, 49, 50, 60, 61]),
            [
                "before_consent",
                "after_denial",
                "after_denial",
                "after_consent",
                "after_consent",
                "after_consent"
            ]
        );
        assert!(!s.has_event_before(SensitiveConsentGranted, at(59)));
        assert!(s.has_event_before(SensitiveConsentGranted, at(60)));
        assert!(s.has_event_before(ConsentDenied, at(61)));
        assert!(!s.has_event_before(GuardianConsentGranted, at(61)));
    }

    #[test]
    fn no_events() {
        let s = session(&[]);
        assert_eq!(s.phase_at(at(0)), ConsentPhase::BeforeConsent);
        assert_eq!((s.start(), s.end()), (None, None));
        assert!(!s.has_event_before(EventKind::AppLaunched, at(0)));
    }

    #[test]
    fn same_time_events_apply_in_file_order() {
        use EventKind::*;
        let s = session(&[(10, ConsentDenied), (10, ConsentGranted)]);
        assert_eq!(s.phase_at(at(10)), ConsentPhase::AfterConsent);
        let s = session(&[(10, ConsentGranted), (10, ConsentWithdrawn)]);
        assert_eq!(s.phase_at(at(10)), ConsentPhase::AfterWithdrawal);
    }

    #[test]
    fn ids() {
        let all = [
            ConsentPhase::AfterConsent,
            ConsentPhase::AfterDenial,
            ConsentPhase::AfterWithdrawal,
            ConsentPhase::BeforeConsent,
            ConsentPhase::NoSession,
        ];
        let ids: Vec<_> = all.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            ids,
            [
                "after_consent",
                "after_denial",
                "after_withdrawal",
                "before_consent",
                "no_session"
            ]
        );
    }
}
