//! What the evaluation ran on, read from the machine itself (Linux `/proc`), and when.

use serde::Serialize;
use std::process::Command;

/// The machine and the moment, for the document's header.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// The first `model name` in `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal` from `/proc/meminfo`, in GiB.
    pub memory_gib: f64,
    /// `PRETTY_NAME` from `/etc/os-release`.
    pub os: String,
    /// The kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `git describe --always --dirty` of the measured tree.
    pub commit: String,
    /// When the evaluation started, UTC.
    pub date: String,
    /// `/proc/loadavg`'s 1-minute load when the evaluation started: other work on the machine
    /// shows up in the figures.
    pub load_at_start: f64,
}

/// The 1-minute load average now (0 when unknown).
pub fn load_average() -> f64 {
    read("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn command(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The value after `key` and a colon (`/proc` files) or `=` (`os-release`), on its first line.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':').or_else(|| line.split_once('='))?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

impl Machine {
    /// Reads the machine's description now.
    pub fn describe() -> Self {
        let memory_kib: f64 = field(&read("/proc/meminfo"), "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: field(&read("/proc/cpuinfo"), "model name")
                .unwrap_or_else(|| "unknown".into()),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            os: field(&read("/etc/os-release"), "PRETTY_NAME").unwrap_or_else(|| "unknown".into()),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            rustc: command("rustc", &["--version"]),
            commit: command("git", &["describe", "--always", "--dirty"]),
            date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            load_at_start: load_average(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_proc_and_os_release_formats() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nflags\t: a b\n";
        assert_eq!(
            field(cpuinfo, "model name").as_deref(),
            Some("Some CPU @ 2.0GHz")
        );
        let os = "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n";
        assert_eq!(
            field(os, "PRETTY_NAME").as_deref(),
            Some("Debian GNU/Linux 12")
        );
        assert_eq!(
            field("MemTotal:  24576000 kB\n", "MemTotal").as_deref(),
            Some("24576000 kB")
        );
        assert_eq!(field(cpuinfo, "missing"), None);
    }
}
