//! Masking of personal data for screens, lists, logs and exports that do not need the full value
//! (lobby displays, dashboards, audit views).
//!
//! All functions work by chars, never bytes, accept any input without panicking, and keep the char
//! length (except `mask_address`) so that layouts line up. When an input is too short for the usual
//! rule, more is masked, never less.

/// Keeps the first `head` and last `tail` chars and stars the rest; stars everything when the input is
/// shorter than `min_len`, where showing head and tail would reveal most of it.
fn keep_ends(s: &str, head: usize, tail: usize, min_len: usize) -> String {
    let n = s.chars().count();
    if n < min_len {
        return "*".repeat(n);
    }
    s.chars().enumerate().map(|(i, c)| if i < head || i >= n - tail { c } else { '*' }).collect()
}

/// `330102199003071234` → `330***********1234`: province/city prefix and last four kept.
pub fn mask_id_number(s: &str) -> String {
    keep_ends(s, 3, 4, 11)
}

/// `13800138000` → `138****8000`.
pub fn mask_phone(s: &str) -> String {
    keep_ends(s, 3, 4, 11)
}

/// `张三` → `张*`, `欧阳娜娜` → `欧***`; a one-char name becomes `*` (showing it would show it all).
pub fn mask_name(s: &str) -> String {
    let n = s.chars().count();
    if n < 2 {
        return "*".repeat(n);
    }
    s.chars().enumerate().map(|(i, c)| if i == 0 { c } else { '*' }).collect()
}

/// Keeps the first 6 chars (roughly the county or township) then `****`. The tail is a fixed `****`
/// so the length of the hidden part is not revealed; a short address keeps only its first half.
pub fn mask_address(s: &str) -> String {
    let n = s.chars().count();
    if n == 0 {
        return String::new();
    }
    let keep = if n > 6 { 6 } else { n / 2 };
    let mut out: String = s.chars().take(keep).collect();
    out.push_str("****");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test should panic
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(mask_id_number("330102199003071234"), "330***********1234");
        assert_eq!(mask_id_number("11010519491231002X"), "110***********002X");
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "*");
        assert_eq!(mask_address("浙江省杭州市西湖区文三路 90 号"), "浙江省杭州市****");
        assert_eq!(mask_address("西湖区"), "西****");
    }

    #[test]
    fn short_and_empty_inputs() {
        assert_eq!(mask_id_number(""), "");
        assert_eq!(mask_id_number("1234567"), "*******");
        assert_eq!(mask_phone("1380013"), "*******");
        assert_eq!(mask_phone("138001380"), "*********");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_address(""), "");
        assert_eq!(mask_address("a"), "****");
    }

    proptest! {
        #[test]
        fn length_kept_and_no_panic(s in "\\PC{0,40}") {
            let n = s.chars().count();
            prop_assert_eq!(mask_id_number(&s).chars().count(), n);
            prop_assert_eq!(mask_phone(&s).chars().count(), n);
            prop_assert_eq!(mask_name(&s).chars().count(), n);
            let a = mask_address(&s);
            prop_assert!(a.chars().count() <= 10);
            prop_assert!(s.is_empty() || a.ends_with("****"));
        }

        #[test]
        fn masked_digits_hide_the_middle(s in "[0-9]{11,18}") {
            let m = mask_id_number(&s);
            let n = s.len();
            prop_assert_eq!(&m[..3], &s[..3]);
            prop_assert_eq!(&m[n - 4..], &s[n - 4..]);
            prop_assert!(m[3..n - 4].chars().all(|c| c == '*'));
        }
    }
}
