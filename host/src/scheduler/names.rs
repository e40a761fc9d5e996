//! Job identities as Dapr's Scheduler composes and checks them
//! (dapr-scheduler.md §5): `actorreminder||<ns>||<type>||<id>||<name>` for an
//! actor reminder, `app||<ns>||<appId>||<name>` for an app job; every
//! segment must be a DNS-1123 subdomain once `_`, `:`, `-` and spaces are
//! removed and it is lowercased.

use wapr_proto::dapr::proto::scheduler::v1::{
    JobMetadata, JobTargetMetadata, TargetActorReminder, TargetJob, job_target_metadata,
};

use super::SchedulerError;

/// The separator of composed job names.
pub const SEPARATOR: &str = "||";

/// What a job is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A job of an app (Dapr's Jobs API).
    App {
        /// The namespace.
        namespace: String,
        /// The app id.
        app_id: String,
    },
    /// An actor reminder.
    Actor {
        /// The namespace.
        namespace: String,
        /// The actor type.
        actor_type: String,
        /// The actor id; empty in a type-wide query.
        actor_id: String,
    },
}

impl Target {
    /// Reads the target of `metadata`, checking namespace and app id as the
    /// Scheduler does before anything else.
    ///
    /// # Errors
    /// `InvalidArgument` "missing namespace or appID in request", or
    /// `Unknown` "unknown job type" for a missing target.
    pub fn from_metadata(metadata: Option<&JobMetadata>) -> Result<Self, SchedulerError> {
        let Some(metadata) = metadata else {
            return Err(SchedulerError::invalid_argument(
                "missing namespace or appID in request",
            ));
        };
        if metadata.namespace.is_empty() || metadata.app_id.is_empty() {
            return Err(SchedulerError::invalid_argument(
                "missing namespace or appID in request",
            ));
        }
        match metadata.target.as_ref().and_then(|t| t.r#type.as_ref()) {
            Some(job_target_metadata::Type::Job(_)) => Ok(Self::App {
                namespace: metadata.namespace.clone(),
                app_id: metadata.app_id.clone(),
            }),
            Some(job_target_metadata::Type::Actor(actor)) => Ok(Self::Actor {
                namespace: metadata.namespace.clone(),
                actor_type: actor.r#type.clone(),
                actor_id: actor.id.clone(),
            }),
            None => Err(SchedulerError::unknown(format!(
                "unknown job type: {:?}",
                metadata.target
            ))),
        }
    }

    /// The prefix every job name of this target starts with (ending in
    /// `||`); for a type-wide actor query, the type's prefix.
    pub fn prefix(&self) -> String {
        match self {
            Self::App { namespace, app_id } => format!("app||{namespace}||{app_id}||"),
            Self::Actor {
                namespace,
                actor_type,
                actor_id,
            } if actor_id.is_empty() => format!("actorreminder||{namespace}||{actor_type}||"),
            Self::Actor {
                namespace,
                actor_type,
                actor_id,
            } => format!("actorreminder||{namespace}||{actor_type}||{actor_id}||"),
        }
    }

    /// The composed name of job `name` of this target.
    pub fn compose(&self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }

    /// Where fires of this target go: its namespace and its actor type, or
    /// its app id.
    pub fn route(&self) -> Route {
        match self {
            Self::App { namespace, app_id } => Route::App {
                namespace: namespace.clone(),
                app_id: app_id.clone(),
            },
            Self::Actor {
                namespace,
                actor_type,
                ..
            } => Route::ActorType {
                namespace: namespace.clone(),
                actor_type: actor_type.clone(),
            },
        }
    }
}

/// Where the fires of a job are delivered: to a stream that watches it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// Streams of the app in the namespace.
    App {
        /// The namespace.
        namespace: String,
        /// The app id.
        app_id: String,
    },
    /// Streams that announced the actor type in the namespace (any app).
    ActorType {
        /// The namespace.
        namespace: String,
        /// The actor type.
        actor_type: String,
    },
}

/// Checks a composed name (or a prefix, given as `prefix + "a"`) as the
/// Scheduler does.
///
/// # Errors
/// `Unknown` with `job name is invalid "<sanitized>": …`.
pub fn validate(composed: &str) -> Result<(), SchedulerError> {
    let sanitized: String = composed
        .chars()
        .filter(|c| !matches!(c, '_' | ':' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    for segment in sanitized.split(SEPARATOR) {
        if let Err(reason) = dns1123_subdomain(segment) {
            return Err(SchedulerError::unknown(format!(
                "job name is invalid {sanitized:?}: {reason}"
            )));
        }
    }
    Ok(())
}

/// Kubernetes' `IsDNS1123Subdomain` on a string that no longer holds `-`.
fn dns1123_subdomain(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("a segment must not be empty");
    }
    if segment.len() > 253 {
        return Err("a segment must be no more than 253 characters");
    }
    for label in segment.split('.') {
        if label.is_empty()
            || !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            );
        }
    }
    Ok(())
}

/// `JobMetadata` of an actor reminder, as daprd sends it.
pub fn actor_metadata(
    app_id: &str,
    namespace: &str,
    actor_type: &str,
    actor_id: &str,
) -> JobMetadata {
    JobMetadata {
        app_id: app_id.to_string(),
        namespace: namespace.to_string(),
        target: Some(JobTargetMetadata {
            r#type: Some(job_target_metadata::Type::Actor(TargetActorReminder {
                id: actor_id.to_string(),
                r#type: actor_type.to_string(),
            })),
        }),
        concurrency_key: None,
    }
}

/// `JobMetadata` of an app job.
pub fn app_metadata(app_id: &str, namespace: &str) -> JobMetadata {
    JobMetadata {
        app_id: app_id.to_string(),
        namespace: namespace.to_string(),
        target: Some(JobTargetMetadata {
            r#type: Some(job_target_metadata::Type::Job(TargetJob {})),
        }),
        concurrency_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compose_as_daprs_scheduler_composes_them() {
        let target = Target::from_metadata(Some(&actor_metadata("app", "default", "T", "1")))
            .expect("target");
        assert_eq!(target.compose("r"), "actorreminder||default||T||1||r");
        let by_type = Target::Actor {
            namespace: "default".into(),
            actor_type: "T".into(),
            actor_id: String::new(),
        };
        assert_eq!(by_type.prefix(), "actorreminder||default||T||");
        let app = Target::from_metadata(Some(&app_metadata("app", "ns"))).expect("target");
        assert_eq!(app.compose("j"), "app||ns||app||j");
    }

    #[test]
    fn metadata_without_namespace_app_or_target_is_refused() {
        let err = Target::from_metadata(Some(&actor_metadata("", "default", "T", "1")))
            .expect_err("no app");
        assert_eq!(err.code, tonic::Code::InvalidArgument);
        assert_eq!(err.message, "missing namespace or appID in request");
        let mut no_target = app_metadata("app", "ns");
        no_target.target = None;
        let err = Target::from_metadata(Some(&no_target)).expect_err("no target");
        assert_eq!(err.code, tonic::Code::Unknown);
        assert!(
            err.message.starts_with("unknown job type"),
            "{}",
            err.message
        );
    }

    #[test]
    fn segments_must_be_dns_subdomains_after_sanitising() {
        for ok in [
            "actorreminder||default||counter||user-42||tick",
            "actorreminder||default||My_Type||a:b||Daily Report",
            "app||ns||app||job.v1",
        ] {
            validate(ok).unwrap_or_else(|e| panic!("{ok}: {}", e.message));
        }
        for bad in [
            "actorreminder||default||counter||a/b||r",
            "actorreminder||default||counter||user@42||r",
            "actorreminder||default||counter||.x||r",
            "actorreminder||default||counter||x.||r",
            "actorreminder||default||counter||---||r",
            "actorreminder||default||counter||ünï||r",
        ] {
            let err = validate(bad).expect_err(bad);
            assert!(
                err.message.starts_with("job name is invalid"),
                "{}",
                err.message
            );
        }
    }
}
