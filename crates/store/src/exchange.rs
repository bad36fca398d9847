//! Data exchange (大数据交换): departments publish data services (a marriage record, the household
//! register…) with a schema; their records arrive by CSV import or through the API and are sealed at
//! rest, keyed by the keyed hash of the subject's ID number. A consumer department holds a right per
//! service: existence only, or a list of fields. A lookup always names a case (the subject is its
//! applicant) and a purpose, and is recorded whatever its outcome — found, not found, denied, pending
//! (the provider approves by hand) or rejected. A result may stand for a paper material of the case
//! (免证办). The citizen sees every lookup and every unmasking of their data.
//!
//! This file holds the types, the schema check and the demo county's seed; the directory of services
//! and rights is in `directory.rs`, a provider's records in `records.rs`, lookups in `lookups.rs` and
//! the citizen's view of who used their data in `data_use.rs`.

use crate::error::StoreError;
use crate::now_ms;
use crate::write::WriteTx;
use onewindow_core::ids::IdNumber;
use onewindow_core::place::PlaceCode;
use onewindow_core::{FieldError, Invalid};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};

mod data_use;
mod directory;
mod lookups;
mod records;

pub const EXCHANGE_JSON: &str = include_str!("../seed/exchange.json");

/// One field of a service's schema.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExchangeField {
    pub name: String,
    pub label: String,
}

/// A data service a department publishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeService {
    pub code: String,
    pub name: String,
    /// Department code of the provider (in the service's county).
    pub provider_department: String,
    #[serde(default)]
    pub county: String,
    pub fields: Vec<ExchangeField>,
    #[serde(default)]
    pub requires_approval: bool,
    /// Working days the provider has to decide (when approval is required).
    #[serde(default)]
    pub approval_days: i64,
}

/// What a consumer department may learn from a service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExchangeRight {
    pub consumer_department: String,
    pub service: String,
    /// `exists` (yes/no) or `fields`.
    pub mode: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A service as a caller sees it: with the right their department holds, if any.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    #[serde(flatten)]
    pub service: ExchangeService,
    pub provider_name: String,
    /// The caller's right: `exists`, `fields`, or none.
    pub my_mode: Option<String>,
    pub my_fields: Vec<String>,
    pub records: i64,
}

/// One recorded lookup, as the consumer and the provider see it.
#[derive(Debug, Clone, Serialize)]
pub struct LookupView {
    pub id: i64,
    pub at: i64,
    pub case_id: i64,
    pub case_number: String,
    pub consumer_staff: String,
    pub consumer_department: String,
    pub service: String,
    pub service_name: String,
    pub purpose: String,
    /// found, not_found, denied, pending or rejected.
    pub outcome: String,
    /// The names of the fields returned.
    pub fields: Vec<String>,
    /// found: the fields (or `{"exists": true}`); not_found: `{"exists": false}`; otherwise none.
    pub result: Option<Value>,
    pub due_on: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub decision_comment: String,
    pub material: Option<String>,
}

/// One line of the citizen's "who used my data" list. Never holds anybody's personal data.
#[derive(Debug, Clone, Serialize)]
pub struct DataUse {
    /// `lookup` (data exchange) or `unmask` (a member saw the full personal data of a case).
    pub kind: String,
    pub at: i64,
    pub department_name: String,
    pub case_number: String,
    pub purpose: String,
    /// The data service, for lookups; for unmasking, what was shown.
    pub what: String,
    /// found, not_found, denied, pending, rejected; `shown` for unmasking.
    pub outcome: String,
    pub fields: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct SeedExchange {
    services: Vec<ExchangeService>,
    rights: Vec<ExchangeRight>,
    records: Vec<SeedRecord>,
}

#[derive(Debug, Deserialize)]
struct SeedRecord {
    service: String,
    id_number: String,
    data: Map<String, Value>,
}

fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> StoreError {
    StoreError::Invalid(Invalid::one(FieldError::new(field, zh, en)))
}

fn forbidden(zh: impl Into<String>, en: impl Into<String>) -> StoreError {
    StoreError::Forbidden { zh: zh.into(), en: en.into() }
}

fn valid_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn column_letter(i: usize) -> String {
    let mut n = i + 1;
    let mut s = Vec::new();
    while n > 0 {
        s.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

type ServiceRow = (String, String, String, String, String, i64, i64);
const SERVICE_COLUMNS: &str =
    "code, name, provider_department, county_code, fields, requires_approval, approval_days FROM exchange_services";

fn service_from(r: ServiceRow) -> Result<ExchangeService, StoreError> {
    Ok(ExchangeService {
        code: r.0,
        name: r.1,
        provider_department: r.2,
        county: r.3,
        fields: serde_json::from_str(&r.4)?,
        requires_approval: r.5 != 0,
        approval_days: r.6,
    })
}

type LookupRow = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
);
const LOOKUP_SELECT: &str =
    "SELECT l.id, l.at, l.case_id, c.number, l.consumer_staff, l.consumer_department, l.service, \
    l.purpose, l.outcome, l.fields, l.result, l.due_on, l.approved_by, l.approved_at, l.decision_comment, l.material \
    FROM exchange_lookups l JOIN cases c ON c.id = l.case_id";

impl ExchangeService {
    /// Checks a definition: a code, a name, a provider, at least one field, unique field names.
    pub fn check(&self) -> Result<(), StoreError> {
        let mut errs = Invalid::default();
        if !valid_code(&self.code) {
            errs.push(FieldError::new(
                "code",
                "服务编码只能含字母、数字、_ 和 -",
                "the code may hold letters, digits, _ and -",
            ));
        }
        if self.name.trim().is_empty() {
            errs.push(FieldError::new("name", "请填写服务名称", "the name is required"));
        }
        if !valid_code(&self.provider_department) {
            errs.push(FieldError::new(
                "provider_department",
                "请填写提供部门编码",
                "the provider department is required",
            ));
        }
        if self.fields.is_empty() {
            errs.push(FieldError::new("fields", "至少需要一个字段", "at least one field is required"));
        }
        let mut seen = HashSet::new();
        for (i, f) in self.fields.iter().enumerate() {
            if !valid_code(&f.name) || f.name == "id_number" {
                errs.push(FieldError::new(
                    format!("fields[{i}].name"),
                    "字段名只能含字母、数字、_ 和 -（id_number 已保留）",
                    "a field name may hold letters, digits, _ and - (id_number is reserved)",
                ));
            }
            if !seen.insert(f.name.as_str()) {
                errs.push(FieldError::new(format!("fields[{i}].name"), "字段名重复", "duplicate field name"));
            }
        }
        if self.requires_approval && !(1..=30).contains(&self.approval_days) {
            errs.push(FieldError::new(
                "approval_days",
                "审批时限应为 1–30 个工作日",
                "approval takes 1–30 working days",
            ));
        }
        errs.into_result(())?;
        Ok(())
    }
}

impl WriteTx {
    async fn put_service(&mut self, s: &ExchangeService) -> Result<(), StoreError> {
        s.check()?;
        sqlx::query(
            "INSERT INTO exchange_services (code, name, provider_department, county_code, fields, requires_approval, approval_days, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
             provider_department = excluded.provider_department, county_code = excluded.county_code, fields = excluded.fields, \
             requires_approval = excluded.requires_approval, approval_days = excluded.approval_days, updated_at = excluded.updated_at",
        )
        .bind(&s.code)
        .bind(s.name.trim())
        .bind(&s.provider_department)
        .bind(&s.county)
        .bind(serde_json::to_string(&s.fields)?)
        .bind(s.requires_approval as i64)
        .bind(if s.requires_approval { s.approval_days } else { 0 })
        .bind(now_ms())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn put_right(&mut self, r: &ExchangeRight, service: &ExchangeService) -> Result<(), StoreError> {
        let mut errs = Invalid::default();
        if !valid_code(&r.consumer_department) {
            errs.push(FieldError::new(
                "consumer_department",
                "请填写使用部门编码",
                "the consumer department is required",
            ));
        }
        match r.mode.as_str() {
            "exists" => {}
            "fields" => {
                if r.fields.is_empty() {
                    errs.push(FieldError::new("fields", "请列出可查看的字段", "list the fields the consumer may see"));
                }
                for f in &r.fields {
                    if !service.fields.iter().any(|sf| &sf.name == f) {
                        errs.push(FieldError::new(
                            "fields",
                            format!("服务“{}”没有字段 {f}", service.name),
                            format!("the service {} has no field {f}", service.code),
                        ));
                    }
                }
            }
            _ => errs.push(FieldError::new("mode", "mode 应为 exists 或 fields", "mode must be exists or fields")),
        }
        errs.into_result(())?;
        let fields: Vec<&String> = if r.mode == "fields" { r.fields.iter().collect() } else { Vec::new() };
        sqlx::query(
            "INSERT INTO exchange_rights (consumer_department, service, mode, fields, granted_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (consumer_department, service) DO UPDATE SET mode = excluded.mode, fields = excluded.fields, granted_at = excluded.granted_at",
        )
        .bind(&r.consumer_department)
        .bind(&r.service)
        .bind(&r.mode)
        .bind(serde_json::to_string(&fields)?)
        .bind(now_ms())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Writes one record (replacing the subject's earlier one), sealed.
    async fn put_record(&mut self, service: &str, id: &IdNumber, data: &Map<String, Value>) -> Result<(), StoreError> {
        let hash = self.vault().lookup_hash("id_number", id.as_str());
        let sealed = self.vault().seal(&Value::Object(data.clone()).to_string());
        if sealed.is_empty() {
            return Err(StoreError::Corrupt("the vault could not seal a record".into()));
        }
        sqlx::query(
            "INSERT INTO exchange_records (service, subject_hash, data, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (service, subject_hash) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        )
        .bind(service)
        .bind(hash)
        .bind(sealed)
        .bind(now_ms())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The demo's data services, rights and a few records (`seed/exchange.json`), in the county's
    /// loading transaction.
    pub async fn seed_exchange(&mut self, county: &PlaceCode) -> Result<(), StoreError> {
        let seed: SeedExchange = serde_json::from_str(EXCHANGE_JSON)?;
        let mut services = BTreeMap::new();
        for s in seed.services {
            let s = ExchangeService { county: county.to_string(), ..s };
            self.put_service(&s).await?;
            services.insert(s.code.clone(), s);
        }
        for r in &seed.rights {
            let s =
                services.get(&r.service).ok_or_else(|| StoreError::Corrupt(format!("demo right for {}", r.service)))?;
            self.put_right(r, s).await?;
        }
        for r in &seed.records {
            let id = IdNumber::parse(&r.id_number)?;
            self.put_record(&r.service, &id, &r.data).await?;
        }
        self.record(
            "exchange.seeded",
            county.as_str(),
            "exchange",
            json!({"services": services.len(), "rights": seed.rights.len(), "records": seed.records.len()}),
        )
        .await?;
        Ok(())
    }
}
