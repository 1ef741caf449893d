//! What a scan's SBOM and SARIF say they describe. Trivy names the scanned artefact after its
//! input, here an OCI layout on the build machine (`.../scan-layouts/linux-amd64`), with no
//! version and no purl; SBOM consumers (Dependency-Track, GUAC, registry UIs) and the Security
//! tab identify an image by its name, version and `pkg:oci` purl. So the converted files are
//! given the published image's identity. Pure.

use crate::layout::sha256;
use crate::registry::Repository;
use serde::Serialize;
use serde_json::{json, Value};

/// The image a scan describes, as users know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannedImage {
    pub repository: Repository,
    /// The version without a `v` (`1.2.3`), as the image's version label has it.
    pub version: String,
}

impl ScannedImage {
    /// `repo:version`, the name the SARIF run and the SBOM give the image.
    pub fn name(&self) -> String {
        format!("{}:{}", self.repository, self.version)
    }

    /// `pkg:oci/<name>@sha256%3A<hex>?arch=<arch>&repository_url=<registry>%2F<path>`: the
    /// purl-spec OCI form, qualifiers sorted and encoded as Trivy writes them, for the platform
    /// manifest `digest`.
    pub fn purl(&self, digest: &str, platform: &str) -> String {
        let arch = platform.split('/').nth(1).unwrap_or(platform);
        format!(
            "pkg:oci/{}@{}?arch={arch}&repository_url={}",
            self.repository.name(),
            digest.replace(':', "%3A"),
            self.repository.to_string().replace('/', "%2F")
        )
    }
}

/// Sets the CycloneDX document's `metadata.component` to the image: its repository, version
/// and purl (with the platform manifest's digest). The component's `bom-ref` is kept, so the
/// dependency graph that points at it stays whole.
pub fn identify_sbom(bom: &mut Value, image: &ScannedImage, platform: &str, digest: &str) {
    let component = &mut bom["metadata"]["component"];
    if !component.is_object() {
        *component = json!({"type": "container"});
    }
    component["type"] = json!("container");
    component["name"] = json!(image.repository.to_string());
    component["version"] = json!(image.version);
    component["purl"] = json!(image.purl(digest, platform));
}

/// The partial fingerprint key of a finding in an image. GitHub reserves (and recomputes from
/// files in the checkout) `primaryLocationLineHash`; a path inside an image is not in the
/// checkout, so the finding's identity is given under a key of the project's own.
pub const FINGERPRINT_KEY: &str = "kube9/imageFinding/v1";

/// Names the image in every SARIF run, and gives every result a fingerprint that identifies
/// the finding across releases and rescans: rule, package, installed version and platform
/// (not the file's path, which Trivy takes from the input, nor the line, which an image
/// finding has none of). Returns how many results it fingerprinted.
pub fn identify_sarif(sarif: &mut Value, image: &ScannedImage, platform: &str) -> usize {
    let mut count = 0;
    for run in sarif["runs"].as_array_mut().into_iter().flatten() {
        if let Some(properties) = run.get_mut("properties").and_then(Value::as_object_mut) {
            properties.insert("imageName".into(), json!(image.name()));
        }
        for result in run["results"].as_array_mut().into_iter().flatten() {
            let print = fingerprint(result, platform);
            let prints = &mut result["partialFingerprints"];
            if !prints.is_object() {
                *prints = json!({});
            }
            prints[FINGERPRINT_KEY] = json!(print);
            count += 1;
        }
    }
    count
}

/// The sha256 (hex) of the rule, the package and its installed version (as Trivy's result message names
/// them) and the platform.
fn fingerprint(result: &Value, platform: &str) -> String {
    let message = result["message"]["text"].as_str().unwrap_or_default();
    let field = |name: &str| {
        let value = message.lines().find_map(|l| l.strip_prefix(name));
        value.unwrap_or_default()
    };
    let rule = result["ruleId"].as_str().unwrap_or_default();
    let parts = [
        rule,
        field("Package: "),
        field("Installed Version: "),
        platform,
    ];
    let digest = sha256(parts.join("\n").as_bytes());
    digest.trim_start_matches("sha256:").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ScannedImage {
        ScannedImage {
            repository: Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
            version: "1.2.3".into(),
        }
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_sbom_describes_the_published_platform_image_not_the_layout() {
        let mut bom = json!({"metadata": {"component": {
            "bom-ref": "b1e8a2c4", "type": "container",
            "name": "/work/x/target/release/scan-layouts/linux-amd64"}}});
        identify_sbom(&mut bom, &image(), "linux/arm64", DIGEST);
        let c = &bom["metadata"]["component"];
        assert_eq!(c["name"], "ghcr.io/alto9/kube9-operator");
        assert_eq!(c["version"], "1.2.3");
        assert_eq!(c["bom-ref"], "b1e8a2c4");
        assert_eq!(
            c["purl"],
            "pkg:oci/kube9-operator@sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
             ?arch=arm64&repository_url=ghcr.io%2Falto9%2Fkube9-operator"
        );
    }

    fn result(package: &str, version: &str, uri: &str) -> Value {
        json!({"ruleId": "CVE-2099-0003",
               "message": {"text": format!("Package: {package}\nInstalled Version: {version}\nVulnerability CVE-2099-0003")},
               "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}]})
    }

    fn sarif(results: Vec<Value>) -> Value {
        json!({"runs": [{"properties": {"imageName": "/tmp/layout"}, "results": results}]})
    }

    fn print(s: &Value, i: usize) -> Value {
        s["runs"][0]["results"][i]["partialFingerprints"][FINGERPRINT_KEY].clone()
    }

    #[test]
    fn one_finding_has_one_fingerprint_wherever_the_image_was_scanned() {
        let mut release = sarif(vec![result(
            "vuln",
            "1.0.0",
            "scan-layouts/linux-amd64/bin",
        )]);
        let mut rescan = sarif(vec![result("vuln", "1.0.0", "rescan/layouts/bin")]);
        assert_eq!(identify_sarif(&mut release, &image(), "linux/amd64"), 1);
        identify_sarif(&mut rescan, &image(), "linux/amd64");
        assert_eq!(print(&release, 0), print(&rescan, 0));
        assert_eq!(
            release["runs"][0]["properties"]["imageName"],
            "ghcr.io/alto9/kube9-operator:1.2.3"
        );
    }

    #[test]
    fn another_package_version_or_platform_is_another_finding() {
        let mut s = sarif(vec![
            result("vuln", "1.0.0", "a"),
            result("vuln", "1.0.1", "a"),
            result("other", "1.0.0", "a"),
        ]);
        let mut arm = sarif(vec![result("vuln", "1.0.0", "a")]);
        identify_sarif(&mut s, &image(), "linux/amd64");
        identify_sarif(&mut arm, &image(), "linux/arm64");
        let prints = [print(&s, 0), print(&s, 1), print(&s, 2), print(&arm, 0)];
        for (i, a) in prints.iter().enumerate() {
            assert!(a.as_str().is_some_and(|p| p.len() == 64), "{a}");
            for b in &prints[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
