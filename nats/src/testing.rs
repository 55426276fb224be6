//! A real nats-server for tests: JetStream on, a free port, a temporary store.
//!
//! Nothing in Stock Bazaar's tests mocks the broker. [`NatsServer::start`] runs the binary with
//! `-p -1` (a free port), reads the port back from the ports file, and kills the process when
//! dropped. [`NatsServer::restart`] brings it back on the same port and store, for fault tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nats-server owned by a test.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
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
            store,
            ports_dir,
        };
        server.spawn(None);
        server
    }

    fn spawn(&mut self, port: Option<u16>) {
        let port_arg = port.map_or_else(|| "-1".to_string(), |p| p.to_string());
        let child = Command::new(nats_server_binary())
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &port_arg,
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
            if let Some(found) = std::fs::read_to_string(&ports_file)
                .ok()
                .and_then(|text| parse_client_port(&text))
            {
                self.port = found;
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

/// Reads the client port from a nats-server ports file (`{"nats": ["nats://host:port"], ...}`).
fn parse_client_port(text: &str) -> Option<u16> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let url = json.get("nats")?.get(0)?.as_str()?;
    url.rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_client_port;

    #[test]
    fn reads_the_client_port_from_a_ports_file() {
        let text = r#"{"nats":["nats://127.0.0.1:40111"],"monitoring":[]}"#;
        assert_eq!(parse_client_port(text), Some(40111));
        assert_eq!(parse_client_port("{}"), None);
    }
}
