//! Entry pages: how entries are packed into sled values.
//!
//! Entries are stored [`ENTRIES_PER_PAGE`] to a sled row, keyed by page index (`seq / 32`),
//! each entry framed by its length as a 4-byte big-endian integer. One row per entry would
//! cost sled's per-item overhead on every entry (and one B-tree insert per entry on the
//! append path); a page amortises both. An append rewrites only the last, partly filled
//! page. The entry bytes inside are exactly the entry encoding of SPEC.md §3.3; the page
//! framing is private to this store and never leaves the node (bundles carry entries).

/// Entries per page.
pub const ENTRIES_PER_PAGE: u64 = 32;

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
    /// An empty page (pages are written only with entries in them).
    #[error("the page is empty")]
    Empty,
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
