//! One error type for the web layer, mapped to HTTP with a JSON body `{code, message, message_en,
//! field?, errors?}`. Bad input is 400/422 naming the field; nothing is ever a bare 500 for input.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onewindow_core::{FieldError, Invalid};
use onewindow_store::StoreError;
use serde::Serialize;

#[derive(Debug)]
pub enum ApiError {
    /// 400: the request itself is malformed (bad JSON, wrong types, unknown parameters).
    BadRequest {
        field: Option<String>,
        zh: String,
        en: String,
    },
    /// 422: well-formed but invalid; every field error.
    Invalid(Invalid),
    /// 422: an import with bad rows.
    Rows(Vec<onewindow_core::sheet::RowError>),
    Unauthorized,
    Forbidden {
        zh: String,
        en: String,
    },
    NotFound {
        what: String,
    },
    Conflict {
        field: Option<String>,
        zh: String,
        en: String,
    },
    PayloadTooLarge,
    /// 429 with Retry-After.
    TooMany {
        field: String,
        zh: String,
        en: String,
        retry_after: i64,
    },
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    message_en: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<serde_json::Value>,
}

impl ApiError {
    pub fn bad(field: Option<&str>, zh: impl Into<String>, en: impl Into<String>) -> Self {
        ApiError::BadRequest { field: field.map(str::to_string), zh: zh.into(), en: en.into() }
    }
    pub fn forbidden() -> Self {
        ApiError::Forbidden { zh: "无权执行此操作".into(), en: "you may not do this".into() }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound { what: what.into() }
    }
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) | ApiError::Rows(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    /// The message a page shows, in the page's language.
    pub fn message(&self, en: bool) -> String {
        let b = self.body();
        if en {
            b.message_en
        } else {
            b.message
        }
    }

    fn body(&self) -> Body<'static> {
        match self {
            ApiError::BadRequest { field, zh, en } => Body {
                code: "bad_request",
                message: zh.clone(),
                message_en: en.clone(),
                field: field.clone(),
                errors: None,
            },
            ApiError::Invalid(inv) => {
                let first = inv.0.first();
                Body {
                    code: "invalid",
                    message: first.map(|e| e.zh.clone()).unwrap_or_else(|| "输入无效".into()),
                    message_en: first.map(|e| e.en.clone()).unwrap_or_else(|| "invalid input".into()),
                    field: first.map(|e| e.field.clone()),
                    errors: serde_json::to_value(&inv.0).ok(),
                }
            }
            ApiError::Rows(rows) => Body {
                code: "invalid_rows",
                message: format!("导入失败：{}处错误，未写入任何数据", rows.len()),
                message_en: format!("import refused: {} errors, nothing was written", rows.len()),
                field: rows.first().and_then(|r| r.column.clone()),
                errors: serde_json::to_value(rows).ok(),
            },
            ApiError::Unauthorized => Body {
                code: "unauthorized",
                message: "请先登录".into(),
                message_en: "please log in".into(),
                field: None,
                errors: None,
            },
            ApiError::Forbidden { zh, en } => {
                Body { code: "forbidden", message: zh.clone(), message_en: en.clone(), field: None, errors: None }
            }
            ApiError::NotFound { what } => Body {
                code: "not_found",
                message: format!("未找到：{what}"),
                message_en: format!("not found: {what}"),
                field: None,
                errors: None,
            },
            ApiError::Conflict { field, zh, en } => Body {
                code: "conflict",
                message: zh.clone(),
                message_en: en.clone(),
                field: field.clone(),
                errors: None,
            },
            ApiError::PayloadTooLarge => Body {
                code: "payload_too_large",
                message: "请求内容过大".into(),
                message_en: "the request body is too large".into(),
                field: None,
                errors: None,
            },
            ApiError::TooMany { field, zh, en, .. } => Body {
                code: "too_many_requests",
                message: zh.clone(),
                message_en: en.clone(),
                field: Some(field.clone()),
                errors: None,
            },
            ApiError::Internal(_) => Body {
                code: "internal",
                message: "服务器内部错误，请稍后重试".into(),
                message_en: "internal error, please retry later".into(),
                field: None,
                errors: None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = %e, "internal error");
        }
        let retry = if let ApiError::TooMany { retry_after, .. } = &self { Some(*retry_after) } else { None };
        let mut r = (self.status(), axum::Json(self.body())).into_response();
        if let Some(secs) = retry {
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.max(1).to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what } => ApiError::NotFound { what },
            StoreError::Conflict { field, zh, en } => ApiError::Conflict { field: Some(field), zh, en },
            StoreError::Invalid(inv) => ApiError::Invalid(inv),
            StoreError::Rows(rows) => ApiError::Rows(rows),
            StoreError::Forbidden { zh, en } => ApiError::Forbidden { zh, en },
            StoreError::TooMany { field, zh, en, retry_after } => ApiError::TooMany { field, zh, en, retry_after },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(Invalid::one(e))
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                let msg = e.body_text();
                ApiError::bad(
                    None,
                    format!("JSON 字段类型或取值错误：{msg}"),
                    format!("a JSON field has the wrong type or value: {msg}"),
                )
            }
            JsonRejection::JsonSyntaxError(e) => {
                let msg = e.body_text();
                ApiError::bad(None, format!("JSON 格式错误：{msg}"), format!("malformed JSON: {msg}"))
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::bad(
                None,
                "请求应为 JSON（Content-Type: application/json）",
                "the body must be JSON (Content-Type: application/json)",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::bad(
                None,
                format!("请求无效：{}", other.body_text()),
                format!("bad request: {}", other.body_text()),
            ),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        let msg = r.body_text();
        ApiError::bad(None, format!("查询参数错误：{msg}"), format!("bad query parameter: {msg}"))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        let msg = r.body_text();
        ApiError::bad(None, format!("路径参数错误：{msg}"), format!("bad path parameter: {msg}"))
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(r: axum::extract::rejection::BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad(None, "无法读取请求内容", format!("cannot read the body: {}", r.body_text()))
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// JSON in and out, with rejections answered as [`ApiError`].
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
