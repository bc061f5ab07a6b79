//! Initial packet protection (RFC 9001 §5): key derivation from the client's
//! Destination Connection ID, header protection removal (§5.4), packet
//! number decoding (RFC 9000 §A.3) and AES-128-GCM opening (§5.3).
//!
//! Keys are derived once per flow (or when a Retry changes the DCID) and
//! hold ready cipher instances, so opening a packet does not allocate.

use aes::cipher::{BlockEncrypt as _, KeyInit as _};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace as _;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use super::{Error, InitialParams, InvalidKind, Labels, Version, MAX_CID_LEN};

/// AEAD tag length of AES-128-GCM.
const TAG_LEN: usize = 16;
/// Header protection sample length (RFC 9001 §5.4.2).
const SAMPLE_LEN: usize = 16;

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, as QUIC uses it.
fn expand_label(secret: &[u8; 32], label: &[u8], out: &mut [u8]) -> Option<()> {
    let hk = Hkdf::<Sha256>::from_prk(secret).ok()?;
    // struct { uint16 length; opaque label<7..255> = "tls13 " + label;
    //          opaque context<0..255> = ""; } HkdfLabel
    let mut info = [0u8; 2 + 1 + 255 + 1];
    let full_len = 6 + label.len();
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let info_len = 2 + 1 + full_len + 1;
    let dst = info.get_mut(..info_len)?;
    dst.get_mut(..2)?.copy_from_slice(&len);
    *dst.get_mut(2)? = u8::try_from(full_len).ok()?;
    dst.get_mut(3..9)?.copy_from_slice(b"tls13 ");
    dst.get_mut(9..9 + label.len())?.copy_from_slice(label);
    *dst.get_mut(9 + label.len())? = 0;
    hk.expand(dst, out).ok()
}

/// The Initial secrets of RFC 9001 §5.2 (exposed for test vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialSecrets {
    /// HKDF-Extract(salt, client DCID).
    pub initial: [u8; 32],
    /// "client in" secret.
    pub client: [u8; 32],
    /// "server in" secret.
    pub server: [u8; 32],
}

impl InitialSecrets {
    /// Derives the secrets for `version` and the client's first DCID.
    /// `None` for unsupported versions.
    pub fn derive(version: Version, dcid: &[u8]) -> Option<Self> {
        Self::derive_with(&version.initial_params()?, dcid)
    }

    /// Derives the secrets with explicit parameters.
    pub fn derive_with(params: &InitialParams, dcid: &[u8]) -> Option<Self> {
        let (prk, _) = Hkdf::<Sha256>::extract(Some(params.salt), dcid);
        let mut initial = [0u8; 32];
        initial.copy_from_slice(&prk);
        let mut client = [0u8; 32];
        let mut server = [0u8; 32];
        expand_label(&initial, b"client in", &mut client)?;
        expand_label(&initial, b"server in", &mut server)?;
        Some(InitialSecrets {
            initial,
            client,
            server,
        })
    }
}

/// Raw key material of one direction (exposed for test vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyMaterial {
    /// AEAD key.
    pub key: [u8; 16],
    /// AEAD IV.
    pub iv: [u8; 12],
    /// Header protection key.
    pub hp: [u8; 16],
}

impl KeyMaterial {
    /// Expands a direction secret with the version's labels (RFC 9001 §5.1).
    pub fn derive(secret: &[u8; 32], labels: &Labels) -> Option<Self> {
        let mut m = KeyMaterial {
            key: [0; 16],
            iv: [0; 12],
            hp: [0; 16],
        };
        expand_label(secret, labels.key, &mut m.key)?;
        expand_label(secret, labels.iv, &mut m.iv)?;
        expand_label(secret, labels.hp, &mut m.hp)?;
        Some(m)
    }
}

/// Ready-to-use protection keys of one direction.
#[derive(Clone)]
pub struct PacketKeys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

impl std::fmt::Debug for PacketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are public for Initials, but there is nothing useful to print.
        f.write_str("PacketKeys")
    }
}

/// Result of opening a packet: the payload is `packet[header_len..header_len
/// + payload_len]` of the buffer given to [`PacketKeys::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Full (decoded) packet number.
    pub packet_number: u64,
    /// Unprotected header length, packet number included.
    pub header_len: usize,
    /// Decrypted payload length (tag excluded).
    pub payload_len: usize,
}

impl PacketKeys {
    /// Builds cipher instances from key material.
    pub fn new(m: &KeyMaterial) -> Self {
        PacketKeys {
            aead: Aes128Gcm::new(&m.key.into()),
            iv: m.iv,
            hp: Aes128::new(&m.hp.into()),
        }
    }

    /// Header protection mask for a 16-byte sample (RFC 9001 §5.4.3).
    fn mask(&self, sample: [u8; SAMPLE_LEN]) -> [u8; 16] {
        let mut block = sample.into();
        self.hp.encrypt_block(&mut block);
        block.into()
    }

    fn nonce(&self, packet_number: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().skip(4).zip(packet_number.to_be_bytes()) {
            *n ^= p;
        }
        nonce
    }

    /// Removes header protection and decrypts one long-header packet in
    /// place. `packet` is exactly the packet (header through the end of its
    /// Length), `pn_offset` the packet number offset, `largest_pn` the largest
    /// packet number decrypted so far in this packet number space.
    ///
    /// On error the buffer is left partly modified and must be discarded.
    pub fn open(
        &self,
        packet: &mut [u8],
        pn_offset: usize,
        largest_pn: Option<u64>,
    ) -> Result<Opened, Error> {
        let short = Error::Invalid(InvalidKind::PacketTooShort);
        // The sample assumes a 4-byte packet number (RFC 9001 §5.4.2).
        let sample_at = pn_offset.checked_add(4).ok_or(short)?;
        let sample_end = sample_at.checked_add(SAMPLE_LEN).ok_or(short)?;
        let sample: [u8; SAMPLE_LEN] = packet
            .get(sample_at..sample_end)
            .and_then(|s| s.try_into().ok())
            .ok_or(short)?;
        let mask = self.mask(sample);
        let first = packet.first_mut().ok_or(short)?;
        // Long header: the low 4 bits are protected (RFC 9001 §5.4.1).
        *first ^= mask[0] & 0x0f;
        let pn_len = usize::from(*first & 0x03) + 1;
        let pn_bytes = packet.get_mut(pn_offset..pn_offset + pn_len).ok_or(short)?;
        let mut truncated = 0u64;
        for (b, m) in pn_bytes.iter_mut().zip(mask.iter().skip(1)) {
            *b ^= m;
            truncated = (truncated << 8) | u64::from(*b);
        }
        let packet_number = decode_packet_number(largest_pn, truncated, pn_len * 8);
        let header_len = pn_offset + pn_len;
        let body_len = packet.len().checked_sub(header_len).ok_or(short)?;
        let payload_len = body_len.checked_sub(TAG_LEN).ok_or(short)?;
        let (header, body) = packet.split_at_mut(header_len);
        let (payload, tag) = body.split_at_mut(payload_len);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| short)?;
        let nonce = self.nonce(packet_number);
        self.aead
            .decrypt_in_place_detached(&Nonce::from(nonce), header, payload, &Tag::from(tag))
            .map_err(|_| Error::Invalid(InvalidKind::Authentication))?;
        Ok(Opened {
            packet_number,
            header_len,
            payload_len,
        })
    }

    /// Protects a packet (test helper): `packet` holds the unprotected header
    /// (packet number at `pn_offset`, `pn_len` bytes) followed by the payload
    /// and 16 spare bytes for the tag.
    #[cfg(test)]
    pub(crate) fn seal(&self, packet: &mut [u8], pn_offset: usize, packet_number: u64) {
        let pn_len = usize::from(packet[0] & 0x03) + 1;
        let header_len = pn_offset + pn_len;
        let payload_len = packet.len() - header_len - TAG_LEN;
        let nonce = self.nonce(packet_number);
        let (header, body) = packet.split_at_mut(header_len);
        let (payload, tag) = body.split_at_mut(payload_len);
        let t = self
            .aead
            .encrypt_in_place_detached(&Nonce::from(nonce), header, payload)
            .unwrap();
        tag.copy_from_slice(&t);
        let sample: [u8; 16] = packet[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mask = self.mask(sample);
        packet[0] ^= mask[0] & 0x0f;
        for i in 0..pn_len {
            packet[pn_offset + i] ^= mask[1 + i];
        }
    }
}

/// Decodes a truncated packet number (RFC 9000 §A.3). With no packet
/// received yet the expected number is 0.
pub fn decode_packet_number(largest_pn: Option<u64>, truncated: u64, pn_nbits: usize) -> u64 {
    let expected = largest_pn.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << pn_nbits.min(32);
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | (truncated & mask);
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// Both directions' Initial keys for one (version, client DCID) pair.
#[derive(Clone, Debug)]
pub struct InitialKeys {
    version: Version,
    params: InitialParams,
    dcid: [u8; MAX_CID_LEN],
    dcid_len: usize,
    /// Protects client-to-server Initials ("client in").
    pub client: PacketKeys,
    /// Protects server-to-client Initials ("server in").
    pub server: PacketKeys,
}

impl InitialKeys {
    /// Derives keys from the DCID of the client's first Initial. `None` for
    /// unsupported versions or a DCID over 20 bytes.
    pub fn derive(version: Version, dcid: &[u8]) -> Option<Self> {
        Self::derive_with(version, version.initial_params()?, dcid)
    }

    /// Derives keys with explicit parameters (used for the draft-29
    /// fallback of reserved versions, see [`Version::fallback_params`]).
    pub fn derive_with(version: Version, params: InitialParams, dcid: &[u8]) -> Option<Self> {
        let mut stored = [0u8; MAX_CID_LEN];
        stored.get_mut(..dcid.len())?.copy_from_slice(dcid);
        let secrets = InitialSecrets::derive_with(&params, dcid)?;
        let client = KeyMaterial::derive(&secrets.client, &params.labels)?;
        let server = KeyMaterial::derive(&secrets.server, &params.labels)?;
        Some(InitialKeys {
            version,
            params,
            dcid: stored,
            dcid_len: dcid.len(),
            client: PacketKeys::new(&client),
            server: PacketKeys::new(&server),
        })
    }

    /// Version these keys were derived for.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether these keys were derived for exactly this input.
    pub fn is_for(&self, version: Version, params: &InitialParams, dcid: &[u8]) -> bool {
        self.version == version && self.params == *params && self.dcid() == dcid
    }

    /// The client DCID these keys were derived from.
    pub fn dcid(&self) -> &[u8] {
        self.dcid.get(..self.dcid_len).unwrap_or(&[])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decodes hex text, skipping whitespace and `#` comment lines.
    pub(crate) fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.bytes())
            .filter(|b| b.is_ascii_hexdigit())
            .collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    pub(crate) const RFC9001_CLIENT_INITIAL: &str =
        include_str!("testdata/rfc9001_a2_client_initial.hex");
    pub(crate) const RFC9001_CRYPTO_FRAME: &str =
        include_str!("testdata/rfc9001_a2_crypto_frame.hex");
    pub(crate) const RFC9001_SERVER_INITIAL: &str =
        include_str!("testdata/rfc9001_a3_server_initial.hex");
    pub(crate) const RFC9369_CLIENT_INITIAL: &str =
        include_str!("testdata/rfc9369_a2_client_initial.hex");

    pub(crate) const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    #[test]
    fn rfc9001_a1_keys() {
        let s = InitialSecrets::derive(Version::V1, &DCID).unwrap();
        assert_eq!(
            s.initial.to_vec(),
            hex("7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44")
        );
        assert_eq!(
            s.client.to_vec(),
            hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        assert_eq!(
            s.server.to_vec(),
            hex("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
        );
        let labels = Version::V1.initial_params().unwrap().labels;
        let c = KeyMaterial::derive(&s.client, &labels).unwrap();
        assert_eq!(c.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        let sv = KeyMaterial::derive(&s.server, &labels).unwrap();
        assert_eq!(sv.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(sv.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
        assert_eq!(sv.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
        // A.2: mask for the given sample.
        let keys = PacketKeys::new(&c);
        let sample: [u8; 16] = hex("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        assert_eq!(keys.mask(sample)[..5].to_vec(), hex("437b9aec36"));
    }

    #[test]
    fn rfc9369_a1_keys() {
        let s = InitialSecrets::derive(Version::V2, &DCID).unwrap();
        assert_eq!(
            s.initial.to_vec(),
            hex("2062e8b3cd8d52092614b8071d0aa1fb7c2e3ac193f78b280e72d8f5751f6aba")
        );
        assert_eq!(
            s.client.to_vec(),
            hex("14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b")
        );
        assert_eq!(
            s.server.to_vec(),
            hex("0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1")
        );
        let labels = Version::V2.initial_params().unwrap().labels;
        let c = KeyMaterial::derive(&s.client, &labels).unwrap();
        assert_eq!(c.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(c.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(c.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
        let sv = KeyMaterial::derive(&s.server, &labels).unwrap();
        assert_eq!(sv.key.to_vec(), hex("82db637861d55e1d011f19ea71d5d2a7"));
        assert_eq!(sv.iv.to_vec(), hex("dd13c276499c0249d3310652"));
        assert_eq!(sv.hp.to_vec(), hex("edf6d05c83121201b436e16877593c3a"));
    }

    fn open_client(version: Version, text: &str) -> (Vec<u8>, Opened) {
        let mut packet = hex(text);
        assert_eq!(packet.len(), 1200);
        let keys = InitialKeys::derive(version, &DCID).unwrap();
        let opened = keys.client.open(&mut packet, 18, None).unwrap();
        (packet, opened)
    }

    #[test]
    fn rfc9001_a2_open_client_initial() {
        let (packet, opened) = open_client(Version::V1, RFC9001_CLIENT_INITIAL);
        assert_eq!(opened.packet_number, 2);
        assert_eq!(opened.header_len, 22);
        assert_eq!(opened.payload_len, 1162);
        assert_eq!(
            packet[..22].to_vec(),
            hex("c300000001088394c8f03e5157080000449e00000002")
        );
        let frame = hex(RFC9001_CRYPTO_FRAME);
        assert_eq!(packet[22..22 + frame.len()], frame[..]);
        assert!(packet[22 + frame.len()..22 + 1162].iter().all(|&b| b == 0));
    }

    #[test]
    fn rfc9001_a2_seal_reproduces_packet() {
        let mut packet = hex("c300000001088394c8f03e5157080000449e00000002");
        packet.extend_from_slice(&hex(RFC9001_CRYPTO_FRAME));
        packet.resize(22 + 1162 + 16, 0);
        let keys = InitialKeys::derive(Version::V1, &DCID).unwrap();
        keys.client.seal(&mut packet, 18, 2);
        assert_eq!(packet, hex(RFC9001_CLIENT_INITIAL));
    }

    #[test]
    fn rfc9001_a3_open_server_initial() {
        let mut packet = hex(RFC9001_SERVER_INITIAL);
        let keys = InitialKeys::derive(Version::V1, &DCID).unwrap();
        // Header: c1 version, DCID len 0, SCID len 8 + 8 bytes, token len 0,
        // Length 2 bytes: the packet number starts at offset 18.
        let opened = keys.server.open(&mut packet, 18, None).unwrap();
        assert_eq!(opened.packet_number, 1);
        assert_eq!(
            packet[..20].to_vec(),
            hex("c1000000010008f067a5502a4262b50040750001")
        );
        assert_eq!(
            packet[20..20 + opened.payload_len].to_vec(),
            hex(
                "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739\
                 88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94\
                 0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00\
                 020304"
            )
        );
    }

    #[test]
    fn rfc9369_a2_open_client_initial() {
        let (packet, opened) = open_client(Version::V2, RFC9369_CLIENT_INITIAL);
        assert_eq!(opened.packet_number, 2);
        assert_eq!(
            packet[..22].to_vec(),
            hex("d36b3343cf088394c8f03e5157080000449e00000002")
        );
        let frame = hex(RFC9001_CRYPTO_FRAME);
        assert_eq!(packet[22..22 + frame.len()], frame[..]);
    }

    #[test]
    fn wrong_keys_and_corruption_fail_cleanly() {
        let keys = InitialKeys::derive(Version::V1, &[1, 2, 3, 4]).unwrap();
        let mut packet = hex(RFC9001_CLIENT_INITIAL);
        assert_eq!(
            keys.client.open(&mut packet, 18, None),
            Err(Error::Invalid(InvalidKind::Authentication))
        );
        let keys = InitialKeys::derive(Version::V1, &DCID).unwrap();
        let mut packet = hex(RFC9001_CLIENT_INITIAL);
        packet[700] ^= 1;
        assert_eq!(
            keys.client.open(&mut packet, 18, None),
            Err(Error::Invalid(InvalidKind::Authentication))
        );
        for len in [0, 1, 18, 21, 22, 37, 38, 39] {
            let mut p = hex(RFC9001_CLIENT_INITIAL);
            p.truncate(len);
            assert!(keys.client.open(&mut p, 18, None).is_err(), "len {len}");
        }
        for pn_offset in [usize::MAX - 2, usize::MAX - 19, 60] {
            assert!(keys.client.open(&mut [0u8; 64], pn_offset, None).is_err());
        }
        assert!(InitialKeys::derive(Version::V1, &[0; 21]).is_none());
        assert!(InitialKeys::derive(Version(0x51303530), &DCID).is_none());
    }

    #[test]
    fn packet_number_decoding() {
        // RFC 9000 §A.3 example.
        assert_eq!(
            decode_packet_number(Some(0xa82f30ea), 0x9b32, 16),
            0xa82f9b32
        );
        assert_eq!(decode_packet_number(None, 0, 8), 0);
        assert_eq!(decode_packet_number(None, 2, 32), 2);
        assert_eq!(decode_packet_number(Some(0xff), 0x01, 8), 0x101);
        assert_eq!(
            decode_packet_number(Some(u64::MAX), 0xffff_ffff, 32),
            0xffff_ffff | !0xffff_ffff
        );
    }
}
