//! The documents written from the project's: the one a release attests to its image, and the
//! one its gate scans the OCI layout with. Each keeps the statements that apply, with products
//! rewritten for where Trivy will compare them, and is `None` when nothing applies: OpenVEX
//! wants at least one statement in a document.

use serde_json::{json, Value};

use super::{Crate, Document, ImagePurl, Product, ProductEntry, Statement, CONTEXT};

/// The document a release attests to its image: the statements that apply to this release,
/// under the release's `id`, dated `timestamp` (the commit's time, so that two runs of one
/// release write the same bytes). Crate statements always apply; an image statement applies
/// when it names no digest or this `index_digest`. Its image becomes
/// `pkg:oci/<name>?repository_url=<target>` (arch kept), so that `trivy image --vex oci` matches
/// wherever the image was published. The digest is left out: the attestation is already bound
/// to the digest it is attached to, and a purl with the index digest would not match when an
/// admin scans a platform manifest's digest. `None` when nothing applies (OpenVEX wants at
/// least one statement).
pub fn for_release(
    doc: &Document,
    target: &str,
    index_digest: &str,
    id: &str,
    timestamp: &str,
) -> Option<Value> {
    let statements = doc.statements.iter().filter_map(|s| {
        let products: Vec<Value> = s
            .products
            .iter()
            .filter_map(|entry| release_product(entry, target, index_digest))
            .collect();
        (!products.is_empty()).then(|| statement_json(doc, s, products))
    });
    document_json(id, &doc.author, timestamp, statements.collect())
}

/// One product as the release document writes it, if it applies to the release of
/// `index_digest`: a crate as it is, an image as published to `target`, with its subcomponents.
fn release_product(entry: &ProductEntry, target: &str, index_digest: &str) -> Option<Value> {
    match &entry.product.value {
        Product::Crate(krate) => Some(json!({ "@id": krate.to_string() })),
        Product::Image(image) if image.in_release(index_digest) => {
            let subcomponents: Vec<Value> = entry
                .subcomponents
                .iter()
                .map(|c| json!({ "@id": c.value.to_string() }))
                .collect();
            Some(json!({
                "@id": published(image, target).to_string(),
                "subcomponents": subcomponents,
            }))
        }
        Product::Image(_) => None,
    }
}

/// The purl Trivy gives the image pulled from `target`: no digest, the arch kept.
fn published(image: &ImagePurl, target: &str) -> ImagePurl {
    ImagePurl {
        name: target.rsplit('/').next().unwrap_or(target).to_string(),
        digest: None,
        repository: target.to_string(),
        arch: image.arch.clone(),
    }
}

/// The document the release gate scans the OCI layout of one `platform` (`linux/arm64`) with.
/// There Trivy sees no image purl, only the crates, so each image statement that applies (no
/// digest or this `index_digest`, no arch or this platform's) becomes a statement about its
/// subcomponent crates; crate statements are kept. It carries the source document's `@id` and
/// timestamp, and is never published. `None` when nothing applies.
pub fn for_gate(doc: &Document, index_digest: &str, platform: &str) -> Option<Value> {
    let arch = platform.split('/').nth(1);
    let statements = doc.statements.iter().filter_map(|s| {
        let products: Vec<Value> = gate_crates(s, index_digest, arch)
            .iter()
            .map(|c| json!({ "@id": c.to_string() }))
            .collect();
        (!products.is_empty()).then(|| statement_json(doc, s, products))
    });
    document_json(&doc.id, &doc.author, &doc.timestamp, statements.collect())
}

/// The crates a statement speaks of in the layout of `arch` of the release of `index_digest`,
/// each once, in the order first given.
fn gate_crates<'a>(s: &'a Statement, index_digest: &str, arch: Option<&str>) -> Vec<&'a Crate> {
    let mut crates: Vec<&Crate> = Vec::new();
    for entry in &s.products {
        let applying: Vec<&Crate> = match &entry.product.value {
            Product::Crate(krate) => vec![krate],
            Product::Image(image)
                if image.in_release(index_digest)
                    && image.arch.as_deref().is_none_or(|a| Some(a) == arch) =>
            {
                entry.subcomponents.iter().map(|c| &c.value).collect()
            }
            Product::Image(_) => Vec::new(),
        };
        for krate in applying {
            if !crates.contains(&krate) {
                crates.push(krate);
            }
        }
    }
    crates
}

/// The document around `statements`, or `None` if there are none.
fn document_json(id: &str, author: &str, timestamp: &str, statements: Vec<Value>) -> Option<Value> {
    (!statements.is_empty()).then(|| {
        json!({
            "@context": CONTEXT,
            "@id": id,
            "author": author,
            "timestamp": timestamp,
            "version": 1,
            "statements": statements,
        })
    })
}

/// A statement written again with new products. A statement without a timestamp gets the
/// source document's, which is the time it was made; in a new document it would otherwise take
/// the new document's. Its `@id`, `version`, `last_updated` and `supplier` describe it in the
/// source file and are not carried over.
fn statement_json(doc: &Document, s: &Statement, products: Vec<Value>) -> Value {
    let v = &s.vulnerability;
    let aliases = (!v.aliases.is_empty()).then_some(&v.aliases);
    let vulnerability =
        json!({"@id": v.id, "name": v.name, "description": v.description, "aliases": aliases});
    given(json!({
        "vulnerability": given(vulnerability),
        "timestamp": s.timestamp.as_deref().unwrap_or(&doc.timestamp),
        "products": products,
        "status": s.status.to_string(),
        "justification": s.justification.map(|j| j.to_string()),
        "impact_statement": s.impact_statement,
        "action_statement": s.action_statement,
        "action_statement_timestamp": s.action_statement_timestamp,
        "status_notes": s.status_notes,
    }))
}

/// The object without its null fields: an optional field is written only when it was given.
fn given(mut object: Value) -> Value {
    if let Value::Object(fields) = &mut object {
        fields.retain(|_, value| !value.is_null());
    }
    object
}
