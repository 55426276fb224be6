//! A broker running the shipped configuration, and connections that report what it refused.

use async_nats::{Client, ConnectOptions, Event};
use bazaar_nats::auth::inbox_prefix;
use bazaar_nats::subjects::{LEADER_BUCKET, ORDERS_STREAM};
use bazaar_nats::testing::{NatsServer, Role, Secrets};
use std::process::Command;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a refusal may take to come back: the broker answers a violation at once.
const VIOLATION_WAIT: Duration = Duration::from_secs(5);

/// The shipped development configuration with fresh credentials, set up by the operator.
pub(crate) struct SecuredBus {
    pub(crate) server: NatsServer,
    pub(crate) secrets: Secrets,
}

impl SecuredBus {
    /// Starts the broker and runs `bazaar-setup` as the operator, as scripts/run does.
    pub(crate) fn start() -> Self {
        let (server, secrets) = NatsServer::start_secured();
        let bus = Self { server, secrets };
        bus.run_setup(Role::Operator)
            .expect("the operator's setup succeeds");
        bus
    }

    /// Starts the broker without running the setup step.
    pub(crate) fn start_without_setup() -> Self {
        let (server, secrets) = NatsServer::start_secured();
        Self { server, secrets }
    }

    /// Runs the `bazaar-setup` binary as `role`; `Err` holds its output when it fails.
    pub(crate) fn run_setup(&self, role: Role) -> Result<(), String> {
        let output = Command::new(env!("CARGO_BIN_EXE_bazaar-setup"))
            .args(["--nats-url", &self.server.url(), "--wait-secs", "3"])
            .args(["--nats-user", role.user(), "--nats-password-file"])
            .arg(self.secrets.password_file(role))
            .env_remove("NATS_USER")
            .env_remove("NATS_PASSWORD")
            .env_remove("NATS_PASSWORD_FILE")
            .output()
            .expect("bazaar-setup runs");
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// A connection as `role`, with its own inbox prefix.
    pub(crate) async fn connect(&self, role: Role) -> Probe {
        Probe::connect(
            &self.server.url(),
            role.user(),
            &self.secrets.password(role),
        )
        .await
    }

    /// The operator's JetStream context.
    pub(crate) async fn operator_js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.connect(Role::Operator).await.client)
    }
}

/// A client that collects the errors the broker sends it (permission violations).
pub(crate) struct Probe {
    pub(crate) client: Client,
    errors: mpsc::UnboundedReceiver<String>,
}

impl Probe {
    /// Connects as `user` with `password` and the user's inbox prefix; panics when refused.
    pub(crate) async fn connect(url: &str, user: &str, password: &str) -> Self {
        let (tx, errors) = mpsc::unbounded_channel();
        let client = ConnectOptions::new()
            .user_and_password(user.into(), password.into())
            .custom_inbox_prefix(inbox_prefix(user))
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    if let Event::ServerError(error) = event {
                        let _ = tx.send(error.to_string());
                    }
                }
            })
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("{user} connects: {e}"));
        Self { client, errors }
    }

    /// Waits for the broker to refuse `what` (e.g. `Publish to "orders.new"`).
    pub(crate) async fn expect_violation(&mut self, what: &str) {
        let wanted = format!("Permissions Violation for {what}");
        let found = tokio::time::timeout(VIOLATION_WAIT, async {
            while let Some(error) = self.errors.recv().await {
                if error.contains(&wanted) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true), "the broker did not refuse: {what}");
    }

    /// Flushes, then asserts the broker refused nothing so far.
    pub(crate) async fn expect_no_violation(&mut self) {
        self.client.flush().await.expect("flush");
        // A refusal is sent before the PONG that ends the flush, so it has arrived by now.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(error) = self.errors.try_recv() {
            panic!("the broker refused something: {error}");
        }
    }

    /// Publishes `payload` to `subject` and flushes.
    pub(crate) async fn publish(&self, subject: &str, payload: &'static [u8]) {
        self.client
            .publish(subject.to_string(), bytes::Bytes::from_static(payload))
            .await
            .expect("publish");
        self.client.flush().await.expect("flush");
    }
}

/// How many messages the order stream holds, as the operator sees it.
pub(crate) async fn orders_in_stream(js: &async_nats::jetstream::Context) -> u64 {
    let mut stream = js.get_stream(ORDERS_STREAM).await.expect("ORDERS exists");
    stream.info().await.expect("stream info").state.messages
}

/// The leader bucket, as the operator sees it.
pub(crate) async fn leader_bucket(
    js: &async_nats::jetstream::Context,
) -> async_nats::jetstream::kv::Store {
    js.get_key_value(LEADER_BUCKET)
        .await
        .expect("order_leader exists")
}
