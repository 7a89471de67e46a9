//! Fault injection for tests of byzantine peers: a node configured with a [`ServeFault`]
//! corrupts the entries batches it serves. `yibao run` never sets one; tests use it to
//! play a compromised member node.

use std::sync::Arc;

use super::protocol::{EntriesResponse, Outgoing, Response};

/// How a byzantine node corrupts the batches it serves.
#[derive(Clone)]
pub enum ServeFault {
    /// Changes the batch (forged signatures, broken links, substituted entries, a
    /// checkpoint that does not match…), served as entries only.
    Mutate(Arc<dyn Fn(&mut EntriesResponse) + Send + Sync>),
    /// Changes the batch served with its full pages when asked for pages (a page that does
    /// not decompress, a forged entry inside a page…).
    MutatePages(Arc<dyn Fn(&mut EntriesResponse) + Send + Sync>),
    /// Sends these bytes instead of a response (garbage, an oversize length prefix).
    Raw(Vec<u8>),
}

impl std::fmt::Debug for ServeFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeFault::Mutate(_) => f.write_str("ServeFault::Mutate"),
            ServeFault::MutatePages(_) => f.write_str("ServeFault::MutatePages"),
            ServeFault::Raw(bytes) => write!(f, "ServeFault::Raw({} bytes)", bytes.len()),
        }
    }
}

impl ServeFault {
    /// Whether batches are served with their pages (when asked for pages) before they are
    /// changed.
    pub fn serves_pages(&self) -> bool {
        matches!(self, ServeFault::MutatePages(_))
    }

    /// The corrupted answer to a batch request.
    pub fn apply(&self, mut response: EntriesResponse) -> Outgoing {
        match self {
            ServeFault::Mutate(mutate) | ServeFault::MutatePages(mutate) => {
                mutate(&mut response);
                Outgoing::Response(Response::Entries(response))
            }
            ServeFault::Raw(bytes) => Outgoing::Raw(bytes.clone()),
        }
    }
}
