//! Protocol definitions for wapr.
//!
//! Rust for the `.proto` files under `proto/proto/`, generated at build time
//! with protox and tonic-prost-build (no `protoc`). The files were written
//! from `shared/docs/dapr-protocol.md`, `shared/docs/dapr-scheduler.md` and
//! `shared/docs/dapr-actors-next.md` and match Dapr v1.18.3:
//!
//! * [`dapr::proto::placement::v1`]: Dapr's placement API
//!   (`/dapr.proto.placement.v1.Placement/ReportDaprStatus`) and its
//!   `state.proto` messages;
//! * [`dapr::proto::internals::v1`]: the actor-forwarding subset of Dapr's
//!   internal `ServiceInvocation` service (`CallActor`, `CallActorReminder`);
//! * [`dapr::proto::runtime::v1`]: the state subset of the sidecar's public
//!   `Dapr` service (`GetState`, `GetBulkState`, `SaveState`, `DeleteState`,
//!   `ExecuteStateTransaction`), and the messages of its actor API
//!   (`InvokeActorRequest`, `RegisterActorReminderRequest`, ...; no actor
//!   RPCs yet);
//! * [`dapr::proto::scheduler::v1`]: Dapr's Scheduler (actor reminders as
//!   jobs), plus wapr's extension fields numbered from 1000;
//! * [`dapr::proto::common::v1`]: the `InvokeRequest`/`InvokeResponse`
//!   messages actor forwarding uses, the `StateItem`/`Etag`/`StateOptions`
//!   messages of the state API and the Scheduler's `JobFailurePolicy`.
//!
//! Each package module holds the prost messages plus a `*_client` and a
//! `*_server` module with the tonic client and server.

/// Dapr's protobuf packages, laid out as `dapr.proto.<name>.v1`.
pub mod dapr {
    /// Dapr's protobuf packages (`dapr.proto.*`).
    pub mod proto {
        /// The `dapr.proto.placement.*` packages.
        pub mod placement {
            /// `dapr.proto.placement.v1`: the `Placement` service
            /// (`ReportDaprStatus`), `Host`, `PlacementOrder`, placement
            /// tables and the placement server's state messages.
            #[allow(missing_docs, clippy::all, clippy::pedantic)]
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/dapr.proto.placement.v1.rs"));
            }
        }

        /// The `dapr.proto.internals.*` packages.
        pub mod internals {
            /// `dapr.proto.internals.v1` (actor-forwarding subset): the
            /// `ServiceInvocation` service (`CallActor`, `CallActorReminder`),
            /// `InternalInvokeRequest`/`InternalInvokeResponse`, `Status`,
            /// `APIVersion` and `Reminder`.
            #[allow(missing_docs, clippy::all, clippy::pedantic)]
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/dapr.proto.internals.v1.rs"));
            }
        }

        /// The `dapr.proto.runtime.*` packages.
        pub mod runtime {
            /// `dapr.proto.runtime.v1` (state subset): the `Dapr` service with
            /// only `GetState`, `GetBulkState`, `SaveState`, `DeleteState` and
            /// `ExecuteStateTransaction`, and their request and response
            /// messages. gRPC paths are per method, so this subset talks to
            /// a full daprd. Also the actor API's messages (`actors.proto`:
            /// `InvokeActorRequest`, `GetActorStateRequest`,
            /// `RegisterActorReminderRequest`, `GetActorReminderResponse`,
            /// ...), without their RPCs.
            #[allow(missing_docs, clippy::all, clippy::pedantic)]
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/dapr.proto.runtime.v1.rs"));
            }
        }

        /// The `dapr.proto.scheduler.*` packages.
        pub mod scheduler {
            /// `dapr.proto.scheduler.v1`: Dapr's Scheduler service (jobs,
            /// `WatchJobs` fires and acks, `WatchHosts`), with wapr's
            /// extension fields numbered from 1000.
            #[allow(missing_docs, clippy::all, clippy::pedantic)]
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/dapr.proto.scheduler.v1.rs"));
            }
        }

        /// The `dapr.proto.common.*` packages.
        pub mod common {
            /// `dapr.proto.common.v1` (subset): `InvokeRequest`,
            /// `InvokeResponse` and `HTTPExtension` (actor forwarding),
            /// `StateItem`, `Etag` and `StateOptions` (state API), and
            /// `JobFailurePolicy` (Scheduler jobs, actor reminders).
            #[allow(missing_docs, clippy::all, clippy::pedantic)]
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/dapr.proto.common.v1.rs"));
            }
        }
    }
}
