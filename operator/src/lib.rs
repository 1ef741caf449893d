//! The kube9-operator: health endpoints and a status ConfigMap for kube9's tooling.

pub mod build_info;
pub mod http;
pub mod state;
pub mod status;
