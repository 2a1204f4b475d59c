//! The backend's own credential check: the `X-Demo-Key` header.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::routes::ApiError;

/// The header that carries the backend credential.
pub(crate) const KEY_HEADER: &str = "x-demo-key";

/// Middleware: reject the request with 401 unless it carries the right key.
pub(crate) async fn require_key(
    State(expected): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(KEY_HEADER)
        .map(|value| value.as_bytes());
    match presented {
        Some(presented) if constant_time_eq(presented, expected.as_bytes()) => {
            next.run(request).await
        }
        _ => ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong X-Demo-Key").into_response(),
    }
}

/// Compare two byte strings without an early exit on the first difference,
/// so response timing does not reveal how much of a guessed key was right.
/// (The length still shows; it is not a secret worth protecting here.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_keys() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(constant_time_eq(b"", b""));
    }
}
