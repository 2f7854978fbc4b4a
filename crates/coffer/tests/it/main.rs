//! Integration tests: the real server binary, driven over loopback by real clients.

mod auth;
mod bench;
mod common;
mod crash;
mod diskfull;
mod encryption;
mod errors;
mod format;
mod hostile;
mod lifecycle;
mod listing;
mod multipart;
mod objects;
mod post_object;
mod powerloss;
mod scrub;
mod streaming;
mod users;
mod versioning;
