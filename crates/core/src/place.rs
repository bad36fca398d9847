//! Places: one tree keyed by administrative division code (GB/T 2260 style, extended to townships and
//! villages). Jurisdiction is a code prefix, so a county sees its townships and villages with one
//! `LIKE 'prefix%'`, and one county never sees another's.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceLevel {
    Province,
    City,
    County,
    Township,
    Village,
}

impl PlaceLevel {
    pub const ALL: [PlaceLevel; 5] = [Self::Province, Self::City, Self::County, Self::Township, Self::Village];

    pub fn code(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::County => "county",
            Self::Township => "township",
            Self::Village => "village",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Self::Province => "省",
            Self::City => "市",
            Self::County => "县",
            Self::Township => "乡镇（街道）",
            Self::Village => "村（社区）",
        }
    }

    /// Accepts the code (`township`) or the Chinese name (`乡镇`, `乡镇（街道）`, `县`…).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|l| {
            l.code().eq_ignore_ascii_case(s)
                || l.zh() == s
                || match l {
                    Self::County => matches!(s, "县" | "县级" | "区" | "县（市、区）"),
                    Self::Township => matches!(s, "乡镇" | "乡" | "镇" | "街道" | "乡镇级"),
                    Self::Village => matches!(s, "村" | "社区" | "村级" | "村（社区）"),
                    _ => false,
                }
        })
    }

    /// How many leading digits of a code of this level identify it.
    fn prefix_len(self) -> usize {
        match self {
            Self::Province => 2,
            Self::City => 4,
            Self::County => 6,
            Self::Township => 9,
            Self::Village => 12,
        }
    }
}

impl fmt::Display for PlaceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An administrative division code: 6 digits (province `330000`, city `330800`, county `330822`),
/// 9 digits (township `330822001`) or 12 digits (village `330822001201`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlaceCode(String);

impl PlaceCode {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let ok_len = matches!(s.len(), 6 | 9 | 12);
        if !ok_len || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                "place",
                format!("行政区划代码应为6、9或12位数字，收到“{s}”"),
                format!("a division code has 6, 9 or 12 digits, got \"{s}\""),
            ));
        }
        if s.len() == 6 && &s[0..2] == "00" {
            return Err(FieldError::new("place", "省级代码不能为00", "the province part cannot be 00"));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level the code itself says.
    pub fn level(&self) -> PlaceLevel {
        match self.0.len() {
            12 => PlaceLevel::Village,
            9 => PlaceLevel::Township,
            _ if self.0.ends_with("0000") => PlaceLevel::Province,
            _ if self.0.ends_with("00") => PlaceLevel::City,
            _ => PlaceLevel::County,
        }
    }

    /// The prefix shared by this place and everything under it (use with `LIKE prefix || '%'`).
    pub fn jurisdiction_prefix(&self) -> &str {
        &self.0[..self.level().prefix_len().min(self.0.len())]
    }

    /// True when `self` is `other` or lies under it.
    pub fn is_within(&self, other: &PlaceCode) -> bool {
        self.0.starts_with(other.jurisdiction_prefix()) && self.level() >= other.level()
    }

    /// The county this place belongs to (itself for a county), none above county level.
    pub fn county(&self) -> Option<PlaceCode> {
        match self.level() {
            PlaceLevel::Province | PlaceLevel::City => None,
            _ => Some(PlaceCode(self.0[..6].to_string())),
        }
    }
}

impl TryFrom<String> for PlaceCode {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}

impl From<PlaceCode> for String {
    fn from(p: PlaceCode) -> String {
        p.0
    }
}

impl fmt::Display for PlaceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PlaceCode {
        PlaceCode::parse(s).unwrap()
    }

    #[test]
    fn levels_from_codes() {
        assert_eq!(p("330000").level(), PlaceLevel::Province);
        assert_eq!(p("330800").level(), PlaceLevel::City);
        assert_eq!(p("330822").level(), PlaceLevel::County);
        assert_eq!(p("330822001").level(), PlaceLevel::Township);
        assert_eq!(p("330822001201").level(), PlaceLevel::Village);
    }

    #[test]
    fn jurisdiction_follows_the_tree() {
        let county = p("330822");
        let other_county = p("330824");
        let town = p("330822001");
        let village = p("330822001201");
        assert!(village.is_within(&town));
        assert!(village.is_within(&county));
        assert!(town.is_within(&county));
        assert!(county.is_within(&p("330800")));
        assert!(county.is_within(&p("330000")));
        assert!(!town.is_within(&other_county));
        assert!(!county.is_within(&town));
        assert!(!p("330822002201").is_within(&town));
        assert_eq!(village.county(), Some(county));
    }

    #[test]
    fn rejects_bad_codes() {
        for bad in ["", "33082", "3308220011", "33082a", "000000"] {
            assert!(PlaceCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PlaceLevel::parse("乡镇"), Some(PlaceLevel::Township));
        assert_eq!(PlaceLevel::parse("village"), Some(PlaceLevel::Village));
        assert_eq!(PlaceLevel::parse("moon"), None);
    }
}
