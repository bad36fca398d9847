//! Online applications (网上申报): a citizen fills in the item's declared form, uploads materials,
//! saves a draft and submits; submission opens a case on the `online` channel in the same
//! transaction. Files are content-addressed (SHA-256 of the bytes), sealed at rest, and checked by
//! content before anything is written: a request with one bad file stores nothing.

use crate::case_actions::ActionInput;
use crate::cases::{CaseActor, NewCase};
use crate::citizens::Citizen;
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::WriteTx;
use base64::Engine;
use chrono::NaiveDate;
use onewindow_core::catalogue::Channel;
use onewindow_core::form::check_answers;
use onewindow_core::ids::IdNumber;
use onewindow_core::place::PlaceCode;
use onewindow_core::upload::{check_file, clean_file_name, sha256_hex, CheckedFile};
use onewindow_core::{FieldError, Invalid};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// How the result reaches the citizen.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeliveryChoice {
    /// pickup, express or electronic.
    pub method: String,
    #[serde(default)]
    pub recipient: String,
    #[serde(default)]
    pub address: String,
}

impl DeliveryChoice {
    pub fn check(&self) -> Result<(), Invalid> {
        let mut errs = Invalid::default();
        match self.method.as_str() {
            "pickup" | "electronic" => {}
            "express" => {
                if self.recipient.trim().is_empty() || self.recipient.chars().count() > 50 {
                    errs.push(FieldError::new(
                        "delivery.recipient",
                        "请填写收件人（50字以内）",
                        "the recipient is required (≤ 50)",
                    ));
                }
                if self.address.trim().chars().count() < 5 || self.address.chars().count() > 200 {
                    errs.push(FieldError::new(
                        "delivery.address",
                        "请填写完整的收件地址（5到200字）",
                        "a full delivery address is required (5 to 200 characters)",
                    ));
                }
            }
            m => errs.push(FieldError::new(
                "delivery.method",
                format!("送达方式“{m}”无效，可选：pickup（窗口领取）、express（免费快递）、electronic（电子送达）"),
                format!("delivery method \"{m}\" must be pickup, express or electronic"),
            )),
        }
        errs.into_result(())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApplicationInput {
    #[serde(default)]
    pub applicant_name: String,
    #[serde(default)]
    pub applicant_id_number: String,
    #[serde(default)]
    pub answers: Map<String, Value>,
    #[serde(default)]
    pub delivery: Option<DeliveryChoice>,
}

/// A file as it arrives: the material it is for, the name the citizen gave it, its bytes.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub material: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    pub id: i64,
    pub material: String,
    pub file_name: String,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    /// application or correction.
    pub purpose: String,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    pub id: i64,
    pub item_code: String,
    pub item_name: String,
    /// draft, submitted or discarded.
    pub state: String,
    pub applicant_name: String,
    pub applicant_id_number: String,
    pub answers: Map<String, Value>,
    pub delivery: Option<DeliveryChoice>,
    pub files: Vec<FileView>,
    pub case_id: Option<i64>,
    pub case_number: Option<String>,
    pub updated_at: i64,
}

type FileRow = (i64, String, String, String, String, i64, String, i64);
type AppRow = (i64, String, String, String, String, Option<String>, String, Option<String>, Option<i64>, i64);
const APP_SELECT: &str = "SELECT a.id, a.item_code, a.state, a.phone_hash, a.applicant_name, a.applicant_id_number, a.answers, a.delivery, a.case_id, a.updated_at FROM applications a";

fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> StoreError {
    StoreError::Invalid(Invalid::one(FieldError::new(field, zh, en)))
}

impl Store {
    fn citizen_actor(&self, c: &Citizen, county: &PlaceCode) -> CaseActor {
        CaseActor { actor: c.actor(), role: "citizen".into(), place: county.clone(), department: None }
    }

    /// Checks the files of a request before anything is written: each is a PDF/JPEG/PNG, whole, within
    /// the limit, and for a material of the item.
    fn check_uploads(&self, materials: &[String], uploads: &[NewUpload]) -> Result<Vec<CheckedFile>, Invalid> {
        let mut errs = Invalid::default();
        let mut out = Vec::new();
        for u in uploads {
            let field = format!("files.{}", u.material);
            if !materials.iter().any(|m| m == &u.material) {
                errs.push(FieldError::new(
                    &field,
                    format!("“{}”不是该事项的申请材料", u.material),
                    format!("\"{}\" is not a material of this item", u.material),
                ));
                continue;
            }
            match check_file(&field, &u.bytes) {
                Ok(c) => out.push(c),
                Err(e) => errs.push(e),
            }
        }
        errs.into_result(out)
    }

    /// Stores checked files for an application (content once per address) with their links.
    async fn store_files(
        &self,
        tx: &mut WriteTx,
        application: i64,
        uploads: &[NewUpload],
        checked: &[CheckedFile],
        purpose: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        for (u, c) in uploads.iter().zip(checked) {
            let content = tx.vault().seal(&base64::engine::general_purpose::STANDARD.encode(&u.bytes));
            sqlx::query(
                "INSERT INTO uploads (sha256, mime, size, content, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&c.sha256)
            .bind(c.kind.mime())
            .bind(c.size as i64)
            .bind(content)
            .bind(now)
            .execute(tx.conn())
            .await?;
            let name = tx.vault().seal(&clean_file_name(&u.file_name));
            sqlx::query(
                "INSERT INTO application_files (application_id, material, sha256, file_name, mime, size, purpose, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(application)
            .bind(&u.material)
            .bind(&c.sha256)
            .bind(name)
            .bind(c.kind.mime())
            .bind(c.size as i64)
            .bind(purpose)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Ok(())
    }

    /// Saves a draft (new when `id` is None) and, with `submit`, submits it: every check passes or
    /// nothing is written.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_application(
        &self,
        citizen: &Citizen,
        id: Option<i64>,
        item_code: &str,
        input: &ApplicationInput,
        uploads: &[NewUpload],
        submit: bool,
        today: Option<NaiveDate>,
    ) -> Result<ApplicationView, StoreError> {
        let stored = self.item(item_code).await.map_err(|_| {
            invalid("item", format!("事项“{item_code}”不存在"), format!("item \"{item_code}\" does not exist"))
        })?;
        let item = &stored.item;
        if !item.has_channel(Channel::Online) && !item.has_channel(Channel::Mobile) {
            return Err(invalid(
                "item",
                format!("“{}”不能网上申请，请预约到窗口办理", item.name),
                format!("\"{}\" cannot be applied for online; book a window appointment", item.name),
            ));
        }
        let county = PlaceCode::parse(&stored.place)?;
        let mut errs = Invalid::default();
        let name = input.applicant_name.trim();
        if name.chars().count() > 50 || (submit && name.is_empty()) {
            errs.push(FieldError::new(
                "applicant_name",
                "请填写申请人姓名（50字以内）",
                "the applicant's name is required (≤ 50)",
            ));
        }
        let id_number = match input.applicant_id_number.trim() {
            "" if submit => {
                errs.push(FieldError::new("applicant_id_number", "请填写身份证号码", "the ID number is required"));
                None
            }
            "" => None,
            s => IdNumber::parse(s).map_err(|e| errs.push(e.at("applicant_id_number"))).ok(),
        };
        let answers =
            check_answers(&item.fields, &input.answers, submit).map_err(|e| errs.0.extend(e.0)).unwrap_or_default();
        if let Some(d) = &input.delivery {
            if let Err(e) = d.check() {
                errs.0.extend(e.0);
            }
        } else if submit {
            errs.push(FieldError::new("delivery.method", "请选择结果送达方式", "choose how the result reaches you"));
        }
        let materials: Vec<String> = item.materials.iter().map(|m| m.name.clone()).collect();
        let checked = self.check_uploads(&materials, uploads).map_err(|e| errs.0.extend(e.0)).unwrap_or_default();
        errs.into_result(())?;

        let vault = self.vault().clone();
        let now = now_ms();
        let mut tx = self.begin(&citizen.actor()).await?;
        let app_id = match id {
            Some(id) => {
                let row: Option<AppRow> = sqlx::query_as(&format!("{APP_SELECT} WHERE a.id = $1"))
                    .bind(id)
                    .fetch_optional(tx.conn())
                    .await?;
                let row = row
                    .filter(|r| r.3 == citizen.phone_hash && r.1 == item.code.as_str())
                    .ok_or_else(|| StoreError::not_found(format!("application {id}")))?;
                if row.2 != "draft" {
                    return Err(StoreError::conflict("state", "该申请已提交，不能再修改", "the application was submitted; it cannot change"));
                }
                sqlx::query(
                    "UPDATE applications SET applicant_name = $1, applicant_id_number = $2, answers = $3, delivery = $4, updated_at = $5 WHERE id = $6",
                )
                .bind(vault.seal(name))
                .bind(id_number.as_ref().map(|i| vault.seal(i.as_str())))
                .bind(vault.seal(&Value::Object(answers.clone()).to_string()))
                .bind(input.delivery.as_ref().map(|d| vault.seal(&json!(d).to_string())))
                .bind(now)
                .bind(id)
                .execute(tx.conn())
                .await?;
                id
            }
            None => {
                sqlx::query_scalar(
                    "INSERT INTO applications (phone_hash, phone, item_code, place_code, state, applicant_name, applicant_id_number, answers, delivery, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $9, $9) RETURNING id",
                )
                .bind(&citizen.phone_hash)
                .bind(vault.seal(citizen.phone.as_str()))
                .bind(item.code.as_str())
                .bind(county.as_str())
                .bind(vault.seal(name))
                .bind(id_number.as_ref().map(|i| vault.seal(i.as_str())))
                .bind(vault.seal(&Value::Object(answers.clone()).to_string()))
                .bind(input.delivery.as_ref().map(|d| vault.seal(&json!(d).to_string())))
                .bind(now)
                .fetch_one(tx.conn())
                .await?
            }
        };
        self.store_files(&mut tx, app_id, uploads, &checked, "application").await?;
        tx.record(
            "application.saved",
            county.as_str(),
            &format!("application:{app_id}"),
            json!({"item": item.code.as_str(), "files": uploads.len()}),
        )
        .await?;
        if submit {
            let have: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT material FROM application_files WHERE application_id = $1 AND removed = 0",
            )
            .bind(app_id)
            .fetch_all(tx.conn())
            .await?;
            let missing_key: Vec<&str> =
                item.materials.iter().filter(|m| m.key && !have.contains(&m.name)).map(|m| m.name.as_str()).collect();
            if !missing_key.is_empty() {
                return Err(StoreError::Invalid(Invalid(
                    missing_key
                        .iter()
                        .map(|m| {
                            FieldError::new(format!("files.{m}"), format!("请上传“{m}”"), format!("upload \"{m}\""))
                        })
                        .collect(),
                )));
            }
            let by = self.citizen_actor(citizen, &county);
            let new_case = NewCase {
                item: item.code.to_string(),
                applicant_name: name.to_string(),
                applicant_id_number: id_number.clone(),
                applicant_phone: Some(citizen.phone.clone()),
                channel: "online".into(),
                materials: have.iter().map(|m| (m.clone(), "received".to_string())).collect(),
                // Non-key materials not uploaded: accepted tolerantly, to be supplied later (容缺).
                tolerant: item.materials.iter().any(|m| !have.contains(&m.name)),
                supplement_days: 5,
                ticket_id: None,
                place: county.clone(),
            };
            let case_id = self.accept_case_in(&mut tx, &by, &new_case, today).await?;
            sqlx::query("UPDATE cases SET delivery_choice = $1, version = version + 1 WHERE id = $2")
                .bind(input.delivery.as_ref().map(|d| vault.seal(&json!(d).to_string())))
                .bind(case_id)
                .execute(tx.conn())
                .await?;
            sqlx::query("UPDATE applications SET state = 'submitted', case_id = $1, updated_at = $2 WHERE id = $3")
                .bind(case_id)
                .bind(now)
                .bind(app_id)
                .execute(tx.conn())
                .await?;
            tx.record(
                "application.submitted",
                county.as_str(),
                &format!("application:{app_id}"),
                json!({"case": case_id}),
            )
            .await?;
        }
        tx.commit().await?;
        self.application(citizen, app_id).await
    }

    /// One of the citizen's own applications (404 for anyone else's).
    pub async fn application(&self, citizen: &Citizen, id: i64) -> Result<ApplicationView, StoreError> {
        let row: Option<AppRow> =
            sqlx::query_as(&format!("{APP_SELECT} WHERE a.id = $1")).bind(id).fetch_optional(self.pool()).await?;
        let row = row
            .filter(|r| r.3 == citizen.phone_hash && r.2 != "discarded")
            .ok_or_else(|| StoreError::not_found(format!("application {id}")))?;
        self.application_view(row).await
    }

    async fn application_view(&self, r: AppRow) -> Result<ApplicationView, StoreError> {
        let v = self.vault();
        let (id, item_code, state, _, name, id_number, answers, delivery, case_id, updated_at) = r;
        let item_name = self.item(&item_code).await.map(|i| i.item.name).unwrap_or_else(|_| item_code.clone());
        let case_number: Option<String> = match case_id {
            Some(c) => {
                sqlx::query_scalar("SELECT number FROM cases WHERE id = $1").bind(c).fetch_optional(self.pool()).await?
            }
            None => None,
        };
        let open = |s: &str| v.open(s).map_err(|e| StoreError::Corrupt(format!("application {id}: {e}")));
        Ok(ApplicationView {
            id,
            item_code,
            item_name,
            state,
            applicant_name: open(&name)?,
            applicant_id_number: id_number.as_deref().map(open).transpose()?.unwrap_or_default(),
            answers: serde_json::from_str(&open(&answers)?)?,
            delivery: delivery.as_deref().map(open).transpose()?.map(|d| serde_json::from_str(&d)).transpose()?,
            files: self.application_files(id).await?,
            case_id,
            case_number,
            updated_at,
        })
    }

    async fn application_files(&self, application: i64) -> Result<Vec<FileView>, StoreError> {
        let rows: Vec<FileRow> = sqlx::query_as(
            "SELECT id, material, sha256, file_name, mime, size, purpose, at FROM application_files WHERE application_id = $1 AND removed = 0 ORDER BY id",
        )
        .bind(application)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(id, material, sha256, name, mime, size, purpose, at)| {
                Ok(FileView {
                    id,
                    material,
                    file_name: self.vault().open(&name).unwrap_or_else(|_| "file".into()),
                    mime,
                    size,
                    sha256,
                    purpose,
                    at,
                })
            })
            .collect()
    }

    /// The citizen's drafts and submitted applications, newest first.
    pub async fn applications_of(&self, citizen: &Citizen) -> Result<Vec<ApplicationView>, StoreError> {
        let rows: Vec<AppRow> = sqlx::query_as(&format!(
            "{APP_SELECT} WHERE a.phone_hash = $1 AND a.state <> 'discarded' ORDER BY a.updated_at DESC LIMIT 100"
        ))
        .bind(&citizen.phone_hash)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.application_view(r).await?);
        }
        Ok(out)
    }

    /// Discards a draft, or removes one file of a draft.
    pub async fn discard_draft(&self, citizen: &Citizen, id: i64, file: Option<i64>) -> Result<(), StoreError> {
        let app = self.application(citizen, id).await?;
        if app.state != "draft" {
            return Err(StoreError::conflict(
                "state",
                "已提交的申请不能删除，可在办件中撤回",
                "a submitted application cannot be discarded; withdraw the case",
            ));
        }
        let mut tx = self.begin(&citizen.actor()).await?;
        match file {
            Some(f) => {
                let n = sqlx::query(
                    "UPDATE application_files SET removed = 1 WHERE id = $1 AND application_id = $2 AND removed = 0",
                )
                .bind(f)
                .bind(id)
                .execute(tx.conn())
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::not_found(format!("file {f}")));
                }
                tx.record("application.file_removed", "", &format!("application:{id}"), json!({"file": f})).await?;
            }
            None => {
                sqlx::query("UPDATE applications SET state = 'discarded', updated_at = $1 WHERE id = $2")
                    .bind(now_ms())
                    .bind(id)
                    .execute(tx.conn())
                    .await?;
                tx.record("application.discarded", "", &format!("application:{id}"), json!({})).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The files of a case's online application (for the case page of staff and citizen).
    pub async fn case_files(&self, case_id: i64) -> Result<Vec<FileView>, StoreError> {
        let app: Option<i64> = sqlx::query_scalar("SELECT id FROM applications WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(self.pool())
            .await?;
        match app {
            Some(a) => self.application_files(a).await,
            None => Ok(Vec::new()),
        }
    }

    /// A file's bytes, checked against its address; `case_id` is the case the caller may see.
    pub async fn case_file(&self, case_id: i64, file: i64) -> Result<(FileView, Vec<u8>), StoreError> {
        let f = self
            .case_files(case_id)
            .await?
            .into_iter()
            .find(|f| f.id == file)
            .ok_or_else(|| StoreError::not_found(format!("file {file}")))?;
        let bytes = self.upload_bytes(&f.sha256).await?;
        Ok((f, bytes))
    }

    /// A draft's file, for the citizen who uploaded it.
    pub async fn draft_file(&self, citizen: &Citizen, id: i64, file: i64) -> Result<(FileView, Vec<u8>), StoreError> {
        let app = self.application(citizen, id).await?;
        let f = app
            .files
            .into_iter()
            .find(|f| f.id == file)
            .ok_or_else(|| StoreError::not_found(format!("file {file}")))?;
        let bytes = self.upload_bytes(&f.sha256).await?;
        Ok((f, bytes))
    }

    async fn upload_bytes(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let sealed: String = sqlx::query_scalar("SELECT content FROM uploads WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found(format!("upload {sha256}")))?;
        let b64 = self.vault().open(&sealed).map_err(|e| StoreError::Corrupt(format!("upload {sha256}: {e}")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| StoreError::Corrupt(format!("upload {sha256}: {e}")))?;
        if sha256_hex(&bytes) != sha256 {
            return Err(StoreError::Corrupt(format!("upload {sha256}: checksum mismatch")));
        }
        Ok(bytes)
    }

    /// The id of one of the citizen's own cases by number (404 for anyone else's).
    pub async fn citizen_case_id(&self, citizen: &Citizen, number: &str) -> Result<i64, StoreError> {
        Ok(self.citizen_case_ref(citizen, number).await?.0)
    }

    /// The citizen's own case by number, with the citizen as its actor (404 for anyone else's).
    async fn citizen_case_ref(&self, citizen: &Citizen, number: &str) -> Result<(i64, CaseActor), StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, county_code FROM cases WHERE number = $1 AND applicant_phone_hash = $2")
                .bind(number.trim())
                .bind(&citizen.phone_hash)
                .fetch_optional(self.pool())
                .await?;
        let (id, county) = row.ok_or_else(|| StoreError::not_found(format!("case {number}")))?;
        Ok((id, self.citizen_actor(citizen, &PlaceCode::parse(&county)?)))
    }

    /// A citizen's case with the actions they may take.
    pub async fn citizen_case(&self, citizen: &Citizen, number: &str) -> Result<crate::CaseView, StoreError> {
        let (id, by) = self.citizen_case_ref(citizen, number).await?;
        self.case_for(id, Some(&by)).await
    }

    /// Every case of the citizen, newest first.
    pub async fn citizen_cases(&self, citizen: &Citizen) -> Result<Vec<crate::CaseView>, StoreError> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM cases WHERE applicant_phone_hash = $1 ORDER BY id DESC LIMIT 200")
                .bind(&citizen.phone_hash)
                .fetch_all(self.pool())
                .await?;
        let mut out = Vec::new();
        for id in ids {
            out.push(self.case_for(id, None).await?);
        }
        Ok(out)
    }

    /// A citizen's own action on their case (withdraw, electronic download, confirm delivery);
    /// with files, a correction: the files and the `supplement` action commit together.
    pub async fn citizen_act(
        &self,
        citizen: &Citizen,
        number: &str,
        input: &ActionInput,
        uploads: &[NewUpload],
        today: Option<NaiveDate>,
    ) -> Result<crate::CaseView, StoreError> {
        let (id, by) = self.citizen_case_ref(citizen, number).await?;
        let checked = if uploads.is_empty() {
            Vec::new()
        } else {
            if input.action != "supplement" {
                return Err(invalid("files", "只有补正时可以上传材料", "files can only be sent with a correction"));
            }
            let view = self.case_for(id, Some(&by)).await?;
            let materials: Vec<String> = view.materials.iter().map(|m| m.name.clone()).collect();
            self.check_uploads(&materials, uploads)?
        };
        let mut tx = self.begin(&citizen.actor()).await?;
        if !uploads.is_empty() {
            let app: i64 = sqlx::query_scalar("SELECT id FROM applications WHERE case_id = $1")
                .bind(id)
                .fetch_optional(tx.conn())
                .await?
                .ok_or_else(|| {
                    invalid(
                        "files",
                        "该办件不是网上申请，请到窗口补正",
                        "this case was not applied for online; correct it at a window",
                    )
                })?;
            self.store_files(&mut tx, app, uploads, &checked, "correction").await?;
        }
        self.act_on_case_in(&mut tx, id, &by, input, today).await?;
        tx.commit().await?;
        self.case_for(id, Some(&by)).await
    }

    /// Chooses (or changes) how the result reaches the citizen, until it has left.
    pub async fn choose_delivery(
        &self,
        citizen: &Citizen,
        number: &str,
        choice: &DeliveryChoice,
    ) -> Result<(), StoreError> {
        choice.check()?;
        let id = self.citizen_case_id(citizen, number).await?;
        let mut tx = self.begin(&citizen.actor()).await?;
        let (state, closed, place, delivery): (String, Option<i64>, String, Option<String>) =
            sqlx::query_as("SELECT state, closed_at, place_code, delivery FROM cases WHERE id = $1")
                .bind(id)
                .fetch_one(tx.conn())
                .await?;
        if closed.is_some() || delivery.is_some() || state == "shipped" {
            return Err(StoreError::conflict(
                "delivery",
                "结果已送出，不能再更改送达方式",
                "the result has left; the delivery cannot change",
            ));
        }
        sqlx::query("UPDATE cases SET delivery_choice = $1, version = version + 1 WHERE id = $2")
            .bind(self.vault().seal(&json!(choice).to_string()))
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.record("case.delivery_chosen", &place, &format!("case:{id}"), json!({"method": choice.method})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The delivery the citizen chose for a case, opened (staff who ship need the address).
    pub async fn delivery_choice(&self, case_id: i64) -> Result<Option<DeliveryChoice>, StoreError> {
        let sealed: Option<Option<String>> = sqlx::query_scalar("SELECT delivery_choice FROM cases WHERE id = $1")
            .bind(case_id)
            .fetch_optional(self.pool())
            .await?;
        match sealed.flatten() {
            Some(s) => {
                let plain = self.vault().open(&s).map_err(|e| StoreError::Corrupt(format!("case {case_id}: {e}")))?;
                Ok(Some(serde_json::from_str(&plain)?))
            }
            None => Ok(None),
        }
    }
}
