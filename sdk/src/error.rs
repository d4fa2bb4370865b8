//! The error a driver call returns, mirroring the WIT `error` variant.

/// Why a driver call failed.
///
/// Each variant maps one-to-one onto the WIT `error` variant; the host uses
/// the variant to decide whether a retry can help, so pick it carefully:
///
/// | Variant | Meaning | Retry helps? |
/// |---|---|---|
/// | [`InvalidInput`](Error::InvalidInput) | bad params or driver inputs | no |
/// | [`Denied`](Error::Denied) | a capability was refused (no grant) | no |
/// | [`Unavailable`](Error::Unavailable) | a backend cannot be reached / is not ready | yes |
/// | [`Conflict`](Error::Conflict) | the backend holds something in the way | no |
/// | [`Failed`](Error::Failed) | anything else | maybe |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request is wrong; retrying the same request fails the same way.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A capability was refused by the host.
    #[error("denied: {0}")]
    Denied(String),
    /// A backend could not be reached or is not ready yet.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The backend holds something that conflicts with the request.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else.
    #[error("failed: {0}")]
    Failed(String),
}

impl Error {
    /// An [`Error::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// An [`Error::Denied`].
    pub fn denied(message: impl Into<String>) -> Self {
        Self::Denied(message.into())
    }

    /// An [`Error::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }

    /// An [`Error::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    /// An [`Error::Failed`].
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The WIT case name: `invalid-input`, `denied`, `unavailable`,
    /// `conflict` or `failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid-input",
            Self::Denied(_) => "denied",
            Self::Unavailable(_) => "unavailable",
            Self::Conflict(_) => "conflict",
            Self::Failed(_) => "failed",
        }
    }

    /// The message without the kind prefix.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidInput(m)
            | Self::Denied(m)
            | Self::Unavailable(m)
            | Self::Conflict(m)
            | Self::Failed(m) => m,
        }
    }

    /// Builds the variant named by a WIT case name (see [`Error::kind`]);
    /// `None` for an unknown name.
    pub fn from_kind(kind: &str, message: impl Into<String>) -> Option<Self> {
        let message = message.into();
        Some(match kind {
            "invalid-input" => Self::InvalidInput(message),
            "denied" => Self::Denied(message),
            "unavailable" => Self::Unavailable(message),
            "conflict" => Self::Conflict(message),
            "failed" => Self::Failed(message),
            _ => return None,
        })
    }

    /// Prefixes the message with `context: `, keeping the variant.
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        let wrap = |m: String| format!("{context}: {m}");
        match self {
            Self::InvalidInput(m) => Self::InvalidInput(wrap(m)),
            Self::Denied(m) => Self::Denied(wrap(m)),
            Self::Unavailable(m) => Self::Unavailable(wrap(m)),
            Self::Conflict(m) => Self::Conflict(wrap(m)),
            Self::Failed(m) => Self::Failed(wrap(m)),
        }
    }
}

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_round_trips() {
        for kind in [
            "invalid-input",
            "denied",
            "unavailable",
            "conflict",
            "failed",
        ] {
            let e = Error::from_kind(kind, "m");
            assert_eq!(e.as_ref().map(Error::kind), Some(kind));
            assert_eq!(e.as_ref().map(Error::message), Some("m"));
        }
        assert_eq!(Error::from_kind("nope", "m"), None);
    }

    #[test]
    fn display_and_context() {
        let e = Error::conflict("name taken").context("create database x");
        assert_eq!(e.to_string(), "conflict: create database x: name taken");
    }
}
