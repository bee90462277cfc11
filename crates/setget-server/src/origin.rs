//! Who the server is and who may ask it to change state.
//!
//! - **Host:** every request must name this server: a loopback name (`localhost`, `127.0.0.1`,
//!   `[::1]`, any port) or one of the `--public-host` names. A page whose name an attacker
//!   rebinds to this machine's address sends its own name and gets 421, so it can neither
//!   read nor change anything (DNS rebinding). No `Host` at all is a 400.
//! - **Origin:** a request that changes state and carries `Origin` must come from this
//!   server's own origin: the same scheme, host and port. The scheme is `http`, or what a
//!   trusted proxy says in `X-Forwarded-Proto`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use setget_protocol::ErrorCode;

use crate::App;
use crate::error::ApiError;

/// A name the server answers to (`--public-host NAME[:PORT]`); without a port, any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicHost {
    name: String,
    port: Option<u16>,
}

impl std::str::FromStr for PublicHost {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let authority: Authority = s
            .parse()
            .map_err(|_| format!("{s:?} is not a host name like sessions.example.com[:443]"))?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return Err(format!(
                "{s:?} is not a host name like sessions.example.com[:443]"
            ));
        }
        Ok(Self {
            name: host_name(&authority),
            port: authority.port_u16(),
        })
    }
}

impl PublicHost {
    /// Whether a request for `name` (lower case) and `port` (as written in `Host`) is for
    /// this name. A `Host` without a port is for a default port, 80 or 443.
    fn matches(&self, name: &str, port: Option<u16>) -> bool {
        self.name == name
            && match (self.port, port) {
                (None, _) => true,
                (Some(own), Some(asked)) => own == asked,
                (Some(own), None) => own == 80 || own == 443,
            }
    }
}

/// Whether `peer` is a proxy whose forwarding headers are believed: one of `--trusted-proxy`,
/// or any loopback peer in dev mode.
pub(crate) fn trusted_proxy(app: &App, peer: IpAddr) -> bool {
    let config = app.config();
    (config.dev && peer.is_loopback()) || config.trusted_proxies.iter().any(|n| n.contains(&peer))
}

/// The canonical address of the connection's peer (loopback when there is none, as in tests
/// that call the router directly).
pub(crate) fn peer(req_extensions: &axum::http::Extensions) -> IpAddr {
    req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The authority the request was sent to: `Host` (one, and the same as the target's when
/// that is in absolute form), or the target's when there is no `Host`.
fn requested_authority(req: &Request) -> Result<Authority, ApiError> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    if let (Some(_), Some(_)) = (hosts.next(), hosts.next()) {
        return Err(ApiError::invalid_request(
            "the request names more than one Host",
        ));
    }
    if let (Some(host), Some(target)) = (req.headers().get(header::HOST), req.uri().authority())
        && !host
            .as_bytes()
            .eq_ignore_ascii_case(target.as_str().as_bytes())
    {
        return Err(ApiError::invalid_request(
            "the request's Host and its target name different hosts",
        ));
    }
    let raw = match req.headers().get(header::HOST) {
        Some(host) => host
            .to_str()
            .map_err(|_| ApiError::invalid_request("the Host header is not a host name"))?,
        None => match req.uri().authority() {
            Some(a) => a.as_str(),
            None => return Err(ApiError::invalid_request("the request names no Host")),
        },
    };
    raw.parse::<Authority>()
        .ok()
        .filter(|a| !a.host().is_empty() && !a.as_str().contains('@'))
        .ok_or_else(|| ApiError::invalid_request("the Host header is not a host name"))
}

/// A host's name as compared: lower case, without the trailing dot of a fully qualified name.
fn host_name(authority: &Authority) -> String {
    let host = authority.host().to_ascii_lowercase();
    match host.strip_suffix('.') {
        Some(bare) if !bare.is_empty() => bare.to_owned(),
        _ => host,
    }
}

fn is_loopback_name(name: &str) -> bool {
    if name == "localhost" {
        return true;
    }
    let literal = name.trim_start_matches('[').trim_end_matches(']');
    literal
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Refuses requests for a host this server does not answer to: 421, or 400 without `Host`.
pub(crate) async fn require_known_host(
    State(app): State<App>,
    req: Request,
    next: Next,
) -> Response {
    let authority = match requested_authority(&req) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let name = host_name(&authority);
    let port = authority.port_u16();
    let known = is_loopback_name(&name)
        || app
            .config()
            .public_hosts
            .iter()
            .any(|h| h.matches(&name, port));
    if !known {
        return ApiError::new(
            ErrorCode::MisdirectedRequest,
            "this server does not answer to that host name; its names are set with --public-host",
        )
        .into_response();
    }
    next.run(req).await
}

/// An origin: scheme, host (lower case) and port (the scheme's default when not written).
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl Origin {
    /// Parses an `Origin` header (`scheme://host[:port]`); `null` and others are `None`.
    fn parse(value: &str) -> Option<Self> {
        let (scheme, rest) = value.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let authority: Authority = rest.parse().ok()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let port = authority.port_u16().or_else(|| default_port(&scheme))?;
        Some(Self {
            host: host_name(&authority),
            scheme,
            port,
        })
    }
}

/// The scheme this request reached the server with: `http`, or the right-most
/// `X-Forwarded-Proto` of a trusted proxy.
fn scheme(app: &App, req: &Request) -> String {
    if !trusted_proxy(app, peer(req.extensions())) {
        return "http".to_owned();
    }
    forwarded_proto(req.headers()).unwrap_or_else(|| "http".to_owned())
}

fn forwarded_proto(headers: &HeaderMap) -> Option<String> {
    let last = headers.get_all("x-forwarded-proto").iter().next_back()?;
    let proto = last
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .to_ascii_lowercase();
    default_port(&proto).map(|_| proto)
}

/// State-changing requests whose `Origin` is not this server's own origin are refused.
pub(crate) async fn reject_cross_origin(
    State(app): State<App>,
    req: Request,
    next: Next,
) -> Response {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && let Some(origin) = req.headers().get(header::ORIGIN) {
        let scheme = scheme(&app, &req);
        let own = requested_authority(&req).ok().and_then(|a| {
            Some(Origin {
                host: host_name(&a),
                port: a.port_u16().or_else(|| default_port(&scheme))?,
                scheme: scheme.clone(),
            })
        });
        let theirs = origin.to_str().ok().and_then(Origin::parse);
        if own.is_none() || theirs != own {
            return ApiError::new(
                ErrorCode::CsrfRejected,
                "cross-origin requests that change state are refused",
            )
            .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_hosts_match_their_name_and_their_port_when_given() {
        let any: PublicHost = "Admin.Example.test".parse().unwrap();
        assert!(any.matches("admin.example.test", None));
        assert!(any.matches("admin.example.test", Some(8443)));
        assert!(!any.matches("example.test", None));
        let fixed: PublicHost = "admin.example.test:8443".parse().unwrap();
        assert!(fixed.matches("admin.example.test", Some(8443)));
        assert!(!fixed.matches("admin.example.test", Some(443)));
        assert!(!fixed.matches("admin.example.test", None));
        let https: PublicHost = "admin.example.test:443".parse().unwrap();
        assert!(https.matches("admin.example.test", None));
        for bad in ["", "user@host", "http://x", "a b"] {
            assert!(bad.parse::<PublicHost>().is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_names_are_the_machines_own() {
        for name in [
            "localhost",
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_name(name), "{name}");
        }
        for name in [
            "localhost.evil.example",
            "10.0.0.1",
            "[::2]",
            "evil.example",
        ] {
            assert!(!is_loopback_name(name), "{name}");
        }
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let o = |s: &str| Origin::parse(s);
        assert_eq!(o("http://a.test"), o("http://A.test:80"));
        assert_ne!(o("http://a.test"), o("https://a.test"));
        assert_ne!(o("http://a.test:8080"), o("http://a.test:8081"));
        assert_eq!(o("null"), None);
        assert_eq!(o("ftp://a.test"), None);
        assert_eq!(o("http://u@a.test"), None);
    }
}
