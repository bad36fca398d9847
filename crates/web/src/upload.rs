//! Reading a multipart form (an application with its files, a correction): text fields and files,
//! with the request-size refusal turned into a clear error.

use crate::error::ApiError;
use axum::extract::Multipart;
use onewindow_core::upload::MAX_UPLOAD_BYTES;

/// The largest request carrying files: a few files at the per-file limit.
pub const UPLOAD_BODY_LIMIT: usize = 3 * MAX_UPLOAD_BYTES;

#[derive(Debug, Default)]
pub struct FormParts {
    pub fields: Vec<(String, String)>,
    /// (field name, file name, bytes). A file input left empty (no file name, no bytes) is skipped.
    pub files: Vec<(String, String, Vec<u8>)>,
}

impl FormParts {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn too_large() -> ApiError {
    ApiError::bad(
        Some("files"),
        format!(
            "上传内容过大：单个文件不超过{}MB，一次合计不超过{}MB",
            MAX_UPLOAD_BYTES >> 20,
            UPLOAD_BODY_LIMIT >> 20
        ),
        format!(
            "the upload is too large: at most {} MB a file, {} MB in all",
            MAX_UPLOAD_BYTES >> 20,
            UPLOAD_BODY_LIMIT >> 20
        ),
    )
}

pub async fn read_form(mut mp: Multipart) -> Result<FormParts, ApiError> {
    let mut out = FormParts::default();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad(
                    Some("files"),
                    format!("上传内容不完整：{}", e.body_text()),
                    format!("the upload is malformed: {}", e.body_text()),
                ))
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad(
                    Some(&name),
                    format!("上传中断：{}", e.body_text()),
                    format!("the upload was cut short: {}", e.body_text()),
                ))
            }
        };
        match file_name {
            Some(f) if f.is_empty() && bytes.is_empty() => {}
            Some(f) => out.files.push((name, f, bytes.to_vec())),
            None => {
                if out.fields.len() > 200 {
                    return Err(ApiError::bad(None, "表单字段过多", "too many form fields"));
                }
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    ApiError::bad(Some(&name), "表单内容不是有效的文字", "a form field is not valid text")
                })?;
                out.fields.push((name, text));
            }
        }
    }
    Ok(out)
}

/// A multipart form as an extractor: a body that is not multipart is a JSON 400 like every other.
pub struct Upload(pub FormParts);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Upload {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let mp = Multipart::from_request(req, state).await.map_err(|e| {
            ApiError::bad(
                None,
                format!("请以 multipart/form-data 提交：{}", e.body_text()),
                format!("send multipart/form-data: {}", e.body_text()),
            )
        })?;
        Ok(Upload(read_form(mp).await?))
    }
}

/// An application's form as the store takes it: `applicant_name`, `applicant_id_number`,
/// `answers.<key>`, `delivery.method|recipient|address`, and files as `file.<n>` (the item's n-th
/// material) or `files.<material name>`.
pub fn application_input(
    parts: &FormParts,
    item: &onewindow_core::catalogue::Item,
) -> Result<(onewindow_store::ApplicationInput, Vec<onewindow_store::NewUpload>), ApiError> {
    let mut input = onewindow_store::ApplicationInput {
        applicant_name: parts.get("applicant_name").unwrap_or_default().to_string(),
        applicant_id_number: parts.get("applicant_id_number").unwrap_or_default().to_string(),
        ..Default::default()
    };
    for (k, v) in &parts.fields {
        if let Some(key) = k.strip_prefix("answers.") {
            input.answers.insert(key.to_string(), serde_json::Value::String(v.clone()));
        }
    }
    if let Some(method) = parts.get("delivery.method").filter(|m| !m.is_empty()) {
        input.delivery = Some(onewindow_store::DeliveryChoice {
            method: method.to_string(),
            recipient: parts.get("delivery.recipient").unwrap_or_default().to_string(),
            address: parts.get("delivery.address").unwrap_or_default().to_string(),
        });
    }
    let uploads = material_files(parts, &item.materials.iter().map(|m| m.name.clone()).collect::<Vec<_>>())?;
    Ok((input, uploads))
}

/// The files of a form, each with the material it is for.
pub fn material_files(parts: &FormParts, materials: &[String]) -> Result<Vec<onewindow_store::NewUpload>, ApiError> {
    let mut out = Vec::new();
    for (field, file_name, bytes) in &parts.files {
        let material = if let Some(n) = field.strip_prefix("file.") {
            n.parse::<usize>().ok().and_then(|i| materials.get(i)).cloned()
        } else {
            field.strip_prefix("files.").map(str::to_string)
        };
        let material = material.ok_or_else(|| {
            ApiError::bad(
                Some(field),
                format!("文件字段“{field}”不对应任何材料"),
                format!("file field \"{field}\" names no material"),
            )
        })?;
        out.push(onewindow_store::NewUpload { material, file_name: file_name.clone(), bytes: bytes.clone() });
    }
    Ok(out)
}
