//! The worker side of evidence: [`EvidenceTap`] feeds each flow's [`FlowRing`], and when
//! a flow matches hands its frames to the evidence writer thread over a bounded channel.
//!
//! The tap never blocks its worker. A full channel drops the batch in hand (counted; the
//! writer notes the gap in the file with a packet comment and in its report). Open and
//! close messages are not dropped at once: they wait in a small per-worker backlog, in
//! order, and while anything waits there, new batches are dropped rather than overtake
//! it. Only a full backlog loses a control message (counted; a file whose close was lost
//! is finished when the writer shuts down).

use std::collections::VecDeque;
use std::sync::mpsc::{SyncSender, TrySendError};

use crate::capture::{Frame, Timestamp};

use super::ring::{FlowRing, PacketBatch, RingPool, RingState, Streaming, TapStats};
use super::{evidence_path, Limits};

/// Control messages a worker may hold back while the channel is full: a few per matched
/// flow in a burst of matches.
const MAX_BACKLOG: usize = 4096;

/// Why a flow's file was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The per-flow evidence cap was reached while the flow went on.
    Capped,
    /// The flow ended.
    Ended,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Capped => "capped",
            CloseReason::Ended => "ended",
        }
    }
}

/// Messages to the evidence writer thread.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Start the file of a matched flow.
    Open {
        flow_id: u64,
        rel_path: Box<str>,
        ts: Timestamp,
    },
    /// Frames of an open flow; `first_index` numbers them within the flow's evidence so
    /// the writer can see what was dropped.
    Packets {
        flow_id: u64,
        first_index: u64,
        batch: PacketBatch,
    },
    /// Finish the file: `packets` were accepted for it in all.
    Close {
        flow_id: u64,
        packets: u64,
        reason: CloseReason,
    },
    /// A flow whose file was closed at its cap has ended: retention may remove it now.
    Released { flow_id: u64 },
    /// Reply once everything sent before has been handled.
    Flush(SyncSender<()>),
    /// Apply retention now.
    Retention,
    /// Finish open files and exit.
    Shutdown,
}

/// A worker's handle on the evidence writer's channel.
#[derive(Clone, Debug)]
pub struct EvidenceSender {
    pub(crate) tx: SyncSender<Msg>,
    pub(crate) run_id: u64,
}

/// What [`EvidenceTap::matched`] needs to know about the flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowInfo<'a> {
    /// The flow's id (unique within the run).
    pub flow_id: u64,
    /// The test session, if the flow belongs to one; `None` files under `no_session`.
    pub session_id: Option<&'a str>,
    /// Capture time of the frame that completed the match: picks the day directory.
    pub ts: Timestamp,
}

/// One worker's evidence state: its ring budget and its end of the writer's channel.
#[derive(Debug)]
pub struct EvidenceTap {
    pool: RingPool,
    sender: Option<EvidenceSender>,
    backlog: VecDeque<Msg>,
    max_flow_bytes: u64,
    flush_bytes: usize,
}

impl EvidenceTap {
    /// A tap for one of `workers` workers: the ring budget `limits.ring_memcap_bytes` is
    /// shared out evenly, so all workers together stay within it. Without a sender
    /// (`None`) rings still work and are counted, but nothing is written.
    pub fn new(limits: &Limits, workers: usize, sender: Option<EvidenceSender>) -> EvidenceTap {
        let share = limits.ring_memcap_bytes / workers.max(1) as u64;
        EvidenceTap {
            pool: RingPool::new(
                usize::try_from(share).unwrap_or(usize::MAX),
                limits.ring_bytes,
            ),
            sender,
            backlog: VecDeque::new(),
            max_flow_bytes: limits.max_flow_bytes,
            flush_bytes: limits.flush_bytes,
        }
    }

    /// Counters of this worker.
    pub fn stats(&self) -> TapStats {
        self.pool.stats()
    }

    /// The worker's ring budget.
    pub fn pool(&self) -> &RingPool {
        &self.pool
    }

    /// Call for every frame of a flow, before the frame's events are looked at, so the
    /// frame that completes a match is in the ring when [`matched`](Self::matched) runs.
    pub fn packet(&mut self, ring: &mut FlowRing, frame: &Frame<'_>) {
        match ring.state {
            RingState::Buffering => ring.buffer(&mut self.pool, frame),
            RingState::Streaming => self.stream(ring, frame),
            RingState::Capped | RingState::Done => {}
        }
    }

    /// The flow produced a `pi_leak` or `sdk_contact`: starts its evidence file with the
    /// ring's frames. Returns the file's path relative to the evidence root (also kept in
    /// the ring: [`FlowRing::evidence_path`]). Later calls for the same flow return the
    /// same path and do nothing else. `comment` is attached to the last buffered frame
    /// (the one that completed the match).
    pub fn matched(
        &mut self,
        ring: &mut FlowRing,
        flow: &FlowInfo<'_>,
        comment: Option<&str>,
    ) -> Option<String> {
        if ring.state != RingState::Buffering {
            return ring.evidence_path().map(str::to_string);
        }
        let run_id = self.sender.as_ref().map_or(0, |s| s.run_id);
        let rel_path = evidence_path(flow.ts, flow.session_id, run_id, flow.flow_id);
        ring.state = RingState::Streaming;
        self.pool.stats.flows_matched += 1;
        self.control(Msg::Open {
            flow_id: flow.flow_id,
            rel_path: rel_path.clone().into_boxed_str(),
            ts: flow.ts,
        });
        let mut batch = PacketBatch::new();
        ring.drain_into(&mut self.pool, &mut batch);
        if let Some(text) = comment {
            batch.comment_last(text);
        }
        // What was buffered counts toward the flow's cap; a ring larger than the cap is
        // not cut here (the configuration check keeps the cap at least the ring size).
        ring.stream = Some(Box::new(Streaming {
            flow_id: flow.flow_id,
            path: rel_path.clone().into_boxed_str(),
            pending: PacketBatch::new(),
            pending_index: batch.len() as u64,
            evidence_packets: batch.len() as u64,
            evidence_bytes: batch.data_bytes() as u64,
        }));
        self.send_batch(flow.flow_id, 0, batch);
        Some(rel_path)
    }

    /// The flow has ended (timeout, eviction, shutdown): hands over what is pending and
    /// closes its file, or frees the ring of a flow that never matched.
    pub fn flow_ended(&mut self, ring: &mut FlowRing) {
        let state = ring.state;
        ring.state = RingState::Done;
        let Some(stream) = ring.stream.as_deref_mut() else {
            ring.discard(&mut self.pool);
            return;
        };
        match state {
            RingState::Streaming => {
                self.send_pending(stream);
                self.control(Msg::Close {
                    flow_id: stream.flow_id,
                    packets: stream.evidence_packets,
                    reason: CloseReason::Ended,
                });
            }
            RingState::Capped => self.control(Msg::Released {
                flow_id: stream.flow_id,
            }),
            RingState::Buffering | RingState::Done => {}
        }
        ring.discard(&mut self.pool);
    }

    /// Retries held-back control messages; call when the worker is idle.
    pub fn tick(&mut self) {
        self.drain_backlog();
    }

    fn stream(&mut self, ring: &mut FlowRing, frame: &Frame<'_>) {
        let Some(stream) = ring.stream.as_deref_mut() else {
            return;
        };
        let len = frame.data.len() as u64;
        if stream.evidence_bytes + len > self.max_flow_bytes {
            self.pool.stats.flow_cap_hits += 1;
            self.send_pending(stream);
            self.control(Msg::Close {
                flow_id: stream.flow_id,
                packets: stream.evidence_packets,
                reason: CloseReason::Capped,
            });
            ring.state = RingState::Capped;
            return;
        }
        if !stream.append(&mut self.pool, frame) {
            // The budget is spent: hand over what is pending to make room.
            self.send_pending(stream);
            if !stream.append(&mut self.pool, frame) {
                self.pool.stats.pool_exhausted_packets += 1;
                // The frame is lost to evidence; its index is skipped so the writer
                // reports the gap.
                stream.evidence_packets += 1;
                stream.pending_index += 1;
                return;
            }
        }
        stream.evidence_packets += 1;
        stream.evidence_bytes += len;
        if stream.pending.data_bytes() >= self.flush_bytes {
            self.send_pending(stream);
        }
    }

    fn send_pending(&mut self, stream: &mut Streaming) {
        if stream.pending.is_empty() {
            return;
        }
        let first_index = stream.pending_index;
        let batch = stream.take(&mut self.pool);
        self.send_batch(stream.flow_id, first_index, batch);
    }

    fn send_batch(&mut self, flow_id: u64, first_index: u64, batch: PacketBatch) {
        if batch.is_empty() {
            return;
        }
        let packets = batch.len() as u64;
        let bytes = batch.data_bytes() as u64;
        self.drain_backlog();
        let Some(sender) = &self.sender else {
            return;
        };
        if !self.backlog.is_empty() {
            // Sending now would overtake an Open or Close still waiting.
            self.pool.stats.queue_full_batches += 1;
            self.pool.stats.queue_full_packets += packets;
            return;
        }
        match sender.tx.try_send(Msg::Packets {
            flow_id,
            first_index,
            batch,
        }) {
            Ok(()) => {
                self.pool.stats.batches_sent += 1;
                self.pool.stats.packets_sent += packets;
                self.pool.stats.bytes_sent += bytes;
            }
            Err(TrySendError::Full(_)) => {
                self.pool.stats.queue_full_batches += 1;
                self.pool.stats.queue_full_packets += packets;
            }
            Err(TrySendError::Disconnected(_)) => self.writer_gone(),
        }
    }

    fn control(&mut self, msg: Msg) {
        self.drain_backlog();
        let Some(sender) = &self.sender else {
            return;
        };
        if self.backlog.is_empty() {
            match sender.tx.try_send(msg) {
                Ok(()) => {}
                Err(TrySendError::Full(msg)) => self.backlog.push_back(msg),
                Err(TrySendError::Disconnected(_)) => self.writer_gone(),
            }
        } else if self.backlog.len() < MAX_BACKLOG {
            self.backlog.push_back(msg);
        } else {
            self.pool.stats.backlog_overflow += 1;
        }
    }

    fn drain_backlog(&mut self) {
        let Some(sender) = &self.sender else {
            return;
        };
        while let Some(msg) = self.backlog.pop_front() {
            match sender.tx.try_send(msg) {
                Ok(()) => {}
                Err(TrySendError::Full(msg)) => {
                    self.backlog.push_front(msg);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.writer_gone();
                    return;
                }
            }
        }
    }

    fn writer_gone(&mut self) {
        self.pool.stats.writer_gone += 1;
        self.sender = None;
        self.backlog.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{sync_channel, Receiver};

    use super::*;
    use crate::evidence::ring::PACKET_OVERHEAD_BYTES;

    fn frame(ts: i64, data: &[u8]) -> Frame<'_> {
        Frame {
            ts: Timestamp::from_micros(ts),
            link_type: 1,
            data,
            wire_len: data.len() as u32,
        }
    }

    fn tap(limits: &Limits, depth: usize) -> (EvidenceTap, Receiver<Msg>) {
        let (tx, rx) = sync_channel(depth);
        let sender = EvidenceSender { tx, run_id: 3 };
        (EvidenceTap::new(limits, 1, Some(sender)), rx)
    }

    fn info() -> FlowInfo<'static> {
        FlowInfo {
            flow_id: 42,
            session_id: Some("lab3"),
            ts: Timestamp::from_secs(1_772_442_040),
        }
    }

    #[test]
    fn match_sends_ring_then_later_frames_then_close() {
        let limits = Limits {
            flush_bytes: 250,
            ..Limits::default()
        };
        let (mut tap, rx) = tap(&limits, 64);
        let mut ring = FlowRing::new();
        tap.packet(&mut ring, &frame(1, &[1; 100]));
        tap.packet(&mut ring, &frame(2, &[2; 100]));
        let path = tap.matched(&mut ring, &info(), Some("pi_leak")).unwrap();
        assert_eq!(path, "2026-03-02/lab3/3-42.pcapng");
        assert_eq!(ring.evidence_path(), Some(path.as_str()));
        assert_eq!(tap.pool().in_use_bytes(), 0);
        for i in 3..7 {
            tap.packet(&mut ring, &frame(i, &[i as u8; 100]));
        }
        tap.flow_ended(&mut ring);
        let msgs: Vec<Msg> = rx.try_iter().collect();
        assert!(matches!(&msgs[0], Msg::Open { flow_id: 42, .. }));
        let Msg::Packets {
            first_index: 0,
            batch,
            ..
        } = &msgs[1]
        else {
            panic!("{:?}", msgs[1]);
        };
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.iter().last().unwrap().2, Some("pi_leak"));
        // 300 bytes pending exceed flush_bytes 250: frames 3..5 go as one batch.
        let Msg::Packets {
            first_index: 2,
            batch,
            ..
        } = &msgs[2]
        else {
            panic!("{:?}", msgs[2]);
        };
        assert_eq!(batch.len(), 3);
        let Msg::Packets {
            first_index: 5,
            batch,
            ..
        } = &msgs[3]
        else {
            panic!("{:?}", msgs[3]);
        };
        assert_eq!(batch.len(), 1);
        assert!(matches!(
            msgs[4],
            Msg::Close {
                flow_id: 42,
                packets: 6,
                reason: CloseReason::Ended
            }
        ));
        assert_eq!(tap.stats().packets_sent, 6);
        assert_eq!(tap.pool().in_use_bytes(), 0);
    }

    #[test]
    fn per_flow_cap_closes_the_file_and_ignores_the_rest() {
        let limits = Limits {
            ring_bytes: 4096,
            max_flow_bytes: 350,
            flush_bytes: 1 << 20,
            ..Limits::default()
        };
        let (mut tap, rx) = tap(&limits, 64);
        let mut ring = FlowRing::new();
        tap.packet(&mut ring, &frame(1, &[1; 100]));
        tap.matched(&mut ring, &info(), None);
        for i in 2..10 {
            tap.packet(&mut ring, &frame(i, &[0; 100]));
        }
        assert_eq!(ring.state(), RingState::Capped);
        assert_eq!(tap.stats().flow_cap_hits, 1);
        tap.flow_ended(&mut ring);
        let msgs: Vec<Msg> = rx.try_iter().collect();
        let sent: usize = msgs
            .iter()
            .map(|m| match m {
                Msg::Packets { batch, .. } => batch.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(sent, 3, "3 x 100 bytes fit a 350-byte cap");
        assert!(matches!(
            msgs[msgs.len() - 2],
            Msg::Close {
                reason: CloseReason::Capped,
                packets: 3,
                ..
            }
        ));
        assert!(matches!(
            msgs[msgs.len() - 1],
            Msg::Released { flow_id: 42 }
        ));
    }

    #[test]
    fn full_channel_drops_batches_but_keeps_control_messages_in_order() {
        let limits = Limits {
            flush_bytes: 1,
            ..Limits::default()
        };
        let (mut tap, rx) = tap(&limits, 2);
        let mut ring = FlowRing::new();
        tap.packet(&mut ring, &frame(1, &[1; 10]));
        tap.matched(&mut ring, &info(), None); // Open + Packets fill the channel
        tap.packet(&mut ring, &frame(2, &[2; 10])); // dropped: full
        tap.flow_ended(&mut ring); // Close waits in the backlog
        assert_eq!(tap.stats().queue_full_packets, 1);
        assert_eq!(tap.stats().queue_full_batches, 1);
        let first: Vec<Msg> = rx.try_iter().collect();
        assert_eq!(first.len(), 2);
        tap.tick();
        let rest: Vec<Msg> = rx.try_iter().collect();
        assert!(matches!(rest[..], [Msg::Close { packets: 2, .. }]));
    }

    #[test]
    fn unmatched_flows_free_their_ring_and_a_gone_writer_is_counted() {
        let limits = Limits::default();
        let (mut tap, rx) = tap(&limits, 4);
        let mut ring = FlowRing::new();
        tap.packet(&mut ring, &frame(1, &[1; 10]));
        assert_eq!(tap.pool().in_use_bytes(), 10 + PACKET_OVERHEAD_BYTES);
        tap.flow_ended(&mut ring);
        assert_eq!(tap.pool().in_use_bytes(), 0);
        assert_eq!(rx.try_iter().count(), 0);
        drop(rx);
        let mut ring = FlowRing::new();
        tap.packet(&mut ring, &frame(1, &[1; 10]));
        tap.matched(&mut ring, &info(), None);
        assert_eq!(tap.stats().writer_gone, 1);
        tap.packet(&mut ring, &frame(2, &[1; 10]));
        tap.flow_ended(&mut ring);
        assert_eq!(tap.pool().in_use_bytes(), 0);
    }
}
