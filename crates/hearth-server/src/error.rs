//! The one error type every handler returns; it renders as Ollama's `{"error": "..."}` or as an
//! OpenAI error object depending on which API the request came through.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which API family shapes the error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `{"error": "message"}`
    Ollama,
    /// `{"error": {"message", "type", "param", "code"}}`
    OpenAi,
}

/// An HTTP error with a status code and a message meant for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message naming the offending field or model.
    pub message: String,
    /// Body shape.
    pub flavor: Flavor,
}

impl ApiError {
    /// Any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            flavor: Flavor::Ollama,
        }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 404 for a model that is not in the store (Ollama's wording).
    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("model \"{model}\" not found, try pulling it first"),
        )
    }
    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    /// 503 (queue full, shutting down).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
    /// Render with the OpenAI body shape.
    #[must_use]
    pub fn openai(mut self) -> Self {
        self.flavor = Flavor::OpenAi;
        self
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

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.flavor {
            Flavor::Ollama => json!({ "error": self.message }),
            Flavor::OpenAi => {
                let code = match self.status.as_u16() {
                    404 => json!("model_not_found"),
                    _ => serde_json::Value::Null,
                };
                json!({ "error": {
                    "message": self.message,
                    "type": self.openai_type(),
                    "param": null,
                    "code": code,
                }})
            }
        };
        (self.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shapes() {
        let r = ApiError::model_not_found("x").into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = ApiError::bad_request("bad").openai().into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
