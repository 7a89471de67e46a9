//! The wire protocol between nodes (SPEC.md §14): the `/yibao/sync/1` request-response
//! protocol and the gossip messages, each a canonical CBOR array, every size capped.
//!
//! Requests: `[0]` Status; `[1, log, start, count]` EntriesByRange; `[2, log, from, to]`
//! Consistency; `[3, log, start, count]` PagesByRange. Responses: `[0, [[log, size,
//! checkpoint], …]]` Status (the checkpointed size of every log the node holds and its
//! latest checkpoint with cosignatures); `[1, log, start, [entry, …], checkpoint, [hash,
//! …]]` Entries (a consistency proof from the batch's end to the checkpoint); `[2, log,
//! prefix_root, [hash, …], checkpoint]` Consistency; `[3, reason]` Refused; `[4, log,
//! start, [page, …], [entry, …], checkpoint, [hash, …]]` Pages (full stored pages of 32
//! entries, then entries).
//!
//! Frames on a stream are a 4-byte big-endian length and the CBOR body.

use std::io;

use futures::prelude::*;
use libp2p::StreamProtocol;
use yibao_ledger::keys::LogCode;
use yibao_ledger::merkle::Hash;
use yibao_schema::cbor::{Decoder, Encoder};

/// The sync protocol's name.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/yibao/sync/1");
/// The gossip topic for checkpoints, cosignatures and equivocation proofs.
pub const GOSSIP_TOPIC: &str = "yibao/v1/log-events";

/// The largest request accepted.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024;
/// The largest response accepted (entries batches are cut to fit).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// The most entries one EntriesByRange or PagesByRange may ask for or carry.
pub const MAX_ENTRIES_PER_REQUEST: u64 = 4096;
/// Entries in a page (`yibao_ledger::page`): a PagesByRange starts at a multiple of it.
pub const ENTRIES_PER_PAGE: u64 = yibao_ledger::page::ENTRIES_PER_PAGE;
/// The largest gossip message.
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024;
/// The most logs a Status may list.
pub const MAX_STATUS_LOGS: usize = 1024;
/// The longest checkpoint note carried (with cosignatures).
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

/// A request from one node to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    Entries {
        log: LogCode,
        start: u64,
        count: u64,
    },
    Consistency {
        log: LogCode,
        from: u64,
        to: u64,
    },
    /// Like `Entries`, but the answer may carry full pages as stored (`start` is a
    /// multiple of [`ENTRIES_PER_PAGE`]): the sender neither decompresses them nor the
    /// receiver compresses them again.
    Pages {
        log: LogCode,
        start: u64,
        count: u64,
    },
}

/// One log in a Status response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStatus {
    pub log: LogCode,
    /// The size of the latest checkpoint the node holds (what it can serve).
    pub size: u64,
    /// That checkpoint's note, with the cosignatures the node holds.
    pub checkpoint: String,
}

/// A batch of entries and what ties it to a signed checkpoint: `pages` (full pages in the
/// stored encoding, SPEC.md §15; only in a Pages response) hold the first entries from
/// `start`, `entries` the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntriesResponse {
    pub log: LogCode,
    pub start: u64,
    pub pages: Vec<Vec<u8>>,
    pub entries: Vec<Vec<u8>>,
    pub checkpoint: String,
    pub proof: Vec<Hash>,
}

impl EntriesResponse {
    /// How many entries the batch carries, pages included.
    pub fn len(&self) -> u64 {
        self.pages.len() as u64 * ENTRIES_PER_PAGE + self.entries.len() as u64
    }

    /// True if the batch carries no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Status(Vec<LogStatus>),
    Entries(EntriesResponse),
    Consistency {
        log: LogCode,
        prefix_root: Hash,
        proof: Vec<Hash>,
        checkpoint: String,
    },
    Refused(String),
}

/// A gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gossip {
    /// A log's new checkpoint (the owner's signature; cosignatures travel separately).
    Checkpoint { log: LogCode, checkpoint: String },
    /// A witness's cosignature of a log's checkpoint of `size`, as a note signature line.
    Cosignature {
        log: LogCode,
        size: u64,
        line: String,
    },
    /// An equivocation proof (`EquivocationProof::encode`).
    Equivocation { log: LogCode, proof: Vec<u8> },
}

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed message: {0}")]
pub struct Malformed(pub String);

fn malformed(what: impl Into<String>) -> Malformed {
    Malformed(what.into())
}

fn cbor(e: yibao_schema::cbor::DecodeError) -> Malformed {
    Malformed(e.to_string())
}

fn log_code(d: &mut Decoder<'_>) -> Result<LogCode, Malformed> {
    let text = d.text().map_err(cbor)?;
    LogCode::parse(text).ok_or_else(|| malformed(format!("{text:?} is not a division code")))
}

fn note(d: &mut Decoder<'_>) -> Result<String, Malformed> {
    let text = d.text().map_err(cbor)?;
    if text.len() > MAX_NOTE_BYTES {
        return Err(malformed("checkpoint note too long"));
    }
    Ok(text.to_string())
}

fn hashes(d: &mut Decoder<'_>) -> Result<Vec<Hash>, Malformed> {
    let count = d.array().map_err(cbor)?;
    if count > 128 {
        return Err(malformed("too many proof hashes"));
    }
    (0..count)
        .map(|_| {
            d.bytes()
                .map_err(cbor)?
                .try_into()
                .map_err(|_| malformed("a hash is not 32 bytes"))
        })
        .collect()
}

fn put_hashes(e: &mut Encoder, hashes: &[Hash]) {
    e.array(hashes.len() as u64);
    for h in hashes {
        e.bytes(h);
    }
}

/// Checks that decoding consumed everything and that the bytes were canonical.
fn finish<T>(
    d: &Decoder<'_>,
    bytes: &[u8],
    value: T,
    encode: impl Fn(&T) -> Vec<u8>,
) -> Result<T, Malformed> {
    d.finish().map_err(cbor)?;
    if encode(&value) != bytes {
        return Err(malformed("not in canonical form"));
    }
    Ok(value)
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        match self {
            Request::Status => {
                e.array(1).uint(0);
            }
            Request::Entries { log, start, count } | Request::Pages { log, start, count } => {
                let kind = if matches!(self, Request::Pages { .. }) {
                    3
                } else {
                    1
                };
                e.array(4)
                    .uint(kind)
                    .text(log.as_str())
                    .uint(*start)
                    .uint(*count);
            }
            Request::Consistency { log, from, to } => {
                e.array(4).uint(2).text(log.as_str()).uint(*from).uint(*to);
            }
        }
        e.into_vec()
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, Malformed> {
        let mut d = Decoder::new(bytes);
        let len = d.array().map_err(cbor)?;
        let request = match (d.uint().map_err(cbor)?, len) {
            (0, 1) => Request::Status,
            (kind @ (1 | 3), 4) => {
                let log = log_code(&mut d)?;
                let start = d.uint().map_err(cbor)?;
                let count = d.uint().map_err(cbor)?;
                if count == 0 || count > MAX_ENTRIES_PER_REQUEST {
                    return Err(malformed(format!(
                        "count {count} is not 1..={MAX_ENTRIES_PER_REQUEST}"
                    )));
                }
                if kind == 1 {
                    Request::Entries { log, start, count }
                } else if !start.is_multiple_of(ENTRIES_PER_PAGE) {
                    return Err(malformed(format!(
                        "pages from {start}, not a multiple of {ENTRIES_PER_PAGE}"
                    )));
                } else {
                    Request::Pages { log, start, count }
                }
            }
            (2, 4) => {
                let log = log_code(&mut d)?;
                let from = d.uint().map_err(cbor)?;
                let to = d.uint().map_err(cbor)?;
                Request::Consistency { log, from, to }
            }
            (kind, len) => return Err(malformed(format!("unknown request {kind}/{len}"))),
        };
        finish(&d, bytes, request, Request::encode)
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        // Sized up front: a batch of entries is megabytes, and a growing vector copies it
        // (and faults in fresh pages) at every doubling.
        let mut e = match self {
            Response::Entries(r) => Encoder::with_capacity(
                64 + r.checkpoint.len()
                    + 33 * r.proof.len()
                    + r.pages.iter().map(|page| 9 + page.len()).sum::<usize>()
                    + r.entries.iter().map(|entry| 9 + entry.len()).sum::<usize>(),
            ),
            _ => Encoder::new(),
        };
        match self {
            Response::Status(logs) => {
                e.array(2).uint(0).array(logs.len() as u64);
                for l in logs {
                    e.array(3)
                        .text(l.log.as_str())
                        .uint(l.size)
                        .text(&l.checkpoint);
                }
            }
            Response::Entries(r) => {
                if r.pages.is_empty() {
                    e.array(6).uint(1).text(r.log.as_str()).uint(r.start);
                } else {
                    e.array(7).uint(4).text(r.log.as_str()).uint(r.start);
                    e.array(r.pages.len() as u64);
                    for page in &r.pages {
                        e.bytes(page);
                    }
                }
                e.array(r.entries.len() as u64);
                for entry in &r.entries {
                    e.bytes(entry);
                }
                e.text(&r.checkpoint);
                put_hashes(&mut e, &r.proof);
            }
            Response::Consistency {
                log,
                prefix_root,
                proof,
                checkpoint,
            } => {
                e.array(5).uint(2).text(log.as_str()).bytes(prefix_root);
                put_hashes(&mut e, proof);
                e.text(checkpoint);
            }
            Response::Refused(reason) => {
                e.array(2).uint(3).text(reason);
            }
        }
        e.into_vec()
    }

    pub fn decode(bytes: &[u8]) -> Result<Response, Malformed> {
        let mut d = Decoder::new(bytes);
        let len = d.array().map_err(cbor)?;
        let response = match (d.uint().map_err(cbor)?, len) {
            (0, 2) => {
                let count = d.array().map_err(cbor)?;
                if count > MAX_STATUS_LOGS as u64 {
                    return Err(malformed("too many logs"));
                }
                let mut logs = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    if d.array().map_err(cbor)? != 3 {
                        return Err(malformed("a log status is not an array of 3"));
                    }
                    let log = log_code(&mut d)?;
                    let size = d.uint().map_err(cbor)?;
                    let checkpoint = note(&mut d)?;
                    logs.push(LogStatus {
                        log,
                        size,
                        checkpoint,
                    });
                }
                Response::Status(logs)
            }
            (kind @ (1 | 4), len) if len == 6 + u64::from(kind == 4) => {
                let log = log_code(&mut d)?;
                let start = d.uint().map_err(cbor)?;
                let mut pages = Vec::new();
                if kind == 4 {
                    let count = d.array().map_err(cbor)?;
                    if count == 0 || count > MAX_ENTRIES_PER_REQUEST / ENTRIES_PER_PAGE {
                        return Err(malformed(format!("{count} pages in one response")));
                    }
                    if !start.is_multiple_of(ENTRIES_PER_PAGE) {
                        return Err(malformed(format!(
                            "pages from {start}, not a multiple of {ENTRIES_PER_PAGE}"
                        )));
                    }
                    pages.reserve(count as usize);
                    for _ in 0..count {
                        pages.push(d.bytes().map_err(cbor)?.to_vec());
                    }
                }
                let count = d.array().map_err(cbor)?;
                if count + pages.len() as u64 * ENTRIES_PER_PAGE > MAX_ENTRIES_PER_REQUEST {
                    return Err(malformed(format!(
                        "{} entries in one response",
                        count + pages.len() as u64 * ENTRIES_PER_PAGE
                    )));
                }
                let mut entries = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    entries.push(d.bytes().map_err(cbor)?.to_vec());
                }
                let checkpoint = note(&mut d)?;
                let proof = hashes(&mut d)?;
                // Every item was read by the strict decoder in schema order (shortest
                // heads, definite lengths, nothing normalised), so the bytes are the
                // canonical encoding: not encoded again to compare, which would copy the
                // whole batch.
                d.finish().map_err(cbor)?;
                return Ok(Response::Entries(EntriesResponse {
                    log,
                    start,
                    pages,
                    entries,
                    checkpoint,
                    proof,
                }));
            }
            (2, 5) => {
                let log = log_code(&mut d)?;
                let prefix_root = d
                    .bytes()
                    .map_err(cbor)?
                    .try_into()
                    .map_err(|_| malformed("prefix root is not 32 bytes"))?;
                let proof = hashes(&mut d)?;
                let checkpoint = note(&mut d)?;
                Response::Consistency {
                    log,
                    prefix_root,
                    proof,
                    checkpoint,
                }
            }
            (3, 2) => {
                let reason = d.text().map_err(cbor)?;
                Response::Refused(reason.chars().take(512).collect())
            }
            (kind, len) => return Err(malformed(format!("unknown response {kind}/{len}"))),
        };
        finish(&d, bytes, response, Response::encode)
    }
}

impl Gossip {
    pub fn log(&self) -> LogCode {
        match self {
            Gossip::Checkpoint { log, .. }
            | Gossip::Cosignature { log, .. }
            | Gossip::Equivocation { log, .. } => *log,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        match self {
            Gossip::Checkpoint { log, checkpoint } => {
                e.array(3).uint(0).text(log.as_str()).text(checkpoint);
            }
            Gossip::Cosignature { log, size, line } => {
                e.array(4).uint(1).text(log.as_str()).uint(*size).text(line);
            }
            Gossip::Equivocation { log, proof } => {
                e.array(3).uint(2).text(log.as_str()).bytes(proof);
            }
        }
        e.into_vec()
    }

    pub fn decode(bytes: &[u8]) -> Result<Gossip, Malformed> {
        if bytes.len() > MAX_GOSSIP_BYTES {
            return Err(malformed("gossip message too large"));
        }
        let mut d = Decoder::new(bytes);
        let len = d.array().map_err(cbor)?;
        let gossip = match (d.uint().map_err(cbor)?, len) {
            (0, 3) => Gossip::Checkpoint {
                log: log_code(&mut d)?,
                checkpoint: note(&mut d)?,
            },
            (1, 4) => {
                let log = log_code(&mut d)?;
                let size = d.uint().map_err(cbor)?;
                let line = d.text().map_err(cbor)?;
                if line.len() > 1024 {
                    return Err(malformed("cosignature line too long"));
                }
                Gossip::Cosignature {
                    log,
                    size,
                    line: line.to_string(),
                }
            }
            (2, 3) => Gossip::Equivocation {
                log: log_code(&mut d)?,
                proof: d.bytes().map_err(cbor)?.to_vec(),
            },
            (kind, len) => return Err(malformed(format!("unknown gossip {kind}/{len}"))),
        };
        finish(&d, bytes, gossip, Gossip::encode)
    }
}

/// The codec of `/yibao/sync/1`: length-prefixed frames, capped in both directions.
#[derive(Debug, Clone, Default)]
pub struct SyncCodec;

/// Reads one frame of at most `max` bytes.
async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes is over the {max}-byte limit"),
        ));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(body).await?;
    io.close().await
}

fn invalid(e: Malformed) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// What a node writes as a response: a well-formed response, or (fault injection in tests
/// only, see `net::fault`) raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Response(Response),
    Raw(Vec<u8>),
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Outgoing;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io, MAX_REQUEST_BYTES).await?;
        Request::decode(&body).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Outgoing>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io, MAX_RESPONSE_BYTES).await?;
        Response::decode(&body)
            .map(Outgoing::Response)
            .map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req.encode()).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Outgoing,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match res {
            Outgoing::Response(response) => write_frame(io, &response.encode()).await,
            Outgoing::Raw(bytes) => {
                io.write_all(&bytes).await?;
                io.close().await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> LogCode {
        LogCode::parse("141125").unwrap()
    }

    #[test]
    fn messages_round_trip_and_refuse_anything_else() {
        let requests = vec![
            Request::Status,
            Request::Entries {
                log: code(),
                start: 5,
                count: 100,
            },
            Request::Consistency {
                log: code(),
                from: 3,
                to: 9,
            },
            Request::Pages {
                log: code(),
                start: 64,
                count: 4096,
            },
        ];
        for r in requests {
            assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        }
        let responses = vec![
            Response::Status(vec![LogStatus {
                log: code(),
                size: 3,
                checkpoint: "x\n".into(),
            }]),
            Response::Entries(EntriesResponse {
                log: code(),
                start: 2,
                pages: vec![],
                entries: vec![vec![1, 2], vec![3]],
                checkpoint: "c".into(),
                proof: vec![[7; 32]],
            }),
            Response::Entries(EntriesResponse {
                log: code(),
                start: 64,
                pages: vec![vec![1, 2, 3], vec![0]],
                entries: vec![vec![3]],
                checkpoint: "c".into(),
                proof: vec![],
            }),
            Response::Consistency {
                log: code(),
                prefix_root: [1; 32],
                proof: vec![],
                checkpoint: "c".into(),
            },
            Response::Refused("no".into()),
        ];
        for r in responses {
            assert_eq!(Response::decode(&r.encode()).unwrap(), r);
        }
        let gossip = vec![
            Gossip::Checkpoint {
                log: code(),
                checkpoint: "c".into(),
            },
            Gossip::Cosignature {
                log: code(),
                size: 4,
                line: "— w abc".into(),
            },
            Gossip::Equivocation {
                log: code(),
                proof: vec![9; 10],
            },
        ];
        for g in gossip {
            assert_eq!(Gossip::decode(&g.encode()).unwrap(), g);
        }
        // Garbage, truncation, trailing bytes, bad codes, oversize counts: refused.
        let good = Request::Entries {
            log: code(),
            start: 5,
            count: 100,
        }
        .encode();
        assert!(Request::decode(&good[..good.len() - 1]).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(Request::decode(&trailing).is_err());
        assert!(Request::decode(&[0xff, 0x13]).is_err());
        assert!(Request::decode(
            &Request::Entries {
                log: code(),
                start: 0,
                count: 0
            }
            .encode()
        )
        .is_err());
        assert!(Request::decode(
            &Request::Entries {
                log: code(),
                start: 0,
                count: MAX_ENTRIES_PER_REQUEST + 1
            }
            .encode()
        )
        .is_err());
        let mut e = Encoder::new();
        e.array(4).uint(1).text("14112x").uint(0).uint(1);
        assert!(Request::decode(&e.into_vec()).is_err());
        // Pages only from a page's first entry, and never more entries than a request.
        let mut e = Encoder::new();
        e.array(4).uint(3).text("141125").uint(33).uint(1);
        assert!(Request::decode(&e.into_vec()).is_err());
        let pages = |start: u64, pages: usize, entries: usize| {
            Response::Entries(EntriesResponse {
                log: code(),
                start,
                pages: vec![vec![0]; pages],
                entries: vec![vec![1]; entries],
                checkpoint: "c".into(),
                proof: vec![],
            })
            .encode()
        };
        assert!(Response::decode(&pages(32, 128, 0)).is_ok());
        assert!(Response::decode(&pages(33, 1, 0)).is_err());
        assert!(Response::decode(&pages(32, 129, 0)).is_err());
        assert!(Response::decode(&pages(32, 127, 33)).is_err());
        // A Pages response without pages is an Entries response's non-canonical twin.
        let mut e = Encoder::new();
        e.array(7)
            .uint(4)
            .text("141125")
            .uint(0)
            .array(0)
            .array(1)
            .bytes(&[1]);
        e.text("c").array(0);
        assert!(Response::decode(&e.into_vec()).is_err());
        assert!(Gossip::decode(&vec![0u8; MAX_GOSSIP_BYTES + 1]).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for len in 0..2000usize {
            let bytes: Vec<u8> = (0..len % 64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = Request::decode(&bytes);
            let _ = Response::decode(&bytes);
            let _ = Gossip::decode(&bytes);
        }
    }
}
