//! The products of a statement. Each is named by one purl, and an image lists the crates the
//! statement is about as its subcomponents: the release gate scans an OCI layout, where Trivy
//! sees the crates but no image purl.

use anyhow::Result;
use serde_json::Value;

use super::fields::{Checker, Object};
use super::purl::{parse_purl, PURL_FORMS};
use super::{Crate, Located, Product, ProductEntry};

impl Checker<'_> {
    /// The statement's products: at least one, as Trivy applies it to those only.
    pub(super) fn products(&self, obj: &Object) -> Result<Vec<ProductEntry>> {
        let path = obj.path("products");
        let items = self.array(obj, "products")?.ok_or_else(|| {
            self.error(
                &path,
                format!("missing: Trivy applies a statement only to the products it lists ({PURL_FORMS})"),
            )
        })?;
        if items.is_empty() {
            return Err(self.error(
                &path,
                format!("is empty: Trivy applies a statement only to the products it lists ({PURL_FORMS})"),
            ));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| self.product(v, format!("{path}[{i}]")))
            .collect()
    }

    /// One product: an image with the crates of it the statement is about, or a crate alone.
    fn product(&self, value: &Value, path: String) -> Result<ProductEntry> {
        let obj = self.object(value, path)?;
        let product = self.purl(&obj, "a product", &["@id", "identifiers", "subcomponents"])?;
        let items = self.array(&obj, "subcomponents")?;
        let subcomponents = self.subcomponents(&obj, items)?;
        let subs_path = obj.path("subcomponents");
        match &product.value {
            Product::Image(_) if subcomponents.is_empty() => Err(self.error(
                &subs_path,
                format!(
                    "{}: an image product lists the crates the statement is about as \
                     subcomponents (pkg:cargo/<name>@<version>): the release gate scans the \
                     image from an OCI layout before it is published, where Trivy sees no image \
                     purl, so a statement about the whole image could not be honoured by the gate",
                    if items.is_some() {
                        "is empty"
                    } else {
                        "missing"
                    }
                ),
            )),
            Product::Crate(_) if items.is_some() => Err(self.error(
                &subs_path,
                "a crate product has no subcomponents: it stands for that crate wherever it is; \
                 remove them, or make the image the product",
            )),
            _ => Ok(ProductEntry {
                product,
                subcomponents,
            }),
        }
    }

    /// The crates of a product's `subcomponents` (`items`, if given): never an image, as
    /// subcomponents do not nest.
    fn subcomponents(
        &self,
        obj: &Object,
        items: Option<&Vec<Value>>,
    ) -> Result<Vec<Located<Crate>>> {
        let subs_path = obj.path("subcomponents");
        let mut subcomponents = Vec::new();
        for (i, item) in items.into_iter().flatten().enumerate() {
            let sub = self.object(item, format!("{subs_path}[{i}]"))?;
            let located = self.purl(&sub, "a subcomponent", &["@id", "identifiers"])?;
            match located.value {
                Product::Crate(krate) => subcomponents.push(Located {
                    value: krate,
                    path: located.path,
                    line: located.line,
                }),
                Product::Image(_) => {
                    return Err(self.error(
                        &located.path,
                        "is an image: a subcomponent is one of the image's crates, \
                         pkg:cargo/<name>@<version>",
                    ))
                }
            }
        }
        Ok(subcomponents)
    }

    /// The purl of a product or subcomponent: `@id`, or `identifiers.purl`, or both if equal.
    fn purl(&self, obj: &Object, what: &str, allowed: &[&str]) -> Result<Located<Product>> {
        if obj.map.contains_key("hashes") {
            return Err(self.error(
                &obj.path("hashes"),
                "the project names products by purl only (Trivy compares hashes with the purl \
                 string, so they never match): remove it",
            ));
        }
        self.fields(obj, allowed, what)?;
        let mut parsed = self.purls_given(obj)?;
        match parsed.len() {
            0 => Err(self.error(
                &obj.path("@id"),
                format!("missing: {what} is named by its purl in @id or identifiers.purl ({PURL_FORMS})"),
            )),
            1 => Ok(parsed.remove(0)),
            _ if parsed[0].value == parsed[1].value => Ok(parsed.remove(0)),
            _ => Err(self.error(
                &parsed[1].path,
                format!(
                    "`{}` is not the product of @id `{}`: give one purl, or the same in both",
                    parsed[1].value, parsed[0].value
                ),
            )),
        }
    }

    /// The purls an object gives, parsed, in `@id` and then in `identifiers.purl`.
    fn purls_given(&self, obj: &Object) -> Result<Vec<Located<Product>>> {
        let mut found = Vec::new();
        if let Some(id) = self.text(obj, "@id")? {
            found.push((id, obj.path("@id")));
        }
        if let Some(value) = obj.map.get("identifiers") {
            let ids = self.object(value, obj.path("identifiers"))?;
            self.fields(
                &ids,
                &["purl"],
                "identifiers (the project names products by purl only)",
            )?;
            let purl = self.required_text(&ids, "purl", &format!("the purl ({PURL_FORMS})"))?;
            found.push((purl, ids.path("purl")));
        }
        found
            .into_iter()
            .map(|(purl, path)| {
                let value = parse_purl(&purl).map_err(|e| self.error(&path, e))?;
                Ok(Located {
                    value,
                    line: self.lines.line(&path),
                    path,
                })
            })
            .collect()
    }
}
