//! Which program a tunnel command runs, and whether it is installed. The command runs through
//! `sh -c`, so it may be any shell line; only the plain cases are checked (`cloudflared tunnel ...`,
//! `FOO=1 /opt/bin/ngrok http 8787`, `exec ~/bin/bore local 8787 ...`). A line with shell syntax
//! before its program (`$(...)`, pipes, `;`, keywords) is left to the shell: an exit 127 ("not found")
//! then stops the supervisor the same way.

use std::path::PathBuf;

/// What [`check_program`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramCheck {
    /// Found on `PATH` (or at the path given).
    Found { program: String, path: PathBuf },
    /// Not found: starting the command could only fail.
    Missing { program: String },
    /// The line is not a plain command (shell syntax, a keyword, a builtin): the shell decides.
    Unknown,
}

/// Words that run the next word: `exec cloudflared ...`, `nohup ngrok ...`, `env A=1 bore ...`.
const PREFIXES: &[&str] = &["exec", "nohup", "env", "command"];

/// Shell keywords and builtins: not programs on `PATH`, so there is nothing to look up.
const SHELL_WORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until", "do", "done", "in",
    "function", "select", "time", "{", "}", "!", "[[", "]]", "[", ".", ":", "cd", "eval", "export", "set",
    "trap", "ulimit", "umask", "source", "test", "true", "false", "printf", "echo", "read", "wait", "sleep",
    "shift", "unset", "alias", "local", "return", "exit",
];

/// Shell syntax that makes a word something other than a plain program name or path.
fn has_shell_syntax(word: &str) -> bool {
    word.chars().any(|c| matches!(c, '$' | '`' | '(' | ')' | ';' | '|' | '&' | '<' | '>' | '*' | '?'))
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// The program a command line runs, when it is a plain command.
pub fn program_of(command: &str) -> Option<String> {
    let words = shell_words::split(command).ok()?;
    let mut words = words.into_iter().peekable();
    loop {
        let word = words.next()?;
        if has_shell_syntax(&word) {
            return None;
        }
        if is_assignment(&word) {
            continue;
        }
        if PREFIXES.contains(&word.as_str()) {
            // `env -i ...` and other options: too clever to follow.
            if words.peek().is_some_and(|w| w.starts_with('-')) {
                return None;
            }
            continue;
        }
        if SHELL_WORDS.contains(&word.as_str()) {
            return None;
        }
        return Some(word);
    }
}

/// Looks the command's program up the way `sh` would: on `PATH`, or at the path given (`~/` is
/// the home directory).
pub fn check_program(command: &str) -> ProgramCheck {
    let Some(program) = program_of(command) else { return ProgramCheck::Unknown };
    let lookup = match program.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => return ProgramCheck::Unknown,
        },
        None => PathBuf::from(&program),
    };
    match which::which(&lookup) {
        Ok(path) => ProgramCheck::Found { program, path },
        Err(_) => ProgramCheck::Missing { program },
    }
}

/// Where to get a tunnel program, in one sentence.
pub fn install_advice(program: &str) -> String {
    let name = program.rsplit('/').next().unwrap_or(program);
    let how = match name {
        "cloudflared" => "Install cloudflared from https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/ (on Debian/Ubuntu: the cloudflared package from Cloudflare's apt repository, pkg.cloudflare.com)",
        "ngrok" => "Install ngrok from https://ngrok.com/download (then run `ngrok config add-authtoken <token>` once)",
        "lt" => "Install localtunnel with `npm install -g localtunnel`",
        "bore" => "Install bore with `cargo install bore-cli`",
        "tailscale" => "Install Tailscale from https://tailscale.com/download (Funnel gives a public https:// address)",
        "ssh" => "Install the OpenSSH client (`sudo apt install openssh-client`)",
        _ => return format!(
            "Install {name}, or give its full path in the command; or run your tunnel yourself and choose \"I run the tunnel\" in Setup."
        ),
    };
    format!("{how}; or run your tunnel yourself and choose \"I run the tunnel\" in Setup.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_program_of_plain_commands() {
        for (line, program) in [
            ("cloudflared tunnel --url http://127.0.0.1:8787", Some("cloudflared")),
            ("  ngrok http {port} --log stdout", Some("ngrok")),
            ("TUNNEL_LOGLEVEL=debug cloudflared tunnel", Some("cloudflared")),
            ("exec /opt/bin/cloudflared tunnel", Some("/opt/bin/cloudflared")),
            ("env A=1 B=2 bore local 8787 --to bore.pub", Some("bore")),
            ("'/path with space/ngrok' http 1", Some("/path with space/ngrok")),
            ("~/bin/lt --port 8787", Some("~/bin/lt")),
            ("n=$(cat runs); echo https://x.example.com", None),
            ("echo https://x.example.com; sleep 30", None),
            ("for i in 1 2; do echo; done", None),
            ("env -i PATH=/bin cloudflared", None),
            ("unbalanced 'quote", None),
            ("", None),
        ] {
            assert_eq!(program_of(line).as_deref(), program, "{line}");
        }
    }

    #[test]
    fn checks_the_program_on_path() {
        assert!(matches!(check_program("sh -c true"), ProgramCheck::Found { .. }));
        assert_eq!(
            check_program("definitely-not-installed-xyz --url http://127.0.0.1:1"),
            ProgramCheck::Missing { program: "definitely-not-installed-xyz".into() }
        );
        assert_eq!(
            check_program("/nonexistent/dir/cloudflared tunnel"),
            ProgramCheck::Missing { program: "/nonexistent/dir/cloudflared".into() }
        );
        assert_eq!(check_program("echo hi; sleep 1"), ProgramCheck::Unknown);
    }

    #[test]
    fn advice_names_where_to_get_it() {
        assert!(install_advice("cloudflared").contains("developers.cloudflare.com"));
        assert!(install_advice("/usr/local/bin/ngrok").contains("ngrok.com/download"));
        assert!(install_advice("mytunnel").contains("Install mytunnel"));
        assert!(install_advice("cloudflared").contains("I run the tunnel"));
    }
}
