//! End-to-end tables for the pattern engine.
