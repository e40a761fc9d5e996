//! Dapr's placement protocol: the client every node runs, and the embedded
//! server `wapr placement` / `wapr dev` run.
//!
//! Both speak `dapr.proto.placement.v1.Placement/ReportDaprStatus` exactly
//! as `shared/docs/dapr-protocol.md` §1 describes it, so a wapr node can join
//! a real Dapr placement service and a real `daprd` can use wapr's server.
//!
//! - [`client`]: one `ReportDaprStatus` stream per node; gen B acks, gen A
//!   fallback, address rotation, reconnect with backoff. It hands every
//!   `lock`/`update`/`unlock` to a [`TableListener`].
//! - [`server`]: the embedded placement service, gen B rounds with acks.

pub mod client;
pub mod server;

use wapr_proto::dapr::proto::placement::v1 as pb;

use crate::state::BoxFuture;

pub use pb::{Host, HostOperation, PlacementOrder, PlacementTable, PlacementTables};

/// The API level every daprd has reported since 1.13; wapr reports the same.
pub const API_LEVEL: u32 = 20;

/// Dapr's self-hosted placement port (`dapr init`, `dapr run`).
pub const DEFAULT_PLACEMENT_PORT: u16 = 50005;

/// Dapr's default number of virtual nodes per host.
pub const DEFAULT_REPLICATION_FACTOR: i64 = 100;

/// The namespace daprd uses when `NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The order strings, exactly as on the wire (lower case).
pub mod operation {
    /// Block lookups for the types about to change.
    pub const LOCK: &str = "lock";
    /// New tables.
    pub const UPDATE: &str = "update";
    /// Round complete: unblock.
    pub const UNLOCK: &str = "unlock";
}

/// The namespace a node reports: env `NAMESPACE`, or `"default"` (as daprd).
pub fn current_namespace() -> String {
    match std::env::var("NAMESPACE") {
        Ok(ns) if !ns.is_empty() => ns,
        _ => DEFAULT_NAMESPACE.to_string(),
    }
}

/// What a placement client does with the orders it receives. The node's
/// cluster view implements it (rings, blocking, draining).
///
/// Calls arrive in protocol order for one stream; a new stream (after a
/// reconnect) starts with [`TableListener::disconnected`] having been called
/// for the old one.
pub trait TableListener: Send + Sync + 'static {
    /// `lock` for round `version`: the tables are about to change. Quick;
    /// lookups keep using the current table (gen B) until `update`.
    fn lock(&self, version: u64);

    /// `update` for round `version` with the new tables. The returned future
    /// completes once the node has applied them: rings rebuilt, lookups for
    /// changed types blocked, actors it no longer owns drained and
    /// deactivated. The client sends the `UPDATE` ack only after that.
    fn update(&self, version: u64, tables: PlacementTables) -> BoxFuture<'_, ()>;

    /// `unlock` for round `version`: unblock, the node is ready.
    fn unlock(&self, version: u64);

    /// The stream to placement is gone (error, rotation, dissemination
    /// timeout). The node treats its table as stale: like daprd, it halts
    /// (drains and deactivates) its local actors and waits for new tables.
    /// Returns once that is done, before the client reconnects.
    fn disconnected(&self) -> BoxFuture<'_, ()>;
}
