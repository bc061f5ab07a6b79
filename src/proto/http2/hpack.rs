//! HPACK (RFC 7541) header block decoding for one direction of a connection, through the
//! `loona-hpack` crate (static and dynamic tables, Huffman strings).
//!
//! Owns: one decoder context (the dynamic table) and the table size bound that applies to it.
//! Takes: complete header blocks (a HEADERS or PUSH_PROMISE fragment plus its CONTINUATION
//! fragments, RFC 9113 §4.3), in the order the encoder produced them. Emits: each field as
//! borrowed `(name, value)` bytes to a callback, in order.
//!
//! Why this crate: of the HPACK decoders on crates.io it is maintained, decodes every
//! representation of RFC 7541 §6 with the dynamic table and Huffman strings, and reports
//! every malformed input as a `Result` error (integer overflow, index out of range, bad
//! Huffman padding or EOS, a size update above the allowed maximum). `httlib-hpack` indexes
//! past the end of its input on a truncated integer, and `hpack` 0.3 (2015) is the
//! unmaintained ancestor of this crate. The one `assert!` in `loona-hpack`
//! (`Decoder::set_max_table_size` above the allowed size) is never reached: this wrapper
//! only sets the allowed size and lets the encoder's own size updates (§6.3) move the table.
//!
//! Limits: the dynamic table never exceeds the size the decoder allows
//! ([`HeaderDecoder::set_allowed_table_bytes`]: the peer's SETTINGS_HEADER_TABLE_SIZE, capped by
//! `max_hpack_table_bytes`); a size update above it is an error. Decoded fields are handed out
//! borrowed; what is kept is the caller's choice and cap.
//!
//! Must not: panic on any input, or go on after an error: the table may then differ from the
//! encoder's, and every later block of the direction would decode to wrong fields. The caller
//! stops the direction instead ([`super::AnomalyKind::HpackError`]).

use loona_hpack::decoder::{DecoderError, IntegerDecodingError, StringDecodingError};

/// The initial dynamic table size (RFC 7541 §4.2) as a byte count.
pub const INITIAL_TABLE_BYTES: usize = super::frame::INITIAL_HEADER_TABLE_SIZE as usize;

/// Why a header block could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum HpackError {
    /// An indexed field or name refers past the end of the tables (RFC 7541 §2.3.3).
    #[error("table index out of range")]
    Index,
    /// An integer is cut short or longer than the decoder accepts (RFC 7541 §5.1).
    #[error("invalid integer")]
    Integer,
    /// A string literal is cut short (RFC 7541 §5.2).
    #[error("truncated string literal")]
    String,
    /// A Huffman string has invalid padding or contains EOS (RFC 7541 §5.2).
    #[error("invalid huffman string")]
    Huffman,
    /// A dynamic table size update above the allowed maximum (RFC 7541 §6.3), or at the end
    /// of a block.
    #[error("invalid dynamic table size update")]
    TableSize,
}

/// The decoder of one direction; see the module doc.
pub struct HeaderDecoder {
    inner: loona_hpack::Decoder<'static>,
    allowed: usize,
}

impl HeaderDecoder {
    /// A decoder in the initial state: an empty dynamic table of at most 4096 bytes, the
    /// size both ends assume before any SETTINGS (RFC 7541 §4.2, RFC 9113 §6.5.2).
    pub fn new() -> Self {
        let mut d = HeaderDecoder {
            inner: loona_hpack::Decoder::new(),
            allowed: 0,
        };
        d.set_allowed_table_bytes(INITIAL_TABLE_BYTES);
        d
    }

    /// Sets the largest dynamic table size the encoder may switch to with a size update.
    pub fn set_allowed_table_bytes(&mut self, bytes: usize) {
        if bytes != self.allowed {
            self.allowed = bytes;
            self.inner.set_max_allowed_table_size(bytes);
        }
    }

    /// The allowed dynamic table size.
    pub fn allowed_table_bytes(&self) -> usize {
        self.allowed
    }

    /// Decodes one complete header block, handing each field to `field` in order. On error
    /// the fields before the error have been handed out and the table is unreliable.
    pub fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        self.inner
            .decode_with_cb(block, |name, value| field(&name, &value))
            .map_err(map_error)
    }
}

impl Default for HeaderDecoder {
    fn default() -> Self {
        HeaderDecoder::new()
    }
}

impl std::fmt::Debug for HeaderDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderDecoder")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

fn map_error(err: DecoderError) -> HpackError {
    match err {
        DecoderError::HeaderIndexOutOfBounds => HpackError::Index,
        DecoderError::IntegerDecodingError(IntegerDecodingError::NotEnoughOctets)
        | DecoderError::IntegerDecodingError(_) => HpackError::Integer,
        DecoderError::StringDecodingError(StringDecodingError::NotEnoughOctets) => {
            HpackError::String
        }
        DecoderError::StringDecodingError(_) => HpackError::Huffman,
        DecoderError::InvalidMaxDynamicSize | DecoderError::SizeUpdateAtEnd => {
            HpackError::TableSize
        }
        // The enum is non-exhaustive; a future kind is still an error of the block.
        _ => HpackError::Integer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(
        d: &mut HeaderDecoder,
        block: &[u8],
    ) -> Result<Vec<(String, String)>, HpackError> {
        let mut out = Vec::new();
        d.decode(block, |n, v| {
            out.push((
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ))
        })?;
        Ok(out)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// RFC 7541 Appendix C.3: three requests on one connection, no Huffman coding; the
    /// second and third refer to entries the earlier ones added to the dynamic table.
    #[test]
    fn rfc7541_c3_requests_without_huffman() {
        let mut d = HeaderDecoder::new();
        let c31 = [
            0x82, // :method: GET (static 2)
            0x86, // :scheme: http (static 6)
            0x84, // :path: / (static 4)
            0x41, 0x0f, // literal, incremental indexing, name :authority (static 1), 15 bytes
            b'w', b'w', b'w', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o',
            b'm',
        ];
        assert_eq!(
            decode_all(&mut d, &c31).unwrap(),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com"),
            ])
        );
        let c32 = [
            0x82, 0x86, 0x84, // GET, http, /
            0xbe, // dynamic 62: :authority: www.example.com
            0x58, 0x08, // literal, indexing, name cache-control (static 24), 8 bytes
            b'n', b'o', b'-', b'c', b'a', b'c', b'h', b'e',
        ];
        assert_eq!(
            decode_all(&mut d, &c32).unwrap(),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com"),
                ("cache-control", "no-cache"),
            ])
        );
        let c33 = [
            0x82, 0x87, 0x85, // GET, https, /index.html
            0xbf, // dynamic 63: :authority: www.example.com (now second newest)
            0x40, 0x0a, // literal, indexing, new name, 10 bytes
            b'c', b'u', b's', b't', b'o', b'm', b'-', b'k', b'e', b'y', //
            0x0c, // value, 12 bytes
            b'c', b'u', b's', b't', b'o', b'm', b'-', b'v', b'a', b'l', b'u', b'e',
        ];
        assert_eq!(
            decode_all(&mut d, &c33).unwrap(),
            pairs(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value"),
            ])
        );
        // Table now holds custom-key (62), cache-control (63), :authority (64).
        assert_eq!(
            decode_all(&mut d, &[0xbe, 0xbf, 0xc0]).unwrap(),
            pairs(&[
                ("custom-key", "custom-value"),
                ("cache-control", "no-cache"),
                (":authority", "www.example.com"),
            ])
        );
        assert_eq!(decode_all(&mut d, &[0xc1]), Err(HpackError::Index));
    }

    /// RFC 7541 Appendix C.4: the same requests with Huffman-coded strings.
    #[test]
    fn rfc7541_c4_requests_with_huffman() {
        let mut d = HeaderDecoder::new();
        let c41 = [
            0x82, 0x86, 0x84, // GET, http, /
            0x41, 0x8c, // :authority, Huffman, 12 bytes
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        assert_eq!(
            decode_all(&mut d, &c41).unwrap(),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com"),
            ])
        );
        let c42 = [
            0x82, 0x86, 0x84, 0xbe, // GET, http, /, dynamic 62
            0x58, 0x86, // cache-control, Huffman, 6 bytes
            0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
        ];
        assert_eq!(
            decode_all(&mut d, &c42).unwrap().last().cloned(),
            Some(("cache-control".into(), "no-cache".into()))
        );
        let c43 = [
            0x82, 0x87, 0x85, 0xbf, // GET, https, /index.html, dynamic 63
            0x40, 0x88, // new name, Huffman, 8 bytes
            0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f, //
            0x89, // value, Huffman, 9 bytes
            0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
        ];
        assert_eq!(
            decode_all(&mut d, &c43).unwrap(),
            pairs(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value"),
            ])
        );
    }

    #[test]
    fn malformed_blocks_are_errors() {
        let cases: &[(&[u8], HpackError)] = &[
            (&[0x80], HpackError::Index),                                 // index 0
            (&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], HpackError::Integer), // too many octets
            (&[0xff], HpackError::Integer),                               // integer cut short
            (&[0x40, 0x05, b'a'], HpackError::String), // name shorter than its length
            (&[0x40, 0x81, 0xff, 0x00], HpackError::Huffman), // padding longer than 7 bits
            (&[0x3f, 0xe2, 0x1f, 0x82], HpackError::TableSize), // size update to 4097
            (&[0x82, 0x20], HpackError::TableSize),    // size update at the end
        ];
        for (block, want) in cases {
            let mut d = HeaderDecoder::new();
            assert_eq!(
                decode_all(&mut d, block).map(|_| ()),
                Err(*want),
                "{block:02x?}"
            );
        }
    }

    #[test]
    fn allowed_size_bounds_size_updates() {
        let mut d = HeaderDecoder::new();
        // Size update to 8192: 001 11111, 8192 - 31 = 8161 = 0x1fe1 -> e1 3f.
        let update_8192 = [0x3f, 0xe1, 0x3f, 0x82];
        assert_eq!(decode_all(&mut d, &update_8192), Err(HpackError::TableSize));
        let mut d = HeaderDecoder::new();
        d.set_allowed_table_bytes(8192);
        assert_eq!(decode_all(&mut d, &update_8192).unwrap().len(), 1);
        assert_eq!(d.allowed_table_bytes(), 8192);
    }
}
