//! Fault injection for tests of byzantine peers: a node configured with a [`ServeFault`]
//! corrupts the entries batches it serves. `yibao run` never sets one; tests use it to
//! play a compromised member node.

use std::sync::Arc;

use super::protocol::{EntriesResponse, Outgoing, Response};

/// How a byzantine node corrupts the batches it serves.
#[derive(Clone)]
pub enum ServeFault {
    /// Changes the batch (forged signatures, broken links, substituted entries, a
    /// checkpoint that does not match…).
    Mutate(Arc<dyn Fn(&mut EntriesResponse) + Send + Sync>),
    /// Sends these bytes instead of a response (garbage, an oversize length prefix).
    Raw(Vec<u8>),
}

impl std::fmt::Debug for ServeFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeFault::Mutate(_) => f.write_str("ServeFault::Mutate"),
            ServeFault::Raw(bytes) => write!(f, "ServeFault::Raw({} bytes)", bytes.len()),
        }
    }
}

impl ServeFault {
    /// The corrupted answer to a batch request.
    pub fn apply(&self, mut response: EntriesResponse) -> Outgoing {
        match self {
            ServeFault::Mutate(mutate) => {
                mutate(&mut response);
                Outgoing::Response(Response::Entries(response))
            }
            ServeFault::Raw(bytes) => Outgoing::Raw(bytes.clone()),
        }
    }
}
