//! The HTTP floor: a bare axum handler that answers `GET /stocks/{name}` with the same JSON as
//! the frontend's stock lookup, and nothing else (no cache, no NATS, no middleware).
//!
//! `bazaar-measure bench bare-http --listen ADDR` serves it in its own process on tokio's default
//! multi-threaded runtime, as the frontend runs, so wrk measures both the same way.

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// `{"data": ...}`, as the frontend wraps every success.
#[derive(Debug, Serialize)]
struct Data<T> {
    data: T,
}

/// The stock as the frontend shows it.
#[derive(Debug, Serialize)]
struct StockBody {
    name: String,
    price: f64,
    quantity: u64,
}

async fn stock(Path(name): Path<String>) -> Json<Data<StockBody>> {
    Json(Data {
        data: StockBody {
            name,
            price: 15.99,
            quantity: 100,
        },
    })
}

/// The bare router: `GET /stocks/{name}` only.
pub fn router() -> Router {
    Router::new().route("/stocks/{name}", get(stock))
}

/// Serves [`router`] on `listener` until the process is stopped.
///
/// # Errors
/// When the server fails.
pub async fn serve(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    axum::serve(listener, router()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_the_same_json_as_a_frontend_lookup() {
        let Json(body) = stock(Path("GameStart".to_string())).await;
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"data":{"name":"GameStart","price":15.99,"quantity":100}}"#
        );
    }
}
