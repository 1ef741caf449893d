//! A registry whose disk is full, for real: distribution on a 256 KiB tmpfs (mounted in a
//! mount namespace of its own, so nothing outlives the registry). Its refusal must reach the
//! user whole, and must not be blamed on rate-limiting.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube9_release::registry::{Registry, Repository, Retry};
use support::*;

/// The registry process; killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn full_registry() -> (Running, String) {
    let dir = temp_dir("disk-full");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            data.display()
        ),
    )
    .unwrap();
    // `-r` maps the caller to root in a user namespace, so an unprivileged user can mount too.
    let child = Command::new("unshare")
        .args(["-r", "-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=256k kube9-full "$1" && exec docker-registry serve "$2""#)
        .arg("sh")
        .arg(&data)
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("log")).unwrap())
        .spawn()
        .expect("unshare (util-linux) and docker-registry (`cargo xtask setup`)");
    let mut running = Running(child);
    let address = format!("127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        if let Some(status) = running.0.try_wait().unwrap() {
            panic!(
                "the registry on a tmpfs did not start ({status}): {}",
                std::fs::read_to_string(dir.join("log")).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no registry on {address}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (running, address)
}

#[test]
fn a_registry_with_a_full_disk_is_quoted_whole_and_not_called_rate_limited() {
    let (_registry, address) = full_registry();
    let repository = Repository::parse(&format!("{address}/kube9/full")).unwrap();
    let retry = Retry {
        attempts: 2,
        first_delay: Duration::from_millis(10),
    };
    let registry = Registry::new(repository, None, retry);
    // Random bytes, four times what the disk holds.
    let mut blob = vec![0u8; 1024 * 1024];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut blob)
        .unwrap();
    let error = registry.push_blob(&blob).expect_err("the disk is full");
    let shown = format!("{error:#}");
    eprintln!("{shown}");
    // Distribution refuses the upload's data (`write .../data: no space left on device`) or,
    // on the retry, its start (`write .../startedat`, errno 28): either way the reason, whole,
    // ends the message.
    let reason = shown.rsplit("failed: ").next().unwrap();
    assert!(
        reason.ends_with("/data: no space left on device")
            || reason.ends_with("/startedat: no space left on device (errno 28)"),
        "the registry's reason, whole, ends the message: {shown}"
    );
    assert!(
        shown.contains("HTTP 500 UNKNOWN: unknown error: write "),
        "{shown}"
    );
    assert!(!shown.contains("rate-limiting"), "{shown}");
    assert!(shown.contains("a retry does not cure that"), "{shown}");
    // The upload URL's state token stays out of the message.
    assert!(!shown.contains("_state="), "{shown}");
}
