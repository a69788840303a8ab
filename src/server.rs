//! Running the server: open the store, load the forums, serve HTTP and
//! WebSocket on a listener, shut down gracefully.
//!
//! `run` takes a bound listener and a shutdown future, so tests bind port 0
//! and stop the server whenever they like.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::abuse::{self, PersonLimiter};
use crate::http::{AppState, app, overflow_app};
use crate::hub::{Hub, HubConfig};
use crate::listener::{self, HttpLimits, Routers};
use crate::store::Store;
use crate::store::embedded::EmbeddedStore;
use crate::store::redis::RedisConfig;
use crate::ws::WsLimits;

/// How long shutdown waits for connections and forum tasks to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the embedded store keeps its logs (and `madang serve` its generated admin token).
    pub data_dir: PathBuf,
    /// When set, forums live in Redis Streams instead of the embedded store,
    /// and several nodes may serve them together.
    pub redis: Option<RedisConfig>,
    /// The token that may create forums.
    pub admin_token: String,
    pub hub: HubConfig,
    pub ws: WsLimits,
    pub http: HttpLimits,
}

/// Serve until `shutdown` resolves, then close every socket with 1001, let
/// each forum task answer what it had already taken, and close the store.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = match &config.redis {
        Some(redis) => Arc::new(crate::store::redis::connect(redis.clone()).await.context("connecting to Redis")?),
        None => Arc::new(
            EmbeddedStore::open(&config.data_dir)
                .await
                .with_context(|| format!("opening the embedded store in {}", config.data_dir.display()))?,
        ),
    };
    let priority_lane = PriorityLane::start().context("starting the priority lane")?;
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let hub = Hub::open(store.clone(), config.hub, cancel.clone(), tasks.clone(), Some(priority_lane.handle()))
        .await
        .context("loading forums")?;
    tracing::info!(
        address = %listener.local_addr()?,
        forums = hub.forum_count(),
        max_connections = config.http.max_connections,
        max_connections_per_ip = config.http.max_connections_per_ip,
        "serving"
    );
    let people = Arc::new(PersonLimiter::new(&config.ws.per_person));
    tasks.spawn(abuse::sweep(people.clone(), hub.addresses(), cancel.clone()));
    let state = AppState {
        hub,
        people,
        admin_token: Arc::from(config.admin_token),
        ws_limits: config.ws,
        body_read_timeout: config.http.body_read_timeout,
        shutdown: cancel.clone(),
        tasks: tasks.clone(),
        priority_lane: Some(priority_lane.handle()),
    };
    let stop = cancel.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down");
        stop.cancel();
    };
    let routers = Routers { app: app(state.clone()), overflow: overflow_app(state) };
    let serving = listener::serve(listener, routers, config.http, cancel.clone());
    tokio::pin!(serving);
    tokio::select! {
        () = signal => serving.await,
        () = &mut serving => {}
    }
    cancel.cancel();
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await.is_err() {
        tracing::warn!(remaining = tasks.len(), "tasks still running after the grace period");
    }
    store.close().await.context("closing the store")?;
    drop(priority_lane);
    tracing::info!("stopped");
    Ok(())
}

/// A runtime for forum tasks and the connections of displays and moderators,
/// beside the main one where participants' connections run.
///
/// They are a handful of tasks among thousands. On the main runtime they
/// wait in the same run queue as every participant's connection: behind the
/// fan-out of one agenda change to 20,000 phones, the forum task's next tally
/// tick and batch of ballots, and the projector's frames, waited a quarter
/// of a second. On threads of their own the kernel gives them the core
/// within milliseconds while the main runtime is still writing to phones.
struct PriorityLane(Option<tokio::runtime::Runtime>);

impl PriorityLane {
    fn start() -> std::io::Result<PriorityLane> {
        // As many threads as the main runtime: all forum tasks run here, and
        // a node serving many forums must still use every core for them.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("madang-priority")
            .enable_all()
            .build()?;
        Ok(PriorityLane(Some(runtime)))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        match &self.0 {
            Some(runtime) => runtime.handle().clone(),
            None => tokio::runtime::Handle::current(),
        }
    }
}

impl Drop for PriorityLane {
    fn drop(&mut self) {
        // Dropping a runtime inside another would block it: shut it down
        // without waiting (its connections have ended by now, or were given
        // up on after the grace period).
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
