//! Target endpoints and every URL the tool sends to.
//!
//! URLs are never built by string concatenation: a target is parsed once
//! into a [`Url`], checked (scheme, host, no credentials, query or fragment),
//! and each request URL is that base plus percent-encoded path segments, so
//! an actor id like `a/b` stays one segment (`a%2Fb`) and cannot reach another
//! path or host.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use crate::LoadError;

/// One endpoint of Dapr's actor HTTP API (a wapr node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    base: Url,
}

impl Target {
    /// Parses and checks a target base URL such as `http://127.0.0.1:3500`.
    /// The host must be an IP literal or `localhost` unless `allow_remote`.
    pub fn parse(target: &str, allow_remote: bool) -> Result<Target, LoadError> {
        let invalid = |reason: &str| LoadError::InvalidTarget {
            target: target.to_string(),
            reason: reason.to_string(),
        };
        let base = Url::parse(target.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid("credentials in the URL are not supported"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("a query or fragment is not allowed"));
        }
        let host = base.host_str().ok_or_else(|| invalid("no host"))?;
        if !allow_remote && !is_local_host(host) {
            return Err(LoadError::RemoteTarget {
                target: target.to_string(),
            });
        }
        // The base must be able to take path segments.
        if base.cannot_be_a_base() {
            return Err(invalid("not a base URL"));
        }
        Ok(Target { base })
    }

    /// A target on loopback at `port` (how spawned nodes are addressed).
    pub fn loopback(port: u16) -> Target {
        let mut base = Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!());
        // Setting a port on an http URL with a host cannot fail.
        let _ = base.set_port(Some(port));
        Target { base }
    }

    /// The parsed base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `scheme://host:port` of this target: what every request to it hits.
    pub fn origin(&self) -> String {
        origin_of(&self.base)
    }

    /// `POST` URL of an actor method:
    /// `{base}/v1.0/actors/{actor_type}/{id}/method/{method}`, each part one
    /// percent-encoded path segment.
    pub fn method_url(&self, actor_type: &str, id: &str, method: &str) -> Url {
        self.with_segments(&["v1.0", "actors", actor_type, id, "method", method])
    }

    /// `GET {base}/v1.0/healthz`.
    pub fn health_url(&self) -> Url {
        self.with_segments(&["v1.0", "healthz"])
    }

    /// `GET {base}/v1.0/metadata`.
    pub fn metadata_url(&self) -> Url {
        self.with_segments(&["v1.0", "metadata"])
    }

    /// `GET {base}/wapr/v1/cluster`.
    pub fn cluster_url(&self) -> Url {
        self.with_segments(&["wapr", "v1", "cluster"])
    }

    /// `GET {base}/wapr/v1/actors?type={actor_type}`: the actors live on
    /// that node.
    pub fn actors_url(&self, actor_type: &str) -> Url {
        let mut url = self.with_segments(&["wapr", "v1", "actors"]);
        url.query_pairs_mut().append_pair("type", actor_type);
        url
    }

    fn with_segments(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.as_str())
    }
}

/// `scheme://host:port` of a URL (with the scheme's default port filled in).
pub fn origin_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Whether a URL host is an IP literal (`127.0.0.1`, `[::1]`) or `localhost`.
pub fn is_local_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok() || host.eq_ignore_ascii_case("localhost")
}

/// Parses a comma-separated `--target` list.
pub fn parse_targets(list: &str, allow_remote: bool) -> Result<Vec<Target>, LoadError> {
    let targets = list
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Target::parse(t, allow_remote))
        .collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Err(LoadError::InvalidOption("--target lists no URL".into()));
    }
    Ok(targets)
}

/// Checks that `value` (an actor type or method given on the command line)
/// is one usable path segment: not empty, not `.` or `..` (which URL path
/// handling would drop), no `/` and no control characters.
pub fn validate_segment(what: &'static str, value: &str) -> Result<(), LoadError> {
    let reason = if value.is_empty() {
        Some("it is empty")
    } else if value == "." || value == ".." {
        Some("`.` and `..` are not names")
    } else if value.contains('/') {
        Some("it contains `/`")
    } else if value.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(LoadError::InvalidName {
            what,
            value: value.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_targets_are_accepted() {
        for t in [
            "http://127.0.0.1:3500",
            "http://localhost:3500/",
            "http://[::1]:3500",
            "https://10.1.2.3:443",
            "http://LOCALHOST:1",
        ] {
            Target::parse(t, false).unwrap();
        }
    }

    #[test]
    fn remote_hosts_are_refused_unless_allowed() {
        for t in [
            "http://example.com:3500",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(
                matches!(Target::parse(t, false), Err(LoadError::RemoteTarget { .. })),
                "{t}"
            );
            Target::parse(t, true).unwrap();
        }
    }

    #[test]
    fn odd_targets_are_refused() {
        for t in [
            "ftp://127.0.0.1",
            "http://user:pw@127.0.0.1",
            "http://127.0.0.1/?x=1",
            "http://127.0.0.1/#f",
            "127.0.0.1:3500",
            "not a url",
        ] {
            assert!(Target::parse(t, true).is_err(), "{t}");
        }
    }

    #[test]
    fn ids_stay_one_segment() {
        let target = Target::parse("http://127.0.0.1:3500", false).unwrap();
        let url = target.method_url("counter", "a/b", "get");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:3500/v1.0/actors/counter/a%2Fb/method/get"
        );
        let url = target.method_url("counter", "@evil.com:80/x?y#z", "get");
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        assert_eq!(url.port(), Some(3500));
        assert_eq!(url.query(), None);
        assert_eq!(url.fragment(), None);
        assert_eq!(url.path_segments().unwrap().count(), 6);
        assert_eq!(
            url.path_segments().unwrap().nth(3),
            Some("@evil.com:80%2Fx%3Fy%23z")
        );
    }

    #[test]
    fn base_path_is_kept() {
        let target = Target::parse("http://127.0.0.1:3500/prefix/", false).unwrap();
        assert_eq!(
            target.health_url().as_str(),
            "http://127.0.0.1:3500/prefix/v1.0/healthz"
        );
        assert_eq!(
            Target::loopback(3501).cluster_url().as_str(),
            "http://127.0.0.1:3501/wapr/v1/cluster"
        );
        assert_eq!(Target::loopback(3501).origin(), "http://127.0.0.1:3501");
    }

    #[test]
    fn segments_are_validated() {
        validate_segment("method", "get").unwrap();
        for bad in ["", ".", "..", "a/b", "a\nb"] {
            assert!(validate_segment("method", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn target_lists() {
        let t = parse_targets("http://127.0.0.1:1, http://127.0.0.1:2", false).unwrap();
        assert_eq!(t.len(), 2);
        assert!(parse_targets(" , ", false).is_err());
        assert!(parse_targets("http://127.0.0.1:1,http://example.com", false).is_err());
    }
}
