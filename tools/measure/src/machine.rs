//! What a measurement ran on, read from the machine itself (Linux `/proc`), and when: one
//! description for both documents, so that their headers cannot disagree about the machine.

use crate::processes;
use serde::{Deserialize, Serialize};
use std::process::Command;

/// The machine, the moment and the other load on it, for a document's header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// The first `model name` in `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal` from `/proc/meminfo`, in GiB.
    #[serde(default)]
    pub memory_gib: f64,
    /// `PRETTY_NAME` from `/etc/os-release`.
    #[serde(default)]
    pub os: String,
    /// The kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `git describe --always --dirty` of the measured tree.
    pub commit: String,
    /// Start of the run, UTC.
    pub date: String,
    /// `/proc/loadavg` at the start of the run: other work on the machine shows up in every
    /// figure.
    pub loadavg: String,
    /// Command lines of chaos processes running at the start (not ours).
    #[serde(default)]
    pub background: Vec<String>,
    /// `rustc` processes (other builds on the machine) at the start.
    #[serde(default)]
    pub compilers: usize,
}

impl Machine {
    /// Describes the machine now.
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
            kernel: command("uname", &["-r"]),
            rustc: command("rustc", &["--version"]),
            commit: command("git", &["describe", "--always", "--dirty"]),
            date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            loadavg: loadavg(),
            background: processes::chaos_processes(),
            compilers: processes::count_processes("rustc"),
        }
    }

    /// The 1-minute load average at the start (0 when unknown).
    pub fn load_at_start(&self) -> f64 {
        one_minute(&self.loadavg)
    }
}

/// `/proc/loadavg` now, trimmed (empty when unreadable).
pub fn loadavg() -> String {
    read("/proc/loadavg").trim().to_string()
}

/// The 1-minute load average now (0 when unknown).
pub fn load_average() -> f64 {
    one_minute(&loadavg())
}

/// The 1, 5 and 15 minute figures of a `/proc/loadavg` line, without the process counts.
pub fn load_triple(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn one_minute(loadavg: &str) -> f64 {
    loadavg
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

    #[test]
    fn load_figures_are_read_from_a_loadavg_line() {
        let line = "0.60 1.74 2.37 2/195 31106";
        assert_eq!(load_triple(line), "0.60 1.74 2.37");
        assert!((one_minute(line) - 0.6).abs() < 1e-9);
        assert!(one_minute("").abs() < 1e-9);
    }
}
