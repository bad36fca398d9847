//! The calendar files: any text as a year's TOML (holidays, make-up workdays) is loaded or refused —
//! never a panic; a loaded year answers working-day questions across it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onewindow_core::calendar::{WorkingCalendar, WorkingDays};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut cal = WorkingCalendar::new();
    if cal.load_year(text).is_ok() {
        for year in cal.years() {
            let Some(start) = chrono::NaiveDate::from_ymd_opt(year, 1, 1) else { continue };
            let end = chrono::NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(start);
            let _ = cal.is_working_day(start);
            let _ = cal.working_days_between(start, end);
            let _ = cal.holiday_name(start);
            if let Ok(n) = WorkingDays::try_from(20i64) {
                let _ = cal.add_working_days(start, n);
            }
        }
    }
});
