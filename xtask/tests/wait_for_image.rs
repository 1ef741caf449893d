//! The chart step's wait, against a registry whose answers the test scripts (a fake, named
//! as such: the real registry cannot be held half-published).

mod support;

use std::time::{Duration, Instant};

use kube9_release::registry::{Registry, Repository};
use kube9_release::step::{wait_for_image, Patience};
use support::fakes::ScriptedRegistry;

fn index(platforms: &[&str]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = platforms
        .iter()
        .map(|p| {
            let (os, arch) = p.split_once('/').unwrap();
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{}", "1".repeat(64)), "size": 1,
                "platform": {"os": os, "architecture": arch},
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .unwrap()
}

fn registry(address: &str) -> Registry {
    Registry::anonymous(&Repository::parse(&format!("{address}/alto9/kube9-operator")).unwrap())
}

fn both() -> Vec<String> {
    vec!["linux/amd64".into(), "linux/arm64".into()]
}

fn patience(timeout: u64) -> Patience {
    Patience {
        timeout: Duration::from_secs(timeout),
        max_interval: Duration::from_millis(200),
    }
}

#[test]
fn waits_until_every_platform_is_served() {
    let (fake, address) = ScriptedRegistry::start();
    fake.set(Some(index(&["linux/amd64"])));
    let full = index(&["linux/amd64", "linux/arm64"]);
    let expected = kube9_release::layout::sha256(&full);
    let later = fake.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        later.set(Some(full));
    });
    let started = Instant::now();
    let (digest, platforms) =
        wait_for_image(&registry(&address), "v1.2.3", None, &both(), patience(30)).unwrap();
    assert_eq!(digest, expected);
    assert_eq!(platforms.len(), 2, "every platform's manifest is learnt");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "it waited"
    );
    assert!(
        *fake.requests.lock().unwrap() >= 3,
        "it looked again and again"
    );
}

#[test]
fn another_digest_than_the_image_steps_fails_at_once() {
    let (fake, address) = ScriptedRegistry::start();
    fake.set(Some(index(&["linux/amd64", "linux/arm64"])));
    let recorded = format!("sha256:{}", "f".repeat(64));
    let started = Instant::now();
    let err = wait_for_image(
        &registry(&address),
        "v1.2.3",
        Some(&recorded),
        &both(),
        patience(30),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("must reference the scanned image"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no waiting for a wrong digest"
    );
}

#[test]
fn an_image_that_never_comes_fails_after_the_timeout_and_says_what_it_saw() {
    let (fake, address) = ScriptedRegistry::start();
    fake.set(None);
    let err = wait_for_image(&registry(&address), "v1.2.3", None, &both(), patience(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("within 1s (not found)"), "{err}");
    assert!(err.contains("publish the image first"), "{err}");
    fake.set(Some(index(&["linux/amd64"])));
    let err = wait_for_image(&registry(&address), "v1.2.3", None, &both(), patience(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lacks [\"linux/arm64\"]"), "{err}");
}
