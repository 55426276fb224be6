//! A real nats-server for tests: JetStream on, a free port, a temporary store, and every
//! append synced before its ack (`sync_interval: always`), as every shipped setup runs it.
//!
//! Nothing in Stock Bazaar's tests mocks the broker. [`NatsServer::start`] runs the binary with
//! `-p -1` (a free port) and `-m -1` (a free monitoring port, for `/varz`), reads them back from
//! the ports file, and kills the process when dropped. [`NatsServer::restart`] brings it back on the same port and store, for fault tests.
//! [`NatsServer::start_secured`] runs the shipped configuration instead, authentication on
//! ([`secured`]). [`wait_until`] polls for a condition the way every test in the workspace does.

mod secured;
mod wait;

pub use secured::{render_shipped_config, Role, Secrets};
pub use wait::wait_until;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nats-server owned by a test.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    /// The monitoring port, when the server runs from a configuration file (`-m -1`).
    monitoring_port: Option<u16>,
    /// The main configuration file, if any; it stays where the caller put it.
    config: Option<PathBuf>,
    /// A rendered configuration directory this server owns (see [`Self::start_secured`]).
    conf_dir: Option<tempfile::TempDir>,
    /// More command-line arguments, given again on every restart.
    extra_args: Vec<String>,
    store: tempfile::TempDir,
    ports_dir: tempfile::TempDir,
}

/// Finds the nats-server binary: `$NATS_SERVER_BIN`, then the project's `.tools/bin`, then `PATH`.
pub fn nats_server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let local = workspace.join(".tools/bin/nats-server");
    if local.exists() {
        return local;
    }
    PathBuf::from("nats-server")
}

impl NatsServer {
    /// Starts a server with JetStream on loopback, a free port and a free monitoring port,
    /// syncing every append before its ack (`sync_interval: always`), as every shipped setup
    /// does; anonymous clients may do anything.
    ///
    /// # Panics
    /// When the binary cannot be started or reports no port within 10 s: the test cannot run.
    pub fn start() -> Self {
        let conf_dir = tempfile::tempdir().expect("temp dir for the test broker's config");
        let config = conf_dir.path().join("test.conf");
        std::fs::write(
            &config,
            "listen: \"127.0.0.1:-1\"\nhttp: \"127.0.0.1:-1\"\njetstream { sync_interval: always }\n",
        )
        .expect("write the test broker's config");
        let mut server = Self::unstarted(Some(config));
        server.conf_dir = Some(conf_dir);
        server.spawn(None);
        server
    }

    /// Starts a server from the configuration file `config` (which must turn JetStream on and
    /// name no store directory), on a free client port and a free monitoring port, with a
    /// temporary store; `extra_args` go on the command line too (e.g. `-a 127.0.0.1` to keep a
    /// file that listens everywhere on loopback). Everything else comes from the file.
    ///
    /// # Panics
    /// As [`Self::start`].
    pub fn start_with_config(config: &Path, extra_args: &[&str]) -> Self {
        let mut server = Self::unstarted(Some(config.to_path_buf()));
        server.extra_args = extra_args.iter().map(|a| a.to_string()).collect();
        server.spawn(None);
        server
    }

    fn unstarted(config: Option<PathBuf>) -> Self {
        let store = tempfile::tempdir().expect("temp dir for the JetStream store");
        let ports_dir = tempfile::tempdir().expect("temp dir for the ports file");
        Self {
            child: None,
            port: 0,
            monitoring_port: None,
            config,
            conf_dir: None,
            extra_args: Vec::new(),
            store,
            ports_dir,
        }
    }

    /// The arguments that say where to listen: a config file's own addresses with free ports,
    /// or JetStream on loopback.
    fn listen_args(&self, port: Option<u16>) -> Vec<std::ffi::OsString> {
        let port_arg = port.map_or_else(|| "-1".to_string(), |p| p.to_string());
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        match &self.config {
            Some(config) => {
                args.extend(["-c".into(), config.clone().into_os_string()]);
                args.extend(["-m".into(), "-1".into()]);
            }
            None => args.extend(["-js".into(), "-a".into(), "127.0.0.1".into()]),
        }
        args.extend(["-p".into(), port_arg.into()]);
        args.extend(self.extra_args.iter().map(Into::into));
        args
    }

    fn spawn(&mut self, port: Option<u16>) {
        let child = Command::new(nats_server_binary())
            .args(self.listen_args(port))
            .arg("--ports_file_dir")
            .arg(self.ports_dir.path())
            .arg("-sd")
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); run scripts/install-nats-server or set NATS_SERVER_BIN",
                    nats_server_binary().display()
                )
            });
        let ports_file = self
            .ports_dir
            .path()
            .join(format!("nats-server_{}.ports", child.id()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let wants_monitoring = self.config.is_some();
        loop {
            if let Some(found) = std::fs::read_to_string(&ports_file)
                .ok()
                .and_then(|text| parse_ports(&text))
                .filter(|found| found.monitoring.is_some() || !wants_monitoring)
            {
                self.port = found.client;
                self.monitoring_port = found.monitoring;
                break;
            }
            assert!(Instant::now() < deadline, "nats-server reported no port");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.wait_until_accepting();
    }

    fn wait_until_accepting(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server does not accept connections"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The client URL, e.g. `nats://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The monitoring endpoint, e.g. `http://127.0.0.1:41235` (`/varz`, `/healthz`), for a
    /// server started from a configuration file.
    pub fn monitoring_url(&self) -> Option<String> {
        self.monitoring_port
            .map(|port| format!("http://127.0.0.1:{port}"))
    }

    /// The broker's `/varz`, as JSON (`None` when it cannot be read).
    pub fn varz(&self) -> Option<serde_json::Value> {
        varz_on(self.monitoring_port?)
    }

    /// Whether the broker syncs every JetStream write before acknowledging it, as its
    /// `/varz` reports.
    pub async fn sync_always(&self) -> bool {
        let Some(port) = self.monitoring_port else {
            return false;
        };
        tokio::task::spawn_blocking(move || varz_on(port))
            .await
            .ok()
            .flatten()
            .and_then(|v| v["jetstream"]["config"]["sync_always"].as_bool())
            .unwrap_or(false)
    }

    /// The JetStream store directory.
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// Kills the server with SIGKILL (no clean shutdown) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: the server keeps its clients' connections open but answers nothing, as a hung or
    /// overloaded broker would. [`Self::kill`] and [`Self::restart`] work on a frozen server.
    pub fn freeze(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-STOP", &child.id().to_string()])
                .status();
        }
    }

    /// Starts the server again on the same port with the same store (and configuration file),
    /// after [`Self::kill`]. A monitoring port is picked afresh.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port;
        self.spawn(Some(port));
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The ports a running server reports.
#[derive(Debug, PartialEq, Eq)]
struct Ports {
    client: u16,
    monitoring: Option<u16>,
}

/// `GET /varz` on the monitoring port, over plain HTTP/1.0.
fn varz_on(port: u16) -> Option<serde_json::Value> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let body = response.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}

/// Reads a nats-server ports file
/// (`{"nats": ["nats://host:port"], "monitoring": ["http://host:port"]}`).
fn parse_ports(text: &str) -> Option<Ports> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let port_of = |key: &str| -> Option<u16> {
        let url = json.get(key)?.get(0)?.as_str()?;
        url.rsplit(':').next()?.parse().ok()
    };
    Some(Ports {
        client: port_of("nats")?,
        monitoring: port_of("monitoring"),
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_ports, Ports};

    #[test]
    fn reads_the_client_and_monitoring_ports_from_a_ports_file() {
        let text = r#"{"nats":["nats://127.0.0.1:40111"],"monitoring":[]}"#;
        assert_eq!(
            parse_ports(text),
            Some(Ports {
                client: 40111,
                monitoring: None
            })
        );
        let text = r#"{"nats":["nats://127.0.0.1:1"],"monitoring":["http://127.0.0.1:2"]}"#;
        assert_eq!(parse_ports(text).and_then(|p| p.monitoring), Some(2));
        assert_eq!(parse_ports("{}"), None);
    }

    #[tokio::test]
    async fn the_test_broker_syncs_every_append_before_its_ack() {
        let server = super::NatsServer::start();
        let varz = server.varz().expect("the broker's /varz");
        assert_eq!(varz["jetstream"]["config"]["sync_always"], true, "{varz}");
        assert!(server.sync_always().await);
    }
}
