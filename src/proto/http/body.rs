//! Request body accumulation: streaming content decoding (gzip, deflate, br) with bounded
//! output, and body-kind sniffing.
//!
//! Takes de-chunked body bytes in any split (a gzip header or a deflate block may straddle
//! chunk and segment boundaries), decodes them as they arrive through a chain of decoders
//! (RFC 9110 §8.4: codings are undone in reverse order of application), and keeps at most
//! `max_decoded_body_bytes` of output. Decoding stops, keeping what was produced, at the size
//! cap, at the ratio cap, at a decoder error, or after a gap; the input is never buffered
//! whole. A body that fails before producing any output is kept raw instead.
//!
//! Must not: allocate per call beyond the kept body, or decode more than the caps allow.

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use flate2::{Decompress, FlushDecompress, Status};

use super::message::BodyKind;
use super::parser;
use super::{AnomalyKind, Limits};

/// Codings undone for one body at most; more is never seen in practice and bounds the chain.
pub const MAX_CODINGS: usize = 4;

/// Output buffer of one decoder stage; also the granularity at which caps are checked.
const SCRATCH_BYTES: usize = 8 * 1024;

/// Bytes of a body inspected by the form and text sniffers; enough to decide, cheap to scan.
const SNIFF_BYTES: usize = 4096;

/// A content or transfer coding token (RFC 9110 §8.4.1, RFC 9112 §7). Unknown tokens survive,
/// lowercased, in `Other`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `br` (RFC 7932).
    Brotli,
    /// `chunked` (RFC 9112 §7.1), transfer coding only.
    Chunked,
    /// `compress`, `x-compress` (LZW; not decoded).
    Compress,
    /// `deflate` (RFC 9110 §8.4.1.2: zlib-wrapped, raw deflate also seen in the wild).
    Deflate,
    /// `gzip`, `x-gzip` (RFC 1952).
    Gzip,
    /// `identity`.
    Identity,
    /// Any other token, lowercased.
    Other(String),
}

impl Coding {
    /// Maps a token, case-insensitively (RFC 9110 §8.4.1).
    pub fn from_token(token: &[u8]) -> Coding {
        let is = |name: &[u8]| token.eq_ignore_ascii_case(name);
        if is(b"gzip") || is(b"x-gzip") {
            Coding::Gzip
        } else if is(b"deflate") {
            Coding::Deflate
        } else if is(b"br") {
            Coding::Brotli
        } else if is(b"chunked") {
            Coding::Chunked
        } else if is(b"identity") {
            Coding::Identity
        } else if is(b"compress") || is(b"x-compress") {
            Coding::Compress
        } else {
            Coding::Other(String::from_utf8_lossy(token).to_ascii_lowercase())
        }
    }

    /// Canonical token.
    pub fn as_str(&self) -> &str {
        match self {
            Coding::Brotli => "br",
            Coding::Chunked => "chunked",
            Coding::Compress => "compress",
            Coding::Deflate => "deflate",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
            Coding::Other(s) => s,
        }
    }
}

/// Whether a decoder stage's consumer wants more output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// The compressed stream is corrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Corrupt;

type Sink<'s> = dyn FnMut(&[u8]) -> Flow + 's;

/// One decoder in a chain.
enum Stage {
    Brotli(Box<BrotliStage>),
    Deflate(DeflateStage),
    Gzip(GzipStage),
}

impl Stage {
    fn new(coding: &Coding) -> Option<Stage> {
        match coding {
            Coding::Brotli => Some(Stage::Brotli(Box::new(BrotliStage::new()))),
            Coding::Deflate => Some(Stage::Deflate(DeflateStage::new())),
            Coding::Gzip => Some(Stage::Gzip(GzipStage::new())),
            _ => None,
        }
    }

    fn push(&mut self, input: &[u8], out: &mut Sink<'_>) -> Result<Flow, Corrupt> {
        match self {
            Stage::Brotli(s) => s.push(input, out),
            Stage::Deflate(s) => s.push(input, out),
            Stage::Gzip(s) => s.push(input, out),
        }
    }

    fn is_finished(&self) -> bool {
        match self {
            Stage::Brotli(s) => s.done,
            Stage::Deflate(s) => matches!(s.phase, DeflatePhase::Done),
            Stage::Gzip(s) => s.member_done,
        }
    }
}

/// Feeds `input` through `stages` (outermost coding first) into `out`.
fn push_chain(stages: &mut [Stage], input: &[u8], out: &mut Sink<'_>) -> Result<Flow, Corrupt> {
    let Some((first, rest)) = stages.split_first_mut() else {
        return Ok(out(input));
    };
    let mut inner: Result<(), Corrupt> = Ok(());
    let flow = first.push(
        input,
        &mut |chunk: &[u8]| match push_chain(rest, chunk, out) {
            Ok(flow) => flow,
            Err(e) => {
                inner = Err(e);
                Flow::Stop
            }
        },
    )?;
    inner.map(|()| flow)
}

/// Runs `z` over `input` into `scratch`, handing output to `out`. Returns the flow, the bytes
/// of `input` consumed and whether the deflate stream ended.
fn inflate(
    z: &mut Decompress,
    scratch: &mut [u8],
    mut input: &[u8],
    out: &mut Sink<'_>,
) -> Result<(Flow, usize, bool), Corrupt> {
    let mut consumed_total = 0usize;
    loop {
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let status = z
            .decompress(input, scratch, FlushDecompress::None)
            .map_err(|_| Corrupt)?;
        let consumed = usize::try_from(z.total_in().saturating_sub(in_before)).unwrap_or(0);
        let produced = usize::try_from(z.total_out().saturating_sub(out_before)).unwrap_or(0);
        input = input.get(consumed..).unwrap_or_default();
        consumed_total = consumed_total.saturating_add(consumed);
        if produced > 0 && out(scratch.get(..produced).unwrap_or_default()) == Flow::Stop {
            return Ok((Flow::Stop, consumed_total, false));
        }
        if status == Status::StreamEnd {
            return Ok((Flow::Continue, consumed_total, true));
        }
        let drained = produced < scratch.len();
        if (consumed == 0 && produced == 0) || (input.is_empty() && drained) {
            return Ok((Flow::Continue, consumed_total, false));
        }
    }
}

/// `deflate`: zlib (RFC 1950) or raw deflate (RFC 1951), told apart by the first two bytes.
struct DeflateStage {
    phase: DeflatePhase,
    scratch: Vec<u8>,
}

enum DeflatePhase {
    Detect { buf: [u8; 2], len: usize },
    Stream(Box<Decompress>),
    Done,
}

impl DeflateStage {
    fn new() -> Self {
        DeflateStage {
            phase: DeflatePhase::Detect {
                buf: [0; 2],
                len: 0,
            },
            scratch: vec![0; SCRATCH_BYTES],
        }
    }

    /// RFC 1950 §2.2: CM = 8, CINFO <= 7, and the header is a multiple of 31.
    fn is_zlib_header(b0: u8, b1: u8) -> bool {
        b0 & 0x0f == 8 && b0 >> 4 <= 7 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0
    }

    fn push(&mut self, mut input: &[u8], out: &mut Sink<'_>) -> Result<Flow, Corrupt> {
        if let DeflatePhase::Detect { buf, len } = &mut self.phase {
            while *len < 2 {
                let Some((&b, rest)) = input.split_first() else {
                    return Ok(Flow::Continue);
                };
                if let Some(slot) = buf.get_mut(*len) {
                    *slot = b;
                }
                *len += 1;
                input = rest;
            }
            let header = *buf;
            let zlib = Self::is_zlib_header(header[0], header[1]);
            let mut z = Box::new(Decompress::new(zlib));
            let (flow, _, end) = inflate(&mut z, &mut self.scratch, &header, out)?;
            self.phase = if end {
                DeflatePhase::Done
            } else {
                DeflatePhase::Stream(z)
            };
            if flow == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        match &mut self.phase {
            DeflatePhase::Stream(z) => {
                let (flow, _, end) = inflate(z, &mut self.scratch, input, out)?;
                if end {
                    self.phase = DeflatePhase::Done;
                }
                Ok(flow)
            }
            // Bytes after the end of the stream are ignored, as browsers do.
            DeflatePhase::Done | DeflatePhase::Detect { .. } => Ok(Flow::Continue),
        }
    }
}

/// `gzip` (RFC 1952): header parsed here, deflate by flate2, trailer skipped (CRC not
/// checked), further members decoded, trailing garbage ignored.
struct GzipStage {
    phase: GzPhase,
    flags: u8,
    z: Box<Decompress>,
    scratch: Vec<u8>,
    member_done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GzPhase {
    /// Fixed 10-byte header, `got` bytes seen.
    Fixed { got: u8 },
    /// FEXTRA length, `got` bytes seen.
    ExtraLen { got: u8, len: u16 },
    /// FEXTRA data, `left` bytes to skip.
    Extra { left: u16 },
    /// FNAME, zero-terminated.
    Name,
    /// FCOMMENT, zero-terminated.
    Comment,
    /// FHCRC, `left` bytes to skip.
    HeaderCrc { left: u8 },
    /// Compressed blocks.
    Body,
    /// CRC32 and ISIZE, `left` bytes to skip.
    Trailer { left: u8 },
    /// A member ended; another may follow.
    BetweenMembers,
    /// Non-gzip bytes after a member; ignored.
    Garbage,
}

const GZ_FEXTRA: u8 = 0x04;
const GZ_FNAME: u8 = 0x08;
const GZ_FCOMMENT: u8 = 0x10;
const GZ_FHCRC: u8 = 0x02;
const GZ_RESERVED: u8 = 0xe0;

impl GzipStage {
    fn new() -> Self {
        GzipStage {
            phase: GzPhase::Fixed { got: 0 },
            flags: 0,
            z: Box::new(Decompress::new(false)),
            scratch: vec![0; SCRATCH_BYTES],
            member_done: false,
        }
    }

    /// The header field after the fixed part or after `field`, by RFC 1952 §2.3 order.
    fn next_field(&self, after_flag: u8) -> GzPhase {
        let order = [GZ_FEXTRA, GZ_FNAME, GZ_FCOMMENT, GZ_FHCRC];
        let start = order
            .iter()
            .position(|&f| f == after_flag)
            .map_or(0, |i| i + 1);
        for &flag in order.get(start..).unwrap_or_default() {
            if self.flags & flag != 0 {
                return match flag {
                    GZ_FEXTRA => GzPhase::ExtraLen { got: 0, len: 0 },
                    GZ_FNAME => GzPhase::Name,
                    GZ_FCOMMENT => GzPhase::Comment,
                    _ => GzPhase::HeaderCrc { left: 2 },
                };
            }
        }
        GzPhase::Body
    }

    fn push(&mut self, mut input: &[u8], out: &mut Sink<'_>) -> Result<Flow, Corrupt> {
        while !input.is_empty() {
            if self.phase == GzPhase::Body {
                let (flow, consumed, end) = inflate(&mut self.z, &mut self.scratch, input, out)?;
                input = input.get(consumed..).unwrap_or_default();
                if end {
                    self.phase = GzPhase::Trailer { left: 8 };
                }
                if flow == Flow::Stop {
                    return Ok(Flow::Stop);
                }
                if !end {
                    // All input consumed or no progress: wait for more.
                    return Ok(Flow::Continue);
                }
                continue;
            }
            let Some((&b, rest)) = input.split_first() else {
                break;
            };
            input = rest;
            self.phase = match self.phase {
                GzPhase::Fixed { got } => {
                    match (got, b) {
                        (0, 0x1f) | (1, 0x8b) | (2, 8) => {}
                        (3, flags) if flags & GZ_RESERVED == 0 => self.flags = flags,
                        (0..=3, _) => return Err(Corrupt),
                        _ => {}
                    }
                    if got == 9 {
                        self.next_field(0)
                    } else {
                        GzPhase::Fixed { got: got + 1 }
                    }
                }
                GzPhase::ExtraLen { got: 0, .. } => GzPhase::ExtraLen {
                    got: 1,
                    len: u16::from(b),
                },
                GzPhase::ExtraLen { len, .. } => {
                    let len = len | u16::from(b) << 8;
                    if len == 0 {
                        self.next_field(GZ_FEXTRA)
                    } else {
                        GzPhase::Extra { left: len }
                    }
                }
                GzPhase::Extra { left } => {
                    if left <= 1 {
                        self.next_field(GZ_FEXTRA)
                    } else {
                        GzPhase::Extra { left: left - 1 }
                    }
                }
                GzPhase::Name if b == 0 => self.next_field(GZ_FNAME),
                GzPhase::Comment if b == 0 => self.next_field(GZ_FCOMMENT),
                GzPhase::Name | GzPhase::Comment => self.phase,
                GzPhase::HeaderCrc { left } => {
                    if left <= 1 {
                        GzPhase::Body
                    } else {
                        GzPhase::HeaderCrc { left: left - 1 }
                    }
                }
                GzPhase::Trailer { left } => {
                    if left <= 1 {
                        self.member_done = true;
                        GzPhase::BetweenMembers
                    } else {
                        GzPhase::Trailer { left: left - 1 }
                    }
                }
                GzPhase::BetweenMembers if b == 0x1f => {
                    self.z.reset(false);
                    self.flags = 0;
                    self.member_done = false;
                    GzPhase::Fixed { got: 1 }
                }
                GzPhase::BetweenMembers | GzPhase::Garbage => {
                    // Trailing bytes that do not start a member (padding) are ignored, as
                    // browsers do.
                    self.phase = GzPhase::Garbage;
                    return Ok(Flow::Continue);
                }
                // Handled above the match.
                GzPhase::Body => GzPhase::Body,
            };
        }
        Ok(Flow::Continue)
    }
}

/// `br` (RFC 7932) through brotli-decompressor's streaming API. `new_strict` keeps the
/// window at the standard maximum of 16 MiB (no large-window extension).
struct BrotliStage {
    state: BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    scratch: Vec<u8>,
    total_out: usize,
    done: bool,
}

impl BrotliStage {
    fn new() -> Self {
        BrotliStage {
            state: BrotliState::new_strict(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            ),
            scratch: vec![0; SCRATCH_BYTES],
            total_out: 0,
            done: false,
        }
    }

    fn push(&mut self, input: &[u8], out: &mut Sink<'_>) -> Result<Flow, Corrupt> {
        if self.done {
            return Ok(Flow::Continue);
        }
        let mut available_in = input.len();
        let mut input_offset = 0usize;
        loop {
            let mut available_out = self.scratch.len();
            let mut output_offset = 0usize;
            let result = BrotliDecompressStream(
                &mut available_in,
                &mut input_offset,
                input,
                &mut available_out,
                &mut output_offset,
                &mut self.scratch,
                &mut self.total_out,
                &mut self.state,
            );
            if output_offset > 0
                && out(self.scratch.get(..output_offset).unwrap_or_default()) == Flow::Stop
            {
                return Ok(Flow::Stop);
            }
            match result {
                BrotliResult::NeedsMoreOutput => continue,
                BrotliResult::NeedsMoreInput => return Ok(Flow::Continue),
                BrotliResult::ResultSuccess => {
                    self.done = true;
                    return Ok(Flow::Continue);
                }
                BrotliResult::ResultFailure => return Err(Corrupt),
            }
        }
    }
}

enum Mode {
    /// Bytes are kept as they come.
    Raw,
    /// Bytes go through the decoder chain.
    Decode(Vec<Stage>),
    /// Nothing more is kept (cap, ratio, corrupt stream after output, gap in compressed data).
    Stopped,
}

/// A finished body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BodyOutcome {
    /// Decoded (or raw) bytes kept.
    pub body: Vec<u8>,
    /// Body bytes after de-chunking, before decoding.
    pub wire_len: u64,
    /// Something is missing from `body`: a cap, a gap, a decoder stop or a cut stream.
    pub truncated: bool,
}

/// Accumulates one request body; see the module doc.
pub struct BodySink {
    body: Vec<u8>,
    /// Input copy kept while the decoders have produced nothing, so that a body mislabelled
    /// as compressed can still be kept raw.
    raw_prefix: Vec<u8>,
    mode: Mode,
    max_kept: usize,
    max_ratio: u64,
    ratio_grace: u64,
    wire_len: u64,
    decoded_len: u64,
    truncated: bool,
}

impl BodySink {
    /// A sink for a body whose codings, in order of application, are `codings` (transfer
    /// codings other than chunked first, then content codings). Returns the anomaly to count
    /// if some coding cannot be undone (the body is then kept raw).
    pub fn new(codings: &[Coding], limits: &Limits) -> (BodySink, Option<AnomalyKind>) {
        let mut stages = Vec::new();
        let mut unsupported = codings.len() > MAX_CODINGS;
        for coding in codings.iter().rev() {
            match coding {
                Coding::Identity | Coding::Chunked => {}
                other => match Stage::new(other) {
                    Some(stage) if !unsupported => stages.push(stage),
                    _ => unsupported = true,
                },
            }
        }
        let mode = if unsupported || stages.is_empty() {
            Mode::Raw
        } else {
            Mode::Decode(stages)
        };
        let sink = BodySink {
            body: Vec::new(),
            raw_prefix: Vec::new(),
            mode,
            max_kept: limits.max_decoded_body_bytes,
            max_ratio: limits.max_decompress_ratio,
            ratio_grace: limits.decompress_ratio_grace_bytes,
            wire_len: 0,
            decoded_len: 0,
            truncated: false,
        };
        (
            sink,
            unsupported.then_some(AnomalyKind::UnsupportedEncoding),
        )
    }

    /// Adds body bytes; returns the anomaly to count if this call hit a limit or an error.
    pub fn push(&mut self, data: &[u8]) -> Option<AnomalyKind> {
        self.wire_len = self
            .wire_len
            .saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
        let BodySink {
            body,
            raw_prefix,
            mode,
            max_kept,
            max_ratio,
            ratio_grace,
            wire_len,
            decoded_len,
            truncated,
        } = self;
        match mode {
            Mode::Stopped => None,
            Mode::Raw => {
                if append_capped(body, data, *max_kept) || *truncated {
                    None
                } else {
                    *truncated = true;
                    Some(AnomalyKind::BodySizeCap)
                }
            }
            Mode::Decode(stages) => {
                if *decoded_len == 0 {
                    append_capped(raw_prefix, data, *max_kept);
                }
                let mut hit = None;
                let result = push_chain(stages, data, &mut |chunk: &[u8]| {
                    *decoded_len =
                        decoded_len.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
                    append_capped(body, chunk, *max_kept);
                    let max_kept = u64::try_from(*max_kept).unwrap_or(u64::MAX);
                    if *decoded_len > max_kept {
                        hit = Some(AnomalyKind::DecompressSizeCap);
                        Flow::Stop
                    } else if *decoded_len > *ratio_grace
                        && *decoded_len > wire_len.saturating_mul(*max_ratio)
                    {
                        hit = Some(AnomalyKind::DecompressRatioCap);
                        Flow::Stop
                    } else {
                        Flow::Continue
                    }
                });
                if *decoded_len > 0 && !raw_prefix.is_empty() {
                    *raw_prefix = Vec::new();
                }
                match (result, hit) {
                    (Err(Corrupt), _) if *decoded_len == 0 => {
                        // Mislabelled or unknown data: keep what arrived, raw.
                        *body = std::mem::take(raw_prefix);
                        *truncated = u64::try_from(body.len()).unwrap_or(u64::MAX) < *wire_len;
                        *mode = Mode::Raw;
                        Some(AnomalyKind::DecompressError)
                    }
                    (Err(Corrupt), _) => {
                        *truncated = true;
                        *mode = Mode::Stopped;
                        Some(AnomalyKind::DecompressError)
                    }
                    (Ok(_), Some(kind)) => {
                        *truncated = true;
                        *mode = Mode::Stopped;
                        Some(kind)
                    }
                    (Ok(_), None) => None,
                }
            }
        }
    }

    /// Records `len` body bytes lost to a capture gap: the body is truncated and compressed
    /// decoding stops (the stream cannot be resumed mid-way); raw bodies keep accumulating.
    pub fn gap(&mut self, len: u64) {
        self.wire_len = self.wire_len.saturating_add(len);
        self.truncated = true;
        if let Mode::Decode(_) = self.mode {
            self.mode = Mode::Stopped;
            self.raw_prefix = Vec::new();
        }
    }

    /// Body bytes seen so far (after de-chunking, before decoding, gaps included).
    pub fn wire_len(&self) -> u64 {
        self.wire_len
    }

    /// Ends the body. Returns it and the anomaly to count if the compressed stream was cut.
    pub fn finish(self) -> (BodyOutcome, Option<AnomalyKind>) {
        let mut truncated = self.truncated;
        let mut anomaly = None;
        let body = match self.mode {
            Mode::Decode(stages) if !stages.iter().all(Stage::is_finished) => {
                truncated = true;
                anomaly = Some(AnomalyKind::DecompressError);
                if self.decoded_len == 0 {
                    self.raw_prefix
                } else {
                    self.body
                }
            }
            _ => self.body,
        };
        let outcome = BodyOutcome {
            body,
            wire_len: self.wire_len,
            truncated,
        };
        (outcome, anomaly)
    }
}

impl std::fmt::Debug for BodySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.mode {
            Mode::Raw => "raw",
            Mode::Decode(_) => "decode",
            Mode::Stopped => "stopped",
        };
        f.debug_struct("BodySink")
            .field("mode", &mode)
            .field("kept", &self.body.len())
            .field("wire_len", &self.wire_len)
            .field("decoded_len", &self.decoded_len)
            .field("truncated", &self.truncated)
            .finish()
    }
}

/// Appends up to `max` total bytes; returns whether all of `data` fit.
fn append_capped(buf: &mut Vec<u8>, data: &[u8], max: usize) -> bool {
    let room = max.saturating_sub(buf.len());
    let take = room.min(data.len());
    buf.extend_from_slice(data.get(..take).unwrap_or_default());
    take == data.len()
}

/// Classifies a body from its Content-Type value and its first bytes. Explicit form, JSON and
/// multipart types are trusted; otherwise JSON and form shapes are sniffed (apps often send
/// them as `text/plain` or `application/octet-stream`), then the type or the bytes decide
/// between text and binary.
pub fn classify(content_type: Option<&[u8]>, body: &[u8]) -> BodyKind {
    if body.is_empty() {
        return BodyKind::Empty;
    }
    let media = content_type.map(parser::media_type).unwrap_or_default();
    let media_lc = String::from_utf8_lossy(media).to_ascii_lowercase();
    if media_lc == "application/x-www-form-urlencoded" {
        return BodyKind::Form;
    }
    if media_lc.starts_with("multipart/") {
        if let Some(boundary) =
            content_type.and_then(|ct| parser::media_type_param(ct, b"boundary"))
        {
            return BodyKind::Multipart {
                boundary: String::from_utf8_lossy(boundary).into_owned(),
            };
        }
    }
    if media_lc == "application/json" || media_lc == "text/json" || media_lc.ends_with("+json") {
        return BodyKind::Json;
    }
    if looks_like_json(body) {
        return BodyKind::Json;
    }
    if looks_like_form(body) {
        return BodyKind::Form;
    }
    let textual_type = media_lc.starts_with("text/")
        || media_lc.ends_with("+xml")
        || media_lc.ends_with("/xml")
        || media_lc == "application/javascript";
    if textual_type || (media_lc.is_empty() && looks_like_text(body)) {
        BodyKind::Text
    } else {
        BodyKind::Binary
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    matches!(first, Some(b'{') | Some(b'['))
}

/// `key=value(&key=value)*` over URL-safe bytes: no spaces, no controls.
fn looks_like_form(body: &[u8]) -> bool {
    let sample = body.get(..SNIFF_BYTES).unwrap_or(body);
    let urlish = |b: &u8| b.is_ascii_alphanumeric() || b"-._~%+=&*,;:/!'()@$?[]|".contains(b);
    if !sample.iter().all(urlish) {
        return false;
    }
    let first_pair = sample.split(|&b| b == b'&').next().unwrap_or_default();
    matches!(first_pair.iter().position(|&b| b == b'='), Some(i) if i > 0)
}

fn looks_like_text(body: &[u8]) -> bool {
    let sample = body.get(..SNIFF_BYTES).unwrap_or(body);
    let valid = match std::str::from_utf8(sample) {
        Ok(_) => true,
        // A multi-byte character cut by the sample end is still text.
        Err(e) => e.error_len().is_none(),
    };
    valid
        && !sample
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

    use super::*;
    use crate::proto::http::{
        DEFAULT_DECOMPRESS_RATIO_GRACE_BYTES, DEFAULT_MAX_DECODED_BODY_BYTES,
    };

    /// RFC 7932 stream of `hello brotli, hello brotli, hello brotli!`, produced once with
    /// Python's `brotli.compress(data, quality=11)`.
    pub(crate) const BROTLI_HELLO: &[u8] = &[
        0x1b, 0x28, 0x00, 0xf8, 0x05, 0x6a, 0x87, 0xd3, 0xfa, 0xed, 0xad, 0x53, 0x44, 0x71, 0x3c,
        0xa9, 0x14, 0x61, 0x2a, 0x1e, 0x08, 0xa7, 0xc1, 0xaa, 0xf3, 0xb3, 0x29, 0x01,
    ];
    pub(crate) const BROTLI_HELLO_PLAIN: &[u8] = b"hello brotli, hello brotli, hello brotli!";

    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn sink(codings: &[Coding]) -> BodySink {
        BodySink::new(codings, &Limits::default()).0
    }

    fn decode_split(codings: &[Coding], data: &[u8], piece: usize) -> BodyOutcome {
        let mut s = sink(codings);
        for chunk in data.chunks(piece) {
            assert_eq!(s.push(chunk), None);
        }
        let (outcome, anomaly) = s.finish();
        assert_eq!(anomaly, None);
        outcome
    }

    #[test]
    fn gzip_any_split() {
        let plain = b"email=alice%40example.com&phone=%2B15555550100".repeat(20);
        let gz = gzip(&plain);
        for piece in [1, 2, 3, 7, 10, 11, 64, gz.len()] {
            let out = decode_split(&[Coding::Gzip], &gz, piece);
            assert_eq!(out.body, plain, "piece {piece}");
            assert!(!out.truncated);
            assert_eq!(out.wire_len, gz.len() as u64);
        }
    }

    #[test]
    fn gzip_with_optional_header_fields_and_two_members() {
        let mut gz = vec![
            0x1f,
            0x8b,                                          // ID1 ID2
            0x08,                                          // CM deflate
            GZ_FEXTRA | GZ_FNAME | GZ_FCOMMENT | GZ_FHCRC, // FLG
            0,
            0,
            0,
            0, // MTIME
            0,
            0xff, // XFL, OS
            3,
            0,
            b'a',
            b'b',
            b'c', // XLEN = 3, extra data
            b'n',
            b'a',
            b'm',
            b'e',
            0, // FNAME
            b'c',
            0, // FCOMMENT
            0xaa,
            0xbb, // FHCRC (not checked)
        ];
        let plain = b"first member ";
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(plain).unwrap();
        gz.extend(e.finish().unwrap());
        gz.extend([0u8; 8]); // CRC32, ISIZE (not checked)
        gz.extend(gzip(b"second member"));
        for piece in [1, 5, gz.len()] {
            let out = decode_split(&[Coding::Gzip], &gz, piece);
            assert_eq!(out.body, b"first member second member");
        }
    }

    #[test]
    fn deflate_zlib_and_raw() {
        let plain = b"{\"lat\":52.52,\"lon\":13.40}".repeat(10);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&plain).unwrap();
        let zlib = z.finish().unwrap();
        let mut r = DeflateEncoder::new(Vec::new(), Compression::best());
        r.write_all(&plain).unwrap();
        let raw = r.finish().unwrap();
        for data in [&zlib, &raw] {
            for piece in [1, 2, 3, data.len()] {
                assert_eq!(decode_split(&[Coding::Deflate], data, piece).body, plain);
            }
        }
    }

    #[test]
    fn brotli_stream() {
        for piece in [1, 4, BROTLI_HELLO.len()] {
            let out = decode_split(&[Coding::Brotli], BROTLI_HELLO, piece);
            assert_eq!(out.body, BROTLI_HELLO_PLAIN);
        }
    }

    #[test]
    fn chain_is_undone_in_reverse_order() {
        // Content-Encoding: gzip, deflate — gzip applied first, then deflate.
        let plain = b"chained codings";
        let gz = gzip(plain);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&gz).unwrap();
        let both = z.finish().unwrap();
        let out = decode_split(&[Coding::Gzip, Coding::Deflate], &both, 3);
        assert_eq!(out.body, plain);
    }

    #[test]
    fn mislabelled_body_is_kept_raw() {
        let mut s = sink(&[Coding::Gzip]);
        assert_eq!(s.push(b"a=1&b=2"), Some(AnomalyKind::DecompressError));
        assert_eq!(s.push(b"&c=3"), None);
        let (out, anomaly) = s.finish();
        assert_eq!(anomaly, None);
        assert_eq!(out.body, b"a=1&b=2&c=3");
        assert!(!out.truncated);
    }

    #[test]
    fn cut_stream_is_flagged() {
        let gz = gzip(&b"0123456789".repeat(100));
        let mut s = sink(&[Coding::Gzip]);
        assert_eq!(s.push(&gz[..gz.len() - 4]), None);
        let (out, anomaly) = s.finish();
        assert_eq!(anomaly, Some(AnomalyKind::DecompressError));
        assert!(out.truncated);
        assert_eq!(out.body, b"0123456789".repeat(100));
    }

    #[test]
    fn unsupported_coding_keeps_raw() {
        let (mut s, anomaly) = BodySink::new(&[Coding::Compress], &Limits::default());
        assert_eq!(anomaly, Some(AnomalyKind::UnsupportedEncoding));
        assert_eq!(s.push(b"\x1f\x9d..."), None);
        assert_eq!(s.finish().0.body, b"\x1f\x9d...");
    }

    #[test]
    fn ratio_cap_stops_bomb() {
        let gz = gzip(&vec![0u8; 4 * 1024 * 1024]);
        let mut s = sink(&[Coding::Gzip]);
        let mut anomalies = Vec::new();
        for chunk in gz.chunks(1000) {
            anomalies.extend(s.push(chunk));
        }
        assert_eq!(anomalies, vec![AnomalyKind::DecompressRatioCap]);
        let (out, anomaly) = s.finish();
        assert_eq!(anomaly, None);
        assert!(out.truncated);
        assert!(out.body.len() as u64 > DEFAULT_DECOMPRESS_RATIO_GRACE_BYTES);
        // The ratio is checked against the input pushed so far (1000 bytes here).
        assert!(out.body.len() <= 200 * 1000 + SCRATCH_BYTES);
    }

    #[test]
    fn size_cap_keeps_prefix() {
        // Low-entropy pseudo-random text compresses about 2:1, below the ratio cap.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let plain: Vec<u8> = (0..3 * 1024 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b'a' + (x % 16) as u8
            })
            .collect();
        let gz = gzip(&plain);
        let mut s = sink(&[Coding::Gzip]);
        let mut anomalies = Vec::new();
        for chunk in gz.chunks(4096) {
            anomalies.extend(s.push(chunk));
        }
        assert_eq!(anomalies, vec![AnomalyKind::DecompressSizeCap]);
        let (out, _) = s.finish();
        assert!(out.truncated);
        assert_eq!(out.body.len(), DEFAULT_MAX_DECODED_BODY_BYTES);
        assert_eq!(out.body[..], plain[..DEFAULT_MAX_DECODED_BODY_BYTES]);
        assert_eq!(out.wire_len, gz.len() as u64);
    }

    #[test]
    fn raw_size_cap() {
        let limits = Limits {
            max_decoded_body_bytes: 4,
            ..Limits::default()
        };
        let (mut s, _) = BodySink::new(&[], &limits);
        assert_eq!(s.push(b"abc"), None);
        assert_eq!(s.push(b"def"), Some(AnomalyKind::BodySizeCap));
        assert_eq!(s.push(b"ghi"), None);
        let (out, _) = s.finish();
        assert_eq!(out.body, b"abcd");
        assert_eq!(out.wire_len, 9);
        assert!(out.truncated);
    }

    #[test]
    fn gap_stops_decoding() {
        let gz = gzip(&b"abc".repeat(1000));
        let mut s = sink(&[Coding::Gzip]);
        s.push(&gz[..gz.len() / 2]);
        s.gap(10);
        s.push(&gz[gz.len() / 2 + 10..]);
        let (out, anomaly) = s.finish();
        assert_eq!(anomaly, None);
        assert!(out.truncated);
        assert_eq!(out.wire_len, gz.len() as u64);
    }

    #[test]
    fn body_kinds() {
        let ct = |s: &'static str| Some(s.as_bytes());
        assert_eq!(classify(ct("application/json"), b""), BodyKind::Empty);
        assert_eq!(
            classify(ct("application/x-www-form-urlencoded"), b"x"),
            BodyKind::Form
        );
        assert_eq!(
            classify(ct("multipart/form-data; boundary=XyZ"), b"--XyZ"),
            BodyKind::Multipart {
                boundary: "XyZ".into()
            }
        );
        assert_eq!(
            classify(ct("application/vnd.api+json"), b"1"),
            BodyKind::Json
        );
        assert_eq!(classify(ct("text/plain"), b" {\"a\":1}"), BodyKind::Json);
        assert_eq!(classify(None, b"[1,2]"), BodyKind::Json);
        assert_eq!(classify(None, b"a=b&c=d"), BodyKind::Form);
        assert_eq!(classify(ct("text/plain"), b"hello world"), BodyKind::Text);
        assert_eq!(classify(None, b"hello world\n"), BodyKind::Text);
        assert_eq!(classify(None, b"\x00\x01\x02"), BodyKind::Binary);
        assert_eq!(
            classify(ct("application/octet-stream"), b"hello"),
            BodyKind::Binary
        );
        assert_eq!(classify(None, b"=b"), BodyKind::Text);
    }
}
