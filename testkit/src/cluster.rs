//! Three cluster-enabled `redis-server` masters joined by `redis-cli
//! --cluster create`, for the Redis Cluster tests.
//!
//! Each master is a plain [`RedisServer`] started with cluster arguments; this
//! module only joins them and waits until the cluster is usable.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::NOT_FOUND;
use crate::probe::{free_port, query, require_binary};
use crate::server::RedisServer;

const CLUSTER_TIMEOUT: Duration = Duration::from_secs(20);

/// Three cluster-enabled masters on free loopback ports, slots spread over
/// all three, no replicas.
pub struct RedisCluster {
    /// `redis://127.0.0.1:<port>` of each master.
    pub urls: Vec<String>,
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Start three masters, join them with `redis-cli --cluster create`, and
    /// wait until every node reports `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        require_binary("redis-server");
        require_binary("redis-cli");
        let nodes: Vec<RedisServer> = (0..3).map(|_| start_master()).collect();
        create_cluster(&nodes);
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        for node in &nodes {
            wait_cluster_ok(node, deadline);
        }
        let urls = nodes.iter().map(|n| n.url.clone()).collect();
        RedisCluster { urls, nodes }
    }
}

/// One cluster-enabled server with its own bus port, not yet in a cluster.
fn start_master() -> RedisServer {
    let bus_port = free_port();
    RedisServer::start_with(
        [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-port",
            &bus_port.to_string(),
            "--cluster-node-timeout",
            "5000",
        ]
        .map(String::from)
        .to_vec(),
    )
}

/// `redis-cli --cluster create` over `nodes`: the slots spread over all, no replicas.
fn create_cluster(nodes: &[RedisServer]) {
    let mut create = Command::new("redis-cli");
    create.arg("--cluster").arg("create");
    for node in nodes {
        create.arg(format!("127.0.0.1:{}", node.port));
    }
    create.args(["--cluster-replicas", "0", "--cluster-yes"]).stdin(Stdio::null());
    let out = match create.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{NOT_FOUND}"),
        Err(e) => panic!("cannot run redis-cli: {e}"),
    };
    assert!(
        out.status.success(),
        "redis-cli --cluster create failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Poll `CLUSTER INFO` on `node` until it reports `cluster_state:ok`; panics after `deadline`.
fn wait_cluster_ok(node: &RedisServer, deadline: Instant) {
    loop {
        let info = query(node.port, &["CLUSTER", "INFO"]).unwrap_or_default();
        if info.contains("cluster_state:ok") {
            return;
        }
        if Instant::now() > deadline {
            panic!("redis cluster node {} not ok within {CLUSTER_TIMEOUT:?}: {info}", node.port);
        }
        thread::sleep(Duration::from_millis(50));
    }
}
