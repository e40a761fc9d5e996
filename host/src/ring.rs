//! Dapr's consistent hash ring: which host owns an actor.
//!
//! Built exactly as daprd builds it (`pkg/placement/hashing/consistent_hash.go`,
//! identical from v1.14 to v1.18), so wapr nodes and real sidecars agree on
//! every owner:
//!
//! - one ring per actor type, built from the host names (the `load_map` keys
//!   of the placement table);
//! - `H(s)` = the first 8 bytes of unkeyed BLAKE2b-512 of `s`, little-endian;
//! - each host contributes `replication_factor` virtual nodes,
//!   `H(name + decimal(i))` for `i` in `0..replication_factor`, with no
//!   separator (`"127.0.0.1:50001" + "0"`);
//! - an actor is looked up by its id alone: the first virtual node whose hash
//!   is `>= H(id)`, wrapping to the first one.
//!
//! Verified against vectors produced by running Dapr's own code
//! (`testdata/dapr/`).

use std::sync::Arc;

use blake2::{Blake2b512, Digest};

/// Dapr's ring hash: the first 8 bytes of BLAKE2b-512, read little-endian.
pub fn dapr_hash(key: &str) -> u64 {
    let digest = Blake2b512::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The ring of one actor type.
#[derive(Debug, Clone, Default)]
pub struct HashRing {
    /// Virtual-node hashes, ascending, each with the index of its host.
    vnodes: Vec<(u64, u32)>,
    hosts: Vec<Arc<str>>,
}

impl HashRing {
    /// Builds the ring for `hosts` (names as other hosts dial them) with
    /// `replication_factor` virtual nodes each. Duplicate names count once.
    pub fn new<S: AsRef<str>>(hosts: impl IntoIterator<Item = S>, replication_factor: u64) -> Self {
        let mut names: Vec<Arc<str>> = hosts.into_iter().map(|h| Arc::from(h.as_ref())).collect();
        names.sort();
        names.dedup();
        let per_host = usize::try_from(replication_factor).unwrap_or(0);
        let mut vnodes = Vec::with_capacity(names.len().saturating_mul(per_host));
        let mut key = String::new();
        for (index, name) in names.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            for i in 0..replication_factor {
                key.clear();
                key.push_str(name);
                key.push_str(&i.to_string());
                vnodes.push((dapr_hash(&key), index));
            }
        }
        // Dapr keeps a map from vnode hash to host, so on the (never seen)
        // collision of two hosts' vnodes one of them wins; here the host
        // whose name sorts first does, deterministically.
        vnodes.sort_unstable();
        vnodes.dedup_by_key(|(hash, _)| *hash);
        Self {
            vnodes,
            hosts: names,
        }
    }

    /// The host owning `actor_id`, or `None` for an empty ring (Dapr: "no
    /// hosts added").
    pub fn lookup(&self, actor_id: &str) -> Option<&Arc<str>> {
        if self.vnodes.is_empty() {
            return None;
        }
        let hash = dapr_hash(actor_id);
        let at = self.vnodes.partition_point(|(vnode, _)| *vnode < hash);
        let (_, host) = self.vnodes.get(at).unwrap_or(&self.vnodes[0]);
        self.hosts.get(*host as usize)
    }

    /// The hosts of the ring, sorted.
    pub fn hosts(&self) -> &[Arc<str>] {
        &self.hosts
    }

    /// Whether the ring has no hosts.
    pub fn is_empty(&self) -> bool {
        self.vnodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    fn testdata(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/dapr")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[derive(Deserialize)]
    struct RawVector {
        key: String,
        hash_u64: String,
    }

    #[derive(Deserialize)]
    struct OwnerVector {
        hosts: Vec<String>,
        replication_factor: u64,
        actor_type: String,
        actor_id: String,
        owner: String,
    }

    #[test]
    fn hashes_match_every_raw_vector_from_dapr() {
        let vectors: Vec<RawVector> =
            serde_json::from_str(&testdata("dapr-hash-raw-vectors.json")).unwrap();
        assert_eq!(vectors.len(), 59);
        for v in &vectors {
            let want: u64 = v.hash_u64.parse().unwrap();
            assert_eq!(dapr_hash(&v.key), want, "key {:?}", v.key);
        }
    }

    #[test]
    fn owners_match_every_vector_from_dapr() {
        let vectors: Vec<OwnerVector> =
            serde_json::from_str(&testdata("dapr-hash-vectors.json")).unwrap();
        assert_eq!(vectors.len(), 600);
        let mut rings: HashMap<(Vec<String>, u64), HashRing> = HashMap::new();
        for v in &vectors {
            let ring = rings
                .entry((v.hosts.clone(), v.replication_factor))
                .or_insert_with(|| HashRing::new(&v.hosts, v.replication_factor));
            let owner = ring.lookup(&v.actor_id).expect("non-empty ring");
            assert_eq!(
                &**owner, v.owner,
                "{}||{} on {:?} rf={}",
                v.actor_type, v.actor_id, v.hosts, v.replication_factor
            );
        }
    }

    #[test]
    fn spot_checks_from_the_spec() {
        assert_eq!(dapr_hash("127.0.0.1:500010"), 8_603_799_821_318_309_686);
        assert_eq!(dapr_hash(""), 241_225_442_164_632_184);
        let three = HashRing::new(
            ["127.0.0.1:50001", "127.0.0.1:50002", "127.0.0.1:50003"],
            100,
        );
        assert_eq!(three.lookup("0").map(|h| &**h), Some("127.0.0.1:50002"));
        assert_eq!(
            three.lookup("actor-1").map(|h| &**h),
            Some("127.0.0.1:50003")
        );
        let five: Vec<String> = (1..=5).map(|i| format!("127.0.0.1:5000{i}")).collect();
        assert_eq!(
            HashRing::new(&five, 100).lookup("actor-0").map(|h| &**h),
            Some("127.0.0.1:50005")
        );
        let tens = HashRing::new(
            ["10.0.0.11:50002", "10.0.0.12:50002", "10.0.0.13:50002"],
            100,
        );
        assert_eq!(tens.lookup("2").map(|h| &**h), Some("10.0.0.12:50002"));
    }

    #[test]
    fn empty_rings_own_nothing() {
        assert!(
            HashRing::new(Vec::<String>::new(), 100)
                .lookup("x")
                .is_none()
        );
        assert!(HashRing::new(["a:1"], 0).lookup("x").is_none());
    }

    fn host_names() -> impl Strategy<Value = Vec<String>> {
        prop::collection::btree_set("[a-z]{1,8}\\.example:[1-9][0-9]{3}", 2..8)
            .prop_map(|set| set.into_iter().collect())
    }

    fn ids() -> Vec<String> {
        (0..4000).map(|i| format!("actor-{i}")).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// With 100 virtual nodes each, no host owns less than a third or more
        /// than triple its fair share of 4 000 ids.
        #[test]
        fn load_is_balanced(hosts in host_names()) {
            let ring = HashRing::new(&hosts, 100);
            let mut counts: HashMap<&str, usize> = HashMap::new();
            let ids = ids();
            for id in &ids {
                *counts.entry(ring.lookup(id).unwrap()).or_default() += 1;
            }
            let fair = ids.len() / hosts.len();
            for host in &hosts {
                let owned = counts.get(host.as_str()).copied().unwrap_or(0);
                prop_assert!(owned * 3 >= fair && owned <= fair * 3, "{host} owns {owned}, fair share {fair}");
            }
        }

        /// When a host joins, ids only move to it; when it leaves, only its
        /// ids move. Nothing moves between the hosts that stay.
        #[test]
        fn membership_changes_move_the_minimum(hosts in host_names(), joiner in "[a-z]{1,8}\\.joiner:[1-9][0-9]{3}") {
            let before = HashRing::new(&hosts, 100);
            let mut grown = hosts.clone();
            grown.push(joiner.clone());
            let after = HashRing::new(&grown, 100);
            for id in ids() {
                let (old, new) = (before.lookup(&id).unwrap(), after.lookup(&id).unwrap());
                prop_assert!(old == new || **new == joiner, "{id} moved {old} -> {new}");
            }
            let leaver = hosts[0].clone();
            let shrunk = HashRing::new(&hosts[1..], 100);
            for id in ids() {
                let (old, new) = (before.lookup(&id).unwrap(), shrunk.lookup(&id).unwrap());
                prop_assert!(old == new || **old == *leaver, "{id} moved {old} -> {new}");
            }
        }
    }
}
