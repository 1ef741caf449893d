//! Who pushes to a registry: a username and its password (a token), as `config` reads them
//! from the environment.

use crate::secret::Secret;

/// Who pushes. The password is a GitHub token on GitHub, and only ever read from the environment.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    /// `REGISTRY_USERNAME`/`REGISTRY_PASSWORD`, else `GITHUB_ACTOR`/`GITHUB_TOKEN`, from the
    /// environment as `config` reads it.
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Option<Credentials> {
        let pair = |user: &str, pass: &str| {
            Some(Credentials {
                username: var(user)?,
                password: Secret::new(var(pass)?),
            })
        };
        pair("REGISTRY_USERNAME", "REGISTRY_PASSWORD")
            .or_else(|| pair("GITHUB_ACTOR", "GITHUB_TOKEN"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_prefer_generic_then_github() {
        let both = |k: &str| match k {
            "REGISTRY_USERNAME" => Some("robot".to_string()),
            "REGISTRY_PASSWORD" => Some("generic".to_string()),
            "GITHUB_ACTOR" => Some("octocat".to_string()),
            "GITHUB_TOKEN" => Some("ghs_token".to_string()),
            _ => None,
        };
        let c = Credentials::from_vars(&both).unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.expose()),
            ("robot", "generic")
        );
        let github = |k: &str| both(k).filter(|_| k.starts_with("GITHUB_"));
        let c = Credentials::from_vars(&github).unwrap();
        assert_eq!(c.username, "octocat");
        assert!(!format!("{c:?}").contains("ghs_token"));
        // A username without its password is no credential.
        let half = |k: &str| both(k).filter(|_| k == "REGISTRY_USERNAME");
        assert!(Credentials::from_vars(&half).is_none());
        assert!(Credentials::from_vars(&|_| None).is_none());
    }
}
