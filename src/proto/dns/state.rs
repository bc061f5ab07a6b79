//! Framing of DNS messages over TCP (RFC 1035 §4.2.2, RFC 7766 §8).
//!
//! Owns one [`TcpFramer`] per direction of a TCP flow ([`TcpState`] holds the pair). Takes
//! in-order stream bytes in chunks of any size (single bytes work) and emits each complete
//! message, without its 2-byte length prefix, to a callback `FnMut(&[u8])`. A message that
//! lies wholly inside one input chunk is passed as a slice of that chunk, without copying;
//! only a message split across chunks is copied into the framer's buffer.
//!
//! Limits: the buffer holds at most one message, so at most `max_message_bytes` (≤ 65535,
//! the largest length the prefix can express); longer messages are skipped and counted.
//! After a message, a buffer that grew past [`MAX_RETAINED_BUFFER_BYTES`] is released.
//!
//! Gaps: DNS over TCP has no marker to find the next length prefix after lost bytes, and a
//! wrong guess turns every later message into garbage. So [`TcpFramer::on_gap`] drops the
//! partial message and stops the direction for good: later bytes are counted and ignored.
//! The other direction is unaffected.
//!
//! Must not: parse messages (the callback does), reorder bytes (reassembly does), or buffer
//! more than one message.

use crate::flow::Direction;

/// Capacity above which the framer's buffer is freed after use: most DNS messages are a few
/// hundred bytes, and a flow table holds many idle framers.
pub const MAX_RETAINED_BUFFER_BYTES: usize = 2048;

/// Counters of one framer; [`TcpState::stats`] adds both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FramerStats {
    /// Messages handed to the callback.
    pub messages_total: u64,
    /// Of those, messages that had to be copied because they spanned chunks.
    pub buffered_messages_total: u64,
    /// Length prefixes of zero (nothing to deliver).
    pub empty_messages_total: u64,
    /// Messages over `max_message_bytes`, skipped.
    pub oversize_messages_total: u64,
    /// Bytes of skipped oversize messages.
    pub oversize_bytes_total: u64,
    /// Gaps reported by reassembly; each one stops the framer.
    pub gaps_total: u64,
    /// Bytes dropped from a partial message at a gap.
    pub gap_dropped_bytes_total: u64,
    /// Bytes received while stopped, ignored.
    pub ignored_bytes_total: u64,
}

/// Where the framer is within the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FramerState {
    /// Reading a length prefix; `high` is its first byte when only that has arrived.
    Length { high: Option<u8> },
    /// Collecting a message of `len` bytes into the buffer.
    Message { len: usize },
    /// Discarding the rest of an oversize message.
    Skip { remaining: usize },
    /// Stopped after a gap; everything is ignored.
    Stopped,
}

/// Cuts one direction of a DNS-over-TCP stream into messages.
#[derive(Clone, Debug)]
pub struct TcpFramer {
    state: FramerState,
    buf: Vec<u8>,
    max_message_bytes: usize,
    stats: FramerStats,
}

/// The two framers of one TCP flow.
#[derive(Clone, Debug, Default)]
pub struct TcpState {
    /// Client to server: queries.
    pub to_server: TcpFramer,
    /// Server to client: responses.
    pub to_client: TcpFramer,
}

impl TcpFramer {
    /// Largest message the 2-byte prefix can announce, and the default limit: a phone's DNS
    /// responses are small, and one 64 KiB buffer per direction is the worst case.
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = u16::MAX as usize;

    /// A framer at the start of a stream, with the default limit.
    pub fn new() -> Self {
        TcpFramer {
            state: FramerState::Length { high: None },
            buf: Vec::new(),
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
            stats: FramerStats::default(),
        }
    }

    /// Sets the largest message delivered; longer ones are skipped. Values above 65535 have
    /// no effect.
    pub fn with_max_message_bytes(mut self, max_message_bytes: usize) -> Self {
        self.max_message_bytes = max_message_bytes;
        self
    }

    /// Feeds the next in-order bytes of the stream; calls `on_message` once per complete
    /// message, in order. Partial data stays buffered until the next call.
    pub fn on_data(&mut self, data: &[u8], mut on_message: impl FnMut(&[u8])) {
        let mut rest = data;
        while !rest.is_empty() {
            match self.state {
                FramerState::Stopped => {
                    self.stats.ignored_bytes_total += rest.len() as u64;
                    return;
                }
                FramerState::Length { high: None } => match rest {
                    [hi, lo, tail @ ..] => {
                        rest = tail;
                        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                        rest = self.start_message(len, rest, &mut on_message);
                    }
                    [hi] => {
                        self.state = FramerState::Length { high: Some(*hi) };
                        rest = &[];
                    }
                    [] => {}
                },
                FramerState::Length { high: Some(hi) } => {
                    if let [lo, tail @ ..] = rest {
                        rest = tail;
                        let len = usize::from(u16::from_be_bytes([hi, *lo]));
                        rest = self.start_message(len, rest, &mut on_message);
                    }
                }
                FramerState::Message { len } => {
                    let want = len.saturating_sub(self.buf.len());
                    // The split point is at most `rest.len()`, so `split_at` cannot panic.
                    let (part, tail) = rest.split_at(want.min(rest.len()));
                    self.buf.extend_from_slice(part);
                    rest = tail;
                    if self.buf.len() >= len {
                        self.stats.messages_total += 1;
                        self.stats.buffered_messages_total += 1;
                        on_message(&self.buf);
                        self.finish_buffered();
                    }
                }
                FramerState::Skip { remaining } => {
                    let n = remaining.min(rest.len());
                    rest = rest.get(n..).unwrap_or_default();
                    self.state = match remaining - n {
                        0 => FramerState::Length { high: None },
                        remaining => FramerState::Skip { remaining },
                    };
                }
            }
        }
    }

    /// Reports lost bytes before the next [`on_data`](Self::on_data): the partial message is
    /// dropped and the framer stops (see the module doc for why it cannot resynchronise).
    pub fn on_gap(&mut self) {
        self.stats.gaps_total += 1;
        self.stats.gap_dropped_bytes_total += self.buf.len() as u64;
        self.buf = Vec::new();
        self.state = FramerState::Stopped;
    }

    /// Whether a gap stopped this framer.
    pub fn is_stopped(&self) -> bool {
        self.state == FramerState::Stopped
    }

    /// Bytes of a partial message held, for memory accounting.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Counters of this framer.
    pub fn stats(&self) -> FramerStats {
        self.stats
    }

    /// Handles a fresh length prefix: delivers the message straight from `rest` when it is
    /// all there, else starts buffering or skipping. Returns the unconsumed input.
    fn start_message<'d>(
        &mut self,
        len: usize,
        rest: &'d [u8],
        on_message: &mut impl FnMut(&[u8]),
    ) -> &'d [u8] {
        self.state = FramerState::Length { high: None };
        if len == 0 {
            self.stats.empty_messages_total += 1;
            return rest;
        }
        if len > self.max_message_bytes {
            self.stats.oversize_messages_total += 1;
            self.stats.oversize_bytes_total += len as u64;
            self.state = FramerState::Skip { remaining: len };
            return rest;
        }
        if let Some((message, tail)) = rest.split_at_checked(len) {
            self.stats.messages_total += 1;
            on_message(message);
            return tail;
        }
        self.buf.clear();
        self.buf.reserve_exact(len);
        self.buf.extend_from_slice(rest);
        self.state = FramerState::Message { len };
        &[]
    }

    /// Resets after a buffered message, freeing a buffer that grew large.
    fn finish_buffered(&mut self) {
        self.state = FramerState::Length { high: None };
        if self.buf.capacity() > MAX_RETAINED_BUFFER_BYTES {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }
}

impl Default for TcpFramer {
    fn default() -> Self {
        TcpFramer::new()
    }
}

impl TcpState {
    /// Both directions at the start of their streams, with the default limit.
    pub fn new() -> Self {
        TcpState::default()
    }

    /// The framer of one direction.
    pub fn framer_mut(&mut self, direction: Direction) -> &mut TcpFramer {
        match direction {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    /// Feeds in-order bytes of one direction; see [`TcpFramer::on_data`].
    pub fn on_data(&mut self, direction: Direction, data: &[u8], on_message: impl FnMut(&[u8])) {
        self.framer_mut(direction).on_data(data, on_message);
    }

    /// Reports a gap in one direction; see [`TcpFramer::on_gap`].
    pub fn on_gap(&mut self, direction: Direction) {
        self.framer_mut(direction).on_gap();
    }

    /// Counters of both directions added together.
    pub fn stats(&self) -> FramerStats {
        let (a, b) = (self.to_server.stats, self.to_client.stats);
        FramerStats {
            messages_total: a.messages_total + b.messages_total,
            buffered_messages_total: a.buffered_messages_total + b.buffered_messages_total,
            empty_messages_total: a.empty_messages_total + b.empty_messages_total,
            oversize_messages_total: a.oversize_messages_total + b.oversize_messages_total,
            oversize_bytes_total: a.oversize_bytes_total + b.oversize_bytes_total,
            gaps_total: a.gaps_total + b.gaps_total,
            gap_dropped_bytes_total: a.gap_dropped_bytes_total + b.gap_dropped_bytes_total,
            ignored_bytes_total: a.ignored_bytes_total + b.ignored_bytes_total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two framed messages: a 5-byte one and a 3-byte one.
    const STREAM: &[u8] = &[
        0x00, 0x05, // length 5
        b'h', b'e', b'l', b'l', b'o', // message 1
        0x00, 0x03, // length 3
        b'a', b'b', b'c', // message 2
    ];

    fn collect(framer: &mut TcpFramer, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for chunk in chunks {
            framer.on_data(chunk, |m| out.push(m.to_vec()));
        }
        out
    }

    fn expected() -> Vec<Vec<u8>> {
        vec![b"hello".to_vec(), b"abc".to_vec()]
    }

    #[test]
    fn two_messages_in_one_chunk_are_not_copied() {
        let mut framer = TcpFramer::new();
        assert_eq!(collect(&mut framer, &[STREAM]), expected());
        let stats = framer.stats();
        assert_eq!(stats.messages_total, 2);
        assert_eq!(stats.buffered_messages_total, 0);
        assert_eq!(framer.buffered_bytes(), 0);
    }

    #[test]
    fn one_byte_chunks() {
        let mut framer = TcpFramer::new();
        let chunks: Vec<&[u8]> = STREAM.chunks(1).collect();
        assert_eq!(collect(&mut framer, &chunks), expected());
        assert_eq!(framer.stats().buffered_messages_total, 2);
    }

    #[test]
    fn every_two_way_split() {
        for at in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(at);
            let mut framer = TcpFramer::new();
            assert_eq!(collect(&mut framer, &[a, b]), expected(), "split at {at}");
        }
    }

    #[test]
    fn real_query_over_tcp_parses() {
        // Length 19, then a query for "a" A IN.
        let stream = [
            0x00, 0x13, // length 19
            0x00, 0x2a, // ID
            0x01, 0x00, // flags: RD
            0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // counts 1/0/0/0
            1, b'a', 0, // name "a"
            0x00, 0x01, 0x00, 0x01, // A IN
        ];
        let mut names = Vec::new();
        let mut framer = TcpFramer::new();
        for byte in stream.chunks(1) {
            framer.on_data(byte, |m| {
                let msg = crate::proto::dns::parse_message(m).unwrap();
                names.push(msg.questions[0].name.clone());
            });
        }
        assert_eq!(names, vec!["a".to_string()]);
    }

    #[test]
    fn gap_stops_the_direction() {
        let mut state = TcpState::new();
        let mut got = Vec::new();
        state.on_data(Direction::ToServer, &STREAM[..4], |m| got.push(m.to_vec()));
        state.on_gap(Direction::ToServer);
        state.on_data(Direction::ToServer, STREAM, |m| got.push(m.to_vec()));
        assert!(got.is_empty());
        assert!(state.to_server.is_stopped());
        // The other direction is unaffected.
        state.on_data(Direction::ToClient, STREAM, |m| got.push(m.to_vec()));
        assert_eq!(got, expected());
        let stats = state.stats();
        assert_eq!(stats.gaps_total, 1);
        assert_eq!(stats.gap_dropped_bytes_total, 2);
        assert_eq!(stats.ignored_bytes_total, STREAM.len() as u64);
        assert_eq!(stats.messages_total, 2);
    }

    #[test]
    fn oversize_and_empty_messages_are_skipped() {
        let mut framer = TcpFramer::new().with_max_message_bytes(4);
        let mut stream = vec![0x00, 0x00]; // empty message
        stream.extend_from_slice(STREAM);
        let chunks: Vec<&[u8]> = stream.chunks(2).collect();
        assert_eq!(collect(&mut framer, &chunks), vec![b"abc".to_vec()]);
        let stats = framer.stats();
        assert_eq!(stats.empty_messages_total, 1);
        assert_eq!(stats.oversize_messages_total, 1);
        assert_eq!(stats.oversize_bytes_total, 5);
    }

    #[test]
    fn large_buffer_is_released() {
        let mut stream = vec![0x10, 0x00];
        stream.extend(std::iter::repeat_n(7u8, 0x1000));
        let mut framer = TcpFramer::new();
        let mut lens = Vec::new();
        for chunk in stream.chunks(1000) {
            framer.on_data(chunk, |m| lens.push(m.len()));
        }
        assert_eq!(lens, vec![0x1000]);
        assert_eq!(framer.buf.capacity(), 0);
    }

    #[test]
    fn random_segmentation_gives_the_same_messages() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for i in 0..200u16 {
            let len = usize::from(i % 37) + 1;
            let body: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
            stream.extend_from_slice(&(len as u16).to_be_bytes());
            stream.extend_from_slice(&body);
            want.push(body);
        }
        for _ in 0..50 {
            let mut framer = TcpFramer::new();
            let mut got = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let n = (seed as usize % 90).min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                framer.on_data(chunk, |m| got.push(m.to_vec()));
                rest = tail;
            }
            assert_eq!(got, want);
        }
    }
}
