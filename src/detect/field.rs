//! Field extraction primitives: splitting an HTTP message (or any decoded value) into
//! (key, value) pieces and peeling encodings, without allocating.
//!
//! Owns: `a=b&c=d` pair iteration (query strings, form bodies, form-shaped decoded
//! values), percent / base64 / hex / gzip decoding into caller-owned buffers, a pull JSON
//! tokenizer with bounded nesting, a multipart/form-data splitter (RFC 7578), and the
//! shape tests that decide whether a value is worth decoding (printable text, JSON, form,
//! image magic). Takes byte slices; emits borrowed slices or bytes appended to a `Vec` the
//! caller reuses. Every decoder stops at a byte limit given by the caller.
//!
//! Must not: panic or index unchecked on packet bytes, allocate (beyond growing the
//! caller's buffers up to their limit), or decide what is PI — that is the detector's job.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use flate2::{Decompress, FlushDecompress, Status};

/// Shortest value tried as base64: 16 characters (12 bytes) hold the shortest identifier
/// worth finding inside and exclude most words and numbers.
pub const MIN_BASE64_CHARS: usize = 16;
/// Shortest value tried as hex: 16 hex digits decode to 8 bytes of text.
pub const MIN_HEX_CHARS: usize = 16;

/// Iterator over `key=value` pairs separated by `sep` (query strings, form bodies, cookie
/// lists). Empty pieces are skipped; a piece without `=` yields an empty key.
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    rest: &'a [u8],
    sep: u8,
}

impl<'a> Pairs<'a> {
    pub fn new(text: &'a [u8], sep: u8) -> Self {
        Pairs { rest: text, sep }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = self
                .rest
                .iter()
                .position(|&b| b == self.sep)
                .unwrap_or(self.rest.len());
            let piece = self.rest.get(..end).unwrap_or_default();
            self.rest = self.rest.get(end + 1..).unwrap_or_default();
            if piece.is_empty() {
                continue;
            }
            return Some(match piece.iter().position(|&b| b == b'=') {
                Some(eq) => (
                    piece.get(..eq).unwrap_or_default(),
                    piece.get(eq + 1..).unwrap_or_default(),
                ),
                None => (&[][..], piece),
            });
        }
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// True if `b` holds at least one valid `%XX` escape.
pub fn has_percent_escape(b: &[u8]) -> bool {
    b.windows(3)
        .any(|w| w[0] == b'%' && hex_val(w[1]).is_some() && hex_val(w[2]).is_some())
}

/// Appends the percent-decoding of `src` to `out` (`+` becomes a space when
/// `plus_as_space`, as in `application/x-www-form-urlencoded`); invalid escapes are kept
/// as they are. Stops at `limit` output bytes; returns false if it had to.
pub fn percent_decode_into(
    src: &[u8],
    plus_as_space: bool,
    out: &mut Vec<u8>,
    limit: usize,
) -> bool {
    let mut i = 0usize;
    while let Some(&c) = src.get(i) {
        if out.len() >= limit {
            return false;
        }
        match c {
            b'%' => match (
                src.get(i + 1).and_then(|&h| hex_val(h)),
                src.get(i + 2).and_then(|&l| hex_val(l)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(c),
            },
            b'+' if plus_as_space => out.push(b' '),
            _ => out.push(c),
        }
        i += 1;
    }
    true
}

/// The base64 alphabet a value is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base64Alphabet {
    Standard,
    UrlSafe,
}

/// Whether `b` can be base64 (RFC 4648 §4 or §5): at least [`MIN_BASE64_CHARS`], one
/// alphabet only, `=` padding only at the end, a length that can decode, and not only
/// hex digits (those are tried as hex) or only letters (words).
pub fn probe_base64(b: &[u8]) -> Option<Base64Alphabet> {
    if b.len() < MIN_BASE64_CHARS {
        return None;
    }
    let body_len = b.len() - b.iter().rev().take_while(|&&c| c == b'=').count();
    if b.len() - body_len > 2 || body_len % 4 == 1 {
        return None;
    }
    let body = b.get(..body_len)?;
    let (mut std_only, mut url_only, mut digit, mut upper, mut lower) =
        (false, false, false, false, false);
    for &c in body {
        match c {
            b'A'..=b'Z' => upper = true,
            b'a'..=b'z' => lower = true,
            b'0'..=b'9' => digit = true,
            b'+' | b'/' => std_only = true,
            b'-' | b'_' => url_only = true,
            _ => return None,
        }
    }
    if std_only && url_only {
        return None;
    }
    // Base64 of text mixes cases; a single-case token is an id, a word or hex.
    if !(upper && lower) || !(digit || std_only || url_only || body_len >= 24) {
        return None;
    }
    Some(if url_only {
        Base64Alphabet::UrlSafe
    } else {
        Base64Alphabet::Standard
    })
}

const B64_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const B64_STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, B64_CONFIG);
const B64_URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, B64_CONFIG);

/// Appends the base64 decoding of `src` to `out`. False if it is not valid base64 or
/// would exceed `limit` bytes (then `out` is left as it was).
pub fn base64_decode_into(
    src: &[u8],
    alphabet: Base64Alphabet,
    out: &mut Vec<u8>,
    limit: usize,
) -> bool {
    if src.len() / 4 * 3 > limit {
        return false;
    }
    let before = out.len();
    let engine = match alphabet {
        Base64Alphabet::Standard => &B64_STANDARD,
        Base64Alphabet::UrlSafe => &B64_URL,
    };
    if engine.decode_vec(src, out).is_err() {
        out.truncate(before);
        return false;
    }
    true
}

/// Decodes at most the first 12 bytes of a base64 value (16 characters) into a fixed
/// buffer, to test an image magic without decoding a large value.
pub fn base64_prefix(src: &[u8], alphabet: Base64Alphabet) -> Option<([u8; 12], usize)> {
    let head = src.get(..16)?;
    let engine = match alphabet {
        Base64Alphabet::Standard => &B64_STANDARD,
        Base64Alphabet::UrlSafe => &B64_URL,
    };
    let mut buf = [0u8; 12];
    let n = engine.decode_slice(head, &mut buf).ok()?;
    Some((buf, n))
}

/// Whether `b` is an even-length run of at least [`MIN_HEX_CHARS`] hex digits in one case
/// that decodes to something other than binary (checked by the caller).
pub fn probe_hex(b: &[u8]) -> bool {
    b.len() >= MIN_HEX_CHARS
        && b.len() % 2 == 0
        && b.iter().all(u8::is_ascii_hexdigit)
        && !(b.iter().any(u8::is_ascii_lowercase) && b.iter().any(u8::is_ascii_uppercase))
}

/// Appends the hex decoding of `src` to `out`; false on odd length, a non-hex byte or more
/// than `limit` bytes.
pub fn hex_decode_into(src: &[u8], out: &mut Vec<u8>, limit: usize) -> bool {
    if src.len() % 2 != 0 || src.len() / 2 > limit {
        return false;
    }
    let before = out.len();
    for pair in src.chunks_exact(2) {
        match (hex_val(pair[0]), hex_val(pair[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => {
                out.truncate(before);
                return false;
            }
        }
    }
    true
}

/// The gzip magic and deflate method (RFC 1952 §2.3.1).
pub fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b, 0x08])
}

/// Length of a gzip member header (RFC 1952 §2.3: fixed 10 bytes, then FEXTRA, FNAME,
/// FCOMMENT, FHCRC as flagged), or `None` if it is cut short.
fn gzip_header_len(b: &[u8]) -> Option<usize> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    if !is_gzip(b) {
        return None;
    }
    let flags = *b.get(3)?;
    let mut at = 10usize;
    if flags & FEXTRA != 0 {
        let xlen = usize::from(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]));
        at += 2 + xlen;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let zero = b.get(at..)?.iter().position(|&c| c == 0)?;
            at += zero + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    (at <= b.len()).then_some(at)
}

/// Inflates a gzip member into `out` (at most `limit` bytes) with a reused raw-deflate
/// state. Returns the bytes produced; a truncated or corrupt stream yields what decoded
/// before the problem.
pub fn gunzip_into(
    src: &[u8],
    inflater: &mut Decompress,
    out: &mut Vec<u8>,
    limit: usize,
) -> usize {
    let Some(start) = gzip_header_len(src) else {
        return 0;
    };
    let mut input = src.get(start..).unwrap_or_default();
    inflater.reset(false);
    let before = out.len();
    let target = before.saturating_add(limit);
    if out.capacity() < target {
        out.reserve(target - out.len());
    }
    loop {
        let room = target.saturating_sub(out.len());
        if room == 0 || input.is_empty() {
            break;
        }
        let in_before = inflater.total_in();
        let out_before = out.len();
        // decompress_vec writes into spare capacity only: it never reallocates.
        let status = inflater.decompress_vec(input, out, FlushDecompress::None);
        let used = usize::try_from(inflater.total_in() - in_before).unwrap_or(input.len());
        input = input.get(used..).unwrap_or_default();
        if out.len() >= target {
            // The spare capacity may exceed the limit; what is past it is dropped.
            out.truncate(target);
            break;
        }
        match status {
            Ok(Status::StreamEnd) => break,
            Ok(_) if used == 0 && out.len() == out_before => break,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out.len() - before
}

/// Whether decoded bytes are text worth scanning: valid UTF-8 with few control
/// characters (random binary almost never is).
pub fn is_text(b: &[u8]) -> bool {
    if b.is_empty() || std::str::from_utf8(b).is_err() {
        return false;
    }
    let control = b
        .iter()
        .filter(|&&c| (c < 0x20 && !matches!(c, b'\t' | b'\r' | b'\n')) || c == 0x7f)
        .count();
    control * 20 <= b.len()
}

/// `b` without leading and trailing ASCII whitespace.
pub fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

/// Whether trimmed text is shaped like a JSON object or array.
pub fn looks_json(t: &[u8]) -> bool {
    matches!(
        (t.first(), t.last()),
        (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']'))
    ) && t.len() >= 2
}

/// Whether decoded text is shaped like `key=value&key=value`: a first key of word
/// characters, an `=`, no whitespace or control characters.
pub fn looks_form(t: &[u8]) -> bool {
    let Some(eq) = t.iter().position(|&c| c == b'=') else {
        return false;
    };
    // A value must follow: base64 padding (`…Zg==`) is not a pair.
    eq > 0
        && t.get(eq + 1).is_some_and(|&c| c != b'=')
        && t.get(..eq).is_some_and(|k| {
            k.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']'))
        })
        && t.iter().all(|&c| c > 0x20 && c != 0x7f)
}

/// The image format of a JPEG, PNG, WebP or HEIF file by its magic bytes.
pub fn image_kind(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("jpeg")
    } else if b.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some("png")
    } else if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        Some("webp")
    } else if b.get(4..8) == Some(b"ftyp")
        && matches!(b.get(8..12), Some(b"heic" | b"heix" | b"mif1"))
    {
        Some("heif")
    } else {
        None
    }
}

/// The payload of a `data:<type>;base64,<payload>` URL (RFC 2397), if `b` is one.
pub fn data_url_payload(b: &[u8]) -> Option<&[u8]> {
    let rest = b.strip_prefix(b"data:")?;
    let comma = rest.iter().take(128).position(|&c| c == b',')?;
    let meta = rest.get(..comma)?;
    meta.ends_with(b";base64")
        .then(|| rest.get(comma + 1..).unwrap_or_default())
}

/// One token of a JSON text; offsets are into the tokenised text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonToken<'a> {
    /// `{` at this offset.
    ObjectStart(usize),
    /// `}`; the offset is one past it.
    ObjectEnd(usize),
    /// `[` at this offset.
    ArrayStart(usize),
    /// `]`; the offset is one past it.
    ArrayEnd(usize),
    /// An object key, raw (escapes not decoded).
    Key(&'a [u8]),
    /// A string value, raw; `escaped` if it holds a `\` escape.
    Str { raw: &'a [u8], escaped: bool },
    /// A number, `true`, `false` or `null`, as written.
    Scalar(&'a [u8]),
}

/// Why JSON tokenising stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonStop {
    /// Nesting deeper than the limit.
    Depth,
    /// Not JSON here (or cut short).
    Invalid,
}

/// A lenient pull tokenizer for JSON (RFC 8259) with bounded nesting: tracks only
/// object/array nesting (one bit per level, at most 64) to tell keys from values; stray
/// commas and colons are tolerated, anything else stops it.
#[derive(Clone, Debug)]
pub struct JsonTokens<'a> {
    text: &'a [u8],
    pos: usize,
    /// Bit `i` set: level `i` is an object.
    kinds: u64,
    depth: usize,
    max_depth: usize,
    expect_key: bool,
}

impl<'a> JsonTokens<'a> {
    /// `max_depth` is capped at 64.
    pub fn new(text: &'a [u8], max_depth: usize) -> Self {
        JsonTokens {
            text,
            pos: 0,
            kinds: 0,
            depth: 0,
            max_depth: max_depth.min(64),
            expect_key: false,
        }
    }

    fn in_object(&self) -> bool {
        self.depth > 0 && self.kinds >> (self.depth - 1) & 1 == 1
    }

    fn open(&mut self, object: bool) -> Result<(), JsonStop> {
        if self.depth >= self.max_depth {
            return Err(JsonStop::Depth);
        }
        if object {
            self.kinds |= 1 << self.depth;
        } else {
            self.kinds &= !(1 << self.depth);
        }
        self.depth += 1;
        self.expect_key = object;
        Ok(())
    }

    fn close(&mut self, object: bool) -> Result<(), JsonStop> {
        if self.depth == 0 || self.in_object() != object {
            return Err(JsonStop::Invalid);
        }
        self.depth -= 1;
        self.expect_key = false;
        Ok(())
    }

    /// The next token, `None` at the end of the text, or why it stopped.
    pub fn next_token(&mut self) -> Option<Result<JsonToken<'a>, JsonStop>> {
        loop {
            let &c = self.text.get(self.pos)?;
            let at = self.pos;
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b':' => self.pos += 1,
                b',' => {
                    self.pos += 1;
                    self.expect_key = self.in_object();
                }
                b'{' | b'[' => {
                    self.pos += 1;
                    return Some(self.open(c == b'{').map(|()| {
                        if c == b'{' {
                            JsonToken::ObjectStart(at)
                        } else {
                            JsonToken::ArrayStart(at)
                        }
                    }));
                }
                b'}' | b']' => {
                    self.pos += 1;
                    return Some(self.close(c == b'}').map(|()| {
                        if c == b'}' {
                            JsonToken::ObjectEnd(self.pos)
                        } else {
                            JsonToken::ArrayEnd(self.pos)
                        }
                    }));
                }
                b'"' => {
                    let (raw, escaped, end) = match self.string_at(at) {
                        Some(s) => s,
                        None => return Some(Err(JsonStop::Invalid)),
                    };
                    self.pos = end;
                    if self.expect_key && self.in_object() {
                        self.expect_key = false;
                        return Some(Ok(JsonToken::Key(raw)));
                    }
                    return Some(Ok(JsonToken::Str { raw, escaped }));
                }
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                    let len = self.text.get(at..)?.iter().take_while(|&&b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
                    });
                    let end = at + len.count();
                    self.pos = end;
                    return Some(Ok(JsonToken::Scalar(self.text.get(at..end)?)));
                }
                _ => return Some(Err(JsonStop::Invalid)),
            }
        }
    }

    /// The string starting with the quote at `at`: (raw body, has escapes, offset after).
    fn string_at(&self, at: usize) -> Option<(&'a [u8], bool, usize)> {
        let body_start = at + 1;
        let rest = self.text.get(body_start..)?;
        let mut escaped = false;
        let mut i = 0usize;
        while let Some(&b) = rest.get(i) {
            match b {
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                b'"' => return Some((rest.get(..i)?, escaped, body_start + i + 1)),
                _ => i += 1,
            }
        }
        None
    }
}

/// Appends the value of a JSON string body with its escapes decoded (RFC 8259 §7),
/// including `\uXXXX` surrogate pairs; invalid escapes are kept as written and lone
/// surrogates become U+FFFD.
pub fn json_unescape_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0usize;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&e) = raw.get(i + 1) else {
            out.push(b);
            break;
        };
        i += 2;
        let simple = match e {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        if e != b'u' {
            out.extend_from_slice(&[b'\\', e]);
            continue;
        }
        let Some(hi) = hex4(raw.get(i..i + 4)) else {
            out.extend_from_slice(b"\\u");
            continue;
        };
        i += 4;
        let code = if (0xd800..0xdc00).contains(&hi) {
            match (raw.get(i..i + 2), hex4(raw.get(i + 2..i + 6))) {
                (Some(b"\\u"), Some(lo)) if (0xdc00..0xe000).contains(&lo) => {
                    i += 6;
                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                }
                _ => 0xfffd,
            }
        } else {
            hi
        };
        let ch = char::from_u32(code).unwrap_or('\u{fffd}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
}

fn hex4(b: Option<&[u8]>) -> Option<u32> {
    let b = b?;
    if b.len() != 4 {
        return None;
    }
    b.iter()
        .try_fold(0u32, |acc, &c| hex_val(c).map(|v| acc << 4 | u32::from(v)))
}

/// One part of a multipart/form-data body (RFC 7578).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// `name` parameter of Content-Disposition (empty if absent).
    pub name: &'a [u8],
    /// `filename` parameter, if any.
    pub filename: Option<&'a [u8]>,
    /// The part's Content-Type value, if any.
    pub content_type: Option<&'a [u8]>,
    pub body: &'a [u8],
}

/// Iterator over the parts of a multipart body with the given boundary (RFC 2046 §5.1.1:
/// delimiters are CRLF + `--` + boundary; a body cut short yields its last part up to the
/// end).
#[derive(Clone, Debug)]
pub struct Multipart<'a> {
    rest: &'a [u8],
    boundary: &'a [u8],
    started: bool,
}

impl<'a> Multipart<'a> {
    pub fn new(body: &'a [u8], boundary: &'a [u8]) -> Self {
        Multipart {
            rest: body,
            boundary,
            started: false,
        }
    }

    /// Offset of the next `--boundary` that starts a line.
    fn find_delimiter(&self, from: &[u8]) -> Option<usize> {
        let b = self.boundary;
        if b.is_empty() {
            return None;
        }
        let mut i = 0usize;
        while i + 2 + b.len() <= from.len() {
            if from.get(i..i + 2) == Some(b"--")
                && from.get(i + 2..i + 2 + b.len()) == Some(b)
                && (i == 0 || from.get(i - 1) == Some(&b'\n'))
            {
                return Some(i);
            }
            i += 1;
        }
        None
    }
}

impl<'a> Iterator for Multipart<'a> {
    type Item = Part<'a>;

    fn next(&mut self) -> Option<Part<'a>> {
        if !self.started {
            let at = self.find_delimiter(self.rest)?;
            self.rest = self.rest.get(at..).unwrap_or_default();
            self.started = true;
        }
        // self.rest starts with a delimiter.
        let after = self.rest.get(2 + self.boundary.len()..)?;
        if after.starts_with(b"--") {
            return None;
        }
        let line_end = after.iter().position(|&c| c == b'\n')?;
        let part = after.get(line_end + 1..)?;
        let (end, next) = match self.find_delimiter(part) {
            Some(d) => (d, part.get(d..).unwrap_or_default()),
            None => (part.len(), &[][..]),
        };
        self.rest = next;
        let mut whole = part.get(..end).unwrap_or_default();
        // The CRLF before the delimiter belongs to the delimiter.
        whole = whole.strip_suffix(b"\n").unwrap_or(whole);
        whole = whole.strip_suffix(b"\r").unwrap_or(whole);
        let (head, body) = match find_subslice(whole, b"\r\n\r\n") {
            Some(h) => (
                whole.get(..h).unwrap_or_default(),
                whole.get(h + 4..).unwrap_or_default(),
            ),
            None => match find_subslice(whole, b"\n\n") {
                Some(h) => (
                    whole.get(..h).unwrap_or_default(),
                    whole.get(h + 2..).unwrap_or_default(),
                ),
                None => (whole, &[][..]),
            },
        };
        let mut out = Part {
            name: &[],
            filename: None,
            content_type: None,
            body,
        };
        for line in head.split(|&c| c == b'\n') {
            let line = trim(line);
            let Some(colon) = line.iter().position(|&c| c == b':') else {
                continue;
            };
            let (name, value) = (
                line.get(..colon).unwrap_or_default(),
                trim(line.get(colon + 1..).unwrap_or_default()),
            );
            if name.eq_ignore_ascii_case(b"content-disposition") {
                for param in value.split(|&c| c == b';').skip(1) {
                    let param = trim(param);
                    let Some(eq) = param.iter().position(|&c| c == b'=') else {
                        continue;
                    };
                    let key = trim(param.get(..eq).unwrap_or_default());
                    let mut v = trim(param.get(eq + 1..).unwrap_or_default());
                    if v.len() >= 2 && v.first() == Some(&b'"') && v.last() == Some(&b'"') {
                        v = v.get(1..v.len() - 1).unwrap_or_default();
                    }
                    if key.eq_ignore_ascii_case(b"name") {
                        out.name = v;
                    } else if key.eq_ignore_ascii_case(b"filename") {
                        out.filename = Some(v);
                    }
                }
            } else if name.eq_ignore_ascii_case(b"content-type") {
                out.content_type = Some(value);
            }
        }
        Some(out)
    }
}

/// First offset of `needle` in `hay`.
pub fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split() {
        let got: Vec<_> = Pairs::new(b"a=1&&b=&c&=d&e=f=g", b'&').collect();
        assert_eq!(
            got,
            [
                (&b"a"[..], &b"1"[..]),
                (b"b", b""),
                (b"", b"c"),
                (b"", b"d"),
                (b"e", b"f=g"),
            ]
        );
    }

    #[test]
    fn percent() {
        let mut out = Vec::new();
        assert!(percent_decode_into(
            b"a%40b.com+x%zz%4",
            true,
            &mut out,
            100
        ));
        assert_eq!(out, b"a@b.com x%zz%4");
        assert!(has_percent_escape(b"x%2Fy"));
        assert!(!has_percent_escape(b"100%"));
        out.clear();
        assert!(!percent_decode_into(b"abcdef", false, &mut out, 3));
        assert_eq!(out, b"abc");
    }

    #[test]
    fn base64_and_hex() {
        // "imei=861234567890123" in standard base64.
        let b64 = b"aW1laT04NjEyMzQ1Njc4OTAxMjM=";
        assert_eq!(probe_base64(b64), Some(Base64Alphabet::Standard));
        let mut out = Vec::new();
        assert!(base64_decode_into(
            b64,
            Base64Alphabet::Standard,
            &mut out,
            1024
        ));
        assert_eq!(out, b"imei=861234567890123");
        assert!(!base64_decode_into(
            b64,
            Base64Alphabet::Standard,
            &mut Vec::new(),
            8
        ));
        assert_eq!(probe_base64(b"9774d56d682e549c"), None, "hex digits only");
        assert_eq!(probe_base64(b"1234567890123456"), None, "digits only");
        assert_eq!(probe_base64(b"abc"), None);
        assert_eq!(probe_base64(b"aW1laT04NjEy-_+/"), None, "mixed alphabets");
        assert_eq!(
            probe_base64(b"aW1laT04NjEyMzQ1N"),
            None,
            "length 17 cannot decode"
        );
        assert_eq!(
            probe_base64(b"aW1laT04NjEy_MzQ"),
            Some(Base64Alphabet::UrlSafe)
        );
        assert!(probe_hex(b"6d61633d30303a3131"));
        assert!(!probe_hex(b"6d61633d30303a313"));
        assert!(!probe_hex(b"6D61633d30303a3131"));
        out.clear();
        assert!(hex_decode_into(b"6d61633d", &mut out, 16));
        assert_eq!(out, b"mac=");
        let (prefix, n) =
            base64_prefix(b"/9j/4AAQSkZJRgABAQAAAQ", Base64Alphabet::Standard).unwrap();
        assert_eq!(image_kind(&prefix[..n]), Some("jpeg"));
    }

    #[test]
    fn gzip_round_trip_and_limit() {
        let text = b"phone=13912345678&".repeat(100);
        let gz = crate::synth::traffic::gzip(&text);
        let mut inflater = Decompress::new(false);
        let mut out = Vec::new();
        assert_eq!(
            gunzip_into(&gz, &mut inflater, &mut out, 1 << 20),
            text.len()
        );
        assert_eq!(out, text);
        out.clear();
        assert_eq!(gunzip_into(&gz, &mut inflater, &mut out, 50), 50);
        assert_eq!(&out[..], &text[..50]);
        out.clear();
        assert_eq!(
            gunzip_into(&gz[..20], &mut inflater, &mut out, 1000),
            out.len()
        );
        assert_eq!(
            gunzip_into(b"\x1f\x8b\x08\x08\0\0\0\0", &mut inflater, &mut out, 1000),
            0
        );
    }

    #[test]
    fn json_tokens() {
        let text = br#"{"a":{"b":[1,"x\"y",true]},"c":null}"#;
        let mut t = JsonTokens::new(text, 8);
        let mut got = Vec::new();
        while let Some(tok) = t.next_token() {
            got.push(tok.unwrap());
        }
        assert_eq!(
            got,
            [
                JsonToken::ObjectStart(0),
                JsonToken::Key(b"a"),
                JsonToken::ObjectStart(5),
                JsonToken::Key(b"b"),
                JsonToken::ArrayStart(10),
                JsonToken::Scalar(b"1"),
                JsonToken::Str {
                    raw: br#"x\"y"#,
                    escaped: true
                },
                JsonToken::Scalar(b"true"),
                JsonToken::ArrayEnd(25),
                JsonToken::ObjectEnd(26),
                JsonToken::Key(b"c"),
                JsonToken::Scalar(b"null"),
                JsonToken::ObjectEnd(text.len()),
            ]
        );
        let mut deep = JsonTokens::new(b"[[[1]]]", 2);
        assert_eq!(deep.next_token(), Some(Ok(JsonToken::ArrayStart(0))));
        assert_eq!(deep.next_token(), Some(Ok(JsonToken::ArrayStart(1))));
        assert_eq!(deep.next_token(), Some(Err(JsonStop::Depth)));
        let mut cut = JsonTokens::new(br#"{"a":"unterminated"#, 8);
        assert_eq!(cut.next_token(), Some(Ok(JsonToken::ObjectStart(0))));
        assert_eq!(cut.next_token(), Some(Ok(JsonToken::Key(b"a"))));
        assert_eq!(cut.next_token(), Some(Err(JsonStop::Invalid)));
        let mut bad = JsonTokens::new(b"}", 8);
        assert_eq!(bad.next_token(), Some(Err(JsonStop::Invalid)));
    }

    #[test]
    fn json_unescape() {
        let mut out = Vec::new();
        json_unescape_into(
            br#"a\"b\\c\/d\n\u0041\u4e2d\ud83d\ude00\ud800x\q"#,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\"b\\c/d\nA中😀\u{fffd}x\\q"
        );
    }

    #[test]
    fn multipart_parts() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"imei\"\r\n\r\n861234567890123\r\n--XyZ\r\nContent-Disposition: form-data; name=\"face\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0data\r\n--XyZ--\r\n";
        let parts: Vec<_> = Multipart::new(body, b"XyZ").collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, b"imei");
        assert_eq!(parts[0].body, b"861234567890123");
        assert_eq!(parts[1].name, b"face");
        assert_eq!(parts[1].filename, Some(&b"f.jpg"[..]));
        assert_eq!(parts[1].content_type, Some(&b"image/jpeg"[..]));
        assert_eq!(image_kind(parts[1].body), Some("jpeg"));
        // Cut short: the last part runs to the end.
        let cut: Vec<_> = Multipart::new(&body[..70], b"XyZ").collect();
        assert_eq!(cut.len(), 1);
        assert_eq!(Multipart::new(b"no delimiter", b"XyZ").count(), 0);
        assert_eq!(Multipart::new(body, b"").count(), 0);
    }

    #[test]
    fn shapes() {
        assert!(looks_json(b"{}"));
        assert!(looks_json(b"[1]"));
        assert!(!looks_json(b"{"));
        assert!(looks_form(b"imei=1&x=2"));
        assert!(!looks_form(b"hello world=1"));
        assert!(!looks_form(b"=x"));
        assert!(!looks_form(b"aWRfY2FyZD0xMTAx=="));
        assert!(!looks_form(b"aWRfY2FyZD0xMTAx="));
        assert!(is_text("手机 13912345678".as_bytes()));
        assert!(!is_text(&[0xff, 0xfe, 0x00, 0x01]));
        assert_eq!(trim(b"  a b \r\n"), b"a b");
        assert_eq!(
            data_url_payload(b"data:image/png;base64,iVBO"),
            Some(&b"iVBO"[..])
        );
        assert_eq!(data_url_payload(b"data:text/plain,hi"), None);
    }
}
