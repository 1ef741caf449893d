//! The withdrawal statement against in-toto's own Statement v1 validator (what the withdrawal
//! runs before it signs): the statement the release tool writes is accepted, and what breaks
//! the statement's rules is refused with the field it breaks.

mod support;

use kube9_release::validate::{self, Standard};
use kube9_release::withdrawal::{self, Withdrawal};
use support::*;

fn statement() -> serde_json::Value {
    withdrawal::statement(
        &[
            (
                "ghcr.io/alto9/kube9-operator".into(),
                format!("sha256:{}", "a".repeat(64)),
            ),
            (
                "ghcr.io/alto9/charts/kube9-operator".into(),
                format!("sha256:{}", "b".repeat(64)),
            ),
        ],
        &Withdrawal {
            version: "1.2.3".into(),
            reason: "leaks a debug flag".into(),
            replacement: Some("1.2.4".into()),
            withdrawn: true,
            time: "2026-12-07T01:00:00Z".into(),
        },
    )
}

fn check(document: &serde_json::Value) -> anyhow::Result<()> {
    let file = temp_dir("withdrawal-statement").join("statement.json");
    std::fs::write(&file, document.to_string()).unwrap();
    validate::check(Standard::InTotoStatement, &file)
}

#[test]
fn the_withdrawal_statement_is_an_in_toto_statement_v1() {
    check(&statement()).unwrap();
}

#[test]
fn what_breaks_the_statement_v1_rules_is_refused() {
    let mut old = statement();
    old["_type"] = "https://in-toto.io/Statement/v0.1".into();
    let err = format!("{:#}", check(&old).unwrap_err());
    assert!(
        err.contains("$._type") && err.contains("Wrong statement type"),
        "{err}"
    );

    let mut none = statement();
    none["subject"] = serde_json::json!([]);
    let err = format!("{:#}", check(&none).unwrap_err());
    assert!(err.contains("$.subject"), "{err}");

    let mut not_uri = statement();
    not_uri["predicateType"] = "withdrawal".into();
    let err = format!("{:#}", check(&not_uri).unwrap_err());
    assert!(err.contains("$.predicateType"), "{err}");
}
