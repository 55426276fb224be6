//! Other processes on the machine, read from `/proc`: who else competes for the cores, and how
//! much memory the measured services hold.

use std::path::Path;

/// Command lines of running processes started from `/tmp/chaos-bin` (a long-running
/// chaos test, which competes for the cores).
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
