//! Where the engine's configuration comes from: embedded defaults, the settings file in the data dir
//! (`settings.json`, 0600, written by the UI), the environment (`SHIPWATCH_*`) and command-line flags,
//! in that order of increasing precedence. Secrets never come from argv.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shipwatch_aftership::Secrets;
use shipwatch_api::QuietHours;

/// Receiver address when nothing else says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Inspector address when nothing else says.
pub const DEFAULT_INSPECTOR_LISTEN: &str = "127.0.0.1:8788";
/// The webhook path when nothing else says.
pub const DEFAULT_WEBHOOK_PATH: &str = "/webhooks/aftership";
/// Largest body accepted by default (AfterShip sends the whole tracking with every checkpoint).
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;
/// The settings file inside the data dir.
pub const SETTINGS_FILE: &str = "settings.json";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?} is not an address like 127.0.0.1:8787")]
    BadAddress { var: String, value: String },
    #[error("cannot read the settings file {path}: {source}")]
    ReadSettings { path: PathBuf, source: std::io::Error },
    #[error("the settings file {path} is not valid ({source}); fix or delete it")]
    ParseSettings { path: PathBuf, source: serde_json::Error },
    #[error("cannot write the settings file {path}: {source}")]
    WriteSettings { path: PathBuf, source: std::io::Error },
    #[error("no data directory: set SHIPWATCH_DATA_DIR or pass --data-dir")]
    NoDataDir,
    #[error("the data directory {0} is a file, not a directory: choose another with --data-dir / SHIPWATCH_DATA_DIR, or move the file away")]
    DataDirIsAFile(PathBuf),
    #[error("the inspector address {0} is not loopback: the inspector serves your deliveries, so it listens on 127.0.0.1 or [::1] only. To reach it from another machine, forward the port over SSH (ssh -L 8788:127.0.0.1:8788 this-host)")]
    InspectorNotLoopback(SocketAddr),
}

/// What the user set, persisted as `settings.json` in the data dir. Unknown fields are kept out;
/// missing ones take their defaults, so older files keep working.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub secret: Option<String>,
    pub previous_secret: Option<String>,
    /// Receiver address, e.g. `127.0.0.1:8787`.
    pub listen: Option<String>,
    pub webhook_path: String,
    pub body_limit: u64,
    /// Tags that raise a notification when a shipment first reaches them.
    pub notify_tags: Vec<String>,
    pub quiet_hours: Option<QuietHours>,
    pub notifications_paused: bool,
    pub autostart: bool,
    /// The public base URL of the user's tunnel, e.g. `https://abc.trycloudflare.com`.
    pub public_url: Option<String>,
    pub tunnel_command: Option<String>,
    /// Forward mode target (None = off).
    pub forward_url: Option<String>,
    /// Forward failing deliveries too.
    pub forward_failing: bool,
    /// Keep deliveries this many days (None = forever).
    pub retention_days: Option<u32>,
    /// Keep the database under this many MB (None = no limit).
    pub retention_max_mb: Option<u64>,
    /// A shipment with no courier scan for this many days is stuck.
    pub stuck_after_days: u32,
    /// A shipment waiting at a pickup point this many days needs attention.
    pub pickup_after_days: u32,
    /// Delivered shipments archive themselves after this many days.
    pub archive_after_days: u32,
    /// The alerts raised: any of `late`, `stuck`, `estimate_later`.
    pub alerts: Vec<String>,
    /// Local `HH:MM` of the daily digest notification (None = no digest).
    pub digest_at: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("previous_secret", &self.previous_secret.as_ref().map(|_| "<set>"))
            .field("listen", &self.listen)
            .field("webhook_path", &self.webhook_path)
            .field("body_limit", &self.body_limit)
            .field("notify_tags", &self.notify_tags)
            .field("quiet_hours", &self.quiet_hours)
            .field("notifications_paused", &self.notifications_paused)
            .field("autostart", &self.autostart)
            .field("public_url", &self.public_url)
            .field("tunnel_command", &self.tunnel_command)
            .field("forward_url", &self.forward_url)
            .field("forward_failing", &self.forward_failing)
            .field("retention_days", &self.retention_days)
            .field("retention_max_mb", &self.retention_max_mb)
            .field("stuck_after_days", &self.stuck_after_days)
            .field("pickup_after_days", &self.pickup_after_days)
            .field("archive_after_days", &self.archive_after_days)
            .field("alerts", &self.alerts)
            .field("digest_at", &self.digest_at)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secret: None,
            previous_secret: None,
            listen: None,
            webhook_path: DEFAULT_WEBHOOK_PATH.into(),
            body_limit: DEFAULT_BODY_LIMIT,
            notify_tags: ["OutForDelivery", "AvailableForPickup", "Delivered", "AttemptFail", "Exception"]
                .map(String::from)
                .to_vec(),
            quiet_hours: None,
            notifications_paused: false,
            autostart: false,
            public_url: None,
            tunnel_command: None,
            forward_url: None,
            forward_failing: false,
            retention_days: None,
            retention_max_mb: None,
            stuck_after_days: 5,
            pickup_after_days: 3,
            archive_after_days: 3,
            alerts: ["late", "stuck", "estimate_later"].map(String::from).to_vec(),
            digest_at: None,
        }
    }
}

impl Settings {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(SETTINGS_FILE)
    }

    /// Reads `settings.json`; a missing file gives the defaults.
    pub fn load(data_dir: &Path) -> Result<Settings, ConfigError> {
        let path = Self::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| ConfigError::ParseSettings { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(ConfigError::ReadSettings { path, source }),
        }
    }

    /// Writes `settings.json` atomically (temp file + rename) with 0600 permissions: it holds secrets.
    pub fn save(&self, data_dir: &Path) -> Result<(), ConfigError> {
        let path = Self::path(data_dir);
        let tmp = data_dir.join(format!(".{SETTINGS_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).expect("settings serialise");
        write_private(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| ConfigError::WriteSettings { path, source })
    }

    /// The secrets from this file (empty strings are unset).
    pub fn secrets(&self) -> Secrets {
        Secrets { current: non_empty(self.secret.clone()), previous: non_empty(self.previous_secret.clone()) }
    }

    /// The webhook path, normalised to start with `/`.
    pub fn webhook_path(&self) -> String {
        let p = self.webhook_path.trim();
        if p.is_empty() {
            DEFAULT_WEBHOOK_PATH.into()
        } else if p.starts_with('/') {
            p.into()
        } else {
            format!("/{p}")
        }
    }
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()
}

pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Limits that keep slow or hostile clients from holding the receiver.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Open connections per listener; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Deliveries being read, verified or stored at once; bounds memory to about this × body limit.
    pub max_in_flight: usize,
    /// Whole request (headers and body) must arrive within this.
    pub request_timeout: Duration,
    /// Headers must arrive within this.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_in_flight: 128,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// How to start the engine. Fields left `None` fall back to the environment, then the settings
/// file, then the embedded defaults ([`EngineConfig::resolve`]).
#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    pub data_dir: Option<PathBuf>,
    /// Receiver address.
    pub listen: Option<SocketAddr>,
    /// Inspector address. The desktop app may turn the HTTP inspector off with `inspector: false`.
    pub inspector_listen: Option<SocketAddr>,
    /// Serve the HTTP inspector (API + UI). Default true.
    pub inspector: Option<bool>,
    pub limits: Limits,
    /// Where the desk's clock reads "now" (default: the system clock and the local time zone).
    /// Tests pass a controllable one.
    pub clock: Option<crate::clock::ClockSource>,
    /// Shows notifications (the desktop's D-Bus notifier); none for the headless engine, which
    /// then raises no alerts (they wait for an engine that can show them).
    pub notifications: Option<crate::clock::Notifications>,
}

/// The configuration after every source has been applied.
#[derive(Clone, Debug)]
pub struct ResolvedConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub inspector_listen: Option<SocketAddr>,
    /// Secrets from `SHIPWATCH_SECRET` / `SHIPWATCH_PREVIOUS_SECRET`; they override the file's.
    pub env_secrets: Secrets,
    pub settings: Settings,
    pub limits: Limits,
}

/// The platform's data dir for Shipwatch (`~/.local/share/shipwatch` on Linux).
pub fn default_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("shipwatch"))
}

fn env_nonempty(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn env_addr(var: &str) -> Result<Option<SocketAddr>, ConfigError> {
    env_nonempty(var)
        .map(|v| parse_addr(&v).ok_or(ConfigError::BadAddress { var: var.into(), value: v }))
        .transpose()
}

/// Parses `host:port`, accepting `localhost` for 127.0.0.1 and a bare port.
pub fn parse_addr(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    if let Ok(port) = s.parse::<u16>() {
        return Some(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        return port.parse::<u16>().ok().map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
    }
    s.parse().ok()
}

impl EngineConfig {
    /// Applies env vars, the settings file and the defaults. Creates the data dir if needed.
    pub fn resolve(&self) -> Result<ResolvedConfig, ConfigError> {
        let data_dir = match &self.data_dir {
            Some(d) => d.clone(),
            None => match env_nonempty("SHIPWATCH_DATA_DIR") {
                Some(d) => PathBuf::from(d),
                None => default_data_dir().ok_or(ConfigError::NoDataDir)?,
            },
        };
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(ConfigError::DataDirIsAFile(data_dir));
        }
        let settings = Settings::load(&data_dir)?;
        let listen = match self.listen {
            Some(a) => a,
            None => match env_addr("SHIPWATCH_LISTEN")? {
                Some(a) => a,
                None => match settings.listen.as_deref().map(|s| (s, parse_addr(s))) {
                    Some((_, Some(a))) => a,
                    Some((s, None)) => {
                        return Err(ConfigError::BadAddress {
                            var: format!("\"listen\" in {}", Settings::path(&data_dir).display()),
                            value: s.into(),
                        })
                    }
                    None => DEFAULT_LISTEN.parse().expect("default address"),
                },
            },
        };
        let inspector_listen = if self.inspector == Some(false) {
            None
        } else {
            Some(match self.inspector_listen {
                Some(a) => a,
                None => env_addr("SHIPWATCH_INSPECTOR_LISTEN")?
                    .unwrap_or_else(|| DEFAULT_INSPECTOR_LISTEN.parse().expect("default address")),
            })
        };
        if let Some(addr) = inspector_listen.filter(|a| !a.ip().is_loopback()) {
            return Err(ConfigError::InspectorNotLoopback(addr));
        }
        let env_secrets = Secrets {
            current: env_nonempty("SHIPWATCH_SECRET"),
            previous: env_nonempty("SHIPWATCH_PREVIOUS_SECRET"),
        };
        Ok(ResolvedConfig {
            data_dir,
            listen,
            inspector_listen,
            env_secrets,
            settings,
            limits: self.limits.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings { secret: Some("s3cret".into()), ..Default::default() };
        s.save(dir.path()).unwrap();
        assert_eq!(Settings::load(dir.path()).unwrap(), s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(Settings::path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn missing_settings_file_gives_defaults_and_broken_one_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(dir.path()).unwrap(), Settings::default());
        std::fs::write(Settings::path(dir.path()), b"{not json").unwrap();
        let err = Settings::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("fix or delete it"), "{err}");
    }

    #[test]
    fn addresses_parse_leniently() {
        assert_eq!(parse_addr("8787"), Some("127.0.0.1:8787".parse().unwrap()));
        assert_eq!(parse_addr("localhost:9000"), Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(parse_addr("[::1]:80"), Some("[::1]:80".parse().unwrap()));
        assert_eq!(parse_addr("nope"), None);
    }

    #[test]
    fn webhook_path_is_normalised() {
        let mut s = Settings { webhook_path: "hooks/as".into(), ..Default::default() };
        assert_eq!(s.webhook_path(), "/hooks/as");
        s.webhook_path = "  ".into();
        assert_eq!(s.webhook_path(), DEFAULT_WEBHOOK_PATH);
    }
}
