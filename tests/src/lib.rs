//! Test-only crate: see `tests/` beside this file for the integration tests.
