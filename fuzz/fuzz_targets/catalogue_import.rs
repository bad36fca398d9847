//! The catalogue importer: any bytes as CSV, JSON or XLSX (the first byte picks), read into items or a
//! list of row errors — never a panic. What is read back is written and read again, unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onewindow_core::catalogue::CatalogueRefs;
use onewindow_core::sheet::{read, write, Format};

struct Refs;
impl CatalogueRefs for Refs {
    fn department(&self, s: &str) -> Option<String> {
        matches!(s, "mzj" | "民政局").then(|| "mzj".to_string())
    }
    fn zone(&self, s: &str) -> Option<String> {
        matches!(s, "general" | "综合事务").then(|| "general".to_string())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let format = match pick % 3 {
        0 => Format::Csv,
        1 => Format::Json,
        _ => Format::Xlsx,
    };
    if let Ok(items) = read(format, bytes, &Refs) {
        for f in [Format::Csv, Format::Json] {
            let written = write(f, &items).expect("items that were read can be written");
            let again = read(f, &written, &Refs).expect("a written catalogue reads back");
            assert_eq!(again.len(), items.len());
        }
    }
});
