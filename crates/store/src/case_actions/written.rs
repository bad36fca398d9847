//! Cases as this server last wrote them, so that the next action on a case is planned without reading
//! it: on PostgreSQL that read was a query of its own for every action, about a third of the
//! database's work per action in a profile; on SQLite a read on the store's own connection.
//!
//! Safe because every optimistic action is written only if the case is still the version its plan
//! read. A row is kept here with the version its own write gave it, and only after that write
//! committed; if the case has moved since (another instance, a job, a citizen), the guard fails and
//! the action is planned again from a fresh read, as for any optimistic action (and a group written
//! together then falls back to one by one, so a row made older by any other change, here or on
//! another instance, is forgotten as soon as this one hears of its event: relay.rs). A plan made
//! here and refused is made again from a fresh read: a refusal must be what the committed case says.
//! An entry is taken when it is used, so two actions never plan from the same kept row; cases in a
//! bundle, forwarded cases (the new department's name is not known here) and closed cases are not
//! kept.

use crate::cases::{CaseActor, CaseRow};
use std::collections::HashMap;
use std::sync::Mutex;

/// Beyond this many cases the store starts again empty; a hall acts on far fewer at once.
const MOST: usize = 4096;

#[derive(Default)]
pub(crate) struct WrittenCases {
    rows: Mutex<HashMap<i64, CaseRow>>,
}

impl WrittenCases {
    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<i64, CaseRow>> {
        // A map of whole rows, consistent after every statement: usable after a panic.
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The case as this server last wrote it, if it kept it; it is no longer kept.
    pub(crate) fn take(&self, id: i64) -> Option<CaseRow> {
        self.rows().remove(&id)
    }

    /// Keeps the case as an action that committed wrote it, if that can be told (`case_after`).
    pub(crate) fn keep_if(&self, row: Option<CaseRow>) {
        let Some(row) = row else { return };
        let mut rows = self.rows();
        if rows.len() >= MOST {
            rows.clear();
        }
        rows.insert(row.id, row);
    }
}

impl crate::db::Store {
    /// These cases changed (on this instance or another): what was kept of them is older now, and an
    /// action planned from it would fail its guard. Safe for an action's own event too: it is
    /// published at its commit, before the action keeps its row.
    pub(crate) fn forget_written_cases_after(&self, events: &[&crate::write::Event]) {
        for id in events.iter().filter_map(|e| e.subject.strip_prefix("case:")?.parse::<i64>().ok()) {
            self.inner.written_cases.take(id);
        }
    }

    /// An action planned outside the lock: from the case as this server last wrote it if it kept
    /// it, otherwise (or if that plan is refused: a refusal must be what the committed case says)
    /// from a fresh read through `reader`.
    pub(super) async fn plan_outside_lock(
        &self,
        mut reader: super::Reader<'_>,
        id: i64,
        by: &CaseActor,
        input: &super::ActionInput,
        today: Option<chrono::NaiveDate>,
    ) -> Result<super::ActionPlan, crate::StoreError> {
        if let Some(row) = self.inner.written_cases.take(id).filter(|row| crate::cases::can_see(by, row)) {
            if let Ok(plan) = self.plan_on(reader.again(), row, false, by, input, today).await {
                return Ok(plan);
            }
        }
        self.plan_action(reader, id, by, input, today).await
    }

    /// Whether the case as this server last wrote it is the case in the database, column by column;
    /// `None` if it is not kept (tests hold `ActionPlan::case_after` to the case update).
    pub async fn kept_case_matches_database(&self, id: i64) -> Result<Option<bool>, crate::StoreError> {
        let Some(kept) = self.inner.written_cases.rows().get(&id).cloned() else { return Ok(None) };
        let read = super::Reader::Pool(self.pool()).acting_row(id).await?.map(|r| r.case);
        Ok(Some(read.as_ref() == Some(&kept)))
    }
}

impl super::ActionPlan {
    /// The case as this plan writes it, if it can be told without reading it back: what the case
    /// update sets, the version one on, the rest as read.
    pub(super) fn case_after(&self, by: &CaseActor) -> Option<CaseRow> {
        let r = &self.row;
        if self.in_bundle || self.closed_at.is_some() || self.department_id != r.department_id {
            return None;
        }
        let assignee = match self.assignee {
            a if a == r.assignee_id => r.assignee.clone(),
            None => None,
            Some(a) if Some(a) == by.actor.staff_id => Some(by.actor.name.clone()),
            Some(_) => return None,
        };
        Some(CaseRow {
            state: self.to.clone(),
            assignee,
            assignee_id: self.assignee,
            paused_since: self.paused_since.clone(),
            paused_days: self.paused_days,
            due_on: self.due_on.clone(),
            statutory_due_on: self.statutory_due_on.clone(),
            step_due_on: self.step_due_on.clone(),
            materials: self.materials.clone(),
            pickup_code: self.pickup_code.clone(),
            delivery: self.delivery.clone(),
            trips: self.trips,
            closed_at: self.closed_at,
            version: r.version + 1,
            ..r.clone()
        })
    }
}
