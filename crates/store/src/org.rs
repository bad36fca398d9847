//! The organisation: places (the division tree), zones of the hall, departments and windows.

use crate::db::Store;
use crate::error::StoreError;
use crate::write::WriteTx;
use onewindow_core::place::{PlaceCode, PlaceLevel};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Place {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// province, city, county, township or village.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub level: PlaceLevel,
    pub parent: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Zone {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Department {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub place: String,
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub short_name: String,
    #[serde(default)]
    pub name_en: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Window {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub place: String,
    pub code: String,
    pub name: String,
    pub zone: String,
    /// A general window (无差别受理) serves any general item.
    pub general: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn level_of(s: &str) -> Result<PlaceLevel, StoreError> {
    PlaceLevel::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown place level {s}")))
}

impl Store {
    pub async fn places(&self) -> Result<Vec<Place>, StoreError> {
        let rows: Vec<(String, String, String, String, Option<String>)> =
            sqlx::query_as("SELECT code, name, name_en, level, parent_code FROM places ORDER BY code")
                .fetch_all(self.pool())
                .await?;
        rows.into_iter()
            .map(|(code, name, name_en, level, parent)| {
                Ok(Place { code, name, name_en, level: level_of(&level)?, parent })
            })
            .collect()
    }

    pub async fn place(&self, code: &str) -> Result<Place, StoreError> {
        self.places()
            .await?
            .into_iter()
            .find(|p| p.code == code)
            .ok_or_else(|| StoreError::not_found(format!("place {code}")))
    }

    /// Places at or under `within`.
    pub async fn places_within(&self, within: &PlaceCode) -> Result<Vec<Place>, StoreError> {
        Ok(self
            .places()
            .await?
            .into_iter()
            .filter(|p| PlaceCode::parse(&p.code).map(|c| c.is_within(within)).unwrap_or(false))
            .collect())
    }

    pub async fn zones(&self) -> Result<Vec<Zone>, StoreError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT code, name, name_en FROM zones ORDER BY code").fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(|(code, name, name_en)| Zone { code, name, name_en }).collect())
    }

    /// Departments of the counties at or under `within` (all when `None`).
    pub async fn departments(&self, within: Option<&PlaceCode>) -> Result<Vec<Department>, StoreError> {
        let prefix = within.map(|p| p.jurisdiction_prefix().to_string()).unwrap_or_default();
        let rows: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
            "SELECT id, place_code, code, name, short_name, name_en FROM departments WHERE place_code LIKE $1 ORDER BY place_code, code",
        )
        .bind(format!("{prefix}%"))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, place, code, name, short_name, name_en)| Department {
                id,
                place,
                code,
                name,
                short_name,
                name_en,
            })
            .collect())
    }

    pub async fn windows(&self, within: Option<&PlaceCode>) -> Result<Vec<Window>, StoreError> {
        let prefix = within.map(|p| p.jurisdiction_prefix().to_string()).unwrap_or_default();
        let rows: Vec<(i64, String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, place_code, code, name, zone_code, general, active FROM windows WHERE place_code LIKE $1 ORDER BY place_code, code",
        )
        .bind(format!("{prefix}%"))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, place, code, name, zone, general, active)| Window {
                id,
                place,
                code,
                name,
                zone,
                general: general != 0,
                active: active != 0,
            })
            .collect())
    }
}

fn required(field: &str, v: &str, zh: &str, en: &str) -> Result<(), StoreError> {
    if v.trim().is_empty() {
        Err(StoreError::Invalid(
            onewindow_core::FieldError::new(field, format!("{zh}不能为空"), format!("{en} is required")).into(),
        ))
    } else {
        Ok(())
    }
}

impl WriteTx {
    /// Adds or renames a place. A place's parent must exist and be one level up the tree.
    pub async fn save_place(&mut self, p: &Place) -> Result<(), StoreError> {
        let code = PlaceCode::parse(&p.code)?;
        required("name", &p.name, "名称", "name")?;
        if code.level() != p.level {
            return Err(StoreError::Invalid(
                onewindow_core::FieldError::new(
                    "level",
                    format!("代码 {} 对应的层级是 {}", p.code, code.level().zh()),
                    format!("code {} is a {} code", p.code, code.level()),
                )
                .into(),
            ));
        }
        if let Some(parent) = &p.parent {
            let parent_code = PlaceCode::parse(parent).map_err(|e| e.at("parent"))?;
            let exists: Option<String> = sqlx::query_scalar("SELECT code FROM places WHERE code = $1")
                .bind(parent)
                .fetch_optional(self.conn())
                .await?;
            if exists.is_none() || !code.is_within(&parent_code) || parent_code == code {
                return Err(StoreError::Invalid(
                    onewindow_core::FieldError::new(
                        "parent",
                        format!("上级区划 {parent} 不存在或不是 {} 的上级", p.code),
                        format!("parent {parent} does not exist or does not contain {}", p.code),
                    )
                    .into(),
                ));
            }
        }
        sqlx::query(
            "INSERT INTO places (code, name, name_en, level, parent_code) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en",
        )
        .bind(&p.code)
        .bind(p.name.trim())
        .bind(p.name_en.trim())
        .bind(p.level.code())
        .bind(&p.parent)
        .execute(self.conn())
        .await?;
        self.record("place.saved", &p.code, &p.code, serde_json::to_value(p)?).await?;
        Ok(())
    }

    pub async fn save_zone(&mut self, z: &Zone) -> Result<(), StoreError> {
        required("code", &z.code, "编码", "code")?;
        required("name", &z.name, "名称", "name")?;
        sqlx::query(
            "INSERT INTO zones (code, name, name_en) VALUES ($1, $2, $3) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en",
        )
        .bind(z.code.trim())
        .bind(z.name.trim())
        .bind(z.name_en.trim())
        .execute(self.conn())
        .await?;
        self.record("zone.saved", "", &z.code, serde_json::to_value(z)?).await?;
        Ok(())
    }

    /// Adds or renames a department of a county; returns its id.
    pub async fn save_department(&mut self, d: &Department) -> Result<i64, StoreError> {
        required("code", &d.code, "编码", "code")?;
        required("name", &d.name, "名称", "name")?;
        let place = PlaceCode::parse(&d.place).map_err(|e| e.at("place"))?;
        if place.level() != PlaceLevel::County {
            return Err(StoreError::Invalid(
                onewindow_core::FieldError::new("place", "部门应属于一个县", "a department belongs to a county").into(),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO departments (place_code, code, name, short_name, name_en) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (place_code, code) DO UPDATE SET name = excluded.name, short_name = excluded.short_name, name_en = excluded.name_en \
             RETURNING id",
        )
        .bind(&d.place)
        .bind(d.code.trim())
        .bind(d.name.trim())
        .bind(d.short_name.trim())
        .bind(d.name_en.trim())
        .fetch_one(self.conn())
        .await?;
        self.record("department.saved", &d.place, &d.code, serde_json::to_value(d)?).await?;
        Ok(id)
    }

    pub async fn save_window(&mut self, w: &Window) -> Result<i64, StoreError> {
        required("code", &w.code, "窗口编号", "window code")?;
        required("name", &w.name, "名称", "name")?;
        PlaceCode::parse(&w.place).map_err(|e| e.at("place"))?;
        let zone: Option<String> = sqlx::query_scalar("SELECT code FROM zones WHERE code = $1")
            .bind(&w.zone)
            .fetch_optional(self.conn())
            .await?;
        if zone.is_none() {
            return Err(StoreError::Invalid(
                onewindow_core::FieldError::new(
                    "zone",
                    format!("业务板块“{}”不存在", w.zone),
                    format!("zone \"{}\" does not exist", w.zone),
                )
                .into(),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO windows (place_code, code, name, zone_code, general, active) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (place_code, code) DO UPDATE SET name = excluded.name, zone_code = excluded.zone_code, \
             general = excluded.general, active = excluded.active RETURNING id",
        )
        .bind(&w.place)
        .bind(w.code.trim())
        .bind(w.name.trim())
        .bind(&w.zone)
        .bind(w.general as i64)
        .bind(w.active as i64)
        .fetch_one(self.conn())
        .await?;
        self.record("window.saved", &w.place, &w.code, serde_json::to_value(w)?).await?;
        Ok(id)
    }
}
