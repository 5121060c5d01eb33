//! Finding the public URL in a tunnel agent's output. Agents print documentation links too
//! (cloudflared prints `https://developers.cloudflare.com/...` before its quick-tunnel URL), so only a
//! bare origin counts: `https://host` or `https://host/`, optionally with a port, and not one of the
//! agents' own sites.

/// Hosts (and their subdomains) that are the agents' own sites, never a tunnel.
const NOT_TUNNELS: &[&str] = &["cloudflare.com", "ngrok.com", "github.com", "localtunnel.me"];

/// The first bare public `https://` origin in a line, without a trailing slash.
pub fn find_public_url(line: &str) -> Option<String> {
    let mut rest = line;
    while let Some(i) = rest.find("https://") {
        let candidate: String = rest[i..]
            .chars()
            .take_while(|c| {
                !c.is_whitespace() && !matches!(c, '|' | '"' | '\'' | '<' | '>' | ',' | ')' | ']')
            })
            .collect();
        rest = &rest[i + "https://".len()..];
        let after = &candidate["https://".len()..];
        let (host, path) = match after.find('/') {
            Some(p) => (&after[..p], &after[p..]),
            None => (after, ""),
        };
        if !(path.is_empty() || path == "/") || host.is_empty() {
            continue;
        }
        let name = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        let valid = name.contains('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !name.starts_with('.')
            && !name.ends_with('.');
        if !valid || name == "localhost" || name.starts_with("127.") {
            continue;
        }
        if NOT_TUNNELS.iter().any(|d| name == *d || name.ends_with(&format!(".{d}"))) {
            continue;
        }
        return Some(format!("https://{}", host.to_ascii_lowercase()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudflared_quick_tunnel_banner() {
        let out = [
            "2026-11-23T10:00:00Z INF Thank you for trying Cloudflare Tunnel. ... following: https://developers.cloudflare.com/cloudflare-one/connections/connect-apps",
            "2026-11-23T10:00:00Z INF Requesting new quick Tunnel on trycloudflare.com...",
            "2026-11-23T10:00:01Z INF +--------------------------------------------------------------------------------------------+",
            "2026-11-23T10:00:01Z INF |  https://gentle-river-abc.trycloudflare.com                                                 |",
        ];
        let found: Vec<_> = out.iter().filter_map(|l| find_public_url(l)).collect();
        assert_eq!(found, vec!["https://gentle-river-abc.trycloudflare.com".to_owned()]);
    }

    #[test]
    fn ngrok_log_stdout() {
        let line = r#"t=2026-11-23T10:00:00+0000 lvl=info msg="started tunnel" obj=tunnels name=command_line addr=http://localhost:8787 url=https://1a2b-3c4d.ngrok-free.app"#;
        assert_eq!(find_public_url(line).as_deref(), Some("https://1a2b-3c4d.ngrok-free.app"));
    }

    #[test]
    fn ignores_docs_local_and_paths() {
        for line in [
            "see https://ngrok.com/docs/",
            "https://dashboard.ngrok.com/",
            "http://plain.example.com",
            "https://example.com/docs/page",
            "https://localhost:8443",
            "https://127.0.0.1/",
            "nothing here",
        ] {
            assert_eq!(find_public_url(line), None, "{line}");
        }
        assert_eq!(
            find_public_url("url: https://Abc.Example.com:8443/").as_deref(),
            Some("https://abc.example.com:8443")
        );
    }
}
