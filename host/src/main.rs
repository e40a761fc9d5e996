//! The `wapr` binary: argument parsing, logging, wiring. Logic lives in the
//! `wapr_host` library.

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wapr_host::cli::{Cli, Command, run_until_signal};
use wapr_host::node::RunningNode;

/// mimalloc instead of glibc's malloc: under `wapr-loadtest events` glibc's
/// `malloc`/`free`/`malloc_consolidate` were ~17 % of a node's CPU (the
/// embedded store's committer allocates and frees a buffer per page it
/// writes); with mimalloc the node delivered 7-15 % more events per second
/// (BENCHMARKS.md, "Events into actors").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command; an error leaves as one line on stderr (its causes
/// joined with `: `) and exit code 1, never as a backtrace, whatever
/// `RUST_BACKTRACE` says: the CLI's errors are for users.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wapr: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("WAPR_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: logs piped to a file, journald or a
        // container runtime stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wapr")
        // Nested actor-to-actor calls run on the calling thread; leave room
        // for MAX_CALL_DEPTH turns of wasm frames.
        .thread_stack_size(16 << 20)
        .build()?;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Node(args) => {
                let config = args.into_config()?;
                let node = RunningNode::start(config).await?;
                run_until_signal(node).await
            }
            Command::Dev(args) => {
                let cluster = args.start().await?;
                println!("{}", cluster.banner());
                cluster.run_until_signal().await
            }
            Command::Placement(args) => args.run().await,
            Command::Scheduler(args) => args.run().await,
            Command::StateServer(args) => args.run().await,
            Command::Reminders(args) => {
                println!("{}", args.run().await?);
                Ok(())
            }
            Command::Call(args) => {
                println!("{}", args.run().await?);
                Ok(())
            }
            Command::Status(args) => {
                println!("{}", args.run().await?);
                Ok(())
            }
        }
    });
    // Turns end at their deadline at the latest; do not wait forever for a
    // blocking thread that is stuck in the kernel.
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    result
}
