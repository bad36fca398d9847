//! The validators: any text as a mobile number, an ID number (GB 11643) or a USCC (GB 32100) is accepted
//! or refused — never a panic; what is accepted parses again to the same value and its parts can be read.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onewindow_core::ids::{IdNumber, PhoneNumber, Uscc};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = PhoneNumber::parse(text) {
        assert_eq!(PhoneNumber::parse(p.as_str()).expect("reparse").as_str(), p.as_str());
    }
    if let Ok(id) = IdNumber::parse(text) {
        assert_eq!(IdNumber::parse(id.as_str()).expect("reparse").as_str(), id.as_str());
        let _ = (id.birth_date(), id.is_male(), id.region_code());
    }
    if let Ok(u) = Uscc::parse(text) {
        assert_eq!(Uscc::parse(u.as_str()).expect("reparse").as_str(), u.as_str());
        let _ = (u.registration_department(), u.region_code(), u.organisation_code());
    }
    let _ = onewindow_core::ids::id_check_char(text);
    let _ = onewindow_core::ids::uscc_check_char(text);
});
