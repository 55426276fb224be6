//! What the benchmark ran on and alongside: the machine, the tree, and other load on the machine.

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;

/// The machine, the moment and the background load, for the document's header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// The first `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// The kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `git describe --always --dirty` of the measured tree.
    pub commit: String,
    /// Start of the run, UTC.
    pub date: String,
    /// `/proc/loadavg` at the start of the run.
    pub loadavg: String,
    /// Command lines of other benchmark or chaos processes running at the start (not ours).
    pub background: Vec<String>,
    /// `rustc` processes (other builds on the machine) at the start.
    #[serde(default)]
    pub compilers: usize,
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

impl Machine {
    /// Describes the machine now.
    pub fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            kernel: command("uname", &["-r"]),
            rustc: command("rustc", &["--version"]),
            commit: command("git", &["describe", "--always", "--dirty"]),
            date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            loadavg: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
                .to_string(),
            background: chaos_processes(),
            compilers: count_processes("rustc"),
        }
    }
}

/// Command lines of running processes started from `/tmp/chaos-bin` (a long-running
/// chaos test, which competes for the two cores).
pub fn chaos_processes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if let Some(cmdline) = cmdline(&entry.path()) {
            if cmdline.contains("/tmp/chaos-bin/") {
                found.push(cmdline);
            }
        }
    }
    found.sort();
    found
}

/// How many running processes are named `name` (`/proc/PID/comm`).
pub fn count_processes(name: &str) -> usize {
    std::fs::read_dir("/proc").map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name)
            })
            .count()
    })
}

/// A process's command line, arguments joined by spaces.
pub fn cmdline(proc_dir: &Path) -> Option<String> {
    let raw = std::fs::read(proc_dir.join("cmdline")).ok()?;
    let text: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!text.is_empty()).then(|| text.join(" "))
}

/// Resident memory (`VmRSS`) of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix("VmRSS:")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

/// The pid of the nats-server whose command line names `store_dir`.
pub fn nats_server_pid(store_dir: &Path) -> Option<u32> {
    let needle = store_dir.display().to_string();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_string_lossy().parse().ok()?;
            let cmdline = cmdline(&entry.path())?;
            (cmdline.contains("nats-server") && cmdline.contains(&needle)).then_some(pid)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_memory() {
        let kib = rss_kib(std::process::id()).expect("own VmRSS");
        assert!(kib > 0);
    }
}
