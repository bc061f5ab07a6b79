//! The consent timeline as inline SVG: phase bands, event markers, one row per
//! destination with a mark per PI transmission or SDK contact, and a time axis in
//! Beijing time. No script, no external reference; every text from traffic or the
//! session file is escaped.

use std::fmt::Write as _;

use super::html::escape;
use super::i18n::{event_label, phase_label, Lang, Msg};
use super::{parse_ts, Report};
use crate::capture::Timestamp;
use crate::output::beijing_time;

/// Destination rows drawn; the rest share one "other" row.
pub const MAX_LANES: usize = 40;
/// Marks drawn; a report of a test session has far fewer. Beyond this the marks are
/// still listed in the tables, and the chart says how many were left out.
pub const MAX_MARKS: usize = 5_000;

const WIDTH: f64 = 1160.0;
const LABEL_W: f64 = 250.0;
const RIGHT_PAD: f64 = 24.0;
const LANE_H: f64 = 24.0;
const BAND_H: f64 = 22.0;
const EVENT_ROW_H: f64 = 14.0;
const MAX_EVENT_ROWS: usize = 4;

/// Background colour of a consent phase.
pub fn phase_colour(phase: &str) -> &'static str {
    match phase {
        "before_consent" => "#f7d4d2",
        "after_consent" => "#d6eed6",
        "after_denial" => "#fbe0bd",
        "after_withdrawal" => "#e3d7f2",
        _ => "#e9e9e9",
    }
}

/// Renders the timeline SVG (element id `timeline-svg`).
pub fn render(report: &Report, lang: Lang) -> String {
    let start = parse_ts(&report.timeline.start).unwrap_or_default();
    let end = parse_ts(&report.timeline.end).unwrap_or_default();
    let span = (end.as_micros() - start.as_micros()).max(1) as f64;
    let plot_w = WIDTH - LABEL_W - RIGHT_PAD;
    let x_of = |ts: Timestamp| -> f64 {
        let f = (ts.as_micros() - start.as_micros()) as f64 / span;
        LABEL_W + f.clamp(0.0, 1.0) * plot_w
    };

    // Lanes: destinations in order of first contact.
    let mut lanes: Vec<(&str, String)> = Vec::new();
    let mut firsts: Vec<(&str, &str)> = report
        .transmissions
        .iter()
        .map(|t| (t.ts.as_str(), t.destination.as_str()))
        .collect();
    firsts.sort();
    for (_, dest) in firsts {
        if lanes.iter().any(|(d, _)| *d == dest) {
            continue;
        }
        let sdk = report
            .transmissions
            .iter()
            .find(|t| t.destination == dest)
            .and_then(|t| t.sdk.as_ref())
            .map(|s| s.name.clone());
        let label = match sdk {
            Some(name) => format!("{} [{}]", shorten(dest, 28), shorten(&name, 14)),
            None => shorten(dest, 36),
        };
        lanes.push((dest, label));
    }
    let overflow = lanes.len() > MAX_LANES;
    if overflow {
        lanes.truncate(MAX_LANES);
    }
    let lane_count = lanes.len() + usize::from(overflow);
    let lane_of = |dest: &str| -> usize {
        lanes
            .iter()
            .position(|(d, _)| *d == dest)
            .unwrap_or(lanes.len())
    };

    // Event labels, greedily placed on up to MAX_EVENT_ROWS rows so they do not overlap.
    let mut row_end = [f64::MIN; MAX_EVENT_ROWS];
    let mut event_labels = Vec::new();
    for e in &report.timeline.events {
        let Some(ts) = parse_ts(&e.at) else { continue };
        let x = x_of(ts);
        let text = format!("{} {}", clock(ts), event_label(e.kind, lang));
        let w = text_width(&text);
        // Labels that would run past the right edge end at their marker instead.
        let right_aligned = x + 2.0 + w > WIDTH - 2.0;
        let (from, to) = if right_aligned {
            (x - 2.0 - w, x)
        } else {
            (x, x + 2.0 + w)
        };
        let row = row_end
            .iter()
            .position(|end| from > *end + 4.0)
            .unwrap_or(MAX_EVENT_ROWS - 1);
        if let Some(end) = row_end.get_mut(row) {
            *end = to;
        }
        event_labels.push((x, row, text, e.kind, right_aligned));
    }
    let events_h = EVENT_ROW_H * (MAX_EVENT_ROWS as f64) + 6.0;
    let band_y = events_h;
    let lanes_y = band_y + BAND_H + 6.0;
    let lanes_h = LANE_H * lane_count.max(1) as f64;
    let axis_y = lanes_y + lanes_h + 4.0;
    let height = axis_y + 64.0;

    let mut s = String::with_capacity(16 * 1024);
    let _ = write!(
        s,
        r##"<svg id="timeline-svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-labelledby="timeline-title"><title id="timeline-title">{}</title>"##,
        escape(Msg::Timeline.text(lang))
    );
    s.push_str(r##"<g font-size="11" font-family="inherit">"##);

    // Phase bands: a strong band on top and a light wash behind the lanes.
    for p in &report.timeline.phases {
        let (Some(a), Some(b)) = (parse_ts(&p.start), parse_ts(&p.end)) else {
            continue;
        };
        let (x0, x1) = (x_of(a), x_of(b));
        let w = (x1 - x0).max(0.0);
        let colour = phase_colour(p.phase);
        let _ = write!(
            s,
            r##"<rect class="phase-band" data-phase="{}" x="{x0:.1}" y="{band_y:.1}" width="{w:.1}" height="{BAND_H}" fill="{colour}" stroke="#999" stroke-width="0.5"><title>{}</title></rect>"##,
            p.phase,
            escape(phase_label(p.phase, lang))
        );
        let _ = write!(
            s,
            r##"<rect x="{x0:.1}" y="{lanes_y:.1}" width="{w:.1}" height="{lanes_h:.1}" fill="{colour}" opacity="0.45"/>"##
        );
        let label = phase_label(p.phase, lang);
        if w > text_width(label) + 8.0 {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
                x0 + w / 2.0,
                band_y + 15.0,
                escape(label)
            );
        }
    }

    // Lane labels and separators.
    for (i, (_, label)) in lanes.iter().enumerate() {
        let y = lanes_y + LANE_H * i as f64;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#222">{}</text><line x1="{LABEL_W}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#fff" stroke-width="1"/>"##,
            LABEL_W - 8.0,
            y + 16.0,
            escape(label),
            WIDTH - RIGHT_PAD,
            y + LANE_H,
            y + LANE_H
        );
    }
    if overflow {
        let y = lanes_y + LANE_H * lanes.len() as f64;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#222">{}</text>"##,
            LABEL_W - 8.0,
            y + 16.0,
            escape(lang.pick("其他目的地", "other destinations"))
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{LABEL_W}" y="{lanes_y:.1}" width="{plot_w:.1}" height="{lanes_h:.1}" fill="none" stroke="#888" stroke-width="0.8"/>"##
    );

    // Event markers.
    for (x, row, text, kind, right_aligned) in &event_labels {
        let label_y = EVENT_ROW_H * (*row as f64 + 1.0);
        let colour = if kind.contains("consent") {
            "#1f4e79"
        } else {
            "#555"
        };
        let _ = write!(
            s,
            r##"<g class="event-marker" data-kind="{kind}"><line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.2" stroke-dasharray="4 3"/><text x="{:.1}" y="{label_y:.1}" fill="{colour}"{}>{}</text></g>"##,
            label_y + 2.0,
            axis_y,
            if *right_aligned { x - 2.0 } else { x + 2.0 },
            if *right_aligned {
                r#" text-anchor="end""#
            } else {
                ""
            },
            escape(text)
        );
    }

    // Marks.
    let mut drawn = 0usize;
    for t in &report.transmissions {
        if drawn >= MAX_MARKS {
            break;
        }
        let Some(ts) = parse_ts(&t.ts) else { continue };
        drawn += 1;
        let x = x_of(ts);
        let y = lanes_y + LANE_H * lane_of(&t.destination) as f64 + LANE_H / 2.0;
        let types: Vec<&str> = t.pi.iter().map(|p| p.pi_type.as_str()).collect();
        let tip = format!(
            "#{} {} {} {} {}",
            t.seq,
            t.ts_beijing,
            t.destination,
            phase_label(&t.consent_phase, lang),
            if types.is_empty() {
                Msg::SdkContact.text(lang).to_string()
            } else {
                types.join(", ")
            }
        );
        if t.event_type == "pi_leak" {
            let sensitive = t.pi.iter().any(|p| p.sensitive);
            let fill = if sensitive { "#b71c1c" } else { "#e67e22" };
            let _ = write!(
                s,
                r##"<circle class="mark mark-leak" cx="{x:.1}" cy="{y:.1}" r="5" fill="{fill}" stroke="#fff" stroke-width="0.8"><title>{}</title></circle>"##,
                escape(&tip)
            );
        } else {
            let _ = write!(
                s,
                r##"<path class="mark mark-contact" d="M{x:.1} {:.1} L{:.1} {y:.1} L{x:.1} {:.1} L{:.1} {y:.1} Z" fill="#fff" stroke="#1f4e79" stroke-width="1.5"><title>{}</title></path>"##,
                y - 5.5,
                x + 5.5,
                y + 5.5,
                x - 5.5,
                escape(&tip)
            );
        }
    }

    // Time axis in Beijing time.
    let _ = write!(
        s,
        r##"<line x1="{LABEL_W}" x2="{:.1}" y1="{axis_y:.1}" y2="{axis_y:.1}" stroke="#333"/>"##,
        WIDTH - RIGHT_PAD
    );
    let step = tick_step(span / 1e6);
    let first_tick =
        (start.as_micros() + 8 * 3_600_000_000).div_euclid(step) * step + step - 8 * 3_600_000_000;
    let mut tick = first_tick;
    let mut ticks = 0;
    while tick < end.as_micros() && ticks < 24 {
        let x = x_of(Timestamp::from_micros(tick));
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{axis_y:.1}" y2="{:.1}" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
            axis_y + 5.0,
            axis_y + 18.0,
            clock(Timestamp::from_micros(tick))
        );
        tick += step;
        ticks += 1;
    }
    let date = beijing_time(start);
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text><text x="{LABEL_W}" y="{:.1}" fill="#444" font-style="italic">{}</text>"##,
        LABEL_W - 8.0,
        axis_y + 18.0,
        escape(date.get(..10).unwrap_or("")),
        axis_y + 38.0,
        escape(Msg::TimeAxis.text(lang))
    );
    if drawn < report.transmissions.len() {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#b71c1c">{}</text>"##,
            WIDTH - RIGHT_PAD,
            axis_y + 38.0,
            escape(&format!(
                "{} {}",
                report.transmissions.len() - drawn,
                lang.pick("个标记未绘出", "marks not drawn")
            ))
        );
    }
    s.push_str("</g></svg>");
    s
}

/// A small legend SVG: mark shapes and phase colours.
pub fn legend(lang: Lang) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg id="timeline-legend" width="{WIDTH}" height="26" viewBox="0 0 {WIDTH} 26"><g font-size="11">"##
    );
    let mut x = 10.0;
    let mut item = |s: &mut String, shape: String, label: &str| {
        s.push_str(&shape.replace("{X}", &format!("{x:.1}")));
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="17" fill="#222">{}</text>"##,
            x + 14.0,
            escape(label)
        );
        x += 14.0 + text_width(label) + 22.0;
    };
    item(
        &mut s,
        r##"<circle cx="{X}" cy="13" r="5" fill="#e67e22"/>"##.to_string(),
        Msg::TimelineLegendLeak.text(lang),
    );
    item(
        &mut s,
        r##"<circle cx="{X}" cy="13" r="5" fill="#b71c1c"/>"##.to_string(),
        Msg::TimelineLegendSensitive.text(lang),
    );
    item(
        &mut s,
        r##"<rect x="{X}" y="9" width="8" height="8" transform="rotate(45 {X} 13)" fill="#fff" stroke="#1f4e79" stroke-width="1.5"/>"##
            .to_string(),
        Msg::TimelineLegendContact.text(lang),
    );
    for phase in [
        "before_consent",
        "after_consent",
        "after_denial",
        "after_withdrawal",
    ] {
        item(
            &mut s,
            format!(
                r##"<rect x="{{X}}" y="7" width="11" height="12" fill="{}" stroke="#999" stroke-width="0.5" transform="translate(-5 0)"/>"##,
                phase_colour(phase)
            ),
            phase_label(phase, lang),
        );
    }
    s.push_str("</g></svg>");
    s
}

/// `HH:MM:SS` in Beijing time.
fn clock(ts: Timestamp) -> String {
    beijing_time(ts).get(11..19).unwrap_or("").to_string()
}

/// Tick step in microseconds giving at most about eight ticks over `span_secs`.
fn tick_step(span_secs: f64) -> i64 {
    const STEPS: [i64; 18] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200,
        86_400,
    ];
    let secs = STEPS
        .iter()
        .copied()
        .find(|s| span_secs / (*s as f64) <= 8.0)
        .unwrap_or(86_400);
    secs * 1_000_000
}

/// Approximate rendered width at 11 px: CJK characters are about square.
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 6.2 } else { 11.0 })
        .sum()
}

/// At most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_text_helpers() {
        assert_eq!(tick_step(30.0), 5_000_000);
        assert_eq!(tick_step(300.0), 60_000_000);
        assert_eq!(tick_step(1e9), 86_400_000_000);
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
        assert!(text_width("同意") > text_width("ab"));
        assert_eq!(clock(Timestamp::from_secs(1_772_442_040)), "17:00:40");
    }
}
