//! Staff accounts (argon2 password hashes) and server-side sessions. A session token is given to the
//! client once; the database keeps only its SHA-256, so a stolen database does not yield live sessions.

use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::{Actor, WriteTx};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use onewindow_core::place::PlaceCode;
use onewindow_core::FieldError;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Leader,
    Guide,
    Consultant,
    Acceptor,
    Approver,
    VillageClerk,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::Admin, Role::Leader, Role::Guide, Role::Consultant, Role::Acceptor, Role::Approver, Role::VillageClerk];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Leader => "leader",
            Role::Guide => "guide",
            Role::Consultant => "consultant",
            Role::Acceptor => "acceptor",
            Role::Approver => "approver",
            Role::VillageClerk => "village_clerk",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Leader => "领导",
            Role::Guide => "导服人员",
            Role::Consultant => "咨询服务员",
            Role::Acceptor => "前台受理人员",
            Role::Approver => "后台审批人员",
            Role::VillageClerk => "村务员",
        }
    }
    pub fn parse(s: &str) -> Result<Role, FieldError> {
        Role::ALL.into_iter().find(|r| r.code() == s.trim() || r.zh() == s.trim()).ok_or_else(|| {
            FieldError::new(
                "role",
                format!("角色“{s}”无效"),
                format!(
                    "unknown role \"{s}\"; one of admin, leader, guide, consultant, acceptor, approver, village_clerk"
                ),
            )
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Staff {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department_id: Option<i64>,
    pub place: String,
    pub active: bool,
    /// The department's code, when the member belongs to one.
    pub department_code: Option<String>,
}

impl Staff {
    pub fn actor(&self) -> Actor {
        Actor { staff_id: Some(self.id), name: self.username.clone() }
    }
    pub fn place_code(&self) -> Result<PlaceCode, StoreError> {
        Ok(PlaceCode::parse(&self.place)?)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role: String,
    pub department_id: Option<i64>,
    pub place: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub staff: Staff,
    pub csrf: String,
    pub expires_at: i64,
}

const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Hashing is deliberately slow, so it runs off the async workers.
async fn hash_password(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| StoreError::Corrupt(e.to_string()))?
    .map_err(|e| StoreError::Corrupt(e.to_string()))
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

#[derive(sqlx::FromRow)]
struct StaffRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    department_id: Option<i64>,
    place_code: String,
    active: i64,
    department_code: Option<String>,
}

/// A staff member with their department's code (what case rules compare), in one read.
const STAFF_COLUMNS: &str = "t.id, t.username, t.display_name, t.role, t.department_id, t.place_code, t.active, \
    d.code AS department_code";
const STAFF_FROM: &str = "staff t LEFT JOIN departments d ON d.id = t.department_id";

/// A live session's row: its member, read with it.
#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    staff: StaffRow,
    csrf: String,
    expires_at: i64,
}

fn staff_from(r: StaffRow) -> Result<Staff, StoreError> {
    Ok(Staff {
        id: r.id,
        username: r.username,
        display_name: r.display_name,
        role: Role::parse(&r.role).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        department_id: r.department_id,
        place: r.place_code,
        active: r.active != 0,
        department_code: r.department_code,
    })
}

fn check_new_staff(s: &NewStaff) -> Result<(Role, PlaceCode), StoreError> {
    let mut errs = onewindow_core::Invalid::default();
    let u = s.username.trim();
    if u.len() < 2 || u.len() > 40 || !u.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        errs.push(FieldError::new(
            "username",
            "用户名为2至40个字母、数字或 _ - .",
            "a username is 2 to 40 letters, digits or _ - .",
        ));
    }
    if s.display_name.trim().is_empty() {
        errs.push(FieldError::new("display_name", "姓名不能为空", "the display name is required"));
    }
    if s.password.chars().count() < 8 {
        errs.push(FieldError::new("password", "密码至少8位", "the password needs at least 8 characters"));
    }
    let role = Role::parse(&s.role).map_err(|e| errs.push(e)).ok();
    let place = PlaceCode::parse(&s.place).map_err(|e| errs.push(e.at("place"))).ok();
    match (role, place) {
        (Some(r), Some(p)) if errs.is_empty() => Ok((r, p)),
        _ => Err(StoreError::Invalid(errs)),
    }
}

impl WriteTx {
    pub async fn create_staff(&mut self, s: &NewStaff) -> Result<i64, StoreError> {
        let (role, place) = check_new_staff(s)?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM staff WHERE username = $1")
            .bind(s.username.trim())
            .fetch_optional(self.conn())
            .await?;
        if taken.is_some() {
            return Err(StoreError::conflict("username", "用户名已存在", "this username is taken"));
        }
        self.check_place_and_department(&place, s.department_id).await?;
        let hash = hash_password(s.password.clone()).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO staff (username, display_name, password_hash, role, department_id, place_code, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7) RETURNING id",
        )
        .bind(s.username.trim())
        .bind(s.display_name.trim())
        .bind(hash)
        .bind(role.code())
        .bind(s.department_id)
        .bind(place.as_str())
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?;
        self.record(
            "staff.created",
            place.as_str(),
            &format!("staff:{id}"),
            serde_json::json!({"username": s.username.trim(), "role": role.code(), "department_id": s.department_id}),
        )
        .await?;
        Ok(id)
    }

    /// A staff member's place and department must exist: refused by field, before anything is written
    /// (the foreign keys would otherwise fail the statement as a server error).
    async fn check_place_and_department(
        &mut self,
        place: &PlaceCode,
        department: Option<i64>,
    ) -> Result<(), StoreError> {
        let exists: Option<String> = sqlx::query_scalar("SELECT code FROM places WHERE code = $1")
            .bind(place.as_str())
            .fetch_optional(self.conn())
            .await?;
        if exists.is_none() {
            return Err(FieldError::new("place", "所属区划不存在", "the place does not exist").into());
        }
        if let Some(d) = department {
            let ok: Option<i64> = sqlx::query_scalar("SELECT id FROM departments WHERE id = $1")
                .bind(d)
                .fetch_optional(self.conn())
                .await?;
            if ok.is_none() {
                return Err(FieldError::new("department_id", "部门不存在", "the department does not exist").into());
            }
        }
        Ok(())
    }

    /// Changes role, department, place, active flag and, if given, the password. Deactivating revokes
    /// the member's sessions in the same transaction.
    pub async fn update_staff(
        &mut self,
        id: i64,
        role: Role,
        department_id: Option<i64>,
        place: &PlaceCode,
        active: bool,
        password: Option<String>,
    ) -> Result<(), StoreError> {
        if password.as_ref().is_some_and(|p| p.chars().count() < 8) {
            return Err(FieldError::new("password", "密码至少8位", "the password needs at least 8 characters").into());
        }
        self.check_place_and_department(place, department_id).await?;
        let n =
            sqlx::query("UPDATE staff SET role = $1, department_id = $2, place_code = $3, active = $4 WHERE id = $5")
                .bind(role.code())
                .bind(department_id)
                .bind(place.as_str())
                .bind(active as i64)
                .bind(id)
                .execute(self.conn())
                .await?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found(format!("staff {id}")));
        }
        if let Some(p) = password {
            let hash = hash_password(p).await?;
            sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id)
                .execute(self.conn())
                .await?;
        }
        if !active {
            sqlx::query("UPDATE sessions SET revoked = 1 WHERE staff_id = $1").bind(id).execute(self.conn()).await?;
        }
        self.record(
            "staff.updated",
            place.as_str(),
            &format!("staff:{id}"),
            serde_json::json!({"role": role.code(), "department_id": department_id, "active": active}),
        )
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn staff_list(&self, within: Option<&PlaceCode>) -> Result<Vec<Staff>, StoreError> {
        let prefix = within.map(|p| p.jurisdiction_prefix().to_string()).unwrap_or_default();
        let rows: Vec<StaffRow> = sqlx::query_as(&format!(
            "SELECT {STAFF_COLUMNS} FROM {STAFF_FROM} WHERE t.place_code LIKE $1 ORDER BY t.username"
        ))
        .bind(format!("{prefix}%"))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(staff_from).collect()
    }

    pub async fn staff(&self, id: i64) -> Result<Staff, StoreError> {
        let row: Option<StaffRow> =
            sqlx::query_as(&format!("SELECT {STAFF_COLUMNS} FROM {STAFF_FROM} WHERE t.id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        row.map(staff_from).transpose()?.ok_or_else(|| StoreError::not_found(format!("staff {id}")))
    }

    /// Checks a password and opens a session: returns the token (shown to the client once) and the
    /// session. A wrong username and a wrong password answer alike.
    pub async fn login(&self, username: &str, password: &str) -> Result<Option<(String, SessionInfo)>, StoreError> {
        let row: Option<(i64, String, i64)> =
            sqlx::query_as("SELECT id, password_hash, active FROM staff WHERE username = $1")
                .bind(username.trim())
                .fetch_optional(self.pool())
                .await?;
        let Some((id, hash, active)) = row else {
            // Spend the same time as a real check, so timing does not reveal which usernames exist.
            let _ = verify_password(password.to_string(), DUMMY_HASH.to_string()).await;
            return Ok(None);
        };
        if !verify_password(password.to_string(), hash).await || active == 0 {
            return Ok(None);
        }
        let staff = self.staff(id).await?;
        let token = random_token();
        let csrf = random_token();
        let now = now_ms();
        let expires_at = now + SESSION_TTL_MS;
        let mut tx = self.begin(&staff.actor()).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, staff_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(id)
        .bind(&csrf)
        .bind(now)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
        tx.record("session.opened", &staff.place, &format!("staff:{id}"), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(Some((token, SessionInfo { staff, csrf, expires_at })))
    }

    /// The live session for a token, if any (not revoked, not expired, staff still active).
    pub async fn session(&self, token: &str) -> Result<Option<SessionInfo>, StoreError> {
        let hash = token_hash(token);
        let now = now_ms();
        let read_in = match self.inner.sessions.get(&hash, now) {
            Ok(cached) => return Ok(Some(cached)),
            Err(generation) => generation,
        };
        // One read per request: the session, its member and their department together.
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {STAFF_COLUMNS}, s.csrf, s.expires_at FROM {STAFF_FROM} JOIN sessions s ON s.staff_id = t.id \
             WHERE s.token_hash = $1 AND s.revoked = 0 AND s.expires_at > $2 AND t.active = 1"
        ))
        .bind(&hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let session = SessionInfo { staff: staff_from(r.staff)?, csrf: r.csrf, expires_at: r.expires_at };
        self.inner.sessions.keep(hash, &session, read_in);
        Ok(Some(session))
    }

    pub async fn logout(&self, token: &str) -> Result<(), StoreError> {
        let Some(s) = self.session(token).await? else { return Ok(()) };
        let mut tx = self.begin(&s.staff.actor()).await?;
        sqlx::query("UPDATE sessions SET revoked = 1 WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(tx.conn())
            .await?;
        tx.record("session.closed", &s.staff.place, &format!("staff:{}", s.staff.id), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// An argon2 hash of a random string, verified against when the username does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3SdUg8kNwD1Y4wK0p1b4C6m3Z2gqgK2o9j1tq0p8y1E";
