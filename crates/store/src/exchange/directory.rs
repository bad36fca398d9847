//! The exchange's directory: the data services departments publish, with their schemas, and the
//! rights other departments hold to each (existence only, or named fields).

use super::{forbidden, service_from, ExchangeRight, ExchangeService, ServiceRow, ServiceView, SERVICE_COLUMNS};
use crate::cases::CaseActor;
use crate::db::Store;
use crate::error::StoreError;
use serde_json::json;
use std::collections::BTreeMap;

impl Store {
    pub async fn exchange_service(&self, code: &str) -> Result<ExchangeService, StoreError> {
        let row: Option<ServiceRow> = sqlx::query_as(&format!("SELECT {SERVICE_COLUMNS} WHERE code = $1"))
            .bind(code)
            .fetch_optional(self.pool())
            .await?;
        service_from(row.ok_or_else(|| StoreError::not_found(format!("data service {code}")))?)
    }

    pub(super) async fn right_of(&self, department: &str, service: &str) -> Result<Option<ExchangeRight>, StoreError> {
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

    pub(super) fn may_provide(by: &CaseActor, service: &ExchangeService) -> Result<(), StoreError> {
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
}
