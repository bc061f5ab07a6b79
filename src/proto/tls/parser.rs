//! Borrowed, checked views of TLS records and hello messages.
//!
//! Takes complete byte slices (a record header, a whole handshake message) and
//! returns views that borrow from them. Validation happens once at parse time,
//! so the accessors and iterators of [`ClientHello`] cannot fail. Nothing here
//! allocates or keeps state; see `state` for stream handling.

use super::{Error, InvalidKind, MAX_RECORD_BODY_BYTES};

/// Record content type (RFC 8446 §5.1). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentType(pub u8);

impl ContentType {
    pub const CHANGE_CIPHER_SPEC: ContentType = ContentType(20);
    pub const ALERT: ContentType = ContentType(21);
    pub const HANDSHAKE: ContentType = ContentType(22);
    pub const APPLICATION_DATA: ContentType = ContentType(23);
    pub const HEARTBEAT: ContentType = ContentType(24);

    /// Whether this is one of the five types defined by TLS 1.0 to 1.3.
    pub fn is_known(self) -> bool {
        (20..=24).contains(&self.0)
    }
}

/// Handshake message type (RFC 8446 §4). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HandshakeType(pub u8);

impl HandshakeType {
    pub const HELLO_REQUEST: HandshakeType = HandshakeType(0);
    pub const CLIENT_HELLO: HandshakeType = HandshakeType(1);
    pub const SERVER_HELLO: HandshakeType = HandshakeType(2);
    pub const NEW_SESSION_TICKET: HandshakeType = HandshakeType(4);
    pub const ENCRYPTED_EXTENSIONS: HandshakeType = HandshakeType(8);
    pub const CERTIFICATE: HandshakeType = HandshakeType(11);
    pub const SERVER_KEY_EXCHANGE: HandshakeType = HandshakeType(12);
    pub const CERTIFICATE_REQUEST: HandshakeType = HandshakeType(13);
    pub const SERVER_HELLO_DONE: HandshakeType = HandshakeType(14);
    pub const CERTIFICATE_VERIFY: HandshakeType = HandshakeType(15);
    pub const CLIENT_KEY_EXCHANGE: HandshakeType = HandshakeType(16);
    pub const FINISHED: HandshakeType = HandshakeType(20);
}

/// Protocol version on the wire (legacy_version, supported_versions entries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    pub const SSL2_0: ProtocolVersion = ProtocolVersion(0x0002);
    pub const SSL3_0: ProtocolVersion = ProtocolVersion(0x0300);
    pub const TLS1_0: ProtocolVersion = ProtocolVersion(0x0301);
    pub const TLS1_1: ProtocolVersion = ProtocolVersion(0x0302);
    pub const TLS1_2: ProtocolVersion = ProtocolVersion(0x0303);
    pub const TLS1_3: ProtocolVersion = ProtocolVersion(0x0304);
    pub const DTLS1_0: ProtocolVersion = ProtocolVersion(0xfeff);
    pub const DTLS1_2: ProtocolVersion = ProtocolVersion(0xfefd);
    pub const DTLS1_3: ProtocolVersion = ProtocolVersion(0xfefc);

    /// Human name ("TLSv1.3", "SSLv3", "unknown").
    pub fn name(self) -> &'static str {
        match self {
            ProtocolVersion::SSL2_0 => "SSLv2",
            ProtocolVersion::SSL3_0 => "SSLv3",
            ProtocolVersion::TLS1_0 => "TLSv1.0",
            ProtocolVersion::TLS1_1 => "TLSv1.1",
            ProtocolVersion::TLS1_2 => "TLSv1.2",
            ProtocolVersion::TLS1_3 => "TLSv1.3",
            ProtocolVersion::DTLS1_0 => "DTLSv1.0",
            ProtocolVersion::DTLS1_2 => "DTLSv1.2",
            ProtocolVersion::DTLS1_3 => "DTLSv1.3",
            // Draft TLS 1.3 versions were 0x7f00 | draft number (RFC 8446 draft
            // series); Facebook's experimental drafts used 0x7e00 | n.
            ProtocolVersion(v) if v >> 8 == 0x7f || v >> 8 == 0x7e => "TLSv1.3-draft",
            _ => "unknown",
        }
    }
}

/// Cipher suite code point (IANA TLS Cipher Suites). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    pub const TLS_AES_128_GCM_SHA256: CipherSuite = CipherSuite(0x1301);
    pub const TLS_AES_256_GCM_SHA384: CipherSuite = CipherSuite(0x1302);
    pub const TLS_CHACHA20_POLY1305_SHA256: CipherSuite = CipherSuite(0x1303);
    pub const TLS_EMPTY_RENEGOTIATION_INFO_SCSV: CipherSuite = CipherSuite(0x00ff);
}

/// Extension type (IANA TLS ExtensionType Values). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtensionType(pub u16);

impl ExtensionType {
    pub const SERVER_NAME: ExtensionType = ExtensionType(0x0000);
    pub const SUPPORTED_GROUPS: ExtensionType = ExtensionType(0x000a);
    pub const EC_POINT_FORMATS: ExtensionType = ExtensionType(0x000b);
    pub const SIGNATURE_ALGORITHMS: ExtensionType = ExtensionType(0x000d);
    pub const ALPN: ExtensionType = ExtensionType(0x0010);
    pub const PRE_SHARED_KEY: ExtensionType = ExtensionType(0x0029);
    pub const SUPPORTED_VERSIONS: ExtensionType = ExtensionType(0x002b);
    pub const KEY_SHARE: ExtensionType = ExtensionType(0x0033);
    pub const QUIC_TRANSPORT_PARAMETERS: ExtensionType = ExtensionType(0x0039);
    pub const ENCRYPTED_CLIENT_HELLO: ExtensionType = ExtensionType(0xfe0d);
    pub const RENEGOTIATION_INFO: ExtensionType = ExtensionType(0xff01);
}

/// Non-copying big-endian reader over a byte slice. Every read is checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&b, tail) = self.buf.split_first()?;
        self.buf = tail;
        Some(b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    pub(crate) fn u24(&mut self) -> Option<u32> {
        let b = self.take(3)?;
        Some(u32::from_be_bytes([0, *b.first()?, *b.get(1)?, *b.get(2)?]))
    }

    /// A vector with a one-byte length prefix.
    pub(crate) fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length prefix.
    pub(crate) fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// A TLS record header (RFC 8446 §5.1): 5 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type of the record body.
    pub content_type: ContentType,
    /// legacy_record_version (major 3).
    pub version: ProtocolVersion,
    /// Body length in bytes, at most [`MAX_RECORD_BODY_BYTES`].
    pub length: u16,
}

impl RecordHeader {
    /// Header size in bytes.
    pub const LEN: usize = 5;
}

/// Parses and validates a record header at the start of `data`.
///
/// Returns the header and the bytes after it. `Incomplete` if fewer than 5
/// bytes; `Invalid` if the type is unknown, the major version is not 3, or
/// the length is zero or above [`MAX_RECORD_BODY_BYTES`].
pub fn parse_record_header(data: &[u8]) -> Result<(RecordHeader, &[u8]), Error> {
    let mut r = Reader::new(data);
    let (Some(ty), Some(version), Some(length)) = (r.u8(), r.u16(), r.u16()) else {
        return Err(Error::Incomplete {
            needed: RecordHeader::LEN.saturating_sub(data.len()),
        });
    };
    let content_type = ContentType(ty);
    if !content_type.is_known() {
        return Err(Error::Invalid(InvalidKind::RecordContentType));
    }
    if version >> 8 != 3 {
        return Err(Error::Invalid(InvalidKind::RecordVersion));
    }
    if length == 0 || usize::from(length) > MAX_RECORD_BODY_BYTES {
        return Err(Error::Invalid(InvalidKind::RecordLength));
    }
    let header = RecordHeader {
        content_type,
        version: ProtocolVersion(version),
        length,
    };
    Ok((header, r.rest()))
}

/// Cheap check that client-to-server stream bytes start a TLS handshake:
/// content type 22, version major 3 with minor 0..=4, and, when visible, a
/// plausible length and handshake type 1 (ClientHello). Needs 3 bytes.
pub fn probe(data: &[u8]) -> bool {
    let (Some(&ty), Some(&major), Some(&minor)) = (data.first(), data.get(1), data.get(2)) else {
        return false;
    };
    if ContentType(ty) != ContentType::HANDSHAKE || major != 3 || minor > 4 {
        return false;
    }
    if let (Some(&hi), Some(&lo)) = (data.get(3), data.get(4)) {
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        // Handshake records may be tiny fragments (RFC 5246 §6.2.1), so only
        // the bounds of parse_record_header apply.
        if len == 0 || len > MAX_RECORD_BODY_BYTES {
            return false;
        }
    }
    match data.get(5) {
        Some(&hs) => HandshakeType(hs) == HandshakeType::CLIENT_HELLO,
        None => true,
    }
}

/// A handshake message header (RFC 8446 §4): type and 24-bit length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeHeader {
    /// Message type.
    pub msg_type: HandshakeType,
    /// Body length in bytes (excluding this 4-byte header).
    pub length: u32,
}

impl HandshakeHeader {
    /// Header size in bytes.
    pub const LEN: usize = 4;

    /// Reads just the 4-byte header at the start of `buf`, whether or not
    /// the body is there yet; `None` if fewer than 4 bytes.
    pub fn peek(buf: &[u8]) -> Option<Self> {
        let (&t, &a, &b, &c) = (buf.first()?, buf.get(1)?, buf.get(2)?, buf.get(3)?);
        Some(HandshakeHeader {
            msg_type: HandshakeType(t),
            length: u32::from_be_bytes([0, a, b, c]),
        })
    }

    /// Whole message size (header plus body).
    pub fn total_len(&self) -> usize {
        // u32 -> usize cannot truncate on the 32/64-bit targets we build for;
        // the length is at most 2^24 - 1 anyway.
        Self::LEN.saturating_add(self.length as usize)
    }
}

/// Parses a handshake header and returns it with the complete body and the
/// bytes after the message. `Incomplete` until the whole message is present.
pub fn parse_handshake_header(data: &[u8]) -> Result<(HandshakeHeader, &[u8], &[u8]), Error> {
    let mut r = Reader::new(data);
    let (Some(ty), Some(length)) = (r.u8(), r.u24()) else {
        return Err(Error::Incomplete {
            needed: HandshakeHeader::LEN.saturating_sub(data.len()),
        });
    };
    let header = HandshakeHeader {
        msg_type: HandshakeType(ty),
        length,
    };
    let body_len = length as usize;
    match r.take(body_len) {
        Some(body) => Ok((header, body, r.rest())),
        None => Err(Error::Incomplete {
            needed: body_len.saturating_sub(r.rest().len()),
        }),
    }
}

/// A validated list of big-endian u16 values (cipher suites, groups, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct U16List<'a> {
    raw: &'a [u8],
}

impl<'a> U16List<'a> {
    /// `None` if `raw` has odd length.
    fn new(raw: &'a [u8]) -> Option<Self> {
        raw.len().is_multiple_of(2).then_some(U16List { raw })
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.raw.len() / 2
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The raw wire bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Iterates the values in wire order.
    pub fn iter(&self) -> U16ListIter<'a> {
        U16ListIter {
            chunks: self.raw.chunks_exact(2),
        }
    }
}

/// Iterator over a [`U16List`].
#[derive(Clone, Debug)]
pub struct U16ListIter<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for U16ListIter<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        let c = self.chunks.next()?;
        Some(u16::from_be_bytes([*c.first()?, *c.get(1)?]))
    }
}

/// One extension: type and body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    /// Extension type.
    pub ext_type: ExtensionType,
    /// Extension body (without the 4-byte header).
    pub data: &'a [u8],
}

/// Iterator over a validated extensions block.
#[derive(Clone, Debug)]
pub struct ExtensionIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = Extension<'a>;

    fn next(&mut self) -> Option<Extension<'a>> {
        let ext_type = ExtensionType(self.r.u16()?);
        let data = self.r.vec16()?;
        Some(Extension { ext_type, data })
    }
}

/// Iterator over ALPN protocol names (RFC 7301 §3.1), validated at parse time.
#[derive(Clone, Debug, Default)]
pub struct AlpnIter<'a> {
    r: Option<Reader<'a>>,
}

impl<'a> Iterator for AlpnIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.r.as_mut()?.vec8()
    }
}

/// Borrowed view of a ClientHello (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// legacy_version (client_version before TLS 1.3).
    pub legacy_version: ProtocolVersion,
    /// The 32-byte client random.
    pub random: &'a [u8; 32],
    /// legacy_session_id, at most 32 bytes.
    pub session_id: &'a [u8],
    /// Offered cipher suites in wire order.
    pub cipher_suites: U16List<'a>,
    /// legacy_compression_methods.
    pub compression_methods: &'a [u8],
    extensions: &'a [u8],
    has_extensions_block: bool,
    server_name_ext: bool,
    server_name: Option<&'a [u8]>,
    alpn: Option<&'a [u8]>,
    /// supported_versions list (empty if absent).
    pub supported_versions: U16List<'a>,
    supported_versions_present: bool,
    /// supported_groups list (empty if absent).
    pub supported_groups: U16List<'a>,
    /// ec_point_formats list (empty if absent).
    pub ec_point_formats: &'a [u8],
    /// signature_algorithms list (empty if absent).
    pub signature_algorithms: U16List<'a>,
    /// The first extension whose body was malformed (its field is left
    /// empty); the hello is still usable.
    pub malformed_extension: Option<InvalidKind>,
}

impl<'a> ClientHello<'a> {
    /// Iterates the extensions in wire order.
    pub fn extensions(&self) -> ExtensionIter<'a> {
        ExtensionIter {
            r: Reader::new(self.extensions),
        }
    }

    /// Body of the first extension of type `ext_type`.
    pub fn extension(&self, ext_type: ExtensionType) -> Option<&'a [u8]> {
        self.extensions()
            .find(|e| e.ext_type == ext_type)
            .map(|e| e.data)
    }

    /// Whether the ClientHello carried an extensions block at all (SSLv3-era
    /// hellos may omit it).
    pub fn has_extensions(&self) -> bool {
        self.has_extensions_block
    }

    /// Whether a server_name extension is present (even without a host_name).
    pub fn has_server_name_extension(&self) -> bool {
        self.server_name_ext
    }

    /// The first host_name entry of the server_name extension (RFC 6066 §3),
    /// raw bytes as sent.
    pub fn server_name(&self) -> Option<&'a [u8]> {
        self.server_name
    }

    /// Whether an ALPN extension is present.
    pub fn has_alpn(&self) -> bool {
        self.alpn.is_some()
    }

    /// Iterates offered ALPN protocol names in wire order.
    pub fn alpn(&self) -> AlpnIter<'a> {
        AlpnIter {
            r: self.alpn.map(Reader::new),
        }
    }

    /// Whether a supported_versions extension is present.
    pub fn has_supported_versions(&self) -> bool {
        self.supported_versions_present
    }

    /// Highest offered version: the largest non-GREASE supported_versions
    /// entry if the extension is present and has one, else legacy_version.
    pub fn highest_version(&self) -> ProtocolVersion {
        self.supported_versions
            .iter()
            .filter(|v| !super::is_grease(*v))
            .max()
            .map(ProtocolVersion)
            .unwrap_or(self.legacy_version)
    }
}

/// Parses a ClientHello handshake message, `msg` starting at the 4-byte
/// handshake header. Bytes after the message are ignored.
///
/// `Incomplete` if the message is not all there; `Invalid` if the type is not
/// ClientHello, a fixed field is malformed or the extension framing overruns.
/// A malformed body of an extension we read only empties that field (see
/// [`ClientHello::malformed_extension`]).
pub fn parse_client_hello(msg: &[u8]) -> Result<ClientHello<'_>, Error> {
    let (header, body, _) = parse_handshake_header(msg)?;
    if header.msg_type != HandshakeType::CLIENT_HELLO {
        return Err(Error::Invalid(InvalidKind::HandshakeType));
    }
    let bad = |kind| Error::Invalid(kind);
    let mut r = Reader::new(body);
    let legacy_version = ProtocolVersion(r.u16().ok_or(bad(InvalidKind::HandshakeBody))?);
    let random: &[u8; 32] = r
        .take(32)
        .and_then(|b| b.try_into().ok())
        .ok_or(bad(InvalidKind::HandshakeBody))?;
    let session_id = r.vec8().ok_or(bad(InvalidKind::SessionId))?;
    if session_id.len() > 32 {
        return Err(bad(InvalidKind::SessionId));
    }
    let cipher_suites = r
        .vec16()
        .filter(|c| !c.is_empty())
        .and_then(U16List::new)
        .ok_or(bad(InvalidKind::CipherSuites))?;
    let compression_methods = r
        .vec8()
        .filter(|c| !c.is_empty())
        .ok_or(bad(InvalidKind::CompressionMethods))?;
    let mut hello = ClientHello {
        legacy_version,
        random,
        session_id,
        cipher_suites,
        compression_methods,
        extensions: &[],
        has_extensions_block: false,
        server_name_ext: false,
        server_name: None,
        alpn: None,
        supported_versions: U16List::default(),
        supported_versions_present: false,
        supported_groups: U16List::default(),
        ec_point_formats: &[],
        signature_algorithms: U16List::default(),
        malformed_extension: None,
    };
    // Extensions are optional before TLS 1.3 (RFC 5246 §7.4.1.2).
    if r.is_empty() {
        return Ok(hello);
    }
    let extensions = r.vec16().ok_or(bad(InvalidKind::ExtensionBlock))?;
    if !r.is_empty() {
        return Err(bad(InvalidKind::TrailingBytes));
    }
    hello.extensions = extensions;
    hello.has_extensions_block = true;
    let mut er = Reader::new(extensions);
    while !er.is_empty() {
        let ext_type = ExtensionType(er.u16().ok_or(bad(InvalidKind::ExtensionBlock))?);
        let data = er.vec16().ok_or(bad(InvalidKind::ExtensionBlock))?;
        // Only the first occurrence counts; duplicates are a protocol error
        // (RFC 8446 §4.2) that servers reject, so later copies are ignored.
        // A malformed body leaves its field empty and is noted, rather than
        // losing the whole hello (and its SNI) to one crafted extension.
        let result = match ext_type {
            ExtensionType::SERVER_NAME if !hello.server_name_ext => {
                hello.server_name_ext = true;
                parse_server_name(data).map(|name| hello.server_name = name)
            }
            ExtensionType::ALPN if hello.alpn.is_none() => {
                parse_alpn_list(data).map(|list| hello.alpn = Some(list))
            }
            ExtensionType::SUPPORTED_VERSIONS if !hello.supported_versions_present => {
                hello.supported_versions_present = true;
                Reader::new(data)
                    .vec8()
                    .and_then(U16List::new)
                    .map(|l| hello.supported_versions = l)
                    .ok_or(InvalidKind::SupportedVersions)
            }
            ExtensionType::SUPPORTED_GROUPS if hello.supported_groups.is_empty() => u16_vec16(data)
                .map(|l| hello.supported_groups = l)
                .ok_or(InvalidKind::SupportedGroups),
            ExtensionType::EC_POINT_FORMATS if hello.ec_point_formats.is_empty() => {
                Reader::new(data)
                    .vec8()
                    .map(|l| hello.ec_point_formats = l)
                    .ok_or(InvalidKind::EcPointFormats)
            }
            ExtensionType::SIGNATURE_ALGORITHMS if hello.signature_algorithms.is_empty() => {
                u16_vec16(data)
                    .map(|l| hello.signature_algorithms = l)
                    .ok_or(InvalidKind::SignatureAlgorithms)
            }
            _ => Ok(()),
        };
        if let Err(kind) = result {
            hello.malformed_extension.get_or_insert(kind);
        }
    }
    Ok(hello)
}

/// A u16 list behind a two-byte length prefix.
fn u16_vec16(data: &[u8]) -> Option<U16List<'_>> {
    Reader::new(data).vec16().and_then(U16List::new)
}

/// server_name extension body (RFC 6066 §3): returns the first host_name.
/// An empty body is allowed (that is what servers echo).
fn parse_server_name(data: &[u8]) -> Result<Option<&[u8]>, InvalidKind> {
    if data.is_empty() {
        return Ok(None);
    }
    let bad = InvalidKind::ServerName;
    let list = Reader::new(data).vec16().ok_or(bad)?;
    let mut r = Reader::new(list);
    let mut host = None;
    while !r.is_empty() {
        let name_type = r.u8().ok_or(bad)?;
        let name = r.vec16().ok_or(bad)?;
        // name_type 0 is host_name; the only type ever defined.
        if name_type == 0 && host.is_none() {
            host = Some(name);
        }
    }
    Ok(host)
}

/// ALPN extension body (RFC 7301 §3.1): validates the list of non-empty
/// names and returns it without its length prefix.
fn parse_alpn_list(data: &[u8]) -> Result<&[u8], InvalidKind> {
    let bad = InvalidKind::AlpnList;
    let list = Reader::new(data).vec16().ok_or(bad)?;
    let mut r = Reader::new(list);
    while !r.is_empty() {
        r.vec8().ok_or(bad)?;
    }
    Ok(list)
}

/// SHA-256("HelloRetryRequest"), the ServerHello.random of a
/// HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Borrowed view of a ServerHello (RFC 8446 §4.1.3; RFC 5246 §7.4.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerHello<'a> {
    /// legacy_version (server_version before TLS 1.3).
    pub legacy_version: ProtocolVersion,
    /// The 32-byte server random.
    pub random: &'a [u8; 32],
    /// legacy_session_id_echo.
    pub session_id: &'a [u8],
    /// Selected cipher suite.
    pub cipher_suite: CipherSuite,
    /// Selected compression method.
    pub compression_method: u8,
    /// selected_version from supported_versions, if present.
    pub selected_version: Option<ProtocolVersion>,
    extensions: &'a [u8],
}

impl<'a> ServerHello<'a> {
    /// The negotiated version: supported_versions if present (TLS 1.3,
    /// RFC 8446 §4.2.1), else legacy_version.
    pub fn negotiated_version(&self) -> ProtocolVersion {
        self.selected_version.unwrap_or(self.legacy_version)
    }

    /// Whether this is a HelloRetryRequest (special random, RFC 8446 §4.1.3).
    pub fn is_hello_retry_request(&self) -> bool {
        *self.random == HELLO_RETRY_REQUEST_RANDOM
    }

    /// Iterates the extensions in wire order.
    pub fn extensions(&self) -> ExtensionIter<'a> {
        ExtensionIter {
            r: Reader::new(self.extensions),
        }
    }
}

/// Parses a ServerHello handshake message, `msg` starting at the 4-byte
/// handshake header.
pub fn parse_server_hello(msg: &[u8]) -> Result<ServerHello<'_>, Error> {
    let (header, body, _) = parse_handshake_header(msg)?;
    if header.msg_type != HandshakeType::SERVER_HELLO {
        return Err(Error::Invalid(InvalidKind::HandshakeType));
    }
    let bad = |kind| Error::Invalid(kind);
    let mut r = Reader::new(body);
    let legacy_version = ProtocolVersion(r.u16().ok_or(bad(InvalidKind::HandshakeBody))?);
    let random: &[u8; 32] = r
        .take(32)
        .and_then(|b| b.try_into().ok())
        .ok_or(bad(InvalidKind::HandshakeBody))?;
    let session_id = r.vec8().ok_or(bad(InvalidKind::SessionId))?;
    if session_id.len() > 32 {
        return Err(bad(InvalidKind::SessionId));
    }
    let cipher_suite = CipherSuite(r.u16().ok_or(bad(InvalidKind::CipherSuites))?);
    let compression_method = r.u8().ok_or(bad(InvalidKind::CompressionMethods))?;
    let mut hello = ServerHello {
        legacy_version,
        random,
        session_id,
        cipher_suite,
        compression_method,
        selected_version: None,
        extensions: &[],
    };
    if r.is_empty() {
        return Ok(hello);
    }
    let extensions = r.vec16().ok_or(bad(InvalidKind::ExtensionBlock))?;
    if !r.is_empty() {
        return Err(bad(InvalidKind::TrailingBytes));
    }
    hello.extensions = extensions;
    let mut er = Reader::new(extensions);
    while !er.is_empty() {
        let ext_type = ExtensionType(er.u16().ok_or(bad(InvalidKind::ExtensionBlock))?);
        let data = er.vec16().ok_or(bad(InvalidKind::ExtensionBlock))?;
        if ext_type == ExtensionType::SUPPORTED_VERSIONS && hello.selected_version.is_none() {
            // In a ServerHello the body is a single selected_version.
            let mut v = Reader::new(data);
            let selected = v.u16().ok_or(bad(InvalidKind::SupportedVersions))?;
            if !v.is_empty() {
                return Err(bad(InvalidKind::SupportedVersions));
            }
            hello.selected_version = Some(ProtocolVersion(selected));
        }
    }
    Ok(hello)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TLS 1.3-style ClientHello handshake message built field by field.
    /// Offers GREASE values so fingerprint tests can check their removal.
    pub(crate) fn sample_client_hello() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&[0x03, 0x03]); // legacy_version TLS 1.2
        body.extend_from_slice(&[0x11; 32]); // random
        body.extend_from_slice(&[0x00]); // session id: empty
        body.extend_from_slice(&[0x00, 0x08]); // cipher suites length 8
        body.extend_from_slice(&[0x0a, 0x0a]); //   GREASE
        body.extend_from_slice(&[0x13, 0x01]); //   TLS_AES_128_GCM_SHA256
        body.extend_from_slice(&[0x13, 0x02]); //   TLS_AES_256_GCM_SHA384
        body.extend_from_slice(&[0xc0, 0x2f]); //   ECDHE_RSA_AES128_GCM_SHA256
        body.extend_from_slice(&[0x01, 0x00]); // compression: null
        let mut ext = Vec::new();
        ext.extend_from_slice(&[0x1a, 0x1a, 0x00, 0x00]); // GREASE ext, empty
        ext.extend_from_slice(&[0x00, 0x00, 0x00, 0x10]); // server_name, len 16
        ext.extend_from_slice(&[0x00, 0x0e]); //   list len 14
        ext.extend_from_slice(&[0x00, 0x00, 0x0b]); //   host_name, len 11
        ext.extend_from_slice(b"example.com");
        ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x08]); // supported_groups, len 8
        ext.extend_from_slice(&[0x00, 0x06]); //   list len 6
        ext.extend_from_slice(&[0x2a, 0x2a, 0x00, 0x1d, 0x00, 0x17]); // GREASE, x25519, p256
        ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02]); // ec_point_formats, len 2
        ext.extend_from_slice(&[0x01, 0x00]); //   uncompressed
        ext.extend_from_slice(&[0x00, 0x10, 0x00, 0x0e]); // ALPN, len 14
        ext.extend_from_slice(&[0x00, 0x0c]); //   list len 12
        ext.extend_from_slice(&[0x02]); //   "h2"
        ext.extend_from_slice(b"h2");
        ext.extend_from_slice(&[0x08]); //   "http/1.1"
        ext.extend_from_slice(b"http/1.1");
        ext.extend_from_slice(&[0x00, 0x0d, 0x00, 0x08]); // signature_algorithms, len 8
        ext.extend_from_slice(&[0x00, 0x06]); //   list len 6
        ext.extend_from_slice(&[0x04, 0x03, 0x08, 0x04, 0x04, 0x01]);
        ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x07]); // supported_versions, len 7
        ext.extend_from_slice(&[0x06, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03]); // GREASE, 1.3, 1.2
        body.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&ext);
        let mut msg = vec![0x01]; // handshake type ClientHello
        msg.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    /// Wraps a handshake message into one handshake record.
    pub(crate) fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 0x03, 0x01];
        r.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn client_hello_fields() {
        let msg = sample_client_hello();
        let ch = parse_client_hello(&msg).unwrap();
        assert_eq!(ch.legacy_version, ProtocolVersion::TLS1_2);
        assert_eq!(ch.random, &[0x11; 32]);
        assert!(ch.session_id.is_empty());
        assert_eq!(
            ch.cipher_suites.iter().collect::<Vec<_>>(),
            [0x0a0a, 0x1301, 0x1302, 0xc02f]
        );
        assert_eq!(ch.compression_methods, &[0]);
        assert_eq!(ch.server_name(), Some(&b"example.com"[..]));
        assert_eq!(ch.alpn().collect::<Vec<_>>(), [&b"h2"[..], b"http/1.1"]);
        assert_eq!(
            ch.supported_versions.iter().collect::<Vec<_>>(),
            [0x3a3a, 0x0304, 0x0303]
        );
        assert_eq!(ch.highest_version(), ProtocolVersion::TLS1_3);
        assert_eq!(
            ch.supported_groups.iter().collect::<Vec<_>>(),
            [0x2a2a, 0x001d, 0x0017]
        );
        assert_eq!(ch.ec_point_formats, &[0]);
        assert_eq!(
            ch.signature_algorithms.iter().collect::<Vec<_>>(),
            [0x0403, 0x0804, 0x0401]
        );
        let types: Vec<u16> = ch.extensions().map(|e| e.ext_type.0).collect();
        assert_eq!(
            types,
            [0x1a1a, 0x0000, 0x000a, 0x000b, 0x0010, 0x000d, 0x002b]
        );
        assert_eq!(
            ch.extension(ExtensionType::EC_POINT_FORMATS),
            Some(&[1, 0][..])
        );
    }

    #[test]
    fn client_hello_without_extensions() {
        let mut body = vec![0x03, 0x00]; // SSLv3
        body.extend_from_slice(&[0x22; 32]); // random
        body.extend_from_slice(&[0x00]); // session id
        body.extend_from_slice(&[0x00, 0x02, 0x00, 0x2f]); // one suite
        body.extend_from_slice(&[0x01, 0x00]); // null compression
        let mut msg = vec![0x01, 0x00, 0x00, u8::try_from(body.len()).unwrap()];
        msg.extend_from_slice(&body);
        let ch = parse_client_hello(&msg).unwrap();
        assert!(!ch.has_extensions());
        assert_eq!(ch.highest_version(), ProtocolVersion::SSL3_0);
        assert_eq!(ch.server_name(), None);
        assert_eq!(ch.alpn().count(), 0);
    }

    #[test]
    fn client_hello_incomplete_and_invalid() {
        let msg = sample_client_hello();
        assert_eq!(
            parse_client_hello(&msg[..2]),
            Err(Error::Incomplete { needed: 2 })
        );
        assert_eq!(
            parse_client_hello(&msg[..msg.len() - 3]),
            Err(Error::Incomplete { needed: 3 })
        );
        let mut wrong_type = msg.clone();
        wrong_type[0] = 2;
        assert_eq!(
            parse_client_hello(&wrong_type),
            Err(Error::Invalid(InvalidKind::HandshakeType))
        );
        // Corrupt the SNI list length (offset: 4 hdr + 2 + 32 + 1 + 10 + 2 + 2
        // ext len + 4 grease + 4 sni header).
        let mut bad_sni = msg.clone();
        bad_sni[4 + 2 + 32 + 1 + 10 + 2 + 2 + 4 + 4 + 1] = 0xff;
        let ch = parse_client_hello(&bad_sni).unwrap();
        assert_eq!(ch.malformed_extension, Some(InvalidKind::ServerName));
        assert_eq!(ch.server_name(), None);
        assert!(ch.has_server_name_extension());
        assert_eq!(ch.alpn().count(), 2);
        // Corrupt the ALPN list length: SNI survives.
        let alpn_at = 4 + 2 + 32 + 1 + 10 + 2 + 2 + 4 + 20 + 12 + 6 + 4;
        let mut bad_alpn = msg.clone();
        bad_alpn[alpn_at] = 0xb8;
        let ch = parse_client_hello(&bad_alpn).unwrap();
        assert_eq!(ch.malformed_extension, Some(InvalidKind::AlpnList));
        assert_eq!(ch.server_name(), Some(&b"example.com"[..]));
        assert!(!ch.has_alpn());
        // Corrupt an extension length: the framing fails, the hello too.
        let mut bad_frame = msg.clone();
        bad_frame[4 + 2 + 32 + 1 + 10 + 2 + 2 + 4 + 2] = 0xff;
        assert_eq!(
            parse_client_hello(&bad_frame),
            Err(Error::Invalid(InvalidKind::ExtensionBlock))
        );
        // Every truncation of the body with a fixed-up header must not panic.
        for cut in 4..msg.len() {
            let mut m = msg[..cut].to_vec();
            let len = u32::try_from(cut - 4).unwrap().to_be_bytes();
            m[1..4].copy_from_slice(&len[1..]);
            let _ = parse_client_hello(&m);
        }
    }

    #[test]
    fn record_header_checks() {
        let (h, rest) = parse_record_header(&[22, 3, 1, 0, 5, 9]).unwrap();
        assert_eq!(h.content_type, ContentType::HANDSHAKE);
        assert_eq!(h.version, ProtocolVersion::TLS1_0);
        assert_eq!(h.length, 5);
        assert_eq!(rest, &[9]);
        assert_eq!(
            parse_record_header(&[22, 3]),
            Err(Error::Incomplete { needed: 3 })
        );
        assert_eq!(
            parse_record_header(&[0x47, 0x45, 0x54, 0x20, 0x2f]),
            Err(Error::Invalid(InvalidKind::RecordContentType))
        );
        assert_eq!(
            parse_record_header(&[23, 2, 0, 0, 5]),
            Err(Error::Invalid(InvalidKind::RecordVersion))
        );
        assert_eq!(
            parse_record_header(&[23, 3, 3, 0xff, 0xff]),
            Err(Error::Invalid(InvalidKind::RecordLength))
        );
    }

    #[test]
    fn probe_checks() {
        let rec = record(22, &sample_client_hello());
        assert!(probe(&rec));
        assert!(probe(&rec[..3]));
        assert!(!probe(&rec[..2]));
        assert!(!probe(b"GET / HTTP/1.1\r\n"));
        assert!(!probe(&[22, 3, 1, 0, 40, 2])); // ServerHello
        assert!(!probe(&[23, 3, 3, 0, 40, 1])); // application data
    }

    #[test]
    fn server_hello_tls13() {
        let mut body = vec![0x03, 0x03]; // legacy_version TLS 1.2
        body.extend_from_slice(&[0x33; 32]); // random
        body.extend_from_slice(&[0x00]); // session id echo: empty
        body.extend_from_slice(&[0x13, 0x01]); // TLS_AES_128_GCM_SHA256
        body.extend_from_slice(&[0x00]); // compression null
        body.extend_from_slice(&[0x00, 0x06]); // extensions length 6
        body.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]); // supported_versions 1.3
        let mut msg = vec![0x02, 0x00, 0x00, u8::try_from(body.len()).unwrap()];
        msg.extend_from_slice(&body);
        let sh = parse_server_hello(&msg).unwrap();
        assert_eq!(sh.legacy_version, ProtocolVersion::TLS1_2);
        assert_eq!(sh.cipher_suite, CipherSuite::TLS_AES_128_GCM_SHA256);
        assert_eq!(sh.negotiated_version(), ProtocolVersion::TLS1_3);
        assert!(!sh.is_hello_retry_request());
        assert_eq!(sh.extensions().count(), 1);
        // Same hello with the HelloRetryRequest random.
        msg[6..38].copy_from_slice(&HELLO_RETRY_REQUEST_RANDOM);
        assert!(parse_server_hello(&msg).unwrap().is_hello_retry_request());
    }
}
