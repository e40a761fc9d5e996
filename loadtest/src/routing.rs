//! `--route owner`: send each call straight to the node that owns the actor,
//! as a placement-aware client would, instead of round-robin (where a node
//! that does not own the actor forwards the call: one extra hop).
//!
//! The owner is computed with the same consistent-hash ring the nodes use
//! (`wapr_host::ring`, Dapr's ring), built from the placement table a target
//! reports on `/wapr/v1/cluster`; each target's own `self_name` maps table
//! members to HTTP endpoints. Only wapr nodes report this; against other
//! servers the tool falls back to round-robin and says so.

use std::collections::HashMap;

use wapr_host::ring::HashRing;

use crate::LoadError;
use crate::client::get_json;
use crate::target::Target;

/// Owner lookup for the targets of a run.
#[derive(Debug, Clone)]
pub struct OwnerRoutes {
    rings: HashMap<String, HashRing>,
    target_of_member: HashMap<String, usize>,
    table_version: u64,
}

impl OwnerRoutes {
    /// Reads every target's cluster view and builds the rings of the table
    /// they agree on. Fails when a target is not a clustered wapr node, the
    /// targets disagree on the table, or a member is not among the targets.
    pub async fn discover(
        client: &reqwest::Client,
        targets: &[Target],
    ) -> Result<OwnerRoutes, LoadError> {
        let not_ready = |t: &Target, reason: String| LoadError::NotReady {
            target: t.to_string(),
            reason,
        };
        let mut target_of_member = HashMap::new();
        let mut table: Option<(u64, serde_json::Value)> = None;
        for (i, t) in targets.iter().enumerate() {
            let view = get_json(client, t.cluster_url()).await.ok_or_else(|| {
                not_ready(t, "no /wapr/v1/cluster answer (not a wapr node?)".into())
            })?;
            let cluster = &view["cluster"];
            let (Some(name), Some(version)) = (
                cluster["self_name"].as_str(),
                cluster["table_version"].as_u64(),
            ) else {
                return Err(not_ready(
                    t,
                    "not a clustered node (standalone nodes own every actor)".into(),
                ));
            };
            target_of_member.insert(name.to_string(), i);
            match &table {
                Some((v, _)) if *v != version => {
                    return Err(not_ready(
                        t,
                        format!("its table version {version} differs from another target's {v}"),
                    ));
                }
                Some(_) => {}
                None => table = Some((version, cluster.clone())),
            }
        }
        let (table_version, cluster) =
            table.ok_or_else(|| LoadError::InvalidOption("no targets".into()))?;
        let replication_factor = cluster["replication_factor"]
            .as_u64()
            .filter(|rf| *rf > 0)
            .ok_or_else(|| LoadError::Internal("the table has no replication factor".into()))?;
        let mut hosts_of_type: HashMap<String, Vec<String>> = HashMap::new();
        for member in cluster["members"].as_array().into_iter().flatten() {
            let Some(name) = member["name"].as_str() else {
                continue;
            };
            if !target_of_member.contains_key(name) {
                return Err(LoadError::InvalidOption(format!(
                    "--route owner: table member {name} is not one of the targets (list every node with --target)"
                )));
            }
            for entity in member["entities"].as_array().into_iter().flatten() {
                if let Some(actor_type) = entity.as_str() {
                    hosts_of_type
                        .entry(actor_type.to_string())
                        .or_default()
                        .push(name.to_string());
                }
            }
        }
        let rings = hosts_of_type
            .into_iter()
            .map(|(actor_type, hosts)| (actor_type, HashRing::new(hosts, replication_factor)))
            .collect();
        Ok(OwnerRoutes {
            rings,
            target_of_member,
            table_version,
        })
    }

    /// The index of the target owning `actor_type/id`, if the table knows
    /// the type.
    pub fn target_for(&self, actor_type: &str, id: &str) -> Option<usize> {
        let owner = self.rings.get(actor_type)?.lookup(id)?;
        self.target_of_member.get(owner.as_ref()).copied()
    }

    /// The table version the routes were built from.
    pub fn table_version(&self) -> u64 {
        self.table_version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_daprs_ring() {
        let hosts = ["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"];
        let routes = OwnerRoutes {
            rings: HashMap::from([("counter".to_string(), HashRing::new(hosts, 100))]),
            target_of_member: hosts
                .iter()
                .enumerate()
                .map(|(i, h)| ((*h).to_string(), i))
                .collect(),
            table_version: 3,
        };
        let ring = HashRing::new(hosts, 100);
        let mut seen = std::collections::HashSet::new();
        for i in 0..300 {
            let id = format!("id-{i}");
            let t = routes.target_for("counter", &id).expect("routed");
            assert_eq!(hosts[t], ring.lookup(&id).expect("owner").as_ref());
            seen.insert(t);
        }
        assert_eq!(seen.len(), 3, "every node owns some ids");
        assert_eq!(routes.target_for("nosuch", "x"), None);
    }
}
