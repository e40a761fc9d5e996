//! Compiles the `.proto` files under `proto/` with protox (pure Rust, no
//! `protoc`) and generates prost messages plus tonic clients and servers.

use std::path::Path;

const PROTO_ROOT: &str = "proto";

const FILES: &[&str] = &[
    "dapr/proto/placement/v1/placement.proto",
    "dapr/proto/placement/v1/state.proto",
    "dapr/proto/common/v1/common.proto",
    "dapr/proto/internals/v1/apiversion.proto",
    "dapr/proto/internals/v1/status.proto",
    "dapr/proto/internals/v1/reminders.proto",
    "dapr/proto/internals/v1/service_invocation.proto",
    "dapr/proto/runtime/v1/dapr.proto",
    "dapr/proto/runtime/v1/actors.proto",
    "dapr/proto/scheduler/v1/scheduler.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    for file in FILES {
        println!(
            "cargo:rerun-if-changed={}",
            Path::new(PROTO_ROOT).join(file).display()
        );
    }

    // protox bundles the google/protobuf well-known types; prost maps them
    // to prost-types (and Empty to `()`).
    let fds = protox::compile(FILES, [PROTO_ROOT])?;
    // Default stubs: a server implements only the RPCs it serves and answers
    // `Unimplemented` for the rest of a service (wapr's Dapr API serves the
    // actor RPCs of `dapr.proto.runtime.v1.Dapr`, not its state ones).
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
