//! The AfterShip domain, with no I/O: how a webhook is signed and why a signature fails
//! ([`signature`]), what a delivery says ([`payload`]), status tags ([`tags`]), the lenient dates
//! AfterShip sends ([`dates`]), courier names ([`couriers`]) and sample deliveries for tests and "send a test delivery" ([`sample`]).

#![forbid(unsafe_code)]

pub mod couriers;
pub mod dates;
pub mod payload;
mod reserialise;
pub mod sample;
pub mod signature;
pub mod tags;

pub use couriers::courier_name;
pub use payload::{
    checkpoint_key, parse_envelope, parse_envelope_lean, Checkpoint, CheckpointDigest, CheckpointIdentity,
    Envelope, EventKind, LatestCheckpoint, PayloadError, Tracking,
};
pub use signature::{
    diagnose, diagnosis_code, sign, verify_signature, DeliveryVerdict, Diagnosis, DiagnosisCode, SecretSlot,
    Secrets, SIGNATURE_HEADER,
};
pub use tags::{subtag_wording, Tag};
