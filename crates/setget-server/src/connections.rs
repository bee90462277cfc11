//! Accepting connections, with limits that a slow or idle client cannot outlast.
//!
//! - **Headers and idle time:** a request's headers must arrive within the header timeout,
//!   counted from when the connection opens or from the end of the previous answer on a
//!   kept-alive connection — so the same timeout ends idle connections. An answer being
//!   written (the event stream, for as long as it lasts) is not idle.
//! - **Bodies:** a request body must arrive within the same timeout (then 408).
//! - **Connections:** at most `max_connections` are served at once; more wait in the
//!   listener's backlog until one ends, and are not lost.
//! - **Shutdown:** on the shutdown signal the listener closes, idle connections end, answers
//!   in progress get [`SHUTDOWN_GRACE`] to finish (an event stream never does) and are then
//!   dropped.
//!
//! HTTP/1.1 only: behind a proxy the server needs no more, and HTTP/1.1 has no protocol
//! detection phase that a silent client could hold open.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt as _;

use crate::{App, router};

/// How long answers in progress may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = app.config().clone();
    let router = router(app).layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        config.header_timeout,
    ));
    let permits = Arc::new(tokio::sync::Semaphore::new(
        usize::try_from(config.max_connections.max(1)).unwrap_or(usize::MAX),
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A permit first: beyond the limit, connections wait in the backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin, and keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            })
            .map_err(|e: Infallible| match e {});
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("answers still in progress at shutdown were dropped");
    }
    Ok(())
}
