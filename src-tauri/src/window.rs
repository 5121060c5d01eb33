//! The main window: created hidden or shown, hidden (not closed) when the user closes it, brought
//! back by the tray, a second launch or a notification. When the engine could not start, or the
//! receiver cannot listen, the page gets a clear message injected after it loads.

use serde::Serialize;
use shipwatch_api::ReceiverState;
use tauri::webview::PageLoadEvent;
use tauri::{
    AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent,
};

use crate::backend::Backend;

pub const MAIN: &str = "main";

/// The event the UI gets when a notification asks to open a shipment; payload: the shipment id.
pub const OPEN_SHIPMENT_EVENT: &str = "open-shipment";

pub fn create<R: Runtime>(app: &AppHandle<R>, visible: bool) -> tauri::Result<WebviewWindow<R>> {
    let window = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Shipwatch")
        .inner_size(1180.0, 780.0)
        .min_inner_size(720.0, 480.0)
        .visible(visible)
        .on_page_load(|webview, payload| {
            if payload.event() == PageLoadEvent::Finished {
                inject_problems(&webview);
            }
        })
        .build()?;
    let hide_on_close = window.clone();
    window.on_window_event(move |event| {
        if let WindowEvent::CloseRequested { api, .. } = event {
            // Keep running in the tray; Quit is in the tray menu.
            api.prevent_close();
            if let Err(e) = hide_on_close.hide() {
                tracing::warn!(error = %e, "cannot hide the window");
            }
        }
    });
    Ok(window)
}

/// Shows, un-minimises and focuses the main window (creating it if it is gone).
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window(MAIN) {
        Some(w) => w,
        None => match create(app, true) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the window");
                return;
            }
        },
    };
    let _ = window.unminimize();
    if let Err(e) = window.show() {
        tracing::warn!(error = %e, "cannot show the window");
    }
    let _ = window.set_focus();
}

/// Opens the window on a shipment: the `open-shipment` event for the UI, and the hash route
/// (`#/shipment/<id>`) in case the UI does not listen for it.
pub fn open_shipment<R: Runtime>(app: &AppHandle<R>, shipment_id: i64) {
    show_main(app);
    if let Err(e) = app.emit_to(MAIN, OPEN_SHIPMENT_EVENT, shipment_id) {
        tracing::warn!(error = %e, "cannot send open-shipment to the window");
    }
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.eval(format!("location.hash = '#/shipment/{shipment_id}';"));
    }
}

/// After each page load: a full-page error when the engine could not start, a banner when the
/// receiver cannot listen.
fn inject_problems<R: Runtime>(webview: &WebviewWindow<R>) {
    let app = webview.app_handle().clone();
    let Some(backend) = app.try_state::<Backend>() else { return };
    if let Some(why) = backend.startup_error() {
        let data_dir =
            shipwatch_server::config::default_data_dir().map(|d| d.display().to_string()).unwrap_or_default();
        let js = script("fatal", &Problem {
            title: "Shipwatch could not start",
            message: why,
            hint: &format!(
                "Nothing is being received. Fix the cause above and start Shipwatch again. Data directory: {}",
                std::env::var("SHIPWATCH_DATA_DIR").ok().filter(|s| !s.is_empty()).unwrap_or(data_dir)
            ),
        });
        if let Err(e) = webview.eval(js) {
            tracing::error!(error = %e, "cannot show the start-up error in the window");
        }
        return;
    }
    let state = backend.with_engine(|e| e.receiver_state());
    if let Some(ReceiverState::Failed { addr, message }) = state {
        let js = script("banner", &Problem {
            title: &format!("The receiver is not listening on {addr}"),
            message: &message,
            hint: "Deliveries cannot arrive until this is fixed: stop the other program using the port, or choose another address in Settings (or SHIPWATCH_LISTEN) and restart Shipwatch.",
        });
        let _ = webview.eval(js);
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    title: &'a str,
    message: &'a str,
    hint: &'a str,
}

/// A self-contained script that shows `problem` (text only, never HTML).
fn script(kind: &str, problem: &Problem) -> String {
    let data = serde_json::to_string(problem).expect("serialises");
    let kind = serde_json::to_string(kind).expect("serialises");
    format!(
        r#"(function (p, kind) {{
  var id = 'shipwatch-' + kind;
  var old = document.getElementById(id); if (old) old.remove();
  var box = document.createElement('section');
  box.id = id; box.setAttribute('role', 'alert');
  var h = document.createElement('h1'); h.textContent = p.title;
  var m = document.createElement('p'); m.textContent = p.message;
  var t = document.createElement('p'); t.textContent = p.hint;
  h.style.cssText = 'margin:0 0 8px;font-size:18px';
  m.style.cssText = 'margin:0 0 8px;font-family:ui-monospace,monospace;white-space:pre-wrap';
  t.style.cssText = 'margin:0';
  box.append(h, m, t);
  if (kind === 'fatal') {{
    document.title = 'Shipwatch — could not start';
    box.style.cssText = 'font:15px system-ui,sans-serif;max-width:680px;margin:12vh auto;padding:24px;border:1px solid #e3a5a5;border-radius:10px;background:#fff5f5;color:#611a1a';
    document.body.replaceChildren(box);
  }} else {{
    var close = document.createElement('button'); close.textContent = 'Dismiss';
    close.style.cssText = 'margin-top:8px'; close.onclick = function () {{ box.remove(); }};
    box.append(close);
    box.style.cssText = 'position:fixed;z-index:2147483647;right:12px;bottom:40px;max-width:460px;font:14px system-ui,sans-serif;padding:12px 16px;border:1px solid #e3a5a5;border-radius:8px;background:#fff5f5;color:#611a1a;box-shadow:0 4px 16px rgba(0,0,0,.2)';
    document.body.append(box);
  }}
}})({data}, {kind});"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_text_is_escaped_as_json() {
        let js = script("fatal", &Problem { title: "t", message: "</script><b>'\"", hint: "h" });
        assert!(js.contains(r#""message":"</script><b>'\""#), "{js}");
        assert!(js.contains("textContent = p.message"));
        assert!(!js.contains("innerHTML"));
    }
}
