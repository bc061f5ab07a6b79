//! report.html: one self-contained page (inline CSS and SVG, no script, no external
//! reference) that prints cleanly to PDF. Everything that comes from traffic or from
//! the session file passes through [`escape`].

use std::fmt::Write as _;

use super::i18n::{event_label, phase_label, role_label, severity_label, Lang, Msg};
use super::{svg, FindingFacts, Report, Transmission};
use crate::pi::taxonomy;

/// Evidence entries shown per finding in the HTML (all are in report.json).
const EVIDENCE_SHOWN: usize = 12;

/// Escapes text for HTML element content and quoted attribute values.
///
/// Also writes the `/` of `://` as `&#47;`: the page shows URLs from traffic exactly,
/// while its source holds no `scheme://` string at all, so a plain search of the file
/// proves it references nothing outside itself.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev = ['\0', '\0'];
    for c in text.chars() {
        let after_scheme = c == '/' && (prev[1] == ':' || prev == [':', '/']);
        prev = [prev[1], c];
        if after_scheme {
            out.push_str("&#47;");
            continue;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no business in a report; show them as U+FFFD.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --ink:#1b1b1b; --muted:#5a5a5a; --line:#d0d0d0; --head:#f2f4f7; --high:#b71c1c; --medium:#d35400; --low:#476b8a; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; color: var(--ink); background: #fff;
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif;
  font-size: 14px; line-height: 1.5; }
header { border-bottom: 3px solid #1f4e79; padding-bottom: 10px; margin-bottom: 18px; }
h1 { font-size: 24px; margin: 0 0 4px; color: #1f4e79; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); color: #1f4e79; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.sub { color: var(--muted); margin: 2px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: var(--head); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
code, .mono { font-family: "DejaVu Sans Mono", "Noto Sans Mono CJK SC", monospace; font-size: 12px; word-break: break-all; }
.sev { display: inline-block; min-width: 3.2em; text-align: center; color: #fff; border-radius: 3px; padding: 0 6px; font-weight: 600; }
.sev-high { background: var(--high); } .sev-medium { background: var(--medium); } .sev-low { background: var(--low); }
.figures { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; }
.figure { border: 1px solid var(--line); border-radius: 4px; padding: 6px 12px; min-width: 120px; }
.figure b { display: block; font-size: 20px; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 6px 10px; margin: 6px 0; }
.off { background: #eef3f8; border-left: 4px solid var(--low); padding: 6px 10px; margin: 6px 0; }
.phase { display: inline-block; border-radius: 3px; padding: 0 5px; border: 1px solid #aaa; white-space: nowrap; }
.ev { margin: 0; padding-left: 16px; }
.ev li { margin: 0; }
.clauses li { white-space: nowrap; }
.chart { overflow-x: auto; }
.chart svg { max-width: 100%; height: auto; }
.third { color: var(--high); font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 6px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
footer { margin-top: 32px; padding-top: 8px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  tr, .figure, li { break-inside: avoid; }
  table { font-size: 8.5pt; }
  code, .mono { font-size: 7.5pt; }
  thead { display: table-header-group; }
  .chart { overflow: visible; }
  a { color: inherit; text-decoration: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The whole page.
pub fn render(r: &Report, lang: Lang) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = Msg::Title.text(lang);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{} — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        lang.html_lang(),
        escape(title),
        escape(&r.session.app.name)
    );
    header(&mut h, r, lang);
    summary(&mut h, r, lang);
    findings(&mut h, r, lang);
    timeline(&mut h, r, lang);
    destinations(&mut h, r, lang);
    transmissions(&mut h, r, lang);
    session(&mut h, r, lang);
    inputs(&mut h, r, lang);
    footer(&mut h, r, lang);
    h.push_str("</body>\n</html>\n");
    h
}

fn header(h: &mut String, r: &Report, lang: Lang) {
    let s = &r.session;
    let _ = write!(
        h,
        "<header id=\"report-header\"><h1>{}</h1><p class=\"sub\">{}: <b>{}</b> (<code>{}</code>) · {}: {} · {}: <code>{}</code></p>",
        escape(Msg::Title.text(lang)),
        escape(Msg::AppLabel.text(lang)),
        escape(&s.app.name),
        escape(&s.app.package),
        escape(Msg::Device.text(lang)),
        escape(&s.device.name),
        escape(Msg::SessionId.text(lang)),
        escape(&s.id)
    );
    if let (Some(a), Some(b)) = (&r.run.first_ts, &r.run.last_ts) {
        let _ = write!(
            h,
            "<p class=\"sub\">{}: {} — {} ({})</p>",
            escape(Msg::CaptureTime.text(lang)),
            escape(&beijing(a)),
            escape(&beijing(b)),
            escape(lang.pick("北京时间", "Beijing time"))
        );
    }
    let _ = writeln!(
        h,
        "<p class=\"sub\">{}: {}</p></header>",
        escape(Msg::Generated.text(lang)),
        escape(&r.generator)
    );
}

fn summary(h: &mut String, r: &Report, lang: Lang) {
    let count = |sev: &str| r.findings.iter().filter(|f| f.severity == sev).count();
    let leaks = r.destinations.rows.iter().map(|d| d.pi_leaks).sum::<u64>();
    let contacts = r
        .destinations
        .rows
        .iter()
        .map(|d| d.sdk_contacts)
        .sum::<u64>();
    let third = r
        .destinations
        .rows
        .iter()
        .filter(|d| d.party == "third")
        .count();
    let _ = write!(
        h,
        "<section id=\"summary\"><h2>{}</h2><div class=\"figures\">",
        escape(Msg::Summary.text(lang))
    );
    let figure = |h: &mut String, label: String, value: String| {
        let _ = write!(
            h,
            "<div class=\"figure\"><b>{}</b>{}</div>",
            escape(&value),
            escape(&label)
        );
    };
    figure(
        h,
        format!(
            "{} ({})",
            Msg::Findings.text(lang),
            severity_label("high", lang)
        ),
        count("high").to_string(),
    );
    figure(
        h,
        format!(
            "{} ({})",
            Msg::Findings.text(lang),
            severity_label("medium", lang)
        ),
        count("medium").to_string(),
    );
    figure(
        h,
        format!(
            "{} ({})",
            Msg::Findings.text(lang),
            severity_label("low", lang)
        ),
        count("low").to_string(),
    );
    figure(h, Msg::PiLeak.text(lang).to_string(), leaks.to_string());
    figure(
        h,
        Msg::SdkContact.text(lang).to_string(),
        contacts.to_string(),
    );
    figure(
        h,
        format!(
            "{} ({} {})",
            Msg::Destination.text(lang),
            third,
            Msg::ThirdParty.text(lang)
        ),
        r.destinations.rows.len().to_string(),
    );
    h.push_str("</div>");
    for note in &r.notes {
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            escape(lang.pick(&note.zh, &note.en))
        );
    }
    for off in &r.rules_off {
        let _ = write!(
            h,
            "<p class=\"off\">{}: <code>{}</code> — {}</p>",
            escape(Msg::RulesOff.text(lang)),
            escape(off.rule),
            escape(lang.pick(off.reason_zh, off.reason_en))
        );
    }
    for problem in &r.run.file_problems {
        let _ = write!(h, "<p class=\"note\">{}</p>", escape(problem));
    }
    h.push_str("</section>\n");
}

fn findings(h: &mut String, r: &Report, lang: Lang) {
    let _ = write!(
        h,
        "<section id=\"findings\"><h2>{} ({})</h2>",
        escape(Msg::Findings.text(lang)),
        r.findings.len()
    );
    if r.findings.is_empty() {
        let _ = writeln!(
            h,
            "<p id=\"findings-none\">{}</p></section>",
            escape(Msg::FindingsNone.text(lang))
        );
        return;
    }
    let _ = write!(
        h,
        "<table id=\"findings-table\"><thead><tr><th class=\"num\">#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"num\">{}</th><th>{}</th></tr></thead><tbody>",
        escape(Msg::Severity.text(lang)),
        escape(Msg::Rule.text(lang)),
        escape(Msg::PiType.text(lang)),
        escape(Msg::Destination.text(lang)),
        escape(Msg::Clauses.text(lang)),
        escape(Msg::Count.text(lang)),
        escape(Msg::Evidence.text(lang)),
    );
    for (i, f) in r.findings.iter().enumerate() {
        finding_row(h, i + 1, f, lang);
    }
    h.push_str("</tbody></table></section>\n");
}

fn finding_row(h: &mut String, n: usize, f: &FindingFacts, lang: Lang) {
    let _ = write!(
        h,
        "<tr class=\"finding\" id=\"f-{}\" data-rule=\"{}\"><td class=\"num\">{n}</td><td><span class=\"sev sev-{}\">{}</span></td><td><b>{}</b><br><code>{}</code><br><span class=\"phase\">{}</span> {}</td><td>{}</td><td>{}</td><td><ul class=\"ev clauses\">",
        f.seq,
        escape(&f.rule),
        escape(&f.severity),
        escape(severity_label(&f.severity, lang)),
        escape(lang.pick(&f.title_zh, &f.title_en)),
        escape(&f.rule),
        escape(phase_label(&f.consent_phase, lang)),
        escape(&beijing(&f.ts)),
        f.pi_type
            .as_deref()
            .map_or_else(|| "—".to_string(), |t| pi_label(t, lang)),
        f.destination
            .as_deref()
            .map_or_else(|| escape(lang.pick("多个目的地", "several destinations")), |d| format!("<code>{}</code>", escape(d))),
    );
    for clause in &f.regulation {
        let _ = write!(h, "<li>{}</li>", escape(clause));
    }
    let _ = write!(
        h,
        "</ul></td><td class=\"num\">{}</td><td><ul class=\"ev\">",
        f.count
    );
    for e in f.evidence.iter().take(EVIDENCE_SHOWN) {
        let _ = write!(
            h,
            "<li><a href=\"#t-{}\">#{}</a> {} <code>{} {}:{} → {}:{}</code> <code>{}</code></li>",
            e.seq,
            e.seq,
            escape(&beijing(&e.ts)),
            escape(&e.flow.proto),
            escape(&e.flow.src_ip),
            e.flow.src_port,
            escape(&e.flow.dst_ip),
            e.flow.dst_port,
            escape(&e.community_id)
        );
    }
    let more = f.refs.len().saturating_sub(EVIDENCE_SHOWN);
    if more > 0 {
        let _ = write!(
            h,
            "<li>{}</li>",
            escape(&Msg::MoreRefs.text(lang).replace("{}", &more.to_string()))
        );
    }
    h.push_str("</ul></td></tr>");
}

fn timeline(h: &mut String, r: &Report, lang: Lang) {
    let _ = write!(
        h,
        "<section id=\"timeline\"><h2>{}</h2><p>{}</p><div class=\"chart\">{}</div><div class=\"chart\">{}</div>",
        escape(Msg::Timeline.text(lang)),
        escape(Msg::TimelineIntro.text(lang)),
        svg::render(r, lang),
        svg::legend(lang)
    );
    let _ = write!(
        h,
        "<table id=\"events-table\"><thead><tr><th>{}</th><th>{}</th><th>UTC</th></tr></thead><tbody>",
        escape(Msg::Events.text(lang)),
        escape(Msg::Time.text(lang))
    );
    for e in &r.timeline.events {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(event_label(e.kind, lang)),
            escape(&e.at_beijing),
            escape(&e.at)
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn destinations(h: &mut String, r: &Report, lang: Lang) {
    let d = &r.destinations;
    let _ = write!(
        h,
        "<section id=\"destinations\"><h2>{}</h2><p>{}</p><table id=\"destinations-table\"><thead><tr><th>{}</th><th>{}</th><th>{}</th>",
        escape(Msg::Destinations.text(lang)),
        escape(Msg::DestinationsIntro.text(lang)),
        escape(Msg::Destination.text(lang)),
        escape(Msg::SdkLabel.text(lang)),
        escape(Msg::Party.text(lang)),
    );
    for t in &d.pi_types {
        let _ = write!(h, "<th class=\"num\">{}</th>", pi_label(t, lang));
    }
    let _ = write!(
        h,
        "<th class=\"num\">{}</th><th>{}</th></tr></thead><tbody>",
        escape(Msg::SdkContact.text(lang)),
        escape(Msg::Phase.text(lang))
    );
    for row in &d.rows {
        let party = if row.party == "third" {
            format!(
                "<span class=\"third\">{}</span>",
                escape(Msg::ThirdParty.text(lang))
            )
        } else {
            escape(Msg::FirstParty.text(lang))
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td>",
            escape(&row.destination),
            row.sdk.as_ref().map_or_else(
                || "—".to_string(),
                |s| format!("{} <small>({})</small>", escape(&s.name), escape(&s.vendor))
            ),
            party
        );
        for t in &d.pi_types {
            match row.pi_counts.get(t) {
                Some(n) => {
                    let _ = write!(h, "<td class=\"num\"><b>{n}</b></td>");
                }
                None => h.push_str("<td class=\"num\"></td>"),
            }
        }
        let phases: Vec<String> = row
            .phases
            .iter()
            .map(|p| {
                format!(
                    "<span class=\"phase\" style=\"background:{}\">{}</span>",
                    svg::phase_colour(p),
                    escape(phase_label(p, lang))
                )
            })
            .collect();
        let _ = write!(
            h,
            "<td class=\"num\">{}</td><td>{}</td></tr>",
            row.sdk_contacts,
            phases.join(" ")
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn transmissions(h: &mut String, r: &Report, lang: Lang) {
    let _ = write!(
        h,
        "<section id=\"transmissions\"><h2>{} ({})</h2>",
        escape(Msg::Transmissions.text(lang)),
        r.transmissions.len() as u64 + r.transmissions_not_listed
    );
    if r.transmissions.is_empty() {
        let _ = writeln!(
            h,
            "<p>{}</p></section>",
            escape(Msg::TransmissionsNone.text(lang))
        );
        return;
    }
    let _ = write!(
        h,
        "<table id=\"transmissions-table\"><thead><tr><th class=\"num\">seq</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        escape(Msg::Time.text(lang)),
        escape(Msg::Phase.text(lang)),
        escape(Msg::Type.text(lang)),
        escape(Msg::Destination.text(lang)),
        escape(Msg::PiItems.text(lang)),
        escape(Msg::Flow.text(lang)),
    );
    for t in &r.transmissions {
        transmission_row(h, t, lang);
    }
    h.push_str("</tbody></table>");
    if r.transmissions_not_listed > 0 {
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            escape(
                &Msg::TransmissionsTruncated
                    .text(lang)
                    .replace("{}", &r.transmissions_not_listed.to_string())
            )
        );
    }
    h.push_str("</section>\n");
}

fn transmission_row(h: &mut String, t: &Transmission, lang: Lang) {
    let kind = if t.event_type == "pi_leak" {
        Msg::PiLeak.text(lang)
    } else {
        Msg::SdkContact.text(lang)
    };
    let mut dest = format!("<code>{}</code>", escape(&t.destination));
    if let Some(sdk) = &t.sdk {
        let _ = write!(dest, "<br>{}", escape(&sdk.name));
    }
    if t.third_party {
        let _ = write!(
            dest,
            " <span class=\"third\">{}</span>",
            escape(Msg::ThirdParty.text(lang))
        );
    }
    if let Some(http) = &t.http {
        let _ = write!(dest, "<br><code>{}</code>", escape(http));
    }
    let mut items = String::new();
    for p in &t.pi {
        let _ = write!(
            items,
            "<div>{} = <code>{}</code> <small>@{} [{}] {}</small></div>",
            pi_label(&p.pi_type, lang),
            escape(&p.value),
            escape(&p.location),
            escape(&p.encoding),
            escape(p.method)
        );
    }
    if let Some(via) = t.via {
        let _ = write!(
            items,
            "<small>{}: {}</small>",
            escape(Msg::Via.text(lang)),
            escape(via)
        );
    }
    let _ = write!(
        h,
        "<tr id=\"t-{}\"><td class=\"num\">{}</td><td>{}</td><td><span class=\"phase\" style=\"background:{}\">{}</span></td><td>{}<br><small>{} · {}</small></td><td>{}</td><td>{}</td><td><code>{} {}:{} → {}:{}</code><br><code>{}</code></td></tr>",
        t.seq,
        t.seq,
        escape(&t.ts_beijing),
        svg::phase_colour(&t.consent_phase),
        escape(phase_label(&t.consent_phase, lang)),
        escape(kind),
        escape(t.app_proto),
        escape(if t.encrypted {
            Msg::Encrypted.text(lang)
        } else {
            Msg::Plaintext.text(lang)
        }),
        dest,
        items,
        escape(&t.flow.proto),
        escape(&t.flow.src_ip),
        t.flow.src_port,
        escape(&t.flow.dst_ip),
        t.flow.dst_port,
        escape(&t.community_id)
    );
}

fn session(h: &mut String, r: &Report, lang: Lang) {
    let s = &r.session;
    let none = Msg::NoneValue.text(lang);
    let list = |items: &[String], label: fn(&str, Lang) -> String| -> String {
        if items.is_empty() {
            escape(none)
        } else {
            items
                .iter()
                .map(|i| label(i, lang))
                .collect::<Vec<_>>()
                .join("、")
        }
    };
    let code = |t: &str, _: Lang| format!("<code>{}</code>", escape(t));
    let _ = write!(
        h,
        "<section id=\"session\"><h2>{}</h2><dl class=\"facts\">",
        escape(Msg::SessionFacts.text(lang))
    );
    let mut fact = |label: Msg, value: String| {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", escape(label.text(lang)), value);
    };
    fact(Msg::SessionId, code(&s.id, lang));
    fact(Msg::Device, escape(&s.device.name));
    fact(
        Msg::Mac,
        s.device
            .mac
            .as_deref()
            .map_or_else(|| escape(none), |m| code(m, lang)),
    );
    fact(Msg::Ips, list(&s.device.ips, code));
    let ids: Vec<String> = s
        .device
        .identifiers
        .iter()
        .map(|(t, v)| {
            format!(
                "{} <code>{}</code>",
                pi_label(t, lang),
                escape(&v.join(", "))
            )
        })
        .collect();
    fact(
        Msg::DeviceIdentifiers,
        if ids.is_empty() {
            escape(none)
        } else {
            ids.join("<br>")
        },
    );
    fact(Msg::AppLabel, escape(&s.app.name));
    fact(Msg::Package, code(&s.app.package, lang));
    fact(
        Msg::AppCategory,
        match (&s.app.category, &s.app.category_name_zh) {
            (Some(id), Some(zh)) => format!("{} <code>{}</code>", escape(zh), escape(id)),
            (Some(id), None) => code(id, lang),
            _ => escape(none),
        },
    );
    fact(
        Msg::Audience,
        escape(if s.app.audience == "children" {
            Msg::AudienceChildren.text(lang)
        } else {
            Msg::AudienceGeneral.text(lang)
        }),
    );
    fact(Msg::DeclaredPi, list(&s.app.declared_pi, pi_label));
    fact(Msg::DeclaredSdks, list(&s.app.declared_sdks, code));
    fact(
        Msg::FirstPartyDomains,
        list(&s.app.first_party_domains, code),
    );
    let _ = writeln!(
        h,
        "</dl><p class=\"sub\">{}: <code>{}</code></p></section>",
        escape(Msg::Path.text(lang)),
        escape(&s.file)
    );
}

fn inputs(h: &mut String, r: &Report, lang: Lang) {
    let _ = write!(
        h,
        "<section id=\"inputs\"><h2>{}</h2><table id=\"inputs-table\"><thead><tr><th>{}</th><th>{}</th><th class=\"num\">{}</th><th>SHA-256</th></tr></thead><tbody>",
        escape(Msg::InputFiles.text(lang)),
        escape(Msg::FileRole.text(lang)),
        escape(Msg::Path.text(lang)),
        escape(Msg::Bytes.text(lang)),
    );
    for f in &r.inputs {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            escape(role_label(f.role, lang)),
            escape(&f.path),
            f.bytes,
            escape(&f.sha256)
        );
    }
    let _ = writeln!(
        h,
        "</tbody></table><p class=\"sub\">{}: {} · {}: <code>{}</code> · {}: {}</p></section>",
        escape(Msg::Records.text(lang)),
        r.run.records,
        escape(Msg::ChainHead.text(lang)),
        escape(&r.run.chain_head),
        escape(Msg::Packets.text(lang)),
        r.run.packets
    );
}

fn footer(h: &mut String, r: &Report, lang: Lang) {
    h.push_str("<footer id=\"regulations\">");
    if !r.regulations.is_empty() {
        let _ = write!(h, "<h3>{}</h3><ul>", escape(Msg::Abbreviations.text(lang)));
        for reg in &r.regulations {
            let _ = write!(
                h,
                "<li><b>{}</b> — {}</li>",
                escape(reg.abbreviation),
                escape(lang.pick(reg.title_zh, reg.title_en))
            );
        }
        h.push_str("</ul>");
    }
    let _ = writeln!(
        h,
        "<p>{}</p><p>{}</p></footer>",
        escape(Msg::Disclaimer.text(lang)),
        escape(Msg::TimeAxis.text(lang))
    );
}

/// A PI type id as `name <code>id</code>` in the report's language.
fn pi_label(id: &str, lang: Lang) -> String {
    match taxonomy::pi_type(id) {
        Some(info) => format!(
            "{} <code>{}</code>",
            escape(lang.pick(info.name_zh, info.name_en)),
            escape(id)
        ),
        None => format!("<code>{}</code>", escape(id)),
    }
}

/// An RFC 3339 UTC time as Beijing time for display (unchanged if unparsable).
fn beijing(rfc3339: &str) -> String {
    super::parse_ts(rfc3339).map_or_else(|| rfc3339.to_string(), crate::output::beijing_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\u{0}b"), "a\u{fffd}b");
        assert_eq!(escape("北京"), "北京");
        assert_eq!(escape("http://a/b"), "http:&#47;&#47;a/b");
        assert_eq!(escape("x:/y"), "x:&#47;y");
    }
}
