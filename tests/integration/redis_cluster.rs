//! Two hub nodes on a 3-master Redis Cluster: the forum scenario of
//! `redis_nodes.rs`, with slot routing (every key of a forum carries the forum
//! id as a hash tag; the outcomes stream lives on another slot).

use std::time::Instant;

use madang::store::redis::RedisConfig;
use madang_testkit::RedisCluster;

use crate::harness::unique_prefix;
use crate::redis_scenario::two_nodes_vote;

/// The two-node scenario against `RedisConfig::cluster(urls)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_a_redis_cluster_agree_on_tally_and_outcome() {
    let started = Instant::now();
    let cluster = RedisCluster::start();
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let config = RedisConfig { prefix: unique_prefix("cluster"), ..RedisConfig::cluster(cluster.urls.clone()) };
    eprintln!("cluster up in {:?}", started.elapsed());
    two_nodes_vote(config, &ports).await;
    eprintln!("two nodes on a redis cluster: {:?}", started.elapsed());
}
