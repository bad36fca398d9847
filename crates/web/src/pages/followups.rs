//! 差评回访: the follow-up tasks of dissatisfied ratings, for the department's approvers (their own)
//! and the county's leaders, with the call-back note that closes each; and ratings by department.

use super::cases::{staff_only, Nav};
use super::{error_page, render, Tr};
use crate::api::cases::case_actor;
use crate::auth::MaybeStaff;
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use onewindow_store::{FollowupView, RatingRow, Role, RATING_NAMES};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new().route("/followups", get(list)).route("/followups/{id}/close", post(close))
}

#[derive(Template)]
#[template(path = "cases/followups.html")]
struct FollowupsPage {
    t: Tr,
    nav: Nav,
    open: Vec<FollowupView>,
    closed: Vec<FollowupView>,
    ratings: Vec<RatingRow>,
    error: Option<(i64, String)>,
}

impl FollowupsPage {
    fn score_name(&self, score: &i64) -> &'static str {
        RATING_NAMES
            .iter()
            .find(|(s, _, _)| s == score)
            .map(|(_, zh, en)| if self.t.en { *en } else { *zh })
            .unwrap_or("")
    }
    fn pct(&self, share: &f64) -> String {
        format!("{:.0}%", share * 100.0)
    }
    fn mean(&self, m: &f64) -> String {
        format!("{m:.2}")
    }
    fn error_for(&self, id: &i64) -> String {
        self.error.as_ref().filter(|(i, _)| i == id).map(|(_, m)| m.clone()).unwrap_or_default()
    }
}

const ROLES: [Role; 3] = [Role::Approver, Role::Leader, Role::Admin];

async fn page(s: &AppState, t: Tr, me: &crate::auth::CurrentStaff, error: Option<(i64, String)>) -> Response {
    let load = async {
        let by = case_actor(me)?;
        let all = s.store.followups(&by, false).await?;
        let mut ratings = s.store.rating_report(&me.county()?).await?;
        if let Some(d) = by.department.as_deref().filter(|_| by.role == "approver") {
            ratings.retain(|r| r.department == d);
        }
        Ok::<_, crate::error::ApiError>((all, ratings))
    };
    match load.await {
        Ok((all, ratings)) => {
            let (open, closed) = all.into_iter().partition(|f| f.state == "open");
            let status =
                if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
            (status, render(&FollowupsPage { nav: Nav::of(me, "followups"), t, open, closed, ratings, error }))
                .into_response()
        }
        Err(e) => error_page(t, e),
    }
}

async fn list(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, me) = match staff_only(t, me, &ROLES) {
        Ok(v) => v,
        Err(r) => return r,
    };
    page(&s, t, &me, None).await
}

#[derive(Deserialize)]
struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn close(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Path(id): Path<i64>,
    Form(f): Form<CloseForm>,
) -> Response {
    let (t, me) = match staff_only(t, me, &ROLES) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(e) = me.check_csrf(&f.csrf) {
        return error_page(t, e);
    }
    let r = async {
        let by = case_actor(&me)?;
        s.store.close_followup(&by, id, &f.note).await.map_err(crate::error::ApiError::from)
    }
    .await;
    match r {
        Ok(_) => Redirect::to("/followups").into_response(),
        Err(e) => {
            let msg = e.message(t.en);
            page(&s, t, &me, Some((id, msg))).await
        }
    }
}
