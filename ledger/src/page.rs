//! Entry pages: how entries are packed into sled values.
//!
//! Entries are stored [`ENTRIES_PER_PAGE`] to a sled row, keyed by page index (`seq / 32`),
//! each entry framed by its length as a 4-byte big-endian integer. One row per entry would
//! cost sled's per-item overhead on every entry (and one B-tree insert per entry on the
//! append path); a page amortises both. A page is written once, when it fills, compressed
//! with zstd (`0x01`, the frames' length as a 4-byte big-endian integer, then the zstd
//! frame; `0x00` then the frames when compression does not help): CBOR entries repeat
//! their field names, so this roughly halves the disk.
//!
//! Until its page fills, each entry is stored alone in a *tail row* (`keys::tail`, by seq,
//! the entry's bytes as they are); the batch that fills the page writes the page and
//! removes its tail rows, atomically. So an append writes about what its entries weigh,
//! instead of rewriting the partly filled page (up to ~14 KB) on every batch. A store
//! written before tail rows existed may end in a partly filled raw page: it is read as the
//! start of the tail, and replaced by the full page when it fills.
//!
//! The entry bytes inside are exactly the entry encoding of SPEC.md §3.3. A full page also
//! travels between nodes as it is stored, in a Pages response (SPEC.md §15.1 specifies it
//! byte for byte): the serving node sends its compressed pages without decompressing them,
//! and the receiving node checks each one ([`decode_received`]) and stores it as it came,
//! without compressing it again. Bundles carry entries, not pages.

/// Entries per page.
pub const ENTRIES_PER_PAGE: u64 = 32;

/// Marks a raw page.
const RAW: u8 = 0x00;
/// Marks a zstd-compressed page.
const ZSTD: u8 = 0x01;
/// zstd level for full pages: fast, and most of the gain. Measured on 2,000 pages of a
/// benchmark ledger (session 11): level 2 compressed a page in 32 µs to 0.463 of its size,
/// level 3 in 50 µs to 0.462, level 1 in 32 µs to 0.468.
const ZSTD_LEVEL: i32 = 2;
/// The largest frames a page may hold (a bound for decompression).
const MAX_PAGE_LEN: usize = (ENTRIES_PER_PAGE as usize) * (yibao_schema::entry::MAX_ENTRY_LEN + 4);

/// A page's frames stored raw (also how a store written before tail rows kept its partly
/// filled last page).
pub fn encode_raw(frames: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.len() + 1);
    out.push(RAW);
    out.extend_from_slice(frames);
    out
}

/// The stored value of a full page: compressed (or raw if compression fails or does not
/// help).
pub fn encode_full(frames: &[u8]) -> Vec<u8> {
    // One compression context per thread: creating one costs more than compressing a page.
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<zstd::block::Compressor> =
            std::cell::RefCell::new(zstd::block::Compressor::new());
    }
    let compressed = COMPRESSOR.with(|c| c.borrow_mut().compress(frames, ZSTD_LEVEL));
    match compressed {
        Ok(compressed) if compressed.len() + 5 < frames.len() => {
            let mut out = Vec::with_capacity(compressed.len() + 5);
            out.push(ZSTD);
            // INVARIANT: a page's frames are at most MAX_PAGE_LEN, well under 4 GiB.
            out.extend_from_slice(
                &u32::try_from(frames.len())
                    .unwrap_or(u32::MAX)
                    .to_be_bytes(),
            );
            out.extend_from_slice(&compressed);
            out
        }
        _ => encode_raw(frames),
    }
}

/// A stored page value's two parts, by its first byte.
enum Parts<'a> {
    /// `0x00` then the frames.
    Raw(&'a [u8]),
    /// `0x01`, the frames' length, then a zstd frame.
    Zstd { len: usize, body: &'a [u8] },
}

fn parts(value: &[u8]) -> Result<Parts<'_>, PageError> {
    match value.first() {
        Some(&RAW) => Ok(Parts::Raw(value.get(1..).unwrap_or_default())),
        Some(&ZSTD) => {
            let len_bytes: [u8; 4] = value
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .ok_or(PageError::BadHeader)?;
            let len = u32::from_be_bytes(len_bytes) as usize;
            if len > MAX_PAGE_LEN {
                return Err(PageError::BadHeader);
            }
            let body = value.get(5..).ok_or(PageError::BadHeader)?;
            Ok(Parts::Zstd { len, body })
        }
        _ => Err(PageError::BadHeader),
    }
}

/// Decompresses `body` into exactly `len` bytes.
fn decompress(body: &[u8], len: usize) -> Result<Vec<u8>, PageError> {
    // One decompression context per thread: creating one costs more than decompressing a
    // page.
    thread_local! {
        static DECOMPRESSOR: std::cell::RefCell<zstd::block::Decompressor> =
            std::cell::RefCell::new(zstd::block::Decompressor::new());
    }
    // The output is capped at `len`: a frame that expands further is refused, unexpanded.
    let frames = DECOMPRESSOR
        .with(|d| d.borrow_mut().decompress(body, len))
        .map_err(|e| PageError::Decompress(e.to_string()))?;
    if frames.len() != len {
        return Err(PageError::Decompress(format!(
            "{} bytes, expected {len}",
            frames.len()
        )));
    }
    Ok(frames)
}

/// The frames of a stored page value (decompressed when needed).
pub fn decode(value: &sled::IVec) -> Result<sled::IVec, PageError> {
    match parts(value)? {
        Parts::Raw(_) => Ok(value.subslice(1, value.len() - 1)),
        Parts::Zstd { len, body } => {
            // A proof reads the same page several times in a row (every tree node below
            // the stored level, then the entry): the last pages decompressed on this
            // thread are kept, keyed by their compressed bytes (so a hit is the same
            // page whatever tree or ledger it came from).
            if let Some(frames) = recent_page(value) {
                return Ok(frames);
            }
            let frames = sled::IVec::from(decompress(body, len)?);
            remember_page(value, &frames);
            Ok(frames)
        }
    }
}

/// The length of the frames a page value holds, from its header alone: what it would
/// expand to, known before anything is decompressed.
pub fn frames_len(value: &[u8]) -> Result<usize, PageError> {
    match parts(value)? {
        Parts::Raw(frames) => Ok(frames.len()),
        Parts::Zstd { len, .. } => Ok(len),
    }
}

/// The entries of a full page received from a peer, expanded.
pub struct ReceivedPage {
    frames: Vec<u8>,
    offsets: Vec<(usize, usize)>,
}

impl ReceivedPage {
    /// The page's [`ENTRIES_PER_PAGE`] entries, in order.
    pub fn entries(&self) -> impl Iterator<Item = &[u8]> {
        self.offsets
            .iter()
            // INVARIANT: `frames` only returns ranges inside the page.
            .map(|&(offset, len)| self.frames.get(offset..offset + len).unwrap_or_default())
    }
}

/// A full page received from a peer (SPEC.md §15, Pages response), checked before it is
/// stored as it came, and its entries.
///
/// Refused: a header this store does not write, frames longer than a page may hold, a
/// value longer than its frames plus the header byte (a page is never stored larger than
/// raw, so a peer cannot pad what this node keeps), a zstd frame that does not expand to
/// exactly the declared frames, and anything but exactly a full page of frames.
pub fn decode_received(value: &[u8]) -> Result<ReceivedPage, PageError> {
    let frames = match parts(value)? {
        Parts::Raw(frames) => frames.to_vec(),
        Parts::Zstd { len, body } => {
            if value.len() > len + 1 {
                return Err(PageError::Padded {
                    stored: value.len(),
                    frames: len,
                });
            }
            decompress(body, len)?
        }
    };
    let offsets = self::frames(&frames)?;
    if offsets.len() as u64 != ENTRIES_PER_PAGE {
        return Err(PageError::NotFull(offsets.len()));
    }
    Ok(ReceivedPage { frames, offsets })
}

/// How many decompressed pages each thread keeps.
const RECENT_PAGES: usize = 2;

thread_local! {
    /// The last pages decompressed on this thread, newest first: (stored value, frames).
    static RECENT: std::cell::RefCell<Vec<(sled::IVec, sled::IVec)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The frames of `stored` if this thread decompressed it lately.
fn recent_page(stored: &sled::IVec) -> Option<sled::IVec> {
    RECENT.with(|r| {
        r.borrow()
            .iter()
            .find(|(value, _)| value.as_ref() == stored.as_ref())
            .map(|(_, frames)| frames.clone())
    })
}

/// Keeps `frames` as the decompression of `stored` (dropping the oldest kept page).
fn remember_page(stored: &sled::IVec, frames: &sled::IVec) {
    RECENT.with(|r| {
        let mut recent = r.borrow_mut();
        recent.insert(0, (stored.clone(), frames.clone()));
        recent.truncate(RECENT_PAGES);
    });
}

/// Why a stored page could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// A length frame runs past the end of the page.
    #[error("frame {index} at byte {offset} runs past the end of the page")]
    Overrun {
        /// The frame's position in the page.
        index: usize,
        /// Its byte offset.
        offset: usize,
    },
    /// More frames than a page holds.
    #[error("the page holds more than {ENTRIES_PER_PAGE} entries")]
    TooManyEntries,
    /// The page's first byte (or compressed length) is not one this store writes.
    #[error("the page header is not one this store writes")]
    BadHeader,
    /// The compressed page does not decompress.
    #[error("the compressed page does not decompress: {0}")]
    Decompress(String),
    /// An empty page (pages are written only with entries in them).
    #[error("the page is empty")]
    Empty,
    /// A received page that is not full.
    #[error("the page holds {0} entries, not {ENTRIES_PER_PAGE}")]
    NotFull(usize),
    /// A received compressed page larger than its frames.
    #[error("the page is {stored} bytes for {frames} bytes of frames: larger than raw")]
    Padded {
        /// The page value's length.
        stored: usize,
        /// The length of its frames.
        frames: usize,
    },
}

/// The page holding `seq`.
pub fn page_of(seq: u64) -> u64 {
    seq / ENTRIES_PER_PAGE
}

/// The first seq of a page.
pub fn first_seq(page: u64) -> u64 {
    page.saturating_mul(ENTRIES_PER_PAGE)
}

/// Appends one framed entry to a page buffer.
pub fn push_frame(page: &mut Vec<u8>, entry: &[u8]) {
    // INVARIANT: entries are at most `MAX_ENTRY_LEN` (well under 4 GiB) bytes.
    let len = u32::try_from(entry.len()).unwrap_or(u32::MAX);
    page.extend_from_slice(&len.to_be_bytes());
    page.extend_from_slice(entry);
}

/// The (offset, length) of every entry in a page, in order.
pub fn frames(page: &[u8]) -> Result<Vec<(usize, usize)>, PageError> {
    if page.is_empty() {
        return Err(PageError::Empty);
    }
    let mut out = Vec::with_capacity(ENTRIES_PER_PAGE as usize);
    let mut offset = 0usize;
    while offset < page.len() {
        let index = out.len();
        if index as u64 >= ENTRIES_PER_PAGE {
            return Err(PageError::TooManyEntries);
        }
        let len_bytes: [u8; 4] = page
            .get(offset..offset + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or(PageError::Overrun { index, offset })?;
        let len = u32::from_be_bytes(len_bytes) as usize;
        let start = offset + 4;
        let end = start
            .checked_add(len)
            .ok_or(PageError::Overrun { index, offset })?;
        if end > page.len() {
            return Err(PageError::Overrun { index, offset });
        }
        out.push((start, len));
        offset = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut page = Vec::new();
        push_frame(&mut page, b"abc");
        push_frame(&mut page, b"");
        push_frame(&mut page, b"defg");
        let f = frames(&page).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(&page[f[0].0..f[0].0 + f[0].1], b"abc");
        assert_eq!(f[1].1, 0);
        assert_eq!(&page[f[2].0..f[2].0 + f[2].1], b"defg");
    }

    #[test]
    fn full_pages_compress_and_decode_back() {
        let mut frames = Vec::new();
        for i in 0..ENTRIES_PER_PAGE {
            push_frame(
                &mut frames,
                format!("entry {i} with some repeated text, repeated text").as_bytes(),
            );
        }
        let full = encode_full(&frames);
        assert_eq!(full[0], ZSTD);
        assert!(full.len() < frames.len());
        assert_eq!(
            &decode(&sled::IVec::from(full.clone())).unwrap()[..],
            &frames[..]
        );
        let raw = encode_raw(&frames);
        assert_eq!(&decode(&sled::IVec::from(raw)).unwrap()[..], &frames[..]);
        // Damage to the compressed bytes or the header is refused, never a panic.
        for i in 0..full.len() {
            let mut bad = full.clone();
            bad[i] ^= 0x40;
            let _ = decode(&sled::IVec::from(bad)).map(|f| frames_check(&f));
        }
        assert_eq!(
            decode(&sled::IVec::from(vec![7u8, 1, 2])),
            Err(PageError::BadHeader)
        );
        assert_eq!(
            decode(&sled::IVec::from(Vec::new())),
            Err(PageError::BadHeader)
        );
    }

    #[test]
    fn recently_decoded_pages_are_told_apart_by_their_bytes() {
        let page = |tag: &str| {
            let mut frames = Vec::new();
            for i in 0..ENTRIES_PER_PAGE {
                push_frame(
                    &mut frames,
                    format!("{tag} entry {i}, repeated text, repeated text").as_bytes(),
                );
            }
            frames
        };
        let pages: Vec<Vec<u8>> = ["a", "b", "c", "a", "a", "c", "b"]
            .iter()
            .map(|t| page(t))
            .collect();
        // Each decoded twice in a row (the second from the kept pages), in an order that
        // also evicts: every answer is the page's own frames.
        for frames in &pages {
            let stored = sled::IVec::from(encode_full(frames));
            assert_eq!(stored[0], ZSTD);
            assert_eq!(&decode(&stored).unwrap()[..], &frames[..]);
            assert_eq!(&decode(&stored).unwrap()[..], &frames[..]);
        }
        // A damaged copy of a kept page is not answered from the kept one.
        let frames = &pages[0];
        let good = encode_full(frames);
        assert_eq!(
            &decode(&sled::IVec::from(good.clone())).unwrap()[..],
            &frames[..]
        );
        let mut bad = good;
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        assert_ne!(
            decode(&sled::IVec::from(bad)).ok().as_deref(),
            Some(&frames[..])
        );
    }

    fn frames_check(frames: &[u8]) -> usize {
        super::frames(frames).map(|f| f.len()).unwrap_or(0)
    }

    #[test]
    fn damaged_pages_are_refused_not_panicked_on() {
        let mut page = Vec::new();
        push_frame(&mut page, b"abc");
        for cut in 1..page.len() {
            assert!(frames(&page[..cut]).is_err(), "cut {cut}");
        }
        assert_eq!(frames(&[]), Err(PageError::Empty));
        let mut huge = vec![0xff, 0xff, 0xff, 0xff];
        huge.extend_from_slice(b"x");
        assert!(matches!(frames(&huge), Err(PageError::Overrun { .. })));
        let mut many = Vec::new();
        for _ in 0..=ENTRIES_PER_PAGE {
            push_frame(&mut many, b"e");
        }
        assert_eq!(frames(&many), Err(PageError::TooManyEntries));
    }
}
