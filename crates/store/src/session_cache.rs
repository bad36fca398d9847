//! Staff sessions read recently, kept in memory so that a busy member's every request does not read
//! the session, its member and their department again (one hop to a database connection each).
//!
//! What may change a cached answer is always committed with an event — `session.closed` (sign-out),
//! `staff.updated` (role, department, deactivation with its sessions revoked), `department.saved`
//! (the code case rules compare) — and every committed event, this instance's or on PostgreSQL another
//! instance's (relay.rs), passes [`Store::publish`], which forgets every cached session. So a sign-out
//! or a deactivation here counts from its commit; on another instance, from when the relay delivers it
//! (NOTIFY, or its 2 s poll). An entry is also never used after [`FRESH_FOR`], which bounds a change
//! made outside the application, and never after the session's own expiry.
//!
//! A read that began before a change and finishes after it must not put the old answer back: every
//! forgetting moves a generation on, and a read's answer is kept only if the generation it began in
//! is still current.

use crate::auth::SessionInfo;
use crate::db::Store;
use crate::write::Event;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached session answers without being read again.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(5);
/// Beyond this many entries the cache starts again empty (an attack with random tokens never enters
/// it: only live sessions are cached).
const MOST: usize = 10_000;

#[derive(Default)]
pub(crate) struct SessionCache {
    inner: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    generation: u64,
    /// By the token's hash: (the session, when it was read).
    sessions: HashMap<String, (SessionInfo, Instant)>,
}

/// Event kinds after which a cached session may be wrong.
fn changes_sessions(kind: &str) -> bool {
    kind == "session.closed" || kind.starts_with("staff.") || kind.starts_with("department.")
}

impl SessionCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A cached session still fresh and unexpired at `now_ms`, or the generation a read should begin in.
    pub(crate) fn get(&self, token_hash: &str, now_ms: i64) -> Result<SessionInfo, u64> {
        let c = self.lock();
        match c.sessions.get(token_hash) {
            Some((s, at)) if at.elapsed() < FRESH_FOR && s.expires_at > now_ms => Ok(s.clone()),
            _ => Err(c.generation),
        }
    }

    /// Keeps what a read found, unless something changed sessions since it began.
    pub(crate) fn keep(&self, token_hash: String, session: &SessionInfo, read_in: u64) {
        let mut c = self.lock();
        if c.generation != read_in {
            return;
        }
        if c.sessions.len() >= MOST {
            c.sessions.clear();
        }
        c.sessions.insert(token_hash, (session.clone(), Instant::now()));
    }

    pub(crate) fn forget_all(&self) {
        let mut c = self.lock();
        c.generation += 1;
        c.sessions.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().sessions.len()
    }
}

impl Store {
    /// Called with every committed event, before it is announced.
    pub(crate) fn forget_sessions_after(&self, events: &[Event]) {
        if events.iter().any(|e| changes_sessions(&e.kind)) {
            self.inner.sessions.forget_all();
        }
    }

    /// How many staff sessions are cached (for tests and /metrics).
    pub fn cached_sessions(&self) -> usize {
        self.inner.sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Role, Staff};

    fn session(expires_at: i64) -> SessionInfo {
        SessionInfo {
            staff: Staff {
                id: 1,
                username: "a".into(),
                display_name: "A".into(),
                role: Role::Acceptor,
                department_id: None,
                place: "330822".into(),
                active: true,
                department_code: None,
            },
            csrf: "c".into(),
            expires_at,
        }
    }

    #[test]
    fn a_read_begun_before_a_change_is_not_kept() {
        let cache = SessionCache::default();
        let Err(generation) = cache.get("h", 0) else { unreachable!("empty cache") };
        cache.forget_all();
        cache.keep("h".into(), &session(i64::MAX), generation);
        assert!(cache.get("h", 0).is_err(), "an answer read before the change came back");
        let Err(generation) = cache.get("h", 0) else { unreachable!("empty cache") };
        cache.keep("h".into(), &session(i64::MAX), generation);
        assert_eq!(cache.get("h", 0).map(|s| s.staff.id), Ok(1));
    }

    #[test]
    fn an_expired_session_is_not_answered() {
        let cache = SessionCache::default();
        cache.keep("h".into(), &session(1_000), 0);
        assert!(cache.get("h", 999).is_ok());
        assert!(cache.get("h", 1_000).is_err());
    }

    #[test]
    fn only_changes_to_staff_sessions_and_departments_forget() {
        assert!(changes_sessions("session.closed"));
        assert!(changes_sessions("staff.updated"));
        assert!(changes_sessions("department.saved"));
        assert!(!changes_sessions("session.opened"));
        assert!(!changes_sessions("case.claim"));
    }
}
