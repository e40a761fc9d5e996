//! Actor addresses.

use std::fmt;

use crate::bindings::wapr::actor::types as wit;

/// The address of an actor: its type and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorRef {
    /// Actor type, as registered with the host (for example `counter`).
    pub actor_type: String,
    /// Actor id within the type (for example `user-42`).
    pub actor_id: String,
}

impl ActorRef {
    /// Creates an address from a type and an id.
    pub fn new(actor_type: impl Into<String>, actor_id: impl Into<String>) -> Self {
        Self {
            actor_type: actor_type.into(),
            actor_id: actor_id.into(),
        }
    }
}

/// Formats as `type/id`.
impl fmt::Display for ActorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.actor_type, self.actor_id)
    }
}

impl From<wit::ActorRef> for ActorRef {
    fn from(r: wit::ActorRef) -> Self {
        Self::new(r.actor_type, r.actor_id)
    }
}

impl From<ActorRef> for wit::ActorRef {
    fn from(r: ActorRef) -> Self {
        Self {
            actor_type: r.actor_type,
            actor_id: r.actor_id,
        }
    }
}
