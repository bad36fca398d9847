use onewindow_core::sheet::RowError;
use onewindow_core::Invalid;

/// Why a store operation did not happen. Nothing was written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// From the store's own SQLite connections (native.rs).
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("not found: {what}")]
    NotFound { what: String },
    /// A state conflict: a duplicate name, a row that changed meanwhile.
    #[error("{field}: {zh} / {en}")]
    Conflict { field: String, zh: String, en: String },
    #[error("invalid input: {0}")]
    Invalid(Invalid),
    /// The flow does not let this person do this.
    #[error("forbidden: {zh} / {en}")]
    Forbidden { zh: String, en: String },
    /// An import with bad rows, every one of them.
    #[error("{} bad rows", .0.len())]
    Rows(Vec<RowError>),
    /// A rate limit: try again after `retry_after` seconds.
    #[error("{field}: too many requests / {en}")]
    TooMany { field: String, zh: String, en: String, retry_after: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }
    pub fn conflict(field: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> Self {
        StoreError::Conflict { field: field.into(), zh: zh.into(), en: en.into() }
    }
}

impl From<Invalid> for StoreError {
    fn from(v: Invalid) -> Self {
        StoreError::Invalid(v)
    }
}

impl From<onewindow_core::FieldError> for StoreError {
    fn from(v: onewindow_core::FieldError) -> Self {
        StoreError::Invalid(Invalid::one(v))
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
