//! The per-flow packet ring and the per-worker memory budget it draws from.
//!
//! Until a flow matches, [`FlowRing`] keeps its most recent frames (capture time, link
//! type, captured bytes, wire length) up to `ring_bytes`, dropping the oldest when a new
//! frame does not fit. Every byte held (frame bytes plus [`PACKET_OVERHEAD_BYTES`] per
//! frame) is charged to the worker's [`RingPool`]; when the pool's budget is spent the
//! ring gives up its own oldest frames, and a ring with nothing left to give drops the
//! new frame. Both cases are counted. A ring costs nothing until its first frame: its
//! buffers come from the pool's free list (or are allocated then) and go back to it when
//! the flow's evidence has been handed over.

use std::collections::VecDeque;

use crate::capture::{Frame, Timestamp};

/// Bytes charged per buffered frame on top of its captured bytes: the [`PacketMeta`]
/// kept beside it, so a flood of tiny frames cannot hide behind a byte budget.
pub const PACKET_OVERHEAD_BYTES: usize = std::mem::size_of::<PacketMeta>();
/// Recycled ring buffers kept per worker: enough for the flows that start between two
/// flow ends on a busy link, small enough that idle buffers cost little.
const MAX_FREE_BUFFERS: usize = 64;

/// What is kept of one frame besides its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    pub ts: Timestamp,
    /// pcap LINKTYPE_* value.
    pub link_type: u32,
    /// Captured bytes stored for this frame.
    pub caplen: u32,
    /// Length on the wire (at least `caplen` when written).
    pub wire_len: u32,
}

/// Frames stored back to back, with optional per-frame comments: the unit handed from a
/// worker to the evidence writer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketBatch {
    meta: Vec<PacketMeta>,
    data: Vec<u8>,
    /// (index into `meta`, text) in index order.
    comments: Vec<(u32, String)>,
}

impl PacketBatch {
    pub fn new() -> PacketBatch {
        PacketBatch::default()
    }

    /// Appends a copy of a frame.
    pub fn push(&mut self, frame: &Frame<'_>) {
        self.meta.push(PacketMeta {
            ts: frame.ts,
            link_type: frame.link_type,
            caplen: frame.data.len() as u32,
            wire_len: frame.wire_len,
        });
        self.data.extend_from_slice(frame.data);
    }

    /// Attaches a comment to the last frame (no-op when empty).
    pub fn comment_last(&mut self, text: &str) {
        if let Some(last) = self.meta.len().checked_sub(1) {
            self.comments.push((last as u32, text.to_string()));
        }
    }

    /// Frames in the batch.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Captured bytes in the batch.
    pub fn data_bytes(&self) -> usize {
        self.data.len()
    }

    /// Bytes charged for this batch: data plus per-frame overhead.
    pub fn charged_bytes(&self) -> usize {
        self.data.len() + self.meta.len() * PACKET_OVERHEAD_BYTES
    }

    /// Frames in order: metadata, captured bytes and comment.
    pub fn iter(&self) -> impl Iterator<Item = (&PacketMeta, &[u8], Option<&str>)> + '_ {
        let mut offset = 0usize;
        let mut comments = self.comments.iter().peekable();
        self.meta.iter().enumerate().map(move |(i, meta)| {
            let end = offset + meta.caplen as usize;
            // Offsets were built from the same lengths in `push`, so the range holds.
            let data = self.data.get(offset..end).unwrap_or(&[]);
            offset = end;
            let comment = match comments.peek() {
                Some((at, text)) if *at as usize == i => {
                    comments.next();
                    Some(text.as_str())
                }
                _ => None,
            };
            (meta, data, comment)
        })
    }
}

/// Worker-local evidence counters (summed across workers by the caller).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Oldest frames dropped because a ring was full.
    pub ring_overflow_packets: u64,
    pub ring_overflow_bytes: u64,
    /// Frames not kept (or older ones given up) because the worker's budget was spent.
    pub pool_exhausted_packets: u64,
    /// Frames larger than a whole ring.
    pub ring_packet_too_large: u64,
    /// Flows whose evidence was started.
    pub flows_matched: u64,
    /// Flows that reached the per-flow evidence cap.
    pub flow_cap_hits: u64,
    /// Batches, frames and captured bytes handed to the evidence writer.
    pub batches_sent: u64,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Batches (and their frames) dropped because the evidence queue was full.
    pub queue_full_batches: u64,
    pub queue_full_packets: u64,
    /// Open/close messages dropped because the worker's backlog was full too.
    pub backlog_overflow: u64,
    /// The writer has gone away (shutdown or crash); evidence is no longer written.
    pub writer_gone: u64,
    /// Bytes of the budget in use now, and the most ever.
    pub pool_in_use_bytes: u64,
    pub pool_peak_bytes: u64,
}

impl TapStats {
    /// Adds another worker's counters (gauges add up too: each worker has its own pool).
    pub fn add(&mut self, other: &TapStats) {
        self.ring_overflow_packets += other.ring_overflow_packets;
        self.ring_overflow_bytes += other.ring_overflow_bytes;
        self.pool_exhausted_packets += other.pool_exhausted_packets;
        self.ring_packet_too_large += other.ring_packet_too_large;
        self.flows_matched += other.flows_matched;
        self.flow_cap_hits += other.flow_cap_hits;
        self.batches_sent += other.batches_sent;
        self.packets_sent += other.packets_sent;
        self.bytes_sent += other.bytes_sent;
        self.queue_full_batches += other.queue_full_batches;
        self.queue_full_packets += other.queue_full_packets;
        self.backlog_overflow += other.backlog_overflow;
        self.writer_gone += other.writer_gone;
        self.pool_in_use_bytes += other.pool_in_use_bytes;
        self.pool_peak_bytes += other.pool_peak_bytes;
    }

    /// Every non-zero drop counter as (kind, count), for the run summary.
    pub fn anomalies(&self) -> Vec<(&'static str, u64)> {
        [
            ("ring_overflow_packets", self.ring_overflow_packets),
            ("pool_exhausted_packets", self.pool_exhausted_packets),
            ("ring_packet_too_large", self.ring_packet_too_large),
            ("flow_cap_hits", self.flow_cap_hits),
            ("queue_full_packets", self.queue_full_packets),
            ("backlog_overflow", self.backlog_overflow),
            ("writer_gone", self.writer_gone),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// One worker's budget for ring memory, and its recycled buffers.
#[derive(Debug)]
pub struct RingPool {
    /// Most bytes all rings (and pending post-match batches) of this worker may hold.
    cap_bytes: usize,
    /// Most bytes one ring may hold.
    ring_bytes: usize,
    in_use: usize,
    free_meta: Vec<VecDeque<PacketMeta>>,
    free_data: Vec<VecDeque<u8>>,
    pub(crate) stats: TapStats,
}

impl RingPool {
    /// A pool of `cap_bytes` for rings of `ring_bytes` each.
    pub fn new(cap_bytes: usize, ring_bytes: usize) -> RingPool {
        RingPool {
            cap_bytes,
            ring_bytes,
            in_use: 0,
            free_meta: Vec::new(),
            free_data: Vec::new(),
            stats: TapStats::default(),
        }
    }

    /// Bytes charged now.
    pub fn in_use_bytes(&self) -> usize {
        self.in_use
    }

    pub fn cap_bytes(&self) -> usize {
        self.cap_bytes
    }

    pub fn ring_bytes(&self) -> usize {
        self.ring_bytes
    }

    /// Counters, with the gauges filled in.
    pub fn stats(&self) -> TapStats {
        let mut stats = self.stats.clone();
        stats.pool_in_use_bytes = self.in_use as u64;
        stats
    }

    fn try_charge(&mut self, bytes: usize) -> bool {
        if self.in_use + bytes > self.cap_bytes {
            return false;
        }
        self.in_use += bytes;
        self.stats.pool_peak_bytes = self.stats.pool_peak_bytes.max(self.in_use as u64);
        true
    }

    fn release(&mut self, bytes: usize) {
        self.in_use = self.in_use.saturating_sub(bytes);
    }

    fn recycle(&mut self, mut meta: VecDeque<PacketMeta>, mut data: VecDeque<u8>) {
        meta.clear();
        data.clear();
        // Only buffers about the size of a ring (capacity grows by doubling) come back;
        // the rest are freed.
        if self.free_meta.len() < MAX_FREE_BUFFERS
            && meta.capacity() > 0
            && data.capacity() <= 2 * self.ring_bytes
        {
            self.free_meta.push(meta);
            self.free_data.push(data);
        }
    }
}

/// Where a flow's evidence stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RingState {
    /// Keeping the latest frames in case the flow matches.
    #[default]
    Buffering,
    /// The per-flow cap was reached: the file is closed, later frames are ignored.
    Capped,
    /// The flow has ended and its evidence (if any) was handed over.
    Done,
    /// Matched: frames go to the evidence writer in batches.
    Streaming,
}

/// A flow's frames before and after its match. Keep one per flow (in the flow's state);
/// it allocates nothing until its first frame, and an idle one is a few dozen bytes.
#[derive(Debug, Default)]
pub struct FlowRing {
    meta: VecDeque<PacketMeta>,
    data: VecDeque<u8>,
    /// Bytes charged to the pool for `meta` and `data`.
    charged: usize,
    pub(crate) state: RingState,
    /// Set when the flow matched.
    pub(crate) stream: Option<Box<Streaming>>,
}

/// What a matched flow's ring keeps.
#[derive(Debug, Default)]
pub(crate) struct Streaming {
    pub flow_id: u64,
    /// Path of the evidence file relative to the evidence root.
    pub path: Box<str>,
    /// Post-match frames not yet handed over (charged to the pool).
    pub pending: PacketBatch,
    /// Index (within the flow's evidence) of the first frame of `pending`.
    pub pending_index: u64,
    /// Frames and captured bytes accepted for evidence so far, handed over or pending.
    pub evidence_packets: u64,
    pub evidence_bytes: u64,
}

impl Streaming {
    /// Charges the pool for a post-match frame and appends it to `pending`; false when
    /// the budget is spent (the caller hands `pending` over and tries again).
    pub(crate) fn append(&mut self, pool: &mut RingPool, frame: &Frame<'_>) -> bool {
        if !pool.try_charge(frame.data.len() + PACKET_OVERHEAD_BYTES) {
            return false;
        }
        self.pending.push(frame);
        true
    }

    /// Takes `pending` out for sending and releases its charge.
    pub(crate) fn take(&mut self, pool: &mut RingPool) -> PacketBatch {
        pool.release(self.pending.charged_bytes());
        let batch = std::mem::take(&mut self.pending);
        self.pending_index += batch.len() as u64;
        batch
    }
}

impl FlowRing {
    pub fn new() -> FlowRing {
        FlowRing::default()
    }

    pub fn state(&self) -> RingState {
        self.state
    }

    /// Frames held in the ring (before the match).
    pub fn buffered_packets(&self) -> usize {
        self.meta.len()
    }

    /// Bytes held and charged (frames plus overhead).
    pub fn buffered_bytes(&self) -> usize {
        self.charged
    }

    /// The evidence file's path relative to the evidence root, once the flow matched.
    /// The same path ends up in the writer's report unless a name collision forced a
    /// suffix.
    pub fn evidence_path(&self) -> Option<&str> {
        self.stream.as_deref().map(|s| &*s.path)
    }

    /// Keeps a frame while buffering (the caller handles the other states).
    pub(crate) fn buffer(&mut self, pool: &mut RingPool, frame: &Frame<'_>) {
        let need = frame.data.len() + PACKET_OVERHEAD_BYTES;
        if need > pool.ring_bytes {
            pool.stats.ring_packet_too_large += 1;
            return;
        }
        while self.charged + need > pool.ring_bytes {
            match self.pop_oldest(pool) {
                Some(bytes) => {
                    pool.stats.ring_overflow_packets += 1;
                    pool.stats.ring_overflow_bytes += bytes as u64;
                }
                None => break,
            }
        }
        while !pool.try_charge(need) {
            if self.pop_oldest(pool).is_none() {
                pool.stats.pool_exhausted_packets += 1;
                return;
            }
            pool.stats.pool_exhausted_packets += 1;
        }
        if self.meta.capacity() == 0 {
            if let (Some(m), Some(d)) = (pool.free_meta.pop(), pool.free_data.pop()) {
                self.meta = m;
                self.data = d;
            }
        }
        self.meta.push_back(PacketMeta {
            ts: frame.ts,
            link_type: frame.link_type,
            caplen: frame.data.len() as u32,
            wire_len: frame.wire_len,
        });
        self.data.extend(frame.data);
        self.charged += need;
    }

    /// Moves the buffered frames into `batch` (which the caller has charged for) and
    /// gives the ring's buffers and charge back to the pool.
    pub(crate) fn drain_into(&mut self, pool: &mut RingPool, batch: &mut PacketBatch) {
        batch.meta.extend(self.meta.iter().copied());
        let (a, b) = self.data.as_slices();
        batch.data.extend_from_slice(a);
        batch.data.extend_from_slice(b);
        pool.release(self.charged);
        self.charged = 0;
        let meta = std::mem::take(&mut self.meta);
        let data = std::mem::take(&mut self.data);
        pool.recycle(meta, data);
    }

    /// Gives everything back to the pool without handing it over.
    pub(crate) fn discard(&mut self, pool: &mut RingPool) {
        pool.release(self.charged);
        self.charged = 0;
        let meta = std::mem::take(&mut self.meta);
        let data = std::mem::take(&mut self.data);
        pool.recycle(meta, data);
        if let Some(stream) = &mut self.stream {
            pool.release(stream.pending.charged_bytes());
            stream.pending = PacketBatch::new();
        }
    }

    /// Removes the oldest frame; returns its captured length, or `None` when empty.
    fn pop_oldest(&mut self, pool: &mut RingPool) -> Option<usize> {
        let meta = self.meta.pop_front()?;
        let len = meta.caplen as usize;
        self.data.drain(..len.min(self.data.len()));
        let bytes = len + PACKET_OVERHEAD_BYTES;
        self.charged = self.charged.saturating_sub(bytes);
        pool.release(bytes);
        Some(len)
    }

    #[cfg(test)]
    pub(crate) fn frames(&self) -> Vec<(PacketMeta, Vec<u8>)> {
        let mut out = Vec::new();
        let mut offset = 0;
        for meta in &self.meta {
            let end = offset + meta.caplen as usize;
            out.push((*meta, self.data.range(offset..end).copied().collect()));
            offset = end;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ts: i64, data: &[u8]) -> Frame<'_> {
        Frame {
            ts: Timestamp::from_micros(ts),
            link_type: 1,
            data,
            wire_len: data.len() as u32 + 4,
        }
    }

    #[test]
    fn ring_drops_oldest_on_overflow_and_counts() {
        let ring_bytes = 3 * (100 + PACKET_OVERHEAD_BYTES);
        let mut pool = RingPool::new(1 << 20, ring_bytes);
        let mut ring = FlowRing::new();
        let payloads: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 100]).collect();
        for (i, p) in payloads.iter().enumerate() {
            ring.buffer(&mut pool, &frame(i as i64, p));
        }
        let frames = ring.frames();
        assert_eq!(frames.len(), 3, "three 100-byte frames fit");
        assert_eq!(frames[0].1, payloads[2]);
        assert_eq!(frames[2].1, payloads[4]);
        assert_eq!(frames[2].0.ts, Timestamp::from_micros(4));
        assert_eq!(frames[2].0.wire_len, 104);
        assert_eq!(pool.stats.ring_overflow_packets, 2);
        assert_eq!(pool.stats.ring_overflow_bytes, 200);
        assert_eq!(pool.in_use_bytes(), ring_bytes);
        assert_eq!(ring.buffered_bytes(), ring_bytes);
    }

    #[test]
    fn oversized_frame_is_counted_not_kept() {
        let mut pool = RingPool::new(1 << 20, 200);
        let mut ring = FlowRing::new();
        ring.buffer(&mut pool, &frame(1, &[1; 50]));
        ring.buffer(&mut pool, &frame(2, &[2; 500]));
        assert_eq!(ring.buffered_packets(), 1);
        assert_eq!(pool.stats.ring_packet_too_large, 1);
    }

    #[test]
    fn pool_budget_caps_all_rings_of_a_worker() {
        let per = 100 + PACKET_OVERHEAD_BYTES;
        // Room for 4 frames in the whole pool, 3 per ring.
        let mut pool = RingPool::new(4 * per, 3 * per);
        let mut a = FlowRing::new();
        let mut b = FlowRing::new();
        let mut c = FlowRing::new();
        for i in 0..3 {
            a.buffer(&mut pool, &frame(i, &[1; 100]));
        }
        b.buffer(&mut pool, &frame(10, &[2; 100]));
        assert_eq!(pool.in_use_bytes(), 4 * per);
        // The pool is spent: c has nothing of its own to give up, so its frame is dropped.
        c.buffer(&mut pool, &frame(20, &[3; 100]));
        assert_eq!(c.buffered_packets(), 0);
        assert_eq!(pool.stats.pool_exhausted_packets, 1);
        // b gives up its own oldest frame to keep its newest.
        b.buffer(&mut pool, &frame(11, &[4; 100]));
        assert_eq!(b.buffered_packets(), 1);
        assert_eq!(b.frames()[0].1, vec![4; 100]);
        assert_eq!(pool.stats.pool_exhausted_packets, 2);
        assert!(pool.in_use_bytes() <= pool.cap_bytes());
        assert_eq!(pool.stats.pool_peak_bytes, 4 * per as u64);
        // Ending a flow gives its budget back and its buffers to the free list.
        a.discard(&mut pool);
        assert_eq!(pool.in_use_bytes(), per);
        assert_eq!(pool.free_meta.len(), 1);
        c.buffer(&mut pool, &frame(21, &[5; 100]));
        assert_eq!(c.buffered_packets(), 1);
        assert_eq!(pool.free_meta.len(), 0, "c reused a's buffers");
    }

    #[test]
    fn draining_preserves_order_across_the_ring_wrap() {
        let per = 10 + PACKET_OVERHEAD_BYTES;
        let mut pool = RingPool::new(1 << 20, 4 * per);
        let mut ring = FlowRing::new();
        for i in 0..11u8 {
            ring.buffer(&mut pool, &frame(i64::from(i), &[i; 10]));
        }
        let mut batch = PacketBatch::new();
        ring.drain_into(&mut pool, &mut batch);
        let got: Vec<(i64, Vec<u8>)> = batch
            .iter()
            .map(|(m, d, _)| (m.ts.as_micros(), d.to_vec()))
            .collect();
        let want: Vec<(i64, Vec<u8>)> = (7..11u8).map(|i| (i64::from(i), vec![i; 10])).collect();
        assert_eq!(got, want);
        assert_eq!(pool.in_use_bytes(), 0);
        assert_eq!(ring.buffered_packets(), 0);
    }

    #[test]
    fn an_idle_ring_is_small() {
        assert!(
            std::mem::size_of::<FlowRing>() <= 96,
            "{}",
            std::mem::size_of::<FlowRing>()
        );
    }

    #[test]
    fn batch_comments_attach_to_their_frame() {
        let mut batch = PacketBatch::new();
        batch.comment_last("ignored: empty");
        batch.push(&frame(1, &[1]));
        batch.push(&frame(2, &[2, 2]));
        batch.comment_last("match");
        batch.push(&frame(3, &[3]));
        let comments: Vec<Option<&str>> = batch.iter().map(|(_, _, c)| c).collect();
        assert_eq!(comments, [None, Some("match"), None]);
        assert_eq!(batch.data_bytes(), 4);
    }
}
