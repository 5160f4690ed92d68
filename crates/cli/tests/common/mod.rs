//! Helpers shared by the CLI's integration tests (each test binary uses its own subset).
#![allow(dead_code)]

/// The external programs the tests run and the packages they come from: one list for the
/// whole workspace, kept with the core crate's test helpers.
#[path = "../../../core/tests/common/tools.rs"]
mod tools;
#[allow(unused_imports)] // each test binary uses its own subset
pub use tools::{TOOLS, tool};
