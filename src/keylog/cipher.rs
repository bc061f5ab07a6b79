//! Record protection for a passive observer: the cipher suites leaktap can
//! decrypt, key derivation from logged secrets, and opening (and, for tests
//! and benchmarks, sealing) one record.
//!
//! TLS 1.2 (RFC 5246 §6.3, §5): the key block is `PRF(master_secret, "key
//! expansion", server_random ‖ client_random)` with the suite's PRF hash;
//! AEAD suites have no MAC keys, so it is client key, server key, client IV,
//! server IV. AES-GCM (RFC 5288 §3) sends an 8-byte explicit nonce after the
//! record header and uses a 4-byte implicit salt; ChaCha20-Poly1305 (RFC 7905
//! §2) XORs the 12-byte IV with the sequence number. The additional data is
//! `seq ‖ type ‖ version ‖ plaintext length`.
//!
//! TLS 1.3 (RFC 8446 §7.1, §7.3, §5.2, §5.3): key and IV come from the
//! traffic secret with HKDF-Expand-Label; the nonce is IV XOR sequence; the
//! additional data is the 5-byte record header; the plaintext ends with the
//! real content type followed by zero padding. KeyUpdate (§7.2) replaces the
//! secret with `HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)`.
//!
//! Primitives come from the RustCrypto crates (aes-gcm, chacha20poly1305,
//! hkdf, hmac, sha2); nothing here implements a primitive.

use std::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};

use super::{Secret, MAX_SECRET_BYTES};
use crate::flow::Direction;

/// AEAD tag length of every supported suite.
pub const TAG_BYTES: usize = 16;
/// Explicit nonce carried by TLS 1.2 AES-GCM records (RFC 5288 §3).
pub const EXPLICIT_NONCE_BYTES: usize = 8;
/// Record header length.
pub const HEADER_BYTES: usize = 5;

/// Content type of TLS 1.3 encrypted records on the wire (RFC 8446 §5.2).
const APPLICATION_DATA: u8 = 23;

/// The AEAD of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aead {
    /// AES-128-GCM (RFC 5116).
    Aes128Gcm,
    /// AES-256-GCM (RFC 5116).
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439).
    ChaCha20Poly1305,
}

impl Aead {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm | Aead::ChaCha20Poly1305 => 32,
        }
    }
}

/// The hash of a suite's PRF or HKDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlg {
    /// Output length in bytes.
    pub fn len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }

    /// Always false; present for symmetry with `len`.
    pub fn is_empty(self) -> bool {
        false
    }
}

/// A cipher suite leaktap can decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Suite {
    /// IANA code point.
    pub code: u16,
    /// Record AEAD.
    pub aead: Aead,
    /// PRF (TLS 1.2) or HKDF (TLS 1.3) hash.
    pub hash: HashAlg,
    /// Whether this is a TLS 1.3 suite.
    pub tls13: bool,
}

impl Suite {
    /// A TLS 1.2 AEAD suite (any key exchange: the logged master secret
    /// makes it irrelevant). `None` for CBC, CCM, ARIA, Camellia and the rest.
    pub fn tls12(code: u16) -> Option<Suite> {
        use Aead::*;
        use HashAlg::*;
        let (aead, hash) = match code {
            // *_WITH_AES_128_GCM_SHA256: RSA, DHE-RSA, DH-RSA, DHE-DSS, DH-DSS,
            // DH-anon, PSK, DHE-PSK, RSA-PSK (RFC 5288, 5487), ECDHE-ECDSA,
            // ECDH-ECDSA, ECDHE-RSA, ECDH-RSA (RFC 5289), ECDHE-PSK (RFC 8442).
            0x009c | 0x009e | 0x00a0 | 0x00a2 | 0x00a4 | 0x00a6 | 0x00a8 | 0x00aa | 0x00ac
            | 0xc02b | 0xc02d | 0xc02f | 0xc031 | 0xd001 => (Aes128Gcm, Sha256),
            // The same key exchanges with AES_256_GCM_SHA384.
            0x009d | 0x009f | 0x00a1 | 0x00a3 | 0x00a5 | 0x00a7 | 0x00a9 | 0x00ab | 0x00ad
            | 0xc02c | 0xc02e | 0xc030 | 0xc032 | 0xd002 => (Aes256Gcm, Sha384),
            // *_WITH_CHACHA20_POLY1305_SHA256 (RFC 7905 §2).
            0xcca8..=0xccae => (ChaCha20Poly1305, Sha256),
            _ => return None,
        };
        Some(Suite {
            code,
            aead,
            hash,
            tls13: false,
        })
    }

    /// A TLS 1.3 suite (RFC 8446 §B.4); `None` for the CCM suites.
    pub fn tls13(code: u16) -> Option<Suite> {
        let (aead, hash) = match code {
            0x1301 => (Aead::Aes128Gcm, HashAlg::Sha256),
            0x1302 => (Aead::Aes256Gcm, HashAlg::Sha384),
            0x1303 => (Aead::ChaCha20Poly1305, HashAlg::Sha256),
            _ => return None,
        };
        Some(Suite {
            code,
            aead,
            hash,
            tls13: true,
        })
    }
}

/// Key derivation failed: a secret of the wrong size for the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A secret, key or output length does not fit the suite.
    #[error("secret length does not fit the cipher suite")]
    Length,
}

/// Why a record did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum OpenError {
    /// The tag did not verify: wrong keys, wrong sequence number or damage.
    #[error("record authentication failed")]
    Auth,
    /// A TLS 1.3 plaintext of only zero padding (RFC 8446 §5.4).
    #[error("record has no content type")]
    NoContentType,
    /// The body is shorter than nonce plus tag.
    #[error("record too short for its cipher")]
    TooShort,
}

impl OpenError {
    /// Snake-case label for counters.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenError::Auth => "auth_failed",
            OpenError::NoContentType => "no_content_type",
            OpenError::TooShort => "too_short",
        }
    }
}

/// Where the plaintext of an opened record lies in its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The real content type (TLS 1.3: the inner type).
    pub content_type: u8,
    /// Plaintext start offset in the body.
    pub start: usize,
    /// Plaintext end offset in the body.
    pub end: usize,
}

impl Opened {
    /// The plaintext inside `body`.
    pub fn plaintext<'a>(&self, body: &'a [u8]) -> &'a [u8] {
        body.get(self.start..self.end).unwrap_or(&[])
    }
}

/// One of the three AEAD ciphers, keyed. Boxed: the AES key schedules are
/// several hundred bytes and flows hold one per direction.
#[derive(Clone)]
enum AeadKey {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

impl AeadKey {
    fn new(aead: Aead, key: &[u8]) -> Result<AeadKey, CryptoError> {
        Ok(match aead {
            Aead::Aes128Gcm => AeadKey::Aes128(Box::new(
                Aes128Gcm::new_from_slice(key).map_err(|_| CryptoError::Length)?,
            )),
            Aead::Aes256Gcm => AeadKey::Aes256(Box::new(
                Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Length)?,
            )),
            Aead::ChaCha20Poly1305 => AeadKey::ChaCha(Box::new(
                ChaCha20Poly1305::new_from_slice(key).map_err(|_| CryptoError::Length)?,
            )),
        })
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        let tag = aes_gcm::Tag::from_slice(tag);
        match self {
            AeadKey::Aes128(k) => k.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok(),
            AeadKey::Aes256(k) => k.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok(),
            AeadKey::ChaCha(k) => k.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok(),
        }
    }

    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Option<[u8; TAG_BYTES]> {
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        let tag = match self {
            AeadKey::Aes128(k) => k.encrypt_in_place_detached(nonce, aad, buf).ok()?,
            AeadKey::Aes256(k) => k.encrypt_in_place_detached(nonce, aad, buf).ok()?,
            AeadKey::ChaCha(k) => k.encrypt_in_place_detached(nonce, aad, buf).ok()?,
        };
        tag.as_slice().try_into().ok()
    }
}

/// How records of one direction are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// TLS 1.2 AES-GCM: explicit nonce, salt ‖ explicit nonce.
    Tls12Gcm,
    /// TLS 1.2 ChaCha20-Poly1305: IV XOR sequence number.
    Tls12ChaCha,
    /// TLS 1.3: IV XOR sequence number, inner content type.
    Tls13,
}

/// The keys of one direction of one connection, with its sequence number.
#[derive(Clone)]
pub struct RecordKeys {
    aead: AeadKey,
    /// TLS 1.3 and ChaCha: the 12-byte IV; TLS 1.2 GCM: the salt in the
    /// first four bytes.
    iv: [u8; 12],
    seq: u64,
    framing: Framing,
    suite: Suite,
    /// TLS 1.3 traffic secret, kept for KeyUpdate.
    secret: Option<Secret>,
}

impl fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordKeys")
            .field("suite", &self.suite)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl RecordKeys {
    /// TLS 1.2 keys of the direction `dir` (client writes `ToServer`) from
    /// the 48-byte master secret and the two hello randoms.
    pub fn tls12(
        suite: Suite,
        master_secret: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        dir: Direction,
    ) -> Result<RecordKeys, CryptoError> {
        if suite.tls13 || master_secret.len() != 48 {
            return Err(CryptoError::Length);
        }
        let key_len = suite.aead.key_len();
        let (framing, iv_len) = match suite.aead {
            Aead::ChaCha20Poly1305 => (Framing::Tls12ChaCha, 12),
            Aead::Aes128Gcm | Aead::Aes256Gcm => (Framing::Tls12Gcm, 4),
        };
        // Largest block: 2 * 32 + 2 * 12 bytes.
        let mut block = [0u8; 88];
        let total = 2 * key_len + 2 * iv_len;
        let out = block.get_mut(..total).ok_or(CryptoError::Length)?;
        tls12_prf(
            suite.hash,
            master_secret,
            b"key expansion",
            &[server_random, client_random],
            out,
        )?;
        let (key, iv) = match dir {
            Direction::ToServer => (
                block.get(..key_len),
                block.get(2 * key_len..2 * key_len + iv_len),
            ),
            Direction::ToClient => (
                block.get(key_len..2 * key_len),
                block.get(2 * key_len + iv_len..total),
            ),
        };
        let (Some(key), Some(iv_bytes)) = (key, iv) else {
            return Err(CryptoError::Length);
        };
        let mut iv = [0u8; 12];
        iv.get_mut(..iv_len)
            .ok_or(CryptoError::Length)?
            .copy_from_slice(iv_bytes);
        Ok(RecordKeys {
            aead: AeadKey::new(suite.aead, key)?,
            iv,
            seq: 0,
            framing,
            suite,
            secret: None,
        })
    }

    /// TLS 1.3 keys from a traffic secret (handshake or application).
    pub fn tls13(suite: Suite, traffic_secret: &[u8]) -> Result<RecordKeys, CryptoError> {
        if !suite.tls13 || traffic_secret.len() != suite.hash.len() {
            return Err(CryptoError::Length);
        }
        let mut key = [0u8; 32];
        let key = key
            .get_mut(..suite.aead.key_len())
            .ok_or(CryptoError::Length)?;
        hkdf_expand_label(suite.hash, traffic_secret, b"key", &[], key)?;
        let mut iv = [0u8; 12];
        hkdf_expand_label(suite.hash, traffic_secret, b"iv", &[], &mut iv)?;
        Ok(RecordKeys {
            aead: AeadKey::new(suite.aead, key)?,
            iv,
            seq: 0,
            framing: Framing::Tls13,
            suite,
            secret: Secret::from_slice(traffic_secret),
        })
    }

    /// The suite these keys belong to.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Sequence number of the next record.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// TLS 1.3 KeyUpdate: derives the next traffic secret and its keys, and
    /// restarts the sequence at zero (RFC 8446 §7.2).
    pub fn key_update(&mut self) -> Result<(), CryptoError> {
        let secret = self.secret.ok_or(CryptoError::Length)?;
        let mut next = [0u8; MAX_SECRET_BYTES];
        let next = next
            .get_mut(..self.suite.hash.len())
            .ok_or(CryptoError::Length)?;
        hkdf_expand_label(
            self.suite.hash,
            secret.as_bytes(),
            b"traffic upd",
            &[],
            next,
        )?;
        *self = RecordKeys::tls13(self.suite, next)?;
        Ok(())
    }

    fn nonce_xor_seq(&self) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce.iter_mut().skip(4).zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// Decrypts one record in place. `header` is its 5-byte header, `body`
    /// everything after it. On success the sequence number advances and the
    /// result says where the plaintext is; on failure nothing changes (the
    /// AEAD crates verify the tag before decrypting).
    pub fn open(&mut self, header: &[u8; 5], body: &mut [u8]) -> Result<Opened, OpenError> {
        let len = body.len();
        let opened = match self.framing {
            Framing::Tls12Gcm | Framing::Tls12ChaCha => {
                let prefix = if self.framing == Framing::Tls12Gcm {
                    EXPLICIT_NONCE_BYTES
                } else {
                    0
                };
                if len < prefix + TAG_BYTES {
                    return Err(OpenError::TooShort);
                }
                let plain_len = len - prefix - TAG_BYTES;
                let nonce = if self.framing == Framing::Tls12Gcm {
                    let mut n = [0u8; 12];
                    n[..4].copy_from_slice(&self.iv[..4]);
                    n[4..].copy_from_slice(body.get(..8).ok_or(OpenError::TooShort)?);
                    n
                } else {
                    self.nonce_xor_seq()
                };
                let aad = tls12_aad(self.seq, header[0], [header[1], header[2]], plain_len);
                let (front, tag) = body.split_at_mut(len - TAG_BYTES);
                let cipher = front.get_mut(prefix..).ok_or(OpenError::TooShort)?;
                if !self.aead.open(&nonce, &aad, cipher, tag) {
                    return Err(OpenError::Auth);
                }
                Opened {
                    content_type: header[0],
                    start: prefix,
                    end: prefix + plain_len,
                }
            }
            Framing::Tls13 => {
                if len < TAG_BYTES + 1 {
                    return Err(OpenError::TooShort);
                }
                let nonce = self.nonce_xor_seq();
                let (cipher, tag) = body.split_at_mut(len - TAG_BYTES);
                if !self.aead.open(&nonce, header, cipher, tag) {
                    return Err(OpenError::Auth);
                }
                // The content type is the last non-zero byte (RFC 8446 §5.2).
                let Some(pos) = cipher.iter().rposition(|&b| b != 0) else {
                    // Authentic but malformed: the sequence number was used.
                    self.seq = self.seq.wrapping_add(1);
                    return Err(OpenError::NoContentType);
                };
                Opened {
                    content_type: cipher[pos],
                    start: 0,
                    end: pos,
                }
            }
        };
        self.seq = self.seq.wrapping_add(1);
        Ok(opened)
    }

    /// Encrypts `plaintext` as one record of `content_type` and appends the
    /// whole record (header included) to `out`. For tests, benchmarks and
    /// synthetic traffic; TLS 1.3 records get no padding.
    pub fn seal(
        &mut self,
        content_type: u8,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let start = out.len();
        let version = [0x03, 0x03];
        match self.framing {
            Framing::Tls12Gcm | Framing::Tls12ChaCha => {
                let prefix = if self.framing == Framing::Tls12Gcm {
                    EXPLICIT_NONCE_BYTES
                } else {
                    0
                };
                let body_len = u16::try_from(prefix + plaintext.len() + TAG_BYTES)
                    .map_err(|_| CryptoError::Length)?;
                out.push(content_type);
                out.extend_from_slice(&version);
                out.extend_from_slice(&body_len.to_be_bytes());
                let nonce = if self.framing == Framing::Tls12Gcm {
                    // The sequence number is a fine explicit nonce (RFC 5288 §3).
                    let explicit = self.seq.to_be_bytes();
                    out.extend_from_slice(&explicit);
                    let mut n = [0u8; 12];
                    n[..4].copy_from_slice(&self.iv[..4]);
                    n[4..].copy_from_slice(&explicit);
                    n
                } else {
                    self.nonce_xor_seq()
                };
                let aad = tls12_aad(self.seq, content_type, version, plaintext.len());
                let at = out.len();
                out.extend_from_slice(plaintext);
                let tag = self
                    .aead
                    .seal(&nonce, &aad, out.get_mut(at..).ok_or(CryptoError::Length)?)
                    .ok_or(CryptoError::Length)?;
                out.extend_from_slice(&tag);
            }
            Framing::Tls13 => {
                let body_len = u16::try_from(plaintext.len() + 1 + TAG_BYTES)
                    .map_err(|_| CryptoError::Length)?;
                let mut header = [APPLICATION_DATA, 0x03, 0x03, 0, 0];
                header[3..].copy_from_slice(&body_len.to_be_bytes());
                out.extend_from_slice(&header);
                let at = out.len();
                out.extend_from_slice(plaintext);
                out.push(content_type);
                let nonce = self.nonce_xor_seq();
                let tag = self
                    .aead
                    .seal(
                        &nonce,
                        &header,
                        out.get_mut(at..).ok_or(CryptoError::Length)?,
                    )
                    .ok_or(CryptoError::Length)?;
                out.extend_from_slice(&tag);
            }
        }
        debug_assert!(out.len() > start);
        self.seq = self.seq.wrapping_add(1);
        Ok(())
    }
}

/// TLS 1.2 AEAD additional data (RFC 5246 §6.2.3.3).
fn tls12_aad(seq: u64, content_type: u8, version: [u8; 2], plain_len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = content_type;
    aad[9..11].copy_from_slice(&version);
    // A record body is at most 2^14 + 2048 bytes, so the length fits in u16.
    aad[11..].copy_from_slice(&(plain_len as u16).to_be_bytes());
    aad
}

/// The TLS 1.2 PRF (RFC 5246 §5): `P_hash(secret, label ‖ seed)` with HMAC
/// over `hash`, filling `out`. `seed` is the concatenation of its parts.
pub fn tls12_prf(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    match hash {
        HashAlg::Sha256 => p_hash::<Hmac<Sha256>>(secret, label, seed, out),
        HashAlg::Sha384 => p_hash::<Hmac<Sha384>>(secret, label, seed, out),
    }
}

fn p_hash<M: Mac + KeyInit + Clone>(
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let base = <M as KeyInit>::new_from_slice(secret).map_err(|_| CryptoError::Length)?;
    // A(1) = HMAC(secret, A(0)) with A(0) = label ‖ seed.
    let mut a = {
        let mut m = base.clone();
        m.update(label);
        for part in seed {
            m.update(part);
        }
        m.finalize().into_bytes()
    };
    let mut filled = 0;
    while filled < out.len() {
        let mut m = base.clone();
        m.update(&a);
        m.update(label);
        for part in seed {
            m.update(part);
        }
        let block = m.finalize().into_bytes();
        let n = block.len().min(out.len() - filled);
        out.get_mut(filled..filled + n)
            .zip(block.get(..n))
            .map(|(dst, src)| dst.copy_from_slice(src))
            .ok_or(CryptoError::Length)?;
        filled += n;
        let mut m = base.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
    Ok(())
}

/// HKDF-Expand-Label (RFC 8446 §7.1): `HKDF-Expand(secret, HkdfLabel,
/// out.len())` with `HkdfLabel = length ‖ "tls13 " + label ‖ context`.
pub fn hkdf_expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let length = u16::try_from(out.len())
        .map_err(|_| CryptoError::Length)?
        .to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).map_err(|_| CryptoError::Length)?];
    let context_len = [u8::try_from(context.len()).map_err(|_| CryptoError::Length)?];
    let info: [&[u8]; 6] = [&length, &label_len, b"tls13 ", label, &context_len, context];
    let result = match hash {
        HashAlg::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .map_err(|_| CryptoError::Length)?
            .expand_multi_info(&info, out),
        HashAlg::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .map_err(|_| CryptoError::Length)?
            .expand_multi_info(&info, out),
    };
    result.map_err(|_| CryptoError::Length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn header(record: &[u8]) -> [u8; 5] {
        record[..5].try_into().unwrap()
    }

    // RFC 8448 §3 (Simple 1-RTT Handshake), TLS_AES_128_GCM_SHA256.
    const RFC8448_S_HS: &str = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
    const RFC8448_C_AP: &str = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
    const RFC8448_S_AP: &str = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";
    /// {client} send application_data record: 50 bytes 00..31, sequence 0.
    const RFC8448_C_RECORD: &str =
        "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f\
        2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4";
    /// {server} send application_data record: 50 bytes 00..31, sequence 1
    /// (after the NewSessionTicket).
    const RFC8448_S_RECORD: &str =
        "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36\
        e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d";

    #[test]
    fn rfc8448_traffic_keys() {
        let suite = Suite::tls13(0x1301).unwrap();
        let cases = [
            (
                RFC8448_S_HS,
                "3fce516009c21727d0f2e4e86ee403bc",
                "5d313eb2671276ee13000b30",
            ),
            (
                RFC8448_S_AP,
                "9f02283b6c9c07efc26bb9f2ac92e356",
                "cf782b88dd83549aadf1e984",
            ),
            (
                RFC8448_C_AP,
                "17422dda596ed5d9acd890e3c63f5051",
                "5b78923dee08579033e523d9",
            ),
        ];
        for (secret, key, iv) in cases {
            let mut k = [0u8; 16];
            hkdf_expand_label(suite.hash, &hex(secret), b"key", &[], &mut k).unwrap();
            assert_eq!(k.to_vec(), hex(key));
            let mut v = [0u8; 12];
            hkdf_expand_label(suite.hash, &hex(secret), b"iv", &[], &mut v).unwrap();
            assert_eq!(v.to_vec(), hex(iv));
            let keys = RecordKeys::tls13(suite, &hex(secret)).unwrap();
            assert_eq!(keys.iv.to_vec(), hex(iv));
        }
    }

    #[test]
    fn rfc8448_records_decrypt() {
        let suite = Suite::tls13(0x1301).unwrap();
        let expected: Vec<u8> = (0u8..=0x31).collect();

        let mut client = RecordKeys::tls13(suite, &hex(RFC8448_C_AP)).unwrap();
        let record = hex(RFC8448_C_RECORD);
        let mut body = record[5..].to_vec();
        let opened = client.open(&header(&record), &mut body).unwrap();
        assert_eq!(opened.content_type, 23);
        assert_eq!(opened.plaintext(&body), expected);
        assert_eq!(client.seq(), 1);

        let mut server = RecordKeys::tls13(suite, &hex(RFC8448_S_AP)).unwrap();
        let record = hex(RFC8448_S_RECORD);
        let mut body = record[5..].to_vec();
        // At sequence 0 the tag does not verify and the body is untouched.
        assert_eq!(
            server.open(&header(&record), &mut body),
            Err(OpenError::Auth)
        );
        assert_eq!(body, record[5..]);
        server.seq = 1;
        let opened = server.open(&header(&record), &mut body).unwrap();
        assert_eq!(opened.plaintext(&body), expected);
    }

    #[test]
    fn seal_reproduces_rfc8448_record() {
        let suite = Suite::tls13(0x1301).unwrap();
        let mut client = RecordKeys::tls13(suite, &hex(RFC8448_C_AP)).unwrap();
        let mut out = Vec::new();
        let plaintext: Vec<u8> = (0u8..=0x31).collect();
        client.seal(23, &plaintext, &mut out).unwrap();
        assert_eq!(out, hex(RFC8448_C_RECORD));
    }

    #[test]
    fn key_update_round_trip_all_tls13_suites() {
        for code in [0x1301, 0x1302, 0x1303] {
            let suite = Suite::tls13(code).unwrap();
            let secret = vec![0x42; suite.hash.len()];
            let mut tx = RecordKeys::tls13(suite, &secret).unwrap();
            let mut rx = tx.clone();
            let mut rec = Vec::new();
            tx.seal(23, b"before", &mut rec).unwrap();
            tx.key_update().unwrap();
            assert_eq!(tx.seq(), 0);
            let mut rec2 = Vec::new();
            tx.seal(23, b"after", &mut rec2).unwrap();
            let mut body = rec[5..].to_vec();
            let o = rx.open(&header(&rec), &mut body).unwrap();
            assert_eq!(o.plaintext(&body), b"before");
            let mut body2 = rec2[5..].to_vec();
            assert_eq!(rx.open(&header(&rec2), &mut body2), Err(OpenError::Auth));
            rx.key_update().unwrap();
            let o = rx.open(&header(&rec2), &mut body2).unwrap();
            assert_eq!(o.plaintext(&body2), b"after");
        }
    }

    /// The TLS 1.2 PRF (SHA-256) test vector circulated on the IETF TLS list
    /// and used by several implementations: secret, seed and label
    /// "test label", 100 bytes of output.
    #[test]
    fn tls12_prf_sha256_vector() {
        let secret = hex("9bbe436ba940f017b17652849a71db35");
        let seed = hex("a0ba9f936cda311827a6f796ffd5198c");
        let mut out = [0u8; 100];
        tls12_prf(HashAlg::Sha256, &secret, b"test label", &[&seed], &mut out).unwrap();
        assert_eq!(
            out.to_vec(),
            hex(
                "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a\
                 6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab\
                 4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701\
                 87347b66"
            )
        );
    }

    /// A TLS 1.2 known answer built outside leaktap (Python `hmac` and
    /// `cryptography`, see the record constants below): master
    /// secret 0x0b * 48, client random 0x01.., server random 0x02..,
    /// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, client record sequence 0 with
    /// explicit nonce 0x0000000000000000, plaintext "GET /?tel=13812345678 HTTP/1.1\r\n\r\n".
    #[test]
    fn tls12_gcm_known_answer() {
        let suite = Suite::tls12(0xc02f).unwrap();
        let master = [0x0b; 48];
        let mut keys =
            RecordKeys::tls12(suite, &master, &[1; 32], &[2; 32], Direction::ToServer).unwrap();
        let record = hex(TLS12_GCM_RECORD);
        let mut body = record[5..].to_vec();
        let o = keys.open(&header(&record), &mut body).unwrap();
        assert_eq!(o.content_type, 23);
        assert_eq!(
            o.plaintext(&body),
            b"GET /?tel=13812345678 HTTP/1.1\r\n\r\n"
        );
        // And the ChaCha20-Poly1305 suite of the same key exchange.
        let suite = Suite::tls12(0xcca8).unwrap();
        let mut keys =
            RecordKeys::tls12(suite, &master, &[1; 32], &[2; 32], Direction::ToClient).unwrap();
        let record = hex(TLS12_CHACHA_RECORD);
        let mut body = record[5..].to_vec();
        let o = keys.open(&header(&record), &mut body).unwrap();
        assert_eq!(o.plaintext(&body), b"HTTP/1.1 200 OK\r\n\r\n");
    }

    /// Computed with Python: `hmac` (SHA-256) for P_hash over "key
    /// expansion" ‖ server random ‖ client random, then
    /// `cryptography.hazmat.primitives.ciphers.aead.AESGCM(client_key)
    /// .encrypt(salt ‖ explicit, plaintext, seq ‖ 23 ‖ 0303 ‖ len)`.
    const TLS12_GCM_RECORD: &str = "170303003a0000000000000000e666f92632ab482523045c286a47bba7\
        2451e6b692fb44b860b5e769cfe2ca016e6d88ce8585cee33dec08c742b3e2174617";
    /// As above with `ChaCha20Poly1305(server_key)` and nonce IV XOR 0, the
    /// server's first record "HTTP/1.1 200 OK\r\n\r\n".
    const TLS12_CHACHA_RECORD: &str =
        "1703030023750f3a5eafe395216dccb2a6729152c3e4bcd04f7078e4e5cee581eec3abf14ac23839";

    #[test]
    fn tls12_round_trip_every_suite() {
        for code in [0x009c, 0x009d, 0xc02b, 0xc030, 0xcca8, 0xccac] {
            let suite = Suite::tls12(code).unwrap();
            let master = [7u8; 48];
            let mut tx =
                RecordKeys::tls12(suite, &master, &[3; 32], &[4; 32], Direction::ToClient).unwrap();
            let mut rx = tx.clone();
            let mut rec = Vec::new();
            for i in 0..3u8 {
                rec.clear();
                tx.seal(23, &[i; 100], &mut rec).unwrap();
                let mut body = rec[5..].to_vec();
                let o = rx.open(&header(&rec), &mut body).unwrap();
                assert_eq!(o.plaintext(&body), [i; 100]);
            }
            // The other direction's keys differ.
            let mut other =
                RecordKeys::tls12(suite, &master, &[3; 32], &[4; 32], Direction::ToServer).unwrap();
            let mut body = rec[5..].to_vec();
            assert_eq!(other.open(&header(&rec), &mut body), Err(OpenError::Auth));
        }
        assert!(Suite::tls12(0xc013).is_none(), "CBC is not supported");
        assert!(Suite::tls13(0x1304).is_none(), "CCM is not supported");
    }

    #[test]
    fn short_and_bad_records_fail_cleanly() {
        let suite = Suite::tls13(0x1303).unwrap();
        let mut keys = RecordKeys::tls13(suite, &[1; 32]).unwrap();
        let h = [23, 3, 3, 0, 4];
        assert_eq!(keys.open(&h, &mut [0; 4]), Err(OpenError::TooShort));
        assert_eq!(keys.open(&h, &mut [0; 40]), Err(OpenError::Auth));
        assert!(RecordKeys::tls13(suite, &[1; 48]).is_err());
        let suite12 = Suite::tls12(0xc02f).unwrap();
        assert!(
            RecordKeys::tls12(suite12, &[0; 32], &[0; 32], &[0; 32], Direction::ToServer).is_err()
        );
        let mut k12 =
            RecordKeys::tls12(suite12, &[0; 48], &[0; 32], &[0; 32], Direction::ToServer).unwrap();
        assert_eq!(k12.open(&h, &mut [0; 23]), Err(OpenError::TooShort));
    }
}
