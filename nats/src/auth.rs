//! Who a process is on the bus: a NATS user and its password, and the inbox prefix that user
//! may read.
//!
//! Every shipped nats-server configuration (nats/conf/auth.conf) refuses anonymous clients and
//! lets each user subscribe only to its own inbox prefix, `_INBOX_<user>`, so that no role can
//! read another's replies. [`NatsAuth`] is the one set of flags every binary takes for this
//! (flattened into its clap `Config`); without a user it connects anonymously, as the tests' bare
//! nats-server and a development broker without authentication expect.

use std::fmt;
use std::path::PathBuf;

/// What every user's inbox prefix starts with; the user name follows (`_INBOX_frontend`).
pub const INBOX_PREFIX_STEM: &str = "_INBOX_";

/// The inbox prefix of `user`: the only reply subjects the shipped configuration lets it read.
pub fn inbox_prefix(user: &str) -> String {
    format!("{INBOX_PREFIX_STEM}{user}")
}

/// NATS credentials from flags or the environment. `Default` is anonymous.
///
/// The password comes from `--nats-password` (`NATS_PASSWORD`) or, better, from a file
/// (`--nats-password-file`, `NATS_PASSWORD_FILE`, e.g. a Docker secret): a flag shows in the
/// process list. `Debug` never prints the password.
#[derive(Clone, Default, PartialEq, Eq, clap::Args)]
pub struct NatsAuth {
    /// NATS user name (the role: frontend, catalog, order, health or operator). Without it the
    /// connection is anonymous, which only a broker without authentication accepts.
    #[arg(long = "nats-user", env = "NATS_USER", value_name = "USER")]
    pub user: Option<String>,
    /// The user's password. Prefer --nats-password-file: a flag shows in the process list.
    #[arg(
        long = "nats-password",
        env = "NATS_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        requires = "user",
        conflicts_with = "password_file"
    )]
    pub password: Option<String>,
    /// A file whose first line is the user's password (e.g. a Docker secret).
    #[arg(
        long = "nats-password-file",
        env = "NATS_PASSWORD_FILE",
        value_name = "FILE",
        requires = "user"
    )]
    pub password_file: Option<PathBuf>,
}

/// Why the credentials cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The user name cannot be part of a subject (its inbox prefix).
    #[error("NATS user name {0:?} must be letters, digits, '-' or '_'")]
    BadUser(String),
    /// A user without any password.
    #[error("NATS user {0} needs --nats-password or --nats-password-file")]
    NoPassword(String),
    /// A password without a user.
    #[error("a NATS password needs --nats-user")]
    NoUser,
    /// The password file cannot be read.
    #[error("cannot read the NATS password from {path}: {source}")]
    PasswordUnreadable {
        /// The file named by `--nats-password-file`.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The password file's first line is empty.
    #[error("cannot read the NATS password from {path}: the file is empty")]
    PasswordEmpty {
        /// The file named by `--nats-password-file`.
        path: PathBuf,
    },
}

/// A user name and its password, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user.
    pub user: String,
    /// Its password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl NatsAuth {
    /// `user` with an inline password (tests and tools that were handed one).
    pub fn user_password(user: &str, password: &str) -> Self {
        Self {
            user: Some(user.to_string()),
            password: Some(password.to_string()),
            password_file: None,
        }
    }

    /// `user` with its password in `file`.
    pub fn user_password_file(user: &str, file: impl Into<PathBuf>) -> Self {
        Self {
            user: Some(user.to_string()),
            password: None,
            password_file: Some(file.into()),
        }
    }

    /// The credentials to send, or `None` for an anonymous connection. Reads the password file.
    ///
    /// # Errors
    /// [`AuthError`] when a user lacks a password (or the reverse), the user name is not a
    /// subject token, or the password file cannot be read or is empty.
    pub fn credentials(&self) -> Result<Option<Credentials>, AuthError> {
        let Some(user) = &self.user else {
            if self.password.is_some() || self.password_file.is_some() {
                return Err(AuthError::NoUser);
            }
            return Ok(None);
        };
        if user.is_empty()
            || !user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(AuthError::BadUser(user.clone()));
        }
        let password = match (&self.password, &self.password_file) {
            (Some(password), _) => password.clone(),
            (None, Some(path)) => read_password_file(path)?,
            (None, None) => return Err(AuthError::NoPassword(user.clone())),
        };
        Ok(Some(Credentials {
            user: user.clone(),
            password,
        }))
    }
}

impl fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsAuth")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .finish()
    }
}

/// The first line of `path`, without its line end.
fn read_password_file(path: &std::path::Path) -> Result<String, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::PasswordUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let password = text.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        return Err(AuthError::PasswordEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        auth: NatsAuth,
    }

    #[test]
    fn no_user_means_an_anonymous_connection() {
        assert_eq!(NatsAuth::default().credentials().unwrap(), None);
    }

    #[test]
    fn the_password_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let found = NatsAuth::user_password_file("order", &path)
            .credentials()
            .unwrap()
            .unwrap();
        assert_eq!(found.user, "order");
        assert_eq!(found.password, "s3cret");
    }

    #[test]
    fn missing_or_empty_password_files_and_bad_users_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        for (auth, expected) in [
            (NatsAuth::user_password_file("order", &empty), "empty"),
            (
                NatsAuth::user_password_file("order", dir.path().join("none")),
                "cannot read",
            ),
            (NatsAuth::user_password("a.b", "pw"), "letters"),
            (
                NatsAuth {
                    user: Some("order".into()),
                    ..NatsAuth::default()
                },
                "needs --nats-password",
            ),
        ] {
            let error = auth.credentials().unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn flags_parse_and_debug_hides_the_password() {
        let flags =
            Flags::try_parse_from(["x", "--nats-user", "frontend", "--nats-password", "hunter2"])
                .unwrap();
        assert_eq!(flags.auth, NatsAuth::user_password("frontend", "hunter2"));
        let shown = format!("{:?}", flags.auth);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(Flags::try_parse_from(["x", "--nats-password", "p"]).is_err());
        assert!(Flags::try_parse_from([
            "x",
            "--nats-user",
            "u",
            "--nats-password",
            "p",
            "--nats-password-file",
            "f"
        ])
        .is_err());
    }

    #[test]
    fn each_user_has_its_own_inbox_prefix() {
        assert_eq!(inbox_prefix("frontend"), "_INBOX_frontend");
    }
}
