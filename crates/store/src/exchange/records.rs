//! A provider's records: one at a time through the API, or many by CSV import, each checked against
//! its service's schema and sealed at rest under the keyed hash of the subject's ID number.

use super::{column_letter, ExchangeService};
use crate::cases::CaseActor;
use crate::db::Store;
use crate::error::StoreError;
use onewindow_core::ids::IdNumber;
use onewindow_core::sheet::RowError;
use onewindow_core::{FieldError, Invalid};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

impl Store {
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
}
