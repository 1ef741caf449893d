//! Each artefact a release publishes, checked by the validator its standard publishes: the
//! SBOM by CycloneDX's own schema validator, the provenance by in-toto's Statement v1 and SLSA
//! Provenance v1 validators, VEX documents and OCI manifests by their official JSON schemas,
//! SARIF by Microsoft's SARIF multitool with GitHub's code-scanning rules. `cargo xtask setup`
//! installs them (pinned by hash in `xtask/assets/tools`); the schemas no package ships are kept
//! unmodified in `xtask/release/schemas`.
//!
//! `command` is a validator's command line, as a person checks a document by hand; `shown` is
//! how the plan prints a check. `check` sends the Python validators' checks to one
//! `validate.py serve` process for the whole run (`serve_command`), which answers each as
//! `command` would, and turns a rejection into an error naming the field, the validator's own
//! message and a fix.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::cmd::{Cmd, Output};
use crate::{tools, workspace};

/// The standards whose validators the release runs, shown by their names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, strum::Display, strum::VariantArray,
)]
pub enum Standard {
    /// A CycloneDX SBOM, against the schema of the spec version it declares (strict: no
    /// unknown properties).
    #[strum(to_string = "CycloneDX")]
    CycloneDx,
    /// An in-toto Statement v1 whose predicate is SLSA Provenance v1 (a DSSE envelope, as
    /// `cosign verify-attestation` prints it, is opened first).
    #[strum(to_string = "in-toto Statement v1 / SLSA Provenance v1")]
    InTotoProvenance,
    /// An in-toto Statement v1 of any predicate (the withdrawal statement): the statement's
    /// rules only.
    #[strum(to_string = "in-toto Statement v1")]
    InTotoStatement,
    /// An OpenVEX document (or a VEX attestation carrying one), against the OpenVEX schema.
    #[strum(to_string = "OpenVEX")]
    OpenVex,
    /// SARIF 2.1.0 with GitHub code scanning's rules, and a `partialFingerprints` on every
    /// result.
    #[strum(to_string = "SARIF 2.1.0 (GitHub code scanning)")]
    Sarif,
    /// An OCI image index (also what the referrers API answers).
    #[strum(to_string = "OCI image index")]
    OciIndex,
    /// An OCI image manifest (a platform image, or an artefact such as an attached SBOM).
    #[strum(to_string = "OCI image manifest")]
    OciManifest,
}

impl Standard {
    /// The name `validate.py` knows it by (SARIF has its own program).
    fn python_kind(self) -> Option<&'static str> {
        match self {
            Standard::CycloneDx => Some("cyclonedx"),
            Standard::InTotoProvenance => Some("in-toto-provenance"),
            Standard::InTotoStatement => Some("in-toto-statement"),
            Standard::OpenVex => Some("openvex"),
            Standard::OciIndex => Some("oci-index"),
            Standard::OciManifest => Some("oci-manifest"),
            Standard::Sarif => None,
        }
    }

    /// The validator, as a report names it.
    pub fn validator(self) -> &'static str {
        match self {
            Standard::CycloneDx => "cyclonedx-python-lib (JsonStrictValidator)",
            Standard::InTotoProvenance => {
                "in-toto-attestation (Statement v1, SLSA Provenance v1 predicate)"
            }
            Standard::InTotoStatement => "in-toto-attestation (Statement v1)",
            Standard::OpenVex => "jsonschema with the OpenVEX JSON schema",
            Standard::Sarif => "SARIF multitool (SARIF 2.1.0 and GitHub's rules)",
            Standard::OciIndex => "jsonschema with OCI image-spec's image-index schema",
            Standard::OciManifest => "jsonschema with OCI image-spec's image-manifest schema",
        }
    }

    /// How to repair what the validator refuses.
    fn hint(self) -> &'static str {
        match self {
            Standard::CycloneDx => {
                "the SBOM must match the CycloneDX schema of the specVersion it declares: fix what writes or edits it (Trivy's `--format cyclonedx`, the release's SBOM step)"
            }
            Standard::InTotoProvenance => {
                "write an in-toto Statement v1 (`_type` https://in-toto.io/Statement/v1) whose predicate is SLSA Provenance v1 (https://slsa.dev/provenance/v1): buildType and runDetails.builder.id are URIs, every resource descriptor has a name, uri or digest"
            }
            Standard::InTotoStatement => {
                "write an in-toto Statement v1 (`_type` https://in-toto.io/Statement/v1) with at least one subject with a digest, a predicateType and a predicate object"
            }
            Standard::OpenVex => {
                "make the document match the OpenVEX 0.2.0 schema (xtask/release/schemas/openvex): it holds one or more statements, each with a vulnerability, products and a status"
            }
            Standard::Sarif => {
                "give every result a location with a relative uri and a region, and partialFingerprints computed from what identifies the finding (GitHub deduplicates alerts by them)"
            }
            Standard::OciIndex | Standard::OciManifest => {
                "the registry object breaks the OCI image-spec: fix the step that writes it (its mediaType, descriptors and annotations)"
            }
        }
    }
}

/// The tools venv's interpreter, which has the Python validators (`cargo xtask setup`).
pub fn python() -> PathBuf {
    tools::tools_dir().join("venv/bin/python3")
}

/// The script that runs the Python validators.
pub fn script() -> PathBuf {
    workspace::root().join("xtask/release/validators/validate.py")
}

/// GitHub's code-scanning policy for the SARIF multitool, as sarif-sdk publishes it.
pub fn sarif_policy() -> PathBuf {
    workspace::root().join("xtask/release/schemas/sarif-sdk/github.config.xml")
}

/// The SARIF multitool's self-contained program from its npm package for this system.
pub fn sarif_multitool() -> PathBuf {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    tools::tools_dir()
        .join("npm/node_modules/@microsoft")
        .join(format!("sarif-multitool-{os}"))
        .join("Sarif.Multitool")
}

/// How a check of `file` runs, as the plan shows it: the SARIF multitool's command, or the
/// line the run's validator process (`serve_command`) is sent.
pub fn shown(standard: Standard, file: &Path) -> String {
    match standard.python_kind() {
        Some(kind) => format!("{} <<< '{kind} {}'", serve_command(), file.display()),
        None => command(standard, file).to_string(),
    }
}

/// `validate.py` under the tools venv's interpreter.
fn validate_py() -> Cmd {
    Cmd::new(python().display().to_string()).arg(script().display().to_string())
}

/// The validator's command line for `file`, as a person checks a document by hand; `check`
/// sends the same `KIND FILE` to the run's validator process instead (`serve_command`).
pub fn command(standard: Standard, file: &Path) -> Cmd {
    match standard.python_kind() {
        Some(kind) => validate_py().arg(kind).arg(file.display().to_string()),
        None => Cmd::new(sarif_multitool().display().to_string())
            .arg("validate")
            .opt("--config", sarif_policy().display().to_string())
            // GitHub's rules (GHxxxx) run only when asked for, and only the policy enables
            // them; its schema and SARIF rules come with `Sarif`.
            .opt("--rule-kind", "Sarif;Gh")
            .arg(file.display().to_string()),
    }
}

/// The command of the run's validator process: one check per `KIND<TAB>FILE` line, answered
/// as `command` would have answered it (see `validate.py`).
pub fn serve_command() -> Cmd {
    validate_py().arg("serve")
}

/// The run's validator process, started by its first Python check and kept until the run
/// ends (its standard input closes with the run, and it exits): importing the validators is
/// nearly all of a check's CPU.
struct Service {
    started_as: Cmd,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    child: std::process::Child,
}

/// A process given up on (it failed to answer, or another command replaces it) is stopped and
/// reaped. The run's own is never dropped: it exits when the run's end closes its stdin.
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer of `validate.py serve`.
#[derive(serde::Deserialize)]
struct Answer {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Service {
    fn start(cmd: Cmd) -> Result<Service> {
        let mut child = cmd.spawn_piped()?;
        Ok(Service {
            stdin: child
                .stdin
                .take()
                .context("the validator process has no stdin")?,
            stdout: std::io::BufReader::new(
                child
                    .stdout
                    .take()
                    .context("the validator process has no stdout")?,
            ),
            started_as: cmd,
            child,
        })
    }

    fn ask(&mut self, kind: &str, file: &Path) -> Result<Output> {
        use std::io::{BufRead, Write};
        let file = file.display().to_string();
        if file.contains(['\t', '\n']) {
            bail!("cannot pass {file:?} to the validator process: a tab or newline in its name");
        }
        writeln!(self.stdin, "{kind}\t{file}")
            .and_then(|()| self.stdin.flush())
            .context("the validator process is gone (its error is above)")?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the validator process ended without an answer (its error is above)");
        }
        let answer: Answer = serde_json::from_str(&line)
            .with_context(|| format!("the validator process answered {line:?}"))?;
        Ok(Output {
            success: answer.code == 0,
            code: Some(answer.code),
            stdout: answer.stdout,
            stderr: answer.stderr,
        })
    }
}

/// `validate.py KIND FILE`'s output, from the run's validator process (started at the first
/// check, and again after one that failed).
fn ask(kind: &str, file: &Path) -> Result<Output> {
    static SERVICE: std::sync::Mutex<Option<Service>> = std::sync::Mutex::new(None);
    let mut slot = SERVICE.lock().unwrap_or_else(|e| e.into_inner());
    ask_in(&mut slot, serve_command(), kind, file)
}

/// `ask` with the process kept in `slot`: started by `cmd` when there is none (or another
/// command's), dropped when it fails to answer.
fn ask_in(slot: &mut Option<Service>, cmd: Cmd, kind: &str, file: &Path) -> Result<Output> {
    if slot.as_ref().is_some_and(|s| s.started_as != cmd) {
        *slot = None;
    }
    let service = match slot.as_mut() {
        Some(service) => service,
        None => slot.insert(Service::start(cmd)?),
    };
    let answer = service.ask(kind, file);
    if answer.is_err() {
        *slot = None;
    }
    answer
}

/// The validator's output for `file`, as `check` judges it: the Python validators' from the
/// run's validator process, the SARIF multitool's from its own run.
pub fn output(standard: Standard, file: &Path) -> Result<Output> {
    match standard.python_kind() {
        Some(kind) => ask(kind, file),
        None => command(standard, file).output(),
    }
}

/// The Python validators' versions (for `cargo xtask doctor`).
pub fn python_versions() -> Cmd {
    validate_py().arg("versions")
}

/// The SARIF multitool's version (for `cargo xtask doctor`).
pub fn sarif_version() -> Cmd {
    Cmd::new(sarif_multitool().display().to_string()).arg("--version")
}

/// One thing a validator refuses: where (a JSON path or pointer) and its own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub field: String,
    pub message: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// `validate.py`'s `<field>: <message>` lines.
pub fn parse_python(stdout: &str) -> Vec<Rejection> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (field, message) = line.split_once(": ").unwrap_or(("$", line));
            Rejection {
                field: field.trim().to_string(),
                message: message.trim().to_string(),
            }
        })
        .collect()
}

/// The multitool's error lines, `FILE(LINE,COL): error RULE: POINTER: MESSAGE` (warnings and
/// notes are advice, not rejections).
pub fn parse_sarif_multitool(stdout: &str) -> Vec<Rejection> {
    stdout
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("): error ")?;
            let (rule, rest) = rest.split_once(": ")?;
            let (pointer, message) = rest.split_once(": ").unwrap_or(("", rest));
            Some(Rejection {
                field: if pointer.is_empty() { "$" } else { pointer }.to_string(),
                message: format!("{rule}: {}", message.trim()),
            })
        })
        .collect()
}

/// Who judges a SARIF file's fingerprints: the release, on GitHub's documented behaviour (the
/// multitool's GitHub rules do not ask for them).
pub const FINGERPRINT_RULE: &str =
    "the release's fingerprint rule (GitHub code scanning's deduplication)";

/// Results without `partialFingerprints`: GitHub code scanning tells a new alert from a known
/// one by them, and upload-sarif computes them only from files in the checkout, which an image
/// path (`usr/local/bin/...`) is not; without them each upload may open the alert again.
pub fn missing_fingerprints(sarif: &serde_json::Value) -> Vec<Rejection> {
    let mut found = Vec::new();
    let runs = sarif["runs"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for (r, run) in runs.iter().enumerate() {
        let results = run["results"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for (i, result) in results.iter().enumerate() {
            let has = result["partialFingerprints"]
                .as_object()
                .is_some_and(|m| !m.is_empty());
            if !has {
                let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap_or("no location");
                found.push(Rejection {
                    field: format!("runs[{r}].results[{i}].partialFingerprints"),
                    message: format!(
                        "absent ({} at {uri}): GitHub deduplicates alerts by it, and upload-sarif computes it only from files in the checkout, which an image's files are not",
                        result["ruleId"].as_str().unwrap_or("result")
                    ),
                });
            }
        }
    }
    found
}

/// The program that runs `standard`'s validator.
fn program(standard: Standard) -> PathBuf {
    match standard {
        Standard::Sarif => sarif_multitool(),
        _ => python(),
    }
}

/// Whether `standard`'s validator is installed here; `check` says what to install when not.
pub fn installed(standard: Standard) -> bool {
    missing_validator(standard, &program(standard)).is_none()
}

/// What is missing to run `standard`'s validator with `program`, and how to get it.
fn missing_validator(standard: Standard, program: &Path) -> Option<String> {
    let what = match standard {
        Standard::Sarif => {
            "@microsoft/sarif-multitool (npm, pinned in xtask/assets/tools/package-lock.json)"
        }
        _ => "in-toto-attestation, cyclonedx-python-lib and jsonschema (PyPI, pinned in xtask/assets/tools/requirements.txt)",
    };
    (!program.is_file()).then(|| {
        format!(
            "the {standard} validator is not installed: {} is missing; `cargo xtask setup` installs {what}",
            program.display()
        )
    })
}

/// Judges the validator's output: Ok when it accepts, the rejections when it refuses, an error
/// when it could not judge (missing package, unreadable file, bad usage).
pub fn judge(standard: Standard, out: &Output) -> Result<Vec<Rejection>> {
    match standard {
        Standard::Sarif => {
            if !out.success {
                bail!(
                    "the SARIF multitool could not run (exit {:?}): {}",
                    out.code,
                    first_lines(&(out.stdout.clone() + &out.stderr))
                );
            }
            Ok(parse_sarif_multitool(&out.stdout))
        }
        _ => match out.code {
            Some(0) => Ok(Vec::new()),
            Some(1) => {
                let found = parse_python(&out.stdout);
                if found.is_empty() {
                    bail!("the validator refused the document without saying why");
                }
                Ok(found)
            }
            _ => bail!(
                "the {standard} validator could not judge the document: {}; `cargo xtask setup` installs the validators",
                first_lines(&(out.stderr.clone() + &out.stdout))
            ),
        },
    }
}

fn first_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(5)
        .collect();
    lines.join(" / ")
}

/// Runs `standard`'s validator on `file`: an error names each field it refuses, in the
/// validator's own words, and ends with how to fix it (or what to install).
pub fn check(standard: Standard, file: &Path) -> Result<()> {
    if let Some(missing) = missing_validator(standard, &program(standard)) {
        bail!("{missing}");
    }
    let out = output(standard, file).with_context(|| {
        format!(
            "cannot run the {standard} validator (`{}`)",
            shown(standard, file)
        )
    })?;
    let found = judge(standard, &out)
        .with_context(|| format!("{standard} validation of {}", file.display()))?;
    if !found.is_empty() {
        bail!(rejection_message(
            standard,
            standard.validator(),
            file,
            &found
        ));
    }
    if standard == Standard::Sarif {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let sarif: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", file.display()))?;
        let found = missing_fingerprints(&sarif);
        if !found.is_empty() {
            bail!(rejection_message(standard, FINGERPRINT_RULE, file, &found));
        }
    }
    Ok(())
}

/// The error a rejection by `validator` becomes.
pub fn rejection_message(
    standard: Standard,
    validator: &str,
    file: &Path,
    found: &[Rejection],
) -> String {
    let mut text = format!(
        "{} is not valid {standard}; {validator} says:",
        file.display()
    );
    for r in found {
        text.push_str(&format!("\n  {r}"));
    }
    text.push_str(&format!("\nhint: {}", standard.hint()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    /// Stand-ins for `validate.py serve` (real programs: `sh`), to provoke what the validators
    /// do not: a process that ends without answering, and one that answers.
    fn sh(script: &str) -> Cmd {
        Cmd::new("sh").args(["-c", script])
    }

    #[test]
    fn a_validator_process_that_ends_unanswered_fails_the_check_and_the_next_starts_another() {
        let mut slot = None;
        let dead = sh("read line; exit 3");
        let err = ask_in(&mut slot, dead, "openvex", Path::new("/x.json")).unwrap_err();
        assert!(
            err.to_string().contains("ended without an answer"),
            "{err:#}"
        );
        assert!(slot.is_none(), "a process that failed is not asked again");
        let answering = sh(
            r#"while read kind file; do printf '{"code": 1, "stdout": "$: %s %s\\n", "stderr": ""}\n' "$kind" "$file"; done"#,
        );
        for file in ["/a.json", "/b.json"] {
            let out = ask_in(&mut slot, answering.clone(), "openvex", Path::new(file)).unwrap();
            assert_eq!((out.code, out.success), (Some(1), false));
            assert_eq!(out.stdout, format!("$: openvex {file}\n"));
        }
        assert!(slot.is_some(), "one process answers every check");
        let garbled = sh("while read line; do echo not-json; done");
        let err = ask_in(&mut slot, garbled, "openvex", Path::new("/c.json")).unwrap_err();
        assert!(
            err.to_string().contains("answered \"not-json\\n\""),
            "{err:#}"
        );
        assert!(slot.is_none());
    }

    #[test]
    fn a_file_name_the_validator_process_cannot_read_back_is_refused() {
        let mut slot = None;
        let cat = sh("cat >/dev/null");
        let err = ask_in(&mut slot, cat, "openvex", Path::new("/a\tb.json")).unwrap_err();
        assert!(err.to_string().contains("a tab or newline"), "{err:#}");
    }

    #[test]
    fn the_plan_shows_the_line_the_validator_process_is_sent() {
        let shown = shown(Standard::CycloneDx, Path::new("/r/sbom.json"));
        assert!(
            shown.ends_with("validate.py serve <<< 'cyclonedx /r/sbom.json'"),
            "{shown}"
        );
        assert_eq!(
            super::shown(Standard::Sarif, Path::new("/r/x.sarif")),
            command(Standard::Sarif, Path::new("/r/x.sarif")).to_string()
        );
    }

    #[test]
    fn python_validators_run_the_script_from_the_tools_venv() {
        let cmd = command(Standard::OpenVex, Path::new("security/vex.json"));
        assert_eq!(cmd.program, python().display().to_string());
        assert!(cmd.program.ends_with("/venv/bin/python3"), "{cmd}");
        assert!(cmd
            .program
            .starts_with(&tools::tools_dir().display().to_string()));
        assert_eq!(
            &cmd.args[1..],
            ["openvex", "security/vex.json"].map(String::from)
        );
        assert!(cmd.args[0].ends_with("xtask/release/validators/validate.py"));
        let kinds: Vec<_> = Standard::VARIANTS
            .iter()
            .map(|s| command(*s, Path::new("f")).args.get(1).cloned())
            .collect();
        assert_eq!(
            kinds,
            [
                Some("cyclonedx"),
                Some("in-toto-provenance"),
                Some("in-toto-statement"),
                Some("openvex"),
                Some("--config"),
                Some("oci-index"),
                Some("oci-manifest"),
            ]
            .map(|k| k.map(String::from))
        );
    }

    #[test]
    fn sarif_runs_the_multitool_with_githubs_policy_and_rules() {
        let cmd = command(Standard::Sarif, Path::new("trivy-linux-amd64.sarif"));
        assert!(cmd.program.ends_with("/Sarif.Multitool"), "{cmd}");
        assert!(cmd.program.contains("sarif-multitool-"), "{cmd}");
        let shown = cmd.to_string();
        let expected = format!(
            "validate --config {} --rule-kind 'Sarif;Gh' trivy-linux-amd64.sarif",
            sarif_policy().display()
        );
        assert!(shown.ends_with(&expected), "{shown}");
        assert!(sarif_policy().is_file(), "{}", sarif_policy().display());
    }

    #[test]
    fn reads_fields_and_messages_from_validate_py() {
        let found = parse_python(
            "$.statements: [] should be non-empty\n$._type: Wrong statement type: 'x', not y\n\n",
        );
        assert_eq!(
            found,
            [
                Rejection {
                    field: "$.statements".into(),
                    message: "[] should be non-empty".into()
                },
                Rejection {
                    field: "$._type".into(),
                    message: "Wrong statement type: 'x', not y".into()
                },
            ]
        );
        assert_eq!(parse_python("odd")[0].field, "$");
    }

    #[test]
    fn reads_errors_and_skips_warnings_in_multitool_output() {
        let out = "Analyzing...\n\
            SARIF.MULTITOOL : warning WRN999.RuleExplicitlyDisabled : Rule 'SARIF2016' was explicitly disabled by the user.\n\
            /tmp/a.sarif(1,670): error GH1003: runs[0].results[0].locations[0].physicalLocation: The 'region' property is absent.\n\
            /tmp/a.sarif(1,670): warning SARIF2017: runs[0].results[0].locations[0].physicalLocation: The 'region' property is absent.\n\
            /tmp/b.sarif(0): error JSON0001: : JSON syntax error: Unexpected character.\n\
            Done. 1 files scanned.\n";
        assert_eq!(
            parse_sarif_multitool(out),
            [
                Rejection {
                    field: "runs[0].results[0].locations[0].physicalLocation".into(),
                    message: "GH1003: The 'region' property is absent.".into()
                },
                Rejection {
                    field: "$".into(),
                    message: "JSON0001: JSON syntax error: Unexpected character.".into()
                },
            ]
        );
    }

    #[test]
    fn every_result_needs_partial_fingerprints() {
        let sarif = serde_json::json!({"runs": [{"results": [
            {"ruleId": "CVE-2099-0003", "partialFingerprints": {"kube9/v1": "abc"}},
            {"ruleId": "CVE-2099-0003", "locations": [{"physicalLocation": {"artifactLocation": {"uri": "usr/local/bin/kube9-operator"}}}]},
            {"ruleId": "CVE-2099-0004", "partialFingerprints": {}}
        ]}]});
        let found = missing_fingerprints(&sarif);
        let fields: Vec<_> = found.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "runs[0].results[1].partialFingerprints",
                "runs[0].results[2].partialFingerprints"
            ]
        );
        assert!(found[0].message.contains("usr/local/bin/kube9-operator"));
    }

    #[test]
    fn a_rejection_names_file_validator_field_and_fix() {
        let text = rejection_message(
            Standard::OpenVex,
            Standard::OpenVex.validator(),
            Path::new("security/vex.json"),
            &parse_python("$.statements: [] should be non-empty\n"),
        );
        assert_eq!(
            text.lines().next().unwrap(),
            "security/vex.json is not valid OpenVEX; jsonschema with the OpenVEX JSON schema says:"
        );
        assert!(
            text.contains("\n  $.statements: [] should be non-empty\n"),
            "{text}"
        );
        assert!(text.lines().last().unwrap().starts_with("hint: "), "{text}");
    }

    #[test]
    fn a_missing_validator_says_what_to_install() {
        let nowhere = Path::new("/nonexistent/kube9-tools/venv/bin/python3");
        let text = missing_validator(Standard::InTotoProvenance, nowhere).unwrap();
        assert!(
            text.contains("/nonexistent/kube9-tools/venv/bin/python3 is missing"),
            "{text}"
        );
        assert!(
            text.contains("`cargo xtask setup` installs in-toto-attestation"),
            "{text}"
        );
        let text = missing_validator(Standard::Sarif, nowhere).unwrap();
        assert!(text.contains("@microsoft/sarif-multitool"), "{text}");
        assert!(missing_validator(Standard::Sarif, &script()).is_none());
    }

    #[test]
    fn a_validator_that_cannot_judge_is_an_error_with_what_to_install() {
        let out = Output {
            success: false,
            code: Some(2),
            stdout: String::new(),
            stderr: "the validator is not installed (No module named 'cyclonedx'): run `cargo xtask setup`\n".into(),
        };
        let err = judge(Standard::CycloneDx, &out).unwrap_err().to_string();
        assert!(err.contains("No module named 'cyclonedx'"), "{err}");
        assert!(err.contains("cargo xtask setup"), "{err}");
        let refused_silently = Output {
            success: false,
            code: Some(1),
            stdout: String::new(),
            stderr: String::new(),
        };
        assert!(judge(Standard::OpenVex, &refused_silently).is_err());
        let usage = Output {
            success: false,
            code: Some(1),
            stdout: "ERROR(S):\n  Option 'rule-kind' is defined with a bad format.\n".into(),
            stderr: String::new(),
        };
        let err = judge(Standard::Sarif, &usage).unwrap_err().to_string();
        assert!(err.contains("bad format"), "{err}");
    }
}
