//! Application forms declared by an item (申报表单): which facts a citizen fills in online, with their
//! types, whether they are required, patterns and choices; and the check of a filled-in form, every
//! error at once.

use crate::error::{FieldError, Invalid};
use crate::ids::{IdNumber, PhoneNumber};
use chrono::NaiveDate;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What kind of answer a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    /// Several lines.
    Textarea,
    Number,
    /// YYYY-MM-DD.
    Date,
    /// One of `choices`.
    Choice,
    /// A resident ID number (GB 11643), checked with its check digit.
    IdNumber,
    /// A mainland mobile number.
    Phone,
}

/// One field of an item's application form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// Key of the answer (`address`, `household_size`): letters, digits and `_`.
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub label_en: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// A regular expression the whole answer must match (text fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// What the pattern asks for, shown when an answer does not match.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Longest answer in characters (text fields); 200 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u32>,
}

const MAX_FIELDS: usize = 40;
const DEFAULT_MAX_LEN: u32 = 200;

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    // Anchored: the whole answer must match. The size limit keeps a hostile pattern cheap.
    regex::RegexBuilder::new(&format!("^(?:{pattern})$")).size_limit(1 << 16).build()
}

/// Checks an item's form declaration (from the item's JSON): keys unique and well-formed, patterns
/// compilable, choice fields with choices.
pub fn parse_fields(v: &Option<Value>) -> Result<Vec<FormField>, Invalid> {
    let Some(v) = v else { return Ok(Vec::new()) };
    // A spreadsheet cell or a form's textarea holds the list as JSON text.
    let parsed;
    let v = match v {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|e| {
                Invalid::one(FieldError::new(
                    "fields",
                    format!("申报表单应为 JSON 列表：{e}"),
                    format!("the form fields must be a JSON list: {e}"),
                ))
            })?;
            &parsed
        }
        v => v,
    };
    let fields: Vec<FormField> = serde_json::from_value(v.clone()).map_err(|e| {
        Invalid::one(FieldError::new(
            "fields",
            format!("申报表单定义格式无效：{e}"),
            format!("the form declaration is malformed: {e}"),
        ))
    })?;
    let mut errs = Invalid::default();
    if fields.len() > MAX_FIELDS {
        errs.push(FieldError::new(
            "fields",
            format!("表单字段不超过{MAX_FIELDS}个"),
            format!("at most {MAX_FIELDS} form fields"),
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        let at = format!("fields[{i}]");
        let key_ok = !f.key.is_empty()
            && f.key.len() <= 40
            && f.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && f.key.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if !key_ok {
            errs.push(FieldError::new(
                format!("{at}.key"),
                format!("字段键“{}”应以字母开头，只含字母、数字和下划线（至多40字符）", f.key),
                format!("field key \"{}\" must start with a letter and hold letters, digits and _ (≤ 40)", f.key),
            ));
        }
        if fields[..i].iter().any(|g| g.key == f.key) {
            errs.push(FieldError::new(
                format!("{at}.key"),
                format!("字段键“{}”重复", f.key),
                format!("field key \"{}\" is repeated", f.key),
            ));
        }
        if f.label.trim().is_empty() || f.label.chars().count() > 60 {
            errs.push(FieldError::new(
                format!("{at}.label"),
                "字段名称不能为空且不超过60字",
                "a field label is required (at most 60 characters)",
            ));
        }
        if f.kind == FieldKind::Choice && f.choices.is_empty() {
            errs.push(FieldError::new(format!("{at}.choices"), "选择字段必须列出选项", "a choice field needs choices"));
        }
        if let Some(p) = &f.pattern {
            if let Err(e) = compile(p) {
                errs.push(FieldError::new(
                    format!("{at}.pattern"),
                    format!("格式规则无效：{e}"),
                    format!("the pattern does not compile: {e}"),
                ));
            }
        }
        if f.max_len == Some(0) || f.max_len.is_some_and(|m| m > 5000) {
            errs.push(FieldError::new(format!("{at}.max_len"), "长度上限应在1到5000之间", "max_len must be 1 to 5000"));
        }
    }
    errs.into_result(fields)
}

/// An answer as text: forms send strings; JSON clients may send numbers.
fn answer_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Checks filled-in answers against the form. `complete` asks for every required answer (at
/// submission); a draft may leave them empty but what it holds must still be well-formed. Returns the
/// answers normalised (trimmed strings; numbers as numbers), unknown keys dropped.
pub fn check_answers(
    fields: &[FormField],
    answers: &Map<String, Value>,
    complete: bool,
) -> Result<Map<String, Value>, Invalid> {
    let mut errs = Invalid::default();
    let mut out = Map::new();
    for f in fields {
        let at = format!("answers.{}", f.key);
        let text = answer_text(answers.get(&f.key));
        let label = if f.label_en.is_empty() { &f.key } else { &f.label_en };
        if text.is_empty() {
            if f.required && complete {
                errs.push(FieldError::new(at, format!("请填写“{}”", f.label), format!("\"{label}\" is required")));
            }
            continue;
        }
        let max = f.max_len.unwrap_or(DEFAULT_MAX_LEN) as usize;
        if text.chars().count() > max {
            errs.push(FieldError::new(
                at,
                format!("“{}”不超过{max}字", f.label),
                format!("\"{label}\" is at most {max} characters"),
            ));
            continue;
        }
        let value = match f.kind {
            FieldKind::Text | FieldKind::Textarea => Ok(Value::String(text.clone())),
            FieldKind::Number => {
                text.parse::<f64>().ok().filter(|n| n.is_finite()).map(|n| serde_json::json!(n)).ok_or_else(|| {
                    FieldError::new(&at, format!("“{}”应为数字", f.label), format!("\"{label}\" must be a number"))
                })
            }
            FieldKind::Date => {
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").map(|d| Value::String(d.to_string())).map_err(|_| {
                    FieldError::new(
                        &at,
                        format!("“{}”应为日期（如 2026-11-29）", f.label),
                        format!("\"{label}\" must be a date (e.g. 2026-11-29)"),
                    )
                })
            }
            FieldKind::Choice => {
                if f.choices.iter().any(|c| c == &text) {
                    Ok(Value::String(text.clone()))
                } else {
                    Err(FieldError::new(
                        &at,
                        format!("“{}”应为以下之一：{}", f.label, f.choices.join("、")),
                        format!("\"{label}\" must be one of: {}", f.choices.join(", ")),
                    ))
                }
            }
            FieldKind::IdNumber => {
                IdNumber::parse(&text).map(|i| Value::String(i.as_str().to_string())).map_err(|e| e.at(&at))
            }
            FieldKind::Phone => {
                PhoneNumber::parse(&text).map(|p| Value::String(p.as_str().to_string())).map_err(|e| e.at(&at))
            }
        };
        let value = value.and_then(|v| match &f.pattern {
            Some(p) if !compile(p).map(|re| re.is_match(&text)).unwrap_or(false) => Err(FieldError::new(
                &at,
                format!(
                    "“{}”格式不正确{}",
                    f.label,
                    if f.hint.is_empty() { String::new() } else { format!("：{}", f.hint) }
                ),
                format!(
                    "\"{label}\" does not have the expected form{}",
                    if f.hint.is_empty() { String::new() } else { format!(": {}", f.hint) }
                ),
            )),
            _ => Ok(v),
        });
        match value {
            Ok(v) => {
                out.insert(f.key.clone(), v);
            }
            Err(e) => errs.push(e),
        }
    }
    errs.into_result(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> Vec<FormField> {
        parse_fields(&Some(json!([
            {"key": "address", "label": "住址", "label_en": "Address", "kind": "text", "required": true},
            {"key": "size", "label": "家庭人口", "kind": "number", "required": true},
            {"key": "born", "label": "出生日期", "kind": "date"},
            {"key": "kind", "label": "类型", "kind": "choice", "choices": ["首次", "换证"], "required": true},
            {"key": "plate", "label": "车牌", "kind": "text", "pattern": "浙H[A-Z0-9]{5}", "hint": "如 浙H12345"}
        ])))
        .unwrap_or_default()
    }

    #[test]
    fn a_complete_form_is_normalised() {
        let a = json!({"address": " 常山县天马街道 ", "size": "3", "kind": "换证", "plate": "浙HA1234", "extra": "x"});
        let out = check_answers(&form(), a.as_object().unwrap_or(&Map::new()), true).unwrap_or_default();
        assert_eq!(out["address"], json!("常山县天马街道"));
        assert_eq!(out["size"], json!(3.0));
        assert!(!out.contains_key("extra"));
    }

    #[test]
    fn every_error_is_named_at_once() {
        let a = json!({"size": "three", "born": "2026-02-30", "kind": "其他", "plate": "沪A12345"});
        let errs = check_answers(&form(), a.as_object().unwrap_or(&Map::new()), true).err().unwrap_or_default();
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["answers.address", "answers.size", "answers.born", "answers.kind", "answers.plate"]);
        assert!(errs.0[4].zh.contains("如 浙H12345"));
    }

    #[test]
    fn a_draft_may_leave_required_answers_empty() {
        assert!(check_answers(&form(), &Map::new(), false).is_ok());
        assert!(check_answers(&form(), &Map::new(), true).is_err());
    }

    #[test]
    fn bad_declarations_are_refused_whole() {
        let bad = parse_fields(&Some(json!([
            {"key": "1x", "label": "a", "kind": "text"},
            {"key": "c", "label": "b", "kind": "choice"},
            {"key": "c", "label": "c", "kind": "text", "pattern": "("}
        ])))
        .err()
        .unwrap_or_default();
        let fields: Vec<&str> = bad.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["fields[0].key", "fields[1].choices", "fields[2].key", "fields[2].pattern"]);
        assert!(parse_fields(&Some(json!({"key": "x"}))).is_err());
    }
}
