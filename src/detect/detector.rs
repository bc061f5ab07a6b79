//! The per-worker detector: walks one message's fields, peels encodings, runs the
//! compiled patterns and turns what validates into [`PiHit`]s.
//!
//! Owns scratch space reused across messages (decode buffers, the JSON path and key
//! stack, candidate and group lists, an inflate state), so scanning a message that holds
//! no PI allocates nothing once the buffers have grown. Takes an HTTP [`Request`] or raw
//! client→server bytes and a [`SignatureSet`]; emits hits into the caller's vector (values
//! unmasked: the record layer masks them). Limits: [`Limits`], each counted in
//! [`DetectStats`] when hit.
//!
//! Must not: read the clock (the date that bounds birth dates is set from the packet
//! time), log values, or use a backtracking regex engine.

use flate2::Decompress;
use time::Date;

use super::field::{self, JsonStop, JsonToken, JsonTokens, Multipart, Pairs};
use super::matcher::{normalize_key, normalize_value, KeyInfo};
use super::signature::{Boundary, SignatureSet, Special, MAX_KEY_BYTES};
use super::validate::Verdict;
use super::{DetectStats, Limits, PiHit};
use crate::capture::Timestamp;
use crate::proto::http::{BodyKind, Request};

/// Most candidate matches kept for one value; a value with more (a long digit table) is
/// judged on the first ones and counted (`candidates_cap`).
const MAX_CANDIDATES: usize = 256;
/// Structural nesting followed inside one field (JSON in a JSON string in a query value …).
const MAX_NEST: u8 = 4;
/// Headers never scanned: framing and content negotiation carry no PI, and Cookie is
/// scanned pair by pair.
const SKIP_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "content-type",
    "connection",
    "accept",
    "accept-encoding",
    "accept-language",
    "transfer-encoding",
    "cookie",
    "content-encoding",
];

/// One decoding layer of a value (the `encoding` chain of a PI item).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layer {
    Base64,
    Gzip,
    Hex,
    Md5,
    Sha1,
    Sha256,
    Url,
}

impl Layer {
    fn as_str(self) -> &'static str {
        match self {
            Layer::Base64 => "base64",
            Layer::Gzip => "gzip",
            Layer::Hex => "hex",
            Layer::Md5 => "md5",
            Layer::Sha1 => "sha1",
            Layer::Sha256 => "sha256",
            Layer::Url => "url",
        }
    }
}

/// Encoding chain, outermost first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Enc {
    layers: [Option<Layer>; 5],
    len: u8,
    /// Decoding steps taken (gzip inside base64 is part of the base64 step).
    depth: u8,
}

impl Enc {
    fn with(mut self, layer: Layer) -> Enc {
        if let Some(slot) = self.layers.get_mut(usize::from(self.len)) {
            *slot = Some(layer);
            self.len += 1;
        }
        if !matches!(
            layer,
            Layer::Gzip | Layer::Md5 | Layer::Sha1 | Layer::Sha256
        ) {
            self.depth += 1;
        }
        self
    }

    fn render(&self) -> String {
        if self.len == 0 {
            return "plain".to_string();
        }
        let names: Vec<&str> = self.layers.iter().flatten().map(|l| l.as_str()).collect();
        names.join("+")
    }
}

/// Where a field sits in the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BaseKind {
    BodyRaw,
    Cookie,
    Form,
    Header,
    Json,
    Multipart,
    Path,
    Query,
    Stream,
}

impl BaseKind {
    fn prefix(self) -> &'static str {
        match self {
            BaseKind::BodyRaw => "body.raw",
            BaseKind::Cookie => "cookie",
            BaseKind::Form => "body.form",
            BaseKind::Header => "header",
            BaseKind::Json => "body.json",
            BaseKind::Multipart => "body.multipart",
            BaseKind::Path => "url.path",
            BaseKind::Query => "url.query",
            BaseKind::Stream => "stream.raw",
        }
    }

    fn has_name(self) -> bool {
        matches!(
            self,
            BaseKind::Cookie
                | BaseKind::Form
                | BaseKind::Header
                | BaseKind::Multipart
                | BaseKind::Query
        )
    }
}

/// One step of the path inside a field; key bytes live in `Detector::keys`.
#[derive(Clone, Copy, Debug)]
enum Seg {
    /// A JSON document starts: the top-level body (`:$`) or one nested in a value
    /// (`>json:$`).
    Doc { nested: bool },
    /// An object member; `len == 0` before the first key. `open` is where the object
    /// started (for container checks).
    Key {
        start: usize,
        len: usize,
        open: usize,
    },
    /// An array element.
    Index { i: usize, open: usize },
    /// A pair of a form-shaped decoded value (`>form:KEY`).
    Form { start: usize, len: usize },
}

/// A coordinate half seen in a container, waiting for its other half.
#[derive(Clone, Copy, Debug)]
struct Coord {
    value: f64,
    decimals: u32,
    text: [u8; 24],
    len: usize,
    sigs: u128,
}

/// Per-container state for pairs spread over two fields.
#[derive(Clone, Copy, Debug, Default)]
struct Group {
    lat: Option<Coord>,
    lng: Option<Coord>,
}

/// A pattern match waiting for the overlap decision.
#[derive(Clone, Copy, Debug)]
struct Cand {
    sig: usize,
    start: usize,
    end: usize,
    confidence: f64,
    keep: bool,
}

/// State of one scan call.
struct Scan<'r> {
    set: &'r SignatureSet,
    out: &'r mut Vec<PiHit>,
    /// First hit of this message in `out` (dedupe looks from here).
    first: usize,
    /// Kind of the field being scanned; its name is in `Detector::base_name`.
    base: BaseKind,
    fields: usize,
    /// Image-upload signatures that apply to this destination.
    image_sigs: u128,
    capped: bool,
}

/// Per-worker detector. Create one per worker thread and reuse it.
pub struct Detector {
    limits: Limits,
    today: Date,
    stats: DetectStats,
    path: Vec<Seg>,
    keys: Vec<u8>,
    /// Query/form/cookie key, header or part name of the current field (raw).
    base_name: Vec<u8>,
    groups: Vec<Group>,
    cands: Vec<Cand>,
    pool: Vec<Vec<u8>>,
    inflater: Decompress,
}

impl Detector {
    pub fn new(limits: Limits) -> Detector {
        Detector {
            limits,
            today: Date::MAX,
            stats: DetectStats::default(),
            path: Vec::with_capacity(64),
            keys: Vec::with_capacity(1024),
            base_name: Vec::with_capacity(64),
            groups: Vec::with_capacity(16),
            cands: Vec::with_capacity(MAX_CANDIDATES),
            pool: Vec::new(),
            inflater: Decompress::new(false),
        }
    }

    /// Sets "today" from the packet time: birth dates after it are not ID numbers.
    pub fn set_time(&mut self, ts: Timestamp) {
        if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(ts.as_secs()) {
            self.today = t.date();
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DetectStats {
        &self.stats
    }

    /// Mutable counters (the pipeline counts records by type and SDK here).
    pub fn stats_mut(&mut self) -> &mut DetectStats {
        &mut self.stats
    }

    /// Scans one HTTP request; hits (deduplicated by type and value) are appended to
    /// `out`.
    pub fn scan_request(&mut self, set: &SignatureSet, req: &Request, out: &mut Vec<PiHit>) {
        self.stats.messages += 1;
        let image_sigs = image_sigs_for(set, req.host.as_deref());
        let first = out.len();
        let mut sc = Scan {
            set,
            out,
            first,
            base: BaseKind::Path,
            fields: 0,
            image_sigs,
            capped: false,
        };
        self.reset();
        self.target(&mut sc, req.path(), req.query());
        // header:NAME
        self.groups.push(Group::default());
        for h in &req.headers {
            if SKIP_HEADERS.iter().any(|s| h.name.eq_ignore_ascii_case(s)) {
                continue;
            }
            self.set_base(&mut sc, BaseKind::Header, h.name.as_bytes());
            self.visit(&mut sc, &h.value, Enc::default(), 0);
        }
        self.groups.pop();
        // cookie:NAME
        self.groups.push(Group::default());
        for (name, value) in req.cookies() {
            self.set_base(&mut sc, BaseKind::Cookie, name);
            self.pair_value(&mut sc, value, false);
        }
        self.groups.pop();
        // body
        let body = req.body.as_slice();
        match &req.body_kind {
            BodyKind::Empty => {}
            BodyKind::Form => {
                self.set_base(&mut sc, BaseKind::Form, &[]);
                self.pairs(&mut sc, body, b'&');
            }
            BodyKind::Json => {
                self.set_base(&mut sc, BaseKind::Json, &[]);
                if self
                    .walk_json(&mut sc, field::trim(body), Enc::default(), 0, false)
                    .is_err()
                {
                    self.set_base(&mut sc, BaseKind::BodyRaw, &[]);
                    self.match_value(&mut sc, body, Enc::default());
                }
            }
            BodyKind::Multipart { boundary } => {
                self.groups.push(Group::default());
                for part in Multipart::new(body, boundary.as_bytes()) {
                    self.set_base(&mut sc, BaseKind::Multipart, part.name);
                    self.binary_or_text(&mut sc, part.body);
                }
                self.groups.pop();
            }
            BodyKind::Text | BodyKind::Binary => {
                self.set_base(&mut sc, BaseKind::BodyRaw, &[]);
                self.binary_or_text(&mut sc, body);
            }
        }
        self.stats.fields += sc.fields as u64;
    }

    /// Scans only the request target (`url.path`, `url.query:KEY`) of `uri`, e.g. to mask
    /// the `uri` of an `http` protocol record. Not counted as a message.
    pub fn scan_target(&mut self, set: &SignatureSet, uri: &str, out: &mut Vec<PiHit>) {
        let first = out.len();
        let mut sc = Scan {
            set,
            out,
            first,
            base: BaseKind::Path,
            fields: 0,
            image_sigs: 0,
            capped: false,
        };
        self.reset();
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q.split('#').next().unwrap_or_default())),
            None => (uri.split('#').next().unwrap_or_default(), None),
        };
        self.target(&mut sc, path, query);
    }

    /// `url.path` and `url.query:KEY` fields.
    fn target(&mut self, sc: &mut Scan<'_>, path: &str, query: Option<&str>) {
        let path = path.as_bytes();
        if !path.is_empty() && path != b"/" {
            self.set_base(sc, BaseKind::Path, &[]);
            self.visit(sc, path, Enc::default(), 0);
        }
        if let Some(query) = query {
            self.set_base(sc, BaseKind::Query, &[]);
            self.pairs(sc, query.as_bytes(), b'&');
        }
    }

    /// Scans raw client→server bytes of a protocol leaktap does not parse (`stream.raw`);
    /// the caller bounds the window. Hits go to `out` as for a request.
    pub fn scan_raw(&mut self, set: &SignatureSet, bytes: &[u8], out: &mut Vec<PiHit>) {
        self.stats.raw_chunks += 1;
        self.stats.raw_bytes += bytes.len() as u64;
        let first = out.len();
        let mut sc = Scan {
            set,
            out,
            first,
            base: BaseKind::Stream,
            fields: 0,
            image_sigs: 0,
            capped: false,
        };
        self.reset();
        self.visit(&mut sc, bytes, Enc::default(), 0);
        self.stats.fields += sc.fields as u64;
    }

    fn set_base(&mut self, sc: &mut Scan<'_>, kind: BaseKind, name: &[u8]) {
        sc.base = kind;
        self.base_name.clear();
        self.base_name.extend_from_slice(name);
    }

    fn reset(&mut self) {
        self.path.clear();
        self.keys.clear();
        self.groups.clear();
        self.groups.push(Group::default());
    }

    fn take_buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_default()
    }

    fn give_buf(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        // Bounded by the recursion depth: at most a few buffers are out at once.
        if self.pool.len() < 16 {
            self.pool.push(buf);
        }
    }

    /// A body or multipart part: an image, a gzip member, or text/binary to scan.
    fn binary_or_text(&mut self, sc: &mut Scan<'_>, body: &[u8]) {
        if body.is_empty() {
            return;
        }
        if let Some(kind) = field::image_kind(body) {
            self.image(sc, kind, body.len(), Enc::default());
            return;
        }
        if field::is_gzip(body) {
            let mut buf = self.take_buf();
            let limit = self.limits.max_decoded_bytes;
            let n = field::gunzip_into(body, &mut self.inflater, &mut buf, limit);
            if n > 0 {
                self.stats.decoded_gzip += 1;
                self.visit(sc, &buf, Enc::default().with(Layer::Gzip), 0);
            }
            self.give_buf(buf);
            return;
        }
        self.visit(sc, body, Enc::default(), 0);
    }

    /// `key=value` pairs at the top level of a query string or form body (one group).
    fn pairs(&mut self, sc: &mut Scan<'_>, text: &[u8], sep: u8) {
        self.groups.push(Group::default());
        for (key, value) in Pairs::new(text, sep) {
            self.base_name.clear();
            self.base_name.extend_from_slice(key);
            self.pair_value(sc, value, true);
        }
        self.groups.pop();
    }

    /// A value of a query/form/cookie pair: percent-decoded first (a `url` layer if it had
    /// escapes).
    fn pair_value(&mut self, sc: &mut Scan<'_>, value: &[u8], plus_as_space: bool) {
        let escaped = field::has_percent_escape(value);
        if !(escaped || plus_as_space && value.contains(&b'+')) {
            self.visit(sc, value, Enc::default(), 0);
            return;
        }
        let mut buf = self.take_buf();
        field::percent_decode_into(
            value,
            plus_as_space,
            &mut buf,
            self.limits.max_decoded_bytes,
        );
        let enc = if escaped {
            self.stats.decoded_url += 1;
            Enc::default().with(Layer::Url)
        } else {
            Enc::default()
        };
        self.visit(sc, &buf, enc, 0);
        self.give_buf(buf);
    }

    /// One value: structure (JSON, form) if it has one, else patterns; then decoding
    /// layers while the depth allows.
    fn visit(&mut self, sc: &mut Scan<'_>, value: &[u8], enc: Enc, nest: u8) {
        if sc.fields >= self.limits.max_fields {
            if !sc.capped {
                sc.capped = true;
                self.stats.fields_cap += 1;
            }
            return;
        }
        sc.fields += 1;
        let t = field::trim(value);
        if t.is_empty() {
            return;
        }
        let structured = nest < MAX_NEST
            && if field::looks_json(t) {
                self.walk_json(sc, t, enc, nest + 1, true).is_ok()
            } else if enc.depth > 0 && field::looks_form(t) {
                self.walk_form(sc, t, enc, nest + 1);
                true
            } else {
                false
            };
        // A percent-encoded value is judged on its decoding (with the keys inside it), not
        // on the escaped text, unless no decoding layer is left.
        // Raw text is matched as written too: one escape elsewhere in a body must not
        // make every value in it look URL-encoded.
        let raw_text = matches!(sc.base, BaseKind::BodyRaw | BaseKind::Stream);
        let decodable =
            !raw_text && enc.depth < self.limits.max_decode_depth && field::has_percent_escape(t);
        if !structured && !decodable {
            self.match_value(sc, value, enc);
        }
        if structured || enc.depth >= self.limits.max_decode_depth {
            return;
        }
        self.peel(sc, t, enc, nest);
    }

    /// Tries one decoding layer of `t` (URL, hex, base64 with gzip inside) and visits the
    /// result.
    fn peel(&mut self, sc: &mut Scan<'_>, t: &[u8], enc: Enc, nest: u8) {
        let limit = self.limits.max_decoded_bytes;
        let t = field::data_url_payload(t).unwrap_or(t);
        if field::has_percent_escape(t) {
            let mut buf = self.take_buf();
            field::percent_decode_into(t, false, &mut buf, limit);
            self.stats.decoded_url += 1;
            self.visit(sc, &buf, enc.with(Layer::Url), nest);
            self.give_buf(buf);
            return;
        }
        if field::probe_hex(t) {
            if t.len() / 2 > limit {
                self.stats.decode_size_cap += 1;
                return;
            }
            let mut buf = self.take_buf();
            if field::hex_decode_into(t, &mut buf, limit) && field::is_text(&buf) {
                self.stats.decoded_hex += 1;
                self.visit(sc, &buf, enc.with(Layer::Hex), nest);
            }
            self.give_buf(buf);
            return;
        }
        let Some(alphabet) = field::probe_base64(t) else {
            return;
        };
        if sc.image_sigs != 0 {
            if let Some((prefix, n)) = field::base64_prefix(t, alphabet) {
                if let Some(kind) = field::image_kind(prefix.get(..n).unwrap_or_default()) {
                    self.image(sc, kind, t.len() / 4 * 3, enc.with(Layer::Base64));
                    return;
                }
            }
        }
        if t.len() / 4 * 3 > limit {
            self.stats.decode_size_cap += 1;
            return;
        }
        let mut buf = self.take_buf();
        if field::base64_decode_into(t, alphabet, &mut buf, limit) {
            if field::is_gzip(&buf) {
                let mut inflated = self.take_buf();
                let n = field::gunzip_into(&buf, &mut self.inflater, &mut inflated, limit);
                if n > 0 && field::is_text(&inflated) {
                    self.stats.decoded_base64 += 1;
                    self.stats.decoded_gzip += 1;
                    self.visit(
                        sc,
                        &inflated,
                        enc.with(Layer::Base64).with(Layer::Gzip),
                        nest,
                    );
                }
                self.give_buf(inflated);
            } else if field::is_text(&buf) {
                self.stats.decoded_base64 += 1;
                self.visit(sc, &buf, enc.with(Layer::Base64), nest);
            }
        }
        self.give_buf(buf);
    }

    /// A form-shaped decoded value: each pair is a `>form:KEY` step.
    fn walk_form(&mut self, sc: &mut Scan<'_>, text: &[u8], enc: Enc, nest: u8) {
        self.groups.push(Group::default());
        for (key, value) in Pairs::new(text, b'&') {
            let start = self.keys.len();
            self.keys.extend_from_slice(key);
            self.path.push(Seg::Form {
                start,
                len: key.len(),
            });
            self.visit(sc, value, enc, nest);
            self.path.pop();
            self.keys.truncate(start);
        }
        self.groups.pop();
    }

    /// Walks a JSON document, visiting every leaf with its path. `Err` if the text is not
    /// JSON at all (no leaf visited); a document cut short keeps what was visited.
    fn walk_json(
        &mut self,
        sc: &mut Scan<'_>,
        text: &[u8],
        enc: Enc,
        nest: u8,
        nested: bool,
    ) -> Result<(), JsonStop> {
        let path_base = self.path.len();
        let keys_base = self.keys.len();
        let groups_base = self.groups.len();
        self.path.push(Seg::Doc { nested });
        let mut tokens = JsonTokens::new(text, self.limits.max_json_depth);
        let mut leaves = 0usize;
        let mut result = Ok(());
        while let Some(token) = tokens.next_token() {
            let token = match token {
                Ok(t) => t,
                Err(stop) => {
                    match stop {
                        JsonStop::Depth => self.stats.json_depth_cap += 1,
                        JsonStop::Invalid => self.stats.json_invalid += 1,
                    }
                    if leaves == 0 {
                        result = Err(stop);
                    }
                    break;
                }
            };
            match token {
                JsonToken::ObjectStart(open) => {
                    self.path.push(Seg::Key {
                        start: self.keys.len(),
                        len: 0,
                        open,
                    });
                    self.groups.push(Group::default());
                }
                JsonToken::ArrayStart(open) => self.path.push(Seg::Index { i: 0, open }),
                JsonToken::ObjectEnd(end) | JsonToken::ArrayEnd(end) => {
                    let open = match self.path.pop() {
                        Some(Seg::Key { start, open, .. }) => {
                            self.keys.truncate(start);
                            self.groups.pop();
                            open
                        }
                        Some(Seg::Index { open, .. }) => open,
                        // The tokenizer checks nesting, so a Doc or Form here is a bug;
                        // stop rather than walk on.
                        _ => break,
                    };
                    if let Some(container) = text.get(open..end) {
                        self.container(sc, container, enc);
                    }
                    self.next_index();
                }
                JsonToken::Key(raw) => {
                    if let Some(Seg::Key { start, len, .. }) = self.path.last_mut() {
                        self.keys.truncate(*start);
                        self.keys.extend_from_slice(raw);
                        *len = raw.len();
                    }
                }
                JsonToken::Str { raw, escaped } => {
                    leaves += 1;
                    if escaped {
                        let mut buf = self.take_buf();
                        field::json_unescape_into(raw, &mut buf);
                        self.visit(sc, &buf, enc, nest);
                        self.give_buf(buf);
                    } else {
                        self.visit(sc, raw, enc, nest);
                    }
                    self.next_index();
                }
                JsonToken::Scalar(raw) => {
                    leaves += 1;
                    if raw
                        .first()
                        .is_some_and(|c| c.is_ascii_digit() || *c == b'-')
                    {
                        self.visit(sc, raw, enc, nest);
                    }
                    self.next_index();
                }
            }
        }
        self.path.truncate(path_base);
        self.keys.truncate(keys_base);
        self.groups.truncate(groups_base.max(1));
        result
    }

    fn next_index(&mut self) {
        if let Some(Seg::Index { i, .. }) = self.path.last_mut() {
            *i += 1;
        }
    }

    /// A JSON object or array just closed: list detectors look at its text under its key.
    fn container(&mut self, sc: &mut Scan<'_>, text: &[u8], enc: Enc) {
        let info = self.key_info(sc);
        if info.sigs & sc.set.list_sigs() != 0 {
            self.lists(sc, text, info, enc);
        }
    }

    /// The innermost key of the current field and its parent: (key, parent).
    fn current_keys<'s>(&'s self, sc: &'s Scan<'_>) -> (Option<&'s [u8]>, Option<&'s [u8]>) {
        let mut found: [Option<&[u8]>; 2] = [None, None];
        let mut n = 0usize;
        for seg in self.path.iter().rev() {
            let key = match *seg {
                Seg::Key { start, len, .. } | Seg::Form { start, len } if len > 0 => {
                    self.keys.get(start..start + len)
                }
                _ => None,
            };
            if let Some(k) = key {
                if let Some(slot) = found.get_mut(n) {
                    *slot = Some(k);
                    n += 1;
                }
                if n == 2 {
                    break;
                }
            }
        }
        if n < 2 && sc.base.has_name() && !self.base_name.is_empty() {
            let mut name = self.base_name.as_slice();
            if sc.base == BaseKind::Header {
                if let Some(rest) = name
                    .get(2..)
                    .filter(|_| name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"x-")))
                {
                    name = rest;
                }
            }
            if let Some(slot) = found.get_mut(n) {
                *slot = Some(name);
            }
        }
        (found[0], found[1])
    }

    /// What the key names of the current field say (the key, and parent+key joined).
    fn key_info(&self, sc: &Scan<'_>) -> KeyInfo {
        let (key, parent) = self.current_keys(sc);
        let Some(key) = key else {
            return KeyInfo::default();
        };
        let mut kbuf = [0u8; MAX_KEY_BYTES];
        let Some(klen) = normalize_key(key, &mut kbuf) else {
            return KeyInfo::default();
        };
        let kn = kbuf.get(..klen).unwrap_or_default();
        let mut info = sc.set.keys.lookup(kn);
        if let Some(parent) = parent {
            let mut pbuf = [0u8; MAX_KEY_BYTES];
            if let Some(plen) = normalize_key(parent, &mut pbuf) {
                if plen + klen <= MAX_KEY_BYTES && plen > 0 {
                    let mut joined = [0u8; MAX_KEY_BYTES];
                    joined[..plen].copy_from_slice(&pbuf[..plen]);
                    joined[plen..plen + klen].copy_from_slice(kn);
                    let both = sc.set.keys.lookup(&joined[..plen + klen]);
                    info.sigs |= both.sigs;
                    info.hash |= both.hash;
                    info.lat |= both.lat;
                    info.lng |= both.lng;
                    info.not |= both.not;
                }
            }
        }
        info
    }

    /// Runs patterns, key-gated shapes, hashed ids and key-driven detectors on one value.
    fn match_value(&mut self, sc: &mut Scan<'_>, value: &[u8], enc: Enc) {
        let set = sc.set;
        let info = self.key_info(sc);
        self.free_patterns(sc, value, enc, info);
        if info.is_empty() {
            return;
        }
        let t = trim_quotes(field::trim(value));
        if info.sigs & set.keyed_sigs() != 0 {
            self.keyed_patterns(sc, t, enc, info);
        }
        if info.hash != 0 {
            self.hashed(sc, t, enc, info.hash);
        }
        if info.lat | info.lng != 0 {
            self.coordinate_half(sc, t, enc, info);
        }
        if info.sigs & set.pair_sigs() != 0 {
            self.coordinate_pair_value(sc, t, enc, info.sigs & set.pair_sigs());
        }
        if info.sigs & set.list_sigs() != 0 {
            self.lists(sc, t, info, enc);
        }
    }

    /// The unanchored pass over `value`, then validation and overlap resolution.
    fn free_patterns(&mut self, sc: &mut Scan<'_>, value: &[u8], enc: Enc, info: KeyInfo) {
        let set = sc.set;
        self.cands.clear();
        let cands = &mut self.cands;
        let stats = &mut self.stats;
        let ok = set.matcher.for_each_free(value, |p, start, end| {
            let Some(pat) = set.patterns.get(p) else {
                return;
            };
            if !boundary_before(pat.boundary, value, start)
                || !boundary_after(pat.boundary, value, end)
            {
                return;
            }
            stats.candidates += 1;
            if cands.len() >= MAX_CANDIDATES {
                stats.candidates_cap += 1;
                return;
            }
            let text = value.get(start..end).unwrap_or_default();
            let keyed = info.sigs >> pat.sig & 1 == 1;
            if !keyed && info.not >> pat.sig & 1 == 1 {
                stats.rejected_key += 1;
                return;
            }
            let confidence = match pat.validator.check(text, self.today) {
                Verdict::Accept => {
                    if keyed {
                        pat.confidence_with_key
                    } else {
                        pat.confidence
                    }
                }
                Verdict::Soft if keyed => (pat.confidence_with_key - 0.2).max(0.1),
                Verdict::Soft => {
                    stats.rejected_key += 1;
                    return;
                }
                Verdict::Placeholder => {
                    stats.rejected_placeholder += 1;
                    return;
                }
                Verdict::Reject => {
                    stats.rejected_validator += 1;
                    return;
                }
            };
            cands.push(Cand {
                sig: pat.sig,
                start,
                end,
                confidence,
                keep: true,
            });
        });
        if !ok {
            self.stats.match_errors += 1;
        }
        if self.cands.is_empty() {
            return;
        }
        // Overlaps: the same span keeps its most confident type; a span inside a longer
        // one of the same type (`a@b.com` in `a@b.com.cn`) is dropped.
        let n = self.cands.len();
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let (a, b) = (self.cands[i], self.cands[j]);
                let same_span = a.start == b.start && a.end == b.end;
                let inside = b.start <= a.start && a.end <= b.end && !same_span;
                let drop = (same_span
                    && (b.confidence > a.confidence || (b.confidence == a.confidence && j < i)))
                    || (inside && a.sig == b.sig);
                if drop {
                    self.cands[i].keep = false;
                    break;
                }
            }
        }
        for i in 0..n {
            let c = self.cands[i];
            if c.keep {
                let text = value.get(c.start..c.end).unwrap_or_default();
                self.emit_pattern_value(sc, c.sig, text, c.confidence, enc);
            }
        }
    }

    /// Canonical form of a matched value, then emit.
    fn emit_pattern_value(
        &mut self,
        sc: &mut Scan<'_>,
        sig: usize,
        text: &[u8],
        confidence: f64,
        enc: Enc,
    ) {
        let is = |id: &str| sc.set.pi.get(sig).is_some_and(|s| s.id == id);
        if is("phone_number") {
            if let Some(d) = std::str::from_utf8(text)
                .ok()
                .and_then(crate::pi::validator::normalize_cn_mobile)
            {
                self.emit(sc, sig, &d, confidence, enc);
                return;
            }
        }
        if is("imei") && text.len() > 15 {
            let mut buf = [0u8; 15];
            if let Some(d) = super::validate::imei_digits(text, &mut buf) {
                let d: [u8; 15] = d.try_into().unwrap_or([b'0'; 15]);
                self.emit(sc, sig, &d, confidence, enc);
                return;
            }
        }
        if is("id_card") && text.last() == Some(&b'x') {
            let mut upper = [0u8; 18];
            if let Some(slot) = upper.get_mut(..text.len()) {
                slot.copy_from_slice(text);
                slot.make_ascii_uppercase();
                self.emit(sc, sig, slot, confidence, enc);
                return;
            }
        }
        self.emit(sc, sig, text, confidence, enc);
    }

    /// Patterns that count only under a matching key: the whole trimmed value must match.
    fn keyed_patterns(&mut self, sc: &mut Scan<'_>, t: &[u8], enc: Enc, info: KeyInfo) {
        let set = sc.set;
        let mut bits = info.sigs & set.keyed_sigs();
        while bits != 0 {
            let sig = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(s) = set.pi.get(sig) else { continue };
            for &p in &s.patterns {
                let Some(pat) = set.patterns.get(p) else {
                    continue;
                };
                if !pat.require_key || !set.matcher.keyed_full_match(p, t) {
                    continue;
                }
                self.stats.candidates += 1;
                let confidence = match pat.validator.check(t, self.today) {
                    Verdict::Accept => pat.confidence_with_key,
                    Verdict::Soft => (pat.confidence_with_key - 0.2).max(0.1),
                    Verdict::Placeholder => {
                        self.stats.rejected_placeholder += 1;
                        continue;
                    }
                    Verdict::Reject => {
                        self.stats.rejected_validator += 1;
                        continue;
                    }
                };
                self.emit(sc, sig, t, confidence, enc);
                break;
            }
        }
    }

    /// A 32/40/64-hex value under a hash key (`imei_md5`, `oaid_sha256` …).
    fn hashed(&mut self, sc: &mut Scan<'_>, t: &[u8], enc: Enc, sigs: u128) {
        let layer = match t.len() {
            32 => Layer::Md5,
            40 => Layer::Sha1,
            64 => Layer::Sha256,
            _ => return,
        };
        if !t.iter().all(u8::is_ascii_hexdigit) {
            return;
        }
        if sc.set.is_placeholder_hash(t) || t.iter().all(|&c| c == t[0]) {
            self.stats.rejected_placeholder += 1;
            return;
        }
        let mut bits = sigs;
        while bits != 0 {
            let sig = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let confidence = sc.set.pi.get(sig).map_or(0.0, |s| s.confidence_with_key);
            self.emit(sc, sig, t, confidence, enc.with(layer));
        }
    }

    /// A latitude or longitude under its key: kept in the container's group until the
    /// other half arrives.
    fn coordinate_half(&mut self, sc: &mut Scan<'_>, t: &[u8], enc: Enc, info: KeyInfo) {
        let Some((value, decimals)) = parse_coordinate(t) else {
            return;
        };
        let mut text = [0u8; 24];
        let len = t.len().min(24);
        text[..len].copy_from_slice(&t[..len]);
        let coord = Coord {
            value,
            decimals,
            text,
            len,
            sigs: 0,
        };
        let Some(group) = self.groups.last_mut() else {
            return;
        };
        if info.lat != 0 {
            group.lat = Some(Coord {
                sigs: info.lat,
                ..coord
            });
        } else {
            group.lng = Some(Coord {
                sigs: info.lng,
                ..coord
            });
        }
        let (Some(lat), Some(lng)) = (group.lat, group.lng) else {
            return;
        };
        let mut bits = lat.sigs & lng.sigs;
        while bits != 0 {
            let sig = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(s) = sc.set.pi.get(sig) else {
                continue;
            };
            let Some(Special::CoordinatePair { min_decimals }) = s.special else {
                continue;
            };
            if lat.decimals < min_decimals
                || lng.decimals < min_decimals
                || !crate::pi::validator::lat_lng(lat.value, lng.value)
                || !crate::pi::validator::in_china_box(lat.value, lng.value)
            {
                self.stats.rejected_validator += 1;
                continue;
            }
            if let Some(g) = self.groups.last_mut() {
                g.lat = None;
                g.lng = None;
            }
            let mut pair = Vec::with_capacity(lat.len + lng.len + 1);
            pair.extend_from_slice(&lat.text[..lat.len]);
            pair.push(b',');
            pair.extend_from_slice(&lng.text[..lng.len]);
            let confidence = s.confidence_with_key;
            self.emit(sc, sig, &pair, confidence, enc);
        }
    }

    /// One value holding both coordinates (`39.9087,116.3975` or `116.3975,39.9087`).
    fn coordinate_pair_value(&mut self, sc: &mut Scan<'_>, t: &[u8], enc: Enc, sigs: u128) {
        let mut parts = t
            .split(|&c| matches!(c, b',' | b';' | b'|' | b' ' | b'_'))
            .filter(|p| !p.is_empty());
        let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
            return;
        };
        let (Some((va, da)), Some((vb, db))) = (parse_coordinate(a), parse_coordinate(b)) else {
            return;
        };
        let v = crate::pi::validator::in_china_box;
        let (lat, lng) = if v(va, vb) {
            ((va, da), (vb, db))
        } else if v(vb, va) {
            ((vb, db), (va, da))
        } else {
            return;
        };
        let mut bits = sigs;
        while bits != 0 {
            let sig = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(s) = sc.set.pi.get(sig) else {
                continue;
            };
            let Some(Special::CoordinatePair { min_decimals }) = s.special else {
                continue;
            };
            if lat.1 < min_decimals
                || lng.1 < min_decimals
                || !crate::pi::validator::lat_lng(lat.0, lng.0)
            {
                self.stats.rejected_validator += 1;
                continue;
            }
            let confidence = s.confidence_with_key;
            self.emit(sc, sig, t, confidence, enc);
        }
    }

    /// Package-name and contact lists under their keys.
    fn lists(&mut self, sc: &mut Scan<'_>, text: &[u8], info: KeyInfo, enc: Enc) {
        let mut bits = info.sigs & sc.set.list_sigs();
        while bits != 0 {
            let sig = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(s) = sc.set.pi.get(sig) else {
                continue;
            };
            let (items, min) = match s.special {
                Some(Special::PackageList { min_items }) => (package_names(text), min_items),
                Some(Special::ContactList { min_items }) => (mobile_numbers(text), min_items),
                _ => continue,
            };
            if items.count < min as usize {
                continue;
            }
            let mut value = Vec::with_capacity(64);
            for (i, item) in items.first.iter().take(items.count.min(3)).enumerate() {
                if i > 0 {
                    value.push(b',');
                }
                value.extend_from_slice(item);
            }
            let confidence = s.confidence_with_key;
            self.emit(sc, sig, &value, confidence, enc);
        }
    }

    /// An image sent to a destination an image-upload signature names.
    fn image(&mut self, sc: &mut Scan<'_>, kind: &str, len: usize, enc: Enc) {
        let mut bits = sc.image_sigs;
        while bits != 0 {
            let sig = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let confidence = sc.set.pi.get(sig).map_or(0.0, |s| s.confidence_with_key);
            let value = format!("{kind}:{len}");
            self.emit(sc, sig, value.as_bytes(), confidence, enc);
        }
    }

    /// Records one hit unless it is a placeholder or a duplicate (same type and value in
    /// this message: the first place wins, the highest confidence is kept).
    fn emit(&mut self, sc: &mut Scan<'_>, sig: usize, value: &[u8], confidence: f64, enc: Enc) {
        let Some(s) = sc.set.pi.get(sig) else { return };
        if is_placeholder(value, &s.placeholders) {
            self.stats.rejected_placeholder += 1;
            return;
        }
        let value = String::from_utf8_lossy(value);
        let first = sc.first.min(sc.out.len());
        if let Some(hit) = sc
            .out
            .get_mut(first..)
            .unwrap_or_default()
            .iter_mut()
            .find(|h| h.sig == sig && h.value == value)
        {
            if confidence > hit.confidence {
                hit.confidence = confidence;
            }
            return;
        }
        if sc.out.len() - first >= self.limits.max_hits {
            self.stats.hits_cap += 1;
            return;
        }
        self.stats.hits += 1;
        sc.out.push(PiHit {
            sig,
            pi_type: s.id.clone(),
            location: self.location(sc),
            encoding: enc.render(),
            value: value.into_owned(),
            confidence,
        });
    }

    /// The `where` of the current field.
    fn location(&self, sc: &Scan<'_>) -> String {
        let mut s = String::from(sc.base.prefix());
        if sc.base.has_name() {
            s.push(':');
            let mut name = Vec::new();
            field::percent_decode_into(
                &self.base_name,
                sc.base != BaseKind::Header,
                &mut name,
                256,
            );
            s.push_str(&String::from_utf8_lossy(&name));
        }
        for seg in &self.path {
            match *seg {
                Seg::Doc { nested } => s.push_str(if nested { ">json:$" } else { ":$" }),
                Seg::Key { start, len, .. } if len > 0 => {
                    let key = String::from_utf8_lossy(
                        self.keys.get(start..start + len).unwrap_or_default(),
                    );
                    if key
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                    {
                        s.push('.');
                        s.push_str(&key);
                    } else {
                        s.push_str("['");
                        s.push_str(&key.replace('\'', "\\'"));
                        s.push_str("']");
                    }
                }
                Seg::Key { .. } => {}
                Seg::Index { i, .. } => {
                    s.push('[');
                    s.push_str(&i.to_string());
                    s.push(']');
                }
                Seg::Form { start, len } => {
                    s.push_str(">form:");
                    s.push_str(&String::from_utf8_lossy(
                        self.keys.get(start..start + len).unwrap_or_default(),
                    ));
                }
            }
        }
        s
    }
}

/// Image-upload signatures whose SDK categories include the destination's SDK.
fn image_sigs_for(set: &SignatureSet, host: Option<&str>) -> u128 {
    if set.image_sigs == 0 {
        return 0;
    }
    let Some(sdk) = host.and_then(|h| set.sdk_for_host(h)) else {
        return 0;
    };
    set.pi
        .iter()
        .enumerate()
        .filter(|(i, s)| set.image_sigs >> i & 1 == 1 && s.sdk_categories.contains(&sdk.category))
        .fold(0u128, |m, (i, _)| m | 1 << i)
}

/// `"x"` / `'x'` → `x`.
fn trim_quotes(t: &[u8]) -> &[u8] {
    match (t.first(), t.last()) {
        (Some(b'"'), Some(b'"')) | (Some(b'\''), Some(b'\'')) if t.len() >= 2 => {
            t.get(1..t.len() - 1).unwrap_or_default()
        }
        _ => t,
    }
}

use super::matcher::in_boundary_class as in_class;

/// The byte before `start` does not continue the match. A letter that ends a `%XX` or
/// `\n`-style escape counts as a separator: in raw text `k%3D13912345678` the value starts
/// after `%3D`.
fn boundary_before(boundary: Boundary, hay: &[u8], start: usize) -> bool {
    let Some(prev) = start.checked_sub(1).and_then(|i| hay.get(i)) else {
        return true;
    };
    if boundary == Boundary::Email && is_uri_user(hay, start) {
        return false;
    }
    !in_class(boundary, *prev) || super::matcher::after_escape(hay, start)
}

/// `sip:user@host`, `sips:`, `tel:`, `im:`, `pres:` (RFC 3261 §19.1): an address of a
/// telephony or presence system, not a mailbox.
fn is_uri_user(hay: &[u8], start: usize) -> bool {
    ["sip:", "sips:", "tel:", "im:", "pres:"]
        .iter()
        .any(|scheme| {
            start
                .checked_sub(scheme.len())
                .and_then(|from| hay.get(from..start))
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme.as_bytes()))
        })
}

/// The byte at `end` does not continue the match (email: a `.` followed by a letter
/// continues the domain).
fn boundary_after(boundary: Boundary, hay: &[u8], end: usize) -> bool {
    let Some(&next) = hay.get(end) else {
        return true;
    };
    match boundary {
        Boundary::Email => {
            !(next.is_ascii_alphanumeric()
                || next == b'-'
                || next == b'_'
                || (next == b'.' && hay.get(end + 1).is_some_and(u8::is_ascii_alphanumeric)))
        }
        b => !in_class(b, next),
    }
}

/// All separators dropped, lower case: `02:00:00:00:00:00` → `020000000000`. Values made
/// of one repeated character are placeholders too.
fn is_placeholder(value: &[u8], list: &[String]) -> bool {
    let alnum = value.iter().filter(|c| c.is_ascii_alphanumeric());
    let mut first = None;
    let mut same = true;
    let mut n = 0usize;
    for &c in alnum {
        n += 1;
        match first {
            None => first = Some(c.to_ascii_lowercase()),
            Some(f) if f != c.to_ascii_lowercase() => same = false,
            _ => {}
        }
    }
    if n >= 6 && same {
        return true;
    }
    if list.is_empty() {
        return false;
    }
    let mut buf = [0u8; MAX_KEY_BYTES];
    match normalize_value(value, &mut buf) {
        Some(len) => {
            let norm = buf.get(..len).unwrap_or_default();
            list.iter().any(|p| p.as_bytes() == norm)
        }
        None => false,
    }
}

/// A coordinate in degrees and its decimals: `39.908692` → (39.908692, 6); an integer of
/// 7–10 digits is read as micro-degrees (6 decimals).
fn parse_coordinate(t: &[u8]) -> Option<(f64, u32)> {
    let t = trim_quotes(field::trim(t));
    if t.is_empty() || t.len() > 24 {
        return None;
    }
    let digits = t.strip_prefix(b"-").unwrap_or(t);
    if !digits.iter().all(|c| c.is_ascii_digit() || *c == b'.')
        || digits.iter().filter(|&&c| c == b'.').count() > 1
    {
        return None;
    }
    let s = std::str::from_utf8(t).ok()?;
    let v: f64 = s.parse().ok()?;
    match digits.iter().position(|&c| c == b'.') {
        Some(dot) => Some((v, (digits.len() - dot - 1) as u32)),
        None if (7..=10).contains(&digits.len()) => Some((v / 1e6, 6)),
        None => Some((v, 0)),
    }
}

/// Distinct items found in a list, with the first few kept for the hit value.
struct Items<'a> {
    count: usize,
    first: [&'a [u8]; 8],
}

impl<'a> Items<'a> {
    fn add(&mut self, item: &'a [u8]) {
        if self
            .first
            .iter()
            .take(self.count.min(8))
            .any(|f| *f == item)
        {
            return;
        }
        if let Some(slot) = self.first.get_mut(self.count) {
            *slot = item;
        }
        self.count += 1;
    }
}

/// Android package names in a list (tokens of letters, digits, `_` and `.`).
fn package_names(text: &[u8]) -> Items<'_> {
    let mut items = Items {
        count: 0,
        first: [&[]; 8],
    };
    for token in text.split(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')) {
        if token.len() >= 3
            && std::str::from_utf8(token).is_ok_and(crate::pi::validator::android_package)
        {
            items.add(token);
        }
    }
    items
}

/// Mainland mobile numbers in a list (digit runs of exactly 11, optionally after 86).
fn mobile_numbers(text: &[u8]) -> Items<'_> {
    let mut items = Items {
        count: 0,
        first: [&[]; 8],
    };
    for run in text.split(|c| !c.is_ascii_digit()) {
        let run = match run.len() {
            13 if run.starts_with(b"86") => run.get(2..).unwrap_or_default(),
            _ => run,
        };
        if run.len() == 11 && crate::pi::validator::cn_mobile_digits(run) && run != b"13800138000" {
            items.add(run);
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Limits;

    #[test]
    fn boundaries() {
        let hay = b"a13912345678 %3D13912345678 \\n13912345678";
        assert!(!boundary_before(Boundary::Alnum, hay, 1));
        assert!(boundary_before(Boundary::Alnum, hay, 16));
        assert!(boundary_before(Boundary::Alnum, hay, 30));
        assert!(boundary_after(Boundary::Alnum, hay, 12));
        assert!(boundary_after(Boundary::Email, b"a@b.com.", 7));
        assert!(!boundary_after(Boundary::Email, b"a@b.com.cn", 7));
    }

    #[test]
    fn placeholders_and_coordinates() {
        assert!(is_placeholder(b"0000000000000000", &[]));
        assert!(is_placeholder(
            b"02:00:00:00:00:00",
            &["020000000000".into()]
        ));
        assert!(!is_placeholder(
            b"3c:22:fb:12:34:56",
            &["020000000000".into()]
        ));
        assert_eq!(parse_coordinate(b"39.908692"), Some((39.908692, 6)));
        assert_eq!(parse_coordinate(b"\"116.40\""), Some((116.40, 2)));
        assert_eq!(parse_coordinate(b"39908692").map(|c| c.1), Some(6));
        assert_eq!(parse_coordinate(b"1.2.3"), None);
        assert_eq!(parse_coordinate(b"abc"), None);
    }

    #[test]
    fn lists() {
        let p = package_names(br#"["com.tencent.mm","com.eg.android.AlipayGphone","1.2.3","com.tencent.mm","org.example.app"]"#);
        assert_eq!(p.count, 3);
        assert_eq!(p.first[1], b"com.eg.android.AlipayGphone");
        let m = mobile_numbers(b"[{\"n\":\"a\",\"p\":\"13912345678\"},{\"p\":\"8615012345678\"},{\"p\":\"1391234567890\"}]");
        assert_eq!(m.count, 2);
        assert_eq!(m.first[1], b"15012345678");
    }

    fn request(body: &[u8], kind: BodyKind, uri: &str) -> Request {
        Request {
            method: "POST".into(),
            uri: uri.into(),
            version: 1,
            headers: vec![crate::proto::http::Header {
                name: "Cookie".into(),
                value: b"a=1; imei=861234567890127".to_vec(),
            }],
            headers_truncated: false,
            host: Some("api.example.net".into()),
            user_agent: None,
            content_type: None,
            content_encoding: Vec::new(),
            body: body.to_vec(),
            body_wire_len: body.len() as u64,
            body_truncated: false,
            body_kind: kind,
            websocket_upgrade: false,
            expect_continue: false,
        }
    }

    #[test]
    fn hostile_input_never_panics_and_limits_count() {
        let set = SignatureSet::embedded().unwrap_or_else(|e| panic!("{e}"));
        let mut d = Detector::new(Limits::default());
        let mut hits = Vec::new();
        let mut rng = crate::synth::Rng::new(7);
        let kinds = [
            BodyKind::Json,
            BodyKind::Form,
            BodyKind::Text,
            BodyKind::Binary,
            BodyKind::Multipart {
                boundary: "b".into(),
            },
        ];
        let alphabet = b"{}[]\":,=&%25aZ09+/-_.\\u@\r\n";
        for round in 0..400 {
            let len = rng.range(0, 300);
            let body: Vec<u8> = if round % 2 == 0 {
                rng.bytes(len)
            } else {
                (0..len)
                    .map(|_| *rng.pick(alphabet).unwrap_or(&b'a'))
                    .collect()
            };
            for kind in &kinds {
                let uri = format!(
                    "/p%ZZ%?q={}",
                    String::from_utf8_lossy(&body[..body.len().min(40)])
                );
                d.scan_request(&set, &request(&body, kind.clone(), &uri), &mut hits);
            }
            d.scan_raw(&set, &body, &mut hits);
        }
        // Only the cookie's IMEI is ever found in random input.
        assert!(hits.iter().all(|h| h.pi_type == "imei"), "{hits:?}");

        // Deep nesting stops at the limit and is counted.
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        d.scan_request(
            &set,
            &request(deep.as_bytes(), BodyKind::Json, "/"),
            &mut hits,
        );
        assert!(d.stats().json_depth_cap >= 1);

        // Too many fields: the rest of the message is skipped and counted once.
        let mut small = Detector::new(Limits {
            max_fields: 10,
            ..Limits::default()
        });
        let form = (0..50)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        small.scan_request(
            &set,
            &request(form.as_bytes(), BodyKind::Form, "/"),
            &mut hits,
        );
        assert_eq!(small.stats().fields_cap, 1);

        // Hits per message are capped.
        let mut capped = Detector::new(Limits {
            max_hits: 2,
            ..Limits::default()
        });
        let mut out = Vec::new();
        let phones = "13912345678,15012345678,18612345678,13512345678";
        capped.scan_raw(&set, phones.as_bytes(), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(capped.stats().hits_cap, 2);
    }
}
