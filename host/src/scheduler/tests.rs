//! The embedded Scheduler end to end in one process: jobs, watch streams,
//! acks, failure policies, staging, restarts on the same store, and the
//! gRPC service with the gRPC client.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use wapr_proto::dapr::proto::scheduler::v1::{
    DeleteByMetadataRequest, DeleteJobRequest, GetJobRequest, Job, JobTargetType, ListJobsRequest,
    ScheduleJobRequest, WatchJobsRequestInitial, WatchJobsRequestResultStatus, WatchJobsResponse,
};

use super::client::{GrpcScheduler, LocalScheduler};
use super::engine::Engine;
use super::names::actor_metadata;
use super::{Outcome, SchedulerApi, WatchSpec};
use crate::state::StateStore;
use crate::state::memory::MemoryStore;

fn store() -> Arc<dyn StateStore> {
    Arc::new(MemoryStore::new())
}

fn request(id: &str, name: &str, job: Job) -> ScheduleJobRequest {
    ScheduleJobRequest {
        name: name.into(),
        job: Some(job),
        metadata: Some(actor_metadata("app", "default", "T", id)),
        overwrite: true,
    }
}

fn every(d: &str, repeats: Option<u32>) -> Job {
    Job {
        schedule: Some(format!("@every {d}")),
        repeats,
        due_time: Some("0s".into()),
        ..Job::default()
    }
}

fn initial(types: &[&str]) -> WatchJobsRequestInitial {
    WatchJobsRequestInitial {
        app_id: "app".into(),
        namespace: "default".into(),
        actor_types: types.iter().map(|t| (*t).to_string()).collect(),
        accept_job_types: vec![JobTargetType::ActorReminder as i32],
        concurrency_limits: Vec::new(),
    }
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<WatchJobsResponse>) -> WatchJobsResponse {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a trigger in time")
        .expect("stream open")
}

const SUCCESS: i32 = WatchJobsRequestResultStatus::Success as i32;
const FAILED: i32 = WatchJobsRequestResultStatus::Failed as i32;

#[tokio::test]
async fn a_job_fires_to_a_watcher_until_its_repeats_are_done() {
    let engine = Engine::start(store()).await.expect("engine");
    let (sink, mut rx) = mpsc::unbounded_channel();
    let stream = engine.watch(initial(&["T"]), sink).await.expect("watch");
    engine
        .schedule_job(request("1", "r", every("10ms", Some(3))))
        .await
        .expect("scheduled");
    let mut ids = Vec::new();
    let mut ticks = Vec::new();
    for _ in 0..3 {
        let fire = recv(&mut rx).await;
        assert_eq!(fire.name, "r");
        ids.push(fire.id);
        ticks.push(fire.wapr_tick_id.clone());
        engine.result(stream, fire.id, SUCCESS);
    }
    assert_eq!(ids, vec![1, 2, 3], "trigger ids count from 1 per stream");
    assert_eq!(
        ticks.iter().collect::<std::collections::HashSet<_>>().len(),
        3,
        "every tick has its own id: {ticks:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err(), "no fourth fire");
    let err = engine
        .get_job(GetJobRequest {
            name: "r".into(),
            metadata: Some(actor_metadata("app", "default", "T", "1")),
        })
        .await
        .expect_err("done jobs are deleted");
    assert_eq!(err.code, tonic::Code::NotFound);
    assert_eq!(err.message, "job not found: r");
}

#[tokio::test]
async fn a_failing_tick_is_delivered_four_times_by_default_with_the_same_tick_id() {
    let engine = Engine::start(store()).await.expect("engine");
    let (sink, mut rx) = mpsc::unbounded_channel();
    let stream = engine.watch(initial(&["T"]), sink).await.expect("watch");
    let mut job = every("1h", None);
    // Retries every 10 ms instead of 1 s to keep the test short.
    job.failure_policy = Some(wapr_proto::dapr::proto::common::v1::JobFailurePolicy {
        policy: Some(
            wapr_proto::dapr::proto::common::v1::job_failure_policy::Policy::Constant(
                wapr_proto::dapr::proto::common::v1::JobFailurePolicyConstant {
                    interval: Some(prost_types::Duration {
                        seconds: 0,
                        nanos: 10_000_000,
                    }),
                    max_retries: Some(3),
                },
            ),
        ),
    });
    engine
        .schedule_job(request("1", "r", job))
        .await
        .expect("scheduled");
    let mut ticks = Vec::new();
    for _ in 0..4 {
        let fire = recv(&mut rx).await;
        ticks.push(fire.wapr_tick_id);
        engine.result(stream, fire.id, FAILED);
    }
    assert!(ticks.windows(2).all(|w| w[0] == w[1]), "{ticks:?}");
    let status = engine
        .get_job(GetJobRequest {
            name: "r".into(),
            metadata: Some(actor_metadata("app", "default", "T", "1")),
        })
        .await
        .expect("job")
        .wapr_status
        .expect("status");
    assert_eq!(status.count, 1, "the dropped tick counts");
    assert_eq!(status.attempts, 0);
}

#[tokio::test]
async fn without_a_watcher_a_tick_waits_and_fires_when_one_comes() {
    let engine = Engine::start(store()).await.expect("engine");
    engine
        .schedule_job(request("1", "r", every("1h", None)))
        .await
        .expect("scheduled");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(engine.status().await.staged, 1);
    let (sink, mut rx) = mpsc::unbounded_channel();
    let stream = engine.watch(initial(&["T"]), sink).await.expect("watch");
    let fire = recv(&mut rx).await;
    // The stream dies before acknowledging: the tick is staged again and
    // redelivered, with the same tick id, to the next watcher.
    engine.unwatch(stream);
    let (sink, mut rx2) = mpsc::unbounded_channel();
    let second = engine.watch(initial(&["T"]), sink).await.expect("watch");
    let again = recv(&mut rx2).await;
    assert_eq!(again.wapr_tick_id, fire.wapr_tick_id);
    assert_eq!(again.id, 1, "ids are per stream");
    engine.result(second, again.id, SUCCESS);
}

#[tokio::test]
async fn watchers_share_a_type_round_robin_and_other_types_do_not_see_it() {
    let engine = Engine::start(store()).await.expect("engine");
    let (a, mut rx_a) = mpsc::unbounded_channel();
    let (b, mut rx_b) = mpsc::unbounded_channel();
    let (c, mut rx_c) = mpsc::unbounded_channel();
    let sa = engine.watch(initial(&["T"]), a).await.expect("a");
    let sb = engine.watch(initial(&["T", "U"]), b).await.expect("b");
    engine.watch(initial(&["U"]), c).await.expect("c");
    for i in 0..4 {
        engine
            .schedule_job(request(
                &i.to_string(),
                "r",
                Job {
                    due_time: Some("0s".into()),
                    ..Job::default()
                },
            ))
            .await
            .expect("scheduled");
    }
    let mut got = (0, 0);
    for _ in 0..4 {
        tokio::select! {
            Some(fire) = rx_a.recv() => { got.0 += 1; engine.result(sa, fire.id, SUCCESS); }
            Some(fire) = rx_b.recv() => { got.1 += 1; engine.result(sb, fire.id, SUCCESS); }
        }
    }
    assert_eq!(got, (2, 2), "round robin between the streams of T");
    assert!(
        rx_c.try_recv().is_err(),
        "a stream of U only sees none of T's"
    );
}

#[tokio::test]
async fn jobs_and_counters_survive_a_restart_on_the_same_store() {
    let shared = store();
    let engine = Engine::start(Arc::clone(&shared)).await.expect("engine");
    let (sink, mut rx) = mpsc::unbounded_channel();
    let stream = engine.watch(initial(&["T"]), sink).await.expect("watch");
    engine
        .schedule_job(request("1", "r", every("50ms", Some(5))))
        .await
        .expect("scheduled");
    for _ in 0..2 {
        let fire = recv(&mut rx).await;
        engine.result(stream, fire.id, SUCCESS);
    }
    tokio::time::sleep(Duration::from_millis(20)).await; // counters flush
    engine.stop().await;
    drop(rx);
    let engine = Engine::start(shared).await.expect("restarted");
    let (sink, mut rx) = mpsc::unbounded_channel();
    let stream = engine.watch(initial(&["T"]), sink).await.expect("watch");
    let mut fired = 2;
    while let Ok(Some(fire)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        fired += 1;
        engine.result(stream, fire.id, SUCCESS);
    }
    assert_eq!(fired, 5, "R5 fires five times across the restart");
}

#[tokio::test]
async fn the_scheduler_answers_as_dapr_does() {
    let engine = Engine::start(store()).await.expect("engine");
    let local = LocalScheduler::new(engine.clone());
    local
        .schedule_job(request("1", "r", every("1h", None)))
        .await
        .expect("scheduled");
    let mut again = request("1", "r", every("1h", None));
    again.overwrite = false;
    let err = local.schedule_job(again).await.expect_err("exists");
    assert_eq!(err.code, tonic::Code::AlreadyExists);
    assert_eq!(
        err.message,
        "job already exists: 'actorreminder||default||T||1||r'"
    );
    let err = local
        .schedule_job(request("1", "x", Job::default()))
        .await
        .expect_err("invalid");
    assert_eq!(err.code, tonic::Code::Unknown);
    assert_eq!(
        err.message,
        "job failed validation: job must have either a due time or a schedule"
    );
    let err = local
        .schedule_job(request("a/b", "r", every("1s", None)))
        .await
        .expect_err("bad id");
    assert!(
        err.message.starts_with("job name is invalid"),
        "{}",
        err.message
    );
    let got = local
        .get_job(GetJobRequest {
            name: "r".into(),
            metadata: Some(actor_metadata("app", "default", "T", "1")),
        })
        .await
        .expect("job");
    let job = got.job.expect("job");
    assert_eq!(
        job.schedule.as_deref(),
        Some("@every 1h"),
        "stored verbatim"
    );
    assert!(job.failure_policy.is_some(), "the default policy is stored");
    local
        .schedule_job(request("2", "r", every("1h", None)))
        .await
        .expect("scheduled");
    let listed = local
        .list_jobs(ListJobsRequest {
            metadata: Some(actor_metadata("app", "default", "T", "")),
        })
        .await
        .expect("list");
    assert_eq!(listed.jobs.len(), 2);
    local
        .delete_job(DeleteJobRequest {
            name: "missing".into(),
            metadata: Some(actor_metadata("app", "default", "T", "1")),
        })
        .await
        .expect("deleting nothing succeeds");
    local
        .delete_by_metadata(DeleteByMetadataRequest {
            metadata: Some(actor_metadata("app", "default", "T", "")),
            id_prefix_match: Some(true),
        })
        .await
        .expect("deleted");
    let listed = local
        .list_jobs(ListJobsRequest {
            metadata: Some(actor_metadata("app", "default", "T", "")),
        })
        .await
        .expect("list");
    assert!(listed.jobs.is_empty());
}

#[tokio::test]
async fn the_grpc_service_and_client_carry_jobs_fires_and_acks() {
    let engine = Engine::start(store()).await.expect("engine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let service = super::server::SchedulerService::new(engine.clone(), address.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(super::server::serve(listener, service, None, async move {
        let _ = stopped.await;
    }));
    let client = GrpcScheduler::new(vec![address], None).expect("client");
    let mut triggers = client.watch(
        WatchSpec {
            app_id: "app".into(),
            namespace: "default".into(),
            actor_types: vec!["T".into()],
        },
        2,
    );
    client
        .schedule_job(request("1", "r", every("20ms", Some(3))))
        .await
        .expect("scheduled over gRPC");
    for _ in 0..3 {
        let trigger = tokio::time::timeout(Duration::from_secs(10), triggers.recv())
            .await
            .expect("a trigger in time")
            .expect("open");
        assert_eq!(trigger.name, "r");
        assert!(!trigger.tick_id.is_empty());
        trigger.ack(Outcome::Success);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = engine.status().await;
    assert_eq!((status.succeeded, status.jobs), (3, 0), "{status:?}");
    let _ = stop.send(());
    let _ = server.await;
}
