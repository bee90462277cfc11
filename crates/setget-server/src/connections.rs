//! Accepting connections, with limits that a slow or idle client cannot outlast.
//!
//! - **Headers and idle time:** a request's headers must arrive within the header timeout,
//!   counted from when the connection opens or from the end of the previous answer on a
//!   kept-alive connection — so the same timeout ends idle connections. An answer being
//!   written (the event stream, for as long as it lasts) is not idle.
//! - **Bodies:** a request body must arrive whole within the same timeout, however it
//!   trickles (then 408; see `api::ApiJson`).
//! - **Readers:** an answer whose writing makes no progress for the same timeout (a client
//!   that does not read) ends its connection.
//! - **Connections:** at most `max_connections` are served at once; more wait in the
//!   listener's backlog until one ends, and are not lost. One client address gets at most a
//!   sixteenth of them (at least 4) and its further connections are closed at once; trusted
//!   proxies (and loopback in dev mode) carry many clients and are not limited this way.
//! - **Shutdown:** on the shutdown signal the listener closes, idle connections end, answers
//!   in progress get [`SHUTDOWN_GRACE`] to finish (an event stream never does) and are then
//!   aborted.
//!
//! HTTP/1.1 only: behind a proxy the server needs no more, and HTTP/1.1 has no protocol
//! detection phase that a silent client could hold open.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt as _;

use crate::extract::BodyTimeout;
use crate::{App, origin, router};

/// How long answers in progress may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = app.config().clone();
    let exempt = {
        let app = app.clone();
        move |ip: IpAddr| origin::trusted_proxy(&app, ip)
    };
    let router = router(app);
    let max = usize::try_from(config.max_connections.max(1)).unwrap_or(usize::MAX);
    let permits = Arc::new(tokio::sync::Semaphore::new(max));
    let per_address = PerAddress::new((max / 16).max(4));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap the connections that ended.
        while connections.try_join_next().is_some() {}
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
        let address = peer.ip().to_canonical();
        let share = if exempt(address) {
            None
        } else {
            match per_address.take(address) {
                Some(share) => Some(share),
                None => {
                    tracing::debug!(%address, "too many connections from one address; closed");
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let timeout = config.header_timeout;
        let service = router
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(BodyTimeout(timeout));
                req
            })
            .map_err(|e: Infallible| match e {});
        let io = TokioIo::new(WriteTimeout::new(stream, timeout));
        let connection =
            graceful.watch(http.serve_connection(io, TowerToHyperService::new(service)));
        connections.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop((permit, share));
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("answers still in progress at shutdown were aborted");
    }
    connections.shutdown().await;
    Ok(())
}

/// Connections per client address.
#[derive(Debug, Clone)]
struct PerAddress {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in its address's share; given back when dropped.
#[derive(Debug)]
struct Share {
    of: PerAddress,
    address: IpAddr,
}

impl PerAddress {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            open: Arc::default(),
        }
    }

    /// A place for one more connection from `address`, or none when it has its share.
    fn take(&self, address: IpAddr) -> Option<Share> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(address).or_default();
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Share {
            of: self.clone(),
            address,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut open = self.of.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// A connection whose writes fail once they make no progress for `limit`: a client that stops
/// reading cannot hold an answer, and its connection, for ever.
struct WriteTimeout {
    inner: tokio::net::TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteTimeout {
    fn new(inner: tokio::net::TcpStream, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Passes `polled` on, and fails it once it has been pending for `limit`.
    fn watch<T>(
        &mut self,
        polled: Poll<std::io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client read nothing for the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncRead for WriteTimeout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for WriteTimeout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(polled, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(polled, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_of_connections_back_as_they_end() {
        let limit = PerAddress::new(2);
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        let first = limit.take(a).unwrap();
        let _second = limit.take(a).unwrap();
        assert!(limit.take(a).is_none());
        assert!(limit.take("198.51.100.8".parse().unwrap()).is_some());
        drop(first);
        assert!(limit.take(a).is_some());
    }
}
