//! The GHCR stand-in of the workflow simulation decides like GHCR: a job's token reads with
//! `packages: read`, writes with `packages: write`, and is refused otherwise, in front of the
//! real registry.

mod support;

use kube9_devenv::workflow_sim::grants::Access;
use kube9_devenv::workflow_sim::{ghcr, GithubStandin};
use kube9_release::cmd::Secret;
use kube9_release::layout::Image;
use kube9_release::registry::{Credentials, Registry, Repository, Retry};
use support::*;

fn as_job(repository: &str, token: &str) -> Registry {
    let credentials = Credentials {
        username: "github-actions".into(),
        password: Secret::new(token),
    };
    let retry = Retry {
        attempts: 1,
        first_delay: std::time::Duration::from_millis(10),
    };
    Registry::new(
        Repository::parse(repository).unwrap(),
        Some(&credentials),
        retry,
    )
}

#[test]
fn a_jobs_token_reads_and_writes_only_what_its_permissions_allow() {
    let env = env();
    let github = GithubStandin::start();
    let address = ghcr::start(
        &env.auth_registry.address(),
        &env.auth_user,
        &env.auth_password(),
        &github,
    );
    let repository = format!("{address}/{}/kube9-operator", unique("ghcr"));
    let layout = temp_dir("ghcr-layout");
    layout_from_rootfs(
        &fixtures().join("trivy-db/rootfs-high"),
        &[("linux", "amd64")],
        &layout,
    );
    let image = Image::open(&layout).unwrap();

    let reader = github.token("verify", &[("packages", Access::Read)]);
    let err = as_job(&repository, &reader)
        .push_content(&image)
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("permission_denied: write_package"),
        "{err:#}"
    );
    let writer = github.token("image", &[("packages", Access::Write)]);
    as_job(&repository, &writer).push_content(&image).unwrap();
    let index = image.blob(&image.index.digest).unwrap();
    as_job(&repository, &writer)
        .push_version_tag("v1.0.0", &image.index.digest, &index)
        .unwrap();
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
