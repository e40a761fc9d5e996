//! Values read when Prometheus scrapes, from where they already live: live
//! actors and pool slots (the actor runtime), timers (the node's
//! scheduling), the placement table (the cluster view). Holding only weak
//! references, a scrape after shutdown reports nothing rather than keeping
//! the node alive.

use std::sync::{Arc, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::reminders::timers::Timers;
use crate::router::Router;

/// Where scrape-time values come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The node's router (its runtime and, in a cluster, its view).
    pub router: Weak<Router>,
    /// The node's timers.
    pub timers: Weak<Timers>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    actor_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    class: &'static str,
}

/// Writes one gauge per label set.
fn gauges<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (L, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut family =
        encoder.encode_descriptor(name, help, None, ConstGauge::new(0i64).metric_type())?;
    for (labels, value) in values {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let counter = ConstCounter::new(value);
    counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
}

fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(router) = self.router.upgrade() else {
            return Ok(());
        };
        let runtime = Arc::clone(router.runtime());
        let types = runtime.type_names();
        let live = runtime.live_counts();
        gauges(
            &mut encoder,
            "wapr_actors_live",
            "Live actors on this node, by type",
            live.iter().map(|(t, n)| {
                (
                    TypeLabel {
                        actor_type: t.clone(),
                    },
                    int(*n),
                )
            }),
        )?;
        let pools = runtime.pool_usage();
        gauges(
            &mut encoder,
            "wapr_pool_slots_used",
            "Instance pool slots in use, by pool class",
            pools
                .iter()
                .map(|p| (PoolLabels { class: p.class }, int(p.live))),
        )?;
        gauges(
            &mut encoder,
            "wapr_pool_slots",
            "Instance pool slots (the live-actor cap), by pool class",
            pools
                .iter()
                .map(|p| (PoolLabels { class: p.class }, int(p.cap))),
        )?;
        counter(
            &mut encoder,
            "wapr_actor_evictions",
            "Actors deactivated early to make room at the live-actor cap",
            runtime.evicted_total(),
        )?;
        if let Some(timers) = self.timers.upgrade() {
            let counts = timers.counts();
            gauges(
                &mut encoder,
                "dapr_runtime_actor_timers",
                "The number of actor timer requests",
                types.iter().map(|t| {
                    let n = counts.iter().find(|(c, _)| c == t).map_or(0, |(_, n)| *n);
                    (
                        TypeLabel {
                            actor_type: t.clone(),
                        },
                        int(n),
                    )
                }),
            )?;
        }
        if let Some(cluster) = router.cluster() {
            let status = cluster.status();
            gauge(
                &mut encoder,
                "wapr_placement_table_version",
                "The version of the placement table in use",
                i64::try_from(status.table_version).unwrap_or(i64::MAX),
            )?;
            gauge(
                &mut encoder,
                "wapr_placement_ready",
                "1 while lookups are answered (a table is unlocked), else 0",
                i64::from(status.ready),
            )?;
            gauge(
                &mut encoder,
                "wapr_placement_members",
                "Hosts in the placement table",
                int(status.members.len()),
            )?;
            counter(
                &mut encoder,
                "wapr_placement_rounds",
                "Placement dissemination rounds applied since start",
                status.rounds_applied,
            )?;
            counter(
                &mut encoder,
                "wapr_actors_moved_out",
                "Actors deactivated because a new table moved them away",
                status.actors_moved_out,
            )?;
        }
        Ok(())
    }
}
