//! Data exchange (大数据交换): departments publish data services (a marriage record, the household
//! register…) with a schema; their records arrive by CSV import or through the API and are sealed at
//! rest, keyed by the keyed hash of the subject's ID number. A consumer department holds a right per
//! service: existence only, or a list of fields. A lookup always names a case (the subject is its
//! applicant) and a purpose, and is recorded whatever its outcome — found, not found, denied, pending
//! (the provider approves by hand) or rejected. A result may stand for a paper material of the case
//! (免证办). The citizen sees every lookup and every unmasking of their data.

use crate::cases::{can_see, CaseActor, CaseRow, MaterialCheck, CASE_SELECT};
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::WriteTx;
use onewindow_core::ids::IdNumber;
use onewindow_core::lobby::local_day;
use onewindow_core::place::PlaceCode;
use onewindow_core::sheet::RowError;
use onewindow_core::{FieldError, Invalid};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};

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

impl Store {
    pub async fn exchange_service(&self, code: &str) -> Result<ExchangeService, StoreError> {
        let row: Option<ServiceRow> = sqlx::query_as(&format!("SELECT {SERVICE_COLUMNS} WHERE code = $1"))
            .bind(code)
            .fetch_optional(self.pool())
            .await?;
        service_from(row.ok_or_else(|| StoreError::not_found(format!("data service {code}")))?)
    }

    async fn right_of(&self, department: &str, service: &str) -> Result<Option<ExchangeRight>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT mode, fields FROM exchange_rights WHERE consumer_department = $1 AND service = $2")
                .bind(department)
                .bind(service)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            Some((mode, fields)) => Some(ExchangeRight {
                consumer_department: department.into(),
                service: service.into(),
                mode,
                fields: serde_json::from_str(&fields)?,
            }),
            None => None,
        })
    }

    /// Every service, with the right `department` holds on each.
    pub async fn exchange_services(&self, department: Option<&str>) -> Result<Vec<ServiceView>, StoreError> {
        let rows: Vec<ServiceRow> =
            sqlx::query_as(&format!("SELECT {SERVICE_COLUMNS} ORDER BY code")).fetch_all(self.pool()).await?;
        let counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT service, COUNT(*) FROM exchange_records GROUP BY service")
                .fetch_all(self.pool())
                .await?;
        let counts: BTreeMap<String, i64> = counts.into_iter().collect();
        let departments = self.departments(None).await?;
        let mut out = Vec::new();
        for r in rows {
            let s = service_from(r)?;
            let right = match department {
                Some(d) => self.right_of(d, &s.code).await?,
                None => None,
            };
            let provider_name = departments
                .iter()
                .find(|d| d.code == s.provider_department && d.place == s.county)
                .or_else(|| departments.iter().find(|d| d.code == s.provider_department))
                .map(|d| d.name.clone())
                .unwrap_or_else(|| s.provider_department.clone());
            out.push(ServiceView {
                records: counts.get(&s.code).copied().unwrap_or(0),
                provider_name,
                my_mode: right.as_ref().map(|r| r.mode.clone()),
                my_fields: right.map(|r| r.fields).unwrap_or_default(),
                service: s,
            });
        }
        Ok(out)
    }

    /// Every right, for the admin.
    pub async fn exchange_rights(&self) -> Result<Vec<ExchangeRight>, StoreError> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT consumer_department, service, mode, fields FROM exchange_rights ORDER BY service, consumer_department",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(consumer_department, service, mode, fields)| {
                Ok(ExchangeRight { consumer_department, service, mode, fields: serde_json::from_str(&fields)? })
            })
            .collect()
    }

    /// Defines or replaces a service (admin). Fields a right names must stay in the schema.
    pub async fn save_exchange_service(&self, by: &CaseActor, s: &ExchangeService) -> Result<(), StoreError> {
        s.check()?;
        let mut tx = self.begin(&by.actor).await?;
        tx.put_service(s).await?;
        let rights: Vec<(String, String)> =
            sqlx::query_as("SELECT consumer_department, fields FROM exchange_rights WHERE service = $1")
                .bind(&s.code)
                .fetch_all(tx.conn())
                .await?;
        for (dept, fields) in rights {
            let fields: Vec<String> = serde_json::from_str(&fields)?;
            if let Some(f) = fields.iter().find(|f| !s.fields.iter().any(|sf| &sf.name == *f)) {
                return Err(StoreError::conflict(
                    "fields",
                    format!("部门 {dept} 的权限仍包含字段 {f}，请先调整权限"),
                    format!("the right of {dept} still names the field {f}; change it first"),
                ));
            }
        }
        tx.record(
            "exchange.service.saved",
            &s.county,
            &format!("exchange:{}", s.code),
            json!({"name": s.name, "provider": s.provider_department, "fields": s.fields.iter().map(|f| &f.name).collect::<Vec<_>>(),
                   "requires_approval": s.requires_approval, "approval_days": s.approval_days}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Grants (or changes) a right; `mode = none` revokes it (admin).
    pub async fn set_exchange_right(&self, by: &CaseActor, r: &ExchangeRight) -> Result<(), StoreError> {
        let service = self.exchange_service(&r.service).await?;
        let mut tx = self.begin(&by.actor).await?;
        if r.mode == "none" {
            let n = sqlx::query("DELETE FROM exchange_rights WHERE consumer_department = $1 AND service = $2")
                .bind(&r.consumer_department)
                .bind(&r.service)
                .execute(tx.conn())
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found(format!("right of {} on {}", r.consumer_department, r.service)));
            }
            tx.record(
                "exchange.right.revoked",
                &service.county,
                &format!("exchange:{}", r.service),
                json!({"consumer": r.consumer_department}),
            )
            .await?;
        } else {
            tx.put_right(r, &service).await?;
            tx.record(
                "exchange.right.granted",
                &service.county,
                &format!("exchange:{}", r.service),
                json!({"consumer": r.consumer_department, "mode": r.mode, "fields": r.fields}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn may_provide(by: &CaseActor, service: &ExchangeService) -> Result<(), StoreError> {
        if by.role == "admin" || by.department.as_deref() == Some(service.provider_department.as_str()) {
            Ok(())
        } else {
            Err(forbidden(
                format!("只有提供部门（{}）可以报送“{}”的数据", service.provider_department, service.name),
                format!(
                    "only the provider department ({}) may put records of {}",
                    service.provider_department, service.code
                ),
            ))
        }
    }

    /// Checks one record's data against the schema: only its fields, string values.
    fn record_data(service: &ExchangeService, data: &Map<String, Value>) -> Result<Map<String, Value>, StoreError> {
        let mut errs = Invalid::default();
        let mut out = Map::new();
        for (k, v) in data {
            if !service.fields.iter().any(|f| &f.name == k) {
                errs.push(FieldError::new(
                    format!("data.{k}"),
                    format!("“{}”没有字段 {k}", service.name),
                    format!("{} has no field {k}", service.code),
                ));
                continue;
            }
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), Value::String(s.trim().to_string()));
                }
                Value::Number(n) => {
                    out.insert(k.clone(), Value::String(n.to_string()));
                }
                Value::Null => {}
                _ => errs.push(FieldError::new(format!("data.{k}"), "字段值应为文本", "a field value must be text")),
            }
        }
        errs.into_result(())?;
        Ok(out)
    }

    /// Puts one record (the provider's system pushing through the API).
    pub async fn put_exchange_record(
        &self,
        by: &CaseActor,
        service: &str,
        id_number: &str,
        data: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        let s = self.exchange_service(service).await?;
        Self::may_provide(by, &s)?;
        let id = IdNumber::parse(id_number).map_err(|e| StoreError::Invalid(Invalid::one(e.at("id_number"))))?;
        let data = Self::record_data(&s, data)?;
        let mut tx = self.begin(&by.actor).await?;
        tx.put_record(&s.code, &id, &data).await?;
        // The event tells how many records, never whose.
        tx.record(
            "exchange.records.put",
            &s.county,
            &format!("exchange:{}", s.code),
            json!({"records": 1, "source": "api"}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Imports a sheet (`id_number,field1,field2…`, the header first): every row or none; every bad row
    /// and column is reported.
    pub async fn import_exchange_records(
        &self,
        by: &CaseActor,
        service: &str,
        grid: &[Vec<String>],
    ) -> Result<usize, StoreError> {
        let s = self.exchange_service(service).await?;
        Self::may_provide(by, &s)?;
        let mut errors = Vec::new();
        let err = |row: usize, col: Option<(usize, &str)>, field: &str, zh: String, en: String| RowError {
            row,
            column: col.map(|(i, h)| format!("{}（{}）", column_letter(i), h)),
            field: field.into(),
            zh,
            en,
        };
        let Some(header) = grid.first() else {
            return Err(StoreError::Rows(vec![err(1, None, "file", "文件为空".into(), "the file is empty".into())]));
        };
        let header: Vec<String> = header.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_string()).collect();
        // Each column: a field name or its label.
        let mut columns: Vec<Option<String>> = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if i == 0 {
                if h != "id_number" && h != "身份证号" && h != "公民身份号码" {
                    errors.push(err(
                        1,
                        Some((i, h)),
                        "id_number",
                        "第一列应为 id_number（身份证号）".into(),
                        "the first column must be id_number".into(),
                    ));
                }
                columns.push(None);
                continue;
            }
            match s.fields.iter().find(|f| &f.name == h || &f.label == h) {
                Some(f) => {
                    if columns.iter().flatten().any(|c| c == &f.name) {
                        errors.push(err(1, Some((i, h)), &f.name, "列重复".into(), "duplicate column".into()));
                    }
                    columns.push(Some(f.name.clone()));
                }
                None => {
                    errors.push(err(
                        1,
                        Some((i, h)),
                        "header",
                        format!("“{}”没有字段 {h}", s.name),
                        format!("{} has no field {h}", s.code),
                    ));
                    columns.push(None);
                }
            }
        }
        let mut rows: Vec<(IdNumber, Map<String, Value>)> = Vec::new();
        let mut seen = HashSet::new();
        for (n, cells) in grid.iter().enumerate().skip(1) {
            let row = n + 1;
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            if cells.len() > header.len() {
                errors.push(err(
                    row,
                    Some((header.len(), "?")),
                    "row",
                    format!("本行有 {} 列，表头只有 {} 列", cells.len(), header.len()),
                    format!("the row has {} columns, the header {}", cells.len(), header.len()),
                ));
                continue;
            }
            let id = cells.first().map(|c| c.trim()).unwrap_or_default();
            let id = match IdNumber::parse(id) {
                Ok(id) => {
                    if !seen.insert(id.as_str().to_string()) {
                        errors.push(err(
                            row,
                            Some((0, &header[0])),
                            "id_number",
                            "身份证号在文件中重复".into(),
                            "the ID number appears twice in the file".into(),
                        ));
                    }
                    Some(id)
                }
                Err(e) => {
                    errors.push(err(row, Some((0, &header[0])), "id_number", e.zh.clone(), e.en.clone()));
                    None
                }
            };
            let mut data = Map::new();
            for (i, cell) in cells.iter().enumerate().skip(1) {
                if let Some(Some(name)) = columns.get(i) {
                    if cell.chars().count() > 500 {
                        errors.push(err(row, Some((i, &header[i])), name, "内容过长".into(), "too long".into()));
                    } else if !cell.trim().is_empty() {
                        data.insert(name.clone(), Value::String(cell.trim().to_string()));
                    }
                }
            }
            if let Some(id) = id {
                rows.push((id, data));
            }
        }
        if rows.is_empty() && errors.is_empty() {
            errors.push(err(2, None, "file", "文件没有数据行".into(), "the file has no data rows".into()));
        }
        if !errors.is_empty() {
            return Err(StoreError::Rows(errors));
        }
        let mut tx = self.begin(&by.actor).await?;
        for (id, data) in &rows {
            tx.put_record(&s.code, id, data).await?;
        }
        tx.record(
            "exchange.records.put",
            &s.county,
            &format!("exchange:{}", s.code),
            json!({"records": rows.len(), "source": "csv"}),
        )
        .await?;
        tx.commit().await?;
        Ok(rows.len())
    }

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
