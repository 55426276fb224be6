//! The services' Prometheus endpoints in a test system: where they listen, scraping them,
//! reading one sample out of the text, and checking the text with `promtool`.

use crate::system::free_port;
use std::io::Write as _;
use std::process::{Command, Stdio};

/// The base URLs (`http://127.0.0.1:PORT`) of the catalog's and each replica's metrics
/// listener; the frontend serves `/metrics` on its own address.
#[derive(Debug, Clone)]
pub struct MetricsEndpoints {
    /// The catalog's.
    pub catalog: String,
    /// Replica `i + 1`'s at `orders[i]`.
    pub orders: Vec<String>,
}

impl MetricsEndpoints {
    /// Free loopback ports for the catalog and `replicas` replicas.
    pub fn on_free_ports(replicas: usize) -> Self {
        let url = || format!("http://127.0.0.1:{}", free_port());
        Self {
            catalog: url(),
            orders: (0..replicas).map(|_| url()).collect(),
        }
    }

    /// The catalog's `--metrics-listen` flag and value.
    pub fn catalog_arg(&self) -> [String; 2] {
        listen_arg(&self.catalog)
    }

    /// Replica `id`'s `--metrics-listen` flag and value.
    pub fn order_arg(&self, id: u32) -> [String; 2] {
        listen_arg(&self.orders[(id - 1) as usize])
    }
}

fn listen_arg(url: &str) -> [String; 2] {
    let address = url.trim_start_matches("http://");
    ["--metrics-listen".into(), address.into()]
}

/// `GET {base}/metrics` as text; `None` when it does not answer 200.
pub async fn scrape(http: &reqwest::Client, base: &str) -> Option<String> {
    let response = http.get(format!("{base}/metrics")).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

/// The sum of every sample of metric `name` whose labels include all of `labels`
/// (`[("route", "/orders")]`); `None` when no sample matches.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric, label_text) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric != name {
            continue;
        }
        let matches = labels.iter().all(|(k, v)| {
            label_text
                .split(',')
                .any(|pair| pair == format!("{k}=\"{v}\""))
        });
        if let (true, Ok(value)) = (matches, value.parse::<f64>()) {
            found = Some(found.unwrap_or(0.0) + value);
        }
    }
    found
}

/// What `promtool check metrics` says of `text`: `Ok(true)` when it passed, `Ok(false)` when
/// promtool is not installed, `Err` with its complaints otherwise. Lint warnings (e.g. a
/// counter without `_total`) count as complaints.
pub fn promtool_check(text: &str) -> Result<bool, String> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot run promtool: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot feed promtool: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("promtool failed: {e}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && said.trim().is_empty() {
        Ok(true)
    } else {
        Err(said)
    }
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn samples_are_summed_over_matching_label_sets() {
        let text =
            "# TYPE x counter\nx{a=\"1\",b=\"2\"} 3\nx{a=\"1\",b=\"3\"} 4\nx{a=\"2\"} 5\ny 7\n";
        assert_eq!(sample(text, "x", &[("a", "1")]), Some(7.0));
        assert_eq!(sample(text, "x", &[]), Some(12.0));
        assert_eq!(sample(text, "y", &[]), Some(7.0));
        assert_eq!(sample(text, "x", &[("a", "9")]), None);
    }
}
