//! One direction of a TCP connection: sequence tracking, the out-of-order buffer, and the
//! retransmission, overlap, gap and limit policy.
//!
//! **Owns**: the stream's sequence base, next expected offset, FIN offset and buffered
//! out-of-order segments (a map from 64-bit offset to the copied bytes; entries never overlap
//! and all lie at or after the next expected offset). **Takes** segments, peer acks and the
//! end of the flow; **emits** [`Chunk`]s through the caller's callback. **Limits** are
//! enforced per call from [`Limits`] and the worker's [`Memory`]. **Must not** allocate when a
//! segment arrives in order, nor hold memory it has not reserved (except transiently while
//! compacting, see [`Stream::on_segment`]).

use std::collections::BTreeMap;

use super::{
    Chunk, GapReason, Limits, Memory, Segment, StreamStats, MAX_WINDOW_BYTES,
    SEGMENT_OVERHEAD_BYTES,
};

/// Where a stream is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Ended by RST or flush: later segments are ignored and counted.
    Ended,
    /// FIN delivered: later segments are only classified (retransmission, data after FIN).
    Finished,
    /// Anchored: sequence numbers map to offsets.
    Open,
    /// No SYN and no data seen yet, so there is no sequence base.
    Unanchored,
}

/// How a segment's bytes compared with bytes already held for the same offsets.
#[derive(Clone, Copy, Debug, Default)]
struct Overlap {
    differs: bool,
    same: bool,
}

impl Overlap {
    fn note(&mut self, new: Option<&[u8]>, old: Option<&[u8]>) {
        if let (Some(new), Some(old)) = (new, old) {
            if new.is_empty() {
                return;
            }
            if new == old {
                self.same = true;
            } else {
                self.differs = true;
            }
        }
    }
}

/// Reassembler for one direction of one TCP connection.
///
/// Offsets are 64-bit positions in the stream, 0 being the first data byte (the byte after the
/// SYN, or the first byte of the first data segment seen when the capture started mid-stream).
/// The caller must end every stream with [`Stream::flush`] or [`Stream::release`], otherwise
/// its charge stays in the worker's [`Memory`] ([`Stream::charged_bytes`] tells how much).
#[derive(Debug)]
pub struct Stream {
    phase: Phase,
    /// Sequence number of offset 0.
    isn: u32,
    /// Offset of the next byte to deliver; everything before it was delivered or skipped.
    next: u64,
    /// Offset of the FIN, once seen; no byte at or after it is ever delivered.
    fin: Option<u64>,
    /// Out-of-order bytes by offset. Invariants: entries are non-empty, do not overlap, start
    /// after `next`, and end at or before `fin`.
    buffered: BTreeMap<u64, Box<[u8]>>,
    /// Payload bytes in `buffered`.
    buffered_bytes: u64,
    /// Bytes reserved from [`Memory`] for `buffered` (payload plus per-segment overhead).
    charged_bytes: u64,
    /// Upper estimate of adjacent buffered pairs that a compaction could merge.
    joinable: u32,
    stats: StreamStats,
}

impl Stream {
    /// A stream that has seen nothing. Allocates nothing.
    pub fn new() -> Self {
        Stream {
            phase: Phase::Unanchored,
            isn: 0,
            next: 0,
            fin: None,
            buffered: BTreeMap::new(),
            buffered_bytes: 0,
            charged_bytes: 0,
            joinable: 0,
            stats: StreamStats::default(),
        }
    }

    /// Processes one segment of this direction and emits whatever became deliverable.
    ///
    /// - Anchoring: a SYN sets offset 0 at its sequence number plus one (the SYN occupies one
    ///   sequence number, RFC 9293 §3.4). Without a SYN (capture started mid-stream) the first
    ///   segment carrying data or FIN sets offset 0 at its sequence number; empty segments before
    ///   that carry nothing to anchor on (a keep-alive sits one byte before the stream). A SYN
    ///   with a different sequence number before any byte was delivered or buffered replaces the
    ///   base (`isn_reset`): the client gave up on the first attempt and the server answers the
    ///   new one; after data it is ignored, since the stream is already committed.
    /// - Placement: sequence numbers are compared by signed 32-bit distance from the next
    ///   expected byte, so the stream survives wrapping; farther than [`MAX_WINDOW_BYTES`] either
    ///   way is `out_of_window` and dropped.
    /// - Retransmission: data entirely before the next expected byte is `retransmission` and
    ///   dropped (the bytes were delivered or skipped already and are not kept to compare);
    ///   data straddling it is `partial_retransmission` and only the new tail is used.
    /// - In order: delivered straight from `seg.payload` (no copy), interleaved with any
    ///   buffered bytes it overlaps (first copy wins), then buffered segments that became
    ///   contiguous follow.
    /// - Out of order: the parts not already buffered are copied into the buffer, charged to
    ///   `depth_bytes`, `max_segments` and `mem`. Overlaps keep the first copy and count
    ///   `overlap_same` or `overlap_differs`. At a limit the hit is counted and the first hole
    ///   is skipped ([`GapReason::Limit`]) instead of growing. At the segment limit, adjacent
    ///   buffered segments are first merged if at least `max_segments / 16` insertions were
    ///   adjacent to a held segment since the last merge (so merging, which copies the merged
    ///   runs and briefly holds their size again uncharged, is amortised over many insertions). Afterwards, while more than `gap_skip_bytes` are
    ///   buffered, the first hole is skipped ([`GapReason::Threshold`]).
    /// - Snap length: the captured bytes are placed, then the `missing_bytes` after them are
    ///   skipped as a [`GapReason::Truncated`] gap if the stream has reached them; if the segment
    ///   was out of order they stay a hole, skipped later by ack, limit or flush.
    /// - FIN: the stream ends at the FIN's sequence number (the first FIN wins); bytes at or
    ///   after it, buffered or arriving, are dropped (`data_after_fin`). [`Chunk::Fin`] is emitted
    ///   once every byte before it was delivered or skipped.
    /// - RST: its payload is diagnostic text, not stream data (RFC 9293 §3.5.3). If in window,
    ///   buffered bytes behind holes are discarded, [`Chunk::Rst`] is emitted and the stream
    ///   ends; later segments are counted as `data_after_close`. A RST out of window is counted
    ///   and ignored, so a forged far-off RST cannot end inspection. A RST after the FIN was
    ///   delivered ends the stream silently.
    pub fn on_segment(
        &mut self,
        seg: &Segment<'_>,
        mem: &mut Memory,
        limits: &Limits,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        bump(&mut self.stats.segments, 1);
        let data_len = len_u64(seg.payload).saturating_add(u64::from(seg.missing_bytes));
        let carries = data_len > 0 || seg.fin;
        match self.phase {
            Phase::Ended => {
                if carries {
                    bump(&mut self.stats.data_after_close, 1);
                }
                return;
            }
            Phase::Unanchored => {
                if seg.syn {
                    self.isn = seg.seq.wrapping_add(1);
                } else if seg.rst {
                    self.end_with_rst(mem, out);
                    return;
                } else if carries {
                    self.isn = seg.seq;
                } else {
                    return;
                }
                self.phase = Phase::Open;
            }
            Phase::Finished | Phase::Open => {
                if seg.syn {
                    self.on_repeated_syn(seg.seq);
                }
            }
        }
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let Some(start) = self.offset_of(data_seq) else {
            bump(&mut self.stats.out_of_window, 1);
            return;
        };
        if seg.rst {
            if self.phase == Phase::Open {
                self.end_with_rst(mem, out);
            } else {
                self.phase = Phase::Ended;
            }
            return;
        }
        let Some(end) = i64::try_from(data_len)
            .ok()
            .and_then(|len| start.checked_add(len))
        else {
            bump(&mut self.stats.out_of_window, 1);
            return;
        };
        if seg.fin {
            self.note_fin(end, mem);
        }
        if data_len > 0 {
            self.place_segment(seg.payload, start, end, mem, limits, out);
        }
        self.skip_over_threshold(limits, mem, out);
        self.finish_if_done(out);
    }

    /// The peer acknowledged everything before sequence number `ack` in this direction.
    ///
    /// If bytes are buffered beyond a hole and the peer acknowledged past the hole, the
    /// receiver got the hole's bytes and only the capture missed them: every hole before the
    /// last held byte at or below the acknowledged point (or before the FIN, if acknowledged)
    /// is skipped as a [`GapReason::Ack`] gap and the held bytes are delivered. A hole with
    /// nothing held after it waits even if acknowledged, because a mirror port may deliver an
    /// ACK before the data it acknowledges; a later segment, another ack, or [`Stream::flush`]
    /// resolves it. `limits` is unused today; it keeps the call shape of
    /// [`Stream::on_segment`].
    pub fn on_peer_ack(
        &mut self,
        ack: u32,
        mem: &mut Memory,
        _limits: &Limits,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        if self.phase != Phase::Open {
            return;
        }
        let Some(acked) = self.offset_of(ack).and_then(|o| u64::try_from(o).ok()) else {
            return;
        };
        if acked <= self.next {
            return;
        }
        // Skip only holes that have held data (or the FIN) after them: the stretch after the
        // last held byte may still be in flight in the capture.
        let target = match self.fin {
            Some(fin) if fin <= acked => fin,
            _ => match self.buffered.range(..=acked).next_back() {
                Some((&offset, held)) => offset.saturating_add(len_u64(held)).min(acked),
                None => return,
            },
        };
        self.skip_to(target, GapReason::Ack, mem, out);
        self.finish_if_done(out);
    }

    /// The flow ended (timeout, eviction, shutdown): delivers everything buffered, skipping
    /// holes as [`GapReason::Flush`] gaps up to the FIN if one was seen (then emits
    /// [`Chunk::Fin`]) or to the end of the buffered bytes, and returns all memory. The stream
    /// is ended afterwards.
    pub fn flush(&mut self, mem: &mut Memory, out: &mut dyn FnMut(Chunk<'_>)) {
        if self.phase == Phase::Open {
            let buffered_end = self
                .buffered
                .last_key_value()
                .map(|(&offset, bytes)| offset.saturating_add(len_u64(bytes)));
            if let Some(target) = self.fin.or(buffered_end) {
                self.skip_to(target, GapReason::Flush, mem, out);
            }
            self.finish_if_done(out);
        }
        self.release(mem);
        if self.phase != Phase::Finished {
            self.phase = Phase::Ended;
        }
    }

    /// Drops the buffered bytes undelivered (counted in `discarded_bytes`) and returns their
    /// charge to `mem`. The stream stays usable; dropped bytes become holes.
    pub fn release(&mut self, mem: &mut Memory) {
        bump(&mut self.stats.discarded_bytes, self.buffered_bytes);
        self.buffered = BTreeMap::new();
        mem.release(self.charged_bytes);
        self.charged_bytes = 0;
        self.buffered_bytes = 0;
        self.joinable = 0;
    }

    /// Counters of this stream.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// Out-of-order payload bytes currently buffered.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered_bytes
    }

    /// Bytes this stream holds reserved in the worker's [`Memory`].
    pub fn charged_bytes(&self) -> u64 {
        self.charged_bytes
    }

    /// Offset of the next byte to deliver (bytes delivered plus bytes skipped).
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Whether the stream ended (FIN delivered, RST, or flushed).
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Ended | Phase::Finished)
    }

    /// Signed stream offset of sequence number `seq`, or `None` if it lies farther than
    /// [`MAX_WINDOW_BYTES`] from the next expected byte.
    fn offset_of(&self, seq: u32) -> Option<i64> {
        // Truncating the offset is the point: sequence space is the offset modulo 2^32.
        let next_seq = self.isn.wrapping_add(self.next as u32);
        // Serial-number arithmetic: reinterpreting the wrapped difference as signed gives the
        // shorter way round the circle.
        let delta = i64::from(seq.wrapping_sub(next_seq) as i32);
        if delta.unsigned_abs() > u64::from(MAX_WINDOW_BYTES) {
            return None;
        }
        i64::try_from(self.next).ok()?.checked_add(delta)
    }

    fn on_repeated_syn(&mut self, seq: u32) {
        let isn = seq.wrapping_add(1);
        if isn == self.isn {
            return;
        }
        let untouched = self.phase == Phase::Open
            && self.next == 0
            && self.buffered.is_empty()
            && self.fin.is_none();
        if untouched {
            self.isn = isn;
            bump(&mut self.stats.isn_reset, 1);
        }
    }

    /// Records the FIN at offset `at` (first FIN wins) and drops buffered bytes beyond it.
    fn note_fin(&mut self, at: i64, mem: &mut Memory) {
        if self.fin.is_some() {
            return;
        }
        let Ok(at) = u64::try_from(at) else {
            return;
        };
        if at < self.next {
            // A FIN before bytes already delivered contradicts the stream; keep the stream.
            return;
        }
        self.fin = Some(at);
        let mut dropped = 0u64;
        let mut dropped_segments = 0u64;
        for (_, bytes) in self.buffered.split_off(&at) {
            dropped = dropped.saturating_add(len_u64(&bytes));
            dropped_segments = dropped_segments.saturating_add(1);
        }
        let mut trimmed = 0u64;
        if let Some(mut last) = self.buffered.last_entry() {
            let offset = *last.key();
            let keep = at.saturating_sub(offset);
            let len = len_u64(last.get());
            if keep < len {
                let kept: Box<[u8]> = usize::try_from(keep)
                    .ok()
                    .and_then(|k| last.get().get(..k))
                    .unwrap_or_default()
                    .into();
                *last.get_mut() = kept;
                trimmed = len.saturating_sub(keep);
            }
        }
        self.unaccount(dropped, dropped_segments, mem);
        self.unaccount(trimmed, 0, mem);
        let total = dropped.saturating_add(trimmed);
        if total > 0 {
            bump(&mut self.stats.discarded_bytes, total);
            bump(&mut self.stats.data_after_fin, 1);
        }
    }

    /// Classifies a data segment spanning offsets `start..end` (captured payload first, then
    /// the bytes the snap length cut) and places its new bytes.
    fn place_segment(
        &mut self,
        payload: &[u8],
        start: i64,
        end: i64,
        mem: &mut Memory,
        limits: &Limits,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let (Ok(next), Ok(payload_len)) = (i64::try_from(self.next), i64::try_from(payload.len()))
        else {
            return;
        };
        let Some(cut) = start.checked_add(payload_len) else {
            return;
        };
        let mut data_end = end;
        if let Some(fin) = self.fin.and_then(|f| i64::try_from(f).ok()) {
            if end > fin {
                bump(&mut self.stats.data_after_fin, 1);
                data_end = fin.max(start);
            }
        }
        if data_end <= next {
            if start < data_end {
                bump(&mut self.stats.retransmission, 1);
            }
            return;
        }
        if start < next {
            bump(&mut self.stats.partial_retransmission, 1);
        } else if start > next {
            bump(&mut self.stats.out_of_order, 1);
        }
        let from = start.max(next);
        let to = cut.min(data_end);
        if from < to {
            let bytes = usize::try_from(from.saturating_sub(start))
                .ok()
                .zip(usize::try_from(to.saturating_sub(start)).ok())
                .and_then(|(a, b)| payload.get(a..b));
            if let (Some(bytes), Ok(at)) = (bytes, u64::try_from(from)) {
                let mut overlap = Overlap::default();
                self.place(bytes, at, mem, limits, out, &mut overlap);
                if overlap.differs {
                    bump(&mut self.stats.overlap_differs, 1);
                } else if overlap.same {
                    bump(&mut self.stats.overlap_same, 1);
                }
            }
        }
        if cut < data_end {
            bump(&mut self.stats.truncated, 1);
            let reached = i64::try_from(self.next).is_ok_and(|n| n >= cut);
            if let (true, Ok(target)) = (reached, u64::try_from(data_end)) {
                self.skip_to(target, GapReason::Truncated, mem, out);
            }
        }
    }

    /// Places `data` (stream offsets `at..`), which ends after the next expected byte:
    /// delivers it if it starts there, otherwise buffers the parts not yet held.
    fn place(
        &mut self,
        data: &[u8],
        at: u64,
        mem: &mut Memory,
        limits: &Limits,
        out: &mut dyn FnMut(Chunk<'_>),
        overlap: &mut Overlap,
    ) {
        let Some(end) = at.checked_add(len_u64(data)) else {
            return;
        };
        let mut cursor = at.max(self.next);
        while cursor < end {
            if cursor <= self.next {
                self.deliver_from(data, at, mem, out, overlap);
                break;
            }
            // Bytes at `cursor` already buffered: the first copy wins, compare only.
            if let Some((&offset, held)) = self.buffered.range(..=cursor).next_back() {
                let held_end = offset.saturating_add(len_u64(held));
                if held_end > cursor {
                    let upto = held_end.min(end);
                    overlap.note(sub(data, at, cursor, upto), sub(held, offset, cursor, upto));
                    cursor = upto;
                    continue;
                }
            }
            // A new piece runs to the next buffered segment or the end of `data`.
            let piece_end = self
                .buffered
                .range(cursor..end)
                .next()
                .map_or(end, |(&offset, _)| offset);
            let Some(piece) = sub(data, at, cursor, piece_end) else {
                break;
            };
            if self.try_buffer(cursor, piece, mem, limits) {
                cursor = piece_end;
            } else {
                self.force_progress(cursor, mem, out);
                cursor = cursor.max(self.next);
            }
        }
    }

    /// Delivers `data` (stream offsets `at..`, starting at or before the next expected byte)
    /// from the next expected byte on, without copying, letting buffered bytes it overlaps
    /// win; then drains what became contiguous.
    fn deliver_from(
        &mut self,
        data: &[u8],
        at: u64,
        mem: &mut Memory,
        out: &mut dyn FnMut(Chunk<'_>),
        overlap: &mut Overlap,
    ) {
        let end = at.saturating_add(len_u64(data));
        while self.next < end {
            let next = self.next;
            match self.first_buffered() {
                Some(first) if first <= next => {
                    if let Some((offset, held)) = self.buffered.pop_first() {
                        let upto = offset.saturating_add(len_u64(&held)).min(end);
                        let from = next.max(offset);
                        overlap.note(sub(data, at, from, upto), sub(&held, offset, from, upto));
                        self.emit_buffered(offset, &held, mem, out);
                    }
                }
                Some(first) if first < end => {
                    let Some(piece) = sub(data, at, next, first) else {
                        break;
                    };
                    self.emit_data(piece, out);
                    self.next = first;
                }
                _ => {
                    let Some(piece) = sub(data, at, next, end) else {
                        break;
                    };
                    self.emit_data(piece, out);
                    self.next = end;
                }
            }
        }
        self.drain(mem, out);
    }

    /// Copies `piece` into the buffer at `at` if every limit allows; otherwise counts the
    /// limit hit and returns false.
    fn try_buffer(&mut self, at: u64, piece: &[u8], mem: &mut Memory, limits: &Limits) -> bool {
        let len = len_u64(piece);
        if self.buffered_bytes.saturating_add(len) > u64::from(limits.depth_bytes) {
            bump(&mut self.stats.depth_reached, 1);
            return false;
        }
        let max_segments = usize::try_from(limits.max_segments).unwrap_or(usize::MAX);
        if self.buffered.len() >= max_segments {
            self.compact(mem, limits);
            if self.buffered.len() >= max_segments {
                bump(&mut self.stats.segments_limit, 1);
                return false;
            }
        }
        let charge = len.saturating_add(SEGMENT_OVERHEAD_BYTES);
        if !mem.try_reserve(charge) {
            bump(&mut self.stats.memcap_hit, 1);
            return false;
        }
        let end = at.saturating_add(len);
        let joins_before = self
            .buffered
            .range(..at)
            .next_back()
            .is_some_and(|(&offset, held)| offset.saturating_add(len_u64(held)) == at);
        let joins_after = self.buffered.contains_key(&end);
        self.joinable = self
            .joinable
            .saturating_add(u32::from(joins_before) + u32::from(joins_after));
        self.buffered.insert(at, piece.into());
        self.buffered_bytes = self.buffered_bytes.saturating_add(len);
        self.charged_bytes = self.charged_bytes.saturating_add(charge);
        true
    }

    /// Merges runs of adjacent buffered segments into one segment each, if enough pairs are
    /// adjacent to make it worthwhile: a reversed or finely split stream fills `max_segments`
    /// with segments that would fit in a few.
    fn compact(&mut self, mem: &mut Memory, limits: &Limits) {
        let threshold = (limits.max_segments / 16).max(1);
        if self.joinable < threshold {
            return;
        }
        self.joinable = 0;
        let old = std::mem::take(&mut self.buffered);
        let mut merged = 0u64;
        let mut run: Option<(u64, Vec<u8>)> = None;
        for (offset, bytes) in old {
            match &mut run {
                Some((start, held)) if start.saturating_add(len_u64(held.as_slice())) == offset => {
                    held.extend_from_slice(&bytes);
                    merged = merged.saturating_add(1);
                }
                _ => {
                    if let Some((start, held)) = run.take() {
                        self.buffered.insert(start, held.into_boxed_slice());
                    }
                    run = Some((offset, bytes.into_vec()));
                }
            }
        }
        if let Some((start, held)) = run {
            self.buffered.insert(start, held.into_boxed_slice());
        }
        if merged > 0 {
            bump(&mut self.stats.compactions, 1);
            self.unaccount(0, merged, mem);
        }
    }

    /// A limit refused to buffer bytes at `cursor`: skip the hole before the earliest byte
    /// held (buffered, or the refused piece itself) and deliver from there.
    fn force_progress(&mut self, cursor: u64, mem: &mut Memory, out: &mut dyn FnMut(Chunk<'_>)) {
        let target = self
            .first_buffered()
            .map_or(cursor, |first| first.min(cursor));
        self.skip_to(target, GapReason::Limit, mem, out);
    }

    /// While more than `gap_skip_bytes` are buffered, skips the first hole and delivers the
    /// run behind it.
    fn skip_over_threshold(
        &mut self,
        limits: &Limits,
        mem: &mut Memory,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        while self.buffered_bytes > u64::from(limits.gap_skip_bytes) {
            let Some(first) = self.first_buffered() else {
                break;
            };
            self.skip_to(first, GapReason::Threshold, mem, out);
        }
    }

    /// Advances the stream to offset `target`: buffered bytes on the way are delivered, holes
    /// are skipped as gaps of `reason`; then drains what is contiguous.
    fn skip_to(
        &mut self,
        target: u64,
        reason: GapReason,
        mem: &mut Memory,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        while self.next < target {
            match self.first_buffered() {
                Some(first) if first <= self.next => self.pop_and_deliver(mem, out),
                Some(first) => {
                    let to = first.min(target);
                    self.emit_gap(to.saturating_sub(self.next), reason, out);
                    self.next = to;
                }
                None => {
                    self.emit_gap(target.saturating_sub(self.next), reason, out);
                    self.next = target;
                }
            }
        }
        self.drain(mem, out);
    }

    /// Delivers buffered segments while the first one starts at the next expected byte.
    fn drain(&mut self, mem: &mut Memory, out: &mut dyn FnMut(Chunk<'_>)) {
        while self
            .first_buffered()
            .is_some_and(|first| first <= self.next)
        {
            self.pop_and_deliver(mem, out);
        }
    }

    fn pop_and_deliver(&mut self, mem: &mut Memory, out: &mut dyn FnMut(Chunk<'_>)) {
        if let Some((offset, held)) = self.buffered.pop_first() {
            self.emit_buffered(offset, &held, mem, out);
        }
    }

    /// Emits a segment just taken out of the buffer (only its part after the next expected
    /// byte, should the invariant ever not hold) and returns its charge.
    fn emit_buffered(
        &mut self,
        offset: u64,
        held: &[u8],
        mem: &mut Memory,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let len = len_u64(held);
        self.unaccount(len, 1, mem);
        let skip = usize::try_from(self.next.saturating_sub(offset)).unwrap_or(usize::MAX);
        if let Some(tail) = held.get(skip..) {
            self.emit_data(tail, out);
        }
        self.next = self.next.max(offset.saturating_add(len));
    }

    fn emit_data(&mut self, bytes: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        if bytes.is_empty() {
            return;
        }
        bump(&mut self.stats.bytes_delivered, len_u64(bytes));
        out(Chunk::Data(bytes));
    }

    fn emit_gap(&mut self, len: u64, reason: GapReason, out: &mut dyn FnMut(Chunk<'_>)) {
        if len == 0 {
            return;
        }
        bump(&mut self.stats.gaps, 1);
        bump(&mut self.stats.gap_bytes, len);
        let per_reason = match reason {
            GapReason::Ack => &mut self.stats.gaps_ack,
            GapReason::Flush => &mut self.stats.gaps_flush,
            GapReason::Limit => &mut self.stats.gaps_limit,
            GapReason::Threshold => &mut self.stats.gaps_threshold,
            GapReason::Truncated => &mut self.stats.gaps_truncated,
        };
        bump(per_reason, 1);
        out(Chunk::Gap(len));
    }

    fn finish_if_done(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        if self.phase == Phase::Open && self.fin == Some(self.next) {
            self.phase = Phase::Finished;
            out(Chunk::Fin);
        }
    }

    fn end_with_rst(&mut self, mem: &mut Memory, out: &mut dyn FnMut(Chunk<'_>)) {
        self.release(mem);
        self.phase = Phase::Ended;
        out(Chunk::Rst);
    }

    fn first_buffered(&self) -> Option<u64> {
        self.buffered.first_key_value().map(|(&offset, _)| offset)
    }

    /// Takes `payload` bytes and `segments` segment overheads off the buffer's accounting and
    /// returns their charge to `mem`.
    fn unaccount(&mut self, payload: u64, segments: u64, mem: &mut Memory) {
        let charge = payload.saturating_add(segments.saturating_mul(SEGMENT_OVERHEAD_BYTES));
        self.buffered_bytes = self.buffered_bytes.saturating_sub(payload);
        self.charged_bytes = self.charged_bytes.saturating_sub(charge);
        mem.release(charge);
    }
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new()
    }
}

/// Adds to a counter; counters saturate rather than wrap or panic.
fn bump(counter: &mut u64, by: u64) {
    *counter = counter.saturating_add(by);
}

/// Length as u64; a slice length always fits on supported (32- and 64-bit) targets.
fn len_u64(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

/// The bytes of `buf` (which starts at stream offset `base`) for offsets `from..to`.
fn sub(buf: &[u8], base: u64, from: u64, to: u64) -> Option<&[u8]> {
    let a = usize::try_from(from.checked_sub(base)?).ok()?;
    let b = usize::try_from(to.checked_sub(base)?).ok()?;
    buf.get(a..b)
}
