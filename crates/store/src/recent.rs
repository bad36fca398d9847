//! Answers read recently, kept in memory for a few seconds: the staff sessions (session_cache.rs) and
//! the catalogue facts an acceptance checks (cases.rs).
//!
//! What may change a cached answer is committed with an event, and every committed event — this
//! instance's or, on PostgreSQL, another's (relay.rs) — passes [`crate::Store::publish`], which forgets
//! the caches its kind may affect. An entry is also never used after its freshness, which bounds a
//! change made outside the application (another process on the same file).
//!
//! A read that began before a change and finishes after it must not put the old answer back: every
//! forgetting moves a generation on, and a read's answer is kept only if the generation it began in
//! is still current.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) struct Recent<K, V> {
    fresh_for: Duration,
    /// Beyond this many entries the cache starts again empty.
    most: usize,
    inner: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    generation: u64,
    /// Each answer with when it was read.
    answers: HashMap<K, (V, Instant)>,
}

impl<K: Hash + Eq, V: Clone> Recent<K, V> {
    pub(crate) fn new(fresh_for: Duration, most: usize) -> Self {
        Recent { fresh_for, most, inner: Mutex::new(Entries { generation: 0, answers: HashMap::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K, V>> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A fresh answer that `usable` accepts, or the generation a read should begin in.
    pub(crate) fn get(&self, key: &K, usable: impl FnOnce(&V) -> bool) -> Result<V, u64> {
        let e = self.lock();
        match e.answers.get(key) {
            Some((v, at)) if at.elapsed() < self.fresh_for && usable(v) => Ok(v.clone()),
            _ => Err(e.generation),
        }
    }

    /// Keeps what a read found, unless something was forgotten since it began.
    pub(crate) fn keep(&self, key: K, value: V, read_in: u64) {
        let mut e = self.lock();
        if e.generation != read_in {
            return;
        }
        if e.answers.len() >= self.most {
            e.answers.clear();
        }
        e.answers.insert(key, (value, Instant::now()));
    }

    pub(crate) fn forget_all(&self) {
        let mut e = self.lock();
        e.generation += 1;
        e.answers.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().answers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_begun_before_a_change_is_not_kept() {
        let cache: Recent<&str, i64> = Recent::new(Duration::from_secs(5), 10);
        let Err(generation) = cache.get(&"k", |_| true) else { unreachable!("empty cache") };
        cache.forget_all();
        cache.keep("k", 1, generation);
        assert!(cache.get(&"k", |_| true).is_err(), "an answer read before the change came back");
        let Err(generation) = cache.get(&"k", |_| true) else { unreachable!("empty cache") };
        cache.keep("k", 2, generation);
        assert_eq!(cache.get(&"k", |_| true), Ok(2));
        assert!(cache.get(&"k", |v| *v > 2).is_err(), "an answer the caller cannot use is not answered");
    }

    #[test]
    fn answers_go_stale_and_the_cache_stays_bounded() {
        let cache: Recent<i64, i64> = Recent::new(Duration::from_millis(30), 3);
        for k in 0..3 {
            cache.keep(k, k, 0);
        }
        assert_eq!(cache.len(), 3);
        cache.keep(3, 3, 0);
        assert_eq!(cache.len(), 1, "a full cache starts again");
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&3, |_| true).is_err(), "a stale answer is read again");
    }
}
