//! Tests of `setget-detect` through its public API: the log generator, and the tuned rules
//! held to their targets on a generated log. One test binary; each file is a `mod` here.
//! (The rules' scenarios, which look inside the detector's state, are its unit tests.)

// A test fails by panicking, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod generated_log;
mod targets;
