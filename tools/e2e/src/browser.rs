//! Headless Chromium driven over WebDriver (chromedriver + fantoccini), for tests and
//! measurements of the trading page in a real browser.
//!
//! Debian's `chromium` and `chromium-driver` packages provide the two binaries
//! (`scripts/install-chromium` installs them); `CHROMIUM_BIN` and `CHROMEDRIVER_BIN` point
//! elsewhere. [`Browser::start`] says why when they cannot run, so a test can skip.

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long chromedriver may take to answer its status after it starts.
const DRIVER_START_BOUND: Duration = Duration::from_secs(20);

/// Why no browser could be started.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// A binary is missing.
    #[error(
        "{0} not found (install Debian's chromium and chromium-driver: scripts/install-chromium)"
    )]
    Missing(PathBuf),
    /// chromedriver could not be started or did not become ready.
    #[error("chromedriver did not start: {0}")]
    Driver(String),
    /// The browser refused a new session.
    #[error("no browser session: {0}")]
    Session(String),
}

/// A running chromedriver; every [`Browser::session`] is a separate headless Chromium.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    url: String,
    chromium: PathBuf,
}

fn binary(variable: &str, default: &str) -> Result<PathBuf, BrowserError> {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    if path.exists() {
        Ok(path)
    } else {
        Err(BrowserError::Missing(path))
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and waits until it is ready.
    ///
    /// # Errors
    /// When Chromium or chromedriver is missing or chromedriver does not start.
    pub async fn start() -> Result<Self, BrowserError> {
        let chromium = binary("CHROMIUM_BIN", "/usr/bin/chromium")?;
        let chromedriver = binary("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| BrowserError::Driver(e.to_string()))?
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BrowserError::Driver(format!("{}: {e}", chromedriver.display())))?;
        let browser = Self {
            driver,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        };
        browser.wait_ready().await?;
        Ok(browser)
    }

    async fn wait_ready(&self) -> Result<(), BrowserError> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + DRIVER_START_BOUND;
        loop {
            let status = http.get(format!("{}/status", self.url)).send().await;
            if let Ok(response) = status {
                if let Ok(body) = response.json::<Value>().await {
                    if body["value"]["ready"] == true {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(BrowserError::Driver(format!(
                    "not ready within {DRIVER_START_BOUND:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium window of `width` x `height` CSS pixels.
    ///
    /// # Errors
    /// When the browser refuses to start.
    pub async fn session(&self, width: u32, height: u32) -> Result<Page, BrowserError> {
        self.open(json!({}), width, height).await
    }

    /// A new headless Chromium that emulates a phone's screen of `width` x `height` CSS pixels
    /// (a desktop window cannot be made that narrow).
    ///
    /// # Errors
    /// When the browser refuses to start.
    pub async fn phone_session(&self, width: u32, height: u32) -> Result<Page, BrowserError> {
        let emulation = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true}
        });
        self.open(json!({ "mobileEmulation": emulation }), width, height)
            .await
    }

    async fn open(&self, extra: Value, width: u32, height: u32) -> Result<Page, BrowserError> {
        let mut options = json!({
            "binary": self.chromium.display().to_string(),
            "args": [
                "--headless=new",
                // Tests run as root, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                format!("--window-size={width},{height}"),
            ],
        });
        if let (Some(options), Value::Object(extra)) = (options.as_object_mut(), extra) {
            options.extend(extra);
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .map_err(|e| BrowserError::Session(e.to_string()))?;
        Ok(Page { client })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One browser window.
#[derive(Debug)]
pub struct Page {
    /// The WebDriver session.
    pub client: Client,
}

impl Page {
    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    ///
    /// # Panics
    /// When the script throws or the session is gone.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `predicate` (a script returning a truthy value when done) every 20 ms until it
    /// holds, and returns its last value.
    ///
    /// # Panics
    /// When it does not hold within `within`, naming `what`.
    pub async fn wait_for(&self, what: &str, within: Duration, predicate: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self.eval(predicate, vec![]).await;
            let done = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if done {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ends the session and its browser.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
