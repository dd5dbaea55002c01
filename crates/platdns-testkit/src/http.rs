//! A small blocking HTTP/1.1 client for tests of a server on loopback: one
//! request a connection (`Connection: close`), the answer read to its end.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// An answer as it came.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The status line and the header lines.
    pub head: String,
    /// The body, de-chunked when it came chunked.
    pub body: String,
}

impl Response {
    /// The first header of that name (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON: `Null` when empty, a JSON string when not JSON.
    pub fn json(&self) -> Value {
        if self.body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
        }
    }
}

/// One request with exactly these headers (besides `Host`,
/// `Content-Length` and `Connection: close`).
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status: u16 = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, payload) = resp.split_once("\r\n\r\n").unwrap();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(payload)
    } else {
        payload.to_string()
    };
    Response {
        status,
        head: head.to_string(),
        body,
    }
}

/// A JSON request with an optional bearer token; returns (status, JSON body,
/// as [`Response::json`]).
pub fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
    http_with(addr, method, path, token, body, &[])
}

/// As [`http`], with more request headers.
pub fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let all: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .chain(headers.iter().copied())
        .chain([("Content-Type", "application/json")])
        .collect();
    let r = request(addr, method, path, &all, body.unwrap_or(""));
    (r.status, r.json())
}

/// A chunked body (RFC 9112 §7.1) put together.
pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn dechunked_bodies() {
        assert_eq!(dechunk("4\r\nWiki\r\n6\r\npedia \r\n0\r\n\r\n"), "Wikipedia ");
        assert_eq!(dechunk(""), "");
    }

    #[test]
    fn a_request_and_its_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = String::new();
            let mut buf = [0u8; 1024];
            while !req.ends_with("{\"a\":1}") {
                let n = conn.read(&mut buf).unwrap();
                req.push_str(std::str::from_utf8(&buf[..n]).unwrap());
            }
            conn.write_all(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"b\":\r\n2\r\n2}\r\n0\r\n\r\n")
                .unwrap();
            req
        });
        let (status, v) = http_with(
            addr,
            "POST",
            "/x",
            Some("tok"),
            Some(r#"{"a":1}"#),
            &[("If-Match", "e")],
        );
        assert_eq!((status, v), (201, serde_json::json!({"b": 2})));
        let req = server.join().unwrap();
        assert!(req.starts_with("POST /x HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains(
                "Authorization: Bearer tok\r\nIf-Match: e\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
            ),
            "{req}"
        );
    }
}
