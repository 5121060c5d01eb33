//! The Tauri commands: the inspector API of `docs/api.md` over IPC (same names, argument names
//! and types; errors reject with `{"error": "..."}`), plus two desktop-only ones:
//! `notification_log` (every notification decision, oldest first) and `startup_error` (why the
//! engine could not start, or `null`).

use shipwatch_api::*;
use shipwatch_notify::LogEntry;
use tauri::{AppHandle, Runtime, State};

use crate::backend::Backend;

/// The handler to pass to `Builder::invoke_handler`.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        status,
        list_deliveries,
        get_delivery,
        reverify_delivery,
        list_shipments,
        get_shipment,
        desk,
        archive_shipment,
        remove_test_data,
        get_settings,
        update_settings,
        send_test_delivery,
        replay_delivery,
        delivery_forwards,
        reverify_failed,
        tunnel_status,
        restart_tunnel,
        self_test,
        notification_log,
        startup_error,
    ]
}

#[tauri::command]
async fn status(backend: State<'_, Backend>) -> Result<Status, ApiError> {
    backend.api()?.status().await
}

#[tauri::command]
async fn list_deliveries(
    backend: State<'_, Backend>,
    query: Option<DeliveryQuery>,
) -> Result<Page<DeliveryItem>, ApiError> {
    backend.api()?.list_deliveries(query.unwrap_or_default()).await
}

#[tauri::command]
async fn get_delivery(backend: State<'_, Backend>, id: i64) -> Result<DeliveryDetail, ApiError> {
    backend.api()?.get_delivery(id).await
}

#[tauri::command]
async fn reverify_delivery(
    backend: State<'_, Backend>,
    id: i64,
    request: ReverifyRequest,
) -> Result<SignatureReport, ApiError> {
    backend.api()?.reverify_delivery(id, request).await
}

#[tauri::command]
async fn list_shipments(
    backend: State<'_, Backend>,
    query: Option<ShipmentQuery>,
) -> Result<ShipmentList, ApiError> {
    backend.api()?.list_shipments(query.unwrap_or_default()).await
}

#[tauri::command]
async fn get_shipment(backend: State<'_, Backend>, id: i64) -> Result<ShipmentDetail, ApiError> {
    backend.api()?.get_shipment(id).await
}

#[tauri::command]
async fn desk(backend: State<'_, Backend>) -> Result<Desk, ApiError> {
    backend.api()?.desk().await
}

#[tauri::command]
async fn archive_shipment(
    backend: State<'_, Backend>,
    id: i64,
    archived: bool,
) -> Result<ShipmentItem, ApiError> {
    backend.api()?.archive_shipment(id, ArchiveRequest { archived }).await
}

#[tauri::command]
async fn remove_test_data(backend: State<'_, Backend>) -> Result<TestDataRemoved, ApiError> {
    backend.api()?.remove_test_data().await
}

#[tauri::command]
async fn get_settings(backend: State<'_, Backend>) -> Result<SettingsView, ApiError> {
    backend.api()?.get_settings().await
}

/// Also applies what the desktop owns: start at login, and the tray's Pause check.
#[tauri::command]
async fn update_settings<R: Runtime>(
    app: AppHandle<R>,
    backend: State<'_, Backend>,
    update: SettingsUpdate,
) -> Result<SettingsView, ApiError> {
    let view = backend.api()?.update_settings(update).await?;
    crate::settings_changed(&app, &view);
    Ok(view)
}

#[tauri::command]
async fn send_test_delivery(
    backend: State<'_, Backend>,
    request: Option<TestDeliveryRequest>,
) -> Result<TestDeliveryResult, ApiError> {
    backend.api()?.send_test_delivery(request.unwrap_or_default()).await
}

#[tauri::command]
async fn replay_delivery(
    backend: State<'_, Backend>,
    id: i64,
    request: Option<ReplayRequest>,
) -> Result<ReplayResult, ApiError> {
    backend.api()?.replay_delivery(id, request.unwrap_or_default()).await
}

#[tauri::command]
async fn delivery_forwards(backend: State<'_, Backend>, id: i64) -> Result<Vec<ForwardAttempt>, ApiError> {
    backend.api()?.delivery_forwards(id).await
}

#[tauri::command]
async fn reverify_failed(backend: State<'_, Backend>) -> Result<ReverifyFailedResult, ApiError> {
    backend.api()?.reverify_failed().await
}

#[tauri::command]
async fn tunnel_status(backend: State<'_, Backend>) -> Result<TunnelStatus, ApiError> {
    backend.api()?.tunnel_status().await
}

#[tauri::command]
async fn restart_tunnel(backend: State<'_, Backend>) -> Result<TunnelStatus, ApiError> {
    backend.api()?.restart_tunnel().await
}

#[tauri::command]
async fn self_test(backend: State<'_, Backend>) -> Result<SelfTestResult, ApiError> {
    backend.api()?.self_test().await
}

#[tauri::command]
fn notification_log(backend: State<'_, Backend>) -> Vec<LogEntry> {
    backend.notifications().entries()
}

#[tauri::command]
fn startup_error(backend: State<'_, Backend>) -> Option<String> {
    backend.startup_error().map(str::to_string)
}
