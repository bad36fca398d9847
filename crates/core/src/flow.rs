//! Flows as data: the states a case passes through and the actions that move it, with who may take
//! each (role, department, level) and each step's time limit in working days. A definition is checked
//! when loaded — unreachable states, actions nobody may take, no way to finish — so a bad flow never
//! reaches a case. The check of one transition (`Flow::action_for`) is pure and used by the store.

use crate::error::{FieldError, Invalid};
use crate::place::PlaceLevel;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// `to = "@same"`: the action keeps the case where it is (claim, forward, supply a material).
pub const SAME: &str = "@same";

/// The roles a flow may name (the staff roles of onewindow, plus the citizen).
pub const KNOWN_ROLES: [&str; 8] =
    ["admin", "leader", "guide", "consultant", "acceptor", "approver", "village_clerk", "citizen"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// Working days this step should take (its own due date); none for no step limit.
    #[serde(default)]
    pub limit_days: Option<u32>,
    /// Whether time in this state counts toward the statutory limit. Waiting for the citizen to
    /// supplement (补正) does not: the clock pauses.
    #[serde(default = "yes")]
    pub counts: bool,
    #[serde(default)]
    pub terminal: bool,
    /// Who holds the case here: the item's department (`item`), the case's acceptor, or the citizen.
    #[serde(default)]
    pub holder: Holder,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// The department that handles the item (after any forward).
    #[default]
    Department,
    /// The window that accepted the case (unified delivery).
    Window,
    /// The citizen (correction, collection).
    Citizen,
}

/// Which department an action's taker must belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DepartmentRule {
    /// Anyone with the role.
    #[default]
    Any,
    /// The department currently responsible for the case.
    Case,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub from: Vec<String>,
    /// The next state, or [`SAME`].
    pub to: String,
    pub roles: Vec<String>,
    /// The level the taker must work at (village, township, county); any level when absent.
    #[serde(default)]
    pub level: Option<PlaceLevel>,
    #[serde(default)]
    pub department: DepartmentRule,
    /// A comment (reason) is required: rejections, returns, forwards.
    #[serde(default)]
    pub needs_comment: bool,
    /// The action records a physical visit of the citizen (collection at the window).
    #[serde(default)]
    pub visit: bool,
    /// Materials that must be received or verified before this action.
    #[serde(default)]
    pub requires_materials: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub initial: String,
    pub states: Vec<State>,
    pub actions: Vec<Action>,
}

/// Who is trying to act, as the flow sees them.
#[derive(Debug, Clone)]
pub struct Taker<'a> {
    pub role: &'a str,
    pub level: PlaceLevel,
    pub department: Option<&'a str>,
}

/// Why an action cannot be taken now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such action in this flow.
    Unknown,
    /// Not from this state; these are the actions that are.
    NotNow { allowed: Vec<String> },
    /// The taker's role, level or department does not fit.
    NotYours { why_zh: String, why_en: String },
}

impl Flow {
    /// Parses TOML or JSON and checks the definition.
    pub fn parse(text: &str) -> Result<Flow, Invalid> {
        let flow: Flow = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| {
                Invalid::one(FieldError::new(
                    "flow",
                    format!("流程定义格式错误：{e}"),
                    format!("malformed flow definition: {e}"),
                ))
            })?
        } else {
            toml::from_str(text).map_err(|e| {
                Invalid::one(FieldError::new(
                    "flow",
                    format!("流程定义格式错误：{e}"),
                    format!("malformed flow definition: {e}"),
                ))
            })?
        };
        flow.check()?;
        Ok(flow)
    }

    pub fn state(&self, code: &str) -> Option<&State> {
        self.states.iter().find(|s| s.code == code)
    }

    pub fn action(&self, code: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.code == code)
    }

    /// The actions possible from a state (whoever may take them).
    pub fn actions_from(&self, state: &str) -> Vec<&Action> {
        self.actions.iter().filter(|a| a.from.iter().any(|f| f == state)).collect()
    }

    /// Every problem of the definition at once.
    pub fn check(&self) -> Result<(), Invalid> {
        let mut errs = Invalid::default();
        let mut err = |field: String, zh: String, en: String| errs.push(FieldError::new(field, zh, en));
        let codes: BTreeSet<&str> = self.states.iter().map(|s| s.code.as_str()).collect();
        if codes.len() != self.states.len() {
            err("states".into(), "状态编码重复".into(), "state codes repeat".into());
        }
        let action_codes: BTreeSet<&str> = self.actions.iter().map(|a| a.code.as_str()).collect();
        if action_codes.len() != self.actions.len() {
            err("actions".into(), "操作编码重复".into(), "action codes repeat".into());
        }
        if !codes.contains(self.initial.as_str()) {
            err(
                "initial".into(),
                format!("初始状态“{}”不存在", self.initial),
                format!("the initial state \"{}\" does not exist", self.initial),
            );
        }
        if !self.states.iter().any(|s| s.terminal) {
            err("states".into(), "流程没有结束状态".into(), "the flow has no terminal state".into());
        }
        for (i, a) in self.actions.iter().enumerate() {
            for f in a.from.iter().chain(std::iter::once(&a.to).filter(|t| t.as_str() != SAME)) {
                if !codes.contains(f.as_str()) {
                    err(
                        format!("actions[{i}]"),
                        format!("操作“{}”引用了不存在的状态“{f}”", a.code),
                        format!("action \"{}\" names a state \"{f}\" that does not exist", a.code),
                    );
                }
            }
            if a.from.is_empty() {
                err(
                    format!("actions[{i}].from"),
                    format!("操作“{}”没有起始状态", a.code),
                    format!("action \"{}\" starts from no state", a.code),
                );
            }
            let known: Vec<&String> = a.roles.iter().filter(|r| KNOWN_ROLES.contains(&r.as_str())).collect();
            if known.is_empty() {
                err(
                    format!("actions[{i}].roles"),
                    format!("操作“{}”没有人可以执行", a.code),
                    format!("nobody may take action \"{}\"", a.code),
                );
            }
            for r in &a.roles {
                if !KNOWN_ROLES.contains(&r.as_str()) {
                    err(format!("actions[{i}].roles"), format!("未知角色“{r}”"), format!("unknown role \"{r}\""));
                }
            }
            if a.from.iter().any(|f| self.state(f).is_some_and(|s| s.terminal)) {
                err(
                    format!("actions[{i}].from"),
                    format!("操作“{}”从结束状态出发", a.code),
                    format!("action \"{}\" leaves a terminal state", a.code),
                );
            }
        }
        // Reachability from the initial state.
        let mut reached: BTreeSet<&str> = BTreeSet::new();
        let mut todo = vec![self.initial.as_str()];
        while let Some(s) = todo.pop() {
            if reached.insert(s) {
                todo.extend(
                    self.actions
                        .iter()
                        .filter(|a| a.from.iter().any(|f| f == s) && a.to != SAME)
                        .map(|a| a.to.as_str()),
                );
            }
        }
        for s in &self.states {
            if !reached.contains(s.code.as_str()) && codes.contains(self.initial.as_str()) {
                err(
                    "states".into(),
                    format!("状态“{}”无法到达", s.code),
                    format!("state \"{}\" cannot be reached", s.code),
                );
            }
            if !s.terminal && !self.actions_from(&s.code).iter().any(|a| a.to != SAME) {
                err(
                    "states".into(),
                    format!("状态“{}”没有后续操作，流程会卡住", s.code),
                    format!("state \"{}\" has no action out: cases would be stuck", s.code),
                );
            }
        }
        errs.into_result(())
    }

    /// Where an action from `state` leads.
    pub fn next_state<'a>(&'a self, state: &'a str, action: &'a Action) -> &'a str {
        if action.to == SAME {
            state
        } else {
            &action.to
        }
    }

    /// The action if `taker` may take it from `state`, or why not.
    pub fn action_for(
        &self,
        state: &str,
        action: &str,
        taker: &Taker,
        case_department: Option<&str>,
    ) -> Result<&Action, Refusal> {
        let a = self.action(action).ok_or(Refusal::Unknown)?;
        if !a.from.iter().any(|f| f == state) {
            return Err(Refusal::NotNow { allowed: self.actions_from(state).iter().map(|a| a.code.clone()).collect() });
        }
        if !a.roles.iter().any(|r| r == taker.role) {
            return Err(Refusal::NotYours {
                why_zh: format!("“{}”需要以下角色：{}", a.name, a.roles.join("、")),
                why_en: format!("\"{}\" needs one of the roles: {}", a.code, a.roles.join(", ")),
            });
        }
        if let Some(level) = a.level {
            if level != taker.level {
                return Err(Refusal::NotYours {
                    why_zh: format!("“{}”须由{}级办理", a.name, level.zh()),
                    why_en: format!("\"{}\" is taken at {} level", a.code, level),
                });
            }
        }
        if a.department == DepartmentRule::Case
            && case_department.is_some()
            && taker.department != case_department
            && taker.role != "citizen"
        {
            return Err(Refusal::NotYours {
                why_zh: "该办件不属于您的部门".into(),
                why_en: "this case belongs to another department".into(),
            });
        }
        Ok(a)
    }
}

/// The flows shipped with onewindow, by code.
pub fn builtin_flows() -> Result<HashMap<String, Flow>, Invalid> {
    [
        include_str!("../flows/general.toml"),
        include_str!("../flows/house_building.toml"),
        include_str!("../flows/three_level.toml"),
        include_str!("../flows/online.toml"),
    ]
    .into_iter()
    .map(|t| Flow::parse(t).map(|f| (f.code.clone(), f)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_flows_pass_the_check() {
        let flows = builtin_flows().unwrap();
        for code in ["general", "house_building", "three_level", "online"] {
            assert!(flows.contains_key(code), "{code}");
        }
        // The house-building reform: five steps in seven working days.
        let hb = &flows["house_building"];
        let steps: Vec<&State> = hb.states.iter().filter(|s| s.limit_days.is_some()).collect();
        assert_eq!(steps.len(), 5);
        assert_eq!(steps.iter().map(|s| s.limit_days.unwrap_or(0)).sum::<u32>(), 7);
    }

    #[test]
    fn a_bad_definition_reports_every_problem() {
        let bad = r#"
            code = "bad"
            name = "坏流程"
            initial = "start"
            [[states]]
            code = "start"
            name = "开始"
            [[states]]
            code = "island"
            name = "孤岛"
            [[actions]]
            code = "go"
            name = "前进"
            from = ["start"]
            to = "start"
            roles = ["wizard"]
        "#;
        let errs = Flow::parse(bad).unwrap_err();
        let all: String = errs.0.iter().map(|e| e.en.clone()).collect::<Vec<_>>().join("\n");
        assert!(all.contains("no terminal state"), "{all}");
        assert!(all.contains("nobody may take action \"go\""), "{all}");
        assert!(all.contains("unknown role \"wizard\""), "{all}");
        assert!(all.contains("\"island\" cannot be reached"), "{all}");
        assert!(all.contains("\"island\" has no action out"), "{all}");
        assert!(Flow::parse("not = [toml").is_err());
    }

    #[test]
    fn who_may_act() {
        let flows = builtin_flows().unwrap();
        let g = &flows["general"];
        let approver = Taker { role: "approver", level: PlaceLevel::County, department: Some("mzj") };
        assert!(g.action_for("review", "approve", &approver, Some("mzj")).is_ok());
        assert!(matches!(g.action_for("review", "approve", &approver, Some("gaj")), Err(Refusal::NotYours { .. })));
        let acceptor = Taker { role: "acceptor", level: PlaceLevel::County, department: None };
        assert!(matches!(g.action_for("review", "approve", &acceptor, Some("mzj")), Err(Refusal::NotYours { .. })));
        match g.action_for("closed", "approve", &approver, Some("mzj")) {
            Err(Refusal::NotNow { allowed }) => assert!(allowed.is_empty()),
            other => panic!("{other:?}"),
        }
        match g.action_for("result", "approve", &approver, Some("mzj")) {
            Err(Refusal::NotNow { allowed }) => assert!(allowed.contains(&"collect".to_string())),
            other => panic!("{other:?}"),
        }
        assert_eq!(g.action_for("review", "fly", &approver, None).unwrap_err(), Refusal::Unknown);
    }
}
