//! Working-day calendar for mainland China.
//!
//! Time limits (法定时限 / 承诺时限) are counted in working days. A day is a rest day when it is a
//! Saturday or Sunday or a statutory holiday, except a make-up workday (调休), which is a weekend day
//! worked in exchange for a longer holiday. The arrangement changes every year and is only known once
//! the State Council publishes it, so a date outside the loaded years is an explicit error rather than
//! a guess based on weekends alone: a wrong due date is worse than none.

use crate::error::FieldError;
use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

/// Built-in years, checked by tests to parse and validate.
const BUILTIN: &[&str] = &[include_str!("../calendar/2025.toml"), include_str!("../calendar/2026.toml")];

/// A number of working days, e.g. a time limit: a whole number from 0 to [`WorkingDays::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
#[serde(try_from = "i64")]
pub struct WorkingDays(u32);

impl WorkingDays {
    /// Ten years of working days is far beyond any time limit; larger values are typing mistakes.
    pub const MAX: u32 = 3650;

    /// For trusted constants; values above [`WorkingDays::MAX`] are clamped so the invariant holds.
    /// Parse untrusted input with `TryFrom<i64>` or `FromStr` instead.
    pub const fn new(days: u32) -> Self {
        if days > Self::MAX {
            Self(Self::MAX)
        } else {
            Self(days)
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

fn time_limit_error(zh: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError::new("time_limit", zh, en)
}

impl TryFrom<i64> for WorkingDays {
    type Error = FieldError;

    fn try_from(v: i64) -> Result<Self, FieldError> {
        if v < 0 {
            return Err(time_limit_error(
                format!("工作日数不能为负数（{v}）"),
                format!("number of working days cannot be negative ({v})"),
            ));
        }
        if v > i64::from(Self::MAX) {
            return Err(time_limit_error(
                format!("工作日数 {v} 超过上限 {}", Self::MAX),
                format!("number of working days {v} exceeds the maximum of {}", Self::MAX),
            ));
        }
        // In range 0..=MAX, so the conversion cannot fail; map the impossible case to an error anyway.
        u32::try_from(v).map(Self).map_err(|_| time_limit_error("工作日数无效", "invalid number of working days"))
    }
}

impl FromStr for WorkingDays {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, FieldError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(time_limit_error("工作日数不能为空", "number of working days is empty"));
        }
        match t.parse::<i64>() {
            Ok(v) => Self::try_from(v),
            // Say why: "2.5" deserves a different message from "abc".
            Err(_) if t.parse::<f64>().is_ok_and(f64::is_finite) => Err(time_limit_error(
                format!("工作日数必须是整数（“{t}”）"),
                format!("number of working days must be a whole number (\"{t}\")"),
            )),
            Err(_) => Err(time_limit_error(
                format!("工作日数不是数字（“{t}”）"),
                format!("number of working days is not a number (\"{t}\")"),
            )),
        }
    }
}

impl Serialize for WorkingDays {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl fmt::Display for WorkingDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What went wrong with the calendar or a calendar file. Display is "中文 / English".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("日期 {date} 不在已加载的工作日历年份内，无法计算工作日 / date {date} is outside the years of the loaded working calendar")]
    OutOfRange { date: NaiveDate },
    #[error("日历文件格式错误：{message} / malformed calendar file: {message}")]
    Malformed { message: String },
    #[error("年份 {year} 无效 / invalid year {year}")]
    BadYear { year: i64 },
    #[error(
        "{holiday}：日期“{value}”无效，应为 YYYY-MM-DD / {holiday}: invalid date \"{value}\", expected YYYY-MM-DD"
    )]
    BadDate { holiday: String, value: String },
    #[error("{holiday}：日期 {date} 不在 {year} 年内 / {holiday}: date {date} is not in year {year}")]
    DateOutsideYear { holiday: String, date: NaiveDate, year: i32 },
    #[error("{holiday}：放假日期应为一个日期或 [起, 止] 两个日期，实际 {len} 个 / {holiday}: rest must be one date or a [first, last] pair, found {len} dates")]
    RestShape { holiday: String, len: usize },
    #[error("{holiday}：放假起始 {first} 晚于结束 {last} / {holiday}: rest range starts {first} after it ends {last}")]
    RestRangeReversed { holiday: String, first: NaiveDate, last: NaiveDate },
    #[error(
        "{holiday}：调休上班日 {date} 不是周六或周日 / {holiday}: make-up workday {date} is not a Saturday or Sunday"
    )]
    WorkdayNotWeekend { holiday: String, date: NaiveDate },
    #[error("{date} 既是放假日又是上班日 / {date} is listed both as a rest day and as a workday")]
    RestAndWorkday { date: NaiveDate },
    #[error("{date} 在日历文件中出现多次 / {date} is listed more than once in the calendar file")]
    Duplicate { date: NaiveDate },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i64,
    source: String,
    #[serde(default)]
    holiday: Vec<HolidayFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    name: String,
    name_en: String,
    rest: Vec<String>,
    #[serde(default)]
    workdays: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    /// Rest day of the holiday with this index in `Year::holidays`.
    Rest(usize),
    /// Make-up workday of the holiday with this index.
    Work(usize),
}

#[derive(Debug, Clone)]
struct Year {
    source: String,
    /// (zh, en) names.
    holidays: Vec<(String, String)>,
    days: HashMap<NaiveDate, Special>,
}

/// The working-day calendar: the years whose holiday arrangements are loaded.
#[derive(Debug, Clone, Default)]
pub struct WorkingCalendar {
    years: BTreeMap<i32, Year>,
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl WorkingCalendar {
    /// An empty calendar: every date is out of range until a year is loaded.
    pub fn new() -> Self {
        Self::default()
    }

    /// The calendar with the built-in years (2025 and 2026).
    pub fn builtin() -> Result<Self, CalendarError> {
        let mut cal = Self::new();
        for text in BUILTIN {
            cal.load_year(text)?;
        }
        Ok(cal)
    }

    /// Loads (or replaces) one year from a TOML file in the format of `calendar/2026.toml`.
    /// The file is checked whole before anything changes: on error the calendar is as before.
    pub fn load_year(&mut self, toml_text: &str) -> Result<(), CalendarError> {
        let file: YearFile = toml::from_str(toml_text).map_err(|e| {
            // The operator needs the line; toml's own Display is a multi-line snippet.
            let message = match e.span() {
                Some(span) => {
                    let line = toml_text.get(..span.start).map_or(0, |t| t.matches('\n').count()) + 1;
                    format!("line {line}: {}", e.message())
                }
                None => e.message().to_string(),
            };
            CalendarError::Malformed { message }
        })?;
        let year = i32::try_from(file.year)
            .ok()
            .filter(|y| (1900..=2200).contains(y))
            .ok_or(CalendarError::BadYear { year: file.year })?;

        let mut days: HashMap<NaiveDate, Special> = HashMap::new();
        let mut holidays = Vec::with_capacity(file.holiday.len());
        for (idx, h) in file.holiday.iter().enumerate() {
            let date = |value: &str| -> Result<NaiveDate, CalendarError> {
                let d = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
                    .map_err(|_| CalendarError::BadDate { holiday: h.name.clone(), value: value.to_string() })?;
                if d.year() != year {
                    return Err(CalendarError::DateOutsideYear { holiday: h.name.clone(), date: d, year });
                }
                Ok(d)
            };
            let (first, last) = match h.rest.as_slice() {
                [one] => {
                    let d = date(one)?;
                    (d, d)
                }
                [a, b] => (date(a)?, date(b)?),
                other => return Err(CalendarError::RestShape { holiday: h.name.clone(), len: other.len() }),
            };
            if first > last {
                return Err(CalendarError::RestRangeReversed { holiday: h.name.clone(), first, last });
            }
            for d in first.iter_days().take_while(|d| *d <= last) {
                if let Some(prev) = days.insert(d, Special::Rest(idx)) {
                    return Err(match prev {
                        Special::Work(_) => CalendarError::RestAndWorkday { date: d },
                        Special::Rest(_) => CalendarError::Duplicate { date: d },
                    });
                }
            }
            for w in &h.workdays {
                let d = date(w)?;
                if !is_weekend(d) {
                    return Err(CalendarError::WorkdayNotWeekend { holiday: h.name.clone(), date: d });
                }
                if let Some(prev) = days.insert(d, Special::Work(idx)) {
                    return Err(match prev {
                        Special::Rest(_) => CalendarError::RestAndWorkday { date: d },
                        Special::Work(_) => CalendarError::Duplicate { date: d },
                    });
                }
            }
            holidays.push((h.name.trim().to_string(), h.name_en.trim().to_string()));
        }
        self.years.insert(year, Year { source: file.source, holidays, days });
        Ok(())
    }

    /// The loaded years, ascending.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// The official notice a loaded year came from.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|y| y.source.as_str())
    }

    fn year_of(&self, date: NaiveDate) -> Result<&Year, CalendarError> {
        self.years.get(&date.year()).ok_or(CalendarError::OutOfRange { date })
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        let y = self.year_of(date)?;
        Ok(match y.days.get(&date) {
            Some(Special::Work(_)) => true,
            Some(Special::Rest(_)) => false,
            None => !is_weekend(date),
        })
    }

    /// The due date: the `n`-th working day strictly after `start` (`start` itself for n = 0).
    pub fn add_working_days(&self, start: NaiveDate, n: WorkingDays) -> Result<NaiveDate, CalendarError> {
        let mut d = start;
        let mut left = n.get();
        while left > 0 {
            d = d.succ_opt().ok_or(CalendarError::OutOfRange { date: d })?;
            if self.is_working_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }

    /// The number of working days d with `from < d <= to`; negative (the same count) when `to < from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<i64, CalendarError> {
        let (lo, hi, sign) = if from <= to { (from, to, 1) } else { (to, from, -1) };
        let mut count = 0i64;
        for d in lo.iter_days().skip(1).take_while(|d| *d <= hi) {
            if self.is_working_day(d)? {
                count += 1;
            }
        }
        Ok(sign * count)
    }

    /// The (zh, en) name of the holiday when `date` is one of its rest days; `None` on other days,
    /// including make-up workdays and dates outside the loaded years.
    pub fn holiday_name(&self, date: NaiveDate) -> Option<(&str, &str)> {
        let y = self.years.get(&date.year())?;
        match y.days.get(&date)? {
            Special::Rest(i) => y.holidays.get(*i).map(|(zh, en)| (zh.as_str(), en.as_str())),
            Special::Work(_) => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test should panic
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn cal() -> WorkingCalendar {
        WorkingCalendar::builtin().unwrap()
    }

    #[test]
    fn builtin_parses_both_years() {
        let c = cal();
        assert_eq!(c.years(), vec![2025, 2026]);
        assert!(c.source(2026).unwrap().contains("2026年部分节假日安排"));
    }

    #[test]
    fn specific_days_2026() {
        let c = cal();
        assert!(!c.is_working_day(d(2026, 10, 1)).unwrap());
        assert!(!c.is_working_day(d(2026, 10, 7)).unwrap());
        assert!(c.is_working_day(d(2026, 10, 8)).unwrap());
        assert!(c.is_working_day(d(2026, 10, 10)).unwrap(), "make-up Saturday");
        assert!(c.is_working_day(d(2026, 9, 20)).unwrap(), "make-up Sunday");
        assert!(!c.is_working_day(d(2026, 10, 11)).unwrap(), "ordinary Sunday");
        assert!(c.is_working_day(d(2026, 1, 4)).unwrap());
        assert!(!c.is_working_day(d(2026, 1, 2)).unwrap());
        assert!(c.is_working_day(d(2026, 2, 14)).unwrap());
        assert!(c.is_working_day(d(2026, 2, 28)).unwrap());
        assert!(!c.is_working_day(d(2026, 2, 23)).unwrap(), "Monday in Spring Festival");
        assert!(c.is_working_day(d(2026, 2, 24)).unwrap());
        assert!(c.is_working_day(d(2026, 5, 9)).unwrap());
        assert!(!c.is_working_day(d(2026, 9, 25)).unwrap(), "Mid-Autumn Friday");
        assert!(c.is_working_day(d(2026, 3, 10)).unwrap(), "ordinary Tuesday");
        assert!(!c.is_working_day(d(2026, 3, 14)).unwrap(), "ordinary Saturday");
    }

    #[test]
    fn specific_days_2025() {
        let c = cal();
        assert!(c.is_working_day(d(2025, 1, 26)).unwrap(), "make-up Sunday");
        assert!(c.is_working_day(d(2025, 2, 8)).unwrap());
        assert!(!c.is_working_day(d(2025, 1, 28)).unwrap());
        assert!(!c.is_working_day(d(2025, 2, 4)).unwrap());
        assert!(c.is_working_day(d(2025, 2, 5)).unwrap());
        assert!(c.is_working_day(d(2025, 4, 27)).unwrap());
        assert!(!c.is_working_day(d(2025, 5, 5)).unwrap());
        assert!(!c.is_working_day(d(2025, 6, 2)).unwrap());
        assert!(!c.is_working_day(d(2025, 10, 8)).unwrap());
        assert!(c.is_working_day(d(2025, 9, 28)).unwrap());
        assert!(c.is_working_day(d(2025, 10, 11)).unwrap());
        assert!(c.is_working_day(d(2025, 1, 2)).unwrap(), "元旦 is one day in 2025");
    }

    /// Cross-checks of the data files against the notices: the "共 N 天" of each holiday, and the
    /// year totals worked out by hand (365 − 104 weekend days − holidays on weekdays + make-up days).
    #[test]
    fn data_matches_the_notices() {
        let c = cal();
        let rest_days = |zh: &str, year: i32| {
            d(year, 1, 1)
                .iter_days()
                .take_while(|x| x.year() == year)
                .filter(|x| c.holiday_name(*x).is_some_and(|n| n.0 == zh))
                .count()
        };
        for (zh, n) in [("元旦", 1), ("春节", 8), ("清明节", 3), ("劳动节", 5), ("端午节", 3), ("国庆节、中秋节", 8)]
        {
            assert_eq!(rest_days(zh, 2025), n, "2025 {zh}");
        }
        for (zh, n) in
            [("元旦", 3), ("春节", 9), ("清明节", 3), ("劳动节", 5), ("端午节", 3), ("中秋节", 3), ("国庆节", 7)]
        {
            assert_eq!(rest_days(zh, 2026), n, "2026 {zh}");
        }
        // 2025: 365 − 104 − 18 + 5 = 248; 2026: 365 − 104 − 19 + 6 = 248.
        for year in [2025, 2026] {
            let working = d(year, 1, 1)
                .iter_days()
                .take_while(|x| x.year() == year)
                .filter(|x| c.is_working_day(*x).unwrap())
                .count();
            assert_eq!(working, 248, "{year}");
        }
    }

    #[test]
    fn holiday_names() {
        let c = cal();
        assert_eq!(c.holiday_name(d(2026, 10, 3)), Some(("国庆节", "National Day")));
        assert_eq!(c.holiday_name(d(2025, 10, 8)), Some(("国庆节、中秋节", "National Day and Mid-Autumn Festival")));
        assert_eq!(c.holiday_name(d(2026, 10, 10)), None);
        assert_eq!(c.holiday_name(d(2026, 3, 14)), None);
        assert_eq!(c.holiday_name(d(2030, 10, 1)), None);
    }

    #[test]
    fn due_dates_by_hand() {
        let c = cal();
        // Mon 2026-09-28: Tue 29 (1), Wed 30 (2), Oct 1–7 rest, Thu 8 (3), Fri 9 (4), Sat 10 make-up (5),
        // Sun 11 rest, Mon 12 (6), 13 (7), 14 (8), 15 (9), Fri 16 (10).
        assert_eq!(c.add_working_days(d(2026, 9, 28), WorkingDays::new(10)).unwrap(), d(2026, 10, 16));
        assert_eq!(c.working_days_between(d(2026, 9, 28), d(2026, 10, 16)).unwrap(), 10);
        assert_eq!(c.working_days_between(d(2026, 10, 16), d(2026, 9, 28)).unwrap(), -10);
        // Thu 2026-02-12: Fri 13 (1), Sat 14 make-up (2), Feb 15–23 rest, Tue 24 (3), 25 (4), 26 (5).
        assert_eq!(c.add_working_days(d(2026, 2, 12), WorkingDays::new(5)).unwrap(), d(2026, 2, 26));
        // Across the year end: Wed 2025-12-31 (1), Jan 1–3 rest, Sun 2026-01-04 make-up (2), Mon 5 (3).
        assert_eq!(c.add_working_days(d(2025, 12, 30), WorkingDays::new(3)).unwrap(), d(2026, 1, 5));
        // A start on a rest day counts from the next working day.
        assert_eq!(c.add_working_days(d(2026, 10, 3), WorkingDays::new(1)).unwrap(), d(2026, 10, 8));
        assert_eq!(c.add_working_days(d(2026, 10, 3), WorkingDays::new(0)).unwrap(), d(2026, 10, 3));
    }

    #[test]
    fn out_of_range_is_an_error() {
        let c = cal();
        assert_eq!(c.is_working_day(d(2027, 1, 4)), Err(CalendarError::OutOfRange { date: d(2027, 1, 4) }));
        assert_eq!(c.is_working_day(d(2024, 12, 31)), Err(CalendarError::OutOfRange { date: d(2024, 12, 31) }));
        // 2026-12-30 (Wed): Thu 31 (1), then 2027 is unknown.
        assert_eq!(
            c.add_working_days(d(2026, 12, 30), WorkingDays::new(3)),
            Err(CalendarError::OutOfRange { date: d(2027, 1, 1) })
        );
        assert!(c.working_days_between(d(2026, 12, 1), d(2027, 2, 1)).is_err());
        let msg = CalendarError::OutOfRange { date: d(2027, 1, 1) }.to_string();
        assert!(msg.contains("2027-01-01") && msg.contains("不在") && msg.contains("outside"), "{msg}");
        assert!(WorkingCalendar::new().is_working_day(d(2026, 1, 5)).is_err());
    }

    #[test]
    fn operator_loads_another_year() {
        let mut c = cal();
        c.load_year(
            r#"
            year = 2027
            source = "test"
            [[holiday]]
            name = "元旦"
            name_en = "New Year's Day"
            rest = ["2027-01-01", "2027-01-03"]
            "#,
        )
        .unwrap();
        assert_eq!(c.years(), vec![2025, 2026, 2027]);
        assert!(!c.is_working_day(d(2027, 1, 1)).unwrap());
        assert_eq!(c.add_working_days(d(2026, 12, 30), WorkingDays::new(3)).unwrap(), d(2027, 1, 5));
    }

    fn load_err(text: &str) -> CalendarError {
        let mut c = cal();
        let e = c.load_year(text).unwrap_err();
        assert_eq!(c.years(), vec![2025, 2026], "a failed load changes nothing");
        e
    }

    fn one_holiday(rest: &str, workdays: &str) -> String {
        format!(
            "year = 2027\nsource = \"t\"\n[[holiday]]\nname = \"国庆节\"\nname_en = \"National Day\"\nrest = {rest}\nworkdays = {workdays}\n"
        )
    }

    #[test]
    fn malformed_files_are_rejected() {
        assert!(matches!(load_err("year = "), CalendarError::Malformed { .. }));
        assert!(matches!(load_err("source = \"x\""), CalendarError::Malformed { .. }));
        assert!(matches!(load_err("year = 2027\nsource = \"x\"\nholidays = []"), CalendarError::Malformed { .. }));
        assert_eq!(load_err("year = 99999\nsource = \"x\""), CalendarError::BadYear { year: 99999 });
        assert!(matches!(load_err(&one_holiday(r#"["2027-10-32"]"#, "[]")), CalendarError::BadDate { .. }));
        assert!(matches!(load_err(&one_holiday(r#"["2026-10-01"]"#, "[]")), CalendarError::DateOutsideYear { .. }));
        assert!(matches!(load_err(&one_holiday("[]", "[]")), CalendarError::RestShape { len: 0, .. }));
        assert!(matches!(
            load_err(&one_holiday(r#"["2027-10-01", "2027-10-02", "2027-10-03"]"#, "[]")),
            CalendarError::RestShape { len: 3, .. }
        ));
        assert!(matches!(
            load_err(&one_holiday(r#"["2027-10-07", "2027-10-01"]"#, "[]")),
            CalendarError::RestRangeReversed { .. }
        ));
        // 2027-09-29 is a Wednesday.
        assert!(matches!(
            load_err(&one_holiday(r#"["2027-10-01", "2027-10-07"]"#, r#"["2027-09-29"]"#)),
            CalendarError::WorkdayNotWeekend { .. }
        ));
        // 2027-10-02 is a Saturday inside the rest range.
        assert_eq!(
            load_err(&one_holiday(r#"["2027-10-01", "2027-10-07"]"#, r#"["2027-10-02"]"#)),
            CalendarError::RestAndWorkday { date: d(2027, 10, 2) }
        );
        let e = load_err(&one_holiday(r#"["2027-10-01", "2027-10-07"]"#, r#"["2027-10-02"]"#)).to_string();
        assert!(e.contains(" / "), "bilingual: {e}");
    }

    #[test]
    fn working_days_parsing() {
        assert_eq!(WorkingDays::try_from(20).unwrap().get(), 20);
        assert_eq!(WorkingDays::try_from(0).unwrap().get(), 0);
        assert_eq!(WorkingDays::try_from(3650).unwrap().get(), 3650);
        assert!(WorkingDays::try_from(3651).is_err());
        assert!(WorkingDays::try_from(-1).is_err());
        assert_eq!(" 15 ".parse::<WorkingDays>().unwrap(), WorkingDays::new(15));
        for bad in ["2.5", "-3", "abc", "", "1e3", "99999999999999999999", "3651"] {
            let e = bad.parse::<WorkingDays>().unwrap_err();
            assert_eq!(e.field, "time_limit", "{bad}");
            assert!(!e.zh.is_empty() && !e.en.is_empty());
        }
        assert!("2.5".parse::<WorkingDays>().unwrap_err().en.contains("whole number"));
        assert_eq!(WorkingDays::new(5000).get(), WorkingDays::MAX);
    }

    #[test]
    fn working_days_serde() {
        assert_eq!(serde_json::to_string(&WorkingDays::new(20)).unwrap(), "20");
        assert_eq!(serde_json::from_str::<WorkingDays>("7").unwrap(), WorkingDays::new(7));
        assert!(serde_json::from_str::<WorkingDays>("2.5").is_err());
        assert!(serde_json::from_str::<WorkingDays>("-1").is_err());
        assert!(serde_json::from_str::<WorkingDays>("4000").is_err());
        assert!(serde_json::from_str::<WorkingDays>("\"5\"").is_err());
    }

    fn date_2025_2026() -> impl Strategy<Value = NaiveDate> {
        (0i64..730).prop_map(|k| d(2025, 1, 1) + chrono::Duration::days(k))
    }

    proptest! {
        #[test]
        fn add_and_count_agree(start in date_2025_2026(), n in 0u32..60) {
            let c = cal();
            if let Ok(due) = c.add_working_days(start, WorkingDays::new(n)) {
                prop_assert_eq!(c.working_days_between(start, due).unwrap(), i64::from(n));
                prop_assert_eq!(c.working_days_between(due, start).unwrap(), -i64::from(n));
                if n > 0 {
                    prop_assert!(c.is_working_day(due).unwrap());
                    prop_assert!(due > start);
                } else {
                    prop_assert_eq!(due, start);
                }
                if let Ok(next) = c.add_working_days(start, WorkingDays::new(n + 1)) {
                    prop_assert!(next > due);
                }
            } else {
                // Only running off the end of 2026 may fail.
                prop_assert!(start > d(2026, 9, 1));
            }
        }
    }
}
