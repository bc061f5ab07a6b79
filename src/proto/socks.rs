//! SOCKS4/4a and SOCKS5 (RFC 1928, RFC 1929) handshakes: recognised and stepped over, so
//! that what an app tunnels through a proxy (TLS, HTTP) is inspected like a direct flow.
//!
//! Takes each direction's first bytes; emits, per direction, the bytes after the
//! handshake. Holds at most [`MAX_HANDSHAKE_BYTES`] per direction; anything that does not
//! parse as SOCKS gives up (the flow becomes opaque).

/// A SOCKS5 handshake is at most 2+255 (greeting) + 3+255+255 (auth) + 262 (request)
/// bytes; SOCKS4a user ids and host names are short. Beyond this it is not SOCKS.
pub const MAX_HANDSHAKE_BYTES: usize = 1100;

/// Which SOCKS version the client spoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Socks4,
    Socks5,
}

/// Outcome of feeding one direction.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The handshake of this direction is complete; these bytes follow it.
    Done(Vec<u8>),
    /// Not SOCKS after all.
    Invalid,
    /// More bytes needed.
    Pending,
}

/// Handshake state of one flow.
#[derive(Debug)]
pub struct SocksState {
    version: Version,
    buf: [Vec<u8>; 2],
    done: [bool; 2],
}

enum Parse {
    Complete(usize),
    Invalid,
    Need,
}

impl SocksState {
    pub fn new(version: Version) -> Self {
        SocksState {
            version,
            buf: [Vec::new(), Vec::new()],
            done: [false; 2],
        }
    }

    /// Whether a direction finished its handshake.
    pub fn is_done(&self, to_server: bool) -> bool {
        self.done[usize::from(!to_server)]
    }

    /// Feeds bytes of one direction (`to_server`: client → proxy).
    pub fn feed(&mut self, to_server: bool, data: &[u8]) -> Step {
        let i = usize::from(!to_server);
        if self.done[i] {
            return Step::Done(data.to_vec());
        }
        let buf = &mut self.buf[i];
        if buf.len() + data.len() > MAX_HANDSHAKE_BYTES {
            let room = MAX_HANDSHAKE_BYTES.saturating_sub(buf.len());
            buf.extend_from_slice(data.get(..room).unwrap_or(&[]));
        } else {
            buf.extend_from_slice(data);
        }
        let parsed = match (self.version, to_server) {
            (Version::Socks5, true) => client5(buf),
            (Version::Socks5, false) => server5(buf),
            (Version::Socks4, true) => client4(buf),
            (Version::Socks4, false) => server4(buf),
        };
        match parsed {
            Parse::Complete(end) => {
                self.done[i] = true;
                let rest = buf.get(end..).map(<[u8]>::to_vec).unwrap_or_default();
                // Bytes beyond what fitted the buffer were never copied; the handshake is
                // far shorter than the buffer, so whatever overflowed belongs to the tunnel.
                let mut rest = rest;
                if buf.len() == MAX_HANDSHAKE_BYTES {
                    let copied = data.len().min(MAX_HANDSHAKE_BYTES);
                    rest.extend_from_slice(data.get(copied..).unwrap_or(&[]));
                }
                *buf = Vec::new();
                Step::Done(rest)
            }
            Parse::Invalid => Step::Invalid,
            Parse::Need if buf.len() >= MAX_HANDSHAKE_BYTES => Step::Invalid,
            Parse::Need => Step::Pending,
        }
    }
}

/// Does a client's first bytes look like a SOCKS greeting? `server_first` are the
/// proxy's first bytes, if any (its answer confirms the version).
pub fn probe(client: &[u8], server_first: &[u8], server_port: u16) -> Option<Version> {
    match client {
        // SOCKS5 greeting: version 5, 1..=9 methods, each a known method number.
        [5, n, methods @ ..] if (1..=9).contains(n) && methods.len() >= usize::from(*n) => {
            let known = methods
                .iter()
                .take(usize::from(*n))
                .all(|m| *m <= 0x09 || *m >= 0x80);
            let confirmed = server_first.is_empty() || server_first.first() == Some(&5);
            (known && confirmed).then_some(Version::Socks5)
        }
        // SOCKS4 CONNECT/BIND: confirmed by the proxy's 0x00 0x5a..0x5d reply or the port.
        [4, 1 | 2, _, _, _, _, _, _, ..] => {
            let confirmed = matches!(server_first, [0, 0x5a..=0x5d, ..]) || server_port == 1080;
            confirmed.then_some(Version::Socks4)
        }
        _ => None,
    }
}

fn addr_end(buf: &[u8], at: usize) -> Parse {
    // at points at ATYP; address then 2 port bytes.
    let Some(&atyp) = buf.get(at) else {
        return Parse::Need;
    };
    let len = match atyp {
        1 => 4,
        4 => 16,
        3 => match buf.get(at + 1) {
            Some(&n) => 1 + usize::from(n),
            None => return Parse::Need,
        },
        _ => return Parse::Invalid,
    };
    let end = at + 1 + len + 2;
    if buf.len() >= end {
        Parse::Complete(end)
    } else {
        Parse::Need
    }
}

/// Greeting, optional RFC 1929 username/password, then the request.
fn client5(buf: &[u8]) -> Parse {
    let Some(&n) = buf.get(1) else {
        return Parse::Need;
    };
    let mut i = 2 + usize::from(n);
    match buf.get(i) {
        None => return Parse::Need,
        Some(1) => {
            let Some(&ulen) = buf.get(i + 1) else {
                return Parse::Need;
            };
            let plen_at = i + 2 + usize::from(ulen);
            let Some(&plen) = buf.get(plen_at) else {
                return Parse::Need;
            };
            i = plen_at + 1 + usize::from(plen);
        }
        Some(5) => {}
        Some(_) => return Parse::Invalid,
    }
    match buf.get(i) {
        None => Parse::Need,
        Some(5) => addr_end(buf, i + 3),
        Some(_) => Parse::Invalid,
    }
}

/// Method choice, optional auth status, then the reply.
fn server5(buf: &[u8]) -> Parse {
    let method = match buf {
        [5, m, ..] => *m,
        [5] | [] => return Parse::Need,
        _ => return Parse::Invalid,
    };
    if method == 0xff {
        return Parse::Invalid;
    }
    let i = if method == 2 { 4 } else { 2 };
    match buf.get(i) {
        None => Parse::Need,
        Some(5) => addr_end(buf, i + 3),
        Some(_) => Parse::Invalid,
    }
}

/// VN CD DSTPORT DSTIP USERID NUL [HOST NUL for 4a].
fn client4(buf: &[u8]) -> Parse {
    if buf.len() < 9 {
        return Parse::Need;
    }
    let Some(user_end) = buf.iter().skip(8).position(|b| *b == 0).map(|p| p + 8) else {
        return Parse::Need;
    };
    // SOCKS4a: DSTIP 0.0.0.x (x ≠ 0) means a host name follows.
    let is_4a = buf.get(4..7) == Some(&[0, 0, 0][..]) && buf.get(7).is_some_and(|b| *b != 0);
    if !is_4a {
        return Parse::Complete(user_end + 1);
    }
    match buf.iter().skip(user_end + 1).position(|b| *b == 0) {
        Some(p) => Parse::Complete(user_end + 1 + p + 1),
        None => Parse::Need,
    }
}

/// VN(0) CD DSTPORT DSTIP: 8 bytes.
fn server4(buf: &[u8]) -> Parse {
    match buf {
        [0, ..] if buf.len() >= 8 => Parse::Complete(8),
        [0, ..] | [] => Parse::Need,
        _ => Parse::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_over_a_socks5_handshake_with_password_in_small_pieces() {
        let client: Vec<u8> = [
            &[5u8, 2, 0, 2][..],                            // greeting: no-auth, user/pass
            &[1, 4, b'u', b's', b'e', b'r', 2, b'p', b'w'], // RFC 1929 auth
            &[5, 1, 0, 3, 11],                              // CONNECT, domain name
            b"example.com",
            &[1, 187], // port 443
            b"TLSDATA",
        ]
        .concat();
        let server: Vec<u8> = [
            &[5u8, 2][..],
            &[1, 0],
            &[5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90],
            b"REPLY",
        ]
        .concat();
        assert_eq!(probe(&client, &server, 1080), Some(Version::Socks5));
        let mut state = SocksState::new(Version::Socks5);
        let mut tunneled = Vec::new();
        for byte in &client {
            if let Step::Done(rest) = state.feed(true, std::slice::from_ref(byte)) {
                tunneled.extend(rest);
            }
        }
        assert_eq!(tunneled, b"TLSDATA");
        assert_eq!(state.feed(false, &server), Step::Done(b"REPLY".to_vec()));
    }

    #[test]
    fn steps_over_socks4a_and_refuses_other_bytes() {
        let client = [
            &[4u8, 1, 0, 80, 0, 0, 0, 1][..],
            b"me\0",
            b"host.example\0",
            b"GET / HTTP/1.1\r\n",
        ]
        .concat();
        let mut state = SocksState::new(Version::Socks4);
        assert_eq!(
            state.feed(true, &client),
            Step::Done(b"GET / HTTP/1.1\r\n".to_vec())
        );
        assert_eq!(
            state.feed(false, &[0, 0x5a, 0, 80, 0, 0, 0, 0, b'H']),
            Step::Done(b"H".to_vec())
        );
        assert_eq!(probe(b"GET / HTTP/1.1", b"", 1080), None);
        let mut bad = SocksState::new(Version::Socks5);
        assert_eq!(bad.feed(false, b"HTTP/1.1 200 OK"), Step::Invalid);
    }
}
