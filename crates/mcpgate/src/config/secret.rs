//! Secrets in the config are references, never values.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::de::{self, Deserialize, Deserializer};

/// Where a secret is read from: `env:NAME` or `file:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file (relative paths are relative to the config file); trailing
    /// newlines are removed.
    File(PathBuf),
}

/// Why a secret reference could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The variable is unset or empty.
    #[error("environment variable {0} is not set (or empty)")]
    MissingEnv(String),
    /// The file could not be read.
    #[error("cannot read secret file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("secret file {0} is empty")]
    EmptyFile(String),
}

impl SecretRef {
    /// Parse `env:NAME` or `file:PATH`; anything else is refused with the fix.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("env:") {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`env:{name}` does not name an environment variable (letters, digits and _ only)"
                ));
            }
            return Ok(SecretRef::Env(name.to_owned()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err("`file:` needs a path, e.g. `file:/run/secrets/backend-key`".to_owned());
            }
            return Ok(SecretRef::File(PathBuf::from(path)));
        }
        Err(
            "secrets may not be written into the config; reference one instead: \
             `env:NAME` (read from the environment) or `file:PATH` (read from a file)"
                .to_owned(),
        )
    }

    /// Read the secret. `base` is the config file's directory.
    pub fn resolve(&self, base: &Path) -> Result<SecretString, SecretError> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
                _ => Err(SecretError::MissingEnv(name.clone())),
            },
            SecretRef::File(path) => {
                let path = base.join(path);
                let text = std::fs::read_to_string(&path).map_err(|source| SecretError::File {
                    path: path.display().to_string(),
                    source,
                })?;
                let trimmed = text.trim_end_matches(['\r', '\n']);
                if trimmed.is_empty() {
                    return Err(SecretError::EmptyFile(path.display().to_string()));
                }
                Ok(SecretString::from(trimmed.to_owned()))
            }
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SecretRef::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_references_are_accepted() {
        assert_eq!(
            SecretRef::parse("env:API_KEY"),
            Ok(SecretRef::Env("API_KEY".into()))
        );
        assert_eq!(
            SecretRef::parse("file:key.txt"),
            Ok(SecretRef::File("key.txt".into()))
        );
        for inline in ["sk-live-123", "", "env:", "env:A-B", "file:", "ENV:X"] {
            assert!(
                SecretRef::parse(inline).is_err(),
                "{inline:?} must be refused"
            );
        }
    }

    #[test]
    fn files_are_read_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "s3cret\n").unwrap();
        let secret = SecretRef::File("k".into()).resolve(dir.path()).unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&secret), "s3cret");
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        assert!(SecretRef::File("empty".into()).resolve(dir.path()).is_err());
    }
}
