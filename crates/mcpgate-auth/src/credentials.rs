//! Reading the credential a request presents.

use crate::authenticate::{AuthError, RequestFacts};

/// The credential a request presents: `Authorization: Bearer …` or
/// `X-API-Key`. Query-string credentials are never read.
/// A header sent twice is refused: a proxy in front might read the other one.
pub(crate) fn presented_credential(request: &RequestFacts<'_>) -> Result<String, AuthError> {
    for name in [http::header::AUTHORIZATION.as_str(), "x-api-key"] {
        if request.headers.get_all(name).iter().count() > 1 {
            return Err(AuthError::Invalid(format!(
                "the {name} header was sent more than once"
            )));
        }
    }
    let bearer = match request.headers.get(http::header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| AuthError::Invalid("unreadable Authorization header".to_owned()))?;
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(AuthError::Invalid(
                    "only Bearer credentials are accepted".to_owned(),
                ));
            }
            Some(token.trim().to_owned())
        }
    };
    let header = match request.headers.get("x-api-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| AuthError::Invalid("unreadable X-API-Key header".to_owned()))?
                .trim()
                .to_owned(),
        ),
    };
    match (bearer, header) {
        (None, None) => Err(AuthError::Missing),
        (Some(key), None) | (None, Some(key)) => Ok(key),
        (Some(a), Some(b)) if a == b => Ok(a),
        (Some(_), Some(_)) => Err(AuthError::Invalid(
            "two different credentials presented".to_owned(),
        )),
    }
}
