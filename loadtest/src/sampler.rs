//! Host CPU and per-process CPU and RSS, read from `/proc` every 500 ms
//! during a run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How often resources are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// A process to watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    /// Its pid.
    pub pid: u32,
    /// What it is (`wapr dev`, `node 0`, `--pid`).
    pub role: String,
}

/// One process in one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcSample {
    /// Pid.
    pub pid: u32,
    /// Resident set size (`VmRSS`), bytes.
    pub rss_bytes: u64,
    /// CPU used since the previous sample, percent of one core.
    pub cpu_pct: Option<f64>,
}

/// One sample of the host and the watched processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t_s: f64,
    /// Host CPU busy since the previous sample, percent of all cores.
    pub host_cpu_pct: Option<f64>,
    /// Watched processes still alive.
    pub processes: Vec<ProcSample>,
}

/// Host CPU time counters from `/proc/stat` (clock ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Busy ticks (everything but idle and iowait).
    pub busy: u64,
    /// All ticks.
    pub total: u64,
}

/// Parses the aggregate `cpu` line of `/proc/stat`.
pub fn parse_host_cpu(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total.saturating_sub(idle),
        total,
    })
}

/// `utime + stime` (clock ticks) from a `/proc/<pid>/stat` line.
pub fn parse_proc_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. There, field 3 (state) is index 0, utime (14) index 11.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in bytes from `/proc/<pid>/status`.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value * 1024),
        Some(_) => None,
    }
}

/// Clock ticks per second (`_SC_CLK_TCK`); 100 where it cannot be read.
fn clock_ticks() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        #[allow(clippy::cast_precision_loss)]
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

/// Takes samples; keeps the previous counters to turn them into rates.
pub struct Sampler {
    start: Instant,
    watched: Vec<Watched>,
    ticks_per_sec: f64,
    prev_host: Option<CpuTimes>,
    prev_proc: HashMap<u32, (u64, Instant)>,
    samples: Vec<Sample>,
}

impl Sampler {
    /// A sampler for `watched`, times relative to `start`.
    pub fn new(start: Instant, watched: Vec<Watched>) -> Sampler {
        let mut sampler = Sampler {
            start,
            watched,
            ticks_per_sec: clock_ticks(),
            prev_host: None,
            prev_proc: HashMap::new(),
            samples: Vec::new(),
        };
        // Prime the counters so the first kept sample has rates.
        let _ = sampler.take();
        sampler
    }

    /// The watched processes.
    pub fn watched(&self) -> &[Watched] {
        &self.watched
    }

    fn take(&mut self) -> Sample {
        let now = Instant::now();
        let host = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| parse_host_cpu(&s));
        let host_cpu_pct = match (self.prev_host, host) {
            (Some(prev), Some(cur)) if cur.total > prev.total => {
                #[allow(clippy::cast_precision_loss)]
                let pct = (cur.busy.saturating_sub(prev.busy)) as f64
                    / (cur.total - prev.total) as f64
                    * 100.0;
                Some(pct)
            }
            _ => None,
        };
        if host.is_some() {
            self.prev_host = host;
        }
        let mut processes = Vec::new();
        for w in &self.watched {
            let proc_dir = format!("/proc/{}", w.pid);
            let Some(rss_bytes) = std::fs::read_to_string(format!("{proc_dir}/status"))
                .ok()
                .and_then(|s| parse_vm_rss(&s))
            else {
                continue;
            };
            let ticks = std::fs::read_to_string(format!("{proc_dir}/stat"))
                .ok()
                .and_then(|s| parse_proc_cpu_ticks(&s));
            let cpu_pct = match (ticks, self.prev_proc.get(&w.pid)) {
                (Some(t), Some(&(prev_t, prev_at))) => {
                    let secs = now.duration_since(prev_at).as_secs_f64();
                    #[allow(clippy::cast_precision_loss)]
                    let used = t.saturating_sub(prev_t) as f64 / self.ticks_per_sec;
                    (secs > 0.0).then(|| used / secs * 100.0)
                }
                _ => None,
            };
            if let Some(t) = ticks {
                self.prev_proc.insert(w.pid, (t, now));
            }
            processes.push(ProcSample {
                pid: w.pid,
                rss_bytes,
                cpu_pct,
            });
        }
        Sample {
            t_s: now.duration_since(self.start).as_secs_f64(),
            host_cpu_pct,
            processes,
        }
    }

    /// Takes and keeps one sample.
    pub fn sample(&mut self) {
        let sample = self.take();
        self.samples.push(sample);
    }

    /// The samples kept so far.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Stops sampling: the samples.
    pub fn into_samples(self) -> Vec<Sample> {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(
            parse_host_cpu(stat),
            Some(CpuTimes {
                busy: 160,
                total: 980
            })
        );
        let pid_stat = "1234 (wapr (dev) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 \
                        321 45 0 0 20 0 8 0 100 200000 300 18446744073709551615";
        assert_eq!(parse_proc_cpu_ticks(pid_stat), Some(366));
        let status = "Name:\twapr\nVmPeak:\t  9999 kB\nVmRSS:\t   40960 kB\nThreads:\t8\n";
        assert_eq!(parse_vm_rss(status), Some(40960 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn samples_this_process() {
        let me = std::process::id();
        let mut sampler = Sampler::new(
            Instant::now(),
            vec![Watched {
                pid: me,
                role: "self".into(),
            }],
        );
        std::thread::sleep(Duration::from_millis(120));
        sampler.sample();
        let s = &sampler.samples()[0];
        assert!(s.host_cpu_pct.is_some_and(|p| (0.0..=100.0).contains(&p)));
        assert_eq!(s.processes.len(), 1);
        assert!(s.processes[0].rss_bytes > 1024 * 1024);
        assert!(s.processes[0].cpu_pct.is_some());
    }
}
