//! "One thing" bundles (一件事): one application that fans out to child cases in several departments.
//! A bundle says which child starts after what (the parent or another child reaching a state), who is
//! eligible (rules over the household's facts, as data), which facts each child receives, and when the
//! whole is done (all, any, or named children). Checked when loaded.

use crate::error::{FieldError, Invalid};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// The fact is there and not empty, zero or false.
    Present,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub field: String,
    pub op: Op,
    #[serde(default)]
    pub value: Value,
}

impl Rule {
    pub fn holds(&self, facts: &Map<String, Value>) -> bool {
        let v = facts.get(&self.field).unwrap_or(&Value::Null);
        let num = |x: &Value| x.as_f64().or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()));
        match self.op {
            Op::Present => match v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                Value::String(s) => !s.trim().is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
            },
            Op::Eq => v == &self.value || matches!((num(v), num(&self.value)), (Some(a), Some(b)) if a == b),
            Op::Ne => !(v == &self.value || matches!((num(v), num(&self.value)), (Some(a), Some(b)) if a == b)),
            Op::Gt | Op::Ge | Op::Lt | Op::Le => match (num(v), num(&self.value)) {
                (Some(a), Some(b)) => match self.op {
                    Op::Gt => a > b,
                    Op::Ge => a >= b,
                    Op::Lt => a < b,
                    _ => a <= b,
                },
                _ => false,
            },
        }
    }

    /// What the rule asks, for people.
    pub fn describe(&self) -> String {
        let op = match self.op {
            Op::Eq => "=",
            Op::Ne => "≠",
            Op::Gt => ">",
            Op::Ge => "≥",
            Op::Lt => "<",
            Op::Le => "≤",
            Op::Present => return format!("{} 已提供", self.field),
        };
        format!("{} {} {}", self.field, op, self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Child {
    pub key: String,
    pub item: String,
    /// `parent` or another child's key.
    pub after: String,
    /// The state that one must reach.
    pub state: String,
    #[serde(default)]
    pub eligible: Vec<Rule>,
    /// Fact the child receives ← fact of the application.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Join {
    All,
    Any,
    /// The bundle is done when these children are.
    Named(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub parent_item: String,
    pub join: Join,
    pub children: Vec<Child>,
}

impl Bundle {
    pub fn parse(text: &str) -> Result<Bundle, Invalid> {
        let b: Bundle = toml::from_str(text).map_err(|e| {
            Invalid::one(FieldError::new(
                "bundle",
                format!("一件事定义格式错误：{e}"),
                format!("malformed bundle definition: {e}"),
            ))
        })?;
        b.check()?;
        Ok(b)
    }

    pub fn check(&self) -> Result<(), Invalid> {
        let mut errs = Invalid::default();
        let keys: BTreeSet<&str> = self.children.iter().map(|c| c.key.as_str()).collect();
        if keys.len() != self.children.len() {
            errs.push(FieldError::new("children", "子事项的 key 重复", "child keys repeat"));
        }
        for c in &self.children {
            if c.after != "parent" && !keys.contains(c.after.as_str()) {
                errs.push(FieldError::new(
                    "children",
                    format!("“{}”的触发条件引用了不存在的“{}”", c.key, c.after),
                    format!("child \"{}\" starts after \"{}\", which does not exist", c.key, c.after),
                ));
            }
        }
        // No cycles: following `after` from any child must reach the parent.
        for c in &self.children {
            let mut seen = BTreeSet::new();
            let mut at = c;
            while at.after != "parent" {
                if !seen.insert(at.key.as_str()) {
                    errs.push(FieldError::new(
                        "children",
                        format!("“{}”的触发条件形成循环", c.key),
                        format!("child \"{}\" waits on itself", c.key),
                    ));
                    break;
                }
                match self.children.iter().find(|x| x.key == at.after) {
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
        if let Join::Named(names) = &self.join {
            for n in names {
                if !keys.contains(n.as_str()) {
                    errs.push(FieldError::new(
                        "join",
                        format!("汇合条件引用了不存在的“{n}”"),
                        format!("the join names \"{n}\", which is not a child"),
                    ));
                }
            }
        }
        errs.into_result(())
    }

    /// The children whose trigger fires when `after` (parent or a child key) reaches `state`.
    pub fn triggered_by<'a>(&'a self, after: &'a str, state: &'a str) -> impl Iterator<Item = &'a Child> + 'a {
        self.children.iter().filter(move |c| c.after == after && c.state == state)
    }

    /// Whether the bundle is done, given each child's status (`closed`, `open`, `ineligible`, `waiting`).
    pub fn complete(&self, status: &BTreeMap<String, String>) -> bool {
        let done = |k: &str| matches!(status.get(k).map(String::as_str), Some("closed") | Some("ineligible"));
        let eligible: Vec<&Child> =
            self.children.iter().filter(|c| status.get(&c.key).map(String::as_str) != Some("ineligible")).collect();
        match &self.join {
            Join::All => self.children.iter().all(|c| done(&c.key)),
            Join::Any => {
                eligible.is_empty() || eligible.iter().any(|c| status.get(&c.key).map(String::as_str) == Some("closed"))
            }
            Join::Named(names) => names.iter().all(|n| done(n)),
        }
    }
}

impl Child {
    /// Whether the household may have this child; the rules that fail, if not.
    pub fn eligibility(&self, facts: &Map<String, Value>) -> Result<(), Vec<String>> {
        let failing: Vec<String> = self.eligible.iter().filter(|r| !r.holds(facts)).map(Rule::describe).collect();
        if failing.is_empty() {
            Ok(())
        } else {
            Err(failing)
        }
    }

    /// The facts this child receives.
    pub fn data(&self, facts: &Map<String, Value>) -> Map<String, Value> {
        self.mapping.iter().map(|(to, from)| (to.clone(), facts.get(from).cloned().unwrap_or(Value::Null))).collect()
    }
}

/// The bundles shipped with onewindow.
pub fn builtin_bundles() -> Result<Vec<Bundle>, Invalid> {
    [include_str!("../bundles/dibao.toml")].into_iter().map(Bundle::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_seed_villager_gets_four_linked_benefits() {
        let b = &builtin_bundles().unwrap()[0];
        let f = facts(
            json!({"working_age_members": 1, "household_size": 3, "electricity_account": "3301001", "water_account": "W88",
                             "cable_tv_account": "", "school_age_children": 0, "disability_certificate": false}),
        );
        let eligible: Vec<&str> =
            b.children.iter().filter(|c| c.eligibility(&f).is_ok()).map(|c| c.key.as_str()).collect();
        assert_eq!(eligible, vec!["pension", "medical", "electricity", "water"]);
        assert_eq!(b.triggered_by("parent", "result").count(), 7);
        let water = b.children.iter().find(|c| c.key == "water").unwrap();
        assert_eq!(water.data(&f), facts(json!({"account": "W88"})));
        let edu = b.children.iter().find(|c| c.key == "education").unwrap();
        assert_eq!(edu.eligibility(&f).unwrap_err(), vec!["school_age_children > 0"]);
    }

    #[test]
    fn joins_and_checks() {
        let b = &builtin_bundles().unwrap()[0];
        let mut st: BTreeMap<String, String> =
            b.children.iter().map(|c| (c.key.clone(), "ineligible".to_string())).collect();
        st.insert("water".into(), "open".into());
        assert!(!b.complete(&st));
        st.insert("water".into(), "closed".into());
        assert!(b.complete(&st));
        let bad = "code = \"x\"\nname = \"x\"\nparent_item = \"A\"\njoin = { named = [\"ghost\"] }\n\
                   [[children]]\nkey = \"a\"\nitem = \"I\"\nafter = \"b\"\nstate = \"s\"\n\
                   [[children]]\nkey = \"b\"\nitem = \"I\"\nafter = \"a\"\nstate = \"s\"\n";
        let errs = Bundle::parse(bad).unwrap_err();
        let all: String = errs.0.iter().map(|e| e.en.clone()).collect::<Vec<_>>().join("\n");
        assert!(all.contains("waits on itself") && all.contains("\"ghost\""), "{all}");
        assert!(Rule { field: "n".into(), op: Op::Ge, value: json!(2) }.holds(&facts(json!({"n": "3"}))));
        assert!(!Rule { field: "n".into(), op: Op::Present, value: Value::Null }.holds(&facts(json!({}))));
    }
}
