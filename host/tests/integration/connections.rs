//! The node's accept loop (`node/serve.rs`): connections that never send a
//! request are closed after `[http] header_read_timeout`, and at most
//! `[http] max_connections` are open at once; the node keeps serving.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestNode, config};

/// Reads until the node closes the connection (EOF or reset); fails the
/// test if it is still open after `within`.
async fn closed_by_node(mut stream: TcpStream, within: Duration) {
    let mut buf = [0u8; 512];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the node closes an idle connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_no_request_are_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.http.header_read_timeout = Duration::from_millis(500);
    let node = TestNode::with_config(config, Some(dir)).await;
    for addr in [node.node.http_addr(), node.node.grpc_addr().expect("gRPC")] {
        let mut idle = Vec::new();
        for i in 0..300 {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            // Half say nothing; half start a request and never end its headers.
            if i % 2 == 1 {
                stream
                    .write_all(b"GET /v1.0/healthz HTTP/1.1\r\nHost: wapr\r\nX-Slow: ")
                    .await
                    .expect("write");
            }
            idle.push(stream);
        }
        for stream in idle {
            closed_by_node(stream, Duration::from_secs(15)).await;
        }
    }
    let (status, _) = node.get("/v1.0/healthz").await;
    assert_eq!(status, 204, "the node still serves");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_waits_for_a_free_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.http.max_connections = 4;
    config.http.header_read_timeout = Duration::from_secs(2);
    let node = TestNode::with_config(config, Some(dir)).await;
    let addr = node.node.http_addr();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // The fifth is queued by the kernel, not served while all four are open...
    let mut fifth = TcpStream::connect(addr).await.expect("connect");
    fifth
        .write_all(b"GET /v1.0/healthz HTTP/1.1\r\nHost: wapr\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(300), fifth.read_to_end(&mut answer)).await;
    assert!(
        early.is_err(),
        "served over the cap: {:?}",
        String::from_utf8_lossy(&answer)
    );
    // ...and served once the silent ones are closed (header_read_timeout).
    tokio::time::timeout(Duration::from_secs(15), fifth.read_to_end(&mut answer))
        .await
        .expect("served after a slot freed")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    drop(held);
    node.stop().await;
}
