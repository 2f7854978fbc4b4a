//! Integration tests: the real server binary, driven over loopback by real clients.

mod common;
mod errors;
