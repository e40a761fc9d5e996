//! The error type returned by actor methods and by calls to other actors.

use std::fmt;

use crate::bindings::wapr::actor::types as wit;

/// What went wrong, mirroring the ABI's `error-kind`.
///
/// Callers can react to the kind; the host maps it to a status code for
/// clients (for example `method-not-found` → 404, `bad-request` → 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The actor has no method with this name.
    MethodNotFound,
    /// The payload could not be decoded or was invalid for the method.
    BadRequest,
    /// The method ran and reported a failure of its own.
    Application,
    /// The call would wait on an actor that is already in the call chain.
    CallCycle,
    /// The target actor type is not hosted anywhere.
    NotFound,
    /// The target could not be reached or did not answer in time.
    Unavailable,
    /// The target failed in a way the caller cannot fix (trap, limits, host error).
    Internal,
}

impl ErrorKind {
    /// The kind's name as spelled in the WIT file (for example `bad-request`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MethodNotFound => "method-not-found",
            Self::BadRequest => "bad-request",
            Self::Application => "application",
            Self::CallCycle => "call-cycle",
            Self::NotFound => "not-found",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error returned by an actor method, or by a call to another actor:
/// a [`kind`](ErrorKind) plus a human-readable message that reaches the
/// original caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// Creates an error of any kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The method ran and failed for a reason of its own (the usual choice).
    pub fn application(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Application, message)
    }

    /// The request was invalid for the method (bad payload, failed precondition
    /// on the input).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// The actor has no method of the requested name.
    pub fn method_not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::MethodNotFound, message)
    }

    /// Something failed that the caller cannot fix (for example stored state
    /// that no longer decodes).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A resource the method needed does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A dependency could not be reached or did not answer in time.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// The category of the failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Splits the error into its kind and message.
    pub fn into_parts(self) -> (ErrorKind, String) {
        (self.kind, self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

impl From<wit::ErrorKind> for ErrorKind {
    fn from(kind: wit::ErrorKind) -> Self {
        match kind {
            wit::ErrorKind::MethodNotFound => Self::MethodNotFound,
            wit::ErrorKind::BadRequest => Self::BadRequest,
            wit::ErrorKind::Application => Self::Application,
            wit::ErrorKind::CallCycle => Self::CallCycle,
            wit::ErrorKind::NotFound => Self::NotFound,
            wit::ErrorKind::Unavailable => Self::Unavailable,
            wit::ErrorKind::Internal => Self::Internal,
        }
    }
}

impl From<ErrorKind> for wit::ErrorKind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::MethodNotFound => Self::MethodNotFound,
            ErrorKind::BadRequest => Self::BadRequest,
            ErrorKind::Application => Self::Application,
            ErrorKind::CallCycle => Self::CallCycle,
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::Unavailable => Self::Unavailable,
            ErrorKind::Internal => Self::Internal,
        }
    }
}

impl From<wit::Error> for Error {
    fn from(error: wit::Error) -> Self {
        Self::new(error.kind.into(), error.message)
    }
}

impl From<Error> for wit::Error {
    fn from(error: Error) -> Self {
        Self {
            kind: error.kind.into(),
            message: error.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_the_abi_type() {
        let kinds = [
            ErrorKind::MethodNotFound,
            ErrorKind::BadRequest,
            ErrorKind::Application,
            ErrorKind::CallCycle,
            ErrorKind::NotFound,
            ErrorKind::Unavailable,
            ErrorKind::Internal,
        ];
        for kind in kinds {
            let error = Error::new(kind, "m");
            let back = Error::from(wit::Error::from(error.clone()));
            assert_eq!(back, error);
        }
    }

    #[test]
    fn display_names_kind_and_message() {
        assert_eq!(
            Error::bad_request("no such item").to_string(),
            "bad-request: no such item"
        );
        assert_eq!(Error::application("x").kind(), ErrorKind::Application);
    }
}
