//! Line-level HTTP/1.x syntax (RFC 9112): probes, start lines, header field lines, chunk-size
//! lines, and the field values that decide framing (Content-Length, codings, media type).
//!
//! Every function borrows its input and allocates nothing; a "line" here is the bytes before
//! LF with a trailing CR removed. The state machine in [`super::state`] cuts lines and keeps
//! all state; nothing here keeps any.

use super::body::Coding;
use super::{Error, InvalidKind};

/// Method tokens that [`probe_request`] and resynchronisation accept: RFC 9110 §9 plus
/// PATCH (RFC 5789) and the WebDAV family (RFC 4918, 3253, 3744, 4791, 5323).
pub const KNOWN_METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"PUT",
    b"DELETE",
    b"HEAD",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"MKCALENDAR",
    b"ACL",
    b"MERGE",
    b"CHECKOUT",
    b"CHECKIN",
    // SSDP (UPnP discovery) speaks HTTP over UDP multicast with these two.
    b"M-SEARCH",
    b"NOTIFY",
];

/// Cheap check that `data` starts like an HTTP/1.x request: a known method token followed by
/// SP. A prefix shorter than that answers `false`.
pub fn probe_request(data: &[u8]) -> bool {
    KNOWN_METHODS
        .iter()
        .any(|m| data.starts_with(m) && data.get(m.len()) == Some(&b' '))
}

/// Cheap check that `data` starts like an HTTP/1.x response (`HTTP/1.`). A shorter prefix
/// answers `false`.
pub fn probe_response(data: &[u8]) -> bool {
    data.starts_with(b"HTTP/1.")
}

/// A parsed request line (RFC 9112 §3), borrowed from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// Method token, case as sent (methods are case-sensitive, RFC 9110 §9.1).
    pub method: &'a [u8],
    /// Raw request-target.
    pub target: &'a [u8],
    /// Minor version of `HTTP/1.x`.
    pub minor: u8,
}

/// A parsed status line (RFC 9112 §4), borrowed from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusLine<'a> {
    /// Minor version of `HTTP/1.x`.
    pub minor: u8,
    /// Three-digit status code.
    pub status: u16,
    /// Reason phrase, possibly empty.
    pub reason: &'a [u8],
}

/// Cuts the first line from `data`: returns the line without its LF and trailing CR, whether
/// it ended in CRLF, and the rest. `Incomplete` if `data` holds no LF.
pub fn parse_line(data: &[u8]) -> Result<(&[u8], bool, &[u8]), Error> {
    let lf = data
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(Error::Incomplete { needed: 1 })?;
    let line = data.get(..lf).unwrap_or_default();
    let rest = data.get(lf + 1..).unwrap_or_default();
    match line.strip_suffix(b"\r") {
        Some(l) => Ok((l, true, rest)),
        None => Ok((line, false, rest)),
    }
}

/// `tchar` of RFC 9110 §5.6.2.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is a non-empty token (RFC 9110 §5.6.2).
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Parses `HTTP/1.x` (RFC 9112 §2.3) into the minor digit.
pub fn parse_version(v: &[u8]) -> Result<u8, Error> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if d.is_ascii_digit() => Ok(d - b'0'),
        _ => Err(Error::Invalid(InvalidKind::Version)),
    }
}

/// Parses `method SP request-target SP HTTP-version` (RFC 9112 §3). Lenient as a passive
/// observer: the target is everything between the first and the last SP (so a stray space in
/// a target survives), runs of SP are tolerated.
pub fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, Error> {
    let sp = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(Error::Invalid(InvalidKind::RequestLine))?;
    let method = line.get(..sp).unwrap_or_default();
    if !is_token(method) {
        return Err(Error::Invalid(InvalidKind::Method));
    }
    let rest = line.get(sp + 1..).unwrap_or_default();
    let last = rest
        .iter()
        .rposition(|&b| b == b' ')
        .ok_or(Error::Invalid(InvalidKind::RequestLine))?;
    let minor = parse_version(rest.get(last + 1..).unwrap_or_default())?;
    let target = trim_sp(rest.get(..last).unwrap_or_default());
    if target.is_empty() || target.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(Error::Invalid(InvalidKind::RequestLine));
    }
    Ok(RequestLine {
        method,
        target,
        minor,
    })
}

/// Parses `HTTP-version SP status-code SP [reason-phrase]` (RFC 9112 §4). A missing SP after
/// the code is tolerated.
pub fn parse_status_line(line: &[u8]) -> Result<StatusLine<'_>, Error> {
    let version = line
        .get(..8)
        .ok_or(Error::Invalid(InvalidKind::StatusLine))?;
    let minor = parse_version(version)?;
    let rest = line.get(8..).unwrap_or_default();
    if rest.first() != Some(&b' ') {
        return Err(Error::Invalid(InvalidKind::StatusLine));
    }
    let rest = trim_leading_sp(rest);
    let code = match rest.get(..3) {
        Some(c) if c.iter().all(u8::is_ascii_digit) => c,
        _ => return Err(Error::Invalid(InvalidKind::StatusCode)),
    };
    let status = code
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    let after = rest.get(3..).unwrap_or_default();
    let reason = match after.first() {
        None => after,
        Some(b' ') => after.get(1..).unwrap_or_default(),
        Some(_) => return Err(Error::Invalid(InvalidKind::StatusCode)),
    };
    if !(100..=999).contains(&status) {
        return Err(Error::Invalid(InvalidKind::StatusCode));
    }
    Ok(StatusLine {
        minor,
        status,
        reason,
    })
}

/// Whether a line looks like a request line with a known method; used to resynchronise after
/// a gap, where a false positive costs a bogus request, so the check is strict.
pub fn is_plausible_request_line(line: &[u8]) -> bool {
    probe_request(line) && matches!(parse_request_line(line), Ok(r) if !r.target.contains(&b' '))
}

/// Whether a line looks like a status line; used to resynchronise after a gap.
pub fn is_plausible_status_line(line: &[u8]) -> bool {
    probe_response(line) && parse_status_line(line).is_ok()
}

/// Offset in `line` where a plausible request line (`is_client`) or status line starts.
/// After a gap the end of a lost body usually runs into the next start line without a line
/// break, so the start line may begin anywhere in the line; the earliest match wins.
pub fn find_start_line(line: &[u8], is_client: bool) -> Option<usize> {
    (0..line.len()).find(|&i| {
        let tail = line.get(i..).unwrap_or_default();
        if is_client {
            is_plausible_request_line(tail)
        } else {
            is_plausible_status_line(tail)
        }
    })
}

/// A header field line split into name and value (RFC 9112 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldLine<'a> {
    /// Field name, case as sent.
    pub name: &'a [u8],
    /// Field value without leading and trailing OWS.
    pub value: &'a [u8],
    /// Whitespace sat between name and colon (RFC 9112 §5.1 says reject; kept and counted).
    pub space_before_colon: bool,
}

/// Parses `field-name ":" OWS field-value OWS`.
pub fn parse_field_line(line: &[u8]) -> Result<FieldLine<'_>, Error> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(Error::Invalid(InvalidKind::HeaderLine))?;
    let raw_name = line.get(..colon).unwrap_or_default();
    let name = trim_ows_end(raw_name);
    if !is_token(name) {
        return Err(Error::Invalid(InvalidKind::HeaderLine));
    }
    Ok(FieldLine {
        name,
        value: trim_ows(line.get(colon + 1..).unwrap_or_default()),
        space_before_colon: name.len() != raw_name.len(),
    })
}

/// Parses a chunk-size line (RFC 9112 §7.1): hex size, then optional BWS and `;` extensions,
/// which are ignored. Leading whitespace is tolerated.
pub fn parse_chunk_size_line(line: &[u8]) -> Result<u64, Error> {
    let line = trim_ows(line);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(Error::Invalid(InvalidKind::ChunkSize));
    }
    let mut size: u64 = 0;
    for &b in line.get(..digits).unwrap_or_default() {
        // `b` is a hex digit, checked above.
        let d = u64::from(match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b.wrapping_sub(b'A').wrapping_add(10),
        });
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(d))
            .ok_or(Error::Invalid(InvalidKind::ChunkSize))?;
    }
    let ext = trim_ows(line.get(digits..).unwrap_or_default());
    if ext.is_empty() || ext.first() == Some(&b';') {
        Ok(size)
    } else {
        Err(Error::Invalid(InvalidKind::ChunkSize))
    }
}

/// Parses a Content-Length value, accepting a list of identical values (RFC 9110 §8.6).
pub fn parse_content_length(value: &[u8]) -> Result<u64, Error> {
    let mut found: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = trim_ows(part);
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return Err(Error::Invalid(InvalidKind::ContentLength));
        }
        let n = part
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        match found {
            Some(prev) if prev != n => {
                return Err(Error::Invalid(InvalidKind::ContentLengthConflict))
            }
            _ => found = Some(n),
        }
    }
    found.ok_or(Error::Invalid(InvalidKind::ContentLength))
}

/// Appends the codings of a Transfer-Encoding or Content-Encoding value to `out`
/// (RFC 9110 §8.4, RFC 9112 §6.1), skipping empty list members and parameters, keeping at
/// most `max` in `out`. Returns `false` if some were dropped for the limit.
pub fn parse_codings(value: &[u8], out: &mut Vec<Coding>, max: usize) -> bool {
    let mut all = true;
    for part in value.split(|&b| b == b',') {
        let token = trim_ows(part.split(|&b| b == b';').next().unwrap_or_default());
        if token.is_empty() {
            continue;
        }
        if out.len() >= max {
            all = false;
            continue;
        }
        out.push(Coding::from_token(token));
    }
    all
}

/// Whether a comma-separated field value (Connection, Expect) holds `token`,
/// case-insensitively.
pub fn list_contains(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|p| trim_ows(p).eq_ignore_ascii_case(token))
}

/// Media type of a Content-Type value (RFC 9110 §8.3.1): `type/subtype` without parameters.
pub fn media_type(value: &[u8]) -> &[u8] {
    trim_ows(value.split(|&b| b == b';').next().unwrap_or_default())
}

/// Value of a media-type parameter (`boundary`, `charset`), unquoted if quoted
/// (RFC 9110 §5.6.6).
pub fn media_type_param<'a>(value: &'a [u8], param: &[u8]) -> Option<&'a [u8]> {
    value.split(|&b| b == b';').skip(1).find_map(|p| {
        let p = trim_ows(p);
        let eq = p.iter().position(|&b| b == b'=')?;
        let name = trim_ows(p.get(..eq)?);
        if !name.eq_ignore_ascii_case(param) {
            return None;
        }
        let v = trim_ows(p.get(eq + 1..)?);
        let v = v
            .strip_prefix(b"\"")
            .and_then(|q| q.strip_suffix(b"\""))
            .unwrap_or(v);
        (!v.is_empty()).then_some(v)
    })
}

/// Authority (`host[:port]`, userinfo removed) of an absolute-form request-target
/// (RFC 9112 §3.2.2), or `None` for other forms.
pub fn absolute_form_authority(target: &[u8]) -> Option<&[u8]> {
    let sep = target.windows(3).position(|w| w == b"://")?;
    let scheme = target.get(..sep)?;
    if scheme.is_empty()
        || !scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let rest = target.get(sep + 3..)?;
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    let host = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at + 1..)?,
        None => authority,
    };
    (!host.is_empty()).then_some(host)
}

/// Strips OWS (SP, HTAB) at both ends.
pub fn trim_ows(s: &[u8]) -> &[u8] {
    trim_ows_end(trim_ows_start(s))
}

fn trim_ows_start(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

fn trim_ows_end(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    s.get(..end).unwrap_or_default()
}

fn trim_leading_sp(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ').unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

fn trim_sp(s: &[u8]) -> &[u8] {
    let s = trim_leading_sp(s);
    let end = s.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes() {
        assert!(probe_request(b"GET / HTTP/1.1\r\n"));
        assert!(probe_request(b"PROPFIND /dav "));
        assert!(!probe_request(b"GET"));
        assert!(!probe_request(b"GETX / HTTP/1.1"));
        assert!(!probe_request(b"get / HTTP/1.1"));
        assert!(!probe_request(b"\x16\x03\x01\x02\x00"));
        assert!(probe_response(b"HTTP/1.1 200 OK"));
        assert!(probe_response(b"HTTP/1.0"));
        assert!(!probe_response(b"HTTP/2 200"));
        assert!(!probe_response(b"HTTP/"));
    }

    #[test]
    fn line_cutting() {
        assert_eq!(parse_line(b"ab\r\ncd"), Ok((&b"ab"[..], true, &b"cd"[..])));
        assert_eq!(parse_line(b"ab\ncd"), Ok((&b"ab"[..], false, &b"cd"[..])));
        assert_eq!(parse_line(b"ab\r"), Err(Error::Incomplete { needed: 1 }));
    }

    #[test]
    fn request_lines() {
        let r = parse_request_line(b"GET /a?b=c HTTP/1.1").unwrap();
        assert_eq!(
            (r.method, r.target, r.minor),
            (&b"GET"[..], &b"/a?b=c"[..], 1)
        );
        let r = parse_request_line(b"GET /a b HTTP/1.0").unwrap();
        assert_eq!(r.target, b"/a b");
        assert_eq!(r.minor, 0);
        assert_eq!(
            parse_request_line(b"GET / HTTP/2.0"),
            Err(Error::Invalid(InvalidKind::Version))
        );
        assert_eq!(
            parse_request_line(b"GET /"),
            Err(Error::Invalid(InvalidKind::RequestLine))
        );
        assert_eq!(
            parse_request_line(b"G(T / HTTP/1.1"),
            Err(Error::Invalid(InvalidKind::Method))
        );
        assert!(parse_request_line(b"GET  HTTP/1.1").is_err());
        assert!(is_plausible_request_line(b"POST /x HTTP/1.1"));
        assert!(!is_plausible_request_line(b"POST /x y HTTP/1.1"));
        assert!(!is_plausible_request_line(b"FOO /x HTTP/1.1"));
        assert_eq!(
            find_start_line(b"body bytesGET /b HTTP/1.1", true),
            Some(10)
        );
        assert_eq!(find_start_line(b"GET /b HTTP/1.1", true), Some(0));
        assert_eq!(find_start_line(b"xxHTTP/1.1 200 OK", false), Some(2));
        assert_eq!(find_start_line(b"xxHTTP/1.1 20", false), None);
        assert_eq!(find_start_line(b"", true), None);
    }

    #[test]
    fn status_lines() {
        let s = parse_status_line(b"HTTP/1.1 404 Not Found").unwrap();
        assert_eq!((s.minor, s.status, s.reason), (1, 404, &b"Not Found"[..]));
        let s = parse_status_line(b"HTTP/1.0 200").unwrap();
        assert_eq!((s.status, s.reason), (200, &b""[..]));
        assert!(parse_status_line(b"HTTP/1.1 20").is_err());
        assert!(parse_status_line(b"HTTP/1.1 2000 x").is_err());
        assert!(parse_status_line(b"HTTP/1.1 099 x").is_err());
        assert!(parse_status_line(b"HTTP/1.1200 OK").is_err());
        assert!(parse_status_line(b"ICY 200 OK").is_err());
    }

    #[test]
    fn field_lines() {
        let f = parse_field_line(b"Host:  example.com \t").unwrap();
        assert_eq!((f.name, f.value), (&b"Host"[..], &b"example.com"[..]));
        assert!(!f.space_before_colon);
        let f = parse_field_line(b"Host : a").unwrap();
        assert!(f.space_before_colon);
        assert_eq!(f.name, b"Host");
        assert!(parse_field_line(b"no colon").is_err());
        assert!(parse_field_line(b": empty name").is_err());
        assert!(parse_field_line(b"bad name: x").is_err());
        let f = parse_field_line(b"X-Empty:").unwrap();
        assert_eq!(f.value, b"");
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size_line(b"1a"), Ok(26));
        assert_eq!(parse_chunk_size_line(b"FF;name=value;x"), Ok(255));
        assert_eq!(parse_chunk_size_line(b"0 ; ext"), Ok(0));
        assert_eq!(parse_chunk_size_line(b"ffffffffffffffff"), Ok(u64::MAX));
        assert!(parse_chunk_size_line(b"10000000000000000").is_err());
        assert!(parse_chunk_size_line(b"").is_err());
        assert!(parse_chunk_size_line(b"g").is_err());
        assert!(parse_chunk_size_line(b"1 2").is_err());
    }

    #[test]
    fn content_lengths() {
        assert_eq!(parse_content_length(b"42"), Ok(42));
        assert_eq!(parse_content_length(b"42, 42"), Ok(42));
        assert_eq!(
            parse_content_length(b"42, 43"),
            Err(Error::Invalid(InvalidKind::ContentLengthConflict))
        );
        assert!(parse_content_length(b"-1").is_err());
        assert!(parse_content_length(b"").is_err());
        assert!(parse_content_length(b"99999999999999999999").is_err());
    }

    #[test]
    fn codings_and_lists() {
        let mut v = Vec::new();
        assert!(parse_codings(b"gzip, chunked", &mut v, 4));
        assert_eq!(v, vec![Coding::Gzip, Coding::Chunked]);
        v.clear();
        assert!(!parse_codings(b"br,br,br", &mut v, 2));
        assert_eq!(v.len(), 2);
        assert!(list_contains(b"keep-alive, Upgrade", b"upgrade"));
        assert!(!list_contains(b"keep-alive", b"upgrade"));
    }

    #[test]
    fn media_types() {
        let ct = b"multipart/form-data; charset=utf-8; boundary=\"--abc\"";
        assert_eq!(media_type(ct), b"multipart/form-data");
        assert_eq!(media_type_param(ct, b"BOUNDARY"), Some(&b"--abc"[..]));
        assert_eq!(media_type_param(ct, b"charset"), Some(&b"utf-8"[..]));
        assert_eq!(media_type_param(b"text/plain", b"charset"), None);
    }

    #[test]
    fn authorities() {
        assert_eq!(
            absolute_form_authority(b"http://user:pw@a.example:8080/x?y"),
            Some(&b"a.example:8080"[..])
        );
        assert_eq!(
            absolute_form_authority(b"https://b.example"),
            Some(&b"b.example"[..])
        );
        assert_eq!(absolute_form_authority(b"/path?u=http://x"), None);
        assert_eq!(absolute_form_authority(b"http:///x"), None);
    }
}
