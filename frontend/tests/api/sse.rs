//! A client of `GET /stocks/events` for the tests: reads the stream chunk by chunk and parses it
//! into events and comments as the EventSource specification does.

use crate::helpers::TestApp;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// A generous bound on one read, so a stream that stops sending fails the test instead of
/// hanging it.
pub(crate) const READ_BOUND: Duration = Duration::from_secs(15);

/// One item of the stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// `event: <name>` with its `data` parsed as JSON.
    Event { name: String, data: Value },
    /// A `:<text>` line.
    Comment(String),
}

/// An open event stream.
pub(crate) struct EventReader {
    response: reqwest::Response,
    pending: String,
}

impl EventReader {
    /// Opens the stream; panics unless it is a 200 `text/event-stream`.
    pub(crate) async fn open(app: &TestApp) -> Self {
        Self::open_with(app, reqwest::header::HeaderMap::new()).await
    }

    /// Opens the stream with extra request headers.
    pub(crate) async fn open_with(app: &TestApp, headers: reqwest::header::HeaderMap) -> Self {
        let response = app
            .http
            .get(app.url("/stocks/events"))
            .headers(headers)
            .send()
            .await
            .expect("GET /stocks/events");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        Self {
            response,
            pending: String::new(),
        }
    }

    /// The next item, or `None` once the server ended the stream.
    pub(crate) async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                if let Some(item) = parse_block(&block) {
                    return Some(item);
                }
                continue;
            }
            let chunk = tokio::time::timeout(READ_BOUND, self.response.chunk())
                .await
                .expect("the stream sent something within the bound");
            match chunk {
                Ok(Some(bytes)) => self
                    .pending
                    .push_str(std::str::from_utf8(&bytes).expect("UTF-8 stream")),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The next event (skipping comments), or `None` at the end of the stream.
    pub(crate) async fn next_event(&mut self) -> Option<(String, Value)> {
        loop {
            match self.next().await? {
                Item::Event { name, data } => return Some((name, data)),
                Item::Comment(_) => {}
            }
        }
    }

    /// Reads a full state: the `stock` events up to `synced`, by name.
    pub(crate) async fn full_state(&mut self) -> BTreeMap<String, Value> {
        let mut stocks = BTreeMap::new();
        loop {
            let (name, data) = self.next_event().await.expect("a full state");
            match name.as_str() {
                "stock" => {
                    stocks.insert(data["name"].as_str().unwrap().to_string(), data);
                }
                "synced" => {
                    assert_eq!(
                        data["stocks"],
                        stocks.len(),
                        "synced counts the stocks sent"
                    );
                    return stocks;
                }
                other => panic!("unexpected event {other}"),
            }
        }
    }

    /// Reads `stock` events until one for `stock` satisfies `wanted`; returns it.
    pub(crate) async fn until_stock(
        &mut self,
        stock: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        loop {
            let (name, data) = self.next_event().await.expect("the stream goes on");
            if name == "stock" && data["name"] == stock && wanted(&data) {
                return data;
            }
        }
    }
}

/// One block of lines (up to a blank line) as an item; `None` for a block with neither data nor
/// a comment (e.g. a `retry` alone).
fn parse_block(block: &str) -> Option<Item> {
    let mut name = "message".to_string();
    let mut data = Vec::new();
    let mut comment = None;
    for line in block.lines() {
        if let Some(text) = line.strip_prefix(':') {
            comment = Some(text.trim_start().to_string());
        } else if let Some(value) = line.strip_prefix("event:") {
            name = value.trim_start().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
        }
    }
    if !data.is_empty() {
        let data = serde_json::from_str(&data.join("\n")).expect("event data is JSON");
        return Some(Item::Event { name, data });
    }
    comment.map(Item::Comment)
}
