//! Protocol definitions for wapr.
//!
//! This crate will hold the `.proto` files wapr speaks and their generated
//! Rust (protox + tonic-prost-build from `build.rs`, no `protoc`): Dapr's
//! placement API (`dapr.proto.placement.v1`), the subset of
//! `dapr.proto.internals.v1` used to forward actor calls between hosts, and
//! wapr's own admin API. The single-node host does not use gRPC yet, so the
//! crate is intentionally empty; it exists so the workspace layout is stable
//! when the placement mesh lands.
