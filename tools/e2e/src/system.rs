//! A whole Stock Bazaar deployment on loopback, for tests.

use crate::metrics::MetricsEndpoints;
use crate::process::{binary, ServiceProcess, CREDENTIAL_VARIABLES};
use bazaar_nats::messages::{decode, encode, ReplicaDigest, Reply, Stock, StockLookup};
use bazaar_nats::subjects::{order_digest, LEADER_BUCKET, LEADER_KEY, STOCK_LIST, STOCK_LOOKUP};
use bazaar_nats::testing::{NatsServer, Role, Secrets};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How a test wants the system started.
#[derive(Debug, Clone)]
pub struct SystemOptions {
    /// `--cache-size` of every frontend.
    pub cache_size: usize,
    /// How many frontends to run.
    pub frontends: usize,
    /// `FRONTEND_RETRY_BUDGET_MS`.
    pub retry_budget_ms: u64,
    /// Start the order replicas (false for tests of what happens without them).
    pub with_orders: bool,
    /// Run the broker with the shipped configuration, authentication on (nats/conf/dev.conf
    /// with fresh credentials): the setup step runs as the operator, each service connects as
    /// its own role and the test's client as the operator.
    pub secured: bool,
    /// Start the catalog and the replicas with `--fault-injection`, so the operator's `admin.>`
    /// subjects work.
    pub fault_injection: bool,
}

impl Default for SystemOptions {
    fn default() -> Self {
        Self {
            cache_size: 5,
            frontends: 1,
            retry_budget_ms: 5000,
            with_orders: true,
            secured: false,
            fault_injection: false,
        }
    }
}

/// nats-server, the catalog, three order replicas and the frontend(s), all real processes.
#[derive(Debug)]
pub struct System {
    /// The broker.
    pub nats: NatsServer,
    /// The catalog.
    pub catalog: ServiceProcess,
    /// Order replicas; `orders[i]` has id `i + 1`.
    pub orders: Vec<ServiceProcess>,
    /// Frontends.
    pub frontends: Vec<ServiceProcess>,
    frontend_urls: Vec<String>,
    /// A plain NATS client for the test's own requests.
    pub client: async_nats::Client,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The credentials of a secured system.
    pub secrets: Option<Secrets>,
    /// Where the catalog and each replica serve `/metrics`.
    pub metrics: MetricsEndpoints,
    dir: tempfile::TempDir,
    options: SystemOptions,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl System {
    /// Starts everything and waits until a leader is elected and every frontend answers.
    pub async fn start(options: SystemOptions) -> Self {
        let (nats, secrets) = if options.secured {
            let (nats, secrets) = NatsServer::start_secured();
            run_setup(&nats.url(), &secrets);
            (nats, Some(secrets))
        } else {
            (NatsServer::start(), None)
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let url = nats.url();
        let auth = |role| {
            let mut args = auth_args(secrets.as_ref(), role);
            if options.fault_injection && role != Role::Frontend {
                args.push("--fault-injection".into());
            }
            args
        };
        let metrics = MetricsEndpoints::on_free_ports(if options.with_orders { 3 } else { 0 });
        let catalog = Self::spawn_catalog(&dir, &url, auth(Role::Catalog), metrics.catalog_arg());
        let orders = (1..=metrics.orders.len() as u32)
            .map(|id| Self::spawn_order(&dir, &url, id, auth(Role::Order), metrics.order_arg(id)))
            .collect();
        let mut frontends = Vec::new();
        let mut frontend_urls = Vec::new();
        for i in 0..options.frontends {
            let port = free_port();
            let args = Self::frontend_args(&url, port, &options, auth(Role::Frontend));
            frontends.push(Self::spawn_frontend(&dir, i, args, &options));
            frontend_urls.push(format!("http://127.0.0.1:{port}"));
        }
        let client = test_client(&url, secrets.as_ref()).await;
        let system = Self {
            nats,
            catalog,
            orders,
            frontends,
            frontend_urls,
            client,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            secrets,
            metrics,
            dir,
            options,
        };
        system.wait_ready().await;
        system
    }

    fn log_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
        dir.path().join(format!("{name}.log"))
    }

    fn spawn_catalog(
        dir: &tempfile::TempDir,
        url: &str,
        auth: Vec<String>,
        metrics: [String; 2],
    ) -> ServiceProcess {
        let mut args = vec![
            "--nats-url".into(),
            url.into(),
            "--data-dir".into(),
            dir.path().join("catalog").display().to_string(),
        ];
        args.extend(auth);
        args.extend(metrics);
        ServiceProcess::start(
            "catalog",
            binary("bazaar-catalog"),
            args,
            vec![],
            Self::log_path(dir, "catalog"),
        )
    }

    fn spawn_order(
        dir: &tempfile::TempDir,
        url: &str,
        id: u32,
        auth: Vec<String>,
        metrics: [String; 2],
    ) -> ServiceProcess {
        let mut args = vec![
            "--nats-url".into(),
            url.into(),
            "--id".into(),
            id.to_string(),
            "--data-dir".into(),
            Self::order_data_dir_in(dir, id).display().to_string(),
        ];
        args.extend(auth);
        args.extend(metrics);
        ServiceProcess::start(
            &format!("order-{id}"),
            binary("bazaar-order"),
            args,
            vec![],
            Self::log_path(dir, &format!("order-{id}")),
        )
    }

    fn order_data_dir_in(dir: &tempfile::TempDir, id: u32) -> PathBuf {
        dir.path().join(format!("order-{id}"))
    }

    fn frontend_args(
        url: &str,
        port: u16,
        options: &SystemOptions,
        auth: Vec<String>,
    ) -> Vec<String> {
        let mut args = vec![
            "--nats-url".into(),
            url.into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--cache-size".into(),
            options.cache_size.to_string(),
        ];
        args.extend(auth);
        args
    }

    fn spawn_frontend(
        dir: &tempfile::TempDir,
        index: usize,
        args: Vec<String>,
        options: &SystemOptions,
    ) -> ServiceProcess {
        ServiceProcess::start(
            &format!("frontend-{index}"),
            binary("bazaar-frontend"),
            args,
            vec![(
                "FRONTEND_RETRY_BUDGET_MS".into(),
                options.retry_budget_ms.to_string(),
            )],
            Self::log_path(dir, &format!("frontend-{index}")),
        )
    }

    /// A client connected as `role` (on a system without authentication, an anonymous one),
    /// e.g. to act as a compromised order replica.
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn client_as(&self, role: Role, name: &str) -> async_nats::Client {
        let auth = self
            .secrets
            .as_ref()
            .map_or_else(bazaar_nats::NatsAuth::default, |s| s.auth(role));
        bazaar_nats::connect(&self.nats.url(), name, &auth)
            .await
            .expect("a client connects")
            .client
    }

    /// Replica `id`'s data directory.
    pub fn order_data_dir(&self, id: u32) -> PathBuf {
        Self::order_data_dir_in(&self.dir, id)
    }

    /// Replica `id`'s process.
    pub fn order(&mut self, id: u32) -> &mut ServiceProcess {
        &mut self.orders[(id - 1) as usize]
    }

    /// Base URL of frontend `index`.
    pub fn frontend_url(&self, index: usize) -> &str {
        &self.frontend_urls[index]
    }

    /// Base URL of the first frontend.
    pub fn url(&self) -> &str {
        self.frontend_url(0)
    }

    /// Waits until every frontend answers `/healthz` and, when replicas run, a leader is elected.
    pub async fn wait_ready(&self) {
        for url in &self.frontend_urls {
            wait_until(Duration::from_secs(30), "a frontend to answer", || async {
                self.http
                    .get(format!("{url}/healthz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
            .await;
        }
        wait_until(Duration::from_secs(30), "the catalog to answer", || async {
            self.catalog_stock("GameStart").await.is_some()
        })
        .await;
        if self.options.with_orders {
            self.wait_for_leader(None, Duration::from_secs(30)).await;
        }
    }

    /// The leader id in the KV bucket, if any.
    pub async fn leader(&self) -> Option<u32> {
        let js = async_nats::jetstream::new(self.client.clone());
        let kv = js.get_key_value(LEADER_BUCKET).await.ok()?;
        let value = kv.get(LEADER_KEY).await.ok()??;
        bazaar_nats::lease::decode(&value)
    }

    /// Waits for a leader other than `not`; returns its id.
    pub async fn wait_for_leader(&self, not: Option<u32>, within: Duration) -> u32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(leader) = self.leader().await {
                if Some(leader) != not {
                    return leader;
                }
            }
            assert!(Instant::now() < deadline, "no new leader within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Replica `id`'s digest, asked over NATS.
    pub async fn digest(&self, id: u32) -> Option<ReplicaDigest> {
        let request = async_nats::Request::new()
            .payload(bytes::Bytes::new())
            .timeout(Some(Duration::from_secs(2)));
        let reply = self
            .client
            .send_request(order_digest(id), request)
            .await
            .ok()?;
        match decode::<Reply<ReplicaDigest>>(&reply.payload).ok()? {
            Reply::Ok { data } => Some(data),
            _ => None,
        }
    }

    /// Waits until every running replica reports the same count (at least `min_count`) and hash.
    ///
    /// # Panics
    /// When they do not within `within`.
    pub async fn wait_converged(&mut self, min_count: u64, within: Duration) -> Vec<ReplicaDigest> {
        match self.converge(min_count, within).await {
            Ok(digests) => digests,
            Err(digests) => panic!(
                "replicas did not converge to {min_count}+ orders within {within:?}: {digests:?}"
            ),
        }
    }

    /// Like [`Self::wait_converged`], but returns the last digests seen instead of panicking,
    /// for callers that report rather than assert.
    pub async fn wait_converged_or_report(
        &mut self,
        min_count: u64,
        within: Duration,
    ) -> Vec<ReplicaDigest> {
        self.converge(min_count, within).await.unwrap_or_else(|d| d)
    }

    async fn converge(
        &mut self,
        min_count: u64,
        within: Duration,
    ) -> Result<Vec<ReplicaDigest>, Vec<ReplicaDigest>> {
        let deadline = Instant::now() + within;
        loop {
            let running: Vec<u32> = (1..=self.orders.len() as u32)
                .filter(|id| self.orders[(id - 1) as usize].is_running())
                .collect();
            let mut digests = Vec::new();
            for id in &running {
                digests.extend(self.digest(*id).await);
            }
            let same = digests
                .windows(2)
                .all(|w| w[0].count == w[1].count && w[0].hash == w[1].hash);
            if digests.len() == running.len()
                && same
                && digests.first().is_some_and(|d| d.count >= min_count)
            {
                return Ok(digests);
            }
            if Instant::now() >= deadline {
                return Err(digests);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A stock as the catalog holds it, asked over NATS (no frontend cache involved).
    pub async fn catalog_stock(&self, name: &str) -> Option<Stock> {
        let lookup = StockLookup {
            name: bazaar_nats::StockName::parse(name).ok()?,
        };
        let request = async_nats::Request::new()
            .payload(encode(&lookup))
            .timeout(Some(Duration::from_secs(2)));
        let reply = self.client.send_request(STOCK_LOOKUP, request).await.ok()?;
        match decode::<Reply<Stock>>(&reply.payload).ok()? {
            Reply::Ok { data } => Some(data),
            _ => None,
        }
    }

    /// Every stock as the catalog holds it.
    pub async fn catalog_stocks(&self) -> Vec<Stock> {
        let request = async_nats::Request::new()
            .payload(bytes::Bytes::new())
            .timeout(Some(Duration::from_secs(5)));
        let reply = self
            .client
            .send_request(STOCK_LIST, request)
            .await
            .expect("catalog lists stocks");
        match decode::<Reply<Vec<Stock>>>(&reply.payload).expect("a reply envelope") {
            Reply::Ok { data } => data,
            other => panic!("catalog refused to list: {other:?}"),
        }
    }

    /// Every stock's quantity as the catalog holds it, by name.
    pub async fn catalog_quantities(&self) -> std::collections::BTreeMap<String, u64> {
        self.catalog_stocks()
            .await
            .into_iter()
            .map(|s| (s.name.to_string(), s.quantity))
            .collect()
    }

    /// `GET {frontend}{path}`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.get_on(0, path).await
    }

    /// `GET` on frontend `index`.
    pub async fn get_on(&self, index: usize, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.frontend_url(index)))
            .send()
            .await
            .expect("frontend answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /orders` with a raw body.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let response = self
            .http
            .post(format!("{}/orders", self.url()))
            .body(body)
            .send()
            .await
            .expect("frontend answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (
            status,
            response.json().await.unwrap_or(Value::Null),
            headers,
        )
    }

    /// `POST /orders` of a well-formed trade.
    pub async fn trade(&self, name: &str, quantity: u64, side: &str) -> (u16, Value) {
        let body = serde_json::json!({"name": name, "quantity": quantity, "type": side});
        let (status, json, _) = self.post_raw(body.to_string()).await;
        (status, json)
    }

    /// Kills and restarts nats-server on the same port and store.
    pub fn restart_nats(&mut self) {
        self.nats.restart();
    }

    /// Copies every service's log file into `to` (created if missing), for a failed run to be
    /// read after the system's temporary directory is gone.
    ///
    /// # Errors
    /// When a file cannot be copied.
    pub fn save_logs(&self, to: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(self.dir.path())? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "log") {
                if let Some(name) = path.file_name() {
                    std::fs::copy(&path, to.join(name))?;
                }
            }
        }
        Ok(())
    }

    /// Every process's log tail, for failure reports.
    pub fn logs(&self, lines: usize) -> String {
        let mut out = String::new();
        for p in std::iter::once(&self.catalog)
            .chain(self.orders.iter())
            .chain(self.frontends.iter())
        {
            out.push_str(&format!(
                "\n===== {} =====\n{}\n",
                p.name(),
                p.log_tail(lines)
            ));
        }
        out
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs(40));
        }
    }
}

/// The flags that make a service connect as `role`, when the system is secured.
fn auth_args(secrets: Option<&Secrets>, role: Role) -> Vec<String> {
    secrets.map_or_else(Vec::new, |secrets| {
        vec![
            "--nats-user".into(),
            role.user().into(),
            "--nats-password-file".into(),
            secrets.password_file(role).display().to_string(),
        ]
    })
}

/// Runs `bazaar-setup` as the operator, as scripts/run does before the services start.
///
/// # Panics
/// When it fails: the system cannot run.
fn run_setup(url: &str, secrets: &Secrets) {
    let mut setup = std::process::Command::new(binary("bazaar-setup"));
    setup
        .args(["--nats-url", url, "--wait-secs", "10"])
        .args(auth_args(Some(secrets), Role::Operator));
    for inherited in CREDENTIAL_VARIABLES {
        setup.env_remove(inherited);
    }
    let output = setup.output().expect("bazaar-setup runs");
    assert!(
        output.status.success(),
        "bazaar-setup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The test's own client: anonymous, or the operator on a secured system.
async fn test_client(url: &str, secrets: Option<&Secrets>) -> async_nats::Client {
    // Short requests: one lost in a broker restart should not hold a test up for the client's
    // 10 s default.
    let mut options =
        async_nats::ConnectOptions::new().request_timeout(Some(Duration::from_secs(2)));
    if let Some(secrets) = secrets {
        options = options.user_and_password(
            Role::Operator.user().into(),
            secrets.password(Role::Operator),
        );
    }
    options.connect(url).await.expect("test client connects")
}

/// Polls until a condition holds; one copy for every test in the workspace.
pub use bazaar_nats::testing::wait_until;
