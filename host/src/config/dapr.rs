//! What an actor type may reach through Dapr's building blocks: nothing by
//! default. Per type, `[actors.<type>.dapr]` lists the exact pub/sub topics
//! its actors may publish to, the app methods they may invoke, the output
//! bindings and operations they may use and the secrets they may read:
//!
//! ```toml
//! [actors.device-twin.dapr]
//! publish = [{ pubsub = "pubsub", topic = "alerts" }]
//! invoke = [{ app_id = "billing", method = "charge" }]
//! bindings = [{ name = "sms", operation = "create" }]
//! secrets = [{ store = "vault", key = "twin-api-key" }]
//! ```
//!
//! Every entry is an exact pair: no wildcards, so a grant reads as what it
//! allows. Anything not listed is refused before it leaves the node.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest name accepted in a grant (component names, topics, app ids,
/// methods, operations, keys).
pub const MAX_GRANT_NAME_LEN: usize = 256;

/// The building-block grants of one actor type (`[actors.<type>.dapr]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaprGrants {
    /// Pub/sub topics it may publish to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<TopicGrant>,
    /// App methods it may call (service invocation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoke: Vec<InvokeGrant>,
    /// Output bindings and operations it may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<BindingGrant>,
    /// Secrets it may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretGrant>,
}

/// Publishing to `topic` of pub/sub component `pubsub`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicGrant {
    /// The pub/sub component's name.
    pub pubsub: String,
    /// The topic.
    pub topic: String,
}

/// Calling `method` of Dapr app `app_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvokeGrant {
    /// The called app's id.
    pub app_id: String,
    /// The method, exactly as called.
    pub method: String,
}

/// Operation `operation` (e.g. `create`) of output binding `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingGrant {
    /// The binding component's name.
    pub name: String,
    /// The operation.
    pub operation: String,
}

/// Reading secret `key` of secret store `store`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretGrant {
    /// The secret store component's name.
    pub store: String,
    /// The secret's key.
    pub key: String,
}

/// One building-block call an actor asks for, as checked against grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaprCall<'a> {
    /// Publish to `topic` of `pubsub`.
    Publish {
        /// Pub/sub component.
        pubsub: &'a str,
        /// Topic.
        topic: &'a str,
    },
    /// Call `method` of app `app_id`.
    Invoke {
        /// App id.
        app_id: &'a str,
        /// Method.
        method: &'a str,
    },
    /// Operation `operation` of output binding `name`.
    Binding {
        /// Binding component.
        name: &'a str,
        /// Operation.
        operation: &'a str,
    },
    /// Read `key` of secret store `store`.
    Secret {
        /// Secret store component.
        store: &'a str,
        /// Key.
        key: &'a str,
    },
}

impl fmt::Display for DaprCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Publish { pubsub, topic } => write!(f, "publish to {pubsub}/{topic}"),
            Self::Invoke { app_id, method } => write!(f, "invoke {app_id}/{method}"),
            Self::Binding { name, operation } => write!(f, "use binding {name} ({operation})"),
            Self::Secret { store, key } => write!(f, "read secret {store}/{key}"),
        }
    }
}

/// Why a building-block call was refused: the guest sees it as
/// `permission-denied`, the node logs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("actor type {actor_type} may not {call}: it is not granted in [actors.{actor_type}.dapr]")]
pub struct Denied {
    /// The actor type that asked.
    pub actor_type: String,
    /// What it asked for, in words.
    pub call: String,
}

impl DaprGrants {
    /// Whether this grants nothing (the default).
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty()
            && self.invoke.is_empty()
            && self.bindings.is_empty()
            && self.secrets.is_empty()
    }

    /// Whether `call` is granted: its exact pair is listed.
    pub fn allows(&self, call: &DaprCall<'_>) -> bool {
        match *call {
            DaprCall::Publish { pubsub, topic } => self
                .publish
                .iter()
                .any(|g| g.pubsub == pubsub && g.topic == topic),
            DaprCall::Invoke { app_id, method } => self
                .invoke
                .iter()
                .any(|g| g.app_id == app_id && g.method == method),
            DaprCall::Binding { name, operation } => self
                .bindings
                .iter()
                .any(|g| g.name == name && g.operation == operation),
            DaprCall::Secret { store, key } => self
                .secrets
                .iter()
                .any(|g| g.store == store && g.key == key),
        }
    }

    /// `Ok` if `call` is granted to `actor_type`, else why not.
    ///
    /// # Errors
    /// [`Denied`], naming the type and the call.
    pub fn check_call(&self, actor_type: &str, call: &DaprCall<'_>) -> Result<(), Denied> {
        if self.allows(call) {
            Ok(())
        } else {
            Err(Denied {
                actor_type: actor_type.to_string(),
                call: call.to_string(),
            })
        }
    }

    /// Checks the grants of type `name`: what is wrong, as `(field, reason)`.
    pub fn check(&self, name: &str) -> Result<(), (String, String)> {
        let field =
            |list: &str, i: usize, part: &str| format!("actors.{name}.dapr.{list}[{i}].{part}");
        let pairs = self
            .publish
            .iter()
            .enumerate()
            .flat_map(|(i, g)| {
                [
                    (field("publish", i, "pubsub"), &g.pubsub),
                    (field("publish", i, "topic"), &g.topic),
                ]
            })
            .chain(self.invoke.iter().enumerate().flat_map(|(i, g)| {
                [
                    (field("invoke", i, "app_id"), &g.app_id),
                    (field("invoke", i, "method"), &g.method),
                ]
            }))
            .chain(self.bindings.iter().enumerate().flat_map(|(i, g)| {
                [
                    (field("bindings", i, "name"), &g.name),
                    (field("bindings", i, "operation"), &g.operation),
                ]
            }))
            .chain(self.secrets.iter().enumerate().flat_map(|(i, g)| {
                [
                    (field("secrets", i, "store"), &g.store),
                    (field("secrets", i, "key"), &g.key),
                ]
            }));
        for (field, value) in pairs {
            let problem = if value.is_empty() {
                Some("must not be empty")
            } else if value.len() > MAX_GRANT_NAME_LEN {
                Some("is too long")
            } else if value.chars().any(char::is_control) {
                Some("must not contain control characters")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err((field, format!("{value:?} {problem}")));
            }
        }
        Ok(())
    }
}

/// One line for the start-up log: every grant, or `none`.
impl fmt::Display for DaprGrants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let calls = self
            .publish
            .iter()
            .map(|g| DaprCall::Publish {
                pubsub: &g.pubsub,
                topic: &g.topic,
            })
            .chain(self.invoke.iter().map(|g| DaprCall::Invoke {
                app_id: &g.app_id,
                method: &g.method,
            }))
            .chain(self.bindings.iter().map(|g| DaprCall::Binding {
                name: &g.name,
                operation: &g.operation,
            }))
            .chain(self.secrets.iter().map(|g| DaprCall::Secret {
                store: &g.store,
                key: &g.key,
            }));
        for (i, call) in calls.enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{call}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> DaprGrants {
        toml::from_str(
            r#"
            publish = [{ pubsub = "pubsub", topic = "alerts" }]
            invoke = [{ app_id = "billing", method = "charge" }]
            bindings = [{ name = "sms", operation = "create" }]
            secrets = [{ store = "vault", key = "api-key" }]
            "#,
        )
        .expect("parse")
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let none = DaprGrants::default();
        assert!(none.is_empty());
        assert_eq!(none.to_string(), "none");
        for call in [
            DaprCall::Publish {
                pubsub: "pubsub",
                topic: "alerts",
            },
            DaprCall::Invoke {
                app_id: "billing",
                method: "charge",
            },
            DaprCall::Binding {
                name: "sms",
                operation: "create",
            },
            DaprCall::Secret {
                store: "vault",
                key: "api-key",
            },
        ] {
            assert!(!none.allows(&call), "{call}");
            assert!(grants().allows(&call), "{call}");
        }
    }

    #[test]
    fn only_the_exact_pair_is_granted() {
        let g = grants();
        let denied = [
            DaprCall::Publish {
                pubsub: "pubsub",
                topic: "alerts2",
            },
            DaprCall::Publish {
                pubsub: "other",
                topic: "alerts",
            },
            DaprCall::Invoke {
                app_id: "billing",
                method: "refund",
            },
            DaprCall::Invoke {
                app_id: "billing",
                method: "charge/extra",
            },
            DaprCall::Binding {
                name: "sms",
                operation: "delete",
            },
            DaprCall::Secret {
                store: "vault",
                key: "*",
            },
            // A pair granted for one building block grants nothing in
            // another.
            DaprCall::Secret {
                store: "pubsub",
                key: "alerts",
            },
        ];
        for call in denied {
            assert!(!g.allows(&call), "{call}");
        }
        let err = g
            .check_call(
                "device-twin",
                &DaprCall::Publish {
                    pubsub: "pubsub",
                    topic: "x",
                },
            )
            .expect_err("denied");
        assert_eq!(
            err.to_string(),
            "actor type device-twin may not publish to pubsub/x: it is not granted in [actors.device-twin.dapr]"
        );
    }

    #[test]
    fn the_start_up_line_lists_every_grant() {
        assert_eq!(
            grants().to_string(),
            "publish to pubsub/alerts; invoke billing/charge; use binding sms (create); read secret vault/api-key"
        );
    }

    #[test]
    fn bad_grants_name_their_field() {
        let mut g = grants();
        assert_eq!(g.check("twin"), Ok(()));
        g.invoke[0].method = String::new();
        let (field, reason) = g.check("twin").expect_err("empty");
        assert_eq!(field, "actors.twin.dapr.invoke[0].method");
        assert!(reason.contains("must not be empty"), "{reason}");
        let mut g = grants();
        g.secrets[0].key = "a\nb".into();
        assert_eq!(
            g.check("twin").expect_err("control").0,
            "actors.twin.dapr.secrets[0].key"
        );
        let mut g = grants();
        g.publish[0].topic = "t".repeat(MAX_GRANT_NAME_LEN + 1);
        assert!(g.check("twin").expect_err("long").1.contains("too long"));
    }

    #[test]
    fn unknown_keys_and_wildcard_shorthands_are_refused() {
        let err = toml::from_str::<DaprGrants>(r#"publish = ["pubsub/alerts"]"#)
            .expect_err("a string is not a grant");
        assert!(err.to_string().contains("publish"), "{err}");
        let err = toml::from_str::<DaprGrants>(r#"state = []"#).expect_err("unknown");
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
