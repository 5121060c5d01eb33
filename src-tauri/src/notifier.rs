//! How the desktop shows a notification: `org.freedesktop.Notifications` on the session bus via
//! notify-rust (zbus, no libdbus), with the app's icon and the urgency the notification asks for
//! (critical for an exception or a failed attempt). Where the server supports actions, clicking the
//! notification (its default action) opens the window on that shipment.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use shipwatch_notify::{Notification, NotificationId, Notifier, NotifyError, Urgency};
use tauri::{AppHandle, Runtime};

/// The app name notification servers show and group by.
pub const APP_NAME: &str = "Shipwatch";
/// The icon name the `.deb` installs into the hicolor theme (the binary's name).
pub const ICON: &str = "shipwatch-desktop";
/// The `.desktop` entry the `.deb` installs (the product name).
pub const DESKTOP_ENTRY: &str = "Shipwatch";
/// Where the `.deb` puts the icon [`ICON`] names.
const INSTALLED_ICON: &str = "/usr/share/icons/hicolor/128x128/apps/shipwatch-desktop.png";
/// The app's icon, for a Shipwatch that is not installed (run from a build).
const ICON_PNG: &[u8] = include_bytes!("../../icons/128x128.png");

pub struct DesktopNotifier<R: Runtime> {
    app: AppHandle<R>,
    /// Whether the server supports actions; asked once, after the first notification succeeds.
    actions: OnceLock<bool>,
    /// Where to keep a copy of the app's icon when Shipwatch is not installed.
    icon_dir: Option<PathBuf>,
    /// The icon: the installed theme icon's name, else that copy (decided at the first notification,
    /// once the data dir exists).
    icon: OnceLock<String>,
}

impl<R: Runtime> DesktopNotifier<R> {
    /// `icon_dir`: where to keep a copy of the app's icon when Shipwatch is not installed (the
    /// data dir).
    pub fn new(app: AppHandle<R>, icon_dir: Option<PathBuf>) -> Self {
        DesktopNotifier { app, actions: OnceLock::new(), icon_dir, icon: OnceLock::new() }
    }

    /// The icon notifications carry: a theme name or a `file://` URI.
    pub fn icon(&self) -> &str {
        self.icon.get_or_init(|| icon(self.icon_dir.as_deref()))
    }

    fn supports_actions(&self) -> bool {
        *self.actions.get_or_init(|| match notify_rust::get_capabilities() {
            Ok(caps) => caps.iter().any(|c| c == "actions"),
            Err(e) => {
                tracing::debug!(error = %e, "cannot ask the notification server for its capabilities");
                false
            }
        })
    }
}

impl<R: Runtime> Notifier for DesktopNotifier<R> {
    fn notify(&self, n: &Notification) -> Result<NotificationId, NotifyError> {
        let mut builder = notify_rust::Notification::new();
        builder
            .appname(APP_NAME)
            .summary(&n.summary)
            .body(&n.body)
            .icon(self.icon())
            .urgency(urgency(n.urgency))
            .hint(notify_rust::Hint::DesktopEntry(DESKTOP_ENTRY.into()))
            .action("default", "Open in Shipwatch");
        let handle = builder.show().map_err(classify)?;
        let id = handle.id();
        if self.supports_actions() {
            let app = self.app.clone();
            let shipment = n.shipment_id;
            // Blocks until the notification is acted on or closed; one thread per shown notification.
            let spawned = std::thread::Builder::new().name("notification-action".into()).spawn(move || {
                handle.wait_for_action(|action| {
                    if action == "default" {
                        match shipment {
                            Some(id) => crate::window::open_shipment(&app, id),
                            None => crate::window::show_main(&app),
                        }
                    }
                })
            });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot wait for the notification's action");
            }
        }
        Ok(id)
    }
}

fn urgency(u: Urgency) -> notify_rust::Urgency {
    match u {
        Urgency::Low => notify_rust::Urgency::Low,
        Urgency::Normal => notify_rust::Urgency::Normal,
        Urgency::Critical => notify_rust::Urgency::Critical,
    }
}

/// The installed icon's name; else the app's icon written to `dir` (once), as a `file://` URI;
/// else the name anyway.
fn icon(dir: Option<&Path>) -> String {
    if Path::new(INSTALLED_ICON).exists() {
        return ICON.into();
    }
    let Some(dir) = dir else { return ICON.into() };
    let path: PathBuf = dir.join("shipwatch-icon.png");
    let current = std::fs::read(&path).is_ok_and(|b| b == ICON_PNG);
    if !current {
        if let Err(e) = std::fs::write(&path, ICON_PNG) {
            tracing::debug!(error = %e, path = %path.display(), "cannot write the notification icon");
            return ICON.into();
        }
    }
    format!("file://{}", path.display())
}

/// No bus or no server (the usual failure) versus a server that refused.
fn classify(e: notify_rust::error::Error) -> NotifyError {
    let text = e.to_string();
    let no_server = [
        "ServiceUnknown",
        "was not provided by any",
        "DBUS_SESSION_BUS_ADDRESS",
        "No such file or directory",
        "Connection refused",
        "session bus",
        "Address",
        "address",
    ];
    if no_server.iter().any(|needle| text.contains(needle)) {
        NotifyError::NoServer(text)
    } else {
        NotifyError::Failed(text)
    }
}
