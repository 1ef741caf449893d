//! What each step declares beside its struct: the bindings it reads and writes, and what it
//! needs from the world (programs, the registry with the run's credentials, GitHub
//! permissions). Plans are checked against the declarations when they are built
//! (`Plan::checked`), the executor holds each step to the bindings it said it writes,
//! `doctor` and `setup` take their lists of programs from them, and the workflow tests
//! compare each job's `permissions:` with what its plan's steps need.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Bound, Subject};
use crate::actions::Permission;
use crate::sign::Signer;

/// A value one step leaves in `Bindings` for the steps after it; shown in words in the plan
/// check's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, strum::Display)]
#[serde(rename_all = "kebab-case")]
pub enum Binding {
    /// The built layout, or the published image read back.
    #[strum(to_string = "the image")]
    Image,
    #[strum(to_string = "the index digest")]
    Index,
    #[strum(to_string = "the platform digests")]
    Platforms,
    #[strum(to_string = "the build's times")]
    Built,
    #[strum(to_string = "the scan's verdicts")]
    Scan,
    /// The scan at release, as the run that published it recorded it.
    #[strum(to_string = "the recorded scan")]
    RecordedScan,
    #[strum(to_string = "the push report")]
    Pushed,
    #[strum(to_string = "the version tags")]
    VersionTags,
    #[strum(to_string = "the floating tags")]
    Floating,
    #[strum(to_string = "the chart digest")]
    Chart,
    #[strum(to_string = "the image's revision")]
    Revision,
    /// The platforms a gate VEX document was written for.
    #[strum(to_string = "the VEX gate documents")]
    VexGates,
    #[strum(to_string = "whether VEX statements apply")]
    VexApplies,
    #[strum(to_string = "whether VEX statements are attested")]
    VexAttested,
    #[strum(to_string = "the withdrawal statement")]
    Withdrawal,
    /// Which verifiers made the checks, at which versions.
    #[strum(to_string = "the verifiers")]
    Verifiers,
}

/// A program a step runs, as `doctor` checks it and `setup` installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Git,
    Tar,
    /// The Docker CLI and an engine with buildx.
    Docker,
    Trivy,
    Helm,
    /// Helm 3, for the chart's compatibility check.
    Helm3,
    Cosign,
    Gh,
    /// Skopeo built with the sigstore policy CRI-O enforces (`skopeo-sigstore`, else `skopeo`).
    NodeSkopeo,
    /// The standards' Python validators (in-toto, CycloneDX, OpenVEX and OCI schemas).
    Validators,
}

/// What a step does with the registry, with the run's credentials when it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Read,
    Write,
}

/// One step's declaration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Needs {
    /// Bindings an earlier step of the plan must have written.
    pub reads: BTreeSet<Binding>,
    /// Bindings read when an earlier step wrote them; the step says in its own words what
    /// it does without them.
    pub reads_if_known: BTreeSet<Binding>,
    pub writes: BTreeSet<Binding>,
    pub tools: BTreeSet<Tool>,
    /// The registry, with the run's credentials.
    pub registry: Option<Access>,
    /// GitHub permissions beyond the registry's (which `permissions()` adds).
    pub github: BTreeSet<Permission>,
}

impl Needs {
    pub fn new() -> Needs {
        Needs::default()
    }

    pub fn reads(mut self, bindings: impl IntoIterator<Item = Binding>) -> Needs {
        self.reads.extend(bindings);
        self
    }

    pub fn reads_if_known(mut self, bindings: impl IntoIterator<Item = Binding>) -> Needs {
        self.reads_if_known.extend(bindings);
        self
    }

    /// Reads the binding that holds `subject`'s digest (none for a digest given when planning).
    pub fn reads_subject(self, subject: &Subject) -> Needs {
        self.reads_digest(&subject.digest)
    }

    pub fn reads_digest(self, digest: &Bound) -> Needs {
        match digest {
            Bound::Index => self.reads([Binding::Index]),
            Bound::Platform(_) => self.reads([Binding::Platforms]),
            Bound::Chart => self.reads([Binding::Chart]),
            Bound::Given(_) => self,
        }
    }

    pub fn writes(mut self, bindings: impl IntoIterator<Item = Binding>) -> Needs {
        self.writes.extend(bindings);
        self
    }

    pub fn tools(mut self, tools: impl IntoIterator<Item = Tool>) -> Needs {
        self.tools.extend(tools);
        self
    }

    pub fn registry(mut self, access: Access) -> Needs {
        self.registry = self.registry.max(Some(access));
        self
    }

    pub fn github(mut self, permissions: impl IntoIterator<Item = Permission>) -> Needs {
        self.github.extend(permissions);
        self
    }

    /// Signs with `signer`: cosign, and on GitHub without a key the job's OIDC identity.
    pub fn signs(self, signer: &Signer) -> Needs {
        let needs = self.tools([Tool::Cosign]);
        match signer {
            Signer::Key { .. } => needs,
            Signer::Keyless { .. } => needs.github([Permission::IdTokenWrite]),
        }
    }

    /// Every GitHub permission the step needs: the registry's (GHCR with the job's token)
    /// and its own.
    pub fn permissions(&self) -> BTreeSet<Permission> {
        let registry = match self.registry {
            Some(Access::Read) => Some(Permission::PackagesRead),
            Some(Access::Write) => Some(Permission::PackagesWrite),
            None => None,
        };
        self.github.iter().copied().chain(registry).collect()
    }
}

/// What several steps need together: the tools of a whole plan, and GitHub permissions with
/// `write` standing for `read` of the same scope.
pub fn union<'a>(
    needs: impl IntoIterator<Item = &'a Needs>,
) -> (BTreeSet<Tool>, BTreeSet<Permission>) {
    let mut tools = BTreeSet::new();
    let mut permissions = BTreeSet::new();
    for n in needs {
        tools.extend(n.tools.iter().copied());
        permissions.extend(n.permissions());
    }
    if permissions.contains(&Permission::PackagesWrite) {
        permissions.remove(&Permission::PackagesRead);
    }
    (tools, permissions)
}
