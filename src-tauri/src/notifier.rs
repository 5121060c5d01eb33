//! How the desktop shows a notification: `org.freedesktop.Notifications` on the session bus via
//! notify-rust (zbus, no libdbus). Where the server supports actions, clicking the notification
//! (its default action) opens the window on that shipment.

use std::sync::OnceLock;

use shipwatch_notify::{Notification, NotificationId, Notifier, NotifyError};
use tauri::{AppHandle, Runtime};

/// The app name notification servers show and group by.
pub const APP_NAME: &str = "Shipwatch";
/// The icon name the `.deb` installs into the hicolor theme (the binary's name).
pub const ICON: &str = "shipwatch-desktop";
/// The `.desktop` entry the `.deb` installs (the product name).
pub const DESKTOP_ENTRY: &str = "Shipwatch";

pub struct DesktopNotifier<R: Runtime> {
    app: AppHandle<R>,
    /// Whether the server supports actions; asked once, after the first notification succeeds.
    actions: OnceLock<bool>,
}

impl<R: Runtime> DesktopNotifier<R> {
    pub fn new(app: AppHandle<R>) -> Self {
        DesktopNotifier { app, actions: OnceLock::new() }
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
            .icon(ICON)
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
