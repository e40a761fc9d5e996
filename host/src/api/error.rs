//! Errors as daprd returns them: a status plus
//! `{"errorCode": "ERR_…", "message": "…"}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{CallError, ErrorCode};

/// An error on its way out of the HTTP API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "errorCode")]
    error_code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with an explicit status and Dapr code.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `ERR_MALFORMED_REQUEST`.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedRequest,
            message,
        )
    }
}

impl ApiError {
    /// The body daprd sends with the error: `{"errorCode","message"}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            error_code: self.code.as_str(),
            message: &self.message,
        })
        .unwrap_or_default()
    }

    /// The HTTP status, the Dapr code and the message.
    pub fn parts(self) -> (u16, ErrorCode, String) {
        (self.status.as_u16(), self.code, self.message)
    }
}

/// The gRPC code daprd's API gives for an error it would answer over HTTP
/// with `http_status` and `error_code` (dapr-actors-next.md §3.1): by the
/// Dapr code where daprd has a rule for it, else by the HTTP status.
pub fn grpc_code(http_status: u16, error_code: &str) -> tonic::Code {
    use tonic::Code;
    match error_code {
        "ERR_ACTOR_REMINDER_NON_HOSTED" | "ERR_ACTOR_TYPE_RESERVED" => {
            return Code::PermissionDenied;
        }
        "ERR_ACTOR_NO_PLACEMENT" | "ERR_ACTOR_RUNTIME_CLOSED" => return Code::Unavailable,
        "ERR_ACTOR_NO_ADDRESS" => return Code::FailedPrecondition,
        "ERR_ACTOR_INSTANCE_MISSING" => return Code::Internal,
        "ERR_MALFORMED_REQUEST" | "ERR_BAD_REQUEST" => return Code::InvalidArgument,
        "ERR_NOT_SUPPORTED_STATE_OPERATION" => return Code::Unimplemented,
        code if code.ends_with("_NOT_FOUND") => return Code::NotFound,
        code if code.ends_with("_ALREADY_EXISTS") => return Code::AlreadyExists,
        _ => {}
    }
    match http_status {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        408 | 504 => Code::DeadlineExceeded,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        _ => Code::Internal,
    }
}

impl From<CallError> for ApiError {
    fn from(err: CallError) -> Self {
        let status =
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, err.dapr_code(), err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error_code: self.code.as_str(),
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
