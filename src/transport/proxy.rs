//! HTTP proxies: which one a target goes through, and the `CONNECT` tunnel.
//!
//! - `Config::proxy(url)`: every connection (`socket.info`, REST, WebSocket) goes through that
//!   proxy, loopback hosts included; the environment is not read.
//! - `Config::no_proxy()`: every connection is direct.
//! - Default: the environment, read once when the client connects. `https_proxy` /
//!   `HTTPS_PROXY` for `https` and `wss` targets, `http_proxy` / `HTTP_PROXY` for `http` and
//!   `ws` targets, `all_proxy` / `ALL_PROXY` for either when the specific one is unset
//!   (lowercase first, as curl; `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set, i.e.
//!   inside a CGI program, as Go does). `no_proxy` / `NO_PROXY`: a comma-separated list of
//!   `*`, host names (`example.com` and `.example.com` both match the name and its
//!   subdomains), IP addresses and CIDR blocks, each optionally with `:port`. Loopback hosts
//!   (`localhost`, `127.0.0.0/8`, `::1`) never go through an environment proxy (as in Go's
//!   net/http), so a CI proxy does not capture local development or the test suite.
//!
//! Every proxied connection is an HTTP `CONNECT` tunnel (for `http` and `ws` targets too),
//! with `Proxy-Authorization: Basic` from the proxy URL's `user:password@`. Only `http://`
//! proxy URLs are supported (the hop to the proxy is plain TCP; TLS to the target runs inside
//! the tunnel). The exchange runs under the connection's deadline and is cancelled by
//! `close()`. How a proxy's answers are classified: 2xx opens the tunnel; 407 (credentials
//! missing or refused) is [`Error::Config`], final; 403 (the proxy's policy forbids the
//! target) is [`Error::Rejected`], final; anything else (502, 503, 504: the proxy cannot
//! reach the target) is [`Error::Unavailable`], retryable; a refused, reset or silent proxy
//! is a retryable network error or timeout.

use super::io::{Io, Limit};
use super::url::{percent_decode, Target};
use crate::error::{Error, Result};
use base64::Engine;
use std::io::{Read, Write};
use std::net::IpAddr;

/// A parsed `http://[user:password@]host[:port]` proxy URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `Basic …` credentials, when the URL has a user.
    authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        write!(f, "{self}")
    }
}

impl std::fmt::Display for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = if self.authorization.is_some() {
            "***@"
        } else {
            ""
        };
        write!(f, "http://{user}{}", self.authority())
    }
}

impl Proxy {
    /// Parses a proxy URL; a missing scheme means `http://`, a missing port 80.
    pub(crate) fn parse(url: &str) -> std::result::Result<Proxy, String> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "proxy scheme {scheme}:// is not supported (only http:// proxies, with CONNECT)"
                ))
            }
            None => url,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| "proxy URL has an unclosed [".to_string())?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err("proxy URL has no host".into());
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("proxy port {p:?} is not a number"))?,
            None => 80,
        };
        let authorization = userinfo.map(|u| {
            let (user, password) = u.split_once(':').unwrap_or((u, ""));
            let pair = format!("{}:{}", percent_decode(user), percent_decode(password));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        Ok(Proxy {
            host: host.to_string(),
            port,
            authorization,
        })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Which proxy a client uses, as configured ([`Config::proxy`](crate::Config::proxy),
/// [`Config::no_proxy`](crate::Config::no_proxy)) and read back with
/// [`Settings::proxy`](crate::config::Settings::proxy). Its `Debug` hides the password of a
/// proxy URL.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProxySetting {
    /// The environment variables `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY` (the
    /// default), never for loopback hosts.
    #[default]
    Environment,
    /// This proxy (`http://[user:password@]host[:port]`) for every host, loopback included.
    Url(String),
    /// No proxy at all.
    Off,
}

impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxySetting::Environment => f.write_str("Environment"),
            ProxySetting::Off => f.write_str("Off"),
            ProxySetting::Url(url) => match Proxy::parse(url) {
                Ok(p) => write!(f, "Url({p})"),
                Err(_) => f.write_str("Url(<invalid>)"),
            },
        }
    }
}

/// Which proxy each target goes through, fixed when the client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Routes {
    /// Every connection direct.
    Direct,
    /// Every connection through this proxy.
    All(Proxy),
    /// From the environment.
    Environment {
        http: Option<Proxy>,
        https: Option<Proxy>,
        no_proxy: Vec<NoProxy>,
    },
}

impl Routes {
    /// The routes for a setting, reading the environment through `var` for the default.
    pub(crate) fn new(
        setting: &ProxySetting,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Routes> {
        match setting {
            ProxySetting::Off => Ok(Routes::Direct),
            ProxySetting::Url(url) => Proxy::parse(url).map(Routes::All).map_err(|e| {
                let url = crate::secret::redact_url(url);
                Error::Config(format!("proxy {url:?}: {e}"))
            }),
            ProxySetting::Environment => {
                let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
                let first = |names: &[&str]| {
                    names
                        .iter()
                        .find_map(|n| var(n).map(|v| (n.to_string(), v)))
                };
                let cgi = var("REQUEST_METHOD").is_some();
                let http_names: &[&str] = if cgi {
                    &["http_proxy"]
                } else {
                    &["http_proxy", "HTTP_PROXY"]
                };
                let all = first(&["all_proxy", "ALL_PROXY"]);
                let parse = |found: Option<(String, String)>| -> Result<Option<Proxy>> {
                    found
                        .map(|(name, value)| {
                            Proxy::parse(&value).map_err(|e| {
                                Error::Config(format!(
                                    "{name}={value:?}: {e}; set Config::proxy or Config::no_proxy to override"
                                ))
                            })
                        })
                        .transpose()
                };
                let http = parse(first(http_names).or_else(|| all.clone()))?;
                let https = parse(first(&["https_proxy", "HTTPS_PROXY"]).or(all))?;
                let no_proxy = first(&["no_proxy", "NO_PROXY"])
                    .map(|(_, v)| v.split(',').filter_map(NoProxy::parse).collect())
                    .unwrap_or_default();
                Ok(Routes::Environment {
                    http,
                    https,
                    no_proxy,
                })
            }
        }
    }

    /// The proxy for a target, `None` for a direct connection.
    pub(crate) fn proxy_for(&self, target: &Target) -> Option<&Proxy> {
        match self {
            Routes::Direct => None,
            Routes::All(proxy) => Some(proxy),
            Routes::Environment {
                http,
                https,
                no_proxy,
            } => {
                let proxy = if target.secure { https } else { http };
                let bypass = target.is_loopback()
                    || no_proxy
                        .iter()
                        .any(|n| n.matches(&target.host, target.port));
                proxy.as_ref().filter(|_| !bypass)
            }
        }
    }
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoProxy {
    /// `*`: no proxy for any host.
    All,
    /// A name: matches it and its subdomains.
    Domain(String, Option<u16>),
    /// An address or a CIDR block.
    Net(IpAddr, u8, Option<u16>),
}

impl NoProxy {
    fn parse(entry: &str) -> Option<NoProxy> {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            return None;
        }
        if entry == "*" {
            return Some(NoProxy::All);
        }
        // `[v6]:port`, `v6`, `v6/len`, `host:port`, `v4/len`, `host`.
        let (body, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            (
                inside.to_string(),
                after.strip_prefix(':').and_then(|p| p.parse().ok()),
            )
        } else if entry.matches(':').count() == 1 {
            let (h, p) = entry.split_once(':')?;
            (h.to_string(), p.parse().ok())
        } else {
            (entry.clone(), None)
        };
        let (addr, len) = match body.split_once('/') {
            Some((a, l)) => (a, l.parse::<u8>().ok()),
            None => (body.as_str(), None),
        };
        if let Ok(ip) = addr.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            return Some(NoProxy::Net(ip, len.unwrap_or(max).min(max), port));
        }
        let name = body.trim_start_matches("*.").trim_start_matches('.');
        Some(NoProxy::Domain(
            name.trim_end_matches('.').to_string(),
            port,
        ))
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match self {
            NoProxy::All => true,
            NoProxy::Domain(name, p) => {
                port_ok(p)
                    && (host == *name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|head| head.ends_with('.')))
            }
            NoProxy::Net(net, len, p) => {
                port_ok(p)
                    && host
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| same_prefix(ip, *net, *len))
            }
        }
    }
}

fn same_prefix(a: IpAddr, b: IpAddr, len: u8) -> bool {
    let bits = |ip: IpAddr| -> (u128, u8) {
        match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    };
    let ((a, wa), (b, wb)) = (bits(a), bits(b));
    if wa != wb {
        return false;
    }
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(wa)))
    };
    a & mask == b & mask
}

/// Largest proxy answer head read before giving up.
const MAX_HEAD: usize = 16 * 1024;

/// Opens a `CONNECT` tunnel to `target` through the proxy on `io`, within `limit`.
pub(crate) fn tunnel(io: &mut Io, proxy: &Proxy, target: &Target, limit: &Limit) -> Result<()> {
    let authority = target.authority();
    let mut head = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {}\r\n",
        super::USER_AGENT
    );
    if let Some(auth) = &proxy.authorization {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    let failed = |e: std::io::Error| {
        limit.explain(Error::Network(format!(
            "proxy {proxy}: CONNECT {authority} failed: {e}"
        )))
    };
    io.write_all(head.as_bytes()).map_err(failed)?;
    // Byte by byte: the tunnel's own bytes may follow the head and must stay in the socket.
    let mut answer = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() >= MAX_HEAD {
            return Err(Error::Protocol(format!(
                "proxy {proxy} sent an answer head over {MAX_HEAD} bytes"
            )));
        }
        match io.read(&mut byte).map_err(failed)? {
            0 => {
                return Err(limit.explain(Error::Network(format!(
                    "proxy {proxy} closed the connection during CONNECT {authority}"
                ))))
            }
            _ => answer.push(byte[0]),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let status = match response.parse(&answer) {
        Ok(httparse::Status::Complete(_)) => response.code.unwrap_or(0),
        _ => {
            return Err(Error::Protocol(format!(
                "proxy {proxy} answered CONNECT with something that is not HTTP"
            )))
        }
    };
    let reason = response.reason.unwrap_or_default();
    match status {
        200..=299 => Ok(()),
        407 => Err(Error::Config(format!(
            "proxy {proxy} requires authentication (HTTP 407 {reason}): {}",
            if proxy.authorization.is_some() {
                "it refused the user and password of the proxy URL"
            } else {
                "give user:password in the proxy URL"
            }
        ))),
        403 => Err(Error::Rejected {
            status,
            message: format!("proxy {proxy} refused CONNECT {authority} ({reason})"),
        }),
        _ => Err(Error::Unavailable {
            status,
            message: format!("proxy {proxy} could not open CONNECT {authority} ({reason})"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> Routes {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Routes::new(&ProxySetting::Environment, |k| map.get(k).cloned()).unwrap()
    }

    #[test]
    fn proxy_urls_parse_with_credentials_and_defaults() {
        let p = Proxy::parse("http://us%40er:p%3Ass@proxy.corp:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        let expected = base64::engine::general_purpose::STANDARD.encode("us@er:p:ss");
        assert_eq!(p.authorization, Some(format!("Basic {expected}")));
        assert_eq!(format!("{p:?}"), "http://***@proxy.corp:3128");
        let p = Proxy::parse("proxy.corp").unwrap();
        assert_eq!((p.port, p.authorization), (80, None));
        let p = Proxy::parse("http://[::1]:8888").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 8888));
        assert!(Proxy::parse("socks5://x:1080").is_err());
        assert!(Proxy::parse("https://x").is_err());
        assert!(Proxy::parse("http://x:port").is_err());
        assert!(Proxy::parse("http://:80").is_err());
    }

    #[test]
    fn environment_picks_by_scheme_lowercase_first_with_all_proxy_fallback() {
        let r = env(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
            ("ALL_PROXY", "http://all:3"),
        ]);
        assert_eq!(
            r.proxy_for(&target("wss://flow.ai/ws")).unwrap().host,
            "lower"
        );
        assert_eq!(r.proxy_for(&target("http://flow.ai")).unwrap().host, "all");
        let r = env(&[("HTTP_PROXY", "http://p:1")]);
        assert_eq!(r.proxy_for(&target("ws://flow.ai")).unwrap().host, "p");
        assert!(r.proxy_for(&target("https://flow.ai")).is_none());
        let cgi = env(&[("HTTP_PROXY", "http://p:1"), ("REQUEST_METHOD", "GET")]);
        assert!(cgi.proxy_for(&target("http://flow.ai")).is_none());
        assert!(env(&[]).proxy_for(&target("https://flow.ai")).is_none());
    }

    #[test]
    fn environment_proxies_skip_loopback_and_no_proxy_hosts() {
        let r = env(&[
            ("ALL_PROXY", "http://p:1"),
            (
                "NO_PROXY",
                "internal.corp, .svc,10.0.0.0/8, 192.168.1.5, [fd00::1]:443,api.x:8443",
            ),
        ]);
        for url in [
            "https://localhost:1",
            "http://127.0.0.2",
            "wss://[::1]:9",
            "https://internal.corp",
            "https://a.internal.corp",
            "https://b.svc",
            "https://10.2.3.4",
            "https://192.168.1.5",
            "https://[fd00::1]",
            "https://api.x:8443",
        ] {
            assert!(r.proxy_for(&target(url)).is_none(), "{url} is direct");
        }
        for url in [
            "https://notinternal.corp",
            "https://11.0.0.1",
            "https://192.168.1.6",
            "https://api.x",
            "https://[fd00::1]:8443",
        ] {
            assert!(r.proxy_for(&target(url)).is_some(), "{url} is proxied");
        }
        let star = env(&[("https_proxy", "http://p:1"), ("no_proxy", "*")]);
        assert!(star.proxy_for(&target("https://flow.ai")).is_none());
    }

    #[test]
    fn an_explicit_proxy_covers_loopback_and_bad_settings_are_config_errors() {
        let r = Routes::new(&ProxySetting::Url("http://p:1".into()), |_| None).unwrap();
        assert!(r.proxy_for(&target("http://127.0.0.1:8080")).is_some());
        let off = Routes::new(&ProxySetting::Off, |_| Some("http://p:1".into())).unwrap();
        assert!(off.proxy_for(&target("https://flow.ai")).is_none());
        let err = Routes::new(&ProxySetting::Environment, |k| {
            (k == "ALL_PROXY").then(|| "socks5://p:1080".to_string())
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("ALL_PROXY") && m.contains("socks5")),
            "{err}"
        );
    }
}
