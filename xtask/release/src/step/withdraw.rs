//! A withdrawal: the signed statement on the index and the chart, then the floating tags'
//! one step back (or, for an undo, their return); and `verify-release`'s check of it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use super::needs::{Access, Binding, Needs, Tool};
use super::sign::{on_subject, seal, sign_blob};
use super::{Action, Cx, Placeholders, Subject, Values};
use crate::actions::Permission;
use crate::cmd::Cmd;
use crate::registry::Repository;
use crate::secret::Secret;
use crate::sign::{self, AttestationType, Cosign, Signer, Verifier};
use crate::validate::{self, Standard};
use crate::verifiers::Checker;
use crate::withdrawal::{self, Withdrawal};

/// The withdrawal statement (or its undo), signed and attached to the index and the chart.
/// With a key, as the release's own provenance: an in-toto Statement v1, checked with
/// in-toto's validator, its DSSE encoding signed with `cosign sign-blob` and attached with
/// `cosign attach attestation`. Keyless (the withdraw workflow's GitHub identity, which
/// `attach` cannot carry), `cosign attest --type <predicate type>` signs the same predicate.
#[derive(Debug, Clone, Serialize)]
pub struct AttestWithdrawal {
    pub cosign: Cosign,
    pub signer: Signer,
    /// The predicate; its `time` is set when it runs.
    pub withdrawal: Withdrawal,
    /// Where the statement, its encoding, signature and envelope are written.
    pub dir: PathBuf,
    /// The index, then the chart (when one is published).
    pub subjects: Vec<Subject>,
}

impl AttestWithdrawal {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// One command per subject.
    fn commands(&self, values: &mut dyn Values) -> Result<Vec<Cmd>> {
        let command = |target: &str, login: Option<&str>| match &self.signer {
            Signer::Key { .. } => {
                let envelope = self.file("withdrawal.intoto.json");
                self.cosign.attach_attestation(&envelope, target, login)
            }
            Signer::Keyless { .. } => {
                let predicate = self.file("withdrawal-predicate.json");
                let kind = AttestationType::Withdrawal;
                self.cosign
                    .attest(&self.signer, kind, &predicate, target, login)
            }
        };
        let on = |subject| on_subject(&self.cosign, subject, values, command);
        self.subjects.iter().map(on).collect()
    }

    fn what(&self) -> &'static str {
        if self.withdrawal.withdrawn {
            "the withdrawal"
        } else {
            "the end of the withdrawal"
        }
    }
}

impl Action for AttestWithdrawal {
    fn needs(&self) -> Needs {
        let needs = self
            .subjects
            .iter()
            .fold(Needs::new(), Needs::reads_subject);
        needs
            .signs(&self.signer)
            .tools([Tool::Validators])
            .registry(Access::Write)
    }

    fn describe(&self) -> String {
        let commands = self.commands(&mut Placeholders).expect("placeholders");
        let commands: Vec<String> = commands.iter().map(ToString::to_string).collect();
        let statement = self.file("withdrawal.json");
        let signing = match &self.signer {
            Signer::Key { .. } => format!(
                "{}; {}; ",
                validate::shown(Standard::InTotoStatement, &statement),
                sign_blob(&self.cosign, &self.signer, &self.file("withdrawal"))
            ),
            Signer::Keyless { .. } => String::new(),
        };
        format!(
            "attest {} of {} (in-toto Statement v1, {}, {}): {signing}{}",
            self.what(),
            self.withdrawal.version,
            withdrawal::PREDICATE_TYPE,
            statement.display(),
            commands.join("; ")
        )
    }

    fn hint(&self) -> String {
        format!(
            "{} of {} could not be signed or attached: check COSIGN_PRIVATE_KEY and \
             COSIGN_PASSWORD (or `id-token: write` on GitHub) and the registry login; no \
             floating tag moved, and running the same withdraw command again finishes it",
            self.what(),
            self.withdrawal.version
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let mut withdrawal = self.withdrawal.clone();
        withdrawal.time = jiff::Timestamp::now().to_string();
        let mut subjects = Vec::new();
        for s in &self.subjects {
            subjects.push((s.repository.to_string(), cx.bindings.digest(&s.digest)?));
        }
        let statement = withdrawal::statement(&subjects, &withdrawal);
        let payload = serde_json::to_vec(&statement)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        std::fs::write(self.file("withdrawal.json"), &payload)?;
        validate::check(Standard::InTotoStatement, &self.file("withdrawal.json"))?;
        match &self.signer {
            Signer::Key { .. } => seal(
                &self.cosign,
                &self.signer,
                &self.file("withdrawal"),
                &payload,
            )?,
            Signer::Keyless { .. } => std::fs::write(
                self.file("withdrawal-predicate.json"),
                serde_json::to_vec(&withdrawal)?,
            )?,
        }
        for cmd in self.commands(cx)? {
            cmd.run()?;
        }
        eprintln!("    {}", withdrawal.summary());
        Ok(())
    }
}

/// Each floating tag in the withdrawn release's scope, put on the highest release eligible
/// for it now that the statement is attached (decided again from the registry's tags and
/// statements immediately before the write); a tag with no eligible release stays.
#[derive(Debug, Clone, Serialize)]
pub struct MoveWithdrawnTags {
    pub repository: Repository,
    /// The plain version withdrawn (or whose withdrawal is lifted).
    pub version: String,
    pub undo: bool,
    pub tags: Vec<String>,
}

impl Action for MoveWithdrawnTags {
    fn needs(&self) -> Needs {
        Needs::new().registry(Access::Write)
    }

    fn describe(&self) -> String {
        let why = if self.undo {
            format!("{} is eligible again: each returns to", self.version)
        } else {
            format!("withdrawal of {}: each steps back to", self.version)
        };
        format!(
            "floating tags {} of {}: read the tags and statements again; {why} the highest \
             eligible release (one with none stays)",
            self.tags.join(", "),
            self.repository
        )
    }

    fn hint(&self) -> String {
        format!(
            "the statement about {} is attached, but the floating tags {} were not all moved \
             (each stays where it was or is already right): run the same withdraw command again",
            self.version,
            self.tags.join(", ")
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let moves = cx
            .registry(&self.repository)
            .converge_floating(&self.tags)?;
        for m in &moves {
            match (&m.to, m.moved) {
                (Some(to), true) => eprintln!("    withdrawal move: {} -> {to}", m.tag),
                (Some(to), false) => eprintln!("    {} stays on {to}", m.tag),
                (None, _) => eprintln!(
                    "    {} stays where it is: no release is eligible for it",
                    m.tag
                ),
            }
        }
        Ok(())
    }
}

/// Whether the release is withdrawn, from the statements on its index that verify against
/// the withdrawal's signer (the key, or the withdraw workflow's identity); the latest wins.
/// A statement that is there and does not verify fails the check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckWithdrawal {
    pub cosign: Cosign,
    pub verifier: Verifier,
    pub subject: Subject,
}

impl CheckWithdrawal {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        on_subject(&self.cosign, &self.subject, values, |target, login| {
            let kind = AttestationType::Withdrawal;
            self.cosign
                .verify_attestation(&self.verifier, kind, target, login)
        })
    }
}

impl Action for CheckWithdrawal {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_subject(&self.subject)
            .writes([Binding::Withdrawal])
            .tools([Tool::Cosign])
            .registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::Cosign)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!(
            "withdrawal of {}: none attached, or the latest verified statement: {cmd}",
            self.subject.what()
        )
    }

    fn hint(&self) -> String {
        "a withdrawal statement is attached to the index but does not verify against the \
         withdrawal's key or identity: do not trust the release's state until it does (run \
         `withdraw` again to attach a signed one)"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let what = "withdrawal".to_string();
        let digest = cx.bindings.digest(&self.subject.digest)?;
        let registry = cx.registry(&self.subject.repository);
        let tags = registry.tags()?;
        if crate::attached::withdrawal_of(&registry, &digest, &tags)?.is_none() {
            cx.pass(&what, "not withdrawn");
            return Ok(());
        }
        let out = self.command(cx)?.read()?;
        let verified: Vec<Withdrawal> = out
            .lines()
            .filter_map(sign::dsse_statement)
            .filter_map(|s| withdrawal::from_statement(&s))
            .collect();
        let latest = withdrawal::latest(verified).with_context(|| {
            format!(
                "cosign verified no withdrawal statement on {}@{digest}",
                self.subject.repository
            )
        })?;
        eprintln!("    {} {}", latest.version, latest.summary());
        cx.pass(&what, &latest.summary());
        cx.bindings.withdrawal = Some(latest);
        Ok(())
    }
}

/// The GitHub release of the tag: its title marked `[WITHDRAWN]` and a notice at the top of
/// its notes (an undo takes both away). An immutable release still allows editing these two.
#[derive(Debug, Clone, Serialize)]
pub struct MarkGithubRelease {
    /// GitHub's API (`GITHUB_API_URL`).
    pub api_url: String,
    /// `owner/name`.
    pub github_repository: String,
    pub token: Secret,
    /// The release's git tag (`v1.2.3`).
    pub tag: String,
    /// `withdrawn: <reason>; use <replacement>`; `None` for an undo.
    pub summary: Option<String>,
}

impl Action for MarkGithubRelease {
    fn needs(&self) -> Needs {
        Needs::new().github([Permission::ContentsWrite])
    }

    fn describe(&self) -> String {
        let what = match &self.summary {
            Some(_) => {
                "mark it withdrawn: title `[WITHDRAWN] ...`, a notice at the top of its notes"
            }
            None => "take the withdrawn mark off its title and notes",
        };
        format!(
            "the GitHub release of {} in {}: {what} (GET releases/tags/{}, PATCH its name and body)",
            self.tag, self.github_repository, self.tag
        )
    }

    fn hint(&self) -> String {
        format!(
            "the statement is attached and the floating tags are moved, but the GitHub release of \
             {} was not marked (the tag has no published GitHub release, or the token lacks \
             `permissions: contents: write`): fix that and run the same withdraw command again",
            self.tag
        )
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        let api = crate::config::GithubApi {
            url: self.api_url.clone(),
            repository: self.github_repository.clone(),
            token: Some(self.token.clone()),
        };
        let release = crate::releases::release_of_tag(&api, &self.tag)?;
        let body = release.body.clone().unwrap_or_default();
        let name =
            withdrawal::release_title(release.name.as_deref(), &self.tag, self.summary.is_some());
        let notes = withdrawal::release_notes(&body, self.summary.as_deref());
        let current = release.name.clone().unwrap_or_default();
        if notes == body && name == current {
            eprintln!("    the GitHub release of {} already says so", self.tag);
            return Ok(());
        }
        crate::releases::set_title_and_body(&api, &release, &name, &notes)?;
        eprintln!(
            "    the GitHub release of {} is now titled {name:?}",
            self.tag
        );
        Ok(())
    }
}
