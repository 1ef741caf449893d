//! Release automation for the kube9-operator: `cargo xtask --help`.

pub mod cmd;
pub mod git;
pub mod github;
pub mod image;
pub mod layout;
pub mod metadata;
pub mod registry;
pub mod scan;
pub mod version;
