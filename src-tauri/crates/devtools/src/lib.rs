//! Developer tools over the engine, shared by the `shipwatch` CLI, the inspector API and the UI.
//!
//! - [`events`]: AfterShip-shaped test deliveries for any tag and subtag, in the legacy v4 and the
//!   versioned shape, with the headers AfterShip sends and signed with a given secret.
//! - [`http`]: the HTTP client ([`Sender`]) that posts them (or replays) to any URL, http or https,
//!   and [`SendError`], whose variants each say which hop failed and what to do (reused by the
//!   tunnel self-test).
//! - [`replay`]: send a stored delivery, or an edited body, to any URL: byte-exact body, original
//!   headers, optionally re-signed.
//! - [`export`]: stream deliveries or shipments as NDJSON or CSV, page by page, in bounded memory.
//! - [`stats`]: the numbers `shipwatch stats` prints.
//!
//! Nothing here prints; secrets are never logged.

pub mod events;
pub mod export;
pub mod http;
pub mod replay;
pub mod stats;

pub use events::{Shape, TestDelivery, TestEvent};
pub use export::{ExportFormat, ExportOptions, ExportProgress, ExportSummary};
pub use http::{Hop, OutgoingRequest, SendError, SendOptions, Sender, TargetResponse};
pub use replay::{PreparedReplay, ReplayOptions, ReplayOutcome};

use shipwatch_store::StoreError;

/// What can go wrong in the developer tools.
#[derive(Debug, thiserror::Error)]
pub enum DevtoolsError {
    /// Sending to a target failed at some hop.
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
    /// A delivery over the size limit keeps only its first 64 KiB.
    #[error(
        "delivery {id} was over the size limit ({size} bytes): only its first {kept} bytes were kept, so it \
         cannot be replayed byte for byte; replay an edited body instead"
    )]
    TruncatedBody { id: i64, size: i64, kept: usize },
    /// Bad input from the caller (an unknown format, shape, URL...), with what to use instead.
    #[error("{0}")]
    Invalid(String),
    /// The HTTP client could not be built (TLS backend).
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
}

pub type Result<T, E = DevtoolsError> = std::result::Result<T, E>;
