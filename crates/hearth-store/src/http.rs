//! A small blocking HTTP client over `ureq` (rustls with `ring`). Redirects are followed by
//! hand so that each hop is checked: a hop limit, no https→http downgrade, plain http only for
//! loopback or when allowed, and credentials only ever sent to the origin they belong to.

use std::time::Duration;

use ureq::http::{Response, Uri};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;
use ureq::Body;

use crate::error::{Result, StoreError};

/// At most this many redirects per request.
pub const MAX_REDIRECTS: u32 = 10;

/// How the client behaves; the defaults suit real use.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Allow plain `http://` to non-loopback hosts.
    pub allow_insecure: bool,
    /// Use `HTTPS_PROXY`/`ALL_PROXY` from the environment.
    pub proxy_from_env: bool,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    /// A read that waits longer than this fails (a stalled transfer is retried and resumed).
    pub read_timeout: Duration,
    pub user_agent: String,
    /// Fetch only from hosts that resolve to public addresses (checked on every redirect
    /// hop): what a pull started by a remote HTTP caller gets, so that it cannot reach the
    /// server's loopback, private network or cloud metadata service through hearth.
    pub public_only: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            allow_insecure: false,
            proxy_from_env: true,
            connect_timeout: Duration::from_secs(30),
            response_timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(60),
            user_agent: format!("hearth/{}", env!("CARGO_PKG_VERSION")),
            public_only: false,
        }
    }
}

/// A secret header value bound to one origin (`scheme://host:port`).
#[derive(Clone)]
pub struct Credential {
    origin: String,
    authorization: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({} <redacted>)", self.origin)
    }
}

impl Credential {
    /// `Authorization: Bearer <token>` for requests to `url`'s origin only.
    pub fn bearer(url: &str, token: &str) -> Result<Credential> {
        Ok(Credential {
            origin: origin(&parse_uri(url)?),
            authorization: format!("Bearer {token}"),
        })
    }
}

/// The outcome of a GET: the response after redirects and the URL that produced it.
pub struct Fetched {
    pub response: Response<Body>,
    pub final_url: String,
}

impl Fetched {
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.headers().get(name)?.to_str().ok()
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }

    /// Read the whole body, refusing more than `limit` bytes (checked while reading, so a
    /// huge or endless body costs at most `limit` bytes of memory).
    pub fn read_limited(self, limit: u64, what: &str) -> Result<Vec<u8>> {
        use std::io::Read;
        if let Some(n) = self.content_length() {
            if n > limit {
                return Err(StoreError::TooLarge {
                    what: what.to_string(),
                    size: n,
                    limit,
                });
            }
        }
        let url = self.final_url;
        let mut r = self.response.into_body().into_reader().take(limit + 1);
        let mut buf = Vec::new();
        r.read_to_end(&mut buf).map_err(|e| StoreError::Http {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        if buf.len() as u64 > limit {
            return Err(StoreError::TooLarge {
                what: what.to_string(),
                size: buf.len() as u64,
                limit,
            });
        }
        Ok(buf)
    }

    /// Turn a non-success status into an error carrying a short piece of the body.
    pub fn error_for_status(self) -> Result<Fetched> {
        let status = self.status();
        if (200..300).contains(&status) {
            return Ok(self);
        }
        let url = self.final_url.clone();
        let body = self
            .read_limited(4096, "error body")
            .map(|b| String::from_utf8_lossy(&b).chars().take(300).collect())
            .unwrap_or_default();
        Err(StoreError::HttpStatus { url, status, body })
    }
}

/// The client.
#[derive(Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
    opts: HttpOptions,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("opts", &self.opts)
            .finish()
    }
}

impl HttpClient {
    pub fn new(opts: HttpOptions) -> HttpClient {
        let mut b = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(opts.user_agent.as_str())
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_recv_response(Some(opts.response_timeout))
            .timeout_per_read(Some(opts.read_timeout));
        if !opts.proxy_from_env {
            b = b.proxy(None);
        }
        let config = b.build();
        let agent = if opts.public_only {
            // The URL check resolves the host once; the connection resolves it again. A DNS
            // answer that changes in between (rebinding) must not reach a private address,
            // so the connection's own resolver drops every non-public address too.
            ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                PublicOnly(DefaultResolver::default()),
            )
        } else {
            config.new_agent()
        };
        HttpClient { agent, opts }
    }

    /// Check that a URL may be fetched at all (scheme and host).
    pub fn check_url(&self, url: &str) -> Result<()> {
        let uri = parse_uri(url)?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if self.opts.allow_insecure || is_loopback(&uri) => {}
            Some("http") => {
                return Err(StoreError::Refused {
                    what: url.to_string(),
                    reason: "plain http to a non-local host (use --insecure to allow)".into(),
                })
            }
            _ => {
                return Err(StoreError::Refused {
                    what: url.to_string(),
                    reason: "only http and https URLs are supported".into(),
                })
            }
        }
        if self.opts.public_only {
            check_public(&uri, url)?;
        }
        Ok(())
    }

    /// GET `url` with extra headers, following redirects by hand. `credential` is attached
    /// only while the request URL's origin is the credential's.
    pub fn get(
        &self,
        url: &str,
        headers: &[(&str, String)],
        credential: Option<&Credential>,
    ) -> Result<Fetched> {
        self.check_url(url)?;
        let mut current = url.to_string();
        let mut hops = 0u32;
        loop {
            let uri = parse_uri(&current)?;
            let mut req = self.agent.get(&current);
            for (k, v) in headers {
                req = req.header(*k, v.as_str());
            }
            if let Some(c) = credential {
                if origin(&uri) == c.origin {
                    req = req.header("Authorization", c.authorization.as_str());
                }
            }
            let response = req.call().map_err(|e| StoreError::Http {
                url: current.clone(),
                reason: e.to_string(),
            })?;
            let status = response.status().as_u16();
            if !matches!(status, 301 | 302 | 303 | 307 | 308) {
                return Ok(Fetched {
                    response,
                    final_url: current,
                });
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(StoreError::Redirect {
                    url: url.to_string(),
                    reason: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| StoreError::Redirect {
                    url: current.clone(),
                    reason: format!("status {status} without a Location header"),
                })?;
            let next = resolve_location(&uri, location)?;
            let next_uri = parse_uri(&next)?;
            if uri.scheme_str() == Some("https") && next_uri.scheme_str() != Some("https") {
                return Err(StoreError::Redirect {
                    url: current.clone(),
                    reason: format!("refusing to downgrade from https to {next}"),
                });
            }
            self.check_url(&next)?;
            tracing::debug!(from = %current, to = %next, "redirect");
            current = next;
        }
    }
}

pub(crate) fn parse_uri(url: &str) -> Result<Uri> {
    let uri: Uri = url
        .parse()
        .map_err(|e: ureq::http::uri::InvalidUri| StoreError::Http {
            url: url.chars().take(300).collect(),
            reason: format!("invalid URL: {e}"),
        })?;
    if uri.scheme().is_none() || uri.authority().is_none() {
        return Err(StoreError::Http {
            url: url.chars().take(300).collect(),
            reason: "not an absolute URL".into(),
        });
    }
    Ok(uri)
}

/// `scheme://host:port` with the default port made explicit.
pub(crate) fn origin(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("");
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    format!("{scheme}://{host}:{}", port(uri))
}

/// The URL's port, the scheme's default made explicit.
fn port(uri: &Uri) -> u16 {
    uri.port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        })
}

/// The URL's host without an IPv6 literal's brackets.
fn bare_host(uri: &Uri) -> &str {
    uri.host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
}

/// Refuse a URL whose host resolves to any address that is not public. (The connection
/// resolves again, through [`PublicOnly`], so a DNS answer that changes in between does not
/// reach a private address either.)
fn check_public(uri: &Uri, url: &str) -> Result<()> {
    use std::net::ToSocketAddrs;
    let (host, port) = (bare_host(uri), port(uri));
    let addrs: Vec<std::net::IpAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => (host, port)
            .to_socket_addrs()
            .map_err(|e| StoreError::Http {
                url: url.chars().take(300).collect(),
                reason: format!("cannot resolve {host}: {e}"),
            })?
            .map(|a| a.ip())
            .collect(),
    };
    if let Some(bad) = addrs.iter().find(|ip| !is_public(**ip)) {
        return Err(StoreError::Refused {
            what: url.chars().take(300).collect(),
            reason: format!(
                "{host} is a non-public address ({bad}); pulls started over HTTP reach only \
                 public hosts (the operator can allow others with HEARTH_ALLOW_PRIVATE_PULLS=1)"
            ),
        });
    }
    Ok(())
}

/// Whether `ip` is a public unicast address: not loopback, private (RFC 1918, ULA),
/// link-local, shared (CGNAT), unspecified, broadcast, multicast, reserved or documentation.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(std::net::IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

/// A resolver that keeps only public addresses of the hosts a request connects to. A proxy
/// the operator configured is resolved as is (it fetches the target itself, and the URL was
/// checked before the request).
#[derive(Debug)]
struct PublicOnly<R>(R);

impl<R: Resolver> Resolver for PublicOnly<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.0.resolve(uri, config, timeout)?;
        let is_proxy = config
            .proxy()
            .is_some_and(|p| p.uri().authority() == uri.authority());
        if is_proxy {
            return Ok(addrs);
        }
        let mut kept = self.0.empty();
        for a in addrs.iter().filter(|a| is_public(a.ip())) {
            kept.push(*a);
        }
        if kept.is_empty() {
            let host = uri.host().unwrap_or("");
            tracing::warn!(host, ?addrs, "refused a connection to a non-public address");
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{host} resolved to a non-public address at connect time"),
            )));
        }
        Ok(kept)
    }
}

fn is_loopback(uri: &Uri) -> bool {
    let host = bare_host(uri);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn resolve_location(base: &Uri, location: &str) -> Result<String> {
    let location = location.trim();
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_string());
    }
    let scheme = base.scheme_str().unwrap_or("https");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Ok(format!("{scheme}://{authority}{location}"));
    }
    let path = base.path();
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    Ok(format!("{scheme}://{authority}{dir}/{location}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "104.16.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
        let c = HttpClient::new(HttpOptions {
            public_only: true,
            proxy_from_env: false,
            ..HttpOptions::default()
        });
        for url in [
            "http://127.0.0.1:11434/x",
            "http://localhost/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://10.0.0.8/x",
        ] {
            assert!(
                matches!(c.check_url(url), Err(StoreError::Refused { .. })),
                "{url}"
            );
        }
        assert!(c.check_url("https://1.1.1.1/x").is_ok());
    }

    #[test]
    fn origins_and_locations() {
        let u = parse_uri("https://Example.com/a/b?x=1").unwrap();
        assert_eq!(origin(&u), "https://example.com:443");
        assert_eq!(
            origin(&parse_uri("http://127.0.0.1:8080/x").unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(resolve_location(&u, "/c").unwrap(), "https://Example.com/c");
        assert_eq!(
            resolve_location(&u, "c").unwrap(),
            "https://Example.com/a/c"
        );
        assert_eq!(
            resolve_location(&u, "//cdn.x/y").unwrap(),
            "https://cdn.x/y"
        );
        assert!(is_loopback(&parse_uri("http://127.0.0.1:1/").unwrap()));
        assert!(is_loopback(&parse_uri("http://[::1]:1/").unwrap()));
        assert!(!is_loopback(&parse_uri("http://10.0.0.1/").unwrap()));
    }

    /// A name server that answers a public address first and loopback afterwards.
    #[derive(Debug)]
    struct Rebinding(std::net::SocketAddr);

    impl Resolver for Rebinding {
        fn resolve(
            &self,
            _uri: &Uri,
            _config: &ureq::config::Config,
            _timeout: NextTimeout,
        ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
            let mut v = self.empty();
            v.push(self.0);
            Ok(v)
        }
    }

    #[test]
    fn connect_time_resolution_keeps_only_public_addresses() {
        use std::io::{Read, Write};
        // A loopback server that records whether anything connected.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let config = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .build();
        // The pre-check saw a public address; at connect time the name points at loopback.
        let agent = ureq::Agent::with_parts(
            config.clone(),
            ureq::unversioned::transport::DefaultConnector::new(),
            PublicOnly(Rebinding(addr)),
        );
        let err = agent.get("http://rebind.example/blob").call().unwrap_err();
        assert!(err.to_string().contains("non-public"), "{err}");
        assert!(
            listener.accept().is_err(),
            "the loopback server was reached"
        );

        // Without the filter the same resolver reaches it (the test's own control).
        let open = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            Rebinding(addr),
        );
        let t = std::thread::spawn(move || {
            let _ = open.get("http://rebind.example/blob").call();
        });
        let mut stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"GET /blob"));
        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n");
        t.join().unwrap();
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let c = HttpClient::new(HttpOptions::default());
        assert!(c.check_url("http://127.0.0.1:9/x").is_ok());
        assert!(c.check_url("http://example.com/x").is_err());
        assert!(c.check_url("ftp://example.com/x").is_err());
        assert!(c.check_url("https://example.com/x").is_ok());
    }
}
