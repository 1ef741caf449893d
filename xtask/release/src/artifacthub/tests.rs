use crate::changelog::ChangeKind;
use std::collections::BTreeMap;

use super::*;

const README: &str = "https://raw.githubusercontent.com/alto9/kube9-operator/v1.2.3/README.md";

const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TRICKY: &str = "fix: \"quoted\" #1 & more";

fn change(kind: ChangeKind, text: &str) -> Change {
    Change {
        kind,
        text: text.to_string(),
    }
}

fn listing() -> ChartListing {
    ChartListing {
        image: format!("ghcr.io/alto9/kube9-operator:1.2.3@{DIGEST}"),
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        license: "Apache-2.0".into(),
        source: "https://github.com/alto9/kube9-operator".into(),
        documentation: "https://github.com/alto9/kube9-operator#readme".into(),
        support: "https://github.com/alto9/kube9-operator/issues".into(),
        prerelease: false,
        changes: Some(vec![
            change(ChangeKind::Added, "Artifact Hub annotations"),
            change(ChangeKind::Fixed, TRICKY),
        ]),
    }
}

fn get<'a>(annotations: &'a [(String, String)], key: &str) -> Option<&'a str> {
    annotations
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn keys(annotations: &[(String, String)]) -> Vec<&str> {
    annotations.iter().map(|(k, _)| k.as_str()).collect()
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct ImageItemBack {
    name: String,
    image: String,
    platforms: Vec<String>,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct NamedUrl {
    name: String,
    url: String,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct ChangeBack {
    kind: String,
    description: String,
}

#[test]
fn chart_annotations_come_in_a_fixed_order() {
    let annotations = listing().chart_annotations().unwrap();
    assert_eq!(
        keys(&annotations),
        [
            "artifacthub.io/images",
            "artifacthub.io/license",
            "artifacthub.io/links",
            "artifacthub.io/prerelease",
            "artifacthub.io/changes",
            "artifacthub.io/containsSecurityUpdates",
        ]
    );
    assert_eq!(
        get(&annotations, "artifacthub.io/license"),
        Some("Apache-2.0")
    );
    assert_eq!(
        get(&annotations, "artifacthub.io/prerelease"),
        Some("false")
    );
    assert_eq!(
        get(&annotations, "artifacthub.io/containsSecurityUpdates"),
        Some("false")
    );
}

#[test]
fn structured_values_are_yaml_that_reads_back() {
    let annotations = listing().chart_annotations().unwrap();
    let images: Vec<ImageItemBack> =
        serde_saphyr::from_str(get(&annotations, "artifacthub.io/images").unwrap()).unwrap();
    assert_eq!(
        images,
        [ImageItemBack {
            name: "kube9-operator".into(),
            image: format!("ghcr.io/alto9/kube9-operator:1.2.3@{DIGEST}"),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        }]
    );
    let links: Vec<NamedUrl> =
        serde_saphyr::from_str(get(&annotations, "artifacthub.io/links").unwrap()).unwrap();
    let names: Vec<_> = links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["source", "documentation", "support"]);
    assert_eq!(
        links[2].url,
        "https://github.com/alto9/kube9-operator/issues"
    );
}

#[test]
fn a_description_with_yaml_syntax_round_trips() {
    let annotations = listing().chart_annotations().unwrap();
    let value = get(&annotations, "artifacthub.io/changes").unwrap();
    let changes: Vec<ChangeBack> = serde_saphyr::from_str(value).unwrap();
    assert_eq!(
        changes,
        [
            ChangeBack {
                kind: "added".into(),
                description: "Artifact Hub annotations".into()
            },
            ChangeBack {
                kind: "fixed".into(),
                description: TRICKY.into()
            },
        ]
    );
    // Whatever a description holds, it comes back as written, on one line.
    let long = "a long description that goes on and on ".repeat(5);
    let nasty = [
        "- starts like a list item",
        "key: value # not a comment",
        "'single' and \"double\" quotes, \\ backslash",
        "{flow} [seq] *alias &anchor !tag %directive @at `tick` | > ? :",
        "yes",
        "1.10",
        "null",
        "ends with a colon:",
        long.as_str(),
        "ünïcødé — and an emoji 🚀",
        "on",
        "~",
        "0x1F",
        "2026-01-01",
        "<<",
        "tab\there",
        " leading space",
        "#hash first",
    ];
    let listing = ChartListing {
        changes: Some(
            nasty
                .iter()
                .map(|t| change(ChangeKind::Changed, t))
                .collect(),
        ),
        ..listing()
    };
    let annotations = listing.chart_annotations().unwrap();
    let value = get(&annotations, "artifacthub.io/changes").unwrap();
    let back: Vec<ChangeBack> = serde_saphyr::from_str(value).unwrap();
    let descriptions: Vec<_> = back.iter().map(|c| c.description.as_str()).collect();
    assert_eq!(descriptions, nasty);
    assert_eq!(value.lines().count(), 2 * nasty.len(), "{value}");
}

#[test]
fn security_changes_mark_the_version() {
    let listing = ChartListing {
        prerelease: true,
        changes: Some(vec![change(
            ChangeKind::Security,
            "Bump foo (CVE-2099-0003)",
        )]),
        ..listing()
    };
    let annotations = listing.chart_annotations().unwrap();
    assert_eq!(get(&annotations, "artifacthub.io/prerelease"), Some("true"));
    assert_eq!(
        get(&annotations, "artifacthub.io/containsSecurityUpdates"),
        Some("true")
    );
}

#[test]
fn skip_changelog_leaves_the_changes_out() {
    let listing = ChartListing {
        changes: None,
        ..listing()
    };
    let annotations = listing.chart_annotations().unwrap();
    assert_eq!(get(&annotations, "artifacthub.io/changes"), None);
    assert_eq!(
        get(&annotations, "artifacthub.io/containsSecurityUpdates"),
        Some("false")
    );
    assert_eq!(annotations.len(), 5);
}

/// Makes one field of a good listing bad.
type Spoil = fn(&mut ChartListing);

#[test]
fn empty_fields_are_refused_by_name() {
    let cases: [(&str, Spoil); 8] = [
        ("artifacthub.io/images is empty", |l| l.image.clear()),
        ("artifacthub.io/images: `a b`", |l| l.image = "a b".into()),
        ("artifacthub.io/images has an empty platform", |l| {
            l.platforms.clear()
        }),
        ("artifacthub.io/license is empty", |l| {
            l.license = " ".into()
        }),
        ("artifacthub.io/links is empty: the `source` link", |l| {
            l.source.clear()
        }),
        ("artifacthub.io/links is empty: the `support` link", |l| {
            l.support.clear()
        }),
        ("artifacthub.io/changes is empty: list", |l| {
            l.changes = Some(Vec::new())
        }),
        ("artifacthub.io/changes is empty: change 1 (fixed)", |l| {
            l.changes = Some(vec![change(ChangeKind::Fixed, "")])
        }),
    ];
    for (expected, spoil) in cases {
        let mut listing = listing();
        spoil(&mut listing);
        let e = listing.chart_annotations().unwrap_err().to_string();
        assert!(e.starts_with(expected), "{expected}: {e}");
        assert!(listing.chart_annotations_yaml().is_err());
    }
}

#[test]
fn the_yaml_block_reads_back_from_a_chart_yaml() {
    #[derive(serde::Deserialize)]
    struct Chart {
        name: String,
        annotations: BTreeMap<String, String>,
        version: String,
    }
    let listing = listing();
    let block = listing.chart_annotations_yaml().unwrap();
    let chart_yaml =
        format!("apiVersion: v2\nname: kube9-operator\nannotations:\n{block}version: 1.2.3\n");
    let chart: Chart = serde_saphyr::from_str(&chart_yaml).unwrap();
    let expected: BTreeMap<String, String> =
        listing.chart_annotations().unwrap().into_iter().collect();
    assert_eq!(chart.annotations, expected);
    assert_eq!(
        (chart.name.as_str(), chart.version.as_str()),
        ("kube9-operator", "1.2.3")
    );
    // Keys in the fixed order, two spaces in; single-line values quoted.
    let key_lines: Vec<&str> = block.lines().filter(|l| !l.starts_with("   ")).collect();
    assert_eq!(
        key_lines,
        [
            "  artifacthub.io/images: |",
            "  artifacthub.io/license: \"Apache-2.0\"",
            "  artifacthub.io/links: |",
            "  artifacthub.io/prerelease: \"false\"",
            "  artifacthub.io/changes: |",
            "  artifacthub.io/containsSecurityUpdates: \"false\"",
        ]
    );
    assert!(block.ends_with('\n'));
}

#[test]
fn the_yaml_block_of_a_sample_chart() {
    let listing = ChartListing {
        image: "ghcr.io/alto9/kube9-operator:1.2.3@sha256:0123".into(),
        changes: Some(vec![
            change(ChangeKind::Added, "Artifact Hub annotations"),
            change(ChangeKind::Security, TRICKY),
        ]),
        ..listing()
    };
    assert_eq!(
        listing.chart_annotations_yaml().unwrap(),
        r#"  artifacthub.io/images: |
    - name: kube9-operator
      image: ghcr.io/alto9/kube9-operator:1.2.3@sha256:0123
      platforms:
      - linux/amd64
      - linux/arm64
  artifacthub.io/license: "Apache-2.0"
  artifacthub.io/links: |
    - name: source
      url: https://github.com/alto9/kube9-operator
    - name: documentation
      url: https://github.com/alto9/kube9-operator#readme
    - name: support
      url: https://github.com/alto9/kube9-operator/issues
  artifacthub.io/prerelease: "false"
  artifacthub.io/changes: |
    - kind: added
      description: Artifact Hub annotations
    - kind: security
      description: "fix: \"quoted\" #1 & more"
  artifacthub.io/containsSecurityUpdates: "true"
"#
    );
}

fn maintainers() -> Vec<(String, String)> {
    vec![("alto9".into(), "alto9@users.noreply.github.com".into())]
}

#[test]
fn image_annotations_are_what_artifact_hub_reads() {
    let annotations = image_annotations(README, "Apache-2.0", &maintainers(), KEYWORDS).unwrap();
    assert_eq!(
        annotations,
        [
            (
                "io.artifacthub.package.readme-url".to_string(),
                README.to_string()
            ),
            ("io.artifacthub.package.license".into(), "Apache-2.0".into()),
            (
                "io.artifacthub.package.maintainers".into(),
                r#"[{"name":"alto9","email":"alto9@users.noreply.github.com"}]"#.into()
            ),
            (
                "io.artifacthub.package.keywords".into(),
                "kubernetes,operator,kube9".into()
            ),
        ]
    );
    // JSON escaping, not formatting: a name with quotes reads back.
    let odd = vec![("a \"quoted\" name".to_string(), "x@example.com".to_string())];
    let annotations = image_annotations(README, "MIT", &odd, &["k"]).unwrap();
    let back: serde_json::Value =
        serde_json::from_str(get(&annotations, "io.artifacthub.package.maintainers").unwrap())
            .unwrap();
    assert_eq!(back[0]["name"], "a \"quoted\" name");
}

#[test]
fn image_annotations_refuse_empty_or_wrong_values() {
    let m = maintainers();
    let e = |r: Result<Vec<(String, String)>>| r.unwrap_err().to_string();
    let cases = [
        (
            e(image_annotations("", "MIT", &m, KEYWORDS)),
            "io.artifacthub.package.readme-url is empty",
        ),
        (
            e(image_annotations(
                "https://github.com/alto9/kube9-operator/blob/main/README.md",
                "MIT",
                &m,
                KEYWORDS,
            )),
            "is GitHub's HTML page",
        ),
        (
            e(image_annotations("http://x/README.md", "MIT", &m, KEYWORDS)),
            "is not an https:// URL",
        ),
        (
            e(image_annotations(README, "", &m, KEYWORDS)),
            "io.artifacthub.package.license is empty",
        ),
        (
            e(image_annotations(README, "MIT", &[], KEYWORDS)),
            "io.artifacthub.package.maintainers is empty",
        ),
        (
            e(image_annotations(
                README,
                "MIT",
                &[("a".into(), "".into())],
                KEYWORDS,
            )),
            "maintainer 1 (a) has no email",
        ),
        (
            e(image_annotations(
                README,
                "MIT",
                &[("a".into(), "https://github.com/a".into())],
                KEYWORDS,
            )),
            "not an email",
        ),
        (
            e(image_annotations(README, "MIT", &m, &[])),
            "io.artifacthub.package.keywords is empty",
        ),
        (
            e(image_annotations(README, "MIT", &m, &["a,b"])),
            "is not a keyword",
        ),
    ];
    for (error, expected) in cases {
        assert!(error.contains(expected), "{expected}: {error}");
    }
}

#[test]
fn the_projects_repository_metadata_parses() {
    let md = RepoMetadata::parse(
        REPO_METADATA_PATH,
        include_str!("../../../../artifacthub-repo.yml"),
    )
    .unwrap();
    assert_eq!(md.repository_id, None);
    assert_eq!(
        md.owners,
        [Owner {
            name: "alto9".into(),
            email: "alto9@users.noreply.github.com".into()
        }]
    );
}

#[test]
fn repository_metadata_is_checked_as_artifact_hub_does() {
    let parse = |text: &str| RepoMetadata::parse("artifacthub-repo.yml", text);
    let owners = "owners:\n  - name: a\n    email: a@example.com\n";
    let md = parse(&format!(
        "repositoryID: 5f1b3a7e-0000-4000-8000-00000000abcd\n{owners}"
    ))
    .unwrap();
    assert_eq!(
        md.repository_id.as_deref(),
        Some("5f1b3a7e-0000-4000-8000-00000000abcd")
    );
    let md = parse(&format!(
        "{owners}ignore:\n  - name: old\n    version: beta\n"
    ))
    .unwrap();
    assert_eq!(md.ignore[0].version.as_deref(), Some("beta"));
    let err = |text: &str| parse(text).unwrap_err().to_string();
    for bad in [
        "not-a-uuid",
        "5f1b3a7e00004000800000000000abcd",
        "5f1b3a7e-0000-4000-8000-00000000abcg",
        "\"\"",
    ] {
        let e = err(&format!("repositoryID: {bad}\n{owners}"));
        assert!(
            e.contains("is an invalid repository id") && e.contains("leave repositoryID out"),
            "{bad}: {e}"
        );
    }
    let e = err("owners: []\n");
    assert!(
        e.starts_with("artifacthub-repo.yml: owners is empty"),
        "{e}"
    );
    let e = err("repositoryID: 5f1b3a7e-0000-4000-8000-00000000abcd\n");
    assert!(e.contains("owners is empty"), "{e}");
    let e = err("owners:\n  - name: a\n");
    assert!(e.contains("owner 1 (a) has no email"), "{e}");
    let e = err("owners:\n  - email: a@example.com\n");
    assert!(e.contains("owner 1 has no name"), "{e}");
    let e = err(&format!(
        "repositoryId: 5f1b3a7e-0000-4000-8000-00000000abcd\n{owners}"
    ));
    assert!(
        e.starts_with("artifacthub-repo.yml is not valid repository metadata"),
        "{e}"
    );
    assert!(e.contains("repositoryId") && !e.contains('\n'), "{e}");
    let e = err("owners:\n  - name: a\n    email: a@example.com\n    mail: b\n");
    assert!(e.contains("mail"), "{e}");
}

#[test]
fn the_metadata_manifest_is_what_oras_pushes() {
    let yml = include_bytes!("../../../../artifacthub-repo.yml");
    let (manifest, config) = manifest(yml);
    assert!(config.is_empty());
    let expected = format!(
        concat!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
            r#""config":{{"mediaType":"application/vnd.cncf.artifacthub.config.v1+yaml","#,
            r#""digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0}},"#,
            r#""layers":[{{"mediaType":"application/vnd.cncf.artifacthub.repository-metadata.layer.v1.yaml","#,
            r#""digest":"{}","size":{},"annotations":{{"org.opencontainers.image.title":"artifacthub-repo.yml"}}}}]}}"#
        ),
        sha256(yml),
        yml.len()
    );
    assert_eq!(String::from_utf8(manifest.clone()).unwrap(), expected);
    // oci-client reads it as an image manifest whose one layer is the file.
    let parsed: oci_client::manifest::OciImageManifest = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(parsed.config.media_type, CONFIG_MEDIA_TYPE);
    assert_eq!(parsed.config.digest, sha256(&config));
    assert_eq!(parsed.layers.len(), 1);
    assert_eq!(parsed.layers[0].media_type, LAYER_MEDIA_TYPE);
    assert_eq!(parsed.layers[0].digest, sha256(yml));
    assert_eq!(parsed.layers[0].size, yml.len() as i64);
}

#[test]
fn the_same_file_gives_the_same_manifest() {
    let yml = b"owners:\n  - name: a\n    email: a@example.com\n";
    assert_eq!(sha256(&manifest(yml).0), sha256(&manifest(yml).0));
    assert_ne!(
        sha256(&manifest(yml).0),
        sha256(&manifest(b"owners: []\n").0)
    );
}

#[test]
fn the_projects_index_names_the_tags_readme_and_says_whether_it_is_a_prerelease() {
    let get = |a: &[(String, String)], k: &str| {
        a.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    };
    let rc = project_image_annotations("v0.1.0-rc.1", true);
    assert_eq!(
        get(&rc, "io.artifacthub.package.readme-url").as_deref(),
        Some("https://raw.githubusercontent.com/alto9/kube9-operator/v0.1.0-rc.1/README.md")
    );
    assert_eq!(
        get(&rc, "io.artifacthub.package.prerelease").as_deref(),
        Some("true")
    );
    let stable = project_image_annotations("1.2.3", false);
    assert_eq!(
        get(&stable, "io.artifacthub.package.prerelease").as_deref(),
        Some("false")
    );
}

/// Artifact Hub lists a chart's maintainers from Chart.yaml and drops each without an email
/// (`helm.go` `EnrichPackageFromChart`): the chart names the owners of `artifacthub-repo.yml`,
/// each with its email.
#[test]
fn the_charts_maintainers_are_the_repository_owners_with_their_email() {
    #[derive(Deserialize)]
    struct Chart {
        maintainers: Vec<ChartMaintainer>,
    }
    #[derive(Deserialize)]
    struct ChartMaintainer {
        name: String,
        #[serde(default)]
        email: String,
    }
    let owners: Vec<(String, String)> =
        RepoMetadata::parse(REPO_METADATA_PATH, PROJECT_REPO_METADATA)
            .unwrap()
            .owners
            .into_iter()
            .map(|o| (o.name, o.email))
            .collect();
    for file in [
        include_str!("../../../../charts/kube9-operator/Chart.yaml"),
        // The template's maintainers block is plain YAML; only its placeholders are cut.
        &include_str!("../../../../charts/kube9-operator/Chart.yaml.j2")
            .lines()
            .filter(|l| !l.contains("{{") && !l.contains("{#") && !l.contains("-#}"))
            .collect::<Vec<_>>()
            .join("\n"),
    ] {
        let chart: Chart = serde_saphyr::from_str(file).unwrap();
        let maintainers: Vec<(String, String)> = chart
            .maintainers
            .into_iter()
            .map(|m| (m.name, m.email))
            .collect();
        assert_eq!(maintainers, owners);
    }
}
