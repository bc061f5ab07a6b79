//! Bounded reassembly of one CRYPTO stream (RFC 9000 §19.6) from frames that
//! arrive out of order, duplicated or overlapping, across Initial packets.
//!
//! Overlaps are first-wins: bytes already stored are never overwritten, so a
//! later, conflicting retransmission cannot change what was parsed. Memory is
//! capped in bytes and in the number of disjoint ranges.

/// Why an insert was (partly) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// The frame would create more than `max_ranges` disjoint ranges; dropped.
    TooFragmented,
    /// Bytes at or beyond `max_bytes` were dropped (the rest was stored).
    TooLarge,
}

/// Reassembly buffer for one CRYPTO stream.
#[derive(Debug, Default)]
pub struct CryptoAssembler {
    /// Stream bytes from offset 0; holes hold zeros.
    buf: Vec<u8>,
    /// Sorted, disjoint, non-adjacent filled ranges `[start, end)`.
    ranges: Vec<(usize, usize)>,
    max_bytes: usize,
    max_ranges: usize,
}

impl CryptoAssembler {
    /// An empty assembler; nothing is allocated until data arrives.
    pub fn new(max_bytes: usize, max_ranges: usize) -> Self {
        CryptoAssembler {
            buf: Vec::new(),
            ranges: Vec::new(),
            max_bytes,
            max_ranges: max_ranges.max(1),
        }
    }

    /// Stores `data` at stream `offset`, first-wins on overlap.
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Result<(), InsertError> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if data.is_empty() {
            return Ok(());
        }
        if start >= self.max_bytes {
            return Err(InsertError::TooLarge);
        }
        let full_end = start.saturating_add(data.len());
        let end = full_end.min(self.max_bytes);
        let data = data.get(..end - start).unwrap_or(data);

        // Ranges that touch or overlap [start, end) merge into one.
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let last = self.ranges.partition_point(|&(s, _)| s <= end);
        let merging = last.saturating_sub(first);
        if merging == 0 && self.ranges.len() >= self.max_ranges {
            return Err(InsertError::TooFragmented);
        }
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        // Copy only into the holes between the merging ranges.
        let mut cursor = start;
        for i in first..last {
            let Some(&(s, e)) = self.ranges.get(i) else {
                break;
            };
            self.copy_hole(cursor, s.min(end), start, data);
            cursor = cursor.max(e);
        }
        self.copy_hole(cursor, end, start, data);

        let new_start = self
            .ranges
            .get(first)
            .filter(|_| merging > 0)
            .map_or(start, |&(s, _)| s.min(start));
        let new_end = last
            .checked_sub(1)
            .and_then(|i| self.ranges.get(i))
            .filter(|_| merging > 0)
            .map_or(end, |&(_, e)| e.max(end));
        self.ranges.splice(first..last, [(new_start, new_end)]);
        if full_end > end {
            Err(InsertError::TooLarge)
        } else {
            Ok(())
        }
    }

    /// Copies `data` (which starts at stream offset `data_start`) into the
    /// hole `[from, to)`, if non-empty.
    fn copy_hole(&mut self, from: usize, to: usize, data_start: usize, data: &[u8]) {
        if from >= to {
            return;
        }
        let src = data.get(from - data_start..to - data_start);
        let dst = self.buf.get_mut(from..to);
        if let (Some(src), Some(dst)) = (src, dst) {
            dst.copy_from_slice(src);
        }
    }

    /// The contiguous bytes from offset 0 received so far.
    pub fn contiguous(&self) -> &[u8] {
        match self.ranges.first() {
            Some(&(0, end)) => self.buf.get(..end).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Number of disjoint ranges held.
    pub fn fragments(&self) -> usize {
        self.ranges.len()
    }

    /// Frees the buffer (after the hello was parsed or the flow gave up).
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.ranges = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_and_out_of_order() {
        let mut a = CryptoAssembler::new(1024, 8);
        a.insert(5, b"fghij").unwrap();
        assert_eq!(a.contiguous(), b"");
        a.insert(12, b"mn").unwrap();
        assert_eq!(a.fragments(), 2);
        a.insert(0, b"abcde").unwrap();
        assert_eq!(a.contiguous(), b"abcdefghij");
        a.insert(10, b"kl").unwrap();
        assert_eq!(a.contiguous(), b"abcdefghijklmn");
        assert_eq!(a.fragments(), 1);
    }

    #[test]
    fn overlaps_are_first_wins() {
        let mut a = CryptoAssembler::new(1024, 8);
        a.insert(2, b"CD").unwrap();
        a.insert(6, b"GH").unwrap();
        a.insert(0, b"abcdefghij").unwrap();
        assert_eq!(a.contiguous(), b"abCDefGHij");
        a.insert(0, b"xxxxxxxxxxxx").unwrap();
        assert_eq!(a.contiguous(), b"abCDefGHijxx");
        a.insert(3, b"").unwrap();
        assert_eq!(a.fragments(), 1);
    }

    #[test]
    fn limits() {
        let mut a = CryptoAssembler::new(8, 2);
        assert_eq!(a.insert(6, b"0123"), Err(InsertError::TooLarge));
        assert_eq!(a.insert(8, b"x"), Err(InsertError::TooLarge));
        assert_eq!(a.insert(u64::MAX, b"x"), Err(InsertError::TooLarge));
        a.insert(2, b"a").unwrap();
        assert_eq!(a.insert(4, b"b"), Err(InsertError::TooFragmented));
        // Extending an existing range is still fine at the range limit.
        a.insert(3, b"b").unwrap();
        a.insert(0, b"zz").unwrap();
        assert_eq!(a.contiguous(), b"zzab");
        a.insert(4, b"cd").unwrap();
        assert_eq!(a.contiguous(), b"zzabcd01");
        a.clear();
        assert_eq!(a.contiguous(), b"");
    }

    #[test]
    fn every_permutation_of_fragments_gives_the_same_stream() {
        let stream: Vec<u8> = (0..60u8).collect();
        let cuts = [(0, 10), (10, 25), (20, 40), (40, 41), (41, 60)];
        // All 120 orders of 5 (overlapping) fragments.
        let mut order = [0usize, 1, 2, 3, 4];
        let mut count = 0;
        heap_permutations(&mut order, 5, &mut |perm| {
            let mut a = CryptoAssembler::new(1024, 8);
            for &i in perm {
                let (s, e) = cuts[i];
                a.insert(s as u64, &stream[s..e]).unwrap();
            }
            assert_eq!(a.contiguous(), &stream[..]);
            count += 1;
        });
        assert_eq!(count, 120);
    }

    fn heap_permutations(a: &mut [usize; 5], k: usize, f: &mut impl FnMut(&[usize; 5])) {
        if k == 1 {
            f(a);
            return;
        }
        for i in 0..k {
            heap_permutations(a, k - 1, f);
            if k.is_multiple_of(2) {
                a.swap(i, k - 1);
            } else {
                a.swap(0, k - 1);
            }
        }
    }
}
