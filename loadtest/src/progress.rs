//! The live progress line: rate, errors and rolling p99 (hidden when stdout
//! is not a terminal).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::Snapshot;

/// A progress line on stdout.
pub struct Progress {
    bar: ProgressBar,
    last_completed: u64,
}

impl Progress {
    /// A progress line, drawn only if `enabled` and stdout is a terminal.
    pub fn new(enabled: bool) -> Progress {
        let target = if enabled && std::io::stdout().is_terminal() {
            ProgressDrawTarget::stdout()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
            bar.set_style(style);
        }
        Progress {
            bar,
            last_completed: 0,
        }
    }

    /// Updates the line from a snapshot taken `every` after the previous one.
    pub fn update(&mut self, snap: &Snapshot, every: Duration, in_flight: u64) {
        let done = snap.completed.saturating_sub(self.last_completed);
        self.last_completed = snap.completed;
        self.bar.set_message(line(snap, done, every, in_flight));
        self.bar.tick();
    }

    /// Clears the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The text of the progress line.
pub fn line(snap: &Snapshot, done_since_last: u64, every: Duration, in_flight: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let rate = done_since_last as f64 / every.as_secs_f64().max(1e-3);
    let p99 = snap.window_p99.map_or_else(
        || "-".to_string(),
        |d| format!("{:.2} ms", d.as_secs_f64() * 1000.0),
    );
    format!(
        "{rate:>8.0} req/s  done {}  errors {}  dropped {}  in flight {in_flight}  p99 {p99}",
        snap.completed, snap.errors, snap.dropped
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_line() {
        let snap = Snapshot {
            completed: 1000,
            errors: 2,
            dropped: 0,
            window_p99: Some(Duration::from_micros(2500)),
        };
        let text = line(&snap, 250, Duration::from_millis(500), 3);
        assert!(text.contains("500 req/s"), "{text}");
        assert!(text.contains("errors 2"));
        assert!(text.contains("p99 2.50 ms"));
        // Hidden when not on a terminal (as under cargo test): no panic.
        let mut p = Progress::new(true);
        p.update(&snap, Duration::from_millis(500), 0);
        p.finish();
    }
}
