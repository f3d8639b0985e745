//! The one integration-test binary, so the suite links once.
mod transport;
