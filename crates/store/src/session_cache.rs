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
//! A read that began before a change and finishes after it does not put the old answer back (recent.rs).

use crate::auth::SessionInfo;
use crate::db::Store;
use crate::recent::Recent;
use crate::write::Event;
use std::time::Duration;

/// How long a cached session answers without being read again.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(5);
/// Beyond this many entries the cache starts again empty (an attack with random tokens never enters
/// it: only live sessions are cached).
const MOST: usize = 10_000;

/// By the token's hash.
pub(crate) struct SessionCache(Recent<String, SessionInfo>);

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache(Recent::new(FRESH_FOR, MOST))
    }
}

/// Event kinds after which a cached session may be wrong.
fn changes_sessions(kind: &str) -> bool {
    kind == "session.closed" || kind.starts_with("staff.") || kind.starts_with("department.")
}

impl SessionCache {
    /// A cached session still fresh and unexpired at `now_ms`, or the generation a read should begin in.
    pub(crate) fn get(&self, token_hash: &str, now_ms: i64) -> Result<SessionInfo, u64> {
        self.0.get(&token_hash.to_string(), |s| s.expires_at > now_ms)
    }

    /// Keeps what a read found, unless something changed sessions since it began.
    pub(crate) fn keep(&self, token_hash: String, session: &SessionInfo, read_in: u64) {
        self.0.keep(token_hash, session.clone(), read_in)
    }

    pub(crate) fn forget_all(&self) {
        self.0.forget_all()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
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
