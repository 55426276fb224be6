//! One service binary running as a child process, logging to a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where the workspace's binaries are: `$BAZAAR_BIN_DIR`, else `target/debug` (or
/// `$CARGO_TARGET_DIR/debug`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BAZAAR_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("debug")
}

/// The path of binary `name`.
///
/// # Panics
/// When it has not been built: run `cargo build --workspace` first.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` (scripts/test does) before these tests",
        path.display()
    );
    path
}

/// The environment variables a service reads its NATS credentials from.
pub const CREDENTIAL_VARIABLES: [&str; 3] = ["NATS_USER", "NATS_PASSWORD", "NATS_PASSWORD_FILE"];

/// A running (or stopped) service; killed when dropped.
#[derive(Debug)]
pub struct ServiceProcess {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl ServiceProcess {
    /// Starts `program` with `args`, logging to `log` (appended, so restarts keep history).
    pub fn start(
        name: &str,
        program: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        log: PathBuf,
    ) -> Self {
        let mut service = Self {
            name: name.to_string(),
            program,
            args,
            env,
            log,
            child: None,
        };
        service.spawn();
        service
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the service log");
        let mut command = Command::new(&self.program);
        // Credentials come only from the test's own arguments, never from the shell that ran it
        // (a sourced .run/operator.env would make every service the operator).
        for inherited in CREDENTIAL_VARIABLES {
            command.env_remove(inherited);
        }
        let child = command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(
                "RUST_LOG",
                std::env::var("SERVICE_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        self.child = Some(child);
    }

    /// The service's name in this system, e.g. `order-2`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it is running (not exited, not killed).
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
        }
    }

    /// SIGKILL: dies on the spot, flushing nothing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for a clean exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        self.signal("-TERM");
        match self.child.take() {
            Some(mut child) => child.wait().is_ok_and(|s| s.success()),
            None => false,
        }
    }

    /// SIGSTOP: frozen, sockets open, timers stopped.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`Self::freeze`].
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// Starts it again with the same arguments (after a kill or terminate).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The end of its log, for a failing test's output.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Its whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.thaw();
        self.kill();
    }
}
