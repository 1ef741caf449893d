//! Two statements about the same vulnerability in the same crate, where both could apply, are
//! refused: Trivy would keep whichever has the later timestamp, which is easy to get wrong.

use anyhow::Result;

use super::rules::Checker;
use super::{Crate, Product, Statement};

/// What a statement says of one crate, and where: the unit two statements are compared by.
struct Claim<'a> {
    statement: usize,
    ids: Vec<&'a str>,
    krate: &'a Crate,
    digest: Option<&'a str>,
    arch: Option<&'a str>,
    path: &'a str,
    line: usize,
}

impl Claim<'_> {
    /// Whether a finding could be covered by both: then the first of its vulnerability IDs the
    /// other claim has too, for the error. Every repository an image is published to is the
    /// same image, so the repository does not tell two claims apart; an unpinned image or a
    /// crate product overlaps any digest and architecture.
    fn overlap(&self, other: &Claim) -> Option<&str> {
        let overlap = |a: Option<&str>, b: Option<&str>| a.is_none() || b.is_none() || a == b;
        let same = self.krate == other.krate
            && overlap(self.digest, other.digest)
            && overlap(self.arch, other.arch);
        if !same {
            return None;
        }
        self.ids.iter().find(|id| other.ids.contains(id)).copied()
    }
}

/// The claims of statement `index`, in the order of its products: a crate product is one, an
/// image product one per subcomponent, with the image's digest and architecture.
fn claims(index: usize, s: &Statement) -> Vec<Claim<'_>> {
    let claim = |krate, digest, arch, path, line| Claim {
        statement: index,
        ids: s.vulnerability.ids(),
        krate,
        digest,
        arch,
        path,
        line,
    };
    let mut claims = Vec::new();
    for entry in &s.products {
        match &entry.product.value {
            Product::Crate(krate) => claims.push(claim(
                krate,
                None,
                None,
                &entry.product.path,
                entry.product.line,
            )),
            Product::Image(image) => claims.extend(entry.subcomponents.iter().map(|sub| {
                claim(
                    &sub.value,
                    image.digest.as_deref(),
                    image.arch.as_deref(),
                    &sub.path,
                    sub.line,
                )
            })),
        }
    }
    claims
}

/// Says what `new` overlaps with: another place in its own statement, or another statement.
fn message(statements: &[Statement], earlier: &Claim, new: &Claim, id: &str) -> String {
    if earlier.statement == new.statement {
        return format!(
            "this statement already speaks of {id} in {} at {} (line {}): remove one of the two",
            new.krate, earlier.path, earlier.line
        );
    }
    let other = &statements[earlier.statement];
    format!(
        "statements[{}] (line {}) already says {} about {id} in {}: Trivy would keep whichever \
         statement has the later timestamp (a statement without one takes the document's), which \
         is easy to get wrong; say it in one statement, or pin the two to different releases \
         (@sha256:<index digest>) or architectures (arch=)",
        earlier.statement, other.line, other.status, new.krate
    )
}

impl Checker<'_> {
    /// Refuses the first claim that overlaps an earlier one, at the later's line.
    pub(super) fn no_overlap(&self, statements: &[Statement]) -> Result<()> {
        let mut seen: Vec<Claim> = Vec::new();
        for (i, s) in statements.iter().enumerate() {
            for claim in claims(i, s) {
                let overlap = seen
                    .iter()
                    .find_map(|c| c.overlap(&claim).map(|id| (c, id)));
                if let Some((earlier, id)) = overlap {
                    return Err(self.error(claim.path, message(statements, earlier, &claim, id)));
                }
                seen.push(claim);
            }
        }
        Ok(())
    }
}
