//! The TLS webhook listener and the plain metrics/health listener.
