//! Tests of `setget-server`: the router driven in-process with an injected clock, and the
//! real binary over HTTP. One test binary; each file is a `mod` here.

// A test fails by panicking, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod binary;
mod demo;
mod devices;
mod events;
mod faults;
mod hardening;
mod log;
mod openapi;
mod replicas;
mod router;
mod rules;
mod support;
