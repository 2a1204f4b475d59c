//! A log of what reached the backend, so end-to-end tests can check what the
//! gateway forwarded (and, as important, what it did not: the caller's token).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::routes::ApiError;

/// How many requests the recorder keeps; older ones are dropped first.
const CAPACITY: usize = 1_000;

/// Largest request body the demo API accepts (and records), in bytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One request as the demo API received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `"GET"`.
    pub method: String,
    /// The request path without the query string, e.g. `"/items/1"`.
    pub path: String,
    /// The raw query string without the leading `?`, if there was one.
    pub query: Option<String>,
    /// Every header in the order received; names are lower-case, values
    /// that are not valid UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The request body, converted lossily to UTF-8 (empty if there was none).
    pub body: String,
}

/// The last [`CAPACITY`] requests, shared by every clone of the API.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder {
    requests: Arc<Mutex<VecDeque<RecordedRequest>>>,
}

impl Recorder {
    pub(crate) fn push(&self, request: RecordedRequest) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if requests.len() == CAPACITY {
            requests.pop_front();
        }
        requests.push_back(request);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        requests.iter().cloned().collect()
    }
}

/// Middleware: buffer the body, record the request, then pass it on
/// unchanged. Runs before authentication so rejected requests are recorded too.
pub(crate) async fn record(
    State(recorder): State<Recorder>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {MAX_BODY_BYTES} bytes or could not be read"),
        )
        .into_response();
    };
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    tracing::debug!(method = %recorded.method, path = %recorded.path, "demo API request");
    recorder.push(recorded);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: usize) -> RecordedRequest {
        RecordedRequest {
            method: "GET".to_owned(),
            path: format!("/items/{n}"),
            query: None,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    #[test]
    fn keeps_only_the_most_recent_requests() {
        let recorder = Recorder::default();
        for n in 0..CAPACITY + 5 {
            recorder.push(request(n));
        }
        let kept = recorder.snapshot();
        assert_eq!(kept.len(), CAPACITY);
        assert_eq!(kept[0].path, "/items/5");
        assert_eq!(kept[CAPACITY - 1].path, format!("/items/{}", CAPACITY + 4));
    }
}
