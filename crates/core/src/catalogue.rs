//! The catalogue of service items (事项清单): what an item is, and how loose input (a form, a JSON body,
//! a spreadsheet row) becomes a valid item or a list of field errors.

use crate::calendar::WorkingDays;
use crate::error::{FieldError, Invalid};
use crate::place::PlaceLevel;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, unique item code such as `MZJ-001`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemCode(String);

impl ItemCode {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 40 {
            return Err(FieldError::new(
                "code",
                "事项编码不能为空且不超过40个字符",
                "the item code must be 1 to 40 characters",
            ));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
            return Err(FieldError::new(
                "code",
                format!("事项编码只能包含字母、数字和 - _ .，不能包含“{c}”"),
                format!("the item code may hold letters, digits and - _ . only, not '{c}'"),
            ));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ItemCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<ItemCode> for String {
    fn from(c: ItemCode) -> String {
        c.0
    }
}
impl fmt::Display for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Defines a closed vocabulary with a code, a Chinese and an English name, parsing either.
macro_rules! vocabulary {
    ($name:ident, $field:literal, $what_zh:literal, $what_en:literal, { $($v:ident => ($code:literal, $zh:literal, $en:literal $(, $alias:literal)*)),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($v),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn code(self) -> &'static str { match self { $($name::$v => $code),+ } }
            pub fn zh(self) -> &'static str { match self { $($name::$v => $zh),+ } }
            pub fn en(self) -> &'static str { match self { $($name::$v => $en),+ } }
            /// Accepts the code, the Chinese or the English name.
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                let t = s.trim();
                $(
                    if t.eq_ignore_ascii_case($code) || t == $zh || t.eq_ignore_ascii_case($en) $(|| t == $alias)* {
                        return Ok($name::$v);
                    }
                )+
                let allowed: Vec<String> = Self::ALL.iter().map(|v| format!("{}（{}）", v.code(), v.zh())).collect();
                Err(FieldError::new(
                    $field,
                    format!("{}“{}”无效，可选：{}", $what_zh, t, allowed.join("、")),
                    format!("{} \"{}\" is not known; one of: {}", $what_en, t,
                        Self::ALL.iter().map(|v| v.code()).collect::<Vec<_>>().join(", ")),
                ))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
        }
    };
}

vocabulary!(ItemKind, "kind", "事项类型", "item kind", {
    Licensing => ("licensing", "行政许可", "Administrative licensing"),
    Confirmation => ("confirmation", "行政确认", "Administrative confirmation"),
    Benefit => ("benefit", "行政给付", "Administrative benefit"),
    Levy => ("levy", "行政征收", "Administrative levy"),
    Ruling => ("ruling", "行政裁决", "Administrative ruling"),
    Reward => ("reward", "行政奖励", "Administrative reward"),
    OtherPower => ("other_power", "其他行政权力", "Other administrative power"),
    PublicService => ("public_service", "公共服务", "Public service"),
});

vocabulary!(Channel, "channels", "办理渠道", "channel", {
    Window => ("window", "窗口", "Window", "窗口办理"),
    Online => ("online", "网上", "Online", "网上办理", "网办"),
    Mobile => ("mobile", "掌上", "Mobile", "掌上办理", "手机"),
    Village => ("village", "村级代办", "Village centre", "村", "村便民服务中心"),
});

/// How many physical trips the citizen must make: the reform's own measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum TripLevel {
    /// 零跑腿: online, by post or by data exchange.
    Zero,
    /// 最多跑一次.
    One,
    /// More than one trip: an item the reform has not reached yet.
    More,
}

impl TripLevel {
    pub fn zh(self) -> &'static str {
        match self {
            Self::Zero => "零跑腿",
            Self::One => "最多跑一次",
            Self::More => "跑多次",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            Self::Zero => "Zero trips",
            Self::One => "At most one trip",
            Self::More => "More than one trip",
        }
    }
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim();
        match t {
            "0" | "零跑腿" | "跑零次" => Ok(Self::Zero),
            "1" | "最多跑一次" | "跑一次" => Ok(Self::One),
            "2" | "跑多次" => Ok(Self::More),
            _ => Err(FieldError::new(
                "trip_level",
                format!("跑动次数应为0（零跑腿）、1（最多跑一次）或2（跑多次），收到“{t}”"),
                format!("trip level must be 0 (zero trips), 1 (at most one) or 2 (more), got \"{t}\""),
            )),
        }
    }
}

impl TryFrom<i64> for TripLevel {
    type Error = FieldError;
    fn try_from(v: i64) -> Result<Self, FieldError> {
        Self::parse(&v.to_string())
    }
}
impl From<TripLevel> for i64 {
    fn from(t: TripLevel) -> i64 {
        match t {
            TripLevel::Zero => 0,
            TripLevel::One => 1,
            TripLevel::More => 2,
        }
    }
}

/// A document an item needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    pub name: String,
    /// A key material cannot be missing at acceptance; a non-key one may (容缺受理).
    pub key: bool,
    /// Original (原件) or copy (复印件).
    pub original: bool,
    pub count: u32,
}

/// A valid catalogue item, as one version of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub code: ItemCode,
    pub name: String,
    /// Department code.
    pub department: String,
    /// Zone code.
    pub zone: String,
    pub kind: ItemKind,
    pub trip_level: TripLevel,
    pub channels: Vec<Channel>,
    pub general_acceptance: bool,
    pub livelihood: bool,
    pub statutory_days: WorkingDays,
    pub promised_days: WorkingDays,
    /// The lowest level that may accept it: county, township or village.
    pub lowest_level: PlaceLevel,
    pub fees: String,
    pub legal_basis: String,
    pub keywords: Vec<String>,
    pub materials: Vec<Material>,
    /// The online application form (empty: the item is applied for at a window or by a clerk).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<crate::form::FormField>,
}

impl Item {
    pub fn has_channel(&self, c: Channel) -> bool {
        self.channels.contains(&c)
    }
}

/// Loose input for an item, as it comes from JSON or a form: every field optional and untyped, so that
/// all of its errors can be reported at once rather than the first one serde meets.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ItemInput {
    pub code: Option<serde_json::Value>,
    pub name: Option<serde_json::Value>,
    pub department: Option<serde_json::Value>,
    pub zone: Option<serde_json::Value>,
    pub kind: Option<serde_json::Value>,
    pub trip_level: Option<serde_json::Value>,
    pub channels: Option<serde_json::Value>,
    pub general_acceptance: Option<serde_json::Value>,
    pub livelihood: Option<serde_json::Value>,
    pub statutory_days: Option<serde_json::Value>,
    pub promised_days: Option<serde_json::Value>,
    pub lowest_level: Option<serde_json::Value>,
    pub fees: Option<serde_json::Value>,
    pub legal_basis: Option<serde_json::Value>,
    pub keywords: Option<serde_json::Value>,
    pub materials: Option<serde_json::Value>,
    pub fields: Option<serde_json::Value>,
}

/// What an item may refer to: the departments and zones that exist (by code, or by name for
/// spreadsheets that say 民政局 instead of `mzj`).
pub trait CatalogueRefs {
    /// The department code for a code or name, if such a department exists.
    fn department(&self, code_or_name: &str) -> Option<String>;
    /// The zone code for a code or name, if such a zone exists.
    fn zone(&self, code_or_name: &str) -> Option<String>;
}

fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn required_text(v: &Option<serde_json::Value>, field: &str, zh: &str, en: &str) -> Result<String, FieldError> {
    match v.as_ref().and_then(text) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(FieldError::new(field, format!("{zh}不能为空"), format!("{en} is required"))),
    }
}

/// Parses yes/no the ways a person writes them.
pub fn parse_flag(v: &serde_json::Value, field: &str) -> Result<bool, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            format!("应为“是”或“否”，收到“{}”", text(v).unwrap_or_default()),
            format!("must be yes or no, got \"{}\"", text(v).unwrap_or_default()),
        )
    };
    match v {
        serde_json::Value::Bool(b) => Ok(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(1) => Ok(true),
            Some(0) => Ok(false),
            _ => Err(bad()),
        },
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "是" | "true" | "yes" | "y" | "1" | "√" => Ok(true),
            "否" | "false" | "no" | "n" | "0" | "" => Ok(false),
            _ => Err(bad()),
        },
        serde_json::Value::Null => Ok(false),
        _ => Err(bad()),
    }
}

fn parse_days(v: &Option<serde_json::Value>, field: &str) -> Result<WorkingDays, FieldError> {
    let err = |got: String| {
        FieldError::new(
            field,
            format!("时限应为整数个工作日（0至3650），收到“{got}”"),
            format!("a time limit must be a whole number of working days (0 to 3650), got \"{got}\""),
        )
    };
    match v {
        None | Some(serde_json::Value::Null) => {
            Err(FieldError::new(field, "时限不能为空", "the time limit is required"))
        }
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(i) => WorkingDays::try_from(i).map_err(|_| err(n.to_string())),
            None => Err(err(n.to_string())),
        },
        Some(serde_json::Value::String(s)) => {
            let t = s.trim().trim_end_matches("个工作日").trim_end_matches("工作日").trim();
            t.parse::<WorkingDays>().map_err(|_| err(s.clone()))
        }
        Some(other) => Err(err(other.to_string())),
    }
}

/// Splits a list cell: JSON array, or text separated by , ， 、 ; ；
fn list(v: &Option<serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(text).filter(|s| !s.is_empty()).collect(),
        Some(v) => text(v)
            .unwrap_or_default()
            .split([',', '，', '、', ';', '；'])
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => Vec::new(),
    }
}

/// Parses one material written as text: `名称|关键|原件|1` (key: 关键/非关键/key/nonkey; form:
/// 原件/复印件/original/copy; count a whole number). Only the name is required.
pub fn parse_material_text(s: &str, field: &str) -> Result<Material, FieldError> {
    let mut parts = s.split('|').map(str::trim);
    let name = parts.next().unwrap_or_default().to_string();
    if name.is_empty() {
        return Err(FieldError::new(field, "材料名称不能为空", "a material needs a name"));
    }
    let mut m = Material { name, key: true, original: true, count: 1 };
    for p in parts {
        match p.to_ascii_lowercase().as_str() {
            "关键" | "key" | "必需" => m.key = true,
            "非关键" | "nonkey" | "non-key" | "可容缺" => m.key = false,
            "原件" | "original" => m.original = true,
            "复印件" | "copy" => m.original = false,
            "" => {}
            other => match other.trim_end_matches('份').parse::<u32>() {
                Ok(n) if (1..=99).contains(&n) => m.count = n,
                _ => {
                    return Err(FieldError::new(
                        field,
                        format!("材料“{}”的“{}”无法识别（应为 关键/非关键、原件/复印件 或份数1-99）", m.name, p),
                        format!("material \"{}\": \"{}\" is not key/nonkey, original/copy or a count 1-99", m.name, p),
                    ))
                }
            },
        }
    }
    Ok(m)
}

/// Writes a material the way [`parse_material_text`] reads it.
pub fn material_text(m: &Material) -> String {
    format!(
        "{}|{}|{}|{}",
        m.name,
        if m.key { "关键" } else { "非关键" },
        if m.original { "原件" } else { "复印件" },
        m.count
    )
}

fn parse_materials(v: &Option<serde_json::Value>) -> Result<Vec<Material>, FieldError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let field = format!("materials[{i}]");
                match m {
                    serde_json::Value::String(s) => parse_material_text(s, &field),
                    serde_json::Value::Object(o) => {
                        let name = o.get("name").and_then(text).unwrap_or_default();
                        if name.is_empty() {
                            return Err(FieldError::new(
                                format!("{field}.name"),
                                "材料名称不能为空",
                                "a material needs a name",
                            ));
                        }
                        // The sheet form separates materials by ；/;/newline and their parts by |: a name
                        // holding one of them would not survive an export and re-import.
                        if name.contains(['|', ';', '；', '\n']) {
                            return Err(FieldError::new(
                                format!("{field}.name"),
                                "材料名称不能含有 |、; 、； 或换行",
                                "a material name cannot contain |, ;, ； or a line break",
                            ));
                        }
                        let key =
                            o.get("key").map(|v| parse_flag(v, &format!("{field}.key"))).transpose()?.unwrap_or(true);
                        let original = o
                            .get("original")
                            .map(|v| parse_flag(v, &format!("{field}.original")))
                            .transpose()?
                            .unwrap_or(true);
                        let count = match o.get("count") {
                            None | Some(serde_json::Value::Null) => 1,
                            Some(c) => match c.as_u64() {
                                Some(n) if (1..=99).contains(&n) => n as u32,
                                _ => {
                                    return Err(FieldError::new(
                                        format!("{field}.count"),
                                        "份数应为1至99的整数",
                                        "count must be a whole number from 1 to 99",
                                    ))
                                }
                            },
                        };
                        Ok(Material { name, key, original, count })
                    }
                    _ => Err(FieldError::new(field, "材料格式无效", "a material must be an object or text")),
                }
            })
            .collect(),
        Some(serde_json::Value::String(s)) => s
            .split(['\n', ';', '；'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, m)| parse_material_text(m, &format!("materials[{i}]")))
            .collect(),
        Some(_) => Err(FieldError::new("materials", "申请材料格式无效", "materials must be a list")),
    }
}

/// Keeps the value, or the error for the report.
fn take<T>(errs: &mut Invalid, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

impl ItemInput {
    /// Checks everything and returns the item, or every error found.
    pub fn validate(&self, refs: &dyn CatalogueRefs) -> Result<Item, Invalid> {
        let mut errs = Invalid::default();

        let code =
            take(&mut errs, required_text(&self.code, "code", "事项编码", "code").and_then(|s| ItemCode::parse(&s)));
        let name = take(
            &mut errs,
            required_text(&self.name, "name", "事项名称", "name").and_then(|s| {
                if s.chars().count() > 200 {
                    Err(FieldError::new("name", "事项名称不超过200字", "the name is at most 200 characters"))
                } else {
                    Ok(s)
                }
            }),
        );
        let department = take(
            &mut errs,
            required_text(&self.department, "department", "实施部门", "department").and_then(|s| {
                refs.department(&s).ok_or_else(|| {
                    FieldError::new(
                        "department",
                        format!("部门“{s}”不存在"),
                        format!("department \"{s}\" does not exist"),
                    )
                })
            }),
        );
        let zone = take(
            &mut errs,
            required_text(&self.zone, "zone", "业务板块", "zone").and_then(|s| {
                refs.zone(&s).ok_or_else(|| {
                    FieldError::new("zone", format!("业务板块“{s}”不存在"), format!("zone \"{s}\" does not exist"))
                })
            }),
        );
        let kind = match self.kind.as_ref().and_then(text) {
            None => Some(ItemKind::PublicService),
            Some(s) if s.is_empty() => Some(ItemKind::PublicService),
            Some(s) => take(&mut errs, ItemKind::parse(&s)),
        };
        let trip_level = take(
            &mut errs,
            required_text(&self.trip_level, "trip_level", "跑动次数", "trip level").and_then(|s| TripLevel::parse(&s)),
        );
        let channels: Option<Vec<Channel>> = {
            let mut out = Vec::new();
            let mut ok = true;
            for c in list(&self.channels) {
                match Channel::parse(&c) {
                    Ok(ch) if !out.contains(&ch) => out.push(ch),
                    Ok(_) => {}
                    Err(e) => {
                        ok = false;
                        errs.push(e);
                    }
                }
            }
            if out.is_empty() && ok {
                out.push(Channel::Window);
            }
            ok.then_some(out)
        };
        let general_acceptance =
            take(&mut errs, self.general_acceptance.as_ref().map(|v| parse_flag(v, "general_acceptance")).transpose())
                .map(|b| b.unwrap_or(false));
        let livelihood = take(&mut errs, self.livelihood.as_ref().map(|v| parse_flag(v, "livelihood")).transpose())
            .map(|b| b.unwrap_or(false));
        let statutory_days = take(&mut errs, parse_days(&self.statutory_days, "statutory_days"));
        let promised_days = take(&mut errs, parse_days(&self.promised_days, "promised_days"));
        let lowest_level = match self.lowest_level.as_ref().and_then(text) {
            None => Some(PlaceLevel::County),
            Some(s) if s.is_empty() => Some(PlaceLevel::County),
            Some(s) => take(
                &mut errs,
                match PlaceLevel::parse(&s) {
                    Some(l @ (PlaceLevel::County | PlaceLevel::Township | PlaceLevel::Village)) => Ok(l),
                    _ => Err(FieldError::new(
                        "lowest_level",
                        format!("最低受理层级应为 县/乡镇/村，收到“{s}”"),
                        format!("lowest level must be county, township or village, got \"{s}\""),
                    )),
                },
            ),
        };
        let materials = take(&mut errs, parse_materials(&self.materials));
        let fees = self.fees.as_ref().and_then(text).unwrap_or_default();
        let legal_basis = self.legal_basis.as_ref().and_then(text).unwrap_or_default();
        let keywords = list(&self.keywords);
        let fields = crate::form::parse_fields(&self.fields).map_err(|e| errs.0.extend(e.0)).unwrap_or_default();

        if let (Some(s), Some(p)) = (statutory_days, promised_days) {
            if p > s {
                errs.push(FieldError::new(
                    "promised_days",
                    format!("承诺时限（{}个工作日）不能超过法定时限（{}个工作日）", p.get(), s.get()),
                    format!(
                        "the promised limit ({} working days) cannot exceed the statutory limit ({})",
                        p.get(),
                        s.get()
                    ),
                ));
            }
        }
        if let (Some(TripLevel::Zero), Some(ch)) = (trip_level, channels.as_ref()) {
            if !ch.iter().any(|c| matches!(c, Channel::Online | Channel::Mobile)) {
                errs.push(FieldError::new(
                    "channels",
                    "零跑腿事项必须可以网上或掌上办理",
                    "a zero-trip item must be available online or on mobile",
                ));
            }
        }

        match (
            code,
            name,
            department,
            zone,
            kind,
            trip_level,
            channels,
            general_acceptance,
            livelihood,
            statutory_days,
            promised_days,
            lowest_level,
            materials,
        ) {
            (
                Some(code),
                Some(name),
                Some(department),
                Some(zone),
                Some(kind),
                Some(trip_level),
                Some(channels),
                Some(general_acceptance),
                Some(livelihood),
                Some(statutory_days),
                Some(promised_days),
                Some(lowest_level),
                Some(materials),
            ) if errs.is_empty() => Ok(Item {
                code,
                name,
                department,
                zone,
                kind,
                trip_level,
                channels,
                general_acceptance,
                livelihood,
                statutory_days,
                promised_days,
                lowest_level,
                fees,
                legal_basis,
                keywords,
                materials,
                fields,
            }),
            _ => Err(errs),
        }
    }
}

impl From<&Item> for ItemInput {
    fn from(i: &Item) -> Self {
        use serde_json::json;
        ItemInput {
            code: Some(json!(i.code.as_str())),
            name: Some(json!(i.name)),
            department: Some(json!(i.department)),
            zone: Some(json!(i.zone)),
            kind: Some(json!(i.kind.code())),
            trip_level: Some(json!(i64::from(i.trip_level))),
            channels: Some(json!(i.channels.iter().map(|c| c.code()).collect::<Vec<_>>())),
            general_acceptance: Some(json!(i.general_acceptance)),
            livelihood: Some(json!(i.livelihood)),
            statutory_days: Some(json!(i.statutory_days.get())),
            promised_days: Some(json!(i.promised_days.get())),
            lowest_level: Some(json!(i.lowest_level.code())),
            fees: Some(json!(i.fees)),
            legal_basis: Some(json!(i.legal_basis)),
            keywords: Some(json!(i.keywords)),
            materials: Some(serde_json::to_value(&i.materials).unwrap_or_default()),
            fields: (!i.fields.is_empty()).then(|| serde_json::to_value(&i.fields).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) struct Refs;
    impl CatalogueRefs for Refs {
        fn department(&self, s: &str) -> Option<String> {
            match s {
                "mzj" | "民政局" | "常山县民政局" => Some("mzj".into()),
                _ => None,
            }
        }
        fn zone(&self, s: &str) -> Option<String> {
            match s {
                "general" | "综合事务" => Some("general".into()),
                _ => None,
            }
        }
    }

    fn input(v: serde_json::Value) -> ItemInput {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_good_item_parses() {
        let it = input(json!({"code":"MZJ-001","name":"最低生活保障","department":"民政局","zone":"综合事务",
            "kind":"行政给付","trip_level":0,"channels":"window、online","statutory_days":"30个工作日","promised_days":10,
            "general_acceptance":"是","lowest_level":"村","materials":"居民身份证|关键|原件|1；收入证明|非关键|复印件"}))
        .validate(&Refs)
        .unwrap();
        assert_eq!(it.department, "mzj");
        assert_eq!(it.kind, ItemKind::Benefit);
        assert_eq!(it.channels, vec![Channel::Window, Channel::Online]);
        assert_eq!(it.statutory_days.get(), 30);
        assert_eq!(it.lowest_level, PlaceLevel::Village);
        assert_eq!(it.materials.len(), 2);
        assert!(!it.materials[1].key && !it.materials[1].original);
        // Round trip through the loose form.
        assert_eq!(ItemInput::from(&it).validate(&Refs).unwrap(), it);
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let errs = input(json!({"code":"bad code!","department":"nope","zone":"general","trip_level":5,
            "statutory_days":2.5,"promised_days":"x"}))
        .validate(&Refs)
        .unwrap_err();
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        for f in ["code", "name", "department", "trip_level", "statutory_days", "promised_days"] {
            assert!(fields.contains(&f), "{f} missing in {fields:?}");
        }
        assert!(errs.0.iter().all(|e| !e.zh.is_empty() && !e.en.is_empty()));
    }

    #[test]
    fn promised_cannot_exceed_statutory_and_zero_trip_needs_online() {
        let errs = input(json!({"code":"A","name":"n","department":"mzj","zone":"general","trip_level":0,
            "channels":["window"],"statutory_days":5,"promised_days":6}))
        .validate(&Refs)
        .unwrap_err();
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["promised_days", "channels"]);
    }
}
