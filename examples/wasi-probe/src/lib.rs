//! Actor `wasi-probe`: tries one thing through Rust's standard library per
//! method, for testing the host's WASI sandbox with a real guest.
//!
//! Built for `wasm32-wasip2` (`cargo run -p xtask -- build-actors` writes
//! `target/actors/wasi-probe.wasm`), where std reaches the outside world
//! through WASI 0.2 imports; the wapr side is the usual `wapr:actor@0.2.1`
//! ABI through the SDK. Every method reports what happened as JSON and never
//! panics: an I/O failure is a successful reply describing it.
//!
//! An *outcome* is `{"ok":<value>}` on success or
//! `{"error":"<io::Error Display>","kind":"<io::ErrorKind Debug>"}`.
//!
//! | method       | payload                          | reply                                                   |
//! |--------------|----------------------------------|---------------------------------------------------------|
//! | `echo`       | any bytes                        | the payload, unchanged (needs no WASI)                  |
//! | `count`      | ignored                          | increments the state key `n` and returns it             |
//! | `read-file`  | `"path"`                         | outcome: the contents (first 4 KiB, lossy UTF-8)        |
//! | `write-file` | `{"path":"p","text":"t"}`        | outcome: `null`                                         |
//! | `list-dir`   | `"path"`                         | outcome: the entry names, sorted                        |
//! | `env`        | `"NAME"`                         | `{"ok":"value"}`, or `{"ok":null}` when unset           |
//! | `env-all`    | ignored                          | `{"ok":[["k","v"],...]}`                                |
//! | `args`       | ignored                          | `{"ok":["arg",...]}`                                    |
//! | `connect`    | `"127.0.0.1:PORT"`               | outcome of `TcpStream::connect`: `null`                 |
//! | `resolve`    | `"localhost:80"`                 | outcome of `ToSocketAddrs`: `["127.0.0.1:80",...]`      |
//! | `bind`       | `"127.0.0.1:0"`                  | outcome of `TcpListener::bind`: the local address       |
//! | `print`      | `{"stdout":"t","stderr":"t"}`    | writes each given text as a line; outcome: `null`       |
//! | `print-many` | `{"lines":N,"len":M}`            | writes N lines of M characters to stdout; outcome: `null` |
//! | `stdin`      | ignored                          | reads stdin to its end; outcome: its first 4 KiB (lossy) |
//! | `now`        | ignored                          | `{"system_unix_nanos":n,"instant_ok":true}`             |
//! | `random`     | ignored                          | `{"ok":<u64>}`, hashed with a fresh `RandomState`       |
//!
//! `print` and `print-many` write like `println!`/`eprintln!` (std's line
//! buffered stdout, unbuffered stderr) but report a failed write instead of
//! panicking as those macros do. `system_unix_nanos` is `null` if the clock
//! reads before 1970. `random` relies on std seeding `RandomState` from
//! `wasi:random` once per instance (each later `RandomState` steps the
//! seed), so replies differ from call to call.

use std::collections::hash_map::RandomState;
use std::fs::{self, File};
use std::hash::BuildHasher;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use wapr_actor::{Actor, ActorRef, Error, Methods, Request, state};

/// The state key of `count`.
const COUNTER: &str = "n";
/// How much of a file or of stdin a reply shows.
const SHOWN_BYTES: u64 = 4096;

/// Payload of `write-file`.
#[derive(Debug, Deserialize)]
struct WriteFile {
    path: String,
    text: String,
}

/// Payload of `print`.
#[derive(Debug, Deserialize)]
struct Print {
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stderr: Option<String>,
}

/// Payload of `print-many`.
#[derive(Debug, Deserialize)]
struct PrintMany {
    lines: u64,
    len: usize,
}

/// The `wasi-probe` actor; it keeps nothing in memory.
#[derive(Debug)]
pub struct WasiProbe;

/// `{"ok":value}` or the error object.
fn outcome<T: Into<Value>>(result: io::Result<T>) -> Value {
    match result {
        Ok(value) => json!({ "ok": value.into() }),
        Err(error) => json!({ "error": error.to_string(), "kind": format!("{:?}", error.kind()) }),
    }
}

/// Reads at most [`SHOWN_BYTES`] of `reader`, or with `to_end` all of it
/// (keeping the first [`SHOWN_BYTES`]), as lossy UTF-8.
fn shown(mut reader: impl Read, to_end: bool) -> io::Result<String> {
    let mut head = Vec::new();
    reader.by_ref().take(SHOWN_BYTES).read_to_end(&mut head)?;
    if to_end {
        io::copy(&mut reader, &mut io::sink())?;
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// An `OsString` as a (lossy) `String`.
fn lossy(text: std::ffi::OsString) -> String {
    text.to_string_lossy().into_owned()
}

impl WasiProbe {
    fn echo(&mut self, req: &Request<'_>) -> Result<Vec<u8>, Error> {
        Ok(req.payload().to_vec())
    }

    fn count(&mut self, _: IgnoredAny) -> Result<u64, Error> {
        let n = state::get_or_default::<u64>(COUNTER)?.saturating_add(1);
        state::set(COUNTER, &n)?;
        Ok(n)
    }

    fn read_file(&mut self, path: String) -> Result<Value, Error> {
        Ok(outcome(
            File::open(path).and_then(|file| shown(file, false)),
        ))
    }

    fn write_file(&mut self, req: WriteFile) -> Result<Value, Error> {
        Ok(outcome(fs::write(req.path, req.text).map(|()| Value::Null)))
    }

    fn list_dir(&mut self, path: String) -> Result<Value, Error> {
        let names = fs::read_dir(path).and_then(|entries| {
            let mut names = entries
                .map(|entry| entry.map(|entry| lossy(entry.file_name())))
                .collect::<io::Result<Vec<String>>>()?;
            names.sort();
            Ok(names)
        });
        Ok(outcome(names))
    }

    fn env(&mut self, name: String) -> Result<Value, Error> {
        Ok(json!({ "ok": std::env::var_os(name).map(lossy) }))
    }

    fn env_all(&mut self, _: IgnoredAny) -> Result<Value, Error> {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .map(|(key, value)| (lossy(key), lossy(value)))
            .collect();
        Ok(json!({ "ok": vars }))
    }

    fn args(&mut self, _: IgnoredAny) -> Result<Value, Error> {
        let args: Vec<String> = std::env::args_os().map(lossy).collect();
        Ok(json!({ "ok": args }))
    }

    fn connect(&mut self, addr: String) -> Result<Value, Error> {
        Ok(outcome(TcpStream::connect(addr).map(|_| Value::Null)))
    }

    fn resolve(&mut self, addr: String) -> Result<Value, Error> {
        let addrs = addr
            .to_socket_addrs()
            .map(|addrs| addrs.map(|addr| addr.to_string()).collect::<Vec<_>>());
        Ok(outcome(addrs))
    }

    fn bind(&mut self, addr: String) -> Result<Value, Error> {
        let bound = TcpListener::bind(addr).and_then(|listener| listener.local_addr());
        Ok(outcome(bound.map(|addr| addr.to_string())))
    }

    fn print(&mut self, req: Print) -> Result<Value, Error> {
        let result = (|| {
            if let Some(text) = req.stdout {
                writeln!(io::stdout().lock(), "{text}")?;
            }
            if let Some(text) = req.stderr {
                writeln!(io::stderr().lock(), "{text}")?;
            }
            Ok(Value::Null)
        })();
        Ok(outcome(result))
    }

    fn print_many(&mut self, req: PrintMany) -> Result<Value, Error> {
        let line = "x".repeat(req.len);
        let result = (|| {
            let mut stdout = io::stdout().lock();
            for _ in 0..req.lines {
                writeln!(stdout, "{line}")?;
            }
            stdout.flush()?;
            Ok(Value::Null)
        })();
        Ok(outcome(result))
    }

    fn stdin(&mut self, _: IgnoredAny) -> Result<Value, Error> {
        Ok(outcome(shown(io::stdin().lock(), true)))
    }

    fn now(&mut self, _: IgnoredAny) -> Result<Value, Error> {
        let system_unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|since| u64::try_from(since.as_nanos()).ok());
        let first = Instant::now();
        let second = Instant::now();
        Ok(json!({
            "system_unix_nanos": system_unix_nanos,
            "instant_ok": second >= first,
        }))
    }

    fn random(&mut self, _: IgnoredAny) -> Result<Value, Error> {
        Ok(json!({ "ok": RandomState::new().hash_one(0_u64) }))
    }
}

impl Actor for WasiProbe {
    fn activate(_self_ref: ActorRef) -> Result<Self, Error> {
        Ok(WasiProbe)
    }

    fn methods() -> Methods<Self> {
        Methods::new()
            .raw("echo", Self::echo)
            .method("count", Self::count)
            .method("read-file", Self::read_file)
            .method("write-file", Self::write_file)
            .method("list-dir", Self::list_dir)
            .method("env", Self::env)
            .method("env-all", Self::env_all)
            .method("args", Self::args)
            .method("connect", Self::connect)
            .method("resolve", Self::resolve)
            .method("bind", Self::bind)
            .method("print", Self::print)
            .method("print-many", Self::print_many)
            .method("stdin", Self::stdin)
            .method("now", Self::now)
            .method("random", Self::random)
    }
}

wapr_actor::export_actor!(WasiProbe);

#[cfg(test)]
mod tests {
    //! Natively, std reaches the real OS: these check the reply shapes.

    use std::path::PathBuf;

    use wapr_actor::testing::{self, TestActor};

    use super::*;

    fn probe() -> TestActor<WasiProbe> {
        TestActor::activate("wasi-probe", "p1").unwrap()
    }

    fn call(method: &str, payload: &Value) -> Value {
        probe().invoke_json(method, payload).unwrap()
    }

    /// A fresh directory under the system's temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasi-probe-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn echo_and_count() {
        let mut p = probe();
        assert_eq!(p.invoke("echo", b"\0\xff{").unwrap(), b"\0\xff{");
        assert_eq!(p.invoke_json::<_, u64>("count", &()).unwrap(), 1);
        assert_eq!(p.invoke_json::<_, u64>("count", &()).unwrap(), 2);
        assert_eq!(testing::state_json(COUNTER), Some(json!(2)));
    }

    #[test]
    fn files_round_trip_and_errors_are_described() {
        let dir = scratch("files");
        let file = dir.join("a.txt").to_string_lossy().into_owned();
        let written = call("write-file", &json!({"path": file, "text": "hello"}));
        assert_eq!(written, json!({"ok": null}));
        assert_eq!(call("read-file", &json!(file)), json!({"ok": "hello"}));
        let listed = call("list-dir", &json!(dir.to_string_lossy()));
        assert_eq!(listed, json!({"ok": ["a.txt"]}));

        let missing = call("read-file", &json!(dir.join("none").to_string_lossy()));
        assert_eq!(missing["kind"], "NotFound", "{missing}");
        assert!(missing["error"].as_str().is_some_and(|e| !e.is_empty()));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_show_the_first_4_kib() {
        let dir = scratch("big");
        let file = dir.join("big.txt");
        fs::write(&file, "y".repeat(10_000)).unwrap();
        let read = call("read-file", &json!(file.to_string_lossy()));
        assert_eq!(read["ok"].as_str().map(str::len), Some(4096));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn environment_and_args() {
        let unset = call("env", &json!("WASI_PROBE_SURELY_UNSET_VARIABLE"));
        assert_eq!(unset, json!({"ok": null}));
        assert!(call("env-all", &json!(null))["ok"].is_array());
        assert!(
            call("args", &json!(null))["ok"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        );
    }

    #[test]
    fn sockets() {
        let bound = call("bind", &json!("127.0.0.1:0"));
        let addr = bound["ok"]
            .as_str()
            .expect("bind works natively")
            .to_owned();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connected = call("connect", &json!(format!("127.0.0.1:{port}")));
        assert_eq!(connected, json!({"ok": null}));

        let resolved = call("resolve", &json!("127.0.0.1:80"));
        assert_eq!(resolved, json!({"ok": ["127.0.0.1:80"]}));
        let bad = call("resolve", &json!("no port"));
        assert_eq!(bad["kind"], "InvalidInput", "{bad}");
    }

    #[test]
    fn printing_and_clocks() {
        let printed = call(
            "print",
            &json!({"stdout": "to stdout", "stderr": "to stderr"}),
        );
        assert_eq!(printed, json!({"ok": null}));
        let many = call("print-many", &json!({"lines": 2, "len": 3}));
        assert_eq!(many, json!({"ok": null}));

        let now = call("now", &json!(null));
        assert_eq!(now["instant_ok"], true);
        assert!(now["system_unix_nanos"].as_u64().is_some_and(|n| n > 0));
    }

    #[test]
    fn random_differs_between_calls() {
        let a = call("random", &json!(null));
        let b = call("random", &json!(null));
        assert!(a["ok"].is_u64() && b["ok"].is_u64());
        assert_ne!(a, b);
    }

    #[test]
    fn bad_payloads_are_bad_requests() {
        let err = probe().invoke("read-file", b"42").unwrap_err();
        assert_eq!(err.kind(), wapr_actor::ErrorKind::BadRequest);
    }
}
