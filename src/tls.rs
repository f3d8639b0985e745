//! PEM loading, the rustls server configuration, and development certificates.
