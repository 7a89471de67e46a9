//! A minimal HTTP/1.1 client, for `yibao submit --node` and for the viewer's node source:
//! one request per connection, to a node the user names (plain HTTP on a trusted network or
//! loopback; the signature on each statement is the authentication, and what is read is
//! checked against signed checkpoints).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

/// The largest response read.
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// Splits `http://host:port/prefix` into the address and the path prefix.
pub fn parse_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{url}: only http:// URLs are supported"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/').to_string()),
        None => (rest, String::new()),
    };
    if host.is_empty() {
        bail!("{url}: no host");
    }
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    Ok((host, path))
}

/// Sends one request and returns the status and body.
pub fn request(
    url: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(u16, Vec<u8>)> {
    let (host, prefix) = parse_url(url)?;
    let mut stream =
        TcpStream::connect(&host).with_context(|| format!("cannot connect to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {prefix}{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let raw = read_response(&mut stream.take(MAX_RESPONSE))
        .with_context(|| format!("{host}: reading the response"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("{host}: malformed HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("{host}: malformed status line"))?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body)?;
    }
    Ok((status, body))
}

/// Reads a response: up to the end of its body when it states a `Content-Length` (a
/// server may keep the connection open despite `Connection: close`), else to the end of the
/// stream.
fn read_response(stream: &mut impl Read) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut wanted: Option<usize> = None;
    loop {
        if let Some(total) = wanted {
            if raw.len() >= total {
                raw.truncate(total);
                return Ok(raw);
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
        if wanted.is_none() {
            if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                let length = head.lines().find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    (name.trim() == "content-length").then(|| value.trim().parse::<usize>().ok())?
                });
                if let Some(length) = length {
                    wanted = Some(split + 4 + length);
                }
            }
        }
    }
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("malformed chunked body"))?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| anyhow!("malformed chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or_else(|| anyhow!("truncated chunk"))?;
        out.extend_from_slice(chunk);
        data = data
            .get(size + 2..)
            .ok_or_else(|| anyhow!("truncated chunk"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_chunks() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1:8080".into(), String::new())
        );
        assert_eq!(
            parse_url("http://node/api/").unwrap(),
            ("node:80".into(), "/api".into())
        );
        assert!(parse_url("https://x").is_err());
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"9\r\nabc").is_err());
        // A stated length ends the read even if the stream goes on.
        let mut open =
            std::io::Cursor::new(b"HTTP/1.1 200 OK\r\nContent-Length:3\r\n\r\nabcEXTRA".to_vec());
        assert!(read_response(&mut open).unwrap().ends_with(b"\r\n\r\nabc"));
        let mut to_end = std::io::Cursor::new(b"HTTP/1.1 200 OK\r\n\r\nall of it".to_vec());
        assert!(read_response(&mut to_end).unwrap().ends_with(b"all of it"));
    }
}
