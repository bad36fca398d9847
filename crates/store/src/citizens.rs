//! Citizens sign in with their mobile number and a one-time SMS code: 6 digits, valid 5 minutes, locked
//! after 5 wrong tries, and rate-limited per phone and per address. A citizen session knows only the
//! phone (sealed) and its keyed hash, which is how a citizen's cases, applications and appointments are
//! found: a citizen only ever reaches their own.

use crate::auth::random_token;
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::Actor;
use onewindow_core::ids::PhoneNumber;
use onewindow_core::mask::mask_phone;
use onewindow_core::secret::same_secret;
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CODE_TTL_MS: i64 = 5 * 60 * 1000;
pub const CODE_MAX_FAILURES: i64 = 5;
const RESEND_AFTER_MS: i64 = 60 * 1000;
const CODES_PER_PHONE_HOUR: i64 = 5;
const CODES_PER_ADDRESS_HOUR: i64 = 30;
const HOUR_MS: i64 = 3600 * 1000;
const SESSION_TTL_MS: i64 = 8 * HOUR_MS;
/// Citizen bearer tokens carry this prefix, so they are never mistaken for a staff token.
pub const CITIZEN_TOKEN_PREFIX: &str = "c.";

/// A signed-in citizen.
#[derive(Debug, Clone, Serialize)]
pub struct Citizen {
    #[serde(skip)]
    pub phone: PhoneNumber,
    #[serde(skip)]
    pub phone_hash: String,
    pub phone_masked: String,
    #[serde(skip)]
    pub csrf: String,
    pub expires_at: i64,
}

impl Citizen {
    pub fn actor(&self) -> Actor {
        Actor { staff_id: None, name: format!("citizen:{}", self.phone_masked) }
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn too_many(field: &str, zh: String, en: String, retry_after_ms: i64) -> StoreError {
    StoreError::TooMany { field: field.into(), zh, en, retry_after: (retry_after_ms + 999) / 1000 }
}

impl Store {
    /// Sends a one-time code to `phone` by SMS (through the outbox). `address` is the caller's network
    /// address, only ever stored as a keyed hash. `sign` ends the SMS (the hall's name).
    pub async fn request_login_code(&self, phone: &PhoneNumber, address: &str, sign: &str) -> Result<(), StoreError> {
        let vault = self.vault();
        let phone_hash = vault.lookup_hash("phone", phone.as_str());
        let address_hash = vault.lookup_hash("address", address);
        let now = now_ms();
        let actor = Actor { staff_id: None, name: format!("citizen:{}", mask_phone(phone.as_str())) };
        let mut tx = self.begin(&actor).await?;
        let (count, last): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(created_at) FROM citizen_codes WHERE phone_hash = $1 AND created_at > $2",
        )
        .bind(&phone_hash)
        .bind(now - HOUR_MS)
        .fetch_one(tx.conn())
        .await?;
        if let Some(last) = last.filter(|l| now - l < RESEND_AFTER_MS) {
            let wait = RESEND_AFTER_MS - (now - last);
            return Err(too_many(
                "phone",
                format!("验证码已发送，请{}秒后再获取", (wait + 999) / 1000),
                format!("a code was just sent; ask again in {} s", (wait + 999) / 1000),
                wait,
            ));
        }
        if count >= CODES_PER_PHONE_HOUR {
            return Err(too_many(
                "phone",
                "该手机号获取验证码过于频繁，请一小时后再试".into(),
                "too many codes for this number; try again in an hour".into(),
                HOUR_MS,
            ));
        }
        let from_address: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM citizen_codes WHERE address_hash = $1 AND created_at > $2")
                .bind(&address_hash)
                .bind(now - HOUR_MS)
                .fetch_one(tx.conn())
                .await?;
        if from_address >= CODES_PER_ADDRESS_HOUR {
            return Err(too_many(
                "address",
                "来自您网络的请求过多，请稍后再试".into(),
                "too many requests from your network; try again later".into(),
                HOUR_MS,
            ));
        }
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO citizen_codes (phone_hash, address_hash, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&phone_hash)
        .bind(&address_hash)
        .bind(vault.lookup_hash("otp", &format!("{phone_hash}:{code}")))
        .bind(now)
        .bind(now + CODE_TTL_MS)
        .fetch_one(tx.conn())
        .await?;
        tx.record("citizen.code_sent", "", &format!("code:{id}"), json!({})).await?;
        let text = format!("您的登录验证码为{code}，5分钟内有效，请勿告诉他人。【{sign}】");
        tx.outbox(
            "sms",
            &vault.seal(phone.as_str()),
            &json!({"text": text, "kind": "citizen.code"}),
            &format!("citizen-code:{id}"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a code and opens a session: (token, citizen). The latest code of the phone counts; a
    /// wrong try is recorded (and committed) before the refusal, and after 5 the code is locked: even
    /// the right code is then refused.
    pub async fn sign_in_citizen(&self, phone: &PhoneNumber, code: &str) -> Result<(String, Citizen), StoreError> {
        let vault = self.vault();
        let phone_hash = vault.lookup_hash("phone", phone.as_str());
        let masked = mask_phone(phone.as_str());
        let now = now_ms();
        let actor = Actor { staff_id: None, name: format!("citizen:{masked}") };
        let mut tx = self.begin(&actor).await?;
        let latest: Option<(i64, String, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, code_hash, expires_at, failures, used_at FROM citizen_codes WHERE phone_hash = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(&phone_hash)
        .fetch_optional(tx.conn())
        .await?;
        let invalid = |zh: &str, en: &str| {
            StoreError::Invalid(onewindow_core::Invalid::one(onewindow_core::FieldError::new("code", zh, en)))
        };
        let Some((id, hash, expires_at, failures, used_at)) = latest else {
            return Err(invalid("请先获取验证码", "ask for a code first"));
        };
        if used_at.is_some() || expires_at <= now {
            return Err(invalid("验证码已失效，请重新获取", "the code has expired; ask for a new one"));
        }
        if failures >= CODE_MAX_FAILURES {
            return Err(invalid(
                "验证码错误次数过多，已锁定，请重新获取",
                "too many wrong tries: the code is locked; ask for a new one",
            ));
        }
        let given = code.trim();
        let right = given.len() == 6
            && given.chars().all(|c| c.is_ascii_digit())
            && same_secret(&vault.lookup_hash("otp", &format!("{phone_hash}:{given}")), &hash);
        if !right {
            sqlx::query("UPDATE citizen_codes SET failures = failures + 1 WHERE id = $1")
                .bind(id)
                .execute(tx.conn())
                .await?;
            tx.record("citizen.code_failed", "", &format!("code:{id}"), json!({"failures": failures + 1})).await?;
            tx.commit().await?;
            let left = CODE_MAX_FAILURES - failures - 1;
            return Err(if left > 0 {
                invalid(&format!("验证码不正确，还可尝试{left}次"), &format!("the code is wrong; {left} tries left"))
            } else {
                invalid("验证码不正确，已锁定，请重新获取", "the code is wrong and now locked; ask for a new one")
            });
        }
        sqlx::query("UPDATE citizen_codes SET used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(tx.conn())
            .await?;
        let token = format!("{CITIZEN_TOKEN_PREFIX}{}", random_token());
        let csrf = random_token();
        sqlx::query(
            "INSERT INTO citizen_sessions (token_hash, phone, phone_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash(&token))
        .bind(vault.seal(phone.as_str()))
        .bind(&phone_hash)
        .bind(&csrf)
        .bind(now)
        .bind(now + SESSION_TTL_MS)
        .execute(tx.conn())
        .await?;
        tx.record("citizen.signed_in", "", &format!("code:{id}"), json!({})).await?;
        tx.commit().await?;
        let citizen =
            Citizen { phone: phone.clone(), phone_hash, phone_masked: masked, csrf, expires_at: now + SESSION_TTL_MS };
        Ok((token, citizen))
    }

    /// The live citizen session for a token, if any.
    pub async fn citizen_session(&self, token: &str) -> Result<Option<Citizen>, StoreError> {
        if !token.starts_with(CITIZEN_TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT phone, phone_hash, csrf, expires_at FROM citizen_sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        let Some((sealed, phone_hash, csrf, expires_at)) = row else { return Ok(None) };
        let plain = self.vault().open(&sealed).map_err(|e| StoreError::Corrupt(format!("citizen session: {e}")))?;
        let phone = PhoneNumber::parse(&plain)?;
        Ok(Some(Citizen { phone_masked: mask_phone(phone.as_str()), phone, phone_hash, csrf, expires_at }))
    }

    pub async fn sign_out_citizen(&self, token: &str) -> Result<(), StoreError> {
        let Some(c) = self.citizen_session(token).await? else { return Ok(()) };
        let mut tx = self.begin(&c.actor()).await?;
        sqlx::query("UPDATE citizen_sessions SET revoked_at = $1 WHERE token_hash = $2")
            .bind(now_ms())
            .bind(token_hash(token))
            .execute(tx.conn())
            .await?;
        tx.record("citizen.signed_out", "", "citizen", json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Who used the citizen's data across all their cases: lookups of them (by the ID numbers they
    /// applied with) and unmaskings of their cases, newest first.
    pub async fn data_use_of_citizen(&self, citizen: &Citizen) -> Result<Vec<crate::DataUse>, StoreError> {
        let rows: Vec<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, applicant_id_hash FROM cases WHERE applicant_phone_hash = $1")
                .bind(&citizen.phone_hash)
                .fetch_all(self.pool())
                .await?;
        let mut subjects: Vec<String> = rows.iter().filter_map(|(_, h)| h.clone()).filter(|h| !h.is_empty()).collect();
        subjects.sort();
        subjects.dedup();
        let mut out = Vec::new();
        for s in &subjects {
            out.extend(self.data_use(Some(s), None).await?);
        }
        for (id, h) in &rows {
            if h.as_deref().is_none_or(str::is_empty) {
                out.extend(self.data_use(None, Some(*id)).await?);
            }
        }
        out.sort_by_key(|u| std::cmp::Reverse(u.at));
        Ok(out)
    }
}
