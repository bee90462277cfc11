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
        let host = Host::split(s)
            .ok_or_else(|| format!("{s:?} is not a host name like sessions.example.com[:443]"))?;
        Ok(Self {
            name: host.name.to_ascii_lowercase(),
            port: host.port,
        })
    }
}

impl PublicHost {
    /// The host's name, without its port.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a request for `host` is for this name. A `Host` without a port is for a
    /// default port, 80 or 443.
    fn matches(&self, host: &Host<'_>) -> bool {
        self.name.eq_ignore_ascii_case(host.name)
            && match (self.port, host.port) {
                (None, _) => true,
                (Some(own), Some(asked)) => own == asked,
                (Some(own), None) => own == 80 || own == 443,
            }
    }
}

/// A host as a request names it, borrowed from the request (every request is checked, so
/// this allocates nothing): the name as written, without the trailing dot of a fully
/// qualified name (an IPv6 literal keeps its brackets), and the port if written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Host<'a> {
    name: &'a str,
    port: Option<u16>,
}

impl<'a> Host<'a> {
    /// `name`, `name:port`, `[v6]` or `[v6]:port`; anything else (user info, a path, spaces,
    /// an empty name, a port that is no number) is `None`.
    fn split(raw: &'a str) -> Option<Self> {
        if raw.is_empty() || raw.contains(['@', '/', '?', '#', ' ', '\\']) {
            return None;
        }
        let (name, port) = if raw.starts_with('[') {
            let close = raw.find(']')?;
            let port = match &raw[close + 1..] {
                "" => None,
                after => Some(after.strip_prefix(':')?.parse().ok()?),
            };
            (&raw[..=close], port)
        } else {
            match raw.split_once(':') {
                Some((name, port)) => (name, Some(port.parse().ok()?)),
                None => (raw, None),
            }
        };
        let name = match name.strip_suffix('.') {
            Some(bare) if !bare.is_empty() => bare,
            _ => name,
        };
        (!name.is_empty()).then_some(Self { name, port })
    }

    /// Whether the name is this machine's own: `localhost` or a loopback address.
    fn is_loopback(&self) -> bool {
        if self.name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        let literal = self.name.trim_start_matches('[').trim_end_matches(']');
        literal
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
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

/// The host the request was sent to: `Host` (one, and the same as the target's when that is
/// in absolute form), or the target's when there is no `Host`.
fn requested_host(req: &Request) -> Result<Host<'_>, ApiError> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ApiError::invalid_request(
            "the request names more than one Host",
        ));
    }
    let target = req.uri().authority();
    let raw = match (host, target) {
        (Some(host), Some(target))
            if !host
                .as_bytes()
                .eq_ignore_ascii_case(target.as_str().as_bytes()) =>
        {
            return Err(ApiError::invalid_request(
                "the request's Host and its target name different hosts",
            ));
        }
        (Some(host), _) => host
            .to_str()
            .map_err(|_| ApiError::invalid_request("the Host header is not a host name"))?,
        (None, Some(target)) => target.as_str(),
        (None, None) => return Err(ApiError::invalid_request("the request names no Host")),
    };
    Host::split(raw).ok_or_else(|| ApiError::invalid_request("the Host header is not a host name"))
}

/// Every request: refused unless it names this server (421, or 400 without a usable `Host`);
/// a state change with an `Origin` refused unless it comes from the server's own origin.
/// One middleware for both, since it runs on every request.
pub(crate) async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let host = match requested_host(&req) {
        Ok(host) => host,
        Err(e) => return e.into_response(),
    };
    let known = host.is_loopback() || app.config().public_hosts.iter().any(|h| h.matches(&host));
    if !known {
        return ApiError::new(
            ErrorCode::MisdirectedRequest,
            "this server does not answer to that host name; its names are set with --public-host",
        )
        .into_response();
    }
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state
        && let Some(origin) = req.headers().get(header::ORIGIN)
        && !same_origin(&app, &req, host, origin.to_str().ok())
    {
        return ApiError::new(
            ErrorCode::CsrfRejected,
            "cross-origin requests that change state are refused",
        )
        .into_response();
    }
    next.run(req).await
}

/// Whether `origin` is the server's own origin as this request reached it.
fn same_origin(app: &App, req: &Request, host: Host<'_>, origin: Option<&str>) -> bool {
    let scheme = scheme(app, req);
    let own = default_port(&scheme).map(|default| Origin {
        host: host.name.to_ascii_lowercase(),
        port: host.port.unwrap_or(default),
        scheme,
    });
    let theirs = origin.and_then(Origin::parse);
    own.is_some() && theirs == own
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
        let host = Host::split(rest)?;
        let port = host.port.or_else(|| default_port(&scheme))?;
        Some(Self {
            host: host.name.to_ascii_lowercase(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_hosts_match_their_name_and_their_port_when_given() {
        let host = |name, port| Host { name, port };
        let any: PublicHost = "Admin.Example.test".parse().unwrap();
        assert!(any.matches(&host("admin.example.test", None)));
        assert!(any.matches(&host("ADMIN.example.test", Some(8443))));
        assert!(!any.matches(&host("example.test", None)));
        let fixed: PublicHost = "admin.example.test:8443".parse().unwrap();
        assert!(fixed.matches(&host("admin.example.test", Some(8443))));
        assert!(!fixed.matches(&host("admin.example.test", Some(443))));
        assert!(!fixed.matches(&host("admin.example.test", None)));
        let https: PublicHost = "admin.example.test:443".parse().unwrap();
        assert!(https.matches(&host("admin.example.test", None)));
        for bad in ["", "user@host", "http://x", "a b"] {
            assert!(bad.parse::<PublicHost>().is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_names_are_the_machines_own() {
        for raw in [
            "localhost",
            "LocalHost:8080",
            "localhost.",
            "127.0.0.1",
            "127.1.2.3:1",
            "[::1]",
            "[::1]:8080",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(Host::split(raw).unwrap().is_loopback(), "{raw}");
        }
        for raw in [
            "localhost.evil.example",
            "10.0.0.1",
            "[::2]",
            "evil.example",
        ] {
            assert!(!Host::split(raw).unwrap().is_loopback(), "{raw}");
        }
    }

    #[test]
    fn hosts_split_into_name_and_port_or_are_refused() {
        let split = |raw| Host::split(raw).map(|h| (h.name, h.port));
        assert_eq!(split("a.test"), Some(("a.test", None)));
        assert_eq!(split("a.test.:80"), Some(("a.test", Some(80))));
        assert_eq!(split("[::1]:8080"), Some(("[::1]", Some(8080))));
        for bad in [
            "",
            ":80",
            "a.test:x",
            "a.test:99999",
            "u@a.test",
            "a.test/x",
            "a b",
            "[::1",
            "[::1]x",
            "a:1:2",
        ] {
            assert_eq!(split(bad), None, "{bad}");
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
