//! Owned records that outlive the packets: a complete [`Request`] for detection and a
//! [`Transaction`] summary for the transaction log.
//!
//! Strings here are converted lossily from the wire (HTTP/1.x fields are ASCII in practice;
//! stray bytes become U+FFFD); header values and bodies stay bytes.

use super::body::Coding;
use super::parser;

/// One header field as received (trailer fields of a chunked body are appended after the
/// header section's fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Field name, case as sent (compare with `eq_ignore_ascii_case`, RFC 9110 §5.1).
    pub name: String,
    /// Field value without surrounding whitespace; obs-fold continuations joined by one SP.
    pub value: Vec<u8>,
}

/// What a request body is, from its Content-Type and its first bytes
/// ([`super::body::classify`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// Anything else.
    Binary,
    /// No body bytes.
    Empty,
    /// `application/x-www-form-urlencoded`, or shaped like `a=b&c=d`.
    Form,
    /// A JSON media type, or starting with `{` or `[`.
    Json,
    /// `multipart/*` with its boundary parameter (RFC 2046 §5.1.1).
    Multipart {
        /// The boundary, unquoted.
        boundary: String,
    },
    /// A textual media type, or untyped printable UTF-8.
    Text,
}

/// [`Request::version`] of a request received over HTTP/2 (RFC 9113).
pub const VERSION_HTTP2: u8 = 2;

/// A complete HTTP/1.x or HTTP/2 request; see [`super::Event::Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method token, case as sent.
    pub method: String,
    /// Raw request-target (origin-, absolute-, authority- or asterisk-form, RFC 9112 §3.2).
    pub uri: String,
    /// HTTP version: the minor version of `HTTP/1.x` (0 or 1), or [`VERSION_HTTP2`] for a
    /// request that came over HTTP/2 (no HTTP/1.2 exists, so the values cannot collide).
    pub version: u8,
    /// Header fields in order, at most `max_headers` and `max_header_bytes`.
    pub headers: Vec<Header>,
    /// Some fields were not stored (limits) or the head was cut by a gap or close.
    pub headers_truncated: bool,
    /// Authority of an absolute-form target (RFC 9112 §3.2.2: it overrides Host), else the
    /// first Host field, else the target of a CONNECT.
    pub host: Option<String>,
    /// First User-Agent field.
    pub user_agent: Option<String>,
    /// First Content-Type field, full value.
    pub content_type: Option<String>,
    /// Content-Encoding codings in order of application (the last was applied last).
    pub content_encoding: Vec<Coding>,
    /// Body after de-chunking and decoding, at most `max_decoded_body_bytes`.
    pub body: Vec<u8>,
    /// Body bytes after de-chunking, before content decoding, including bytes lost to gaps.
    pub body_wire_len: u64,
    /// `body` is incomplete: a cap, a gap, a decoder stop, or the stream ended early.
    pub body_truncated: bool,
    /// Classification of `body`.
    pub body_kind: BodyKind,
    /// The request asked to switch to WebSocket (`Upgrade: websocket`, RFC 6455 §4.1).
    pub websocket_upgrade: bool,
    /// `Expect: 100-continue` (RFC 9110 §10.1.1).
    pub expect_continue: bool,
}

impl Request {
    /// Whether the request came over HTTP/2.
    pub fn is_http2(&self) -> bool {
        self.version == VERSION_HTTP2
    }

    /// Value of the first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }

    /// Values of all fields named `name` (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }

    /// Cookie pairs of all Cookie fields (RFC 6265 §5.4), parsed lazily without allocating.
    pub fn cookies(&self) -> Cookies<'_> {
        Cookies {
            fields: self.headers.iter(),
            current: &[],
        }
    }

    /// Path part of an origin-form target (before `?`).
    pub fn path(&self) -> &str {
        self.uri.split(['?', '#']).next().unwrap_or_default()
    }

    /// Query part of the target (after the first `?`, before `#`).
    pub fn query(&self) -> Option<&str> {
        let (_, q) = self.uri.split_once('?')?;
        Some(q.split('#').next().unwrap_or_default())
    }
}

/// Iterator over `(name, value)` cookie pairs; see [`Request::cookies`]. Pairs without `=`
/// yield an empty name, as browsers treat them (RFC 6265bis §5.6).
#[derive(Clone, Debug)]
pub struct Cookies<'a> {
    fields: std::slice::Iter<'a, Header>,
    current: &'a [u8],
}

impl<'a> Iterator for Cookies<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            while self.current.is_empty() {
                let field = self.fields.next()?;
                if field.name.eq_ignore_ascii_case("cookie") {
                    self.current = &field.value;
                }
            }
            let end = self
                .current
                .iter()
                .position(|&b| b == b';')
                .unwrap_or(self.current.len());
            let pair = parser::trim_ows(self.current.get(..end).unwrap_or_default());
            self.current = self.current.get(end + 1..).unwrap_or_default();
            if pair.is_empty() {
                continue;
            }
            return Some(match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (
                    parser::trim_ows(pair.get(..eq).unwrap_or_default()),
                    parser::trim_ows(pair.get(eq + 1..).unwrap_or_default()),
                ),
                None => (&[][..], pair),
            });
        }
    }
}

/// Summary of one request and its final response for the transaction log; see
/// [`super::Event::Transaction`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transaction {
    /// Request method (empty if the request was lost to a gap).
    pub method: String,
    /// As [`Request::host`].
    pub host: Option<String>,
    /// Raw request-target (empty if the request was lost to a gap).
    pub uri: String,
    /// As [`Request::user_agent`].
    pub user_agent: Option<String>,
    /// Request Content-Type.
    pub content_type: Option<String>,
    /// Request body bytes after de-chunking, before decoding (so far, if the response came
    /// first).
    pub request_body_len: u64,
    /// Final status code; `None` if no response was seen.
    pub status: Option<u16>,
    /// Response Content-Type.
    pub response_content_type: Option<String>,
    /// Response body bytes after de-chunking (not decoded).
    pub response_body_len: u64,
    /// The connection switched to WebSocket with this exchange (`101` to an upgrade request).
    pub websocket: bool,
    /// A capture gap damaged the request or the response.
    pub gap: bool,
    /// The exchange was an HTTP/2 stream (RFC 9113).
    pub http2: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(headers: &[(&str, &[u8])], uri: &str) -> Request {
        Request {
            method: "GET".into(),
            uri: uri.into(),
            version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    value: v.to_vec(),
                })
                .collect(),
            headers_truncated: false,
            host: None,
            user_agent: None,
            content_type: None,
            content_encoding: Vec::new(),
            body: Vec::new(),
            body_wire_len: 0,
            body_truncated: false,
            body_kind: BodyKind::Empty,
            websocket_upgrade: false,
            expect_continue: false,
        }
    }

    #[test]
    fn cookies_across_fields() {
        let r = request_with(
            &[
                ("Cookie", b"sid=abc123; theme = dark ;;flag"),
                ("Accept", b"*/*"),
                ("cookie", b"uid=42"),
                ("Cookie", b""),
            ],
            "/",
        );
        let pairs: Vec<_> = r.cookies().collect();
        assert_eq!(
            pairs,
            vec![
                (&b"sid"[..], &b"abc123"[..]),
                (&b"theme"[..], &b"dark"[..]),
                (&b""[..], &b"flag"[..]),
                (&b"uid"[..], &b"42"[..]),
            ]
        );
    }

    #[test]
    fn header_lookup_and_uri_parts() {
        let r = request_with(
            &[("X-A", b"1"), ("x-a", b"2")],
            "/p/q?email=a%40b.example&x=1#frag",
        );
        assert_eq!(r.header("X-a"), Some(&b"1"[..]));
        assert_eq!(r.headers_named("X-A").count(), 2);
        assert_eq!(r.header("missing"), None);
        assert_eq!(r.path(), "/p/q");
        assert_eq!(r.query(), Some("email=a%40b.example&x=1"));
        assert_eq!(request_with(&[], "/").query(), None);
    }
}
