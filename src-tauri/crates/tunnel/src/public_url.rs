//! Checking a public URL as the user typed it. AfterShip only delivers to a public `https://` address
//! on port 443, 80 or 8080, so the URL Shipwatch shows for AfterShip must be one: `https://` and a real
//! host name (a dot, and a top-level domain of letters), no IP address, no `localhost`, no path,
//! query or fragment (Shipwatch adds the webhook path itself; pasting the whole webhook URL is fine).

use url::{Host, Url};

/// What is expected, said at the end of every refusal.
pub const EXPECTED: &str = "Expected https://<your tunnel's host name>, e.g. https://shop.trycloudflare.com";

/// Why a public URL was refused. [`PublicUrlError::code`] is stable; the message says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    #[error("{0:?} is not a URL. {EXPECTED}.")]
    NotAUrl(String),
    #[error("AfterShip only delivers webhooks to https:// addresses, not {0}://. {EXPECTED}.")]
    NotHttps(String),
    #[error("{0} is an IP address: AfterShip needs the host name your tunnel printed. {EXPECTED}.")]
    IpAddress(String),
    #[error("{0} is this machine: AfterShip cannot reach it. {EXPECTED}.")]
    Local(String),
    #[error(
        "{0:?} is not a public host name (it needs a dot and a domain ending such as .com). {EXPECTED}."
    )]
    NotAHostName(String),
    #[error("Leave out the user name and password. {EXPECTED}.")]
    Credentials,
    #[error("AfterShip only calls ports 80, 443 and 8080, not {0}. {EXPECTED}.")]
    Port(u16),
    #[error(
        "Enter only the tunnel's address, without the path {0:?}: Shipwatch adds {1} itself. {EXPECTED}."
    )]
    Path(String, String),
    #[error("Leave out the ?query and #fragment. {EXPECTED}.")]
    QueryOrFragment,
}

impl PublicUrlError {
    /// A stable code for tests, logs and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            PublicUrlError::NotAUrl(_) => "not_a_url",
            PublicUrlError::NotHttps(_) => "not_https",
            PublicUrlError::IpAddress(_) => "ip_address",
            PublicUrlError::Local(_) => "local_host",
            PublicUrlError::NotAHostName(_) => "not_a_host_name",
            PublicUrlError::Credentials => "credentials",
            PublicUrlError::Port(_) => "port",
            PublicUrlError::Path(..) => "path",
            PublicUrlError::QueryOrFragment => "query_or_fragment",
        }
    }
}

/// How strict [`validate_public_url`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublicUrlRules {
    /// Also accept `http(s)://127.0.0.1:PORT`, `[::1]` and `localhost`, any port: a stand-in
    /// tunnel on this machine (tests, a local relay). Never the default.
    pub allow_loopback: bool,
}

/// A public base URL as typed (trimmed; the whole webhook URL pasted is fine) → its normalised base,
/// `https://host` or `https://host:8080`, lowercase, without a trailing slash.
pub fn validate_public_url(
    raw: &str,
    webhook_path: &str,
    rules: PublicUrlRules,
) -> Result<String, PublicUrlError> {
    let raw = raw.trim();
    let url = Url::parse(raw).map_err(|_| PublicUrlError::NotAUrl(raw.to_owned()))?;
    let loopback = rules.allow_loopback
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
    let scheme = url.scheme();
    if !(scheme == "https" || (loopback && scheme == "http")) {
        return Err(PublicUrlError::NotHttps(scheme.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PublicUrlError::Credentials);
    }
    match url.host() {
        _ if loopback => {}
        Some(Host::Ipv4(ip)) => return Err(PublicUrlError::IpAddress(ip.to_string())),
        Some(Host::Ipv6(ip)) => return Err(PublicUrlError::IpAddress(format!("[{ip}]"))),
        Some(Host::Domain(d)) => check_host_name(d)?,
        None => return Err(PublicUrlError::NotAUrl(raw.to_owned())),
    }
    if let Some(port) = url.port() {
        // `url` leaves out the scheme's default port, so this is a port other than 443 (or 80).
        if !loopback && !matches!(port, 80 | 443 | 8080) {
            return Err(PublicUrlError::Port(port));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(PublicUrlError::QueryOrFragment);
    }
    let path = url.path().trim_end_matches('/');
    let hook = webhook_path.trim_end_matches('/');
    if !path.is_empty() && path != hook {
        return Err(PublicUrlError::Path(url.path().to_owned(), webhook_path.to_owned()));
    }
    let mut base = url.origin().ascii_serialization();
    if base == "null" {
        base = format!("{scheme}://{}", url.host_str().unwrap_or_default());
    }
    Ok(base)
}

fn check_host_name(host: &str) -> Result<(), PublicUrlError> {
    let name = host.trim_end_matches('.');
    if name == "localhost" || name.ends_with(".localhost") {
        return Err(PublicUrlError::Local(host.to_owned()));
    }
    let labels: Vec<&str> = name.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    let tld_ok = (tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        // An internationalised ending, as `url` gives it (punycode).
        || (tld.starts_with("xn--") && tld.len() > 4);
    let labels_ok = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if labels.len() < 2 || !tld_ok || !labels_ok {
        return Err(PublicUrlError::NotAHostName(host.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOOK: &str = "/webhooks/aftership";

    fn check(raw: &str) -> Result<String, &'static str> {
        validate_public_url(raw, HOOK, PublicUrlRules::default()).map_err(|e| e.code())
    }

    #[test]
    fn accepts_tunnel_addresses_and_normalises_them() {
        for (raw, base) in [
            ("https://shop.trycloudflare.com", "https://shop.trycloudflare.com"),
            (" https://Shop.TryCloudflare.com/ ", "https://shop.trycloudflare.com"),
            ("https://abc.trycloudflare.com/webhooks/aftership", "https://abc.trycloudflare.com"),
            ("https://1a2b-3c4d.ngrok-free.app:443", "https://1a2b-3c4d.ngrok-free.app"),
            ("https://hooks.example.co.uk:8080", "https://hooks.example.co.uk:8080"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
            ("https://shop-hoo.invalid", "https://shop-hoo.invalid"),
        ] {
            assert_eq!(check(raw).as_deref(), Ok(base), "{raw}");
        }
    }

    #[test]
    fn refuses_what_aftership_cannot_reach_and_says_why() {
        for (raw, code) in [
            ("https://shop-hoo", "not_a_host_name"),
            ("https://shop.co1", "not_a_host_name"),
            ("https://shop.c", "not_a_host_name"),
            ("https://a..b.com", "not_a_host_name"),
            ("shop.trycloudflare.com", "not_a_url"),
            ("not a url", "not_a_url"),
            ("http://shop.trycloudflare.com", "not_https"),
            ("ftp://example.com", "not_https"),
            ("https://localhost", "local_host"),
            ("https://app.localhost", "local_host"),
            ("http://127.0.0.1:8787", "not_https"),
            ("https://127.0.0.1", "ip_address"),
            ("https://203.0.113.7", "ip_address"),
            ("https://[2001:db8::1]", "ip_address"),
            ("https://user:pw@shop.example.com", "credentials"),
            ("https://shop.example.com:9443", "port"),
            ("https://shop.example.com/other/path", "path"),
            ("https://shop.example.com/?a=1", "query_or_fragment"),
            ("https://shop.example.com/#top", "query_or_fragment"),
        ] {
            assert_eq!(check(raw), Err(code), "{raw}");
        }
        let e = validate_public_url("https://shop-hoo", HOOK, PublicUrlRules::default()).unwrap_err();
        assert!(e.to_string().contains("e.g. https://shop.trycloudflare.com"), "{e}");
    }

    #[test]
    fn loopback_only_when_allowed() {
        let rules = PublicUrlRules { allow_loopback: true };
        assert_eq!(
            validate_public_url("http://127.0.0.1:9000", HOOK, rules).as_deref(),
            Ok("http://127.0.0.1:9000")
        );
        assert_eq!(
            validate_public_url("http://localhost:9000/webhooks/aftership", HOOK, rules).as_deref(),
            Ok("http://localhost:9000")
        );
        // Still no bare names or other addresses.
        assert_eq!(
            validate_public_url("https://shop-hoo", HOOK, rules).unwrap_err().code(),
            "not_a_host_name"
        );
        assert_eq!(validate_public_url("http://10.0.0.1:80", HOOK, rules).unwrap_err().code(), "not_https");
    }
}
