//! The node's view of the cluster: the placement table it last received,
//! one Dapr hash ring per actor type, and which types a dissemination round
//! currently holds.
//!
//! [`ClusterView`] is the [`TableListener`] the placement client drives:
//!
//! - `update`: rebuild the rings, block lookups for the types whose ring
//!   changed, drain and deactivate the local actors this node no longer owns
//!   (running turns get the drain timeout, then are interrupted and their
//!   writes discarded). The client acks `UPDATE` only after that, and the
//!   placement server sends `unlock` only after every node acked, so the new
//!   owner cannot activate an actor the old owner is still running.
//! - `unlock`: unblock; before the first one every lookup waits.
//! - `disconnected`: like daprd, halt every local actor and wait for tables.
//!
//! The router asks it who owns an actor ([`ClusterView::resolve`], which
//! waits, bounded, while a round holds the type); the runtime asks it
//! before every activation ([`ActivationGate`]): a node activates only
//! actors it owns under its current table, outside a round.

pub mod forward;
pub mod internal;
pub mod peers;
pub mod wire;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::actor_key::ActorKey;
use crate::actors::{ActivationGate, ActorRuntime};
use crate::error::CallError;
use crate::placement::{PlacementTables, TableListener};
use crate::ring::HashRing;
use crate::state::BoxFuture;

/// Where an actor lives under the current table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// On this node.
    Local,
    /// On another host, reached at its advertised address.
    Remote {
        /// `Host.name`: the address to dial for `CallActor`.
        address: Arc<str>,
        /// `Host.id`: the owner's app id.
        app_id: Arc<str>,
    },
}

/// One host in the placement table.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Member {
    /// The address other hosts dial (`Host.name`).
    pub name: String,
    /// Its app id.
    pub app_id: String,
    /// The actor types it hosts.
    pub entities: Vec<String>,
}

/// A placement table, as rings ready for lookups.
#[derive(Debug, Default)]
pub struct Table {
    /// The round that delivered it.
    pub version: u64,
    /// Virtual nodes per host.
    pub replication_factor: i64,
    /// Every host in the table, by name.
    pub members: BTreeMap<String, Member>,
    rings: HashMap<String, Arc<HashRing>>,
}

impl Table {
    /// Builds the rings from Dapr's tables: one per actor type, from the
    /// `load_map` keys, with the table's replication factor.
    pub fn from_placement(version: u64, tables: &PlacementTables) -> Self {
        let rf = tables.replication_factor;
        let vnodes = u64::try_from(rf).unwrap_or(0);
        let mut members: BTreeMap<String, Member> = BTreeMap::new();
        let mut rings = HashMap::with_capacity(tables.entries.len());
        for (actor_type, table) in &tables.entries {
            rings.insert(
                actor_type.clone(),
                Arc::new(HashRing::new(table.load_map.keys(), vnodes)),
            );
            for (name, host) in &table.load_map {
                let member = members.entry(name.clone()).or_insert_with(|| Member {
                    name: name.clone(),
                    app_id: host.id.clone(),
                    entities: Vec::new(),
                });
                member.entities.push(actor_type.clone());
            }
        }
        for member in members.values_mut() {
            member.entities.sort();
        }
        Self {
            version,
            replication_factor: rf,
            members,
            rings,
        }
    }

    /// The name of the host owning `actor_type`/`actor_id`, or `None` if no
    /// host has the type (or its ring is empty).
    pub fn owner(&self, actor_type: &str, actor_id: &str) -> Option<&Arc<str>> {
        self.rings.get(actor_type)?.lookup(actor_id)
    }

    /// Types whose ring differs between `self` and `newer` (hosts or
    /// replication factor), including types added or removed.
    pub fn changed_types(&self, newer: &Table) -> HashSet<String> {
        let same_rf = self.replication_factor == newer.replication_factor;
        let mut changed = HashSet::new();
        for (actor_type, ring) in &newer.rings {
            match self.rings.get(actor_type) {
                Some(old) if same_rf && old.hosts() == ring.hosts() => {}
                _ => {
                    changed.insert(actor_type.clone());
                }
            }
        }
        for actor_type in self.rings.keys() {
            if !newer.rings.contains_key(actor_type) {
                changed.insert(actor_type.clone());
            }
        }
        changed
    }
}

/// How a node takes part in the cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The address this node advertises (`Host.name`).
    pub self_name: String,
    /// How long running turns of actors that moved away may finish before
    /// they are interrupted (Dapr's `drainOngoingCallTimeout`, default 2 s).
    pub drain_timeout: Duration,
    /// How long a call may wait for a routable table and retry a moved or
    /// unreachable owner before it fails.
    pub route_budget: Duration,
}

#[derive(Default)]
struct ViewState {
    table: Arc<Table>,
    /// A table has been unlocked at least once since the last disconnect.
    ready: bool,
    /// Types held by the round in flight (between `update` and `unlock`).
    blocked: HashSet<String>,
    /// The last `lock` seen.
    locked_version: u64,
}

/// What [`ClusterView::status`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// This node's advertised address.
    pub self_name: String,
    /// Whether lookups are being answered (a table is unlocked).
    pub ready: bool,
    /// The version of the table in use.
    pub table_version: u64,
    /// Virtual nodes per host in that table.
    pub replication_factor: i64,
    /// Types a round currently holds.
    pub blocked_types: Vec<String>,
    /// Every host in the table.
    pub members: Vec<Member>,
    /// Rounds applied since start.
    pub rounds_applied: u64,
    /// Actors deactivated because they moved away.
    pub actors_moved_out: u64,
}

/// The node's placement-driven view of who owns what.
pub struct ClusterView {
    settings: ClusterSettings,
    state: RwLock<ViewState>,
    changed: watch::Sender<()>,
    runtime: Arc<ActorRuntime>,
    forwarder: forward::Forwarder,
    rounds: AtomicU64,
    moved_out: AtomicU64,
}

/// How a lookup went without waiting.
enum Lookup {
    Found(Owner),
    NoType,
    Wait,
}

impl ClusterView {
    /// A view with no table yet (every lookup waits for the first one);
    /// calls to other hosts go through `forwarder`.
    pub fn new(
        settings: ClusterSettings,
        runtime: Arc<ActorRuntime>,
        forwarder: forward::Forwarder,
    ) -> Arc<Self> {
        let (changed, _) = watch::channel(());
        Arc::new(Self {
            settings,
            state: RwLock::new(ViewState::default()),
            changed,
            runtime,
            forwarder,
            rounds: AtomicU64::new(0),
            moved_out: AtomicU64::new(0),
        })
    }

    /// The settings this view runs with.
    pub fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// The table in use.
    pub fn table(&self) -> Arc<Table> {
        Arc::clone(&self.read().table)
    }

    /// A snapshot for `wapr status` and `/wapr/v1/cluster`.
    pub fn status(&self) -> ClusterStatus {
        let state = self.read();
        let mut blocked: Vec<String> = state.blocked.iter().cloned().collect();
        blocked.sort();
        ClusterStatus {
            self_name: self.settings.self_name.clone(),
            ready: state.ready,
            table_version: state.table.version,
            replication_factor: state.table.replication_factor,
            blocked_types: blocked,
            members: state.table.members.values().cloned().collect(),
            rounds_applied: self.rounds.load(Ordering::Relaxed),
            actors_moved_out: self.moved_out.load(Ordering::Relaxed),
        }
    }

    /// Who owns `key`, waiting (until `deadline`) while no table is ready
    /// or a round holds the actor's type.
    pub async fn resolve(&self, key: &ActorKey, deadline: Instant) -> Result<Owner, CallError> {
        let started = Instant::now();
        let mut changes = self.changed.subscribe();
        loop {
            match self.lookup(key) {
                Lookup::Found(owner) => return Ok(owner),
                Lookup::NoType => {
                    return Err(CallError::UnknownType {
                        actor_type: key.actor_type().to_string(),
                        actor_id: key.actor_id().to_string(),
                    });
                }
                Lookup::Wait => {}
            }
            let waited = tokio::time::timeout_at(deadline.into(), changes.changed()).await;
            if !matches!(waited, Ok(Ok(()))) {
                return Err(CallError::PlacementNotReady {
                    actor_type: key.actor_type().to_string(),
                    waited: started.elapsed(),
                });
            }
        }
    }

    /// Forwards `call` to the host at `address` (see [`forward::Forwarder`]).
    pub async fn forward(
        &self,
        address: &Arc<str>,
        call: &crate::call::CallRequest,
        trace: &opentelemetry::trace::SpanContext,
    ) -> Result<bytes::Bytes, CallError> {
        self.forwarder.call(address, call, trace).await
    }

    /// Forwards a timer or reminder fire to the host at `address`.
    pub async fn forward_fire(
        &self,
        address: &Arc<str>,
        fire: &crate::call::FireRequest,
        trace: &opentelemetry::trace::SpanContext,
    ) -> Result<(), CallError> {
        self.forwarder.fire(address, fire, trace).await
    }

    /// Whether this node may run a turn of `key` now: it owns the actor
    /// under its current table and no round holds the type.
    pub fn owns_now(&self, key: &ActorKey) -> bool {
        matches!(self.lookup(key), Lookup::Found(Owner::Local))
    }

    fn lookup(&self, key: &ActorKey) -> Lookup {
        let state = self.read();
        if !state.ready || state.blocked.contains(key.actor_type()) {
            return Lookup::Wait;
        }
        match state.table.owner(key.actor_type(), key.actor_id()) {
            None => Lookup::NoType,
            Some(name) if self.is_self(name) => Lookup::Found(Owner::Local),
            Some(name) => Lookup::Found(Owner::Remote {
                address: Arc::clone(name),
                app_id: state
                    .table
                    .members
                    .get(name.as_ref())
                    .map_or_else(|| Arc::from(""), |m| Arc::from(m.app_id.as_str())),
            }),
        }
    }

    /// Dapr's locality test: the same name, or both localhost forms with the
    /// same port.
    fn is_self(&self, name: &str) -> bool {
        let own = self.settings.self_name.as_str();
        if name == own {
            return true;
        }
        match (split_host_port(own), split_host_port(name)) {
            (Some((own_host, own_port)), Some((host, port))) => {
                own_port == port && is_localhost(own_host) && is_localhost(host)
            }
            _ => false,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ViewState> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ViewState> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn apply_update(&self, version: u64, tables: PlacementTables) {
        let newer = Table::from_placement(version, &tables);
        let changed = {
            let mut state = self.write();
            let changed = state.table.changed_types(&newer);
            state.blocked.extend(changed.iter().cloned());
            state.table = Arc::new(newer);
            changed
        };
        self.changed.send_replace(());
        self.rounds.fetch_add(1, Ordering::Relaxed);
        let table = self.table();
        // Drop pooled connections to hosts that left the table.
        self.forwarder
            .retain(|address| table.members.contains_key(address));
        let moved = self
            .runtime
            .drain_where(
                |key| changed.contains(key.actor_type()) && !self.owned_by_self(&table, key),
                self.settings.drain_timeout,
            )
            .await;
        self.moved_out.fetch_add(moved as u64, Ordering::Relaxed);
        tracing::info!(
            version,
            changed_types = changed.len(),
            members = table.members.len(),
            moved_out = moved,
            "placement table applied"
        );
    }

    fn owned_by_self(&self, table: &Table, key: &ActorKey) -> bool {
        table
            .owner(key.actor_type(), key.actor_id())
            .is_some_and(|name| self.is_self(name))
    }
}

impl ActivationGate for ClusterView {
    fn may_activate(&self, key: &ActorKey) -> bool {
        self.owns_now(key)
    }
}

impl TableListener for ClusterView {
    fn lock(&self, version: u64) {
        self.write().locked_version = version;
        tracing::debug!(version, "placement lock");
    }

    fn update(&self, version: u64, tables: PlacementTables) -> BoxFuture<'_, ()> {
        Box::pin(self.apply_update(version, tables))
    }

    fn unlock(&self, version: u64) {
        {
            let mut state = self.write();
            state.blocked.clear();
            state.ready = true;
        }
        self.changed.send_replace(());
        tracing::debug!(version, "placement unlock: ready");
    }

    fn disconnected(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            {
                let mut state = self.write();
                state.ready = false;
                state.blocked.clear();
            }
            self.changed.send_replace(());
            let halted = self
                .runtime
                .drain_where(|_| true, self.settings.drain_timeout)
                .await;
            tracing::warn!(
                halted,
                "lost the placement stream: halted every local actor until new tables arrive"
            );
        })
    }
}

fn split_host_port(address: &str) -> Option<(&str, &str)> {
    let (host, port) = address.rsplit_once(':')?;
    Some((host.trim_start_matches('[').trim_end_matches(']'), port))
}

fn is_localhost(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::{Host, PlacementTable};

    fn tables(version: u64, hosts: &[&str], types: &[&str]) -> PlacementTables {
        let mut entries = std::collections::HashMap::new();
        for t in types {
            let mut table = PlacementTable::default();
            for h in hosts {
                table.load_map.insert(
                    (*h).to_string(),
                    Host {
                        name: (*h).to_string(),
                        id: "app".into(),
                        ..Host::default()
                    },
                );
            }
            entries.insert((*t).to_string(), table);
        }
        PlacementTables {
            entries,
            version: version.to_string(),
            api_level: 0,
            replication_factor: 100,
        }
    }

    #[test]
    fn table_owners_match_the_ring() {
        let hosts = ["127.0.0.1:50001", "127.0.0.1:50002", "127.0.0.1:50003"];
        let table = Table::from_placement(1, &tables(1, &hosts, &["counter"]));
        // Spot checks from shared/docs/dapr-protocol.md §2.2.
        assert_eq!(
            table.owner("counter", "0").map(|s| s.to_string()),
            Some("127.0.0.1:50002".into())
        );
        assert_eq!(
            table.owner("counter", "1").map(|s| s.to_string()),
            Some("127.0.0.1:50001".into())
        );
        assert!(table.owner("other", "1").is_none());
        assert_eq!(table.members.len(), 3);
    }

    #[test]
    fn changed_types_are_the_ones_whose_hosts_or_rf_changed() {
        let two = Table::from_placement(1, &tables(1, &["a:1", "b:1"], &["x", "y"]));
        let three_x = {
            let mut t = tables(2, &["a:1", "b:1"], &["y"]);
            t.entries
                .extend(tables(2, &["a:1", "b:1", "c:1"], &["x", "z"]).entries);
            Table::from_placement(2, &t)
        };
        let mut changed: Vec<_> = two.changed_types(&three_x).into_iter().collect();
        changed.sort();
        assert_eq!(changed, vec!["x".to_string(), "z".to_string()]);
        let mut gone: Vec<_> = three_x.changed_types(&two).into_iter().collect();
        gone.sort();
        assert_eq!(gone, vec!["x".to_string(), "z".to_string()]);
        let mut rf = tables(3, &["a:1", "b:1"], &["x", "y"]);
        rf.replication_factor = 10;
        assert_eq!(two.changed_types(&Table::from_placement(3, &rf)).len(), 2);
    }

    #[test]
    fn localhost_forms_with_the_same_port_are_local() {
        assert_eq!(split_host_port("[::1]:50001"), Some(("::1", "50001")));
        assert!(is_localhost("127.0.0.1") && is_localhost("localhost"));
        assert!(!is_localhost("10.0.0.1"));
    }
}
