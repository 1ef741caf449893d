//! Release automation for the kube9-operator: `cargo xtask --help`.

pub mod bench;
pub mod chart;
pub mod ci;
pub mod cmd;
pub mod git;
pub mod github;
pub mod image;
pub mod layout;
pub mod localenv;
pub mod metadata;
pub mod record;
pub mod registry;
pub mod release_chart;
pub mod release_image;
pub mod reproducible;
pub mod scan;
pub mod setup;
pub mod tools;
pub mod version;
pub mod workspace;

pub const DEFAULT_IMAGE_REPOSITORY: &str = "ghcr.io/alto9/kube9-operator";
/// Charts live under their own path: a chart and an image with one tag in one repository
/// would overwrite each other.
pub const DEFAULT_CHART_REPOSITORY: &str = "oci://ghcr.io/alto9/charts";
