//! An HTTP proxy between the app and the servers that chooses, by the request's path, which
//! server answers, and may rewrite an answer's body: a man in the middle that forges what it
//! passes on, or a front end that shows one admin's app a history of its own. Answers are
//! read whole before they are passed on, so it serves requests, not event streams.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;

/// Rewrites the body of the answer to a request for a path.
pub type Rewrite = Box<dyn Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync>;

#[derive(Default)]
struct Routes {
    /// Where requests go unless a rule says otherwise.
    upstream: String,
    /// (part of a path, server): requests whose path holds the part go to the server.
    rules: Vec<(String, String)>,
    rewrite: Option<Rewrite>,
}

/// A running proxy; it stops when dropped.
pub struct HttpProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    routes: Arc<Mutex<Routes>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for HttpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProxy").field("url", &self.url).finish()
    }
}

impl HttpProxy {
    /// A proxy on a free loopback port passing everything to `upstream`, on the current
    /// runtime.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let routes = Arc::new(Mutex::new(Routes {
            upstream: upstream.to_owned(),
            ..Routes::default()
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the proxy's client")?;
        let shared = Arc::clone(&routes);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (routes, client) = (Arc::clone(&shared), client.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (routes, client) = (Arc::clone(&routes), client.clone());
                        async move { forward(&routes, &client, req).await }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(Self { url, routes, task })
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends everything not routed otherwise to `upstream` from now on.
    pub fn set_upstream(&self, upstream: &str) {
        self.routes().upstream = upstream.to_owned();
    }

    /// Sends the requests whose path holds `part` to `upstream`.
    pub fn route(&self, part: &str, upstream: &str) {
        self.routes()
            .rules
            .push((part.to_owned(), upstream.to_owned()));
    }

    /// Rewrites the answers' bodies with `f(path, body)` from now on.
    pub fn rewrite(&self, f: impl Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static) {
        self.routes().rewrite = Some(Box::new(f));
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    routes: &Mutex<Routes>,
    client: &reqwest::Client,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let upstream = {
        let r = routes.lock().unwrap_or_else(|e| e.into_inner());
        r.rules
            .iter()
            .find(|(part, _)| path.contains(part.as_str()))
            .map_or_else(|| r.upstream.clone(), |(_, to)| to.clone())
    };
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut out = client
        .request(method, format!("{upstream}{path}"))
        .body(body);
    for (name, value) in &headers {
        if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    let answer = match out.send().await {
        Ok(a) => a,
        Err(_) => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            return Ok(r);
        }
    };
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default().to_vec();
    let bytes = {
        let r = routes.lock().unwrap_or_else(|e| e.into_inner());
        match &r.rewrite {
            Some(f) => f(&path, bytes),
            None => bytes,
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    for (name, value) in &answer_headers {
        if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}
