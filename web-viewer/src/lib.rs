//! The public, read-only web viewer of Yibao Ledger.
//!
//! It is a separate process that holds no keys and has no route that writes. This crate is
//! a placeholder until the viewer issue builds it out; it exists so that the workspace
//! layout fixed by the design card builds from the first commit.

/// The name the viewer shows in its page titles.
pub const VIEWER_TITLE: &str = "医保基金监管账本 · Yibao Ledger";
