//! The table `cargo xtask bench` writes, with what it ran on: the machine, and the versions
//! of the engine and tools, as measured.

use anyhow::Result;

use kube9_release::cmd::Cmd;

pub struct Row {
    pub what: String,
    pub value: String,
    pub target: String,
    pub met: Option<bool>,
    pub reproduce: String,
}

impl Row {
    pub fn new(
        what: impl Into<String>,
        value: impl Into<String>,
        reproduce: impl Into<String>,
    ) -> Row {
        Row {
            what: what.into(),
            value: value.into(),
            target: "-".into(),
            met: None,
            reproduce: reproduce.into(),
        }
    }

    /// The same row with a goal this run could not judge (the value says why): shown as not
    /// measured, never as met.
    pub fn not_measured(mut self, target: impl Into<String>) -> Row {
        self.target = target.into();
        self.met = None;
        self
    }

    /// The same row with a goal and whether the measurement met it.
    pub fn goal(mut self, target: impl Into<String>, met: bool) -> Row {
        self.target = target.into();
        self.met = Some(met);
        self
    }
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// What `pick` finds first in `cmd`'s trimmed lines, else `unknown`.
fn read_field(cmd: Cmd, pick: impl Fn(&str) -> Option<String>) -> String {
    let out = cmd.read().unwrap_or_default();
    let found = out.lines().find_map(|l| pick(l.trim()));
    found.unwrap_or_else(|| "unknown".into())
}

fn first_line(cmd: Cmd) -> String {
    read_field(cmd, |l| Some(l.to_string()))
}

/// What the run measured on: machine, engine, builder and tools, each asked for its version.
pub fn environment(docker: &dyn Fn() -> Cmd) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let engine = first_line(docker().args(["version", "--format", "{{.Server.Version}}"]));
    let store = first_line(docker().args(["info", "--format", "{{.Driver}}"]));
    let buildx = first_line(docker().args(["buildx", "version"]));
    let driver = read_field(docker().args(["buildx", "inspect"]), |l| {
        l.strip_prefix("Driver:").map(|d| d.trim().to_string())
    });
    let trivy = first_line(Cmd::new("trivy").arg("--version"));
    let cosign = first_line(Cmd::new("dpkg-query").args(["-W", "-f=${Version}", "cosign"]));
    format!(
        "{cores} cores ({cpu}); Docker engine {engine} (storage {store}), {buildx}, builder \
         driver `{driver}`; trivy {trivy}; cosign {cosign}"
    )
}

pub fn render(rows: &[Row], notes: &[String], environment: &str) -> Result<String> {
    let date = Cmd::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .read()?;
    let mut out = format!(
        "# Benchmarks\n\nMeasured by `cargo xtask bench` on {}: {environment}. The project's \
         real Dockerfile builds on the local environment. Times are compared as ratios within \
         this one run on a shared, noisy machine: cold builds run in interleaved pairs (the two \
         things compared, one after the other) and the median of the pairs' ratios is the \
         figure; quick figures are medians of repeated runs.\n\n| measurement | value | target \
         | met | reproduce with |\n| --- | --- | --- | --- | --- |\n",
        date.trim()
    );
    out.push_str(&render_rows(rows));
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&format!("{n}\n"));
        }
    }
    Ok(out)
}

/// The table's rows: a goal without a judgement is `not measured`, a row without a goal `-`.
pub fn render_rows(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None if r.target != "-" => "not measured",
            None => "-",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {met} | `{}` |\n",
            r.what, r.value, r.target, r.reproduce
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(super::median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
