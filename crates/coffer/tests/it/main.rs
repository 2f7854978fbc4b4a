//! Integration tests: the real server binary, driven over loopback by real clients.

mod bench;
mod common;
mod crash;
mod errors;
mod lifecycle;
mod listing;
mod multipart;
mod objects;
mod streaming;
mod users;
mod versioning;
