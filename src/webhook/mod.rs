//! The admission webhook: HTTP protocol work only. A review comes in, the engine judges it, an
//! `AdmissionReview` goes out; nothing here knows how a pattern is evaluated.

pub mod deadline;
pub mod handler;
pub mod lookups;
pub mod policy_metrics;
pub mod review;
pub mod state;

pub use handler::router;
pub use state::{AppState, WebhookOptions};
