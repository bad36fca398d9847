//! Personal data at rest: names, ID numbers, phone numbers and addresses are sealed with an AEAD
//! (ChaCha20-Poly1305, a random nonce per value) under a key with an id, so keys can rotate; equality
//! lookups use a keyed hash (HMAC-SHA256) of the normalised value instead of the value.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The keys, as kept in the key file (or given by configuration).
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyRing {
    /// The key new values are sealed with.
    pub current: u32,
    /// Key id → base64 of 32 bytes. Old keys stay until `keys rotate` has re-sealed everything.
    pub keys: BTreeMap<u32, String>,
    /// base64 of the 32-byte key of the lookup hash; it does not rotate (hashes would change).
    pub hash_key: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing {{ current: {}, keys: {} }}", self.current, self.keys.len())
    }
}

fn random_key() -> String {
    let mut k = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut k);
    B64.encode(k)
}

impl KeyRing {
    /// A new ring with one random key (the demo's, written to the data directory on first start).
    pub fn generate() -> KeyRing {
        KeyRing { current: 1, keys: BTreeMap::from([(1, random_key())]), hash_key: random_key() }
    }

    /// Adds a new key and makes it current; returns its id.
    pub fn rotate(&mut self) -> u32 {
        let id = self.keys.keys().max().copied().unwrap_or(0) + 1;
        self.keys.insert(id, random_key());
        self.current = id;
        id
    }
}

/// Seals and opens personal data; cheap to clone (the keys are shared).
#[derive(Clone)]
pub struct Vault {
    keys: Arc<Keys>,
}

struct Keys {
    current: u32,
    ciphers: BTreeMap<u32, ChaCha20Poly1305>,
    hash_key: Vec<u8>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault {{ current: {} }}", self.keys.current)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("key file: {0}")]
    Key(String),
    #[error("sealed value cannot be opened: {0}")]
    Open(String),
}

impl Vault {
    pub fn new(ring: &KeyRing) -> Result<Vault, VaultError> {
        let mut ciphers = BTreeMap::new();
        for (id, k) in &ring.keys {
            let bytes = B64.decode(k).map_err(|e| VaultError::Key(format!("key {id}: {e}")))?;
            if bytes.len() != 32 {
                return Err(VaultError::Key(format!("key {id} must be 32 bytes")));
            }
            ciphers.insert(*id, ChaCha20Poly1305::new(Key::from_slice(&bytes)));
        }
        if !ciphers.contains_key(&ring.current) {
            return Err(VaultError::Key(format!("the current key {} is missing", ring.current)));
        }
        let hash_key = B64.decode(&ring.hash_key).map_err(|e| VaultError::Key(format!("hash key: {e}")))?;
        if hash_key.len() != 32 {
            return Err(VaultError::Key("the hash key must be 32 bytes".into()));
        }
        Ok(Vault { keys: Arc::new(Keys { current: ring.current, ciphers, hash_key }) })
    }

    pub fn current_key(&self) -> u32 {
        self.keys.current
    }

    /// `pd1:<key id>:<base64 nonce+ciphertext>`.
    pub fn seal(&self, plain: &str) -> String {
        let Some(cipher) = self.keys.ciphers.get(&self.keys.current) else { return String::new() };
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        match cipher.encrypt(&nonce, plain.as_bytes()) {
            Ok(ct) => {
                let mut out = nonce.to_vec();
                out.extend(ct);
                format!("pd1:{}:{}", self.keys.current, B64.encode(out))
            }
            Err(_) => String::new(),
        }
    }

    pub fn open(&self, sealed: &str) -> Result<String, VaultError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some("pd1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(VaultError::Open("not a sealed value".into()));
        };
        let kid: u32 = kid.parse().map_err(|_| VaultError::Open("bad key id".into()))?;
        let cipher = self.keys.ciphers.get(&kid).ok_or_else(|| VaultError::Open(format!("key {kid} is not loaded")))?;
        let bytes = B64.decode(body).map_err(|e| VaultError::Open(e.to_string()))?;
        if bytes.len() < 12 {
            return Err(VaultError::Open("too short".into()));
        }
        let (nonce, ct) = bytes.split_at(12);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| VaultError::Open("authentication failed".into()))?;
        String::from_utf8(plain).map_err(|e| VaultError::Open(e.to_string()))
    }

    /// The key id a sealed value uses.
    pub fn key_of(sealed: &str) -> Option<u32> {
        sealed.split(':').nth(1).and_then(|k| k.parse().ok())
    }

    /// A keyed hash for equality lookups (`kind` separates phones from ID numbers).
    pub fn lookup_hash(&self, kind: &str, value: &str) -> String {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.keys.hash_key) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(kind.as_bytes());
        mac.update(b"\0");
        mac.update(value.trim().to_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Opens a sealed optional value, or says it could not.
    pub fn open_opt(&self, sealed: Option<&str>) -> Option<String> {
        sealed.and_then(|s| self.open(s).ok())
    }
}

/// Every column that holds sealed personal data, as (table, column). An outbox payload is sealed whole (its
/// text may carry a sign-in or pick-up code); rows queued before that hold plaintext JSON.
pub(crate) const SEALED_COLUMNS: [(&str, &str); 18] = [
    ("tickets", "phone"),
    ("cases", "applicant_name"),
    ("cases", "applicant_id_number"),
    ("cases", "applicant_phone"),
    ("cases", "delivery_choice"),
    ("outbox", "destination"),
    ("outbox", "payload"),
    ("hotline_orders", "caller_name"),
    ("hotline_orders", "caller_phone"),
    ("citizen_sessions", "phone"),
    ("applications", "phone"),
    ("applications", "applicant_name"),
    ("applications", "applicant_id_number"),
    ("applications", "answers"),
    ("applications", "delivery"),
    ("application_files", "file_name"),
    ("uploads", "content"),
    ("appointments", "phone"),
];

/// The key column of a table holding sealed values (most are keyed by `id`).
pub(crate) fn sealed_key(table: &str) -> &'static str {
    match table {
        "citizen_sessions" => "token_hash",
        "uploads" => "sha256",
        _ => "id",
    }
}

impl crate::db::Store {
    /// Re-seals every sealed value under the current key (after `KeyRing::rotate`), in one
    /// transaction, and seals the outbox payloads still in plaintext (queued before payloads were
    /// sealed). Returns how many values were re-sealed or sealed.
    pub async fn reseal_personal_data(&self) -> Result<usize, crate::StoreError> {
        let vault = self.vault().clone();
        let mut tx = self.begin(&crate::Actor::cli()).await?;
        let mut n = 0;
        for (table, column) in SEALED_COLUMNS {
            let key = sealed_key(table);
            let rows: Vec<(String, String)> = sqlx::query_as(&format!(
                "SELECT CAST({key} AS TEXT), {column} FROM {table} WHERE {column} LIKE 'pd1:%'"
            ))
            .fetch_all(tx.conn())
            .await?;
            for (id, sealed) in rows {
                if Vault::key_of(&sealed) == Some(vault.current_key()) {
                    continue;
                }
                let plain = vault
                    .open(&sealed)
                    .map_err(|e| crate::StoreError::Corrupt(format!("{table}.{column} {id}: {e}")))?;
                // Compare the key in its own type, so each update finds its row by the primary key's
                // index (a cast of the column would scan the table once per row).
                let sql = format!("UPDATE {table} SET {column} = $1 WHERE {key} = $2");
                let update = sqlx::query(&sql).bind(vault.seal(&plain));
                let update = match key {
                    "id" => update.bind(
                        id.parse::<i64>().map_err(|e| crate::StoreError::Corrupt(format!("{table}.id {id}: {e}")))?,
                    ),
                    _ => update.bind(id),
                };
                update.execute(tx.conn()).await?;
                n += 1;
            }
        }
        let plaintext: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, payload FROM outbox WHERE payload NOT LIKE 'pd1:%'")
                .fetch_all(tx.conn())
                .await?;
        for (id, payload) in plaintext {
            sqlx::query("UPDATE outbox SET payload = $1 WHERE id = $2")
                .bind(vault.seal(&payload))
                .bind(id)
                .execute(tx.conn())
                .await?;
            n += 1;
        }
        tx.record("keys.rotated", "", "keys", serde_json::json!({"key": vault.current_key(), "resealed": n})).await?;
        tx.commit().await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_rotate() {
        let mut ring = KeyRing::generate();
        let v = Vault::new(&ring).unwrap();
        let a = v.seal("13800138000");
        let b = v.seal("13800138000");
        assert_ne!(a, b, "a random nonce per value");
        assert!(!a.contains("13800138000"));
        assert_eq!(v.open(&a).unwrap(), "13800138000");
        assert_eq!(v.lookup_hash("phone", "13800138000"), v.lookup_hash("phone", " 13800138000 "));
        assert_ne!(v.lookup_hash("phone", "1"), v.lookup_hash("id", "1"));
        ring.rotate();
        let v2 = Vault::new(&ring).unwrap();
        assert_eq!(v2.open(&a).unwrap(), "13800138000", "old keys still open");
        assert_eq!(Vault::key_of(&v2.seal("x")), Some(2));
        // Change the last character (to one it is not), so the tag no longer matches.
        let mut tampered = a.clone();
        let last = tampered.pop();
        tampered.push(if last == Some('A') { 'B' } else { 'A' });
        assert!(v.open(&tampered).is_err());
        let other = Vault::new(&KeyRing::generate()).unwrap();
        assert!(other.open(&a).is_err());
    }
}
