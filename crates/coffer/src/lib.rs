//! coffer's client-side pieces shared by the binary, its tests and its examples.

pub mod sigv4;
pub mod units;
