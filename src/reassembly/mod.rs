//! Per-direction TCP stream reassembly for a passive observer on a mirror port.
//!
//! **Owns**: one [`Stream`] per direction of a TCP flow (the flow layer holds two, client to
//! server and server to client), the out-of-order bytes it buffers, and the per-worker
//! [`Memory`] budget those buffers are charged against.
//!
//! **Takes**: TCP segments as [`Segment`] views (sequence number, SYN/FIN/RST flags, the
//! captured payload and how many payload bytes the snap length cut off), the peer's
//! acknowledgement numbers ([`Stream::on_peer_ack`]), and the end of the flow
//! ([`Stream::flush`] or [`Stream::release`]).
//!
//! **Emits**: an ordered sequence of [`Chunk`]s through a caller-supplied callback: stream bytes
//! in order ([`Chunk::Data`], borrowed from the caller's packet on the in-order path, so the
//! common case copies nothing), explicit holes ([`Chunk::Gap`] with the number of bytes
//! skipped, so parsers can resynchronise or give up instead of misparsing), and the end of the
//! stream ([`Chunk::Fin`] or [`Chunk::Rst`]). Counters per stream ([`StreamStats`]) name every
//! retransmission, overlap, gap, limit hit and drop.
//!
//! **Limits** ([`Limits`]): out-of-order bytes and segments buffered per direction, a global
//! memory cap per worker, and a threshold of buffered bytes past which a hole is given up on.
//! At any limit the stream never grows: it counts the hit and forces progress by skipping the
//! first hole (a [`Chunk::Gap`]) and delivering what is buffered behind it.
//!
//! **Must not**: panic on any input, allocate on the in-order path, keep memory it has not
//! charged to [`Memory`], read the clock, or call back into the flow table. It does not
//! validate TCP beyond sequence plausibility: a passive observer sees neither endpoint's
//! receive window exactly, so the policy here is "what the receiver most likely accepted".
//!
//! Policy choices, each with its reason:
//! - Overlaps: the first bytes seen for an offset win (the buffered copy, or the bytes already
//!   delivered). Differing overlaps are counted as `overlap_differs`, a known evasion signal
//!   (Ptacek and Newsham, 1998); we cannot know which copy the receiver kept, so we stay
//!   consistent and report it.
//! - Sequence space: 32-bit sequence numbers wrap (RFC 9293 §3.4); each stream maps them to a
//!   64-bit offset from its initial sequence number by the signed distance from the next
//!   expected byte, and drops segments more than [`MAX_WINDOW_BYTES`] away (RFC 7323 §2.3 caps
//!   a window at 2^30 bytes, so nothing farther can be in flight).
//! - Statistics are kept per stream so the flow layer can note anomalies on the flow record
//!   (an `overlap_differs` on one flow is evidence about that flow); the caller folds them into
//!   worker totals with [`StreamStats::merge`].

mod memory;
mod stream;
#[cfg(test)]
mod tests;

pub use memory::Memory;
pub use stream::Stream;

/// Default for [`Limits::depth_bytes`]: 1 MiB of out-of-order bytes per direction. A lossy
/// mirror port on a phone's Wi-Fi link rarely has more than a few hundred KiB in flight
/// behind one hole; more than this is almost always a capture loss that will never be filled.
pub const DEFAULT_DEPTH_BYTES: u32 = 1 << 20;

/// Default for [`Limits::max_segments`]: 1024 out-of-order segments per direction. Bounds the
/// per-segment bookkeeping independently of bytes, so a peer sending tiny segments with holes
/// between them cannot make the buffer index large. 1 MiB of full-size (1460-byte) segments
/// is about 720 segments, so the default does not bind before the depth does in normal traffic.
pub const DEFAULT_MAX_SEGMENTS: u32 = 1024;

/// Default for [`Limits::memcap_bytes`]: 256 MiB of buffered out-of-order data per worker,
/// across all its flows. Worst case is a few hundred flows each holding a full depth; the
/// machine has 24 GiB shared by all workers and the other stages.
pub const DEFAULT_MEMCAP_BYTES: u64 = 256 << 20;

/// Default for [`Limits::gap_skip_bytes`]: once more than 256 KiB wait behind a hole, the hole
/// is skipped. Tradeoff: a larger value waits longer for a late retransmission (fewer gaps,
/// more memory, later detection); a smaller value reports sooner and holds less memory, but
/// gives up on holes that a slow retransmission (a receiver's RTO can exceed a second) would
/// still have filled. 256 KiB is roughly a full 64 KiB window four times over, well beyond
/// what a retransmission needs to catch up on a phone link.
pub const DEFAULT_GAP_SKIP_BYTES: u32 = 256 << 10;

/// Farthest distance, in bytes, that a segment may lie from the next expected byte, in either
/// direction, to be placed in the stream. RFC 7323 §2.3 limits the scaled window to 2^30
/// bytes, so a segment farther away than that cannot belong to this connection's current
/// window; it is dropped and counted as `out_of_window`.
pub const MAX_WINDOW_BYTES: u32 = 1 << 30;

/// Bytes charged to [`Memory`] per buffered segment on top of its payload: the map entry
/// (64-bit offset and boxed slice pointer, 24 bytes), B-tree node slack and the allocator's own
/// header. An estimate, so many tiny segments cannot hide their real cost behind a byte count.
pub const SEGMENT_OVERHEAD_BYTES: u64 = 48;

/// Errors of this module. Reassembly itself never fails (every odd input is counted instead);
/// only a [`Limits`] can be invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A limit is above the value it may take.
    #[error("{key} is {value}, above its maximum {max}")]
    LimitTooLarge {
        /// Config key of the limit.
        key: &'static str,
        /// Configured value.
        value: u64,
        /// Largest accepted value.
        max: u64,
    },
}

/// Bounds on the out-of-order data a stream may buffer. Values come from the runtime config
/// at worker start; see each `DEFAULT_*` for the reason behind the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum out-of-order payload bytes buffered per direction (`reassembly_depth_bytes`).
    pub depth_bytes: u32,
    /// Maximum out-of-order segments buffered per direction (`reassembly_max_segments`).
    pub max_segments: u32,
    /// Global budget per worker for buffered data, payload plus [`SEGMENT_OVERHEAD_BYTES`] per
    /// segment (`reassembly_memcap_bytes`). Used to build the worker's [`Memory`].
    pub memcap_bytes: u64,
    /// Once more than this many out-of-order bytes are buffered, the first hole is skipped
    /// (`reassembly_gap_skip_bytes`). At most `depth_bytes`.
    pub gap_skip_bytes: u32,
}

impl Limits {
    /// Checks the cross-field rules: the depth is at most [`MAX_WINDOW_BYTES`] (more cannot be
    /// in flight) and the gap-skip threshold is at most the depth (otherwise it never fires).
    pub fn validate(&self) -> Result<(), Error> {
        if self.depth_bytes > MAX_WINDOW_BYTES {
            return Err(Error::LimitTooLarge {
                key: "reassembly.depth_bytes",
                value: u64::from(self.depth_bytes),
                max: u64::from(MAX_WINDOW_BYTES),
            });
        }
        if self.gap_skip_bytes > self.depth_bytes {
            return Err(Error::LimitTooLarge {
                key: "reassembly.gap_skip_bytes",
                value: u64::from(self.gap_skip_bytes),
                max: u64::from(self.depth_bytes),
            });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth_bytes: DEFAULT_DEPTH_BYTES,
            max_segments: DEFAULT_MAX_SEGMENTS,
            memcap_bytes: DEFAULT_MEMCAP_BYTES,
            gap_skip_bytes: DEFAULT_GAP_SKIP_BYTES,
        }
    }
}

/// One TCP segment of this stream's direction, as decoded from a captured packet.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Sequence number from the TCP header.
    pub seq: u32,
    /// SYN flag: the segment occupies one sequence number before its data (RFC 9293 §3.4).
    pub syn: bool,
    /// FIN flag: the stream ends after this segment's data (RFC 9293 §3.4).
    pub fin: bool,
    /// RST flag: the sender aborted the connection (RFC 9293 §3.5.2).
    pub rst: bool,
    /// Captured payload bytes.
    pub payload: &'a [u8],
    /// Payload bytes the capture's snap length cut off after `payload`; they are treated as a
    /// gap of this length.
    pub missing_bytes: u32,
}

/// One piece of reassembled output, in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// The next bytes of the stream. Never empty.
    Data(&'a [u8]),
    /// The sender closed the stream (FIN) and every byte before it was delivered or skipped.
    /// Emitted at most once and last.
    Fin,
    /// This many bytes of the stream were not seen and are skipped. Never zero.
    Gap(u64),
    /// The sender reset the connection; nothing follows.
    Rst,
}

/// Why a [`Chunk::Gap`] was emitted; selects the per-reason gap counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GapReason {
    /// The peer acknowledged past the hole, so the capture lost it.
    Ack,
    /// The flow ended with the hole still open.
    Flush,
    /// A depth, segment or memory limit forced progress.
    Limit,
    /// More than `gap_skip_bytes` waited behind the hole.
    Threshold,
    /// The capture's snap length cut the bytes off.
    Truncated,
}

impl GapReason {
    /// Metric label (snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::Ack => "ack",
            GapReason::Flush => "flush",
            GapReason::Limit => "limit",
            GapReason::Threshold => "threshold",
            GapReason::Truncated => "truncated",
        }
    }
}

/// Kinds of noteworthy events, one per counter of [`StreamStats`] that is not a plain volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    /// A segment carried data or FIN after the stream ended by RST or flush.
    DataAfterClose,
    /// A segment carried data beyond the FIN's sequence number.
    DataAfterFin,
    /// The per-direction out-of-order byte limit was hit.
    DepthReached,
    /// A SYN with a different sequence number arrived before any data; the ISN was reset.
    IsnReset,
    /// The per-worker memory cap refused a buffer.
    MemcapHit,
    /// A segment arrived ahead of the next expected byte and was buffered.
    OutOfOrder,
    /// A segment lay farther than [`MAX_WINDOW_BYTES`] from the next expected byte.
    OutOfWindow,
    /// Overlapping bytes differed from the first copy (kept): an evasion signal.
    OverlapDiffers,
    /// Overlapping bytes equalled the first copy.
    OverlapSame,
    /// A segment straddled the next expected byte; only its new tail was used.
    PartialRetransmission,
    /// A segment's data lay entirely before the next expected byte.
    Retransmission,
    /// The per-direction out-of-order segment limit was hit.
    SegmentsLimit,
    /// The snap length cut payload bytes off a segment.
    Truncated,
}

impl AnomalyKind {
    /// Every kind, in declaration order.
    pub const ALL: [AnomalyKind; 13] = [
        AnomalyKind::DataAfterClose,
        AnomalyKind::DataAfterFin,
        AnomalyKind::DepthReached,
        AnomalyKind::IsnReset,
        AnomalyKind::MemcapHit,
        AnomalyKind::OutOfOrder,
        AnomalyKind::OutOfWindow,
        AnomalyKind::OverlapDiffers,
        AnomalyKind::OverlapSame,
        AnomalyKind::PartialRetransmission,
        AnomalyKind::Retransmission,
        AnomalyKind::SegmentsLimit,
        AnomalyKind::Truncated,
    ];

    /// Metric label (snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::DataAfterClose => "data_after_close",
            AnomalyKind::DataAfterFin => "data_after_fin",
            AnomalyKind::DepthReached => "depth_reached",
            AnomalyKind::IsnReset => "isn_reset",
            AnomalyKind::MemcapHit => "memcap_hit",
            AnomalyKind::OutOfOrder => "out_of_order",
            AnomalyKind::OutOfWindow => "out_of_window",
            AnomalyKind::OverlapDiffers => "overlap_differs",
            AnomalyKind::OverlapSame => "overlap_same",
            AnomalyKind::PartialRetransmission => "partial_retransmission",
            AnomalyKind::Retransmission => "retransmission",
            AnomalyKind::SegmentsLimit => "segments_limit",
            AnomalyKind::Truncated => "truncated",
        }
    }
}

/// Counters of one stream. Segment-event counters count segments (a segment is counted once
/// per kind however many pieces it had); `*_bytes` count bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Segments passed to [`Stream::on_segment`].
    pub segments: u64,
    /// Bytes delivered as [`Chunk::Data`].
    pub bytes_delivered: u64,
    /// Gaps emitted, all reasons.
    pub gaps: u64,
    /// Bytes skipped by gaps, all reasons.
    pub gap_bytes: u64,
    /// Gaps emitted because the peer acknowledged past the hole.
    pub gaps_ack: u64,
    /// Gaps emitted by [`Stream::flush`].
    pub gaps_flush: u64,
    /// Gaps forced by a depth, segment or memory limit.
    pub gaps_limit: u64,
    /// Gaps emitted because more than `gap_skip_bytes` waited behind a hole.
    pub gaps_threshold: u64,
    /// Gaps standing for bytes cut by the snap length.
    pub gaps_truncated: u64,
    /// Buffered bytes thrown away undelivered (RST, [`Stream::release`], beyond FIN).
    pub discarded_bytes: u64,
    /// Times adjacent buffered segments were merged to stay under `max_segments`.
    pub compactions: u64,
    /// See [`AnomalyKind::DataAfterClose`].
    pub data_after_close: u64,
    /// See [`AnomalyKind::DataAfterFin`].
    pub data_after_fin: u64,
    /// See [`AnomalyKind::DepthReached`].
    pub depth_reached: u64,
    /// See [`AnomalyKind::IsnReset`].
    pub isn_reset: u64,
    /// See [`AnomalyKind::MemcapHit`].
    pub memcap_hit: u64,
    /// See [`AnomalyKind::OutOfOrder`].
    pub out_of_order: u64,
    /// See [`AnomalyKind::OutOfWindow`].
    pub out_of_window: u64,
    /// See [`AnomalyKind::OverlapDiffers`].
    pub overlap_differs: u64,
    /// See [`AnomalyKind::OverlapSame`].
    pub overlap_same: u64,
    /// See [`AnomalyKind::PartialRetransmission`].
    pub partial_retransmission: u64,
    /// See [`AnomalyKind::Retransmission`].
    pub retransmission: u64,
    /// See [`AnomalyKind::SegmentsLimit`].
    pub segments_limit: u64,
    /// See [`AnomalyKind::Truncated`].
    pub truncated: u64,
}

impl StreamStats {
    /// The counter for `kind`.
    pub fn anomaly(&self, kind: AnomalyKind) -> u64 {
        match kind {
            AnomalyKind::DataAfterClose => self.data_after_close,
            AnomalyKind::DataAfterFin => self.data_after_fin,
            AnomalyKind::DepthReached => self.depth_reached,
            AnomalyKind::IsnReset => self.isn_reset,
            AnomalyKind::MemcapHit => self.memcap_hit,
            AnomalyKind::OutOfOrder => self.out_of_order,
            AnomalyKind::OutOfWindow => self.out_of_window,
            AnomalyKind::OverlapDiffers => self.overlap_differs,
            AnomalyKind::OverlapSame => self.overlap_same,
            AnomalyKind::PartialRetransmission => self.partial_retransmission,
            AnomalyKind::Retransmission => self.retransmission,
            AnomalyKind::SegmentsLimit => self.segments_limit,
            AnomalyKind::Truncated => self.truncated,
        }
    }

    /// The gap counter for `reason`.
    pub fn gaps_for(&self, reason: GapReason) -> u64 {
        match reason {
            GapReason::Ack => self.gaps_ack,
            GapReason::Flush => self.gaps_flush,
            GapReason::Limit => self.gaps_limit,
            GapReason::Threshold => self.gaps_threshold,
            GapReason::Truncated => self.gaps_truncated,
        }
    }

    /// Adds `other` into `self` (folding a finished stream into per-worker totals). Counters
    /// saturate rather than wrap.
    pub fn merge(&mut self, other: &StreamStats) {
        let StreamStats {
            segments,
            bytes_delivered,
            gaps,
            gap_bytes,
            gaps_ack,
            gaps_flush,
            gaps_limit,
            gaps_threshold,
            gaps_truncated,
            discarded_bytes,
            compactions,
            data_after_close,
            data_after_fin,
            depth_reached,
            isn_reset,
            memcap_hit,
            out_of_order,
            out_of_window,
            overlap_differs,
            overlap_same,
            partial_retransmission,
            retransmission,
            segments_limit,
            truncated,
        } = other;
        let pairs = [
            (&mut self.segments, segments),
            (&mut self.bytes_delivered, bytes_delivered),
            (&mut self.gaps, gaps),
            (&mut self.gap_bytes, gap_bytes),
            (&mut self.gaps_ack, gaps_ack),
            (&mut self.gaps_flush, gaps_flush),
            (&mut self.gaps_limit, gaps_limit),
            (&mut self.gaps_threshold, gaps_threshold),
            (&mut self.gaps_truncated, gaps_truncated),
            (&mut self.discarded_bytes, discarded_bytes),
            (&mut self.compactions, compactions),
            (&mut self.data_after_close, data_after_close),
            (&mut self.data_after_fin, data_after_fin),
            (&mut self.depth_reached, depth_reached),
            (&mut self.isn_reset, isn_reset),
            (&mut self.memcap_hit, memcap_hit),
            (&mut self.out_of_order, out_of_order),
            (&mut self.out_of_window, out_of_window),
            (&mut self.overlap_differs, overlap_differs),
            (&mut self.overlap_same, overlap_same),
            (&mut self.partial_retransmission, partial_retransmission),
            (&mut self.retransmission, retransmission),
            (&mut self.segments_limit, segments_limit),
            (&mut self.truncated, truncated),
        ];
        for (mine, theirs) in pairs {
            *mine = mine.saturating_add(*theirs);
        }
    }
}
