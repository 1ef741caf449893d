//! What a simulated run did: act's log (which jobs ran in which order, which steps ran and
//! how they ended) and what the stand-ins recorded.

use std::path::Path;

use anyhow::Result;

/// The records of the stand-in actions, one list per file of the outbox.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    /// `(category, file)` of every SARIF upload.
    pub sarif: Vec<(String, String)>,
    /// `(subject name, subject digest, push to registry)` of every provenance attestation.
    pub attestations: Vec<(String, String, String)>,
    /// `upload|download job name digest` of every artifact moved between jobs.
    pub artifacts: Vec<String>,
    /// `(job, cargo's arguments)` of every cargo run that could read the job's OIDC request
    /// token (the build canary's record).
    pub oidc_seen_by_build: Vec<(String, String)>,
}

fn lines(dir: &Path, name: &str) -> Result<Vec<Vec<String>>> {
    let text = match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(text
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect())
}

impl Outbox {
    pub fn read(dir: &Path) -> Result<Outbox> {
        let field = |l: &Vec<String>, i: usize| l.get(i).cloned().unwrap_or_default();
        Ok(Outbox {
            sarif: lines(dir, "sarif.tsv")?
                .iter()
                .map(|l| (field(l, 1), field(l, 2)))
                .collect(),
            attestations: lines(dir, "attestations.tsv")?
                .iter()
                .map(|l| (field(l, 1), field(l, 2), field(l, 3)))
                .collect(),
            artifacts: lines(dir, "artifacts.tsv")?
                .iter()
                .map(|l| l.join(" "))
                .collect(),
            oidc_seen_by_build: lines(dir, "oidc-seen-by-build.tsv")?
                .iter()
                .map(|l| (field(l, 1), field(l, 2)))
                .collect(),
        })
    }
}

/// The job of a line of act's log (`[workflow/job   ] ...`, padded; other lines may start
/// with `[` too).
fn job_of(line: &str) -> Option<&str> {
    let (prefix, _) = line.strip_prefix('[')?.split_once(']')?;
    Some(prefix.split_once('/')?.1.trim())
}

/// One run of act.
#[derive(Debug, Clone)]
pub struct SimRun {
    pub success: bool,
    pub log: String,
    pub outbox: Outbox,
}

impl SimRun {
    /// The jobs in the order they started (act prefixes every line with `[workflow/job]`).
    pub fn jobs(&self) -> Vec<String> {
        let mut jobs: Vec<String> = Vec::new();
        for job in self.log.lines().filter_map(job_of) {
            if !jobs.iter().any(|j| j == job) {
                jobs.push(job.to_string());
            }
        }
        jobs
    }

    fn step_line(&self, job: &str, mark: &str, step: &str) -> bool {
        self.log
            .lines()
            .any(|l| job_of(l) == Some(job) && l.contains(mark) && l.contains(step))
    }

    /// Whether a step of `job` ran (act does not mention steps it skipped).
    pub fn ran(&self, job: &str, step: &str) -> bool {
        self.step_line(job, "⭐ Run Main", step)
    }

    pub fn succeeded(&self, job: &str, step: &str) -> bool {
        self.step_line(job, "✅  Success - Main", step)
    }

    pub fn failed(&self, job: &str, step: &str) -> bool {
        self.step_line(job, "❌  Failure - Main", step)
    }

    /// A line for people: which jobs ran, what the stand-ins saw, and where act is not GitHub.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "jobs, in order: {}\nresult: {}\n",
            self.jobs().join(" -> "),
            if self.success { "success" } else { "FAILED" }
        );
        for (category, file) in &self.outbox.sarif {
            text.push_str(&format!("SARIF for code scanning: {category} ({file})\n"));
        }
        for (name, digest, push) in &self.outbox.attestations {
            text.push_str(&format!(
                "provenance attested: {name}@{digest} (pushed to the registry: {push})\n"
            ));
        }
        text.push_str(
            "act is not GitHub: each job got its own token and, with id-token: write, an OIDC \
             identity, from stand-ins; the environment's key pair signed where Sigstore would \
             certify the workflow's identity; GHCR, code scanning and the attestation store \
             were stand-ins that refuse what GitHub refuses; there was no Actions cache \
             service\n",
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_steps_are_read_from_acts_log() {
        let run = SimRun {
            success: false,
            log:
                "[release/image] ⭐ Run Main Build\n[release/image]   ❌  Failure - Main Build\n\
                  [release/image] ⭐ Run Main Upload\n[release/image]   ✅  Success - Main Upload\n"
                    .into(),
            outbox: Outbox::default(),
        };
        assert_eq!(run.jobs(), ["image"]);
        assert!(run.ran("image", "Build") && run.failed("image", "Build"));
        assert!(run.succeeded("image", "Upload"));
        assert!(!run.ran("chart", "Build"));
    }
}
