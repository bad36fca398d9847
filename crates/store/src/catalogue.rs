//! The stored catalogue: items with their versions, imports (all or nothing), and the coverage report.

use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::org::{Department, Zone};
use crate::write::WriteTx;
use onewindow_core::catalogue::{CatalogueRefs, Item, ItemInput};
use onewindow_core::place::{PlaceCode, PlaceLevel};
use onewindow_core::sheet::{self, Format};
use onewindow_core::FieldError;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct StoredItem {
    pub id: i64,
    /// The county that implements it.
    pub place: String,
    pub version: i64,
    pub department_name: String,
    pub zone_name: String,
    pub updated_at: i64,
    #[serde(flatten)]
    pub item: Item,
}

/// Departments and zones an item of one county may name, by code or by name.
pub struct StoreRefs {
    departments: Vec<Department>,
    zones: Vec<Zone>,
}

impl CatalogueRefs for StoreRefs {
    fn department(&self, s: &str) -> Option<String> {
        let s = s.trim();
        self.departments
            .iter()
            .find(|d| d.code == s || d.name == s || (!d.short_name.is_empty() && d.short_name == s))
            .map(|d| d.code.clone())
    }
    fn zone(&self, s: &str) -> Option<String> {
        let s = s.trim();
        self.zones
            .iter()
            .find(|z| z.code == s || z.name == s || z.name_en.eq_ignore_ascii_case(s))
            .map(|z| z.code.clone())
    }
}

impl StoreRefs {
    pub(crate) fn new(departments: Vec<Department>, zones: Vec<Zone>) -> Self {
        StoreRefs { departments, zones }
    }

    pub(crate) fn department_id(&self, code: &str) -> Option<i64> {
        self.departments.iter().find(|d| d.code == code).map(|d| d.id)
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoverageRow {
    pub code: String,
    pub name: String,
    pub items: i64,
    pub zero_trip: i64,
    pub at_most_one_trip: i64,
    pub zero_trip_share: f64,
    pub at_most_one_share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub place: String,
    pub overall: CoverageRow,
    /// How many departments have at least one zero-trip item (the seed: 357 items of 21 departments).
    pub departments_with_zero_trip: i64,
    pub by_department: Vec<CoverageRow>,
    pub by_zone: Vec<CoverageRow>,
    /// The share of handled cases whose item is zero-trip; none until cases exist.
    pub volume_weighted_zero_trip_share: Option<f64>,
}

fn share(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        ((part as f64 / whole as f64) * 10000.0).round() / 10000.0
    }
}

fn row(code: String, name: String, items: i64, zero: i64, one: i64) -> CoverageRow {
    CoverageRow {
        code,
        name,
        items,
        zero_trip: zero,
        at_most_one_trip: one,
        zero_trip_share: share(zero, items),
        at_most_one_share: share(one, items),
    }
}

/// Items, zero-trip items and at-most-one-trip items of a selection of `items i`.
const COVERAGE_COUNTS: &str = "COUNT(*), CAST(SUM(CASE WHEN i.trip_level = 0 THEN 1 ELSE 0 END) AS BIGINT), \
     CAST(SUM(CASE WHEN i.trip_level <= 1 THEN 1 ELSE 0 END) AS BIGINT)";

type ItemRow = (i64, String, i64, String, i64, String, String);

const ITEM_SELECT: &str =
    "SELECT i.id, i.place_code, i.version, i.data, i.updated_at, d.name, COALESCE(z.name, i.zone_code) \
     FROM items i JOIN departments d ON d.id = i.department_id LEFT JOIN zones z ON z.code = i.zone_code";

fn stored(r: ItemRow) -> Result<StoredItem, StoreError> {
    Ok(StoredItem {
        id: r.0,
        place: r.1,
        version: r.2,
        item: serde_json::from_str(&r.3)?,
        updated_at: r.4,
        department_name: r.5,
        zone_name: r.6,
    })
}

impl Store {
    /// What items of this county may refer to.
    pub async fn catalogue_refs(&self, county: &PlaceCode) -> Result<StoreRefs, StoreError> {
        Ok(StoreRefs { departments: self.departments(Some(county)).await?, zones: self.zones().await? })
    }

    /// Every item of the places at or under `within` (all when `None`), by code.
    pub async fn items(&self, within: Option<&PlaceCode>) -> Result<Vec<StoredItem>, StoreError> {
        let prefix = within.map(|p| p.jurisdiction_prefix().to_string()).unwrap_or_default();
        let rows: Vec<ItemRow> = sqlx::query_as(&format!("{ITEM_SELECT} WHERE i.place_code LIKE $1 ORDER BY i.code"))
            .bind(format!("{prefix}%"))
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(stored).collect()
    }

    pub async fn item(&self, code: &str) -> Result<StoredItem, StoreError> {
        let row: Option<ItemRow> =
            sqlx::query_as(&format!("{ITEM_SELECT} WHERE i.code = $1")).bind(code).fetch_optional(self.pool()).await?;
        row.map(stored).transpose()?.ok_or_else(|| StoreError::not_found(format!("item {code}")))
    }

    /// One version of an item as it was: what a case accepted under that version keeps.
    pub async fn item_version(&self, code: &str, version: i64) -> Result<Item, StoreError> {
        let data: Option<String> = sqlx::query_scalar(
            "SELECT v.data FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.code = $1 AND v.version = $2",
        )
        .bind(code)
        .bind(version)
        .fetch_optional(self.pool())
        .await?;
        let data = data.ok_or_else(|| StoreError::not_found(format!("item {code} version {version}")))?;
        Ok(serde_json::from_str(&data)?)
    }

    /// The versions of an item: (version, when, who).
    pub async fn item_history(&self, code: &str) -> Result<Vec<(i64, i64, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT v.version, v.created_at, v.actor FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.code = $1 ORDER BY v.version DESC",
        )
        .bind(code)
        .fetch_all(self.pool())
        .await?)
    }

    /// Reads a catalogue file and saves it whole, or reports every bad row and saves nothing.
    pub async fn import_catalogue(
        &self,
        county: &PlaceCode,
        format: Format,
        bytes: &[u8],
        actor: &crate::Actor,
    ) -> Result<ImportOutcome, StoreError> {
        let refs = self.catalogue_refs(county).await?;
        let items = sheet::read(format, bytes, &refs).map_err(StoreError::Rows)?;
        let mut tx = self.begin(actor).await?;
        let outcome = tx.save_items(county, &items, &refs).await?;
        if outcome.created + outcome.updated == 0 {
            // Nothing changed; still leave a trace that an import ran.
            tx.record("catalogue.imported", county.as_str(), "catalogue", serde_json::to_value(&outcome)?).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Validates and saves one item (a new version if it changed).
    pub async fn save_item(
        &self,
        county: &PlaceCode,
        input: &ItemInput,
        actor: &crate::Actor,
    ) -> Result<StoredItem, StoreError> {
        let refs = self.catalogue_refs(county).await?;
        let item = input.validate(&refs)?;
        let mut tx = self.begin(actor).await?;
        let outcome = tx.save_items(county, std::slice::from_ref(&item), &refs).await?;
        if outcome.unchanged == 1 {
            tx.record("item.unchanged", county.as_str(), item.code.as_str(), serde_json::json!({})).await?;
        }
        tx.commit().await?;
        self.item(item.code.as_str()).await
    }

    pub async fn export_catalogue(&self, within: Option<&PlaceCode>, format: Format) -> Result<Vec<u8>, StoreError> {
        let items: Vec<Item> = self.items(within).await?.into_iter().map(|s| s.item).collect();
        sheet::write(format, &items).map_err(StoreError::Corrupt)
    }

    /// The catalogue of places at or under `within`, all items together: how many are zero-trip and at
    /// most one trip. Reads items only (the dashboard's share; `coverage` adds the volume-weighted one).
    pub async fn catalogue_overall(&self, within: &PlaceCode) -> Result<CoverageRow, StoreError> {
        let overall: (i64, Option<i64>, Option<i64>) =
            sqlx::query_as(&format!("SELECT {COVERAGE_COUNTS} FROM items i WHERE i.place_code LIKE $1"))
                .bind(format!("{}%", within.jurisdiction_prefix()))
                .fetch_one(self.pool())
                .await?;
        Ok(row("all".into(), "全部".into(), overall.0, overall.1.unwrap_or(0), overall.2.unwrap_or(0)))
    }

    /// Zero-trip coverage of the catalogue of places at or under `within`.
    pub async fn coverage(&self, within: &PlaceCode) -> Result<Coverage, StoreError> {
        let like = format!("{}%", within.jurisdiction_prefix());
        let counts = COVERAGE_COUNTS;
        let overall = self.catalogue_overall(within).await?;
        let by_department: Vec<(String, String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(&format!(
            "SELECT d.code, d.name, {counts} FROM items i JOIN departments d ON d.id = i.department_id \
             WHERE i.place_code LIKE $1 GROUP BY d.code, d.name ORDER BY d.code"
        ))
        .bind(&like)
        .fetch_all(self.pool())
        .await?;
        let by_zone: Vec<(String, String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(&format!(
            "SELECT z.code, z.name, {counts} FROM items i JOIN zones z ON z.code = i.zone_code \
             WHERE i.place_code LIKE $1 GROUP BY z.code, z.name ORDER BY z.code"
        ))
        .bind(&like)
        .fetch_all(self.pool())
        .await?;
        let to_rows = |v: Vec<(String, String, i64, Option<i64>, Option<i64>)>| {
            v.into_iter().map(|(c, n, t, z, o)| row(c, n, t, z.unwrap_or(0), o.unwrap_or(0))).collect::<Vec<_>>()
        };
        let by_department = to_rows(by_department);
        Ok(Coverage {
            place: within.to_string(),
            overall,
            departments_with_zero_trip: by_department.iter().filter(|r| r.zero_trip > 0).count() as i64,
            by_department,
            by_zone: to_rows(by_zone),
            volume_weighted_zero_trip_share: self.volume_weighted_zero_trip(within).await?,
        })
    }
}

impl WriteTx {
    /// Saves items of one county: new ones as version 1, changed ones as a new version, identical ones
    /// untouched. A code that belongs to another county is refused.
    pub async fn save_items(
        &mut self,
        county: &PlaceCode,
        items: &[Item],
        refs: &StoreRefs,
    ) -> Result<ImportOutcome, StoreError> {
        if county.level() != PlaceLevel::County {
            return Err(FieldError::new("place", "事项应属于一个县", "items belong to a county").into());
        }
        let mut out = ImportOutcome::default();
        let actor = self.actor().name.clone();
        for item in items {
            let department_id = refs
                .department_id(&item.department)
                .ok_or_else(|| StoreError::Corrupt(format!("department {} vanished", item.department)))?;
            let data = serde_json::to_string(item)?;
            let existing: Option<(i64, String, i64, String)> =
                sqlx::query_as("SELECT id, place_code, version, data FROM items WHERE code = $1")
                    .bind(item.code.as_str())
                    .fetch_optional(self.conn())
                    .await?;
            let now = now_ms();
            let (id, version) = match existing {
                Some((_, place, _, _)) if place != county.as_str() => {
                    return Err(StoreError::conflict(
                        "code",
                        format!("事项编码“{}”已属于区划 {place}", item.code),
                        format!("item code \"{}\" already belongs to place {place}", item.code),
                    ))
                }
                Some((_, _, _, old)) if serde_json::from_str::<Item>(&old).ok().as_ref() == Some(item) => {
                    out.unchanged += 1;
                    continue;
                }
                Some((id, _, version, _)) => {
                    sqlx::query(
                        "UPDATE items SET version = $1, department_id = $2, zone_code = $3, name = $4, trip_level = $5, data = $6, updated_at = $7 WHERE id = $8",
                    )
                    .bind(version + 1)
                    .bind(department_id)
                    .bind(&item.zone)
                    .bind(&item.name)
                    .bind(i64::from(item.trip_level))
                    .bind(&data)
                    .bind(now)
                    .bind(id)
                    .execute(self.conn())
                    .await?;
                    out.updated += 1;
                    (id, version + 1)
                }
                None => {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO items (code, place_code, version, department_id, zone_code, name, trip_level, data, updated_at) \
                         VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8) RETURNING id",
                    )
                    .bind(item.code.as_str())
                    .bind(county.as_str())
                    .bind(department_id)
                    .bind(&item.zone)
                    .bind(&item.name)
                    .bind(i64::from(item.trip_level))
                    .bind(&data)
                    .bind(now)
                    .fetch_one(self.conn())
                    .await?;
                    out.created += 1;
                    (id, 1)
                }
            };
            sqlx::query(
                "INSERT INTO item_versions (item_id, version, data, created_at, actor) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(version)
            .bind(&data)
            .bind(now)
            .bind(&actor)
            .execute(self.conn())
            .await?;
            self.record(
                "item.saved",
                county.as_str(),
                item.code.as_str(),
                serde_json::json!({"version": version, "name": item.name}),
            )
            .await?;
        }
        Ok(out)
    }
}
