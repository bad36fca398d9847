//! The demo county, modelled on 常山县 in the seed article: places, zones, departments, windows,
//! items and one staff account per role. Loaded on first start into an empty database.

use crate::catalogue::StoreRefs;
use crate::db::Store;
use crate::error::StoreError;
use crate::org::{Department, Place, Window, Zone};
use crate::write::Actor;
use crate::NewStaff;
use onewindow_core::catalogue::ItemInput;
use onewindow_core::place::PlaceCode;
use serde::Deserialize;

/// Every demo account has this password; the server prints it at start.
pub const DEMO_PASSWORD: &str = "changshan2018";

pub const DEMO_JSON: &str = include_str!("../seed/demo-county.json");

#[derive(Debug, Deserialize)]
pub struct DemoCounty {
    pub places: Vec<Place>,
    pub zones: Vec<Zone>,
    pub departments: Vec<Department>,
    pub windows: Vec<Window>,
    pub items: Vec<ItemInput>,
    pub staff: Vec<DemoStaff>,
    /// Items that use a flow other than the default for their channel.
    #[serde(default)]
    pub item_flows: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct DemoStaff {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub department: Option<String>,
    pub place: String,
}

pub fn demo() -> Result<DemoCounty, StoreError> {
    Ok(serde_json::from_str(DEMO_JSON)?)
}

impl DemoCounty {
    /// The county of the demo (the one place at county level).
    pub fn county(&self) -> Result<PlaceCode, StoreError> {
        self.places
            .iter()
            .find(|p| p.level == onewindow_core::place::PlaceLevel::County)
            .map(|p| PlaceCode::parse(&p.code))
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt("the demo has no county".into()))
    }
}

impl Store {
    /// True when nothing has been set up yet.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM places").fetch_one(self.pool()).await?;
        Ok(n == 0)
    }

    /// Loads a county description (the demo's shape) in one transaction: all of it, or nothing.
    pub async fn load_county(&self, c: &DemoCounty, staff_password: &str) -> Result<(), StoreError> {
        let county = c.county()?;
        let actor = Actor::system();
        let mut tx = self.begin(&actor).await?;
        for p in &c.places {
            tx.save_place(p).await?;
        }
        for z in &c.zones {
            tx.save_zone(z).await?;
        }
        for d in &c.departments {
            tx.save_department(&Department { place: county.to_string(), ..d.clone() }).await?;
        }
        // One queue per zone that has windows, lettered like its windows (A1 → queue A); each window
        // serves its zone's queue.
        let mut queues: Vec<(String, i64)> = Vec::new();
        for w in &c.windows {
            let window_id = tx.save_window(&Window { place: county.to_string(), ..w.clone() }).await?;
            let queue_id = match queues.iter().find(|(z, _)| *z == w.zone) {
                Some((_, id)) => *id,
                None => {
                    let prefix: String = w.code.chars().take_while(|c| c.is_ascii_uppercase()).collect();
                    let zone_name =
                        c.zones.iter().find(|z| z.code == w.zone).map(|z| z.name.clone()).unwrap_or_default();
                    let name = if w.general { format!("{zone_name}（综合受理）") } else { zone_name };
                    let id = tx.save_queue(county.as_str(), &w.zone, &prefix, &name, &w.zone).await?;
                    queues.push((w.zone.clone(), id));
                    id
                }
            };
            tx.add_window_queue(window_id, queue_id, 0).await?;
        }
        // Departments are visible to this transaction only, so build the references from it.
        let departments: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
            "SELECT id, place_code, code, name, short_name, name_en FROM departments WHERE place_code = $1",
        )
        .bind(county.as_str())
        .fetch_all(tx.conn())
        .await?;
        let refs = StoreRefs::new(
            departments
                .into_iter()
                .map(|(id, place, code, name, short_name, name_en)| Department {
                    id,
                    place,
                    code,
                    name,
                    short_name,
                    name_en,
                })
                .collect(),
            c.zones.clone(),
        );
        let mut items = Vec::new();
        let mut errs = onewindow_core::Invalid::default();
        for (i, input) in c.items.iter().enumerate() {
            match input.validate(&refs) {
                Ok(item) => items.push(item),
                Err(e) => errs.0.extend(e.0.into_iter().map(|f| {
                    let field = format!("items[{i}].{}", f.field);
                    f.at(field)
                })),
            }
        }
        if !errs.is_empty() {
            return Err(StoreError::Invalid(errs));
        }
        tx.save_items(&county, &items, &refs).await?;
        for (item, flow) in &c.item_flows {
            sqlx::query("INSERT INTO item_flows (item_code, flow_code) VALUES ($1, $2) ON CONFLICT (item_code) DO UPDATE SET flow_code = excluded.flow_code")
                .bind(item)
                .bind(flow)
                .execute(tx.conn())
                .await?;
        }
        for s in &c.staff {
            let department_id = match &s.department {
                Some(code) => Some(
                    refs.department_id(code).ok_or_else(|| StoreError::Corrupt(format!("demo department {code}")))?,
                ),
                None => None,
            };
            tx.create_staff(&NewStaff {
                username: s.username.clone(),
                display_name: s.display_name.clone(),
                password: staff_password.to_string(),
                role: s.role.clone(),
                department_id,
                place: s.place.clone(),
            })
            .await?;
        }
        tx.seed_exchange(&county).await?;
        tx.commit().await?;
        Ok(())
    }
}
