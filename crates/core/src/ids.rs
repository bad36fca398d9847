//! Identifiers citizens and companies type in: mainland mobile numbers, resident ID numbers
//! (GB 11643-1999) and unified social credit codes (GB 32100-2015).
//!
//! Each is parsed once at the edge into a type that can only hold a well-formed value, so the rest of
//! the code never re-checks. Errors name the field and say exactly what is wrong, in Chinese and English.
//! `Debug` masks the value so that a stray `{:?}` in a log line does not leak personal data; `Display`
//! and `as_str()` give the full value.

use crate::error::FieldError;
use crate::mask;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `(1-based position, char)` of the first char not accepted by `ok`.
fn first_bad(s: &str, ok: impl Fn(usize, char) -> bool) -> Option<(usize, char)> {
    s.chars().enumerate().find(|&(i, c)| !ok(i, c)).map(|(i, c)| (i + 1, c))
}

macro_rules! string_newtype_impls {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl TryFrom<String> for $t {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }
        impl TryFrom<&str> for $t {
            type Error = FieldError;
            fn try_from(s: &str) -> Result<Self, FieldError> {
                Self::parse(s)
            }
        }
        impl std::str::FromStr for $t {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                Self::parse(s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.as_str().to_string()
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------------
// Mobile number

/// A mainland China mobile number, normalised to 11 digits (`1[3-9]` + 9 digits).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts spaces and dashes between digits and an optional `+86` / `86` country prefix.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let err = |zh: String, en: String| FieldError::new("phone", zh, en);
        let t = input.trim();
        if t.is_empty() {
            return Err(err("手机号不能为空".into(), "mobile number is empty".into()));
        }
        if let Some((pos, c)) = first_bad(t, |i, c| c.is_ascii_digit() || c == ' ' || c == '-' || (i == 0 && c == '+'))
        {
            return Err(err(format!("第 {pos} 个字符“{c}”不是数字"), format!("character {pos} '{c}' is not a digit")));
        }
        let compact: String = t.chars().filter(|c| *c != ' ' && *c != '-').collect();
        let digits = if let Some(rest) = compact.strip_prefix('+') {
            rest.strip_prefix("86").ok_or_else(|| {
                err(
                    "仅支持中国大陆手机号（+86）".into(),
                    "only mainland China mobile numbers (+86) are accepted".into(),
                )
            })?
        } else if compact.len() == 13 {
            // "86" without "+" is only a prefix when it makes the number two digits too long.
            compact.strip_prefix("86").unwrap_or(&compact)
        } else {
            &compact
        };
        if digits.len() != 11 {
            return Err(err(
                format!("手机号应为 11 位数字，实际 {} 位", digits.len()),
                format!("mobile number must have 11 digits, found {}", digits.len()),
            ));
        }
        let b = digits.as_bytes();
        if b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
            return Err(err(
                format!("“{}”不是中国大陆手机号，应以 13–19 开头", &digits[..2]),
                format!("not a mainland mobile number: must start with 13–19, found '{}'", &digits[..2]),
            ));
        }
        Ok(Self(digits.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(PhoneNumber);

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", mask::mask_phone(&self.0))
    }
}

// ---------------------------------------------------------------------------------------------------
// Resident ID number, GB 11643-1999

/// ISO 7064 MOD 11-2 weights for the 17 body digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for `sum mod 11`.
const ID_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
/// First two digits of the provinces, autonomous regions, municipalities and Taiwan / Hong Kong / Macao.
const PROVINCES: &[u8] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82, 83,
];

/// The GB 11643 check character for the first 17 digits; `None` unless `first17` is 17 ASCII digits.
pub fn id_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17.bytes().zip(ID_WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    ID_CHECK.get((sum % 11) as usize).copied()
}

/// An 18-character resident ID number with a valid region, birth date and check character.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber {
    value: String,
    birth: NaiveDate,
}

impl IdNumber {
    /// Trims, accepts a lowercase `x` and normalises it to `X`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let err = |zh: String, en: String| FieldError::new("id_number", zh, en);
        let t = input.trim();
        if t.is_empty() {
            return Err(err("身份证号不能为空".into(), "ID number is empty".into()));
        }
        let n = t.chars().count();
        if n != 18 {
            let (zh_hint, en_hint) = if n == 15 {
                (
                    "（15 位旧号码请换用 18 位号码）",
                    " (old 15-digit numbers are not accepted; use the 18-character number)",
                )
            } else {
                ("", "")
            };
            return Err(err(
                format!("身份证号应为 18 位，实际 {n} 位{zh_hint}"),
                format!("ID number must be 18 characters, found {n}{en_hint}"),
            ));
        }
        if let Some((pos, c)) = first_bad(t, |i, c| c.is_ascii_digit() || (i == 17 && (c == 'X' || c == 'x'))) {
            return Err(if pos == 18 {
                err(format!("第 18 位“{c}”应为数字或 X"), format!("character 18 '{c}' must be a digit or X"))
            } else {
                err(format!("第 {pos} 位“{c}”不是数字"), format!("character {pos} '{c}' is not a digit"))
            });
        }
        // All ASCII from here on, so byte slicing is char slicing.
        let value = t.to_ascii_uppercase();
        let province = &value[..2];
        if !province.parse::<u8>().is_ok_and(|p| PROVINCES.contains(&p)) {
            return Err(err(
                format!("前两位“{province}”不是有效的省级行政区划代码"),
                format!("the first two digits '{province}' are not a valid province code"),
            ));
        }
        let ymd = &value[6..14];
        let birth = NaiveDate::parse_from_str(ymd, "%Y%m%d")
            .ok()
            .filter(|d| (1900..=2100).contains(&d.year()))
            .ok_or_else(|| {
                err(format!("第 7–14 位出生日期“{ymd}”无效"), format!("invalid birth date '{ymd}' (characters 7–14)"))
            })?;
        let expected = id_check_char(&value[..17]).unwrap_or('?');
        let found = value[17..].chars().next().unwrap_or('?');
        if expected != found {
            return Err(err(
                format!("校验码错误：第 18 位应为 {expected}，实际为 {found}"),
                format!("check character mismatch: character 18 should be {expected}, found {found}"),
            ));
        }
        Ok(Self { value, birth })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth
    }

    /// GB 11643: the 17th digit (sequence code) is odd for men and even for women.
    pub fn is_male(&self) -> bool {
        self.value.as_bytes().get(16).is_some_and(|b| (b - b'0') % 2 == 1)
    }

    /// The 6-digit administrative division code of the place of first registration.
    pub fn region_code(&self) -> &str {
        &self.value[..6]
    }
}

string_newtype_impls!(IdNumber);

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", mask::mask_id_number(&self.value))
    }
}

// ---------------------------------------------------------------------------------------------------
// Unified social credit code, GB 32100-2015

/// The 31 characters of GB 32100, in value order (no I, O, Z, S, V: they look like digits).
const USCC_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
/// Registration department codes (first character) in use: 1 编制, 5 民政, 9 市场监管, Y 其他 and the
/// departments added later (2 外交, 3 司法行政, 4 文化, 6 旅游, 7 宗教, 8 工会, A 中央军委, N 农业).
const USCC_DEPARTMENTS: &str = "123456789ANY";

fn uscc_value(c: char) -> Option<u32> {
    USCC_CHARSET.find(c).and_then(|i| u32::try_from(i).ok())
}

/// The GB 32100 check character for the first 17 characters; `None` unless all 17 are in the charset
/// (uppercase).
pub fn uscc_check_char(first17: &str) -> Option<char> {
    if first17.chars().count() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first17.chars().zip(USCC_WEIGHTS) {
        sum += uscc_value(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    USCC_CHARSET.chars().nth(check as usize)
}

/// An 18-character unified social credit code with a valid check character.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

impl Uscc {
    /// Trims and uppercases.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let err = |zh: String, en: String| FieldError::new("uscc", zh, en);
        let t = input.trim();
        if t.is_empty() {
            return Err(err("统一社会信用代码不能为空".into(), "unified social credit code is empty".into()));
        }
        let n = t.chars().count();
        if n != 18 {
            return Err(err(
                format!("统一社会信用代码应为 18 位，实际 {n} 位"),
                format!("unified social credit code must be 18 characters, found {n}"),
            ));
        }
        let value = t.to_ascii_uppercase();
        if let Some((pos, c)) = first_bad(&value, |_, c| uscc_value(c).is_some()) {
            let (zh_hint, en_hint) = if matches!(c, 'I' | 'O' | 'Z' | 'S' | 'V') {
                ("（代码中不使用字母 I、O、Z、S、V）", " (the letters I, O, Z, S, V are never used)")
            } else {
                ("", "")
            };
            return Err(err(
                format!("第 {pos} 位“{c}”不是有效字符{zh_hint}"),
                format!("character {pos} '{c}' is not allowed{en_hint}"),
            ));
        }
        // All ASCII from here on.
        let dept = value.chars().next().unwrap_or('?');
        if !USCC_DEPARTMENTS.contains(dept) {
            return Err(err(
                format!("第 1 位登记管理部门代码“{dept}”无效"),
                format!("character 1 '{dept}' is not a registration department code"),
            ));
        }
        if let Some((pos, c)) = first_bad(&value[2..8], |_, c| c.is_ascii_digit()) {
            let pos = pos + 2;
            return Err(err(
                format!("第 {pos} 位“{c}”应为数字（第 3–8 位是行政区划码）"),
                format!("character {pos} '{c}' must be a digit (characters 3–8 are the division code)"),
            ));
        }
        let expected = uscc_check_char(&value[..17]).unwrap_or('?');
        let found = value[17..].chars().next().unwrap_or('?');
        if expected != found {
            return Err(err(
                format!("校验码错误：第 18 位应为 {expected}，实际为 {found}"),
                format!("check character mismatch: character 18 should be {expected}, found {found}"),
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Character 1: the registration department (1 编制, 5 民政, 9 市场监管, Y 其他…).
    pub fn registration_department(&self) -> char {
        self.0.chars().next().unwrap_or('?')
    }

    /// Characters 3–8: the administrative division code of the registering authority.
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }

    /// Characters 9–17: the organisation code (main body identifier).
    pub fn organisation_code(&self) -> &str {
        &self.0[8..17]
    }
}

string_newtype_impls!(Uscc);

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A company code is public information: no masking.
        write!(f, "Uscc({})", self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test should panic
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phone_valid_and_normalised() {
        for input in ["13800138000", " 138-0013-8000 ", "+86 138 0013 8000", "8613800138000", "+86-13800138000"] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), "13800138000", "{input}");
        }
        assert_eq!(PhoneNumber::parse("19912345678").unwrap().to_string(), "19912345678");
    }

    #[test]
    fn phone_invalid() {
        let e = PhoneNumber::parse("1380013800").unwrap_err();
        assert_eq!(e.field, "phone");
        assert!(e.en.contains("found 10"), "{e}");
        assert!(PhoneNumber::parse("12800138000").unwrap_err().en.contains("13–19"));
        assert!(PhoneNumber::parse("23800138000").is_err());
        let e = PhoneNumber::parse("138o0138000").unwrap_err();
        assert!(e.en.contains("character 4 'o'"), "{e}");
        assert!(e.zh.contains("第 4 个字符"), "{e}");
        assert!(PhoneNumber::parse("").is_err());
        assert!(PhoneNumber::parse("+1 2025550123").is_err());
        assert!(PhoneNumber::parse("138+00138000").is_err());
        assert!(PhoneNumber::parse("0571-88001234").is_err(), "a landline is not a mobile number");
        assert!(PhoneNumber::parse("861380013800").is_err());
    }

    #[test]
    fn phone_serde_and_debug() {
        let p = PhoneNumber::parse("13800138000").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"13800138000\"");
        assert_eq!(serde_json::from_str::<PhoneNumber>("\"+86 13800138000\"").unwrap(), p);
        assert!(serde_json::from_str::<PhoneNumber>("\"123\"").is_err());
        assert_eq!(format!("{p:?}"), "PhoneNumber(138****8000)");
    }

    #[test]
    fn id_check_char_by_hand() {
        // GB 11643 example. Weighted sum of 11010519491231002:
        // 1·7+1·9+0·10+1·5+0·8+5·4+1·2+9·1+4·6+9·3+1·7+2·9+3·10+1·5+0·8+0·4+2·2 = 167; 167 mod 11 = 2 → X.
        assert_eq!(id_check_char("11010519491231002"), Some('X'));
        assert_eq!(id_check_char("1101051949123100"), None);
        assert_eq!(id_check_char("1101051949123100a"), None);
    }

    #[test]
    fn id_valid() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
        assert!(!id.is_male(), "17th digit 2 is even");
        assert_eq!(id.region_code(), "110105");
        let lower = IdNumber::parse(" 11010519491231002x ").unwrap();
        assert_eq!(lower.as_str(), "11010519491231002X");
        assert_eq!(lower, id);
        // Another, with its check digit from the helper.
        let body = "33010219900307001";
        let full = format!("{body}{}", id_check_char(body).unwrap());
        let id = IdNumber::parse(&full).unwrap();
        assert!(id.is_male());
        assert_eq!(format!("{id:?}"), format!("IdNumber(330***********{})", &full[14..]));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{full}\""));
        assert_eq!(serde_json::from_str::<IdNumber>(&format!("\"{full}\"")).unwrap(), id);
    }

    #[test]
    fn id_invalid() {
        let e = IdNumber::parse("110105194912310021").unwrap_err();
        assert_eq!(e.field, "id_number");
        assert!(e.en.contains("should be X, found 1"), "{e}");
        assert!(e.zh.contains("应为 X"), "{e}");
        assert!(IdNumber::parse("11010519491231002").unwrap_err().en.contains("found 17"));
        assert!(IdNumber::parse("110105491231002").unwrap_err().en.contains("15-digit"));
        let e = IdNumber::parse("1101051949123100AX").unwrap_err();
        assert!(e.en.contains("character 17 'A'"), "{e}");
        let e = IdNumber::parse("11010519491231002Y").unwrap_err();
        assert!(e.en.contains("character 18 'Y'"), "{e}");
        // Valid check digit, impossible date (February 30th).
        let body = "11010519490230002";
        let e = IdNumber::parse(&format!("{body}{}", id_check_char(body).unwrap())).unwrap_err();
        assert!(e.en.contains("invalid birth date '19490230'"), "{e}");
        // Year out of range.
        let body = "11010518991231002";
        assert!(IdNumber::parse(&format!("{body}{}", id_check_char(body).unwrap())).is_err());
        // Province 99 does not exist.
        let body = "99010519491231002";
        let e = IdNumber::parse(&format!("{body}{}", id_check_char(body).unwrap())).unwrap_err();
        assert!(e.en.contains("province"), "{e}");
        assert!(IdNumber::parse("").is_err());
        assert!(IdNumber::parse("一一010519491231002X").is_err());
        assert!(serde_json::from_str::<IdNumber>("\"110105194912310021\"").is_err());
    }

    #[test]
    fn uscc_check_char_by_hand() {
        // 9 1 3 5 0 1 0 0 M(21) 0 0 0 1 0 0 Y(30) 4 with weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28:
        // 9+3+27+135+0+26+0+0+420+0+0+0+8+0+0+900+112 = 1640; 1640 mod 31 = 28; 31 − 28 = 3.
        assert_eq!(uscc_check_char("91350100M000100Y4"), Some('3'));
        assert_eq!(uscc_check_char("91350100M000100Y"), None);
        assert_eq!(uscc_check_char("91350100M000100I4"), None);
    }

    #[test]
    fn uscc_valid() {
        let u = Uscc::parse("91350100M000100Y43").unwrap();
        assert_eq!(u.registration_department(), '9');
        assert_eq!(u.region_code(), "350100");
        assert_eq!(u.organisation_code(), "M000100Y4");
        assert_eq!(Uscc::parse(" 91350100m000100y43 ").unwrap(), u);
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"91350100M000100Y43\"");
        for body in ["12330100MB0000000", "51330100MJ0000000", "Y1330100000000000", "N2330100000000000"] {
            let full = format!("{body}{}", uscc_check_char(body).unwrap());
            assert!(Uscc::parse(&full).is_ok(), "{full}");
        }
    }

    #[test]
    fn uscc_invalid() {
        let e = Uscc::parse("91350100M000100Y44").unwrap_err();
        assert_eq!(e.field, "uscc");
        assert!(e.en.contains("should be 3, found 4"), "{e}");
        let e = Uscc::parse("91350100M000100I43").unwrap_err();
        assert!(e.en.contains("character 16 'I'") && e.en.contains("never used"), "{e}");
        assert!(Uscc::parse("91350100M000100Y4").unwrap_err().en.contains("found 17"));
        let body = "B1350100M000100Y4";
        let e = Uscc::parse(&format!("{body}{}", uscc_check_char(body).unwrap())).unwrap_err();
        assert!(e.en.contains("registration department"), "{e}");
        let body = "913501A0M000100Y4";
        let e = Uscc::parse(&format!("{body}{}", uscc_check_char(body).unwrap())).unwrap_err();
        assert!(e.en.contains("character 7 'A'"), "{e}");
        assert!(Uscc::parse("").is_err());
    }

    fn id_body() -> impl Strategy<Value = String> {
        (
            proptest::sample::select(PROVINCES.to_vec()),
            0u32..10_000,
            0i64..73_414, // days from 1900-01-01 to 2100-12-31 inclusive
            0u32..1000,
        )
            .prop_map(|(p, rest, days, seq)| {
                let birth = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
                format!("{p:02}{rest:04}{}{seq:03}", birth.format("%Y%m%d"))
            })
    }

    fn uscc_body() -> impl Strategy<Value = String> {
        let chars: Vec<char> = USCC_CHARSET.chars().collect();
        (
            proptest::sample::select(USCC_DEPARTMENTS.chars().collect::<Vec<_>>()),
            proptest::sample::select(chars.clone()),
            0u32..1_000_000,
            proptest::collection::vec(proptest::sample::select(chars), 9),
        )
            .prop_map(|(d, k, region, org)| format!("{d}{k}{region:06}{}", org.into_iter().collect::<String>()))
    }

    proptest! {
        #[test]
        fn id_with_computed_check_parses(body in id_body()) {
            let full = format!("{body}{}", id_check_char(&body).unwrap());
            let id = IdNumber::parse(&full).unwrap();
            prop_assert_eq!(id.as_str(), full.as_str());
            prop_assert_eq!(id.birth_date().format("%Y%m%d").to_string(), &body[6..14]);
        }

        #[test]
        fn id_single_digit_change_is_caught(body in id_body(), pos in 0usize..18, delta in 1u8..10) {
            let full = format!("{body}{}", id_check_char(&body).unwrap());
            let mut bytes = full.clone().into_bytes();
            bytes[pos] = if bytes[pos] == b'X' { b'0' + delta } else { b'0' + (bytes[pos] - b'0' + delta) % 10 };
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_ne!(&changed, &full);
            prop_assert!(IdNumber::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn uscc_with_computed_check_parses(body in uscc_body()) {
            let full = format!("{body}{}", uscc_check_char(&body).unwrap());
            let u = Uscc::parse(&full).unwrap();
            prop_assert_eq!(u.as_str(), full.as_str());
        }

        #[test]
        fn uscc_single_char_change_is_caught(body in uscc_body(), pos in 0usize..18, delta in 1usize..31) {
            let full = format!("{body}{}", uscc_check_char(&body).unwrap());
            let chars: Vec<char> = USCC_CHARSET.chars().collect();
            let mut cs: Vec<char> = full.chars().collect();
            let v = USCC_CHARSET.find(cs[pos]).unwrap();
            cs[pos] = chars[(v + delta) % 31];
            let changed: String = cs.into_iter().collect();
            prop_assert!(Uscc::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let _ = PhoneNumber::parse(&s);
            let _ = IdNumber::parse(&s);
            let _ = Uscc::parse(&s);
        }

        #[test]
        fn valid_phone_round_trips(rest in "[3-9][0-9]{9}") {
            let n = format!("1{rest}");
            let p = PhoneNumber::parse(&format!("+86 {n}")).unwrap();
            prop_assert_eq!(p.as_str(), n.as_str());
        }
    }
}
