//! Every nats-server configuration the project ships (scripts/run, docker-compose, the three
//! cluster nodes) starts with generated credentials, refuses anonymous clients, keeps its
//! monitoring on loopback and syncs every acknowledged append to disk.

use bazaar_nats::testing::{render_shipped_config, NatsServer, Secrets};
use serde_json::Value;

/// Each shipped file, and the arguments that keep it on loopback and free ports in a test.
const SHIPPED: &[(&str, &[&str])] = &[
    ("dev.conf", &[]),
    ("single.conf", &["-a", "127.0.0.1"]),
    (
        "cluster/nats-1.conf",
        &["-a", "127.0.0.1", "--cluster", "nats://127.0.0.1:-1"],
    ),
    (
        "cluster/nats-2.conf",
        &["-a", "127.0.0.1", "--cluster", "nats://127.0.0.1:-1"],
    ),
    (
        "cluster/nats-3.conf",
        &["-a", "127.0.0.1", "--cluster", "nats://127.0.0.1:-1"],
    ),
];

async fn varz(server: &NatsServer) -> Value {
    let url = format!(
        "{}/varz",
        server.monitoring_url().expect("a monitoring port")
    );
    reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .expect("varz is JSON")
}

#[tokio::test]
async fn every_shipped_configuration_syncs_each_append_and_refuses_anonymous_clients() {
    let secrets = Secrets::generate();
    for (shipped, args) in SHIPPED {
        let (_conf, main) = render_shipped_config(shipped, &secrets);
        let server = NatsServer::start_with_config(&main, args);
        let varz = varz(&server).await;
        assert_eq!(
            varz["jetstream"]["config"]["sync_always"],
            Value::Bool(true),
            "{shipped}: {}",
            varz["jetstream"]
        );
        assert_eq!(varz["auth_required"], Value::Bool(true), "{shipped}");
        assert_eq!(
            varz["http_host"], "127.0.0.1",
            "{shipped}: monitoring beyond loopback"
        );
        let anonymous = async_nats::connect(server.url()).await;
        assert_eq!(
            anonymous.err().map(|e| e.kind()),
            Some(async_nats::ConnectErrorKind::AuthorizationViolation),
            "{shipped} lets anonymous clients in"
        );
    }
}
