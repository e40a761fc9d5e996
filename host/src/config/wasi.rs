//! What an actor type's WASI 0.2 guests may see: nothing by default (no
//! arguments, environment, directories, stdin or network), or, per type,
//! an allow-list of environment variables and one read-only directory.
//! Nothing grants network: the network is Dapr's building blocks.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a granted directory appears in the guest when `guest` is not given.
pub const DEFAULT_GUEST_DIR: &str = "/data";

/// The WASI grants of one actor type (`[actors.<type>.wasi]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasiGrants {
    /// Environment variables passed from the node's environment, by name;
    /// a granted name the node does not have stays unset.
    #[serde(default)]
    pub env: Vec<String>,
    /// One host directory the guest may read (never write).
    #[serde(default)]
    pub dir: Option<ReadOnlyDir>,
}

/// A host directory granted read-only to a type's guests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadOnlyDir {
    /// The directory on the node (relative paths: to the config file).
    pub host: PathBuf,
    /// Where the guest sees it (default [`DEFAULT_GUEST_DIR`]).
    #[serde(default = "default_guest_dir")]
    pub guest: String,
}

fn default_guest_dir() -> String {
    DEFAULT_GUEST_DIR.to_string()
}

impl WasiGrants {
    /// Whether this grants anything beyond the default.
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.dir.is_none()
    }

    /// Checks the grants of type `name`: what is wrong, as `(field, reason)`.
    pub fn check(&self, name: &str) -> Result<(), (String, String)> {
        for (i, var) in self.env.iter().enumerate() {
            if var.is_empty() || var.contains('=') || var.contains('\0') {
                return Err((
                    format!("actors.{name}.wasi.env[{i}]"),
                    format!("{var:?} is not an environment variable name"),
                ));
            }
        }
        if let Some(dir) = &self.dir {
            let field = format!("actors.{name}.wasi.dir");
            if !dir.guest.starts_with('/') || dir.guest.contains('\0') {
                return Err((
                    format!("{field}.guest"),
                    format!("{:?} must be an absolute guest path", dir.guest),
                ));
            }
            match std::fs::metadata(&dir.host) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err((
                        format!("{field}.host"),
                        format!("{} is not a directory", dir.host.display()),
                    ));
                }
                Err(e) => {
                    return Err((
                        format!("{field}.host"),
                        format!("cannot read {}: {e}", dir.host.display()),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults_the_guest_path() {
        let grants: WasiGrants =
            toml::from_str("env = [\"LANG\"]\ndir = { host = \"/tmp\" }\n").expect("toml");
        assert_eq!(grants.env, vec!["LANG".to_string()]);
        let dir = grants.dir.as_ref().expect("dir");
        assert_eq!(dir.guest, DEFAULT_GUEST_DIR);
        assert!(!grants.is_empty());
        assert!(WasiGrants::default().is_empty());
        grants.check("t").expect("valid");
        let unknown = toml::from_str::<WasiGrants>("network = true\n").expect_err("no network");
        assert!(unknown.to_string().contains("network"), "{unknown}");
    }

    #[test]
    fn refuses_bad_names_relative_guest_paths_and_missing_dirs() {
        let env = WasiGrants {
            env: vec!["A=B".into()],
            dir: None,
        };
        assert_eq!(env.check("t").expect_err("bad").0, "actors.t.wasi.env[0]");
        let dir = |host: &str, guest: &str| WasiGrants {
            env: vec![],
            dir: Some(ReadOnlyDir {
                host: host.into(),
                guest: guest.into(),
            }),
        };
        assert_eq!(
            dir("/tmp", "data").check("t").expect_err("relative").0,
            "actors.t.wasi.dir.guest"
        );
        let (field, reason) = dir("/nonexistent-wapr-dir", "/d")
            .check("t")
            .expect_err("missing");
        assert_eq!(field, "actors.t.wasi.dir.host");
        assert!(reason.contains("nonexistent-wapr-dir"), "{reason}");
    }
}
