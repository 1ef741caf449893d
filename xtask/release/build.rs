//! Copies the files the library embeds from outside its own directory into `OUT_DIR`. Cargo
//! records a file outside the package by its absolute path, so a checkout at another path
//! (each job of the workflow simulation) would rebuild the library; a file under the target
//! directory, and a `rerun-if-changed` path relative to the package, keep it fresh.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for (from, name) in [
        ("../../artifacthub-repo.yml", "artifacthub-repo.yml"),
        ("../../operator/Cargo.toml", "operator-Cargo.toml"),
    ] {
        println!("cargo:rerun-if-changed={from}");
        std::fs::copy(from, Path::new(&out).join(name))
            .unwrap_or_else(|e| panic!("cannot copy {from} for embedding: {e}"));
    }
}
