//! Integration tests: the real server binary, driven over loopback by real clients.

mod auth;
mod bench;
mod common;
mod copy;
mod crash;
mod delete;
mod diskfull;
mod encryption;
mod errors;
mod format;
mod get;
mod host;
mod hostile;
mod lifecycle;
mod listing;
mod multipart;
mod policy;
mod post_object;
mod powerloss;
mod put;
mod reads;
mod scrub;
mod streaming;
mod users;
mod versioning;
