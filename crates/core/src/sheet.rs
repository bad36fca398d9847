//! The catalogue as a file: CSV, JSON and XLSX (offices keep catalogues in Excel). Reading turns bytes
//! into items or a report of every bad row with its row, column and reason; writing is the inverse, so an
//! export imports back unchanged. Bytes in, bytes out: the callers do the IO.

use crate::catalogue::{material_text, CatalogueRefs, Item, ItemInput};
use crate::error::FieldError;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Xlsx,
}

impl Format {
    /// From a file name's extension.
    pub fn from_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower.ends_with(".xlsx") {
            Some(Format::Xlsx)
        } else {
            None
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    }
}

/// The columns of a catalogue sheet: field, Chinese header, English header.
pub const COLUMNS: [(&str, &str, &str); 17] = [
    ("code", "事项编码", "Code"),
    ("name", "事项名称", "Name"),
    ("department", "实施部门", "Department"),
    ("zone", "业务板块", "Zone"),
    ("kind", "事项类型", "Kind"),
    ("trip_level", "跑动次数", "Trip level"),
    ("channels", "办理渠道", "Channels"),
    ("general_acceptance", "无差别受理", "General acceptance"),
    ("livelihood", "民生事项", "Livelihood"),
    ("statutory_days", "法定时限（工作日）", "Statutory days"),
    ("promised_days", "承诺时限（工作日）", "Promised days"),
    ("lowest_level", "最低受理层级", "Lowest level"),
    ("fees", "收费标准", "Fees"),
    ("legal_basis", "设定依据", "Legal basis"),
    ("keywords", "关键词", "Keywords"),
    ("materials", "申请材料", "Materials"),
    ("fields", "申报表单", "Form fields"),
];

/// One problem of an import, where a person finds it in their file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The row as the spreadsheet numbers it (the header is row 1); for JSON, the item's position from 1.
    pub row: usize,
    /// The column: `C（实施部门）` in a sheet, the field name in JSON; none for whole-file problems.
    pub column: Option<String>,
    pub field: String,
    pub zh: String,
    pub en: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => {
                write!(f, "第{}行 {} 列: {} / row {}, column {}: {}", self.row, c, self.zh, self.row, c, self.en)
            }
            None => write!(f, "第{}行: {} / row {}: {}", self.row, self.zh, self.row, self.en),
        }
    }
}

/// A raw row before validation: its number and its fields.
struct RawRow {
    row: usize,
    input: ItemInput,
    /// Field name → column label, to say where an error is.
    columns: HashMap<String, String>,
}

fn column_letter(mut i: usize) -> String {
    let mut s = String::new();
    loop {
        s.insert(0, (b'A' + (i % 26) as u8) as char);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s
}

fn whole_file(zh: impl Into<String>, en: impl Into<String>) -> Vec<RowError> {
    vec![RowError { row: 1, column: None, field: "file".into(), zh: zh.into(), en: en.into() }]
}

/// Builds rows from a grid of cells whose first row is the header.
fn rows_from_grid(grid: Vec<Vec<String>>) -> Result<Vec<RawRow>, Vec<RowError>> {
    let mut it = grid.into_iter();
    let header = it.next().ok_or_else(|| whole_file("文件为空", "the file is empty"))?;
    let mut fields: Vec<Option<&'static str>> = Vec::new();
    let mut errs = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        let f = COLUMNS.iter().find(|(f, zh, en)| {
            h == *f
                || h == *zh
                || h.eq_ignore_ascii_case(en)
                || h.replace(['(', ')'], "") == zh.replace(['（', '）'], "")
        });
        if f.is_none() && !h.is_empty() {
            errs.push(RowError {
                row: 1,
                column: Some(format!("{}（{}）", column_letter(i), h)),
                field: "header".into(),
                zh: format!("无法识别的列名“{h}”"),
                en: format!("unknown column \"{h}\""),
            });
        }
        fields.push(f.map(|(f, _, _)| *f));
    }
    for (f, zh, en) in COLUMNS.iter().take(4) {
        if !fields.contains(&Some(*f)) {
            errs.push(RowError {
                row: 1,
                column: None,
                field: (*f).into(),
                zh: format!("缺少必需的列“{zh}”"),
                en: format!("the required column \"{en}\" is missing"),
            });
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut out = Vec::new();
    for (n, cells) in it.enumerate() {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut obj = serde_json::Map::new();
        let mut columns = HashMap::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if let Some(Some(f)) = fields.get(i) {
                let label = COLUMNS.iter().find(|c| c.0 == *f).map(|c| c.1).unwrap_or(f);
                columns.insert(f.to_string(), format!("{}（{}）", column_letter(i), label));
                if !cell.trim().is_empty() {
                    obj.insert(f.to_string(), Value::String(cell));
                }
            }
        }
        let input: ItemInput = serde_json::from_value(Value::Object(obj)).unwrap_or_default();
        out.push(RawRow { row: n + 2, input, columns });
    }
    Ok(out)
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Vec<String>>, Vec<RowError>> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| whole_file("CSV 文件应为 UTF-8 编码", "the CSV file must be UTF-8"))?;
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut grid = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| {
            vec![RowError {
                row: i + 1,
                column: None,
                field: "file".into(),
                zh: format!("CSV 格式错误：{e}"),
                en: format!("malformed CSV: {e}"),
            }]
        })?;
        grid.push(rec.iter().map(str::to_string).collect());
    }
    Ok(grid)
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, Vec<RowError>> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| whole_file(format!("无法读取 XLSX 文件：{e}"), format!("cannot read the XLSX file: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| whole_file("XLSX 文件没有工作表", "the XLSX file has no sheet"))?
        .map_err(|e| whole_file(format!("无法读取工作表：{e}"), format!("cannot read the sheet: {e}")))?;
    // Rows are numbered as Excel shows them, even when the used range starts lower.
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    let mut grid: Vec<Vec<String>> = vec![Vec::new(); first_row as usize];
    for row in range.rows() {
        let mut cells = vec![String::new(); first_col as usize];
        cells.extend(row.iter().map(|c| match c {
            Data::Empty => String::new(),
            Data::String(s) => s.clone(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Int(i) => i.to_string(),
            Data::Bool(b) => b.to_string(),
            other => other.to_string(),
        }));
        grid.push(cells);
    }
    // The header is row 1, so that row numbers in errors are the ones Excel shows.
    if grid.first().is_none_or(|r| r.iter().all(|c| c.trim().is_empty())) {
        return Err(whole_file("表头必须在第1行", "the header must be on row 1"));
    }
    Ok(grid)
}

fn rows_from_json(bytes: &[u8]) -> Result<Vec<RawRow>, Vec<RowError>> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| whole_file(format!("JSON 格式错误：{e}"), format!("malformed JSON: {e}")))?;
    let arr = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("items") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(whole_file(
                    "JSON 应为事项数组或含 items 数组的对象",
                    "JSON must be an array of items or {\"items\": [...]}",
                ))
            }
        },
        _ => return Err(whole_file("JSON 应为事项数组", "JSON must be an array of items")),
    };
    arr.into_iter()
        .enumerate()
        .map(|(i, v)| match serde_json::from_value::<ItemInput>(v) {
            Ok(input) => Ok(RawRow { row: i + 1, input, columns: HashMap::new() }),
            Err(e) => Err(vec![RowError {
                row: i + 1,
                column: None,
                field: "item".into(),
                zh: format!("第{}个事项不是对象：{e}", i + 1),
                en: format!("item {} is not an object: {e}", i + 1),
            }]),
        })
        .collect()
}

/// Reads a whole catalogue file. Either every row is a valid item, or the answer lists every bad row.
pub fn read(format: Format, bytes: &[u8], refs: &dyn CatalogueRefs) -> Result<Vec<Item>, Vec<RowError>> {
    let rows = match format {
        Format::Csv => rows_from_grid(read_csv(bytes)?)?,
        Format::Xlsx => rows_from_grid(read_xlsx(bytes)?)?,
        Format::Json => rows_from_json(bytes)?,
    };
    if rows.is_empty() {
        return Err(whole_file("文件中没有事项", "the file holds no items"));
    }
    let mut errs = Vec::new();
    let mut items = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in rows {
        let locate = |e: FieldError| {
            let base = e.field.split(['[', '.']).next().unwrap_or_default().to_string();
            RowError {
                row: r.row,
                column: Some(r.columns.get(&base).cloned().unwrap_or_else(|| e.field.clone())),
                field: e.field,
                zh: e.zh,
                en: e.en,
            }
        };
        match r.input.validate(refs) {
            Ok(item) => {
                if let Some(first) = seen.insert(item.code.to_string(), r.row) {
                    errs.push(locate(FieldError::new(
                        "code",
                        format!("事项编码“{}”与第{}行重复", item.code, first),
                        format!("item code \"{}\" repeats row {}", item.code, first),
                    )));
                } else {
                    items.push(item);
                }
            }
            Err(inv) => errs.extend(inv.0.into_iter().map(locate)),
        }
    }
    if errs.is_empty() {
        Ok(items)
    } else {
        Err(errs)
    }
}

fn cells(item: &Item) -> [String; 17] {
    let yes = |b: bool| if b { "是" } else { "否" }.to_string();
    [
        item.code.to_string(),
        item.name.clone(),
        item.department.clone(),
        item.zone.clone(),
        item.kind.zh().to_string(),
        i64::from(item.trip_level).to_string(),
        item.channels.iter().map(|c| c.zh()).collect::<Vec<_>>().join("、"),
        yes(item.general_acceptance),
        yes(item.livelihood),
        item.statutory_days.get().to_string(),
        item.promised_days.get().to_string(),
        item.lowest_level.zh().to_string(),
        item.fees.clone(),
        item.legal_basis.clone(),
        item.keywords.join("、"),
        item.materials.iter().map(material_text).collect::<Vec<_>>().join("；"),
        // The online form as JSON (a spreadsheet cell holds it whole).
        if item.fields.is_empty() { String::new() } else { serde_json::to_string(&item.fields).unwrap_or_default() },
    ]
}

/// Writes the catalogue in a format that [`read`] takes back unchanged.
pub fn write(format: Format, items: &[Item]) -> Result<Vec<u8>, String> {
    if format == Format::Json {
        return serde_json::to_vec_pretty(&items.iter().map(ItemInput::from).collect::<Vec<_>>())
            .map_err(|e| e.to_string());
    }
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.1).collect();
    let rows: Vec<Vec<Cell>> = items.iter().map(|it| cells(it).into_iter().map(Cell::Text).collect()).collect();
    write_table(format, "事项清单", &header, &rows)
}

/// One cell of a table written by [`write_table`]: numbers stay numbers in XLSX.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Empty,
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Text(s) => f.write_str(s),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Num(x) => write!(f, "{x}"),
            Cell::Empty => Ok(()),
        }
    }
}

/// Writes a table (a header row, then rows) as CSV or as a one-sheet XLSX workbook; JSON is not a
/// table format here (callers serve their own JSON).
pub fn write_table(format: Format, sheet_name: &str, header: &[&str], rows: &[Vec<Cell>]) -> Result<Vec<u8>, String> {
    match format {
        Format::Json => Err("a table is written as CSV or XLSX".into()),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(header).map_err(|e| e.to_string())?;
            for r in rows {
                w.write_record(r.iter().map(Cell::to_string)).map_err(|e| e.to_string())?;
            }
            w.into_inner().map_err(|e| e.to_string())
        }
        Format::Xlsx => {
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            sheet.set_name(sheet_name).map_err(|e| e.to_string())?;
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (c, h) in header.iter().enumerate() {
                sheet.write_string_with_format(0, c as u16, *h, &bold).map_err(|e| e.to_string())?;
            }
            for (r, row) in rows.iter().enumerate() {
                let r = (r + 1) as u32;
                for (c, v) in row.iter().enumerate() {
                    let c = c as u16;
                    match v {
                        Cell::Text(s) => sheet.write_string(r, c, s).map(|_| ()),
                        Cell::Int(i) => sheet.write_number(r, c, *i as f64).map(|_| ()),
                        Cell::Num(x) => sheet.write_number(r, c, *x).map(|_| ()),
                        Cell::Empty => Ok(()),
                    }
                    .map_err(|e| e.to_string())?;
                }
            }
            book.save_to_buffer().map_err(|e| e.to_string())
        }
    }
}

/// Reads a CSV or XLSX file back into a grid of cell texts, the header first (the inverse of
/// [`write_table`]; whole numbers read back without a decimal point).
pub fn read_grid(format: Format, bytes: &[u8]) -> Result<Vec<Vec<String>>, Vec<RowError>> {
    match format {
        Format::Csv => read_csv(bytes),
        Format::Xlsx => read_xlsx(bytes),
        Format::Json => Err(whole_file("表格应为 CSV 或 XLSX", "a table must be CSV or XLSX")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::CatalogueRefs;

    struct Refs;
    impl CatalogueRefs for Refs {
        fn department(&self, s: &str) -> Option<String> {
            matches!(s, "mzj" | "民政局").then(|| "mzj".to_string())
        }
        fn zone(&self, s: &str) -> Option<String> {
            matches!(s, "general" | "综合事务").then(|| "general".to_string())
        }
    }

    const CSV: &str =
        "事项编码,事项名称,实施部门,业务板块,跑动次数,办理渠道,法定时限（工作日）,承诺时限（工作日）,申请材料\n\
        MZJ-001,最低生活保障,民政局,综合事务,0,窗口、网上,30,10,居民身份证|关键|原件|1；收入证明|非关键|复印件|2\n\
        MZJ-002,临时救助,mzj,general,1,window,10,3,\n";

    #[test]
    fn csv_round_trips_through_every_format() {
        let items = read(Format::Csv, CSV.as_bytes(), &Refs).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].materials[1].count, 2);
        for f in [Format::Csv, Format::Json, Format::Xlsx] {
            let bytes = write(f, &items).unwrap();
            assert_eq!(read(f, &bytes, &Refs).unwrap(), items, "{f:?}");
        }
    }

    /// Found by fuzzing (fuzz/fuzz_targets/catalogue_import.rs): a material name in JSON object form that
    /// held a separator of the sheet form (`|` between a material's parts, `；`/`;`/newline between
    /// materials) was accepted, and the catalogue then exported to CSV or XLSX could not be imported again.
    #[test]
    fn material_names_with_sheet_separators_are_refused() {
        let items = read(Format::Csv, CSV.as_bytes(), &Refs).unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&write(Format::Json, &items).unwrap()).unwrap();
        for name in ["|家庭收入和财产状况说明", "医疗费用票据;事故证明", "甲；乙", "甲\n乙"] {
            json[0]["materials"] = serde_json::json!([{"name": name, "key": false}]);
            let errs = read(Format::Json, json.to_string().as_bytes(), &Refs).unwrap_err();
            assert_eq!(errs.len(), 1, "{name:?}: {errs:#?}");
            assert_eq!(errs[0].field, "materials[0].name", "{name:?}");
            assert!(errs[0].en.contains("cannot contain"), "{:?}", errs[0]);
        }
        // Other names still round-trip through every format.
        json[0]["materials"] = serde_json::json!([{"name": "家庭收入（含/不含）说明", "key": false}]);
        let ok = read(Format::Json, json.to_string().as_bytes(), &Refs).unwrap();
        for f in [Format::Csv, Format::Json, Format::Xlsx] {
            assert_eq!(read(f, &write(f, &ok).unwrap(), &Refs).unwrap(), ok, "{f:?}");
        }
    }

    #[test]
    fn bad_rows_are_reported_with_row_and_column() {
        let csv = format!("{CSV}MZJ-003,x,教育局,综合事务,1,,2.5,1,\nMZJ-001,dup,mzj,general,1,,1,1,\n");
        let errs = read(Format::Csv, csv.as_bytes(), &Refs).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert_eq!((errs[0].row, errs[0].column.as_deref()), (4, Some("C（实施部门）")));
        assert_eq!((errs[1].row, errs[1].column.as_deref()), (4, Some("G（法定时限（工作日））")));
        assert_eq!((errs[2].row, errs[2].field.as_str()), (5, "code"));
        assert!(errs[2].zh.contains("第2行"));
    }

    #[test]
    fn unknown_and_missing_columns_are_errors() {
        let errs = read(Format::Csv, "事项编码,颜色\nA,red\n".as_bytes(), &Refs).unwrap_err();
        assert!(errs.iter().any(|e| e.column.as_deref() == Some("B（颜色）")));
        assert!(errs.iter().any(|e| e.field == "name"));
        assert!(read(Format::Xlsx, b"not a zip", &Refs).is_err());
        assert!(read(Format::Json, b"{", &Refs).is_err());
        assert!(read(Format::Csv, b"", &Refs).is_err());
    }

    #[test]
    fn tables_read_back_as_written() {
        let rows = vec![
            vec![Cell::Text("民政局".into()), Cell::Int(12), Cell::Num(0.9231), Cell::Empty],
            vec![Cell::Text("a,\"b\"".into()), Cell::Int(-3), Cell::Num(1.5), Cell::Text("x".into())],
        ];
        for f in [Format::Csv, Format::Xlsx] {
            let grid =
                read_grid(f, &write_table(f, "图表", &["部门", "受理", "按时率", "备注"], &rows).unwrap()).unwrap();
            assert_eq!(grid[0], ["部门", "受理", "按时率", "备注"], "{f:?}");
            assert_eq!(grid[1][..3], ["民政局", "12", "0.9231"], "{f:?}");
            assert_eq!(grid[2], ["a,\"b\"", "-3", "1.5", "x"], "{f:?}");
        }
        assert!(write_table(Format::Json, "x", &[], &[]).is_err());
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
    }
}
