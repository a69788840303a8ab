//! The `madang` command: parse options, set up logging, run the server.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use madang::abuse::{AddressLimits, PersonLimits};
use madang::hub::HubConfig;
use madang::listener::{self, HttpLimits};
use madang::server::{self, Config};
use madang::store::embedded::{LogHealth, LogState, check_dir, create_private_dir_all, private_file};
use madang::store::redis::RedisConfig;
use madang::ws::WsLimits;
use tracing_subscriber::EnvFilter;

/// Madang: a real-time deliberation server for hybrid citizen forums.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Serve forums over HTTP and WebSocket, on the embedded store in --data-dir (or on Redis).
    Serve(ServeArgs),
    /// Check every forum log in --data-dir (the server must be stopped); exits non-zero if one is damaged.
    Check(CheckArgs),
    /// Check a forum's public record: the chain, every poll's recount, the fingerprints and,
    /// with --receipt, one ballot. One line per check; exit 1 if one fails, 2 if unreadable.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The record: a file, `-` for standard input, or a forum's record URL
    /// (http://host/api/forums/ID/record).
    source: String,
    /// A receipt (XXXX-XXXX-XXXX, any case, dashes optional): show what its ballot says.
    #[arg(long)]
    receipt: Option<String>,
    /// The head (hex SHA-256) the record must reach.
    #[arg(long)]
    head: Option<String>,
    /// The fingerprint (XXXX-XXXX-XXXX) the record must reach, e.g. the one shown in the hall.
    #[arg(long)]
    fingerprint: Option<String>,
    /// A copy of this forum's record fetched earlier: the record must continue it (lines are only appended).
    #[arg(long)]
    earlier: Option<PathBuf>,
    /// Print the checks as one JSON array instead of lines.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The embedded store's directory, as given to `serve`.
    #[arg(long, env = "MADANG_DATA_DIR", default_value = "./madang-data")]
    data_dir: PathBuf,
    /// Cut each damaged log at its last good record, after copying the original and a report
    /// of what was removed to <data-dir>/damaged/.
    #[arg(long)]
    repair: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on. Use 0.0.0.0:8080 to accept phones on the hall's network.
    #[arg(long, env = "MADANG_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the forums' event logs (created if missing). Back it up to keep the record.
    #[arg(long, env = "MADANG_DATA_DIR", default_value = "./madang-data")]
    data_dir: PathBuf,
    /// Token that lets an organizer create forums. When not given, one is generated
    /// once, kept in <data-dir>/admin-token, and printed in the organizer URL at start.
    #[arg(long, env = "MADANG_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// How many times per second changed tallies are broadcast (conflated).
    #[arg(long, env = "MADANG_TALLY_HZ", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    tally_hz: u32,
    /// Keep forums in Redis Streams instead of --data-dir, so that several nodes can serve them:
    /// redis://[:password@]host:port[/db] or rediss://… (TLS). With --redis-cluster, give any
    /// number of cluster nodes, comma-separated.
    #[arg(long, env = "MADANG_REDIS_URL", value_delimiter = ',', hide_env_values = true)]
    redis_url: Vec<String>,
    /// The Redis URLs are nodes of a Redis Cluster.
    #[arg(long, env = "MADANG_REDIS_CLUSTER")]
    redis_cluster: bool,
    /// Prefix of every Redis key, so that two deployments can share one Redis.
    #[arg(long, env = "MADANG_REDIS_PREFIX", default_value = "madang")]
    redis_prefix: String,
    /// An origin besides this server's own whose pages may open WebSockets, like
    /// https://forum.example.org (repeatable). Browsers on other origins are refused with 403.
    #[arg(long, env = "MADANG_ALLOWED_ORIGIN", value_delimiter = ',', value_parser = madang::ws::allowed_origin)]
    allowed_origin: Vec<String>,
    /// Connections open at once (WebSockets included); past it, /healthz still answers and
    /// everything else gets 503. Default: the open-file limit less 256.
    #[arg(long, env = "MADANG_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Connections open at once from one IPv4 address or IPv6 /64; 0 for no such cap
    /// (behind a reverse proxy, whose address every connection has).
    #[arg(long, env = "MADANG_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    max_connections_per_ip: usize,
    /// New participants (joins with a code and no participant token) one IPv4 address or IPv6 /64
    /// may create per minute, half of them at once; past it a join is refused with rate_limited.
    /// The default lets a hall of 200 phones behind one NAT address in within 70 s. Behind a
    /// reverse proxy, whose address every participant has, see --trust-forwarded-for. 0 for no limit.
    #[arg(long, env = "MADANG_JOINS_PER_IP_PER_MINUTE", default_value_t = 120)]
    joins_per_ip_per_minute: u32,
    /// Wrong credentials (unknown join codes, forged tokens) one IPv4 address or IPv6 /64 may
    /// present per minute, twice as many at once; past it the address is locked out for 1
    /// minute, doubling with each lockout up to an hour. 0 for no limit.
    #[arg(long, env = "MADANG_FAILED_AUTHS_PER_IP_PER_MINUTE", default_value_t = 10)]
    failed_auths_per_ip_per_minute: u32,
    /// HTTP API requests (/api/...) one IPv4 address or IPv6 /64 may make per second, six times
    /// as many at once; past it a request is answered 429 rate_limited. The pages' assets are
    /// not counted. 0 for no limit.
    #[arg(long, env = "MADANG_API_REQUESTS_PER_IP_PER_SEC", default_value_t = 10)]
    api_requests_per_ip_per_sec: u32,
    /// Frames per second a forum's moderators may send together, over all their connections
    /// (twice as many at once); the displays of a forum share the same allowance.
    #[arg(long, env = "MADANG_STAFF_FRAMES_PER_SEC", default_value_t = NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN))]
    staff_frames_per_sec: NonZeroU32,
    /// Count WebSockets and API requests under the address a reverse proxy gives in X-Forwarded-For (its last
    /// entry) for the limits on joins, wrong credentials and API requests. Only when every connection comes
    /// through your proxy: otherwise a client can write any address there.
    #[arg(long, env = "MADANG_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
}

/// The admin token: given, or kept in the data dir, or generated there.
fn admin_token(given: Option<String>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(token) = given.filter(|t| !t.trim().is_empty()) {
        return Ok(token.trim().to_string());
    }
    let path = data_dir.join("admin-token");
    if let Ok(token) = std::fs::read_to_string(&path)
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_string());
    }
    create_private_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let token = hex::encode(rand::random::<[u8; 24]>());
    write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// The admin token is a credential: the file is private like the store's own.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = private_file().write(true).create(true).truncate(true).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// `madang check`: one line per forum log on stdout.
async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let CheckArgs { data_dir, repair } = args;
    let dir = data_dir.clone();
    let logs = tokio::task::spawn_blocking(move || check_dir(&dir, repair))
        .await
        .context("the check did not finish")?
        .with_context(|| format!("checking {}", data_dir.display()))?;
    let mut damaged = 0;
    for log in &logs {
        let LogHealth { forum, bytes, records, state } = log;
        let good = format!("{records} good records (head seq {records}), {bytes} bytes");
        match state {
            LogState::Healthy => println!("{forum}: ok, {good}"),
            LogState::TornTail { offset, bytes: torn } => {
                println!(
                    "{forum}: ok, {good}; a torn tail of {torn} bytes at byte {offset} is cut when the server starts"
                )
            }
            LogState::Damaged { offset, reason, records_after, repaired } => {
                println!(
                    "{forum}: damaged at byte {offset}: {reason}; {good}; {records_after} valid records after the damage"
                );
                match repaired {
                    Some(r) => println!(
                        "    repaired: cut at byte {offset}; original in {}, report in {}",
                        r.original.display(),
                        r.report.display()
                    ),
                    None => damaged += 1,
                }
            }
        }
    }
    println!("{} forum logs checked, {damaged} damaged", logs.len());
    if damaged > 0 {
        anyhow::bail!("{damaged} damaged forum logs; `madang check --repair` cuts them after saving the originals");
    }
    Ok(())
}

/// The most a record may weigh when fetched or read: far above any forum's.
const MAX_RECORD_BYTES: u64 = 256 * 1024 * 1024;

/// How long fetching a record may take.
const RECORD_FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// `madang verify`: one line per check on stdout; the exit code.
async fn verify(args: VerifyArgs) -> i32 {
    let bytes = match read_record(&args.source).await {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("cannot read the record from {}: {err:#}", args.source);
            return 2;
        }
    };
    let earlier = match &args.earlier {
        Some(path) => match read_record(&path.to_string_lossy()).await {
            Ok(bytes) => Some(bytes),
            Err(err) => {
                eprintln!("cannot read the earlier record {}: {err:#}", path.display());
                return 2;
            }
        },
        None => None,
    };
    let expect =
        madang::verify::Expect { head: args.head, fingerprint: args.fingerprint, receipt: args.receipt, earlier };
    let checks = match madang::verify::verify(&bytes, &expect) {
        Ok(checks) => checks,
        Err(err) => {
            eprintln!("{} is not a record: {err}", args.source);
            return 2;
        }
    };
    let failed = checks.iter().filter(|c| !c.ok).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks).unwrap_or_default());
    } else {
        checks.iter().for_each(|check| println!("{check}"));
        match failed {
            0 => println!("all {} checks passed", checks.len()),
            n => println!("{n} of {} checks FAILED", checks.len()),
        }
    }
    if failed == 0 { 0 } else { 1 }
}

/// The record's bytes from a file, standard input or a URL, capped at [`MAX_RECORD_BYTES`].
async fn read_record(source: &str) -> anyhow::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::Client::builder().timeout(RECORD_FETCH_TIMEOUT).build()?;
        let mut response = client.get(source).send().await?.error_for_status()?;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            bytes.extend_from_slice(&chunk);
            anyhow::ensure!(bytes.len() as u64 <= MAX_RECORD_BYTES, "larger than {MAX_RECORD_BYTES} bytes");
        }
        return Ok(bytes);
    }
    let mut bytes = Vec::new();
    if source == "-" {
        tokio::io::stdin().take(MAX_RECORD_BYTES + 1).read_to_end(&mut bytes).await?;
    } else {
        tokio::fs::File::open(source).await?.take(MAX_RECORD_BYTES + 1).read_to_end(&mut bytes).await?;
    }
    anyhow::ensure!(bytes.len() as u64 <= MAX_RECORD_BYTES, "larger than {MAX_RECORD_BYTES} bytes");
    Ok(bytes)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let args = match Cli::parse().command {
        Commands::Serve(args) => args,
        Commands::Check(args) => return check(args).await,
        Commands::Verify(args) => std::process::exit(verify(args).await),
    };
    let open_files = match listener::raise_open_file_limit() {
        Ok(limit) => limit,
        Err(err) => {
            tracing::warn!(%err, "cannot raise the open-file limit");
            listener::open_file_limit()
        }
    };
    let max_connections = match args.max_connections {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => listener::max_connections_for(open_files),
    };
    tracing::info!(open_files, max_connections, "open-file limit");
    let admin_token = admin_token(args.admin_token, &args.data_dir)?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    let host =
        if address.ip().is_unspecified() { format!("127.0.0.1:{}", address.port()) } else { address.to_string() };
    // The banner is the command's user interface, so it goes to stdout like Jupyter's.
    println!("Madang is serving on http://{address}");
    println!("Organizer URL (create forums here; keep it private):");
    println!("    http://{host}/#admin_token={admin_token}");
    let redis = (!args.redis_url.is_empty()).then(|| RedisConfig {
        urls: args.redis_url.clone(),
        cluster: args.redis_cluster,
        prefix: args.redis_prefix.clone(),
        ..RedisConfig::default()
    });
    let store = match &redis {
        Some(r) => format!("Redis{} with prefix {:?}", if r.cluster { " Cluster" } else { "" }, r.prefix),
        None => format!("the embedded store in {}", args.data_dir.display()),
    };
    println!("Forums are kept in {store}.");
    let config = Config {
        redis,
        data_dir: args.data_dir,
        admin_token,
        hub: HubConfig {
            tally_interval: Duration::from_millis(1000 / u64::from(args.tally_hz)),
            addresses: AddressLimits {
                joins_per_minute: args.joins_per_ip_per_minute,
                join_burst: args.joins_per_ip_per_minute.div_ceil(2),
                failed_auths_per_minute: args.failed_auths_per_ip_per_minute,
                failed_auth_burst: args.failed_auths_per_ip_per_minute.saturating_mul(2),
                api_requests_per_sec: args.api_requests_per_ip_per_sec,
                api_request_burst: args.api_requests_per_ip_per_sec.saturating_mul(6),
            },
            ..HubConfig::default()
        },
        ws: WsLimits {
            allowed_origins: args.allowed_origin.into(),
            trust_forwarded_for: args.trust_forwarded_for,
            per_person: PersonLimits {
                staff_per_sec: args.staff_frames_per_sec,
                staff_burst: args.staff_frames_per_sec.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN)),
                ..PersonLimits::default()
            },
            ..WsLimits::default()
        },
        http: HttpLimits {
            max_connections,
            max_connections_per_ip: args.max_connections_per_ip,
            ..HttpLimits::default()
        },
    };
    server::run(listener, config, shutdown_signal()).await
}
