//! The products of a statement. Each is named by one purl, and an image lists the crates the
//! statement is about as its subcomponents: the release gate scans an OCI layout, where Trivy
//! sees the crates but no image purl.

use anyhow::Result;
use serde::de::DeserializeOwned;

use super::locate::child;
use super::purl::PURL_FORMS;
use super::raw::{List, Obj, Opt, Purl, RawIdentifiers, RawProduct, RawSubcomponent};
use super::rules::Checker;
use super::{Crate, Located, Product, ProductEntry};

impl Checker<'_> {
    /// The statement's products: at least one, as Trivy applies it to those only.
    pub(super) fn products(
        &self,
        raw: Opt<List<Obj<RawProduct>>>,
        statement: &str,
    ) -> Result<Vec<ProductEntry>> {
        let path = child(statement, "products");
        let why = format!("Trivy applies a statement only to the products it lists ({PURL_FORMS})");
        let List(items) = self.required(raw, &path, &why)?;
        if items.is_empty() {
            return Err(self.error(&path, format!("is empty: {why}")));
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, Obj(p))| self.product(p, format!("{path}[{i}]")))
            .collect()
    }

    /// One product: an image with the crates of it the statement is about, or a crate alone.
    fn product(&self, raw: RawProduct, path: String) -> Result<ProductEntry> {
        let product = self.purl::<RawProduct>(&path, raw.id, raw.identifiers, "a product")?;
        let listed = raw.subcomponents.0.map(|List(items)| items);
        let given = listed.is_some();
        let subcomponents = self.subcomponents(&path, listed.unwrap_or_default())?;
        let subs_path = child(&path, "subcomponents");
        match &product.value {
            Product::Image(_) if subcomponents.is_empty() => Err(self.error(
                &subs_path,
                format!(
                    "{}: an image product lists the crates the statement is about as \
                     subcomponents (pkg:cargo/<name>@<version>): the release gate scans the \
                     image from an OCI layout before it is published, where Trivy sees no image \
                     purl, so a statement about the whole image could not be honoured by the gate",
                    if given { "is empty" } else { "missing" }
                ),
            )),
            Product::Crate(_) if given => Err(self.error(
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

    /// The crates of a product's subcomponents: never an image, as subcomponents do not nest.
    fn subcomponents(
        &self,
        product: &str,
        items: Vec<Obj<RawSubcomponent>>,
    ) -> Result<Vec<Located<Crate>>> {
        let sub = |(i, Obj(sub)): (usize, Obj<RawSubcomponent>)| {
            let path = format!("{product}.subcomponents[{i}]");
            let Located { value, path, line } =
                self.purl::<RawSubcomponent>(&path, sub.id, sub.identifiers, "a subcomponent")?;
            match value {
                Product::Crate(value) => Ok(Located { value, path, line }),
                Product::Image(_) => Err(self.error(
                    &path,
                    "is an image: a subcomponent is one of the image's crates, \
                     pkg:cargo/<name>@<version>",
                )),
            }
        };
        items.into_iter().enumerate().map(sub).collect()
    }

    /// The purl of the product or subcomponent at `path` (read as `T`, which `what` names):
    /// `@id`, or `identifiers.purl`, or both if equal.
    fn purl<T: DeserializeOwned>(
        &self,
        path: &str,
        id: Opt<Purl>,
        identifiers: Opt<Obj<RawIdentifiers>>,
        what: &str,
    ) -> Result<Located<Product>> {
        if self.lines.keys(path).iter().any(|k| k == "hashes") {
            return Err(self.error(
                &child(path, "hashes"),
                "the project names products by purl only (Trivy compares hashes with the purl \
                 string, so they never match): remove it",
            ));
        }
        self.fields::<T>(path, what)?;
        let mut given = Vec::new();
        if let Some(Purl(product)) = id.0 {
            given.push(self.located(product, child(path, "@id")));
        }
        if let Some(Obj(ids)) = identifiers.0 {
            let ids_path = child(path, "identifiers");
            self.fields::<RawIdentifiers>(
                &ids_path,
                "identifiers (the project names products by purl only)",
            )?;
            let purl_path = child(&ids_path, "purl");
            let Purl(product) =
                self.required(ids.purl, &purl_path, &format!("the purl ({PURL_FORMS})"))?;
            given.push(self.located(product, purl_path));
        }
        match given.len() {
            0 => Err(self.error(
                &child(path, "@id"),
                format!("missing: {what} is named by its purl in @id or identifiers.purl ({PURL_FORMS})"),
            )),
            1 => Ok(given.remove(0)),
            _ if given[0].value == given[1].value => Ok(given.remove(0)),
            _ => Err(self.error(
                &given[1].path,
                format!(
                    "`{}` is not the product of @id `{}`: give one purl, or the same in both",
                    given[1].value, given[0].value
                ),
            )),
        }
    }

    fn located(&self, value: Product, path: String) -> Located<Product> {
        Located {
            line: self.lines.line(&path),
            value,
            path,
        }
    }
}
