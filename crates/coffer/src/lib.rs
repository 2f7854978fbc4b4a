//! coffer's client-side pieces shared by the binary and its tests.

pub mod sigv4;
