//! The citizen's "who used my data" page (`/track/{token}/data-use`), reached from the tracking page:
//! every data-exchange lookup of the applicant and every unmasking of their cases. Public by the
//! tracking token for now; the citizen portal with SMS login comes later. See docs/exchange.md.

use super::cases::Nav;
use super::{error_page, render, Tr};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use onewindow_store::DataUse;

pub fn routes() -> Router<AppState> {
    Router::new().route("/track/{token}/data-use", get(data_use))
}

pub struct UseLine {
    pub u: DataUse,
    pub kind: String,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "exchange/data_use.html")]
struct DataUsePage {
    t: Tr,
    nav: Nav,
    token: String,
    number: String,
    lines: Vec<UseLine>,
}

fn outcome_label(t: &Tr, o: &str) -> String {
    match o {
        "found" => t.t("已查到", "Found"),
        "not_found" => t.t("未查到", "Not found"),
        "denied" => t.t("无权查询，已拒绝", "Refused: no right"),
        "pending" => t.t("待提供部门审核", "Waiting for the provider's approval"),
        "rejected" => t.t("提供部门不同意", "Refused by the provider"),
        "shown" => t.t("已查看", "Shown"),
        other => other,
    }
    .to_string()
}

async fn data_use(State(s): State<AppState>, t: Tr, Path(token): Path<String>) -> Response {
    if token.is_empty() || token.len() > 100 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return error_page(t, ApiError::not_found("case"));
    }
    let (number, list) = match s.store.data_use_by_token(&token).await {
        Ok(v) => v,
        Err(e) => return error_page(t, e.into()),
    };
    let lines = list
        .into_iter()
        .map(|u| UseLine {
            kind: if u.kind == "lookup" {
                t.t("数据共享查询", "Data exchange lookup")
            } else {
                t.t("查看完整个人信息", "Full personal data viewed")
            }
            .to_string(),
            outcome: outcome_label(&t, &u.outcome),
            u,
        })
        .collect();
    render(&DataUsePage { nav: Nav { role: String::new(), current: "" }, t, token, number, lines })
}
