//! The staffing simulation page (`/simulate`, leaders and admins): the form's day of arrivals run
//! through the discrete-event hall model, pooled general windows against one queue per department,
//! beside Erlang C's windows per hour, with charts drawn by the server. See docs/simulation.md.

use super::chart::{bars, Reference, Series};
use super::{error_page, render, Tr};
use crate::auth::MaybeStaff;
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onewindow_core::staffing::{
    simulate, windows_per_hour, Arrivals, Hall, RunOptions, ServiceTime, SimReport, Stream,
};
use onewindow_core::FieldError;
use onewindow_store::Role;

/// The form, as typed (every field optional: the defaults are the seed's hall).
#[derive(serde::Deserialize, Default)]
pub struct SimForm {
    arrivals: Option<String>,
    departments: Option<String>,
    service_minutes: Option<String>,
    service_cv: Option<String>,
    windows: Option<String>,
    layout: Option<String>,
    target_minutes: Option<String>,
    target_percent: Option<String>,
    replications: Option<String>,
}

/// The form's values once read.
pub struct Inputs {
    pub arrivals: Vec<f64>,
    pub departments: usize,
    pub service_minutes: f64,
    pub service_cv: f64,
    /// Windows per hour for the pooled hall (the split hall shares them out); none = Erlang C's.
    pub windows: Option<Vec<u32>>,
    pub layout: String,
    pub target_minutes: f64,
    pub target_share: f64,
    pub replications: u32,
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn number(v: &Option<String>, field: &str, zh: &str, default: f64, min: f64, max: f64) -> Result<f64, FieldError> {
    let Some(s) = text(v) else { return Ok(default) };
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= min && x <= max => Ok(x),
        _ => Err(FieldError::new(
            field,
            format!("{zh}应为 {min} 到 {max} 之间的数"),
            format!("{field} must be a number from {min} to {max}"),
        )),
    }
}

fn list<T: std::str::FromStr>(s: &str, field: &str, zh: &str, ok: impl Fn(&T) -> bool) -> Result<Vec<T>, FieldError> {
    let parsed: Option<Vec<T>> = s
        .split([',', '，', ' '])
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse::<T>().ok().filter(|x| ok(x)))
        .collect();
    match parsed {
        Some(v) if !v.is_empty() && v.len() <= 24 => Ok(v),
        _ => Err(FieldError::new(
            field,
            format!("{zh}应为逗号分隔的非负数，每小时一个，最多24个"),
            format!("{field} must be comma-separated numbers, one per hour, at most 24"),
        )),
    }
}

impl SimForm {
    /// Every field's value, or every field's error.
    pub fn read(&self) -> Result<Inputs, Vec<FieldError>> {
        let mut errs = Vec::new();
        let mut take = |r: Result<f64, FieldError>| r.map_err(|e| errs.push(e)).unwrap_or(0.0);
        let departments = take(number(&self.departments, "departments", "部门数", 4.0, 1.0, 20.0));
        let service_minutes = take(number(&self.service_minutes, "service_minutes", "平均办理时间", 10.0, 0.5, 240.0));
        let service_cv = take(number(&self.service_cv, "service_cv", "办理时间变异系数", 1.0, 0.0, 3.0));
        let target_minutes = take(number(&self.target_minutes, "target_minutes", "目标等候时间", 10.0, 0.0, 240.0));
        let target_percent = take(number(&self.target_percent, "target_percent", "目标占比", 80.0, 1.0, 99.0));
        let replications = take(number(&self.replications, "replications", "模拟天数", 200.0, 1.0, 2000.0));
        let arrivals = list::<f64>(
            text(&self.arrivals).unwrap_or("20,35,50,40,30,45,50,35"),
            "arrivals",
            "每小时到达人数",
            |x| x.is_finite() && *x >= 0.0 && *x <= 5000.0,
        )
        .map_err(|e| errs.push(e))
        .unwrap_or_default();
        let windows = match text(&self.windows) {
            None => None,
            Some(s) => {
                list::<u32>(s, "windows", "每小时窗口数", |w| (1..=500).contains(w)).map_err(|e| errs.push(e)).ok()
            }
        };
        if let Some(w) = &windows {
            if !arrivals.is_empty() && w.len() != arrivals.len() {
                errs.push(FieldError::new(
                    "windows",
                    format!("每小时窗口数应有{}个，与到达人数一一对应", arrivals.len()),
                    format!("windows must give {} numbers, one per hour of arrivals", arrivals.len()),
                ));
            }
        }
        let layout = text(&self.layout).unwrap_or("compare").to_string();
        if !matches!(layout.as_str(), "compare" | "pooled" | "split") {
            errs.push(FieldError::new(
                "layout",
                "布局应为对比、综合窗口或分部门",
                "layout must be compare, pooled or split",
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Inputs {
            arrivals,
            departments: departments as usize,
            service_minutes,
            service_cv,
            windows,
            layout,
            target_minutes,
            target_share: target_percent / 100.0,
            replications: replications as u32,
        })
    }
}

/// One layout's simulated day.
pub struct Outcome {
    pub pooled: bool,
    pub windows: Vec<u32>,
    pub report: SimReport,
}

pub struct Results {
    /// Windows per hour Erlang C recommends: pooled, and all department queues together.
    pub recommended_pooled: Vec<u32>,
    pub recommended_split: Vec<u32>,
    pub outcomes: Vec<Outcome>,
}

/// Shares `total` windows among `n` departments (at least one each).
fn share_out(total: u32, n: usize) -> Vec<u32> {
    let n32 = n.max(1) as u32;
    (0..n32).map(|i| (total / n32 + u32::from(i < total % n32)).max(1)).collect()
}

/// Runs the simulation for the inputs.
pub fn run(i: &Inputs) -> Result<Results, FieldError> {
    let staffing = |e: onewindow_core::staffing::StaffingError| {
        FieldError::new("arrivals", format!("无法模拟：{e}"), format!("cannot simulate: {e}"))
    };
    let n = i.departments.max(1);
    let per_dept: Vec<f64> = i.arrivals.iter().map(|a| a / n as f64).collect();
    let recommended_pooled =
        windows_per_hour(&i.arrivals, i.service_minutes, i.target_share, i.target_minutes).map_err(staffing)?;
    let recommended_one =
        windows_per_hour(&per_dept, i.service_minutes, i.target_share, i.target_minutes).map_err(staffing)?;
    let recommended_split: Vec<u32> = recommended_one.iter().map(|w| w.max(&1) * n as u32).collect();
    // The last hour keeps at least one window so the queue drains.
    let windows: Vec<u32> =
        i.windows.clone().unwrap_or_else(|| recommended_pooled.iter().map(|w| *w.max(&1)).collect());
    let service = ServiceTime::with_cv(i.service_minutes, i.service_cv);
    let streams: Vec<Stream> = (0..n)
        .map(|d| Stream { name: format!("D{}", d + 1), arrivals: Arrivals::PerHour(per_dept.clone()), service })
        .collect();
    let opts = RunOptions { replications: i.replications, target_minutes: i.target_minutes, ..Default::default() };
    let mut outcomes = Vec::new();
    if i.layout != "split" {
        let report = simulate(&Hall::pooled(streams.clone(), windows.clone()), &opts).map_err(staffing)?;
        outcomes.push(Outcome { pooled: true, windows: windows.clone(), report });
    }
    if i.layout != "pooled" {
        let per_hour: Vec<Vec<u32>> = windows.iter().map(|w| share_out(*w, n)).collect();
        let schedules: Vec<Vec<u32>> = (0..n).map(|d| per_hour.iter().map(|h| h[d]).collect()).collect();
        let total: Vec<u32> = per_hour.iter().map(|h| h.iter().sum()).collect();
        let report = simulate(&Hall::split(streams, schedules), &opts).map_err(staffing)?;
        outcomes.push(Outcome { pooled: false, windows: total, report });
    }
    Ok(Results { recommended_pooled, recommended_split, outcomes })
}

#[derive(Template)]
#[template(path = "simulate.html")]
struct SimPage {
    t: Tr,
    f: SimForm,
    errors: Vec<FieldError>,
    inputs: Option<Inputs>,
    results: Option<Results>,
}

impl SimPage {
    fn val<'a>(&self, v: &'a Option<String>, default: &'a str) -> &'a str {
        v.as_deref().unwrap_or(default)
    }
    fn pct(&self, v: &f64) -> String {
        format!("{:.1}%", v * 100.0)
    }
    fn min(&self, v: &f64) -> String {
        format!("{v:.1}")
    }
    fn layout_name(&self, o: &Outcome) -> &'static str {
        match (o.pooled, self.t.en) {
            (true, false) => "综合窗口（一个队列）",
            (true, true) => "Pooled windows (one queue)",
            (false, false) => "分部门窗口（每部门一个队列）",
            (false, true) => "Department windows (one queue each)",
        }
    }
    fn hour_labels(&self) -> Vec<String> {
        let hours = self.inputs.as_ref().map(|i| i.arrivals.len()).unwrap_or(0);
        (0..hours).map(|h| format!("{:02}:00", 9 + h)).collect()
    }
    fn series(&self, f: impl Fn(&Outcome) -> Vec<f64>) -> Vec<Series<'_>> {
        let Some(r) = &self.results else { return Vec::new() };
        r.outcomes
            .iter()
            .map(|o| Series {
                name: if o.pooled {
                    self.t.t("综合窗口", "pooled")
                } else {
                    self.t.t("分部门", "by department")
                },
                fill: if o.pooled { "#0b4f9c" } else { "#c0632b" },
                values: f(o),
            })
            .collect()
    }
    fn wait_chart(&self) -> String {
        let target = self.inputs.as_ref().map(|i| i.target_minutes).unwrap_or(0.0);
        let label = format!("{} {target} {}", self.t.t("目标", "target"), self.t.t("分钟", "min"));
        bars(
            "sim-wait",
            self.t.t("每小时取号者的平均等候（分钟）", "Mean wait by hour of arrival (minutes)"),
            &self.hour_labels(),
            &self.series(|o| o.report.per_hour.iter().map(|h| h.mean_wait).collect()),
            Some(Reference { value: target, label: &label }),
        )
    }
    fn utilisation_chart(&self) -> String {
        bars(
            "sim-util",
            self.t.t("每小时窗口利用率（%）", "Window utilisation by hour (%)"),
            &self.hour_labels(),
            &self.series(|o| o.report.per_hour.iter().map(|h| (h.utilisation * 100.0).round()).collect()),
            None,
        )
    }
    fn windows_chart(&self) -> String {
        let Some(r) = &self.results else { return String::new() };
        let used = r.outcomes.first().map(|o| o.windows.iter().map(|w| f64::from(*w)).collect()).unwrap_or_default();
        bars(
            "sim-windows",
            self.t.t("每小时窗口数：模拟所用与爱尔朗C建议", "Windows per hour: simulated and recommended by Erlang C"),
            &self.hour_labels(),
            &[
                Series { name: self.t.t("模拟所用", "simulated"), fill: "#5a5a5a", values: used },
                Series {
                    name: self.t.t("建议（综合窗口）", "recommended, pooled"),
                    fill: "#0b4f9c",
                    values: r.recommended_pooled.iter().map(|w| f64::from(*w)).collect(),
                },
                Series {
                    name: self.t.t("建议（分部门合计）", "recommended, by department"),
                    fill: "#c0632b",
                    values: r.recommended_split.iter().map(|w| f64::from(*w)).collect(),
                },
            ],
            None,
        )
    }
}

/// The simulation page: the form, and the results of what it holds (the defaults on first visit).
pub async fn page(t: Tr, MaybeStaff(me): MaybeStaff, Query(f): Query<SimForm>) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    if let Err(e) = me.require(&[Role::Leader, Role::Admin]) {
        return error_page(t, e);
    }
    let inputs = match f.read() {
        Ok(i) => i,
        Err(errors) => {
            let page = SimPage { t, f, errors, inputs: None, results: None };
            return (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response();
        }
    };
    let (inputs, outcome) = match tokio::task::spawn_blocking(move || {
        let r = run(&inputs);
        (inputs, r)
    })
    .await
    {
        Ok(x) => x,
        Err(e) => return error_page(t, crate::error::ApiError::Internal(e.to_string())),
    };
    match outcome {
        Ok(results) => render(&SimPage { t, f, errors: Vec::new(), inputs: Some(inputs), results: Some(results) }),
        Err(e) => {
            let page = SimPage { t, f, errors: vec![e], inputs: Some(inputs), results: None };
            (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fields_are_each_named() {
        let f = SimForm {
            arrivals: Some("20,x".into()),
            service_minutes: Some("-1".into()),
            layout: Some("both".into()),
            ..Default::default()
        };
        let errs = f.read().err().unwrap_or_default();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["service_minutes", "arrivals", "layout"]);
    }

    #[test]
    fn pooling_beats_department_queues_with_the_same_windows() {
        let i = SimForm::default().read().unwrap_or_else(|_| unreachable!());
        let r = run(&i).unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(r.outcomes.len(), 2);
        assert_eq!(r.outcomes[0].windows, r.outcomes[1].windows, "the same windows in both halls");
        assert!(r.outcomes[0].report.overall.mean_wait < r.outcomes[1].report.overall.mean_wait);
        assert!(r.recommended_split.iter().sum::<u32>() > r.recommended_pooled.iter().sum::<u32>());
        assert_eq!(share_out(5, 4), [2, 1, 1, 1]);
        assert_eq!(share_out(2, 4), [1, 1, 1, 1]);
    }
}
