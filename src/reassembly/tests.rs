//! Reassembly tests: one stream fed in many segmentations, each asserting the exact output
//! (bytes, gap markers, FIN/RST) and the exact counters, plus seeded property tests.

use super::*;

/// Output of a stream with adjacent data chunks joined, so segmentation does not show.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Bytes(Vec<u8>),
    Gap(u64),
    Fin,
    Rst,
}

use Piece::{Bytes, Fin, Gap, Rst};

fn push(out: &mut Vec<Piece>, chunk: Chunk<'_>) {
    match chunk {
        Chunk::Data(bytes) => {
            assert!(!bytes.is_empty(), "empty data chunk");
            if let Some(Piece::Bytes(last)) = out.last_mut() {
                last.extend_from_slice(bytes);
            } else {
                out.push(Piece::Bytes(bytes.to_vec()));
            }
        }
        Chunk::Gap(len) => {
            assert!(len > 0, "empty gap chunk");
            out.push(Piece::Gap(len));
        }
        Chunk::Fin => out.push(Piece::Fin),
        Chunk::Rst => out.push(Piece::Rst),
    }
}

/// Small deterministic PRNG (xorshift64) so every case is reproducible from its seed.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn below_usize(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below_usize(i + 1);
            items.swap(i, j);
        }
    }
}

/// `len` pseudo-random bytes: any misplaced byte shows.
fn stream_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = XorShift::new(seed);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Splits `0..len` into consecutive ranges of `size` bytes (the last may be shorter).
fn cut_fixed(len: usize, size: usize) -> Vec<(usize, usize)> {
    if len == 0 {
        return vec![(0, 0)];
    }
    (0..len)
        .step_by(size)
        .map(|start| (start, (start + size).min(len)))
        .collect()
}

/// Splits `0..len` into consecutive ranges of 1..=max bytes.
fn cut_random(len: usize, max: usize, rng: &mut XorShift) -> Vec<(usize, usize)> {
    if len == 0 {
        return vec![(0, 0)];
    }
    let mut cuts = Vec::new();
    let mut start = 0;
    while start < len {
        let size = 1 + rng.below_usize(max);
        let end = (start + size).min(len);
        cuts.push((start, end));
        start = end;
    }
    cuts
}

/// One stream under test with its own worker memory.
struct Harness {
    stream: Stream,
    mem: Memory,
    limits: Limits,
    out: Vec<Piece>,
    /// Sequence number of the SYN; data offset 0 is at `syn_seq + 1`.
    syn_seq: u32,
}

impl Harness {
    fn new(syn_seq: u32) -> Self {
        Harness::with_limits(syn_seq, Limits::default())
    }

    fn with_limits(syn_seq: u32, limits: Limits) -> Self {
        Harness {
            stream: Stream::new(),
            mem: Memory::with_limits(&limits),
            limits,
            out: Vec::new(),
            syn_seq,
        }
    }

    fn seq_at(&self, offset: u64) -> u32 {
        // Truncation intended: sequence numbers are offsets modulo 2^32.
        self.syn_seq.wrapping_add(1).wrapping_add(offset as u32)
    }

    fn segment(&mut self, seg: Segment<'_>) {
        let out = &mut self.out;
        self.stream
            .on_segment(&seg, &mut self.mem, &self.limits, &mut |c| push(out, c));
        self.check_accounting();
    }

    fn check_accounting(&self) {
        assert_eq!(self.mem.in_use_bytes(), self.stream.charged_bytes());
        assert!(self.stream.buffered_bytes() <= u64::from(self.limits.depth_bytes));
    }

    fn syn(&mut self) {
        let seq = self.syn_seq;
        self.segment(Segment {
            seq,
            syn: true,
            fin: false,
            rst: false,
            payload: &[],
            missing_bytes: 0,
        });
    }

    fn data(&mut self, offset: u64, payload: &[u8], fin: bool) {
        let seq = self.seq_at(offset);
        self.segment(Segment {
            seq,
            syn: false,
            fin,
            rst: false,
            payload,
            missing_bytes: 0,
        });
    }

    fn truncated(&mut self, offset: u64, payload: &[u8], missing_bytes: u32) {
        let seq = self.seq_at(offset);
        self.segment(Segment {
            seq,
            syn: false,
            fin: false,
            rst: false,
            payload,
            missing_bytes,
        });
    }

    fn rst(&mut self, offset: u64) {
        let seq = self.seq_at(offset);
        self.segment(Segment {
            seq,
            syn: false,
            fin: false,
            rst: true,
            payload: &[],
            missing_bytes: 0,
        });
    }

    /// Sends `data[start..end]`, with FIN if it ends the stream.
    fn send(&mut self, data: &[u8], (start, end): (usize, usize)) {
        self.data(start as u64, &data[start..end], end == data.len());
    }

    fn ack(&mut self, offset: u64) {
        let ack = self.seq_at(offset);
        let out = &mut self.out;
        self.stream
            .on_peer_ack(ack, &mut self.mem, &self.limits, &mut |c| push(out, c));
        self.check_accounting();
    }

    fn flush(&mut self) {
        let out = &mut self.out;
        self.stream.flush(&mut self.mem, &mut |c| push(out, c));
        assert_eq!(self.mem.in_use_bytes(), 0, "memory not returned by flush");
        assert_eq!(self.stream.charged_bytes(), 0);
        assert_eq!(self.stream.buffered_bytes(), 0);
        assert!(self.stream.is_closed());
    }

    /// Flushes and returns the output and the anomaly counters that are not zero.
    fn finish(mut self) -> (Vec<Piece>, Vec<(&'static str, u64)>, StreamStats) {
        self.flush();
        let stats = self.stream.stats().clone();
        (self.out, anomalies(&stats), stats)
    }
}

fn anomalies(stats: &StreamStats) -> Vec<(&'static str, u64)> {
    AnomalyKind::ALL
        .iter()
        .map(|&kind| (kind.as_str(), stats.anomaly(kind)))
        .filter(|&(_, count)| count > 0)
        .collect()
}

fn whole(data: &[u8]) -> Vec<Piece> {
    if data.is_empty() {
        vec![Fin]
    } else {
        vec![Bytes(data.to_vec()), Fin]
    }
}

/// Out-of-order count a correct reassembler reports for `order` (a permutation of a
/// partition): a segment is out of order if it starts beyond the contiguous prefix.
fn model_out_of_order(order: &[(usize, usize)]) -> u64 {
    let mut arrived: Vec<(usize, usize)> = Vec::new();
    let mut contiguous = 0;
    let mut count = 0;
    for &(start, end) in order {
        if start > contiguous {
            count += 1;
        }
        arrived.push((start, end));
        while let Some(&(_, e)) = arrived
            .iter()
            .find(|&&(s, e)| s <= contiguous && e > contiguous)
        {
            contiguous = e;
        }
    }
    count
}

const LEN: usize = 5000;
const SYN_SEQ: u32 = 0x1234_5678;

fn feed_all(syn_seq: u32, data: &[u8], order: &[(usize, usize)]) -> Harness {
    let mut h = Harness::new(syn_seq);
    h.syn();
    for &range in order {
        h.send(data, range);
    }
    h
}

#[test]
fn whole_stream_in_one_segment() {
    let data = stream_bytes(LEN, 1);
    let h = feed_all(SYN_SEQ, &data, &[(0, LEN)]);
    assert_eq!(h.out, whole(&data));
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![]);
    assert_eq!(stats.segments, 2);
    assert_eq!(stats.bytes_delivered, LEN as u64);
    assert_eq!(stats.gaps, 0);
}

#[test]
fn single_byte_segments_in_order() {
    let data = stream_bytes(LEN, 2);
    let h = feed_all(SYN_SEQ, &data, &cut_fixed(LEN, 1));
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![]);
    assert_eq!(stats.segments, LEN as u64 + 1);
    assert_eq!(stats.bytes_delivered, LEN as u64);
}

#[test]
fn random_sizes_in_order() {
    let data = stream_bytes(LEN, 3);
    let mut rng = XorShift::new(3);
    let cuts = cut_random(LEN, 700, &mut rng);
    let h = feed_all(SYN_SEQ, &data, &cuts);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![]);
    assert_eq!(stats.segments, cuts.len() as u64 + 1);
}

#[test]
fn fully_reversed_random_sizes() {
    let data = stream_bytes(LEN, 4);
    let mut rng = XorShift::new(4);
    let mut cuts = cut_random(LEN, 300, &mut rng);
    cuts.reverse();
    let h = feed_all(SYN_SEQ, &data, &cuts);
    // Nothing can be delivered before the first segment (sent last) arrives.
    assert_eq!(h.out, whole(&data));
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![("out_of_order", cuts.len() as u64 - 1)]);
    assert_eq!(stats.compactions, 0);
}

#[test]
fn fully_reversed_single_bytes_compacts_instead_of_skipping() {
    // 4999 buffered one-byte segments exceed max_segments (1024); since they are adjacent the
    // stream merges them (at the 1025th, 2048th, 3071st and 4094th insertion) and never gaps.
    let data = stream_bytes(LEN, 5);
    let mut cuts = cut_fixed(LEN, 1);
    cuts.reverse();
    let h = feed_all(SYN_SEQ, &data, &cuts);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![("out_of_order", LEN as u64 - 1)]);
    assert_eq!(stats.compactions, 4);
    assert_eq!(stats.gaps, 0);
}

#[test]
fn random_permutations() {
    let data = stream_bytes(LEN, 6);
    for seed in 1..=20 {
        let mut rng = XorShift::new(seed);
        let mut cuts = cut_random(LEN, 400, &mut rng);
        rng.shuffle(&mut cuts);
        let h = feed_all(SYN_SEQ, &data, &cuts);
        assert_eq!(h.out, whole(&data), "seed {seed}");
        let (_, anomalies, _) = h.finish();
        let expected_ooo = model_out_of_order(&cuts);
        let expected = if expected_ooo > 0 {
            vec![("out_of_order", expected_ooo)]
        } else {
            vec![]
        };
        assert_eq!(anomalies, expected, "seed {seed}");
    }
}

#[test]
fn every_segment_duplicated_in_order() {
    let data = stream_bytes(LEN, 7);
    let cuts = cut_fixed(LEN, 333);
    let doubled: Vec<_> = cuts.iter().flat_map(|&c| [c, c]).collect();
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.syn();
    for &range in &doubled {
        h.send(&data, range);
    }
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    // Each second copy lies entirely before the next expected byte; the repeated SYN is no
    // data and not counted.
    assert_eq!(anomalies, vec![("retransmission", cuts.len() as u64)]);
}

#[test]
fn every_segment_duplicated_reversed() {
    // Reversed, each copy of a buffered segment overlaps itself (same bytes); the duplicate
    // of the first segment arrives after it was delivered (retransmission).
    let data = stream_bytes(LEN, 8);
    let mut cuts = cut_fixed(LEN, 250);
    cuts.reverse();
    let doubled: Vec<_> = cuts.iter().flat_map(|&c| [c, c]).collect();
    let (out, anomalies, _) = feed_all(SYN_SEQ, &data, &doubled).finish();
    assert_eq!(out, whole(&data));
    let n = cuts.len() as u64;
    assert_eq!(
        anomalies,
        vec![
            ("out_of_order", 2 * (n - 1)),
            ("overlap_same", n - 1),
            ("retransmission", 1),
        ]
    );
}

#[test]
fn overlapping_segments_same_bytes_in_order() {
    // 100-byte segments every 50 bytes: each after the first repeats the previous half.
    let data = stream_bytes(LEN, 9);
    let cuts: Vec<_> = (0..LEN - 50)
        .step_by(50)
        .map(|s| (s, (s + 100).min(LEN)))
        .collect();
    let (out, anomalies, _) = feed_all(SYN_SEQ, &data, &cuts).finish();
    assert_eq!(out, whole(&data));
    assert_eq!(
        anomalies,
        vec![("partial_retransmission", cuts.len() as u64 - 1)]
    );
}

#[test]
fn overlapping_segments_same_bytes_out_of_order() {
    let data = stream_bytes(LEN, 10);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.send(&data, (1000, 2000)); // buffered
    h.send(&data, (500, 1500)); // 500..1000 buffered, 1000..1500 compared: same
    assert!(h.out.is_empty());
    h.send(&data, (0, 600)); // 0..500 delivered, 500..600 compared with the buffer: same
    assert_eq!(h.out, vec![Bytes(data[..2000].to_vec())]);
    h.send(&data, (2000, LEN));
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![("out_of_order", 2), ("overlap_same", 2)]);
}

#[test]
fn overlapping_segments_different_bytes_first_copy_wins() {
    let data = stream_bytes(LEN, 11);
    let mut evil = data.clone();
    for byte in &mut evil[1200..1300] {
        *byte ^= 0xff;
    }

    // Real bytes first: the evil overlap is ignored but counted.
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.send(&data, (1000, 2000));
    h.data(1100, &evil[1100..1400], false);
    h.send(&data, (0, 1000));
    h.send(&data, (2000, LEN));
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![("out_of_order", 2), ("overlap_differs", 1)]);

    // Evil bytes first (out of order): they win, the real overlap is counted.
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.data(1100, &evil[1100..1400], false);
    h.send(&data, (1000, 2000));
    h.send(&data, (0, 1000));
    h.send(&data, (2000, LEN));
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&evil));
    assert_eq!(anomalies, vec![("out_of_order", 2), ("overlap_differs", 1)]);

    // Evil bytes buffered, then the whole stream in order: delivery interleaves the buffered
    // copy into the caller's segment.
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.data(1100, &evil[1100..1400], false);
    h.send(&data, (0, LEN));
    assert_eq!(h.out, whole(&evil));
    let (_, anomalies, _) = h.finish();
    assert_eq!(anomalies, vec![("out_of_order", 1), ("overlap_differs", 1)]);
}

#[test]
fn partial_retransmissions_deliver_only_the_new_tail() {
    let data = stream_bytes(LEN, 12);
    let order = [(0, 1000), (500, 2500), (2000, LEN), (4000, LEN)];
    let (out, anomalies, stats) = feed_all(SYN_SEQ, &data, &order).finish();
    assert_eq!(out, whole(&data));
    assert_eq!(
        anomalies,
        vec![("partial_retransmission", 2), ("retransmission", 1)]
    );
    assert_eq!(stats.bytes_delivered, LEN as u64);
}

#[test]
fn sequence_wraparound() {
    let data = stream_bytes(LEN, 13);
    // Offset 0 is at u32::MAX - 1999, so the stream crosses 2^32 at offset 2000.
    let syn_seq = u32::MAX - 2000;
    let cuts = cut_fixed(LEN, 700);
    let (out, anomalies, _) = feed_all(syn_seq, &data, &cuts).finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![]);

    for seed in 1..=10 {
        let mut rng = XorShift::new(seed + 100);
        let mut cuts = cut_random(LEN, 500, &mut rng);
        rng.shuffle(&mut cuts);
        let h = feed_all(syn_seq, &data, &cuts);
        assert_eq!(h.out, whole(&data), "seed {seed}");
    }
}

#[test]
fn stream_longer_than_sequence_space_via_acked_gaps() {
    // Offsets keep growing past 2^32 (five 1 GiB holes skipped by acks) while sequence numbers
    // wrap; nothing large is allocated because the holes are never buffered.
    let mut h = Harness::new(u32::MAX - 10);
    h.syn();
    h.data(0, b"head", false);
    let mut expected = vec![Bytes(b"head".to_vec())];
    let mut next = 4u64;
    for round in 0..5u8 {
        let at = next + u64::from(MAX_WINDOW_BYTES) - 1000;
        let body = [round; 16];
        h.data(at, &body, false);
        h.ack(at + 16);
        expected.push(Gap(at - next));
        expected.push(Bytes(body.to_vec()));
        next = at + 16;
    }
    assert!(next > 1 << 32);
    h.data(next, b"tail", true);
    // Adjacent to the last body, so it joins that output piece.
    if let Some(Bytes(last)) = expected.last_mut() {
        last.extend_from_slice(b"tail");
    }
    expected.push(Fin);
    assert_eq!(h.stream.next_offset(), next + 4);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, expected);
    assert_eq!(anomalies, vec![("out_of_order", 5)]);
    assert_eq!(stats.gaps_ack, 5);
    assert_eq!(stats.bytes_delivered, 4 + 5 * 16 + 4);
}

#[test]
fn mid_stream_pickup_without_syn() {
    let data = stream_bytes(LEN, 14);
    // The capture starts after the handshake: offset 0 is the first data byte seen.
    let mut h = Harness::new(777_776);
    // A keep-alive (empty, one byte before the stream) must not anchor the stream.
    let keepalive = h.seq_at(0).wrapping_sub(1);
    h.segment(Segment {
        seq: keepalive,
        syn: false,
        fin: false,
        rst: false,
        payload: &[],
        missing_bytes: 0,
    });
    for range in cut_fixed(LEN, 1000) {
        h.send(&data, range);
    }
    // A segment from before the pickup point is old from this stream's point of view.
    let before = h.seq_at(0).wrapping_sub(100);
    h.segment(Segment {
        seq: before,
        syn: false,
        fin: false,
        rst: false,
        payload: &[0xaa; 100],
        missing_bytes: 0,
    });
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![("retransmission", 1)]);
}

#[test]
fn mid_stream_pickup_out_of_order_start() {
    // Capture starts on a segment whose predecessor arrives next: the predecessor is before
    // offset 0 and cannot be placed; the stream is still delivered from its anchor.
    let data = stream_bytes(LEN, 15);
    let mut h = Harness::new(9_999);
    h.send(&data, (1000, 2000));
    h.send(&data, (0, 1000));
    h.send(&data, (2000, LEN));
    // Harness offsets are relative to its SYN, so the anchor is offset 1000 here.
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data[1000..]));
    assert_eq!(anomalies, vec![("retransmission", 1)]);
}

#[test]
fn syn_retransmitted_with_new_seq_resets_isn() {
    let data = stream_bytes(LEN, 16);
    let mut h = Harness::new(50_000);
    // A first attempt with another ISN, abandoned before any data.
    h.segment(Segment {
        seq: 7,
        syn: true,
        fin: false,
        rst: false,
        payload: &[],
        missing_bytes: 0,
    });
    h.syn();
    for range in cut_fixed(LEN, 1200) {
        h.send(&data, range);
    }
    // After data, a SYN with yet another ISN is ignored.
    h.segment(Segment {
        seq: 99,
        syn: true,
        fin: false,
        rst: false,
        payload: &[],
        missing_bytes: 0,
    });
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![("isn_reset", 1)]);
}

#[test]
fn syn_with_payload_starts_at_offset_zero() {
    // TCP Fast Open (RFC 7413) carries data on the SYN: it follows the SYN's sequence number.
    let data = stream_bytes(LEN, 17);
    let mut h = Harness::new(SYN_SEQ);
    let seq = h.syn_seq;
    h.segment(Segment {
        seq,
        syn: true,
        fin: false,
        rst: false,
        payload: &data[..300],
        missing_bytes: 0,
    });
    h.send(&data, (300, LEN));
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![]);
}

/// Sends the stream in 500-byte segments except those in `skip`.
fn feed_with_holes(h: &mut Harness, data: &[u8], skip: &[usize]) {
    h.syn();
    for range in cut_fixed(data.len(), 500) {
        if !skip.contains(&range.0) {
            h.send(data, range);
        }
    }
}

#[test]
fn gap_skipped_when_peer_acks_past_it() {
    let data = stream_bytes(LEN, 18);
    let mut h = Harness::new(SYN_SEQ);
    feed_with_holes(&mut h, &data, &[1000]);
    assert_eq!(h.out, vec![Bytes(data[..1000].to_vec())]);
    // Acks inside the hole do not prove it lost.
    h.ack(1000);
    h.ack(1200);
    assert_eq!(h.out, vec![Bytes(data[..1000].to_vec())]);
    // Acking the start of the buffered data does.
    h.ack(1500);
    let expected = vec![
        Bytes(data[..1000].to_vec()),
        Gap(500),
        Bytes(data[1500..].to_vec()),
        Fin,
    ];
    assert_eq!(h.out, expected);
    // The lost segment arriving late is now old.
    h.send(&data, (1000, 1500));
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, expected);
    assert_eq!(anomalies, vec![("out_of_order", 7), ("retransmission", 1)]);
    assert_eq!((stats.gaps, stats.gap_bytes, stats.gaps_ack), (1, 500, 1));
    assert_eq!(stats.bytes_delivered, LEN as u64 - 500);
}

#[test]
fn ack_skips_only_holes_followed_by_held_data() {
    let data = stream_bytes(LEN, 19);
    let mut h = Harness::new(SYN_SEQ);
    // Holes at 1000..1500 and 2500..3000; no FIN yet (the last segment is held back).
    h.syn();
    for range in cut_fixed(LEN, 500) {
        if ![1000, 2500, 4500].contains(&range.0) {
            h.send(&data, range);
        }
    }
    // 2500..2700 is acknowledged but nothing after it is held up to 2700: it may still be in
    // flight in the capture, so only the first hole is skipped.
    h.ack(2700);
    let expected = vec![
        Bytes(data[..1000].to_vec()),
        Gap(500),
        Bytes(data[1500..2500].to_vec()),
    ];
    assert_eq!(h.out, expected);
    h.send(&data, (2500, 3000));
    h.send(&data, (4500, LEN));
    let (out, anomalies, stats) = h.finish();
    assert_eq!(
        out,
        vec![
            Bytes(data[..1000].to_vec()),
            Gap(500),
            Bytes(data[1500..].to_vec()),
            Fin,
        ]
    );
    assert_eq!(anomalies, vec![("out_of_order", 5)]);
    assert_eq!((stats.gaps, stats.gaps_ack, stats.gap_bytes), (1, 1, 500));
}

#[test]
fn ack_past_two_holes_skips_both() {
    let data = stream_bytes(LEN, 38);
    let mut h = Harness::new(SYN_SEQ);
    feed_with_holes(&mut h, &data, &[1000, 2500]);
    h.ack(3200);
    let expected = vec![
        Bytes(data[..1000].to_vec()),
        Gap(500),
        Bytes(data[1500..2500].to_vec()),
        Gap(500),
        Bytes(data[3000..].to_vec()),
        Fin,
    ];
    assert_eq!(h.out, expected);
    let (out, _, stats) = h.finish();
    assert_eq!(out, expected);
    assert_eq!((stats.gaps_ack, stats.gap_bytes), (2, 1000));
}

#[test]
fn ack_of_fin_skips_hole_before_it() {
    let data = stream_bytes(LEN, 20);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.send(&data, (0, 4500));
    // FIN alone, after a lost 500-byte segment.
    h.data(LEN as u64, &[], true);
    assert_eq!(h.out, vec![Bytes(data[..4500].to_vec())]);
    // The FIN occupies one sequence number: ack = FIN + 1.
    h.ack(LEN as u64 + 1);
    let expected = vec![Bytes(data[..4500].to_vec()), Gap(500), Fin];
    assert_eq!(h.out, expected);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, expected);
    assert_eq!(anomalies, vec![]);
    assert_eq!(stats.gaps_ack, 1);
}

#[test]
fn ack_with_nothing_beyond_the_hole_waits() {
    // A mirror port may show the ACK before the data it acknowledges.
    let data = stream_bytes(LEN, 21);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.send(&data, (0, 1000));
    h.ack(2000);
    h.send(&data, (1000, LEN));
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![]);
}

#[test]
fn gaps_skipped_on_flush() {
    let data = stream_bytes(LEN, 22);
    let mut h = Harness::new(SYN_SEQ);
    feed_with_holes(&mut h, &data, &[1000, 3000]);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(
        out,
        vec![
            Bytes(data[..1000].to_vec()),
            Gap(500),
            Bytes(data[1500..3000].to_vec()),
            Gap(500),
            Bytes(data[3500..].to_vec()),
            Fin,
        ]
    );
    assert_eq!(anomalies, vec![("out_of_order", 6)]);
    assert_eq!(
        (stats.gaps, stats.gap_bytes, stats.gaps_flush),
        (2, 1000, 2)
    );
}

#[test]
fn flush_without_fin_ends_at_the_buffered_data() {
    let data = stream_bytes(LEN, 23);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.send(&data, (0, 1000));
    h.send(&data, (2000, 3000));
    let (out, anomalies, stats) = h.finish();
    assert_eq!(
        out,
        vec![
            Bytes(data[..1000].to_vec()),
            Gap(1000),
            Bytes(data[2000..3000].to_vec()),
        ]
    );
    assert_eq!(anomalies, vec![("out_of_order", 1)]);
    assert_eq!(stats.gaps_flush, 1);
}

#[test]
fn flush_with_fin_and_hole_before_it() {
    let data = stream_bytes(LEN, 24);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.send(&data, (0, 1000));
    h.data(LEN as u64, &[], true);
    let (out, _, stats) = h.finish();
    assert_eq!(out, vec![Bytes(data[..1000].to_vec()), Gap(4000), Fin]);
    assert_eq!(stats.gaps_flush, 1);
}

/// Limits small enough for a 5000-byte stream to hit them.
fn small_limits(depth_bytes: u32, max_segments: u32, memcap_bytes: u64) -> Limits {
    Limits {
        depth_bytes,
        max_segments,
        memcap_bytes,
        gap_skip_bytes: depth_bytes,
    }
}

#[test]
fn depth_limit_forces_skip() {
    let data = stream_bytes(LEN, 25);
    let mut h = Harness::with_limits(SYN_SEQ, small_limits(1000, 1024, 1 << 20));
    h.syn();
    // 0..100 is lost; 100-byte segments buffer until 1000 bytes are held.
    for range in cut_fixed(LEN, 100).into_iter().skip(1) {
        h.send(&data, range);
        if range.0 == 1000 {
            assert!(h.out.is_empty(), "10 segments fit the depth");
        }
    }
    let expected = vec![Gap(100), Bytes(data[100..].to_vec()), Fin];
    assert_eq!(h.out, expected);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, expected);
    assert_eq!(anomalies, vec![("depth_reached", 1), ("out_of_order", 11)]);
    assert_eq!(stats.gaps_limit, 1);
}

#[test]
fn segment_limit_forces_skip() {
    let data = stream_bytes(LEN, 26);
    let mut h = Harness::with_limits(SYN_SEQ, small_limits(1 << 20, 4, 1 << 20));
    h.syn();
    let cuts = cut_fixed(LEN, 100);
    // Odd segments 1, 3, 5, 7, 9 first: five non-adjacent segments, one too many.
    for i in (1..10).step_by(2) {
        h.send(&data, cuts[i]);
    }
    assert_eq!(h.out, vec![Gap(100), Bytes(data[100..200].to_vec())]);
    for i in (0..10).step_by(2) {
        h.send(&data, cuts[i]);
    }
    for &range in &cuts[10..] {
        h.send(&data, range);
    }
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, vec![Gap(100), Bytes(data[100..].to_vec()), Fin]);
    assert_eq!(
        anomalies,
        vec![
            ("out_of_order", 5),
            ("retransmission", 1),
            ("segments_limit", 1)
        ]
    );
    assert_eq!(stats.gaps_limit, 1);
}

#[test]
fn memcap_forces_skip() {
    let data = stream_bytes(LEN, 27);
    // Room for exactly two buffered 100-byte segments.
    let memcap = 2 * (100 + SEGMENT_OVERHEAD_BYTES);
    let mut h = Harness::with_limits(SYN_SEQ, small_limits(1 << 20, 1024, memcap));
    h.syn();
    for range in cut_fixed(LEN, 100).into_iter().skip(1) {
        h.send(&data, range);
    }
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, vec![Gap(100), Bytes(data[100..].to_vec()), Fin]);
    assert_eq!(anomalies, vec![("memcap_hit", 1), ("out_of_order", 3)]);
    assert_eq!(stats.gaps_limit, 1);
}

#[test]
fn memcap_is_shared_between_streams_of_a_worker() {
    let data = stream_bytes(LEN, 28);
    let limits = small_limits(1 << 20, 1024, 2 * (100 + SEGMENT_OVERHEAD_BYTES));
    let mut mem = Memory::with_limits(&limits);
    let (mut a, mut b) = (Stream::new(), Stream::new());
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    let seg = |seq: u32, syn: bool, payload| Segment {
        seq,
        syn,
        fin: false,
        rst: false,
        payload,
        missing_bytes: 0,
    };
    // Stream A takes the whole budget with two out-of-order segments.
    a.on_segment(&seg(0, true, &[]), &mut mem, &limits, &mut |c| {
        push(&mut out_a, c)
    });
    for at in [101u32, 201] {
        let bytes = &data[at as usize - 1..at as usize + 99];
        a.on_segment(&seg(at, false, bytes), &mut mem, &limits, &mut |c| {
            push(&mut out_a, c)
        });
    }
    assert_eq!(mem.in_use_bytes(), limits.memcap_bytes);
    // Stream B cannot buffer at all: it skips its hole and delivers in place.
    b.on_segment(&seg(1000, true, &[]), &mut mem, &limits, &mut |c| {
        push(&mut out_b, c)
    });
    b.on_segment(
        &seg(1101, false, &data[..100]),
        &mut mem,
        &limits,
        &mut |c| push(&mut out_b, c),
    );
    assert_eq!(out_b, vec![Gap(100), Bytes(data[..100].to_vec())]);
    assert_eq!(b.stats().memcap_hit, 1);
    assert_eq!(mem.hits(), 1);
    assert!(out_a.is_empty());
    a.flush(&mut mem, &mut |c| push(&mut out_a, c));
    b.flush(&mut mem, &mut |c| push(&mut out_b, c));
    assert_eq!(out_a, vec![Gap(100), Bytes(data[100..300].to_vec())]);
    assert_eq!(mem.in_use_bytes(), 0);
}

#[test]
fn gap_skip_threshold_gives_up_on_a_hole() {
    let data = stream_bytes(LEN, 29);
    let limits = Limits {
        gap_skip_bytes: 1000,
        ..Limits::default()
    };
    let mut h = Harness::with_limits(SYN_SEQ, limits);
    h.syn();
    for range in cut_fixed(LEN, 100).into_iter().skip(1) {
        h.send(&data, range);
        if range.0 == 1000 {
            assert!(h.out.is_empty(), "exactly the threshold is still held");
        }
    }
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, vec![Gap(100), Bytes(data[100..].to_vec()), Fin]);
    assert_eq!(anomalies, vec![("out_of_order", 11)]);
    assert_eq!((stats.gaps_threshold, stats.gaps_limit), (1, 0));
}

#[test]
fn rst_mid_stream_delivers_contiguous_and_stops() {
    let data = stream_bytes(LEN, 30);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.send(&data, (0, 1000));
    h.send(&data, (1500, 2000));
    // A RST far outside the window is ignored.
    h.rst(2 << 30);
    assert_eq!(h.out, vec![Bytes(data[..1000].to_vec())]);
    h.rst(2000);
    assert_eq!(h.out, vec![Bytes(data[..1000].to_vec()), Rst]);
    // The buffered bytes behind the hole were discarded and their memory returned at once.
    assert_eq!(h.mem.in_use_bytes(), 0);
    h.send(&data, (1000, 1500));
    h.ack(2000);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, vec![Bytes(data[..1000].to_vec()), Rst]);
    assert_eq!(
        anomalies,
        vec![
            ("data_after_close", 1),
            ("out_of_order", 1),
            ("out_of_window", 1)
        ]
    );
    assert_eq!(stats.discarded_bytes, 500);
}

#[test]
fn rst_before_anything_else() {
    let mut h = Harness::new(SYN_SEQ);
    h.rst(0);
    h.data(0, b"ignored", false);
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, vec![Rst]);
    assert_eq!(anomalies, vec![("data_after_close", 1)]);
}

#[test]
fn data_after_fin_is_ignored() {
    let data = stream_bytes(LEN, 31);
    let mut h = feed_all(SYN_SEQ, &data, &[(0, LEN)]);
    h.data(LEN as u64, &[0x55; 100], false);
    h.data(LEN as u64 - 100, &[0x66; 200], false);
    // A retransmitted FIN is no second FIN.
    h.data(LEN as u64 - 100, &data[LEN - 100..], true);
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(
        anomalies,
        vec![("data_after_fin", 2), ("retransmission", 2)]
    );
}

#[test]
fn buffered_data_beyond_a_late_fin_is_dropped() {
    let data = stream_bytes(LEN, 32);
    let mut beyond = data[4800..].to_vec();
    beyond.extend_from_slice(&[0x77; 200]);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    // 4800..5200 buffered; then the FIN at 5000 arrives (out of order too) and trims it.
    h.data(4800, &beyond, false);
    h.send(&data, (4000, LEN));
    assert_eq!(h.stream.buffered_bytes(), 1000);
    h.send(&data, (0, 4000));
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(
        anomalies,
        vec![
            ("data_after_fin", 1),
            ("out_of_order", 2),
            ("overlap_same", 1)
        ]
    );
    assert_eq!(stats.discarded_bytes, 200);
}

#[test]
fn snaplen_cut_in_order_becomes_gap() {
    let data = stream_bytes(LEN, 33);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    for range in cut_fixed(LEN, 500) {
        if range.0 == 1000 {
            // Only 100 of 500 payload bytes captured.
            h.truncated(1000, &data[1000..1100], 400);
        } else {
            h.send(&data, range);
        }
    }
    let expected = vec![
        Bytes(data[..1100].to_vec()),
        Gap(400),
        Bytes(data[1500..].to_vec()),
        Fin,
    ];
    assert_eq!(h.out, expected);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(out, expected);
    assert_eq!(anomalies, vec![("truncated", 1)]);
    assert_eq!((stats.gaps_truncated, stats.gap_bytes), (1, 400));
}

#[test]
fn snaplen_cut_out_of_order_stays_a_hole_until_skipped() {
    let data = stream_bytes(LEN, 34);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.truncated(1000, &data[1000..1100], 400);
    for range in cut_fixed(LEN, 500) {
        if range.0 != 1000 {
            h.send(&data, range);
        }
    }
    assert_eq!(h.out, vec![Bytes(data[..1100].to_vec())]);
    let (out, anomalies, stats) = h.finish();
    assert_eq!(
        out,
        vec![
            Bytes(data[..1100].to_vec()),
            Gap(400),
            Bytes(data[1500..].to_vec()),
            Fin,
        ]
    );
    assert_eq!(anomalies, vec![("out_of_order", 8), ("truncated", 1)]);
    assert_eq!(stats.gaps_flush, 1);

    // A complete retransmission of the cut segment fills the hole before anything skips it.
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.truncated(1000, &data[1000..1100], 400);
    for range in cut_fixed(LEN, 500) {
        if range.0 != 1000 {
            h.send(&data, range);
        }
    }
    h.send(&data, (1000, 1500));
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(
        anomalies,
        vec![
            ("out_of_order", 8),
            ("partial_retransmission", 1),
            ("truncated", 1)
        ]
    );
}

#[test]
fn segment_far_ahead_is_out_of_window() {
    let data = stream_bytes(LEN, 35);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.data(u64::from(MAX_WINDOW_BYTES) + 1, b"far", false);
    // Just over 2^30 behind (modulo 2^32).
    h.data((3 << 30) - 1, b"behind", false);
    assert_eq!(h.stream.buffered_bytes(), 0);
    h.send(&data, (0, LEN));
    let (out, anomalies, _) = h.finish();
    assert_eq!(out, whole(&data));
    assert_eq!(anomalies, vec![("out_of_window", 2)]);
}

#[test]
fn release_returns_memory_without_delivering() {
    let data = stream_bytes(LEN, 36);
    let mut h = Harness::new(SYN_SEQ);
    h.syn();
    h.send(&data, (1000, 3000));
    assert_eq!(h.mem.in_use_bytes(), 2000 + SEGMENT_OVERHEAD_BYTES);
    h.stream.release(&mut h.mem);
    assert_eq!(h.mem.in_use_bytes(), 0);
    assert!(h.out.is_empty());
    assert_eq!(h.stream.stats().discarded_bytes, 2000);
    assert!(!h.stream.is_closed());
}

#[test]
fn new_stream_is_empty_and_flushes_to_nothing() {
    let mut h = Harness::new(SYN_SEQ);
    assert_eq!(h.stream.buffered_bytes(), 0);
    h.flush();
    assert!(h.out.is_empty());
}

/// Feeds `data` in a random segmentation, permuted, with random duplicates and random
/// overlapping re-sends (always the true bytes), and random peer acks that never pass the
/// bytes already sent.
fn random_feed(rng: &mut XorShift, h: &mut Harness, data: &[u8], with_acks: bool) {
    let max = 1 + rng.below_usize(600);
    let mut sends = cut_random(data.len(), max, rng);
    let extra = rng.below_usize(sends.len() / 2 + 1);
    for _ in 0..extra {
        if data.is_empty() {
            break;
        }
        let start = rng.below_usize(data.len());
        let end = (start + 1 + rng.below_usize(800)).min(data.len());
        sends.push((start, end));
    }
    let duplicates: Vec<_> = sends.iter().copied().filter(|_| rng.chance(30)).collect();
    sends.extend(duplicates);
    if rng.chance(80) {
        rng.shuffle(&mut sends);
    } else {
        // Mostly ordered with local swaps, as real reordering looks.
        for i in 1..sends.len() {
            if rng.chance(20) {
                sends.swap(i - 1, i);
            }
        }
    }
    h.syn();
    if rng.chance(50) {
        // A duplicate of the SYN somewhere among the data changes nothing.
        let at = rng.below_usize(sends.len() + 1);
        for &range in &sends[..at] {
            h.send(data, range);
        }
        h.syn();
        sends.drain(..at);
    }
    let mut sent_upto = 0usize;
    for &range in &sends {
        h.send(data, range);
        if with_acks && rng.chance(20) {
            // A receiver acks only bytes it has, all of which precede some sent byte.
            sent_upto = sent_upto.max(range.1);
            h.ack(rng.below(sent_upto as u64 + 1));
        }
    }
}

#[test]
fn property_any_segmentation_reassembles_exactly() {
    for seed in 1..=300u64 {
        let mut rng = XorShift::new(seed);
        let len = rng.below_usize(4000);
        let data = stream_bytes(len, seed ^ 0xabcd);
        let syn_seq = if rng.chance(30) {
            u32::MAX - rng.below(5000) as u32
        } else {
            rng.next() as u32
        };
        let mut h = Harness::new(syn_seq);
        random_feed(&mut rng, &mut h, &data, false);
        assert_eq!(h.out, whole(&data), "seed {seed}");
        assert_eq!(h.mem.in_use_bytes(), 0, "seed {seed}");
        let (out, _, stats) = h.finish();
        assert_eq!(out, whole(&data), "seed {seed}");
        assert_eq!(stats.gaps, 0, "seed {seed}");
        assert_eq!(stats.overlap_differs, 0, "seed {seed}");
        assert_eq!(stats.bytes_delivered, len as u64, "seed {seed}");
    }
}

#[test]
fn property_tight_limits_never_misplace_bytes() {
    // With tiny limits and acks, gaps appear, but every delivered byte is the stream's byte
    // at its offset, data plus gaps cover the stream exactly, and FIN comes last.
    for seed in 1..=300u64 {
        let mut rng = XorShift::new(seed + 10_000);
        let len = rng.below_usize(4000);
        let data = stream_bytes(len, seed);
        let depth_bytes = rng.below(3000) as u32;
        let limits = Limits {
            depth_bytes,
            max_segments: rng.below(10) as u32,
            memcap_bytes: rng.below(4000),
            gap_skip_bytes: rng.below(u64::from(depth_bytes) + 1) as u32,
        };
        assert_eq!(limits.validate(), Ok(()));
        let mut h = Harness::with_limits(rng.next() as u32, limits);
        random_feed(&mut rng, &mut h, &data, true);
        let (out, _, stats) = h.finish();
        let mut at = 0usize;
        for (i, piece) in out.iter().enumerate() {
            match piece {
                Bytes(bytes) => {
                    assert_eq!(bytes.as_slice(), &data[at..at + bytes.len()], "seed {seed}");
                    at += bytes.len();
                }
                Gap(len) => at += *len as usize,
                Fin => assert_eq!(i, out.len() - 1, "seed {seed}: fin not last"),
                Rst => panic!("seed {seed}: unexpected rst"),
            }
        }
        assert_eq!(at, len, "seed {seed}");
        assert_eq!(out.last(), Some(&Fin), "seed {seed}");
        assert_eq!(stats.gap_bytes + stats.bytes_delivered, len as u64);
    }
}

#[test]
fn property_garbage_never_panics_and_accounting_holds() {
    for seed in 1..=300u64 {
        let mut rng = XorShift::new(seed + 20_000);
        let limits = Limits {
            depth_bytes: rng.below(2000) as u32,
            max_segments: rng.below(8) as u32,
            memcap_bytes: rng.below(3000),
            gap_skip_bytes: rng.below(2000) as u32,
        };
        let mut mem = Memory::with_limits(&limits);
        let mut stream = Stream::new();
        let mut out = Vec::new();
        let base = rng.next() as u32;
        let payload = stream_bytes(300, seed);
        for _ in 0..200 {
            let seq = if rng.chance(80) {
                base.wrapping_add(rng.below(3000) as u32)
            } else {
                rng.next() as u32
            };
            let len = rng.below_usize(payload.len());
            let seg = Segment {
                seq,
                syn: rng.chance(5),
                fin: rng.chance(5),
                rst: rng.chance(2),
                payload: &payload[..len],
                missing_bytes: if rng.chance(10) { rng.next() as u32 } else { 0 },
            };
            stream.on_segment(&seg, &mut mem, &limits, &mut |c| push(&mut out, c));
            if rng.chance(30) {
                let ack = if rng.chance(80) {
                    base.wrapping_add(rng.below(4000) as u32)
                } else {
                    rng.next() as u32
                };
                stream.on_peer_ack(ack, &mut mem, &limits, &mut |c| push(&mut out, c));
            }
            assert_eq!(mem.in_use_bytes(), stream.charged_bytes(), "seed {seed}");
            assert!(stream.buffered_bytes() <= u64::from(limits.depth_bytes));
        }
        if rng.chance(50) {
            stream.flush(&mut mem, &mut |c| push(&mut out, c));
        } else {
            stream.release(&mut mem);
        }
        assert_eq!(mem.in_use_bytes(), 0, "seed {seed}");
        // At most one end marker, and nothing after it.
        let ends = out.iter().filter(|p| matches!(p, Fin | Rst)).count();
        assert!(ends <= 1, "seed {seed}");
        if ends == 1 {
            assert!(matches!(out.last(), Some(Fin | Rst)), "seed {seed}");
        }
    }
}

#[test]
fn anomaly_labels_are_distinct_snake_case() {
    let mut labels: Vec<_> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
    labels.extend(
        [
            GapReason::Ack,
            GapReason::Flush,
            GapReason::Limit,
            GapReason::Threshold,
            GapReason::Truncated,
        ]
        .iter()
        .map(|r| r.as_str()),
    );
    for label in &labels {
        assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    }
    let anomaly_count = AnomalyKind::ALL.len();
    let mut anomaly_labels = labels[..anomaly_count].to_vec();
    anomaly_labels.sort_unstable();
    anomaly_labels.dedup();
    assert_eq!(anomaly_labels.len(), anomaly_count);
}

#[test]
fn stats_merge_adds_every_counter() {
    let data = stream_bytes(LEN, 37);
    let mut h = Harness::new(SYN_SEQ);
    feed_with_holes(&mut h, &data, &[1000]);
    h.send(&data, (0, 500));
    let (_, _, stats) = h.finish();
    let mut total = StreamStats::default();
    total.merge(&stats);
    total.merge(&stats);
    assert_eq!(total.segments, 2 * stats.segments);
    assert_eq!(total.gaps_flush, 2);
    assert_eq!(total.retransmission, 2);
    for kind in AnomalyKind::ALL {
        assert_eq!(total.anomaly(kind), 2 * stats.anomaly(kind));
    }
    assert_eq!(total.gaps_for(GapReason::Flush), 2);
}

#[test]
fn limits_validate_names_the_key() {
    assert_eq!(Limits::default().validate(), Ok(()));
    let too_deep = Limits {
        depth_bytes: MAX_WINDOW_BYTES + 1,
        gap_skip_bytes: 0,
        ..Limits::default()
    };
    assert_eq!(
        too_deep.validate(),
        Err(Error::LimitTooLarge {
            key: "reassembly.depth_bytes",
            value: u64::from(MAX_WINDOW_BYTES) + 1,
            max: u64::from(MAX_WINDOW_BYTES),
        })
    );
    let skip_beyond_depth = Limits {
        depth_bytes: 10,
        gap_skip_bytes: 11,
        ..Limits::default()
    };
    let err = skip_beyond_depth.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "reassembly.gap_skip_bytes is 11, above its maximum 10"
    );
}
