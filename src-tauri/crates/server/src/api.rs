//! [`Api`]: the one service behind both transports. Each method is an inspector endpoint
//! (`docs/api.md`); the HTTP inspector and the desktop's Tauri commands are thin wrappers over it.

use std::sync::Arc;

use shipwatch_api::*;
use tokio::sync::broadcast;

pub(crate) use crate::engine_impl::ApiInner;

/// Cheap to clone; all clones talk to the same engine.
#[derive(Clone)]
pub struct Api {
    pub(crate) inner: Arc<ApiInner>,
}

impl Api {
    pub async fn status(&self) -> Result<Status, ApiError> {
        self.inner.status().await
    }
    pub async fn list_deliveries(&self, query: DeliveryQuery) -> Result<Page<DeliveryItem>, ApiError> {
        self.inner.list_deliveries(query).await
    }
    pub async fn get_delivery(&self, id: i64) -> Result<DeliveryDetail, ApiError> {
        self.inner.get_delivery(id).await
    }
    pub async fn reverify_delivery(
        &self,
        id: i64,
        request: ReverifyRequest,
    ) -> Result<SignatureReport, ApiError> {
        self.inner.reverify_delivery(id, request).await
    }
    pub async fn list_shipments(&self, query: ShipmentQuery) -> Result<ShipmentList, ApiError> {
        self.inner.list_shipments(query).await
    }
    pub async fn get_shipment(&self, id: i64) -> Result<ShipmentDetail, ApiError> {
        self.inner.get_shipment(id).await
    }
    pub async fn get_settings(&self) -> Result<SettingsView, ApiError> {
        self.inner.get_settings().await
    }
    pub async fn update_settings(&self, update: SettingsUpdate) -> Result<SettingsView, ApiError> {
        self.inner.update_settings(update).await
    }
    pub async fn send_test_delivery(
        &self,
        request: TestDeliveryRequest,
    ) -> Result<TestDeliveryResult, ApiError> {
        self.inner.send_test_delivery(request).await
    }
    pub async fn replay_delivery(&self, id: i64, request: ReplayRequest) -> Result<ReplayResult, ApiError> {
        self.inner.replay_delivery(id, request).await
    }
    pub async fn delivery_forwards(&self, id: i64) -> Result<Vec<ForwardAttempt>, ApiError> {
        self.inner.delivery_forwards(id).await
    }
    pub async fn reverify_failed(&self) -> Result<ReverifyFailedResult, ApiError> {
        self.inner.reverify_failed().await
    }
    pub async fn tunnel_status(&self) -> Result<TunnelStatus, ApiError> {
        Ok(self.inner.tunnel_status().await)
    }
    /// Restarts the supervised tunnel command (a new quick tunnel gets a new URL).
    pub async fn restart_tunnel(&self) -> Result<TunnelStatus, ApiError> {
        crate::background::restart_tunnel(&self.inner).await
    }
    pub async fn self_test(&self) -> Result<SelfTestResult, ApiError> {
        self.inner.self_test().await
    }
    /// `GET /api/desk`: the merchant's home page.
    pub async fn desk(&self) -> Result<Desk, ApiError> {
        self.inner.desk().await
    }
    /// `POST /api/shipments/{id}/archive`.
    pub async fn archive_shipment(&self, id: i64, request: ArchiveRequest) -> Result<ShipmentItem, ApiError> {
        self.inner.archive_shipment(id, request).await
    }
    /// `DELETE /api/test-data`.
    pub async fn remove_test_data(&self) -> Result<TestDataRemoved, ApiError> {
        self.inner.remove_test_data().await
    }
    /// Live events for the UI (SSE over HTTP, the `live` event over Tauri IPC).
    pub fn subscribe_live(&self) -> broadcast::Receiver<LiveEvent> {
        self.inner.live.subscribe()
    }
    /// The persisted settings with secrets (for the embedder: notifications, autostart, tunnel).
    pub fn settings(&self) -> crate::config::Settings {
        self.inner.settings()
    }
}
