//! HTTP handlers: turn requests into inventory calls and results into JSON.
//!
//! Every failure is a JSON object `{"error": "..."}` with a fitting status;
//! malformed input is a 400, never a panic or axum's plain-text rejection.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::OPENAPI_YAML;
use crate::store::{Inventory, Item, NewItem, StoreError};

/// The inventory shared by every request.
pub(crate) type SharedInventory = Arc<Mutex<Inventory>>;

/// Bounds and default of `listItems`' `limit` parameter.
const LIMIT_RANGE: std::ops::RangeInclusive<u64> = 1..=100;
const DEFAULT_LIMIT: u64 = 20;

/// An error response: a status and the text of `{"error": ...}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(id) => {
                ApiError::new(StatusCode::NOT_FOUND, format!("item {id} not found"))
            }
            StoreError::InvalidItem(why) => ApiError::bad_request(format!("invalid item: {why}")),
            StoreError::NegativeStock => {
                ApiError::new(StatusCode::CONFLICT, "stock cannot go below zero")
            }
            StoreError::StockOverflow => {
                ApiError::bad_request("invalid adjustment: delta makes the quantity too large")
            }
        }
    }
}

/// The query of `listItems`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    tag: Option<String>,
    limit: Option<u64>,
}

/// The body of `adjustStock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StockAdjustment {
    delta: i64,
}

/// `GET /items` — `listItems`.
pub(crate) async fn list_items(
    State(inventory): State<SharedInventory>,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = query.map_err(|rejection| {
        ApiError::bad_request(format!("invalid query: {}", rejection.body_text()))
    })?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !LIMIT_RANGE.contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "invalid query: limit must be between {} and {}, got {limit}",
            LIMIT_RANGE.start(),
            LIMIT_RANGE.end()
        )));
    }
    // `limit` is at most 100, so the conversion cannot fail.
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let items = lock(&inventory).list(params.tag.as_deref(), limit);
    Ok(Json(json!({ "items": items })))
}

/// `GET /items/{itemId}` — `getItem`.
pub(crate) async fn get_item(
    State(inventory): State<SharedInventory>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<Item>, ApiError> {
    let id = item_id(id)?;
    Ok(Json(lock(&inventory).get(id)?))
}

/// `POST /items` — `createItem`.
pub(crate) async fn create_item(
    State(inventory): State<SharedInventory>,
    body: Bytes,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let new: NewItem = json_body(&body)?;
    let item = lock(&inventory).create(new)?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// `PATCH /items/{itemId}/stock` — `adjustStock`.
pub(crate) async fn adjust_stock(
    State(inventory): State<SharedInventory>,
    id: Result<Path<u64>, PathRejection>,
    body: Bytes,
) -> Result<Json<Item>, ApiError> {
    let id = item_id(id)?;
    let StockAdjustment { delta } = json_body(&body)?;
    Ok(Json(lock(&inventory).adjust_stock(id, delta)?))
}

/// `DELETE /items/{itemId}` — `deleteItem`.
pub(crate) async fn delete_item(
    State(inventory): State<SharedInventory>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = item_id(id)?;
    lock(&inventory).delete(id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /health` — `health`.
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /openapi.yaml` — the document describing all of the above.
pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}

/// Any path the API does not have.
pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

fn item_id(id: Result<Path<u64>, PathRejection>) -> Result<u64, ApiError> {
    id.map(|Path(id)| id).map_err(|rejection| {
        ApiError::bad_request(format!(
            "invalid itemId: {} (expected a positive integer)",
            rejection.body_text()
        ))
    })
}

/// Parse a JSON object body ourselves rather than with `Json<T>`, so every
/// kind of bad body (syntax, wrong type, missing field, no content type) is a
/// 400 with a JSON error, as the OpenAPI document promises.
///
/// The body must be an object: serde's derived `Deserialize` would otherwise
/// also accept an array of the fields in declaration order.
fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid =
        |error: serde_json::Error| ApiError::bad_request(format!("invalid JSON body: {error}"));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid JSON body: expected a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(invalid)
}

/// Lock the inventory. No inventory method panics part-way through a change,
/// so even a poisoned lock guards consistent data and is safe to reuse.
fn lock(inventory: &SharedInventory) -> MutexGuard<'_, Inventory> {
    inventory.lock().unwrap_or_else(PoisonError::into_inner)
}
