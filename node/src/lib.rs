//! The `yibao` node as a library: the pieces the binary, the integration tests and the
//! benchmarks share (data directories, display, generated workloads). The command-line
//! grammar itself lives in `main.rs`.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod api;
pub mod audit;
pub mod import;
/// The minimal HTTP/1.1 client lives in the viewer crate (one copy for both).
pub use yibao_web_viewer::http_client;
pub mod net;
pub mod node_dir;
pub mod output;
pub mod publish;
pub mod workload;
