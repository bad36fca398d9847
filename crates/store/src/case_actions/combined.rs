//! Case actions and acceptances written together on PostgreSQL (flat combining).
//!
//! Alone, a change holds the writers' lock for its statements' round trips, and on PostgreSQL those
//! round trips (about 150–350 µs each) are the limit on changes per second. So a checked action or
//! acceptance joins a queue instead; the first to arrive starts a leader on the writer thread, which
//! takes the lock and then the whole queue (one action per case, at most [`MAX_GROUP`]) and writes
//! it in at most two statements of fixed text, the changes travelling as one JSON array: the new
//! cases with their numbers, then every timeline row, visit, message, audit row and event, with each
//! action's case update. Whoever arrives meanwhile waits for the next leader, so the busier the hall,
//! the bigger the groups; alone, a change is written as before.
//!
//! The second statement checks first that every acted-on case is still the version its plan read; if
//! one is not, it writes nothing, and the leader writes the acceptances' rest alone and then applies
//! the actions one by one, each planned again if its case moved. Audit hashes are chained here in
//! the group's order and the audit and event rows are inserted in that order, so the chain and the
//! events' sequence stay whole. Every change is acknowledged only after the batch holding it commits.

use super::{ActionInput, ActionPlan, CaseOutcome, Reader};
use crate::cases::{acceptance_outcome, Acceptance, AcceptanceRow, CaseActor, NewCase, CASE_INSERT_COLUMNS};
use crate::db::Store;
use crate::error::StoreError;
use crate::group_commit::CounterKey;
use crate::now_ms;
use crate::vault::Vault;
use crate::write::{audit_hash, Actor, Event, WriteTx};
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{LazyLock, Mutex};
use tokio::sync::oneshot;

/// The most changes one group writes. A group is one writer of its batch, so this is not bound by
/// the batch's writers; it keeps one statement's JSON and its time under the lock modest.
const MAX_GROUP: usize = 64;

type Done = oneshot::Sender<Result<CaseOutcome, StoreError>>;

/// A change waiting for a leader to write it.
struct Pending {
    who: CaseActor,
    work: Work,
    done: Done,
}

enum Work {
    /// An action planned from the committed case (optimistic: guarded by the case's version).
    Act { plan: ActionPlan, input: ActionInput, today: Option<NaiveDate> },
    /// An acceptance, checked.
    Accept { new: NewCase, checked: Acceptance, row: AcceptanceRow },
}

impl Pending {
    fn case_id(&self) -> Option<i64> {
        match &self.work {
            Work::Act { plan, .. } => Some(plan.row.id),
            Work::Accept { .. } => None,
        }
    }
}

/// The queue of changes and whether a leader is on its way.
#[derive(Default)]
pub(crate) struct Combiner {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queue: Vec<Pending>,
    leading: bool,
}

impl Combiner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a queue and a flag, consistent after every statement: usable after a panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a change; answers whether the caller must start a leader (none is on its way).
    fn push(&self, p: Pending) -> bool {
        let mut s = self.state();
        s.queue.push(p);
        !std::mem::replace(&mut s.leading, true)
    }

    /// The oldest queued changes, one action per case (a second action on a case was planned from
    /// the same version, or depends on the first: it waits for the next group), at most
    /// [`MAX_GROUP`].
    fn take_group(&self) -> Vec<Pending> {
        let mut s = self.state();
        let mut cases = HashSet::new();
        let (mut group, mut rest) = (Vec::new(), Vec::new());
        for p in s.queue.drain(..) {
            if group.len() < MAX_GROUP && p.case_id().is_none_or(|id| cases.insert(id)) {
                group.push(p);
            } else {
                rest.push(p);
            }
        }
        s.queue = rest;
        group
    }

    /// A leader has written: answers whether another must start for those who queued meanwhile;
    /// otherwise nobody leads until the next arrival.
    fn hand_over(&self) -> bool {
        let mut s = self.state();
        if s.queue.is_empty() {
            s.leading = false;
        }
        s.leading
    }
}

/// A failure that ends the whole group: each member hears it.
fn for_everyone(e: &StoreError) -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(format!("combined write failed: {e}")))
}

/// Whether an error was a refusal made in Rust, before anything was sent: the transaction is as it
/// was and the others can go on. Anything else (a failed statement aborts a PostgreSQL transaction)
/// ends the group.
fn refused(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::NotFound { .. }
            | StoreError::Conflict { .. }
            | StoreError::Invalid(_)
            | StoreError::Forbidden { .. }
            | StoreError::TooMany { .. }
    )
}

type Answer = (Done, Result<CaseOutcome, StoreError>);
type Failed = (Vec<Done>, StoreError);

/// A member of a group being written together, with what the first statement gave an acceptance.
struct Member<'a> {
    p: &'a Pending,
    opened: Option<(i64, String)>,
}

impl Store {
    /// Takes a planned action through the queue; answers once it is committed.
    pub(super) async fn act_combined(
        &self,
        plan: ActionPlan,
        by: &CaseActor,
        input: &ActionInput,
        today: Option<NaiveDate>,
    ) -> Result<CaseOutcome, StoreError> {
        self.combine(by, Work::Act { plan, input: input.clone(), today }).await
    }

    /// Takes a checked acceptance through the queue; answers once it is committed.
    pub(crate) async fn accept_combined(
        &self,
        by: &CaseActor,
        new: &NewCase,
        checked: Acceptance,
    ) -> Result<CaseOutcome, StoreError> {
        let row = self.acceptance_row(by, new, &checked)?;
        self.combine(by, Work::Accept { new: new.clone(), checked, row }).await
    }

    async fn combine(&self, by: &CaseActor, work: Work) -> Result<CaseOutcome, StoreError> {
        let (done, outcome) = oneshot::channel();
        if self.inner.combiner.push(Pending { who: by.clone(), work, done }) {
            self.start_leader();
        }
        outcome.await.unwrap_or_else(|_| Err(StoreError::Corrupt("the combined write went away".into())))
    }

    /// A leader has written: starts another for those who queued meanwhile, if any did.
    fn next_leader(&self) {
        if self.inner.combiner.hand_over() {
            self.start_leader();
        }
    }

    fn start_leader(&self) {
        let store = self.clone();
        self.inner.writer_thread.spawn(async move { store.lead().await });
    }

    /// Takes the lock, then the queue; writes it, hands over to the next leader, commits and answers.
    async fn lead(self) {
        let tx = self.begin_checked(&Actor::system()).await;
        let group = self.inner.combiner.take_group();
        let written = match tx {
            Ok(mut tx) => match self.write_group(&mut tx, group).await {
                Ok(answers) => Ok((tx, answers)),
                Err(failed) => Err(failed),
            },
            Err(e) => Err((group.into_iter().map(|p| p.done).collect(), e)),
        };
        match written {
            Err((members, e)) => {
                self.next_leader();
                for m in members {
                    let _ = m.send(Err(for_everyone(&e)));
                }
            }
            Ok((mut tx, answers)) => {
                let wrote = answers.iter().filter(|(_, r)| r.is_ok()).count() as u64;
                // A group whose every change was refused wrote nothing and has nothing to commit.
                let committed = match wrote {
                    0 => Ok(()),
                    _ => {
                        // Each change written counts as a writer of the batch; the leader is one.
                        tx.wrote_for(wrote - 1);
                        tx.commit().await.map(|_| ())
                    }
                };
                // Whoever queued while this group was written and committed goes next: a group's
                // commit does not wait for the next group to be written.
                self.next_leader();
                for (member, answer) in answers {
                    let answer = match (&committed, answer) {
                        (Err(e), Ok(_)) => Err(for_everyone(e)),
                        (_, answer) => answer,
                    };
                    let _ = member.send(answer);
                }
            }
        }
    }

    /// Writes a group together, or its members one by one where that cannot be. Answers each
    /// member's outcome (a refusal for an action planned again and refused), or, on a failure that
    /// ends the group, every member with the error.
    async fn write_group(&self, tx: &mut WriteTx, group: Vec<Pending>) -> Result<Vec<Answer>, Failed> {
        if group.len() == 1 {
            return self.write_alone(tx, group).await;
        }
        let opened = match self.insert_cases_together(tx, &group).await {
            Ok(opened) => opened,
            Err(e) => return Err((group.into_iter().map(|p| p.done).collect(), e)),
        };
        let mut members: Vec<Member> = Vec::with_capacity(group.len());
        for p in &group {
            let opened = match p.case_id() {
                Some(_) => None,
                None => match opened.get(token(p)) {
                    Some(o) => Some(o.clone()),
                    None => {
                        let e = StoreError::Corrupt("a case written together did not come back".into());
                        return Err((group.into_iter().map(|p| p.done).collect(), e));
                    }
                },
            };
            members.push(Member { p, opened });
        }
        match self.write_at_once(tx, &members).await {
            Ok(true) => {
                let answers = members.iter().map(|m| outcome(m)).collect::<Vec<_>>();
                return Ok(group.into_iter().zip(answers).map(|(p, o)| (p.done, Ok(o))).collect());
            }
            Ok(false) => {}
            Err(e) => return Err((group.into_iter().map(|p| p.done).collect(), e)),
        }
        // A case moved: the acceptances' rest together (they guard nothing), then the actions alone.
        let accepted: Vec<Member> = members.into_iter().filter(|m| m.opened.is_some()).collect();
        let answered: Vec<CaseOutcome> = accepted.iter().map(outcome).collect();
        if !accepted.is_empty() {
            match self.write_at_once(tx, &accepted).await {
                Ok(true) => {}
                Ok(false) => {
                    let e = StoreError::Corrupt("acceptances written together wrote nothing".into());
                    return Err((group.into_iter().map(|p| p.done).collect(), e));
                }
                Err(e) => return Err((group.into_iter().map(|p| p.done).collect(), e)),
            }
        }
        let (accepts, acts): (Vec<Pending>, Vec<Pending>) = group.into_iter().partition(|p| p.case_id().is_none());
        let mut answers: Vec<Answer> = accepts.into_iter().zip(answered).map(|(p, o)| (p.done, Ok(o))).collect();
        match self.write_alone(tx, acts).await {
            Ok(mut rest) => {
                answers.append(&mut rest);
                Ok(answers)
            }
            Err((mut everyone, e)) => {
                everyone.extend(answers.into_iter().map(|(m, _)| m));
                Err((everyone, e))
            }
        }
    }

    /// Members written one by one, each as it would be written alone.
    async fn write_alone(&self, tx: &mut WriteTx, group: Vec<Pending>) -> Result<Vec<Answer>, Failed> {
        let mut answers: Vec<Answer> = Vec::with_capacity(group.len());
        let mut members = group.into_iter();
        while let Some(p) = members.next() {
            tx.act_as(&p.who.actor);
            let written = match &p.work {
                Work::Act { plan, input, today } => self.write_one(tx, &p.who, plan, input, *today).await,
                Work::Accept { new, checked, .. } => {
                    self.write_acceptance(tx, &p.who, new, checked).await.map_err(|e| for_everyone(&e))
                }
            };
            match written {
                Ok(outcome) => answers.push((p.done, Ok(outcome))),
                Err(e) if refused(&e) => answers.push((p.done, Err(e))),
                Err(e) => {
                    let everyone = answers.into_iter().map(|(m, _)| m).chain([p.done]).chain(members.map(|p| p.done));
                    return Err((everyone.collect(), e));
                }
            }
        }
        Ok(answers)
    }

    /// One action as it is written alone: its plan if its case has not moved, else planned again
    /// here. A refusal comes only from planning, before anything is sent.
    async fn write_one(
        &self,
        tx: &mut WriteTx,
        who: &CaseActor,
        plan: &ActionPlan,
        input: &ActionInput,
        today: Option<NaiveDate>,
    ) -> Result<CaseOutcome, StoreError> {
        match self.apply_action(tx, plan, who, true).await {
            Ok(true) => return Ok(plan.outcome()),
            Ok(false) => {}
            Err(e) => return Err(for_everyone(&e)),
        }
        tx.note_replanned();
        let plan = self.plan_action(Reader::Sqlx(tx.conn()), plan.row.id, who, input, today).await?;
        if plan.moved && plan.in_bundle {
            // The bundle's rules write in statements of their own.
            tx.savepoint_now().await.map_err(|e| for_everyone(&e))?;
        }
        // From here a failure is not a refusal: it ends the group.
        match self.apply_action(tx, &plan, who, false).await {
            Ok(_) => Ok(plan.outcome()),
            Err(e) => Err(for_everyone(&e)),
        }
    }

    /// Inserts the group's new cases in one statement, numbering them; answers each one's id and
    /// number by its tracking token.
    async fn insert_cases_together(
        &self,
        tx: &mut WriteTx,
        group: &[Pending],
    ) -> Result<HashMap<String, (i64, String)>, StoreError> {
        let columns: Vec<&str> = CASE_INSERT_COLUMNS.split(',').map(str::trim).collect();
        let rows: Vec<Value> = group
            .iter()
            .filter_map(|p| match &p.work {
                // `$4`… are the columns, in order.
                Work::Accept { row, .. } => Some(Value::Object(
                    columns.iter().zip(&row.params[3..]).map(|(c, v)| (c.to_string(), v.to_json())).collect(),
                )),
                Work::Act { .. } => None,
            })
            .collect();
        if rows.is_empty() {
            return Ok(HashMap::new());
        }
        let n = rows.len();
        let opened: Vec<(i64, String, String)> =
            tx.send_json(&OPEN_SQL, Value::Array(rows).to_string(), n as i64).await?;
        if opened.len() != n {
            return Err(StoreError::Corrupt(format!("{n} cases written together, {} came back", opened.len())));
        }
        Ok(opened.into_iter().map(|(id, number, token)| (token, (id, number))).collect())
    }

    /// The members' timeline rows, visits, messages, audit rows and events, and the actions' case
    /// updates, in one statement. Answers false, having written nothing, if an acted-on case is no
    /// longer the version its plan read.
    async fn write_at_once(&self, tx: &mut WriteTx, members: &[Member<'_>]) -> Result<bool, StoreError> {
        let head = tx.chain_head().await?;
        let mut prev = head.clone();
        let at = now_ms();
        let mut rows = Vec::with_capacity(members.len());
        let mut events = Vec::with_capacity(members.len());
        let mut acts = 0;
        let vault = self.vault();
        for (ord, m) in members.iter().enumerate() {
            let (mut row, kind, place, subject, data) = match (&m.p.work, &m.opened) {
                (Work::Act { plan, .. }, _) => {
                    acts += 1;
                    action_row(plan, vault)
                }
                (Work::Accept { new, checked, row }, Some((id, number))) => {
                    acceptance_row(new, checked, row, *id, number, vault)
                }
                (Work::Accept { .. }, None) => {
                    return Err(StoreError::Corrupt("an acceptance without its case".into()));
                }
            };
            let detail = data.to_string();
            let hash = audit_hash(&prev, at, &m.p.who.actor.name, &kind, &place, &subject, &detail);
            for (k, v) in [
                ("ord", json!(ord)),
                ("actor", json!(m.p.who.actor.name)),
                ("staff_id", json!(m.p.who.actor.staff_id)),
                ("at", json!(at)),
                ("kind", json!(kind)),
                ("place", json!(place)),
                ("subject", json!(subject)),
                ("detail", json!(detail)),
                ("hash", json!(hash)),
            ] {
                row[k] = v;
            }
            rows.push(positional(row));
            events.push(Event { seq: 0, at, kind, place, subject, data });
            prev = hash;
        }
        let sent = json!({"rows": rows, "counters": group_counters(&events), "head": head}).to_string();
        let returned: Vec<(i64, String)> = tx.send_json(&WRITE_SQL, sent, acts).await?;
        if returned.is_empty() {
            return Ok(false);
        }
        let seqs: HashMap<String, i64> = returned.into_iter().map(|(seq, subject)| (subject, seq)).collect();
        for e in &mut events {
            e.seq = *seqs
                .get(&e.subject)
                .ok_or_else(|| StoreError::Corrupt(format!("no event came back for {}", e.subject)))?;
        }
        tx.recorded(events, prev);
        Ok(true)
    }
}

/// The dashboard counters the group's events add, summed by key (one upsert may not change a row
/// twice), as `[county, day, metric, dimension, by]` arrays: [`WRITE_SQL`] writes them itself, so a
/// batch of groups has no counters left to write at its commit (one statement fewer under the lock).
fn group_counters(events: &[Event]) -> Vec<Value> {
    let mut summed: BTreeMap<CounterKey, i64> = BTreeMap::new();
    for e in events {
        for (key, by) in crate::stats::counters_at(&e.kind, &e.place, &e.data, e.at) {
            *summed.entry(key).or_default() += by;
        }
    }
    summed.into_iter().map(|((county, day, metric, dim), by)| json!([county, day, metric, dim, by])).collect()
}

/// The tracking token of an acceptance: unique, so the new case is known by it.
fn token(p: &Pending) -> &str {
    match &p.work {
        Work::Accept { row, .. } => &row.track_token,
        Work::Act { .. } => "",
    }
}

/// What a member of a group written together did.
fn outcome(m: &Member<'_>) -> CaseOutcome {
    match (&m.p.work, &m.opened) {
        (Work::Act { plan, .. }, _) => plan.outcome(),
        (Work::Accept { checked, row, .. }, opened) => {
            let (id, number) = opened.clone().unwrap_or_default();
            acceptance_outcome(checked, row, id, number)
        }
    }
}

/// An action's row of [`WRITE_SQL`] (without what every row has), with its event.
fn action_row(p: &ActionPlan, vault: &Vault) -> (Value, String, String, String, Value) {
    let (kind, subject, data) = p.event();
    let message = p.message();
    let row = json!({
        "id": p.row.id, "version": p.row.version, "state": p.to,
        "department_id": p.department_id, "assignee_id": p.assignee, "paused_since": p.paused_since,
        "paused_days": p.paused_days, "due_on": p.due_on, "statutory_due_on": p.statutory_due_on,
        "step_due_on": p.step_due_on, "moved": i64::from(p.moved),
        // Only when the action changed them: the checklist is half of a row's bytes, and most
        // actions leave it as it was (`WRITE_SQL` keeps the case's own then).
        "materials": (p.materials != p.row.materials).then_some(&p.materials),
        // The pickup code and delivery may be null, so "left as it was" is a bit of `kept` instead.
        "kept": kept(p),
        "pickup_code": (p.pickup_code != p.row.pickup_code).then_some(&p.pickup_code),
        "delivery": (p.delivery != p.row.delivery).then_some(&p.delivery),
        "closed_at": p.closed_at, "now": p.now,
        "trips": p.trips, "action": p.action, "from_state": p.row.state, "comment": p.comment,
        "data": p.data, "visit": p.visit, "trip_source": "collect", "day": p.today.to_string(),
        "sms_to": message.as_ref().map(|(phone, _, _)| *phone),
        "sms_payload": message.as_ref().map(|(_, payload, _)| vault.seal(&payload.to_string())),
        "sms_key": message.as_ref().map(|(_, _, key)| key),
    });
    (row, kind, p.row.place_code.clone(), subject, data)
}

/// [`WRITE_SQL`]'s `kept` bits: which of an action's nullable columns it left as they were, so they
/// need not be sent (1: the pickup code, 2: the delivery).
fn kept(p: &ActionPlan) -> i64 {
    i64::from(p.pickup_code == p.row.pickup_code) | i64::from(p.delivery == p.row.delivery) << 1
}

/// An acceptance's row of [`WRITE_SQL`] once its case is in, with its event. No version: it updates
/// no case.
fn acceptance_row(
    new: &NewCase,
    a: &Acceptance,
    row: &AcceptanceRow,
    id: i64,
    number: &str,
    vault: &Vault,
) -> (Value, String, String, String, Value) {
    let tail = Store::acceptance_tail(new, a, id, number);
    let sms = row.sealed_phone.as_ref().zip(tail.sms.as_ref());
    let value = json!({
        "id": id, "state": a.initial, "now": a.now, "action": "accept", "from_state": "", "comment": "",
        "data": tail.timeline, "visit": row.window_visit.then_some(""), "trip_source": "window",
        "ticket_id": new.ticket_id, "day": a.today.to_string(),
        "sms_to": sms.map(|(phone, _)| phone),
        "sms_payload": sms.map(|(_, (payload, _))| vault.seal(&payload.to_string())),
        "sms_key": sms.map(|(_, (_, key))| key),
    });
    (value, "case.accepted".into(), new.place.as_str().to_string(), format!("case:{id}"), tail.event)
}

/// The group's new cases: `$1` their columns as a JSON array (in `CASE_INSERT_COLUMNS`' names), `$2`
/// how many. Each county's day counter moves on by its cases at once, and they are numbered after
/// it in the group's order, as one by one.
static OPEN_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH r AS MATERIALIZED (SELECT * FROM json_populate_recordset(NULL::cases, $1::json) WITH ORDINALITY), \
         k AS (SELECT county_code AS county, replace(accepted_on, '-', '') AS day, COUNT(*) AS n FROM r \
               WHERE (SELECT COUNT(*) FROM r) = $2 GROUP BY 1, 2), \
         b AS (INSERT INTO case_counters (county, day, last_number) SELECT county, day, n FROM k \
               ON CONFLICT (county, day) DO UPDATE SET last_number = case_counters.last_number + EXCLUDED.last_number \
               RETURNING county, day, last_number), \
         nr AS (SELECT r.*, b.county || '-' || b.day || '-' AS prefix, \
                b.last_number - k.n + row_number() OVER (PARTITION BY b.county, b.day ORDER BY r.ordinality) AS seqno \
                FROM r JOIN k ON k.county = r.county_code AND k.day = replace(r.accepted_on, '-', '') \
                JOIN b ON b.county = k.county AND b.day = k.day) \
         INSERT INTO cases (number, {CASE_INSERT_COLUMNS}) \
         SELECT prefix || lpad(seqno::text, GREATEST(5, length(seqno::text)), '0'), {CASE_INSERT_COLUMNS} \
         FROM nr ORDER BY ordinality RETURNING id, number, track_token"
    )
});

/// The columns of a row of [`WRITE_SQL`], in the order a row's values are sent.
#[rustfmt::skip]
const WRITE_COLUMNS: [(&str, &str); 38] = [
    ("ord", "BIGINT"), ("id", "BIGINT"), ("version", "BIGINT"), ("state", "TEXT"),
    ("department_id", "BIGINT"), ("assignee_id", "BIGINT"), ("paused_since", "TEXT"),
    ("paused_days", "BIGINT"), ("due_on", "TEXT"), ("statutory_due_on", "TEXT"), ("step_due_on", "TEXT"),
    ("moved", "BIGINT"), ("materials", "TEXT"), ("kept", "BIGINT"), ("pickup_code", "TEXT"), ("delivery", "TEXT"),
    ("closed_at", "BIGINT"), ("now", "BIGINT"), ("trips", "BIGINT"), ("action", "TEXT"),
    ("from_state", "TEXT"), ("actor", "TEXT"), ("staff_id", "BIGINT"), ("comment", "TEXT"), ("data", "TEXT"),
    ("visit", "TEXT"), ("trip_source", "TEXT"), ("ticket_id", "BIGINT"), ("day", "TEXT"), ("at", "BIGINT"),
    ("kind", "TEXT"), ("place", "TEXT"), ("subject", "TEXT"), ("detail", "TEXT"), ("hash", "TEXT"),
    ("sms_to", "TEXT"), ("sms_payload", "TEXT"), ("sms_key", "TEXT"),
];

/// A member's row, named, as the positional array [`WRITE_SQL`] reads (a name it lacks is null).
/// Positions, not names: PostgreSQL takes an array of arrays apart faster than `json_to_recordset`
/// takes objects apart (a hash of each object's keys): 0.78 against 1.04 ms for 63 rows.
fn positional(row: Value) -> Value {
    let Value::Object(mut named) = row else { unreachable!("action_row and acceptance_row build objects") };
    let values = WRITE_COLUMNS.iter().map(|(name, _)| named.remove(*name).unwrap_or(Value::Null)).collect();
    debug_assert!(named.is_empty(), "a row of the combined write has names it does not send: {named:?}");
    Value::Array(values)
}

/// The group's rows: `$1` `{"rows": …, "counters": …}`, the members as [`WRITE_COLUMNS`] arrays and
/// the counters they add ([`group_counters`]); `$2` how many members are actions. `ok` checks every
/// acted-on case is the version its plan read; every write happens only if so, and then the events'
/// sequence numbers come back (none otherwise). An action's `materials` is null when it left them
/// as they were, and so are its pickup code and delivery, their bits in `kept` set (`ok` has checked
/// the case is the version it planned from). An audit row's previous hash is the row's before it,
/// the first's the chain's head (`head`): the hashes travel once. Cases are found by
/// primary key (`= ANY`), whatever the planner guesses of the array's length. Acceptances carry no
/// version and update no case. Audit and event rows go in the group's order: the chain's and the
/// stream's.
static WRITE_SQL: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> =
        WRITE_COLUMNS.iter().enumerate().map(|(at, (name, ty))| format!("(r->>{at})::{ty} AS {name}")).collect();
    format!(
        "WITH j AS MATERIALIZED (SELECT $1::text::jsonb AS j), \
         i AS MATERIALIZED (SELECT {} FROM j, jsonb_array_elements(j.j->'rows') AS r),\n{BODY}",
        columns.join(", ")
    )
});

/// [`WRITE_SQL`] after its rows.
const BODY: &str = "\
ids AS MATERIALIZED (SELECT ARRAY(SELECT id FROM i WHERE version IS NOT NULL) AS ids),
ok AS MATERIALIZED (
  SELECT COUNT(*) = $2 AS ok FROM cases c JOIN i ON c.id = i.id AND c.version = i.version
  WHERE c.id = ANY ((SELECT ids FROM ids)::BIGINT[])
),
u AS (
  UPDATE cases c SET state = i.state, department_id = i.department_id, assignee_id = i.assignee_id,
    paused_since = i.paused_since, paused_days = i.paused_days, due_on = i.due_on,
    statutory_due_on = i.statutory_due_on, step_due_on = i.step_due_on,
    step_entered_at = CASE WHEN i.moved = 1 THEN i.now ELSE c.step_entered_at END,
    materials = COALESCE(i.materials, c.materials),
    pickup_code = CASE WHEN i.kept & 1 = 1 THEN c.pickup_code ELSE i.pickup_code END,
    delivery = CASE WHEN i.kept & 2 = 2 THEN c.delivery ELSE i.delivery END,
    closed_at = i.closed_at, updated_at = i.now, trips = i.trips, version = c.version + 1
  FROM i
  WHERE c.id = ANY ((SELECT ids FROM ids)::BIGINT[]) AND c.id = i.id AND c.version = i.version
    AND (SELECT ok FROM ok)
),
ca AS (
  INSERT INTO case_actions (case_id, action, from_state, to_state, actor, staff_id, comment, data, at)
  SELECT id, action, from_state, state, actor, staff_id, comment, data, now FROM i
  WHERE (SELECT ok FROM ok) ORDER BY ord
),
tr AS (
  INSERT INTO case_trips (case_id, at, day, source, ticket_id, reason, actor)
  SELECT id, now, day, trip_source, ticket_id, visit, actor FROM i
  WHERE visit IS NOT NULL AND (SELECT ok FROM ok) ORDER BY ord
),
ob AS (
  INSERT INTO outbox (created_at, channel, destination, payload, idempotency_key, next_attempt_at)
  SELECT at, 'sms', sms_to, sms_payload, sms_key, at FROM i
  WHERE sms_key IS NOT NULL AND (SELECT ok FROM ok) ORDER BY ord
  ON CONFLICT (idempotency_key) DO NOTHING
),
au AS (
  INSERT INTO audit (at, actor, action, place_code, subject, detail, prev_hash, hash)
  SELECT at, actor, kind, place, subject, detail,
    COALESCE(lag(hash) OVER (ORDER BY ord), (SELECT j->>'head' FROM j)), hash FROM i
  WHERE (SELECT ok FROM ok) ORDER BY ord
),
st AS (
  INSERT INTO stat_counters (county, day, metric, dim, value)
  SELECT c->>0, c->>1, c->>2, c->>3, (c->>4)::BIGINT FROM j, jsonb_array_elements(j.j->'counters') AS c
  WHERE (SELECT ok FROM ok)
  ON CONFLICT (county, day, metric, dim) DO UPDATE SET value = stat_counters.value + EXCLUDED.value
),
ev AS (
  INSERT INTO events (at, kind, place_code, subject, data)
  SELECT at, kind, place, subject, detail FROM i
  WHERE (SELECT ok FROM ok) ORDER BY ord RETURNING seq, subject
)
SELECT seq, subject FROM ev";
