//! A real nats-server for tests: JetStream on, a free port, a temporary store, and every
//! append synced before its ack (`sync_interval: always`), as every shipped setup runs it.
//!
//! Nothing in Stock Bazaar's tests mocks the broker. [`NatsServer::start`] runs the binary with
//! `-p -1` (a free port) and `-m -1` (a free monitoring port), reads both back from the ports
//! file, and kills the process when dropped. [`NatsServer::restart`] brings it back on the same
//! port and store, for fault tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nats-server owned by a test.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    monitor_port: Option<u16>,
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
    /// Starts a server with JetStream on a free port.
    ///
    /// # Panics
    /// When the binary cannot be started or reports no port within 10 s: the test cannot run.
    pub fn start() -> Self {
        let store = tempfile::tempdir().expect("temp dir for the JetStream store");
        let ports_dir = tempfile::tempdir().expect("temp dir for the ports file");
        let mut server = Self {
            child: None,
            port: 0,
            monitor_port: None,
            store,
            ports_dir,
        };
        server.spawn(None);
        server
    }

    fn spawn(&mut self, port: Option<u16>) {
        let port_arg = port.map_or_else(|| "-1".to_string(), |p| p.to_string());
        let config = self.ports_dir.path().join("sync.conf");
        std::fs::write(&config, "jetstream { sync_interval: always }\n")
            .expect("write the test broker's config");
        let child = Command::new(nats_server_binary())
            .arg("-c")
            .arg(&config)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &port_arg,
                "-m",
                "-1",
                "--ports_file_dir",
            ])
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
        loop {
            let text = std::fs::read_to_string(&ports_file).unwrap_or_default();
            if let Some(found) = parse_client_port(&text) {
                self.port = found;
                self.monitor_port = parse_port(&text, "monitoring");
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

    /// The monitoring endpoint's base URL, e.g. `http://127.0.0.1:41235`.
    pub fn monitor_url(&self) -> Option<String> {
        self.monitor_port.map(|p| format!("http://127.0.0.1:{p}"))
    }

    /// The broker's `/varz`, as JSON (`None` when it cannot be read).
    pub fn varz(&self) -> Option<serde_json::Value> {
        varz_on(self.monitor_port?)
    }

    /// Whether the broker syncs every JetStream write before acknowledging it, as its
    /// `/varz` reports.
    pub async fn sync_always(&self) -> bool {
        let Some(port) = self.monitor_port else {
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

    /// Starts the server again on the same port with the same store, after [`Self::kill`].
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

/// Reads the client port from a nats-server ports file (`{"nats": ["nats://host:port"], ...}`).
fn parse_client_port(text: &str) -> Option<u16> {
    parse_port(text, "nats")
}

/// Reads the first port listed under `kind` (`nats`, `monitoring`) in a ports file.
fn parse_port(text: &str, kind: &str) -> Option<u16> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let url = json.get(kind)?.get(0)?.as_str()?;
    url.rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{parse_client_port, parse_port, NatsServer};

    #[test]
    fn reads_the_client_port_from_a_ports_file() {
        let text = r#"{"nats":["nats://127.0.0.1:40111"],"monitoring":["http://127.0.0.1:40112"]}"#;
        assert_eq!(parse_client_port(text), Some(40111));
        assert_eq!(parse_port(text, "monitoring"), Some(40112));
        assert_eq!(parse_client_port("{}"), None);
    }

    #[tokio::test]
    async fn the_test_broker_syncs_every_append_before_its_ack() {
        let server = NatsServer::start();
        let varz = server.varz().expect("the broker's /varz");
        assert_eq!(varz["jetstream"]["config"]["sync_always"], true, "{varz}");
        assert!(server.sync_always().await);
    }
}
