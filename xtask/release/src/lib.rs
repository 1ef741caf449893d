//! The release library: everything a release needs, and nothing about the machine it runs on.
//! It depends on neither the release command line (`kube9-release-cli`) nor the developer
//! environment (`kube9-devenv`); both depend on it.
//!
//! A release is a `plan::Plan` of `step::Step`s, computed from inputs and the registry's
//! `facts`, then printed or run by `execute`.

pub mod actions;
pub mod artifacthub;
pub mod attached;
pub mod buildx;
pub mod changelog;
pub mod chart;
pub mod cmd;
pub mod config;
pub mod credentials;
pub mod execute;
pub mod facts;
pub mod floating;
pub mod github;
/// The module layers (no import cycle; nothing below `config` reads it), checked on the source.
#[cfg(test)]
mod layers;
pub mod layout;
pub mod metadata;
pub mod net;
pub mod notes;
pub mod notify;
pub mod plan;
pub mod protections;
pub mod provenance;
pub mod record;
pub mod registry;
pub mod releases;
pub mod scan;
pub mod secret;
pub mod sign;
pub mod source;
pub mod step;
pub mod text;
pub mod tools;
pub mod validate;
pub mod verifiers;
pub mod version;
pub mod vex;
pub mod withdrawal;
pub mod workspace;

pub use config::{DEFAULT_CHART_REPOSITORY, DEFAULT_GITHUB_REPOSITORY, DEFAULT_IMAGE_REPOSITORY};
