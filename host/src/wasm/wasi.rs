//! WASI 0.2 (preview 2) for guests that import it, deny by default.
//!
//! A component that imports any `wasi:` interface is linked with
//! `wasmtime-wasi`'s synchronous p2 interfaces (`wasi:http` stays
//! unlinked). Each actor gets its own context, built on its first WASI call
//! (so guests that never use WASI pay nothing): no arguments, no
//! environment, no preopened directories, closed stdin, TCP, UDP and name
//! lookups refused; clocks and randomness are the host's. stdout and stderr
//! become lines in the node's log, tagged with the actor, cut at
//! [`MAX_LINE`] and limited to [`LINES_PER_SECOND`] per stream. A type's
//! grants ([`WasiGrants`]) may add an environment allow-list and one
//! read-only directory; nothing grants network.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::ctx::ActorCtx;
use crate::actor_key::ActorKey;
use crate::config::WasiGrants;

/// Longest stdout/stderr line kept; longer lines are cut.
pub const MAX_LINE: usize = 4096;
/// Lines per second one actor's stream may log (with a burst of as many);
/// the excess is dropped and counted in the next line that gets through.
pub const LINES_PER_SECOND: u32 = 100;
/// How much a guest may write in one go (`check-write`).
const WRITE_BUDGET: usize = 64 * 1024;

/// The WASI set-up of one actor type, resolved when the type loads.
#[derive(Debug, Default)]
pub(super) struct WasiSetup {
    /// Granted variables, with the node's values at load time.
    env: Vec<(String, String)>,
    /// The granted read-only directory: host path, guest path.
    dir: Option<(PathBuf, String)>,
}

impl WasiSetup {
    /// Resolves `grants` against the node's environment.
    pub fn new(grants: &WasiGrants) -> Self {
        Self {
            env: grants
                .env
                .iter()
                .filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v)))
                .collect(),
            dir: grants
                .dir
                .as_ref()
                .map(|d| (d.host.clone(), d.guest.clone())),
        }
    }

    /// A fresh context for `key`.
    fn build(&self, key: &ActorKey) -> WasiState {
        let tag: Arc<str> = Arc::from(key.to_string());
        let mut builder = WasiCtxBuilder::new();
        builder
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stdout(LogStream::new(Arc::clone(&tag), Stream::Stdout))
            .stderr(LogStream::new(Arc::clone(&tag), Stream::Stderr))
            .envs(&self.env);
        if let Some((host, guest)) = &self.dir
            && let Err(e) = builder.preopened_dir(host, guest, FsPerms::ReadOnly)
        {
            tracing::warn!(actor = %tag, dir = %host.display(), error = %e, "the granted directory cannot be opened; the actor runs without it");
        }
        WasiState {
            ctx: builder.build(),
            table: ResourceTable::new(),
        }
    }
}

/// One actor's WASI context and the resources its guest holds.
pub(super) struct WasiState {
    ctx: WasiCtx,
    table: ResourceTable,
}

/// The WASI part of an actor's store data: nothing until the guest's first
/// WASI call.
pub(super) struct ActorWasi {
    /// `None` for a type whose component imports no WASI.
    setup: Option<Arc<WasiSetup>>,
    state: Option<Box<WasiState>>,
}

impl ActorWasi {
    /// WASI for an actor of a type set up as `setup`.
    pub fn new(setup: Option<Arc<WasiSetup>>) -> Self {
        Self { setup, state: None }
    }
}

impl WasiView for ActorCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let Self { wasi, key, .. } = self;
        let ActorWasi { setup, state } = wasi;
        let state = state.get_or_insert_with(|| {
            let none = WasiSetup::default();
            Box::new(setup.as_deref().unwrap_or(&none).build(key))
        });
        WasiCtxView {
            ctx: &mut state.ctx,
            table: &mut state.table,
        }
    }
}

/// Whether any import of a component is a WASI interface.
pub(super) fn imports_wasi(
    engine: &wasmtime::Engine,
    ty: &wasmtime::component::types::Component,
) -> bool {
    ty.imports(engine)
        .any(|(name, _)| name.starts_with("wasi:"))
}

/// Which standard stream a [`LogStream`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// An actor's stdout or stderr: complete lines go to the node's log.
#[derive(Clone)]
struct LogStream {
    lines: Arc<Mutex<LineLog>>,
}

impl LogStream {
    fn new(actor: Arc<str>, stream: Stream) -> Self {
        Self {
            lines: Arc::new(Mutex::new(LineLog::new(actor, stream))),
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl OutputStream for LogStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl LogStream {
    fn push(&self, bytes: &[u8]) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.push(bytes, Instant::now(), &mut emit);
    }
}

/// Writes one guest line to the node's log.
fn emit(actor: &str, stream: Stream, line: &str, dropped: u64) {
    if dropped > 0 {
        tracing::info!(actor, stream = stream.name(), dropped, "{line}");
    } else {
        tracing::info!(actor, stream = stream.name(), "{line}");
    }
}

/// Splits a stream into lines, cuts long ones and limits their rate.
struct LineLog {
    actor: Arc<str>,
    stream: Stream,
    /// The line being written (at most [`MAX_LINE`] bytes kept).
    partial: Vec<u8>,
    /// Bytes of the current line past [`MAX_LINE`].
    cut: bool,
    /// Token bucket: lines that may still be logged now.
    tokens: f64,
    refilled: Instant,
    /// Lines dropped since the last one logged.
    dropped: u64,
}

impl LineLog {
    fn new(actor: Arc<str>, stream: Stream) -> Self {
        Self {
            actor,
            stream,
            partial: Vec::new(),
            cut: false,
            tokens: f64::from(LINES_PER_SECOND),
            refilled: Instant::now(),
            dropped: 0,
        }
    }

    fn push(&mut self, bytes: &[u8], now: Instant, out: &mut impl FnMut(&str, Stream, &str, u64)) {
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let (text, ends) = match chunk.split_last() {
                Some((b'\n', text)) => (text, true),
                _ => (chunk, false),
            };
            let room = MAX_LINE.saturating_sub(self.partial.len());
            if text.len() > room {
                self.partial.extend_from_slice(&text[..room]);
                self.cut = true;
            } else {
                self.partial.extend_from_slice(text);
            }
            if ends {
                self.finish_line(now, out);
            }
        }
    }

    fn finish_line(&mut self, now: Instant, out: &mut impl FnMut(&str, Stream, &str, u64)) {
        let burst = f64::from(LINES_PER_SECOND);
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * burst).min(burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            let mut line = String::from_utf8_lossy(&self.partial).into_owned();
            if self.cut {
                line.push('…');
            }
            out(
                &self.actor,
                self.stream,
                line.trim_end_matches('\r'),
                self.dropped,
            );
            self.dropped = 0;
        } else {
            self.dropped += 1;
        }
        self.partial.clear();
        self.cut = false;
    }
}

impl Drop for LineLog {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            self.finish_line(Instant::now(), &mut emit);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn collect(log: &mut LineLog, bytes: &[u8], at: Instant) -> Vec<(String, u64)> {
        let mut lines = Vec::new();
        log.push(bytes, at, &mut |_, _, line, dropped| {
            lines.push((line.to_string(), dropped));
        });
        lines
    }

    #[test]
    fn lines_are_split_joined_and_cut() {
        let now = Instant::now();
        let mut log = LineLog::new(Arc::from("t/1"), Stream::Stdout);
        assert!(collect(&mut log, b"hel", now).is_empty());
        assert_eq!(
            collect(&mut log, b"lo\r\nworld\n\nlast", now),
            vec![("hello".into(), 0), ("world".into(), 0), (String::new(), 0)]
        );
        let long = vec![b'x'; MAX_LINE + 10];
        let lines = collect(&mut log, &[&long[..], b"\n"].concat(), now);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].0.starts_with("lastxxx"),
            "the partial line goes first"
        );
        assert_eq!(
            lines[0].0.chars().count(),
            MAX_LINE + 1,
            "cut, with an ellipsis"
        );
    }

    #[test]
    fn the_rate_is_limited_and_drops_are_counted() {
        let start = Instant::now();
        let mut log = LineLog::new(Arc::from("t/1"), Stream::Stderr);
        let burst = "x\n".repeat(LINES_PER_SECOND as usize + 50);
        let lines = collect(&mut log, burst.as_bytes(), start);
        assert_eq!(lines.len(), LINES_PER_SECOND as usize);
        // Half a second later, half the bucket is back; the first line
        // says how many were dropped.
        let later = collect(&mut log, b"y\n", start + Duration::from_millis(500));
        assert_eq!(later, vec![("y".into(), 50)]);
    }
}
