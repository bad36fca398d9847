//! Uploaded materials: the type is decided by the content, never by the name or the browser's claim,
//! and a file that is empty, too large or cut short is refused before anything is stored.

use crate::error::FieldError;
use sha2::{Digest, Sha256};

/// Largest file a citizen may upload (a phone photo of a document fits easily).
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Jpeg,
    Png,
}

impl FileKind {
    pub fn mime(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
    pub fn parse_mime(s: &str) -> Option<Self> {
        [Self::Pdf, Self::Jpeg, Self::Png].into_iter().find(|k| k.mime() == s)
    }
}

/// A checked upload: its kind and its content address (SHA-256 of the bytes, hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFile {
    pub kind: FileKind,
    pub sha256: String,
    pub size: usize,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_lower(&Sha256::digest(bytes))
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks a file's bytes: non-empty, within the limit, a PDF, JPEG or PNG by its content, and whole
/// (each format's end marker present). `field` names the form field in the error.
pub fn check_file(field: &str, bytes: &[u8]) -> Result<CheckedFile, FieldError> {
    let err = |zh: String, en: String| FieldError::new(field, zh, en);
    if bytes.is_empty() {
        return Err(err("文件是空的，请重新选择".into(), "the file is empty; choose it again".into()));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(err(
            format!("文件超过{}MB上限（{:.1}MB）", MAX_UPLOAD_BYTES >> 20, bytes.len() as f64 / 1048576.0),
            format!(
                "the file is over the {} MB limit ({:.1} MB)",
                MAX_UPLOAD_BYTES >> 20,
                bytes.len() as f64 / 1048576.0
            ),
        ));
    }
    let kind = if bytes.starts_with(b"%PDF-") {
        FileKind::Pdf
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        FileKind::Jpeg
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        FileKind::Png
    } else {
        return Err(err(
            "只能上传 PDF、JPEG 或 PNG 文件（按文件内容判断）".into(),
            "only PDF, JPEG or PNG files are accepted (judged by their content)".into(),
        ));
    };
    let whole = match kind {
        // The last %%EOF sits within the final 1 KiB (trailing whitespace or garbage is common).
        FileKind::Pdf => {
            let tail = &bytes[bytes.len().saturating_sub(1024)..];
            tail.windows(5).any(|w| w == b"%%EOF")
        }
        FileKind::Jpeg => {
            let end = bytes.iter().rposition(|b| *b != 0).map(|i| i + 1).unwrap_or(0);
            end >= 4 && bytes[..end].ends_with(&[0xFF, 0xD9])
        }
        // IEND is always the last chunk: length 0, type IEND, CRC AE 42 60 82.
        FileKind::Png => {
            bytes.len() >= 20 && bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82])
        }
    };
    if !whole {
        return Err(err(
            "文件不完整（可能上传中断），请重新上传".into(),
            "the file is incomplete (the upload may have been cut short); upload it again".into(),
        ));
    }
    Ok(CheckedFile { kind, sha256: sha256_hex(bytes), size: bytes.len() })
}

/// A file name as the citizen sees it again: the last path part, without control characters, short.
pub fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(100).collect();
    if clean.trim().is_empty() {
        "file".into()
    } else {
        clean.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const PNG_1X1: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1,
        8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0, 1, 0, 0, 5,
        0, 1, 0x0D, 0x0A, 0x2D, 0xB4, 0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];

    #[test]
    fn kinds_come_from_content() {
        assert_eq!(check_file("f", PNG_1X1).map(|c| c.kind), Ok(FileKind::Png));
        assert_eq!(check_file("f", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n").map(|c| c.kind), Ok(FileKind::Pdf));
        assert_eq!(check_file("f", &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 0xFF, 0xD9]).map(|c| c.kind), Ok(FileKind::Jpeg));
        let exe = check_file("materials.x", b"MZ\x90\x00 pretending to be a pdf").unwrap_err();
        assert_eq!(exe.field, "materials.x");
        assert!(exe.zh.contains("PDF"));
    }

    #[test]
    fn empty_truncated_and_oversize_are_refused() {
        assert!(check_file("f", b"").unwrap_err().zh.contains("空"));
        assert!(check_file("f", &PNG_1X1[..PNG_1X1.len() - 5]).unwrap_err().zh.contains("不完整"));
        assert!(check_file("f", b"%PDF-1.4\n1 0 obj\n<<>>\n").unwrap_err().zh.contains("不完整"));
        let mut big = b"%PDF-1.4\n".to_vec();
        big.resize(MAX_UPLOAD_BYTES + 1, b' ');
        assert!(check_file("f", &big).unwrap_err().zh.contains("上限"));
    }

    #[test]
    fn the_address_is_the_sha256_of_the_bytes() {
        let c = check_file("f", PNG_1X1).unwrap();
        assert_eq!(c.sha256.len(), 64);
        assert_eq!(c.sha256, sha256_hex(PNG_1X1));
        assert_eq!(clean_file_name("C:\\Users\\张三\\户口本.pdf"), "户口本.pdf");
        assert_eq!(clean_file_name("../../\u{7}"), "file");
    }
}
