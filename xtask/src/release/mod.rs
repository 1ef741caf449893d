//! The release library: everything a release needs, and nothing about the machine it runs on
//! (that is `devenv`, which may use this module; never the reverse).

pub mod buildx;
pub mod chart;
pub mod cmd;
pub mod execute;
pub mod facts;
pub mod github;
pub mod layout;
pub mod metadata;
pub mod net;
pub mod notify;
pub mod plan;
pub mod record;
pub mod registry;
pub mod scan;
pub mod sign;
pub mod source;
pub mod tools;
pub mod version;
pub mod workspace;

pub const DEFAULT_IMAGE_REPOSITORY: &str = "ghcr.io/alto9/kube9-operator";
/// Charts live under their own path: a chart and an image with one tag in one repository
/// would overwrite each other.
pub const DEFAULT_CHART_REPOSITORY: &str = "oci://ghcr.io/alto9/charts";
