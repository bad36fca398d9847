//! Lookups: a department asks for a case's applicant's record of a service, for a purpose; the
//! answer follows its right (existence or fields), waits for the provider's approval where the
//! service says so, and may stand for a paper material of the case. Every lookup is recorded.

use super::{forbidden, invalid, ExchangeRight, ExchangeService, LookupRow, LookupView, LOOKUP_SELECT};
use crate::cases::{can_see, CaseActor, CaseRow, MaterialCheck, CASE_SELECT};
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::WriteTx;
use onewindow_core::lobby::local_day;
use serde_json::{json, Map, Value};

impl Store {
    /// The subject's record of a service, opened.
    async fn exchange_record(&self, service: &str, subject: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        let sealed: Option<String> =
            sqlx::query_scalar("SELECT data FROM exchange_records WHERE service = $1 AND subject_hash = $2")
                .bind(service)
                .bind(subject)
                .fetch_optional(self.pool())
                .await?;
        match sealed {
            Some(s) => {
                let plain = self.vault().open(&s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(Some(serde_json::from_str(&plain)?))
            }
            None => Ok(None),
        }
    }

    /// What the right lets the consumer see of a record: (outcome, field names, result).
    fn answer(right: &ExchangeRight, record: Option<Map<String, Value>>) -> (&'static str, Vec<String>, Value) {
        match record {
            None => ("not_found", Vec::new(), json!({"exists": false})),
            Some(data) if right.mode == "fields" => {
                let mut out = Map::new();
                for f in &right.fields {
                    out.insert(f.clone(), data.get(f).cloned().unwrap_or(Value::Null));
                }
                ("found", right.fields.clone(), json!({"exists": true, "fields": out}))
            }
            Some(_) => ("found", Vec::new(), json!({"exists": true})),
        }
    }

    /// Looks up the applicant of a case in a data service, for a purpose. Without a right the attempt
    /// is recorded as denied (committed) and refused; with approval required it is recorded as pending.
    /// A found record may stand for the case's material `attach_material` (免证办).
    pub async fn exchange_lookup(
        &self,
        case_id: i64,
        by: &CaseActor,
        service: &str,
        purpose: &str,
        attach_material: Option<String>,
    ) -> Result<LookupView, StoreError> {
        let purpose = purpose.trim();
        if purpose.chars().count() < 2 || purpose.chars().count() > 200 {
            return Err(invalid(
                "purpose",
                "请说明查询用途（2–200 字）",
                "say why you look this up (2–200 characters)",
            ));
        }
        let s = self.exchange_service(service).await?;
        let row: Option<CaseRow> =
            sqlx::query_as(&format!("{CASE_SELECT} WHERE c.id = $1")).bind(case_id).fetch_optional(self.pool()).await?;
        let row = row.filter(|r| can_see(by, r)).ok_or_else(|| StoreError::not_found(format!("case {case_id}")))?;
        let materials: Vec<MaterialCheck> = serde_json::from_str(&row.materials)?;
        let attach_material = attach_material.map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
        if let Some(m) = &attach_material {
            if !materials.iter().any(|x| &x.name == m) {
                return Err(invalid("material", format!("本件没有材料“{m}”"), format!("the case has no material {m}")));
            }
        }
        if row.closed_at.is_some() {
            return Err(StoreError::conflict("case", "办件已办结，不能再查询", "the case is closed"));
        }
        let subject: Option<String> = sqlx::query_scalar("SELECT applicant_id_hash FROM cases WHERE id = $1")
            .bind(case_id)
            .fetch_one(self.pool())
            .await?;
        let Some(subject) = subject.filter(|s| !s.is_empty()) else {
            return Err(invalid(
                "case",
                "本件申请人没有登记身份证号，无法查询",
                "the applicant has no ID number on the case",
            ));
        };
        let department = by.department.clone().unwrap_or_default();
        let right = if department.is_empty() { None } else { self.right_of(&department, &s.code).await? };
        let now = now_ms();

        let mut tx = self.begin(&by.actor).await?;
        let Some(right) = right else {
            // Recorded and committed before refusing: a refused lookup is still a lookup.
            let id = insert_lookup(
                &mut tx,
                now,
                &row,
                by,
                &department,
                &s,
                purpose,
                &subject,
                "denied",
                &[],
                None,
                None,
                None,
            )
            .await?;
            tx.record(
                "exchange.lookup",
                &row.place_code,
                &format!("case:{case_id}"),
                json!({"lookup": id, "service": s.code, "purpose": purpose, "outcome": "denied", "department": department}),
            )
            .await?;
            tx.commit().await?;
            return Err(forbidden(
                format!("本部门无权查询“{}”，本次查询已记录", s.name),
                format!("your department has no right to {}; this attempt is recorded", s.code),
            ));
        };
        if s.requires_approval {
            let due_on = self.add_working_days(local_day(now), s.approval_days.max(1))?.to_string();
            let id = insert_lookup(
                &mut tx,
                now,
                &row,
                by,
                &department,
                &s,
                purpose,
                &subject,
                "pending",
                &[],
                None,
                Some(&due_on),
                attach_material.as_deref(),
            )
            .await?;
            tx.record(
                "exchange.lookup",
                &row.place_code,
                &format!("case:{case_id}"),
                json!({"lookup": id, "service": s.code, "purpose": purpose, "outcome": "pending", "department": department, "due_on": due_on}),
            )
            .await?;
            tx.commit().await?;
            return self.exchange_lookup_view(id).await;
        }
        let record = self.exchange_record(&s.code, &subject).await?;
        let (outcome, fields, result) = Self::answer(&right, record);
        let sealed = self.vault().seal(&result.to_string());
        let attach = attach_material.filter(|_| outcome == "found");
        let id = insert_lookup(
            &mut tx,
            now,
            &row,
            by,
            &department,
            &s,
            purpose,
            &subject,
            outcome,
            &fields,
            Some(&sealed),
            None,
            attach.as_deref(),
        )
        .await?;
        if let Some(m) = &attach {
            verify_material(&mut tx, case_id, &row.state, m, &s.name, id, now).await?;
        }
        tx.record(
            "exchange.lookup",
            &row.place_code,
            &format!("case:{case_id}"),
            json!({"lookup": id, "service": s.code, "purpose": purpose, "outcome": outcome, "fields": fields,
                   "department": department, "material": attach}),
        )
        .await?;
        tx.commit().await?;
        self.exchange_lookup_view(id).await
    }

    /// The provider approves or rejects a pending lookup; an approved one is answered as an automatic
    /// lookup would have been (and verifies its material, if it named one).
    pub async fn decide_exchange_lookup(
        &self,
        id: i64,
        by: &CaseActor,
        approve: bool,
        comment: &str,
    ) -> Result<LookupView, StoreError> {
        let l = self.exchange_lookup_view(id).await?;
        let s = self.exchange_service(&l.service).await?;
        if by.department.as_deref() != Some(s.provider_department.as_str()) || by.role != "approver" {
            return Err(forbidden(
                format!("只有提供部门（{}）的审批人员可以审核", s.provider_department),
                format!("only an approver of the provider department ({}) may decide", s.provider_department),
            ));
        }
        if !approve && comment.trim().chars().count() < 2 {
            return Err(invalid("comment", "不同意须说明理由", "a rejection needs a reason"));
        }
        let now = now_ms();
        let mut tx = self.begin(&by.actor).await?;
        let current: Option<(String, Option<String>, i64, String)> = sqlx::query_as(
            "SELECT l.outcome, l.subject_hash, l.case_id, c.state FROM exchange_lookups l JOIN cases c ON c.id = l.case_id WHERE l.id = $1",
        )
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
        let Some((outcome, subject, case_id, state)) = current else {
            return Err(StoreError::not_found(format!("lookup {id}")));
        };
        if outcome != "pending" {
            return Err(StoreError::conflict("lookup", "该查询已处理", "the lookup has been decided"));
        }
        let (outcome, fields, sealed, attach) = if approve {
            let right = self.right_of(&l.consumer_department, &s.code).await?;
            let record = match &subject {
                Some(h) => self.exchange_record(&s.code, h).await?,
                None => None,
            };
            match right {
                Some(right) => {
                    let (o, f, r) = Self::answer(&right, record);
                    let attach = l.material.clone().filter(|_| o == "found");
                    (o, f, Some(self.vault().seal(&r.to_string())), attach)
                }
                // The right was revoked meanwhile.
                None => ("denied", Vec::new(), None, None),
            }
        } else {
            ("rejected", Vec::new(), None, None)
        };
        sqlx::query(
            "UPDATE exchange_lookups SET outcome = $1, fields = $2, result = $3, approved_by = $4, approved_at = $5, decision_comment = $6, material = $7 WHERE id = $8",
        )
        .bind(outcome)
        .bind(serde_json::to_string(&fields)?)
        .bind(sealed)
        .bind(&by.actor.name)
        .bind(now)
        .bind(comment.trim())
        .bind(attach.as_deref())
        .bind(id)
        .execute(tx.conn())
        .await?;
        if let Some(m) = &attach {
            let closed: Option<i64> = sqlx::query_scalar("SELECT closed_at FROM cases WHERE id = $1")
                .bind(case_id)
                .fetch_one(tx.conn())
                .await?;
            if closed.is_none() {
                verify_material(&mut tx, case_id, &state, m, &s.name, id, now).await?;
            }
        }
        tx.record(
            "exchange.lookup.decided",
            &by.place.to_string(),
            &format!("case:{case_id}"),
            json!({"lookup": id, "service": s.code, "approve": approve, "outcome": outcome, "fields": fields}),
        )
        .await?;
        tx.commit().await?;
        self.exchange_lookup_view(id).await
    }

    /// One lookup, its result opened.
    pub async fn exchange_lookup_view(&self, id: i64) -> Result<LookupView, StoreError> {
        let row: Option<LookupRow> =
            sqlx::query_as(&format!("{LOOKUP_SELECT} WHERE l.id = $1")).bind(id).fetch_optional(self.pool()).await?;
        let row = row.ok_or_else(|| StoreError::not_found(format!("lookup {id}")))?;
        self.lookup_from(row).await
    }

    async fn lookup_from(&self, r: LookupRow) -> Result<LookupView, StoreError> {
        let service_name: Option<String> = sqlx::query_scalar("SELECT name FROM exchange_services WHERE code = $1")
            .bind(&r.6)
            .fetch_optional(self.pool())
            .await?;
        Ok(LookupView {
            id: r.0,
            at: r.1,
            case_id: r.2,
            case_number: r.3,
            consumer_staff: r.4,
            consumer_department: r.5,
            service_name: service_name.unwrap_or_else(|| r.6.clone()),
            service: r.6,
            purpose: r.7,
            outcome: r.8,
            fields: serde_json::from_str(&r.9)?,
            result: r.10.as_deref().and_then(|s| self.vault().open(s).ok()).and_then(|s| serde_json::from_str(&s).ok()),
            due_on: r.11,
            approved_by: r.12,
            approved_at: r.13,
            decision_comment: r.14,
            material: r.15,
        })
    }

    /// The lookups of a case, newest first (the consumer's view; the case must be visible to `by`).
    pub async fn case_lookups(&self, case_id: i64, by: &CaseActor) -> Result<Vec<LookupView>, StoreError> {
        let row: Option<CaseRow> =
            sqlx::query_as(&format!("{CASE_SELECT} WHERE c.id = $1")).bind(case_id).fetch_optional(self.pool()).await?;
        row.filter(|r| can_see(by, r)).ok_or_else(|| StoreError::not_found(format!("case {case_id}")))?;
        let rows: Vec<LookupRow> = sqlx::query_as(&format!("{LOOKUP_SELECT} WHERE l.case_id = $1 ORDER BY l.id DESC"))
            .bind(case_id)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.lookup_from(r).await?);
        }
        Ok(out)
    }

    /// Lookups waiting for the caller's department to decide, oldest first.
    pub async fn pending_exchange_lookups(&self, by: &CaseActor) -> Result<Vec<LookupView>, StoreError> {
        let Some(dept) = by.department.as_deref() else { return Ok(Vec::new()) };
        let rows: Vec<LookupRow> = sqlx::query_as(&format!(
            "{LOOKUP_SELECT} JOIN exchange_services s ON s.code = l.service WHERE l.outcome = 'pending' AND s.provider_department = $1 ORDER BY l.id"
        ))
        .bind(dept)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.lookup_from(r).await?);
        }
        Ok(out)
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_lookup(
    tx: &mut WriteTx,
    now: i64,
    row: &CaseRow,
    by: &CaseActor,
    department: &str,
    s: &ExchangeService,
    purpose: &str,
    subject: &str,
    outcome: &str,
    fields: &[String],
    sealed_result: Option<&str>,
    due_on: Option<&str>,
    material: Option<&str>,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO exchange_lookups (at, case_id, place_code, consumer_staff, consumer_department, service, purpose, subject_hash, \
         outcome, fields, result, due_on, material) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(now)
    .bind(row.id)
    .bind(&row.place_code)
    .bind(&by.actor.name)
    .bind(department)
    .bind(&s.code)
    .bind(purpose)
    .bind(subject)
    .bind(outcome)
    .bind(serde_json::to_string(fields)?)
    .bind(sealed_result)
    .bind(due_on)
    .bind(material)
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// Marks a case material as verified by the exchange and writes the timeline row.
async fn verify_material(
    tx: &mut WriteTx,
    case_id: i64,
    state: &str,
    material: &str,
    service_name: &str,
    lookup: i64,
    now: i64,
) -> Result<(), StoreError> {
    let current: String =
        sqlx::query_scalar("SELECT materials FROM cases WHERE id = $1").bind(case_id).fetch_one(tx.conn()).await?;
    let mut materials: Vec<MaterialCheck> = serde_json::from_str(&current)?;
    let verified_by = format!("{service_name}（数据共享）");
    for m in materials.iter_mut().filter(|m| m.name == material) {
        if m.status == "missing" {
            m.supplied_at = Some(now);
        }
        m.status = "verified".into();
        m.verified_by = Some(verified_by.clone());
    }
    sqlx::query("UPDATE cases SET materials = $1, updated_at = $2, version = version + 1 WHERE id = $3")
        .bind(serde_json::to_string(&materials)?)
        .bind(now)
        .bind(case_id)
        .execute(tx.conn())
        .await?;
    let actor = tx.actor().clone();
    sqlx::query("INSERT INTO case_actions (case_id, action, from_state, to_state, actor, staff_id, comment, data, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(case_id)
        .bind("verify")
        .bind(state)
        .bind(state)
        .bind(&actor.name)
        .bind(actor.staff_id)
        .bind(format!("{material}：{verified_by}核验"))
        .bind(json!({"material": material, "service": service_name, "lookup": lookup}).to_string())
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(())
}
