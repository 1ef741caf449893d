//! The GHCR stand-in of the workflow simulation decides like GHCR: a job's token reads with
//! `packages: read`, writes with `packages: write`, and is refused otherwise, in front of the
//! real registry. Anyone reads a public package without a login; a private one (every new
//! package, as on GHCR) only with a token.

mod support;

use kube9_devenv::workflow_sim::grants::Access;
use kube9_release::registry::{Registry, Repository};
use support::standins::{as_job, fixture_image, ghcr_standin, publish_as_job};
use support::*;

#[test]
fn a_jobs_token_reads_and_writes_only_what_its_permissions_allow() {
    let (github, address) = ghcr_standin();
    let repository = format!("{address}/{}/kube9-operator", unique("ghcr"));
    let image = fixture_image("ghcr-layout");

    let reader = github.token("verify", &[("packages", Access::Read)]);
    let err = as_job(&repository, &reader)
        .push_content(&image)
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("permission_denied: write_package"),
        "{err:#}"
    );
    let writer = github.token("image", &[("packages", Access::Write)]);
    publish_as_job(&repository, &writer, &image, "v1.0.0");
    assert_eq!(
        as_job(&repository, &reader).digest_of("v1.0.0").unwrap(),
        Some(image.index.digest.clone()),
        "packages: read pulls"
    );

    let nothing = github.token("pr", &[("contents", Access::Read)]);
    let err = as_job(&repository, &nothing)
        .digest_of("v1.0.0")
        .unwrap_err();
    assert!(format!("{err:#}").contains("refused"), "{err:#}");
    let err = as_job(&repository, "ghs_never_issued")
        .digest_of("v1.0.0")
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("refused the credentials"),
        "{err:#}"
    );
    let anonymous = Registry::anonymous(&Repository::parse(&repository).unwrap());
    let err = anonymous.digest_of("v1.0.0").unwrap_err();
    assert!(format!("{err:#}").contains("needs a login"), "{err:#}");
}

#[test]
fn anonymous_reads_are_served_only_once_the_package_is_public_and_writes_still_need_the_token() {
    let (github, address) = ghcr_standin();
    let package = format!("{}/kube9-operator", unique("ghcr-public"));
    let repository = format!("{address}/{package}");
    let image = fixture_image("ghcr-public-layout");
    let writer = github.token("image", &[("packages", Access::Write)]);
    publish_as_job(&repository, &writer, &image, "v1.0.0");
    let config = &image.platforms[0].config.digest;
    let config_bytes = image.blob(config).unwrap();
    let anonymous = Registry::anonymous(&Repository::parse(&repository).unwrap());

    // A new package is private: every anonymous read gets GHCR's challenge.
    let err = anonymous.digest_of("v1.0.0").unwrap_err();
    assert!(format!("{err:#}").contains("needs a login"), "{err:#}");
    assert!(anonymous.tags().is_err(), "tags of a private package");
    assert!(
        anonymous.blob(config).is_err(),
        "a blob of a private package"
    );
    let raw = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::get(format!("http://{address}/v2/{package}/manifests/v1.0.0"))
            .await
            .unwrap()
    });
    assert_eq!(raw.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(
        raw.headers().contains_key("www-authenticate"),
        "a 401 without a challenge: {:?}",
        raw.headers()
    );

    github.set_package_public(&package, true);
    assert_eq!(
        anonymous.digest_of("v1.0.0").unwrap(),
        Some(image.index.digest.clone()),
        "a public package is read without a login"
    );
    assert!(anonymous.tags().unwrap().contains(&"v1.0.0".to_string()));
    assert_eq!(anonymous.blob(config).unwrap(), config_bytes);

    // Public is for reading: a write still needs a token with `packages: write`.
    let index = image.blob(&image.index.digest).unwrap();
    let err = anonymous
        .push_version_tag("v1.0.1", &image.index.digest, &index)
        .unwrap_err();
    assert!(format!("{err:#}").contains("needs a login"), "{err:#}");
    let reader = github.token("verify", &[("packages", Access::Read)]);
    let err = as_job(&repository, &reader)
        .push_version_tag("v1.0.1", &image.index.digest, &index)
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("permission_denied: write_package"),
        "{err:#}"
    );
    assert_eq!(
        as_job(&repository, &reader).digest_of("v1.0.1").unwrap(),
        None
    );

    // Made private again, it is refused again.
    github.set_package_public(&package, false);
    assert!(anonymous.digest_of("v1.0.0").is_err());
}
