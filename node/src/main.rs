//! The `yibao` command.
fn main() {}
