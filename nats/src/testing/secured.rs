//! The shipped broker configuration with authentication on, for tests.
//!
//! Tests of permissions must run the very configuration that `scripts/run` runs, not a copy
//! kept for tests: [`Secrets::generate`] runs `scripts/gen-nats-secrets` into a temporary
//! directory, and [`render_shipped_config`] lays a shipped file from `nats/conf/` out beside
//! `auth.conf` and the generated passwords, exactly as scripts/run does in `.run/nats-conf/`.

use super::NatsServer;
use crate::auth::NatsAuth;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A user of the shipped configuration (nats/conf/auth.conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The HTTP gateway.
    Frontend,
    /// The catalog service.
    Catalog,
    /// The order replicas (one user for all three).
    Order,
    /// Container health checks.
    Health,
    /// People and the setup step: everything.
    Operator,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Frontend,
        Role::Catalog,
        Role::Order,
        Role::Health,
        Role::Operator,
    ];

    /// The NATS user name.
    pub fn user(self) -> &'static str {
        match self {
            Role::Frontend => "frontend",
            Role::Catalog => "catalog",
            Role::Order => "order",
            Role::Health => "health",
            Role::Operator => "operator",
        }
    }
}

/// The project's root directory (where `scripts/` and `nats/conf/` are).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Credentials made by `scripts/gen-nats-secrets` in a temporary directory, removed on drop.
#[derive(Debug)]
pub struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    /// Runs `scripts/gen-nats-secrets` into a new temporary directory.
    ///
    /// # Panics
    /// When the script fails: the test cannot run.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the secrets");
        let script = workspace().join("scripts/gen-nats-secrets");
        let output = Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Self { dir }
    }

    /// The directory holding the generated files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file holding `role`'s password.
    pub fn password_file(&self, role: Role) -> PathBuf {
        self.dir
            .path()
            .join(format!("nats-{}.password", role.user()))
    }

    /// `role`'s password.
    ///
    /// # Panics
    /// When the file cannot be read.
    pub fn password(&self, role: Role) -> String {
        std::fs::read_to_string(self.password_file(role))
            .expect("a generated password file")
            .trim_end()
            .to_string()
    }

    /// Credentials of `role` as a service takes them: user and password file.
    pub fn auth(&self, role: Role) -> NatsAuth {
        NatsAuth::user_password_file(role.user(), self.password_file(role))
    }
}

/// Lays out `nats/conf/<shipped>` (e.g. `dev.conf`, `cluster/nats-1.conf`) in a new temporary
/// directory beside `auth.conf` and the generated `nats-users.conf` and `nats-routes.conf`, and
/// returns the directory and the main file's path in it.
///
/// # Panics
/// When a file cannot be copied.
pub fn render_shipped_config(shipped: &str, secrets: &Secrets) -> (tempfile::TempDir, PathBuf) {
    let conf = workspace().join("nats/conf");
    let dir = tempfile::tempdir().expect("temp dir for the configuration");
    let copy = |from: &Path, name: &str| {
        std::fs::copy(from, dir.path().join(name))
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    };
    let main_name = Path::new(shipped)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a file name")
        .to_string();
    copy(&conf.join(shipped), &main_name);
    copy(&conf.join("auth.conf"), "auth.conf");
    for generated in ["nats-users.conf", "nats-routes.conf"] {
        copy(&secrets.dir().join(generated), generated);
    }
    let main = dir.path().join(main_name);
    (dir, main)
}

impl NatsServer {
    /// Starts the shipped development configuration (`nats/conf/dev.conf`, the one scripts/run
    /// runs: authentication and permissions from auth.conf, `sync_interval: always`) with fresh
    /// credentials, on free ports with a temporary store. No stream or bucket exists yet: run
    /// the setup step as [`Role::Operator`] first.
    ///
    /// # Panics
    /// As [`NatsServer::start`], or when the secrets cannot be made.
    pub fn start_secured() -> (Self, Secrets) {
        let secrets = Secrets::generate();
        let (conf_dir, main) = render_shipped_config("dev.conf", &secrets);
        let mut server = Self::start_with_config(&main, &[]);
        server.conf_dir = Some(conf_dir);
        (server, secrets)
    }
}
