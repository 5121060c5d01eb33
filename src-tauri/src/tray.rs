//! The tray icon and its menu. Linux sends no tray clicks, so everything is a menu item: Open
//! Shipwatch, the receiver's state, what needs attention and shipment counts by notable tag, Pause
//! notifications (reading "Notifications paused" while they are), Quit.
//! [`refresh`] rewrites the items from the engine (called on live events, debounced, and on a
//! slow timer).

use shipwatch_aftership::Tag;
use shipwatch_api::{ReceiverState, SettingsUpdate, ShipmentQuery, TagCount};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::backend::Backend;

const OPEN: &str = "open";
const RECEIVER: &str = "receiver";
const COUNTS: &str = "counts";
const PAUSE: &str = "pause";
const QUIT: &str = "quit";

/// Tags counted in the tray, in this order.
pub const NOTABLE: [Tag; 4] =
    [Tag::OutForDelivery, Tag::AvailableForPickup, Tag::AttemptFail, Tag::Exception];

/// The menu items that change (managed state).
pub struct TrayItems<R: Runtime> {
    receiver: MenuItem<R>,
    counts: MenuItem<R>,
    pause: CheckMenuItem<R>,
}

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, OPEN, "Open Shipwatch", true, None::<&str>)?;
    let receiver = MenuItem::with_id(app, RECEIVER, "Receiver: starting…", false, None::<&str>)?;
    let counts = MenuItem::with_id(app, COUNTS, "No shipments yet", false, None::<&str>)?;
    let pause = CheckMenuItem::with_id(app, PAUSE, "Pause notifications", true, false, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT, "Quit Shipwatch", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &open,
            &PredefinedMenuItem::separator(app)?,
            &receiver,
            &counts,
            &PredefinedMenuItem::separator(app)?,
            &pause,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let icon = Image::from_bytes(include_bytes!("../../icons/32x32.png"))?;
    TrayIconBuilder::with_id("shipwatch")
        .icon(icon)
        .tooltip("Shipwatch")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id().as_ref() {
            OPEN => crate::window::show_main(app),
            PAUSE => toggle_pause(app),
            QUIT => crate::quit(app),
            _ => {}
        })
        .build(app)?;
    app.manage(TrayItems { receiver, counts, pause });
    Ok(())
}

fn toggle_pause<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(backend) = app.try_state::<Backend>() else { return };
        let Ok(api) = backend.api() else { return };
        let paused = !api.settings().notifications_paused;
        let update = SettingsUpdate { notifications_paused: Some(paused), ..Default::default() };
        match api.update_settings(update).await {
            Ok(view) => crate::settings_changed(&app, &view),
            Err(e) => {
                tracing::warn!(error = %e, "cannot change Pause notifications");
                refresh(&app).await;
            }
        }
    });
}

/// Rewrites the changing items from the engine's current state.
pub async fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let Some(items) = app.try_state::<TrayItems<R>>() else { return };
    let Some(backend) = app.try_state::<Backend>() else { return };
    let (receiver, mut counts, paused) = match backend.api() {
        Err(_) => ("Shipwatch could not start — open the window".to_string(), String::new(), false),
        Ok(api) => {
            let receiver = match backend.with_engine(|e| e.receiver_state()) {
                Some(state) => receiver_text(&state),
                None => "Receiver: stopped".to_string(),
            };
            let counts =
                match api.list_shipments(ShipmentQuery { limit: Some(1), ..Default::default() }).await {
                    Ok(list) => counts_text(&list.counts),
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot count shipments for the tray");
                        String::new()
                    }
                };
            (receiver, counts, api.settings().notifications_paused)
        }
    };
    if let Ok(status) = backend.api() {
        if let Ok(status) = status.status().await {
            counts = with_attention(status.attention_count, &counts);
        }
    }
    let _ = items.receiver.set_text(receiver);
    let _ =
        items.counts.set_text(if counts.is_empty() { "No shipments need attention".into() } else { counts });
    let _ = items.pause.set_checked(paused);
    let _ = items.pause.set_text(pause_text(paused));
}

/// The pause item's words: what is true now.
pub fn pause_text(paused: bool) -> &'static str {
    if paused {
        "Notifications paused"
    } else {
        "Pause notifications"
    }
}

/// `2 need attention · Exception 1` (test shipments are never counted).
pub fn with_attention(attention: i64, counts: &str) -> String {
    let need = match attention {
        0 => return counts.to_string(),
        1 => "1 needs attention".to_string(),
        n => format!("{n} need attention"),
    };
    if counts.is_empty() {
        need
    } else {
        format!("{need} · {counts}")
    }
}

/// `Receiver: listening on 127.0.0.1:8787`, `Receiver: port busy (127.0.0.1:8787)`, ...
pub fn receiver_text(state: &ReceiverState) -> String {
    match state {
        ReceiverState::Listening { addr } => format!("Receiver: listening on {addr}"),
        ReceiverState::Failed { addr, message } => {
            let m = message.to_ascii_lowercase();
            if m.contains("in use") || m.contains("busy") {
                format!("Receiver: port busy ({addr})")
            } else {
                format!("Receiver: cannot listen on {addr}")
            }
        }
        ReceiverState::Stopped => "Receiver: stopped".into(),
    }
}

/// `Out for delivery 2 · Exception 1` (notable tags with shipments, in [`NOTABLE`] order).
pub fn counts_text(counts: &[TagCount]) -> String {
    NOTABLE
        .iter()
        .filter_map(|tag| {
            let n: i64 = counts.iter().filter(|c| c.tag == tag.as_str()).map(|c| c.count).sum();
            (n > 0).then(|| format!("{} {n}", tag.label()))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_texts() {
        assert_eq!(
            receiver_text(&ReceiverState::Listening { addr: "127.0.0.1:8787".into() }),
            "Receiver: listening on 127.0.0.1:8787"
        );
        assert_eq!(
            receiver_text(&ReceiverState::Failed {
                addr: "127.0.0.1:8787".into(),
                message: "Address already in use (os error 98)".into()
            }),
            "Receiver: port busy (127.0.0.1:8787)"
        );
        assert_eq!(
            receiver_text(&ReceiverState::Failed {
                addr: "10.0.0.1:80".into(),
                message: "Permission denied".into()
            }),
            "Receiver: cannot listen on 10.0.0.1:80"
        );
        assert_eq!(receiver_text(&ReceiverState::Stopped), "Receiver: stopped");
    }

    #[test]
    fn counts_only_notable_tags_in_order() {
        let c = |tag: &str, count| TagCount { tag: tag.into(), count };
        assert_eq!(
            counts_text(&[c("Exception", 1), c("Delivered", 40), c("OutForDelivery", 2), c("InTransit", 5)]),
            "Out for delivery 2 · Exception 1"
        );
        assert_eq!(counts_text(&[c("Delivered", 3), c("AttemptFail", 0)]), "");
    }

    #[test]
    fn attention_and_pause_texts() {
        assert_eq!(with_attention(2, "Exception 1"), "2 need attention · Exception 1");
        assert_eq!(with_attention(1, ""), "1 needs attention");
        assert_eq!(with_attention(0, "Exception 1"), "Exception 1");
        assert_eq!(pause_text(true), "Notifications paused");
        assert_eq!(pause_text(false), "Pause notifications");
    }
}
