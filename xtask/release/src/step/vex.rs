//! The release's OpenVEX statements (`security/vex.json`): the documents its scan gate
//! applies to each platform, the one it attests on the index for admins' own scans
//! (`trivy image --vex oci`), and the check that what is attached is what the tag says.

use crate::verifiers::Checker;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::needs::{Access, Binding, Needs, Tool};
use super::sign::on_subject;
use super::{Action, Bound, Cx, Placeholders, Subject, Values};
use crate::cmd::Cmd;
use crate::registry::Repository;
use crate::sign::{self, AttestationType, Cosign, Signer, Verifier};
use crate::validate::{self, Standard};
use crate::vex;

/// What identifies the document a release attests: the same for the release and for anyone
/// who checks it later from the tag.
#[derive(Debug, Clone, Serialize)]
pub struct VexRelease {
    /// Where the image is published (`registry/path`), as the statements' image purls say.
    pub target: Repository,
    /// The document's `@id`.
    pub id: String,
}

impl VexRelease {
    /// The release `tag` published to `target`.
    pub fn new(target: &Repository, tag: &str) -> VexRelease {
        VexRelease {
            target: target.clone(),
            id: format!("{}/releases/tag/{tag}#vex", crate::metadata::SOURCE_URL),
        }
    }

    pub fn document(&self, doc: &vex::Document, index: &str) -> Option<serde_json::Value> {
        vex::for_release(
            doc,
            &self.target.to_string(),
            index,
            &self.id,
            &doc.timestamp,
        )
    }
}

/// Writes the gate's document for each platform and the release's document, from the file
/// that was checked when the plan was made. Learns whether any statement applies.
#[derive(Debug, Clone, Serialize)]
pub struct RenderVex {
    pub source: PathBuf,
    pub index: Bound,
    /// `(platform, gate document)` for each platform scanned.
    pub gates: Vec<(String, PathBuf)>,
    /// The document to attest, when a statement applies.
    pub attest: Option<(VexRelease, PathBuf)>,
}

impl Action for RenderVex {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_digest(&self.index)
            .writes([Binding::VexGates, Binding::VexApplies])
            .tools([Tool::Validators])
    }

    fn describe(&self) -> String {
        let attest = match &self.attest {
            Some((_, path)) => format!(", and what applies to the index into {}", path.display()),
            None => String::new(),
        };
        format!(
            "VEX statements of {} for {}: the gate's per platform{attest}, each checked \
             with {}",
            self.source.display(),
            self.index.placeholder(),
            Standard::OpenVex.validator()
        )
    }

    fn hint(&self) -> String {
        format!(
            "the VEX statements of {} could not be written for the scan, or one of them failed OpenVEX's validator; nothing was pushed",
            self.source.display()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let text = std::fs::read_to_string(&self.source)
            .with_context(|| format!("cannot read {}", self.source.display()))?;
        let doc = vex::parse(&self.source.display().to_string(), &text)?;
        // The digest the statements are judged for: the index built in this run, or given.
        let index = match (&self.index, &cx.bindings.index) {
            (Bound::Given(d), _) | (_, Some(d)) => d.clone(),
            _ => cx.bindings.image()?.index.digest.clone(),
        };
        for (platform, path) in &self.gates {
            let _ = std::fs::remove_file(path);
            match vex::for_gate(&doc, &index, platform) {
                Some(gate) => {
                    write_checked(path, &gate)?;
                    cx.bindings.vex_gates.insert(platform.clone());
                }
                None => println!("no VEX statement applies to {platform}: scanned without one"),
            }
        }
        let Some((release, path)) = &self.attest else {
            return Ok(());
        };
        match release.document(&doc, &index) {
            Some(document) => {
                write_checked(path, &document)?;
                let n = document["statements"].as_array().map_or(0, Vec::len);
                println!("{n} VEX statement(s) apply to {index}");
                cx.bindings.vex_applies = true;
            }
            None => {
                let _ = std::fs::remove_file(path);
                println!("no VEX statement applies to {index}: nothing to attest");
            }
        }
        Ok(())
    }
}

/// Writes an OpenVEX document, and checks it with OpenVEX's validator.
fn write_checked(path: &std::path::Path, value: &serde_json::Value) -> Result<()> {
    crate::record::write_text(path, &serde_json::to_string_pretty(value)?)?;
    validate::check(Standard::OpenVex, path)
}

/// The statements that apply, attested on the index, when any does.
#[derive(Debug, Clone, Serialize)]
pub struct AttestVex {
    pub cosign: Cosign,
    pub signer: Signer,
    pub predicate: PathBuf,
    pub subject: Subject,
}

impl AttestVex {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        on_subject(&self.cosign, &self.subject, values, |target, login| {
            let kind = AttestationType::OpenVex;
            self.cosign
                .attest(&self.signer, kind, &self.predicate, target, login)
        })
    }
}

impl Action for AttestVex {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_subject(&self.subject)
            .reads_if_known([Binding::VexApplies])
            .writes([Binding::VexAttested])
            .signs(&self.signer)
            .registry(Access::Write)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("attest the VEX statements of the index (when one applies): {cmd}")
    }

    fn hint(&self) -> String {
        "cosign could not attest the VEX statements of the index: check COSIGN_PRIVATE_KEY and \
         COSIGN_PASSWORD (or the job's `id-token: write`); nothing further was published. \
         Re-running the release finishes it"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        if !cx.bindings.vex_applies {
            println!("no VEX statement applies: nothing attested");
            return Ok(());
        }
        self.command(cx)?.run()?;
        cx.bindings.vex_attested = true;
        Ok(())
    }
}

/// The index's OpenVEX attestation verifies and says exactly what `security/vex.json` says
/// at the commit the image was built from; with no statement for this release, none is due.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyVex {
    pub cosign: Cosign,
    pub verifier: Verifier,
    pub subject: Subject,
    pub release: VexRelease,
    /// The checkout whose history holds the release's commit.
    pub checkout: PathBuf,
}

impl VerifyVex {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        on_subject(&self.cosign, &self.subject, values, |target, login| {
            let kind = AttestationType::OpenVex;
            self.cosign
                .verify_attestation(&self.verifier, kind, target, login)
        })
    }

    /// `security/vex.json` as it was at `commit`; `None` when the commit had none.
    fn source_at(&self, commit: &str) -> Result<Option<vex::Document>> {
        let git = |args: &[&str]| {
            Cmd::new("git")
                .arg("-C")
                .arg(self.checkout.display().to_string())
                .args(args.iter().copied())
        };
        git(&["cat-file", "-e", &format!("{commit}^{{commit}}")])
            .read()
            .with_context(|| {
                format!(
                    "the release's commit {commit} is not in {}: fetch it (git fetch --tags)",
                    self.checkout.display()
                )
            })?;
        let path = format!("{commit}:{}", vex::VEX_PATH);
        match git(&["show", &path]).read() {
            Ok(text) => Ok(Some(vex::parse(&path, &text)?)),
            Err(_) => Ok(None),
        }
    }
}

impl Action for VerifyVex {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_subject(&self.subject)
            .writes([Binding::VexAttested])
            .tools([Tool::Cosign, Tool::Git, Tool::Validators])
            .registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::Cosign)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("VEX statements of the index, as the tag's security/vex.json says: {cmd}")
    }

    fn hint(&self) -> String {
        "the VEX statements attached to the index are not the release's: re-run the release \
         (it attests them again), or check against the right key or identity"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let commit = cx
            .bindings
            .revision
            .clone()
            .context("internal: no step before this one read the image's commit")?;
        let index = cx.bindings.digest(&self.subject.digest)?;
        let expected = self
            .source_at(&commit)?
            .and_then(|doc| self.release.document(&doc, &index));
        let Some(expected) = expected else {
            cx.pass("VEX statements", "none apply to this release");
            return Ok(());
        };
        let out = self.command(cx)?.read()?;
        let attested: Vec<serde_json::Value> =
            out.lines().filter_map(sign::dsse_predicate).collect();
        if !attested.contains(&expected) {
            bail!(
                "the VEX statements attached to {index} are not what {} says at commit {commit}",
                vex::VEX_PATH
            );
        }
        cx.bindings.vex_attested = true;
        let n = expected["statements"].as_array().map_or(0, Vec::len);
        cx.pass("VEX statements of the index", &format!("{n} statement(s)"));
        cx.validate_served(
            Standard::OpenVex,
            "the VEX document attested on the index",
            &serde_json::to_vec(&expected)?,
        )?;
        Ok(())
    }
}
