//! `madang-client`: a command-line client for a Madang server.
//!
//! Subcommands: `create` a forum over HTTP, `connect` interactively over the
//! WebSocket, and run a whole forum end to end as a `scenario`. This file only
//! parses arguments and sets up logging; the work lives in the modules.

mod client;
mod http;
mod interactive;
mod rng;
mod scenario;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "madang-client", version, about = "Command-line client for a Madang server")]
struct Cli {
    /// Log every frame sent and received (to stderr).
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create a forum and print its id, join codes and tokens as JSON.
    Create(http::CreateArgs),
    /// Connect and relay frames: server frames to stdout, stdin lines to the server.
    Connect(interactive::ConnectArgs),
    /// Run a whole forum end to end and check what the server answers.
    Scenario(scenario::ScenarioArgs),
}

/// Where the server is and how long to wait for it.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's base URL.
    #[arg(long, env = "MADANG_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Seconds to wait for any one answer (handshake, welcome, ack, expected frame).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
}

impl ServerArgs {
    pub fn timeout(&self) -> Duration {
        Duration::try_from_secs_f64(self.timeout).unwrap_or(Duration::from_secs(10))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = if cli.verbose {
        EnvFilter::new("madang_client=debug")
    } else {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("madang_client=warn"))
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();

    let result = match cli.command {
        Cmd::Create(args) => http::run_create(args).await,
        Cmd::Connect(args) => interactive::run(args).await,
        Cmd::Scenario(args) => scenario::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole context chain on one line; no backtrace noise.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
