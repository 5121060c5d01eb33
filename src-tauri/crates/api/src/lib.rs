//! The one inspector API's request and response types ([`types`], exported to TypeScript) and its
//! error. The service that answers them is `shipwatch_server::Api`; HTTP and Tauri IPC both call it.

pub mod types;
pub use types::*;

/// An API failure. `message` is safe to show: it says what went wrong and what to do, never internals.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ApiErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    BadRequest,
    NotFound,
    /// Logged with its cause where it happened; the message is generic.
    Internal,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { kind: ApiErrorKind::BadRequest, message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError { kind: ApiErrorKind::NotFound, message: message.into() }
    }
    pub fn internal() -> Self {
        ApiError { kind: ApiErrorKind::Internal, message: "internal error; the log has the details".into() }
    }
    pub fn body(&self) -> ApiErrorBody {
        ApiErrorBody { error: self.message.clone() }
    }
}

impl serde::Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(s)
    }
}
