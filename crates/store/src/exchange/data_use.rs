//! Who used a citizen's data: the lookups of the subject and the unmaskings of their cases, as the
//! citizen sees them.

use super::DataUse;
use crate::db::Store;
use crate::error::StoreError;
use serde_json::Value;

impl Store {
    /// Who used a citizen's data: every lookup of the subject (by the keyed hash of their ID number)
    /// and every unmasking of a case they applied for, newest first. `case_id` adds the unmaskings of
    /// that case when the subject is unknown (an applicant without an ID number).
    pub async fn data_use(&self, subject: Option<&str>, case_id: Option<i64>) -> Result<Vec<DataUse>, StoreError> {
        let departments = self.departments(None).await?;
        let dept_name = |code: &str| {
            departments.iter().find(|d| d.code == code).map(|d| d.name.clone()).unwrap_or_else(|| code.to_string())
        };
        let mut out = Vec::new();
        if let Some(subject) = subject {
            let rows: Vec<(i64, String, String, String, String, String, String)> = sqlx::query_as(
                "SELECT l.at, l.consumer_department, c.number, l.purpose, COALESCE(s.name, l.service), l.outcome, l.fields \
                 FROM exchange_lookups l JOIN cases c ON c.id = l.case_id LEFT JOIN exchange_services s ON s.code = l.service \
                 WHERE l.subject_hash = $1",
            )
            .bind(subject)
            .fetch_all(self.pool())
            .await?;
            for (at, dept, number, purpose, what, outcome, fields) in rows {
                out.push(DataUse {
                    kind: "lookup".into(),
                    at,
                    department_name: dept_name(&dept),
                    case_number: number,
                    purpose,
                    what,
                    outcome,
                    fields: serde_json::from_str(&fields)?,
                });
            }
        }
        let cases: Vec<(i64, String)> = match subject {
            Some(h) => {
                sqlx::query_as("SELECT id, number FROM cases WHERE applicant_id_hash = $1")
                    .bind(h)
                    .fetch_all(self.pool())
                    .await?
            }
            None => Vec::new(),
        };
        let mut cases = cases;
        if let Some(id) = case_id {
            if !cases.iter().any(|(c, _)| *c == id) {
                let n: Option<String> = sqlx::query_scalar("SELECT number FROM cases WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
                if let Some(n) = n {
                    cases.push((id, n));
                }
            }
        }
        for (id, number) in cases {
            let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
                "SELECT a.at, a.actor, a.detail, d.name FROM audit a LEFT JOIN staff st ON st.username = a.actor \
                 LEFT JOIN departments d ON d.id = st.department_id WHERE a.action = 'personal.unmasked' AND a.subject = $1",
            )
            .bind(format!("case:{id}"))
            .fetch_all(self.pool())
            .await?;
            for (at, _actor, detail, dept) in rows {
                let detail: Value = serde_json::from_str(&detail).unwrap_or(Value::Null);
                out.push(DataUse {
                    kind: "unmask".into(),
                    at,
                    department_name: dept.unwrap_or_default(),
                    case_number: number.clone(),
                    purpose: detail["purpose"].as_str().unwrap_or_default().to_string(),
                    what: "完整个人信息（姓名、身份证号、电话）".into(),
                    outcome: "shown".into(),
                    fields: detail["fields"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                        .unwrap_or_default(),
                });
            }
        }
        out.sort_by_key(|u| std::cmp::Reverse(u.at));
        Ok(out)
    }

    /// The citizen's list for the applicant of the case with this tracking token.
    pub async fn data_use_by_token(&self, token: &str) -> Result<(String, Vec<DataUse>), StoreError> {
        let row: Option<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT id, number, applicant_id_hash FROM cases WHERE track_token = $1")
                .bind(token)
                .fetch_optional(self.pool())
                .await?;
        let (id, number, subject) = row.ok_or_else(|| StoreError::not_found("case"))?;
        let list = self.data_use(subject.as_deref().filter(|s| !s.is_empty()), Some(id)).await?;
        Ok((number, list))
    }
}
