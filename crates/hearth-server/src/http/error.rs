//! The one error type every handler returns. Its body shape is chosen once per router
//! ([`shape`]): Ollama's `{"error": "...", "code": "..."}` or OpenAI's
//! `{"error": {"message", "type", "param", "code"}}`. Internal details never reach a client:
//! [`ServiceError::public_message`] logs them under the request's span (which carries its id).
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::error::ServiceError;
use crate::wire::anthropic::ErrorBody;

/// Which API family shapes an error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `{"error": "message", "code": "..."}`
    Ollama,
    /// `{"error": {"message", "type", "param", "code"}}`
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}}`
    Anthropic,
}

impl Flavor {
    /// The flavor of a path, for answers given before routing (security checks, no route).
    pub(crate) fn of_path(path: &str) -> Flavor {
        if path.starts_with("/v1/messages") {
            Flavor::Anthropic
        } else if path.starts_with("/v1/") {
            Flavor::OpenAi
        } else {
            Flavor::Ollama
        }
    }
}

/// An HTTP error: a status, a message meant for the client and a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) code: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            code: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The body in `flavor`'s shape.
    pub(crate) fn render(&self, flavor: Flavor) -> Response {
        let body = match flavor {
            Flavor::Ollama => match self.code {
                Some(code) => json!({ "error": self.message, "code": code }),
                None => json!({ "error": self.message }),
            },
            Flavor::OpenAi => json!({ "error": {
                "message": self.message,
                "type": self.openai_type(),
                "param": null,
                "code": self.code,
            }}),
            Flavor::Anthropic => serde_json::to_value(ErrorBody::for_status(
                self.status.as_u16(),
                self.message.clone(),
            ))
            .unwrap_or_default(),
        };
        (self.status, axum::Json(body)).into_response()
    }

    /// The OpenAI `type` string for this status.
    fn openai_type(&self) -> &'static str {
        match self.status.as_u16() {
            400 | 404 | 413 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            429 | 503 => "rate_limit_error",
            _ => "server_error",
        }
    }
}

/// An error answer for `path` in that route's error shape (for middleware, which runs before
/// the route's own [`shape`] layer).
pub(crate) fn render_for_path(path: &str, status: StatusCode, msg: impl Into<String>) -> Response {
    ApiError::new(status, msg).render(Flavor::of_path(path))
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::Invalid(_)
            | ServiceError::NoFim(_)
            | ServiceError::PromptTooLong { .. } => StatusCode::BAD_REQUEST,
            ServiceError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::PromptTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::Refused(_) => StatusCode::FORBIDDEN,
            ServiceError::Busy(_) | ServiceError::Unloading => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ServiceError::DoesNotFit { .. }
            | ServiceError::StoreFailed(_)
            | ServiceError::Store { .. }
            | ServiceError::Engine { .. }
            | ServiceError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            message: e.public_message(),
            code: Some(e.code()),
        }
    }
}

impl IntoResponse for ApiError {
    /// A bare status carrying the error; the router's [`shape`] layer writes the body.
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// Middleware of a router: write the body of an [`ApiError`] response in `flavor`'s shape.
pub(crate) async fn shape(flavor: Flavor, req: Request, next: Next) -> Response {
    let r = next.run(req).await;
    match r.extensions().get::<ApiError>() {
        Some(e) => {
            let mut shaped = e.render(flavor);
            // Keep headers set on the way out (e.g. by the handler).
            for (k, v) in r.headers() {
                if !shaped.headers().contains_key(k) {
                    shaped.headers_mut().insert(k.clone(), v.clone());
                }
            }
            shaped
        }
        None => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_codes_and_no_internal_details() {
        let e = ApiError::from(ServiceError::PromptTooLong {
            tokens: 900,
            ctx: 512,
            model: "m".into(),
        });
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, Some("prompt_too_long"))
        );
        let e = ApiError::from(ServiceError::Engine {
            model: "m".into(),
            message: "/secret/path/model.gguf: failed".into(),
        });
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("/secret"), "{}", e.message);
        assert_eq!(
            ApiError::from(ServiceError::ModelNotFound("x".into())).status,
            StatusCode::NOT_FOUND
        );
    }
}
