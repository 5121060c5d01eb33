//! Generates the Tauri context (config, icons, capabilities) and the permissions of the app's own
//! commands (`allow-status`, ... used by `capabilities/default.json`).

fn main() {
    let commands = &[
        "status",
        "list_deliveries",
        "get_delivery",
        "reverify_delivery",
        "list_shipments",
        "get_shipment",
        "desk",
        "archive_shipment",
        "remove_test_data",
        "get_settings",
        "update_settings",
        "send_test_delivery",
        "replay_delivery",
        "delivery_forwards",
        "reverify_failed",
        "tunnel_status",
        "restart_tunnel",
        "self_test",
        "notification_log",
        "startup_error",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri-build failed");
}
