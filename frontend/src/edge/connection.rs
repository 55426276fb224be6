//! Serving one accepted connection: HTTP/1.1 through hyper, the router as the service, the
//! peer's address as [`ConnectInfo`], the deadlines of [`deadline`](super::deadline), and a
//! graceful close when the server stops.

use super::deadline::{ConnectionClock, CountingIo, InFlightBody, Timeouts, Watchdog};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tower::Service as _;

/// Serves HTTP/1.1 on `stream` until the client closes it, a deadline passes, or `stop` is
/// cancelled and the request in flight (if any) has been answered. `_slot` is the connection's
/// place under the cap, given back when this returns.
pub(crate) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    stop: CancellationToken,
    _slot: Option<OwnedSemaphorePermit>,
) {
    let clock = ConnectionClock::start(timeouts);
    let io = TokioIo::new(CountingIo::new(stream, Arc::clone(&clock)));
    let service = request_service(app, peer, Arc::clone(&clock));

    let mut builder = http1::Builder::new();
    // Our deadlines replace hyper's header-read timeout, which would also cut idle kept-alive
    // connections at the header-read limit. The timer stays for anything else hyper times.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let watchdog = Watchdog::new(Arc::clone(&clock));
    tokio::pin!(watchdog);

    let mut stopping = false;
    loop {
        tokio::select! {
            // The connection first: its poll is where the deadline moves, and the watchdog must
            // see the deadline as it is after that poll.
            biased;
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection closed with an error");
                }
                return;
            }
            () = watchdog.as_mut() => {
                tracing::debug!(%peer, "no complete request, or no byte of an answer taken, in time; closing the connection");
                return;
            }
            () = stop.cancelled(), if !stopping => {
                // A client still sending its first head is owed nothing: hyper would wait for
                // the head, so close it here. Otherwise hyper closes an idle connection at once
                // and a busy one after its answer.
                if clock.never_served() {
                    return;
                }
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}

/// The router as hyper's service for one connection: each request carries the peer's address
/// and stays in flight on `clock` until its answer's body is sent or dropped.
fn request_service(
    app: Router,
    peer: SocketAddr,
    clock: Arc<ConnectionClock>,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = hyper::Response<InFlightBody>,
    Error = Infallible,
    Future: Send,
> {
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let in_flight = clock.request_started();
        let answer = app.clone().call(request);
        async move {
            // The request stays in flight until its body is sent or dropped: an event stream
            // is in flight for as long as it runs.
            let response = answer.await?;
            Ok::<_, Infallible>(response.map(|body| InFlightBody::new(body, in_flight)))
        }
    })
}
