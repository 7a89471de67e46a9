//! Reading a ledger file into a table of cells: CSV (UTF-8, with or without a byte-order
//! mark) with the `csv` crate, XLSX (the first worksheet) with `calamine`. The first
//! non-blank row is the header row.
//!
//! Not here: what the columns mean (`mapping`).

use std::path::Path;

use calamine::{Data, Reader};

use super::values::Cell;

/// A file's kind, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Comma-separated values.
    Csv,
    /// An Excel workbook.
    Xlsx,
}

impl FileKind {
    /// The kind of `path` by its extension (`.csv`, `.xlsx`, `.xlsm`).
    pub fn of(path: &Path) -> Result<FileKind, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(FileKind::Csv),
            Some("xlsx" | "xlsm") => Ok(FileKind::Xlsx),
            _ => Err(format!(
                "{}：不支持这种文件类型；请导入 .csv 或 .xlsx 文件",
                path.display()
            )),
        }
    }
}

/// A table: the header row and the data rows, each with its row number as a spreadsheet
/// shows it (1-based, counting the header row and blank rows).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The header row number.
    pub header_row: usize,
    /// The headers, as written.
    pub headers: Vec<String>,
    /// The data rows: (row number, cells).
    pub rows: Vec<(usize, Vec<Cell>)>,
}

fn from_grid(grid: impl Iterator<Item = (usize, Vec<Cell>)>) -> Table {
    let mut table = Table::default();
    let mut have_header = false;
    for (row, cells) in grid {
        if !have_header {
            if cells.iter().all(Cell::is_empty) {
                continue;
            }
            table.header_row = row;
            table.headers = cells.iter().map(Cell::text).collect();
            have_header = true;
            continue;
        }
        table.rows.push((row, cells));
    }
    table
}

/// Reads a CSV file's bytes. A UTF-8 byte-order mark is skipped; other encodings (GBK) are
/// refused with a hint, because mis-decoded names must never reach the ledger. Errors are
/// Chinese sentences for the officer.
pub fn read_csv(bytes: &[u8]) -> Result<Table, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(format!(
            "文件不是 UTF-8 编码（第 {} 个字节起无法读取），可能是 GBK 编码：请在 Excel 中“另存为”“CSV UTF-8（逗号分隔）”，或先把文件转换为 UTF-8",
            e.valid_up_to() + 1
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    // Row numbers as a spreadsheet shows them: one per record, blank lines (which the
    // reader skips) counted, a quoted field's line breaks not.
    let mut grid = Vec::new();
    let mut row = 0usize;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("CSV 文件第 {} 条记录无法读取（{e}）", i + 1))?;
        // The position is where reading began: after the previous record's line break,
        // before any blank lines the reader skipped (a "\r\n" may be cut after "\r").
        let start = record
            .position()
            .and_then(|p| usize::try_from(p.byte()).ok())
            .unwrap_or(0);
        let mut rest = bytes.get(start..).unwrap_or(&[]);
        if start > 0 && bytes.get(start - 1) == Some(&b'\r') && rest.first() == Some(&b'\n') {
            rest = rest.get(1..).unwrap_or(&[]);
        }
        let blank_lines = rest
            .iter()
            .take_while(|b| matches!(b, b'\n' | b'\r'))
            .filter(|b| **b == b'\n')
            .count();
        row += blank_lines + 1;
        let cells = record
            .iter()
            .map(|field| {
                if field.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(field.to_string())
                }
            })
            .collect();
        grid.push((row, cells));
    }
    Ok(from_grid(grid.into_iter()))
}

fn cell_of(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) if s.trim().is_empty() => Cell::Empty,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Text(i.to_string()),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            Cell::Text(format!("{y:04}-{m:02}-{d:02}"))
        }
        Data::DateTime(dt) => Cell::Number(dt.as_f64()),
        Data::Error(e) => Cell::Text(format!("#ERROR {e}")),
    }
}

/// Reads the first worksheet of an XLSX file.
pub fn read_xlsx(path: &Path) -> Result<Table, String> {
    let mut workbook = calamine::open_workbook_auto(path)
        .map_err(|e| format!("{}：无法作为 Excel 工作簿读取（{e}）", path.display()))?;
    let range = match workbook.worksheet_range_at(0) {
        None => return Ok(Table::default()),
        Some(range) => {
            range.map_err(|e| format!("{}：第一个工作表无法读取（{e}）", path.display()))?
        }
    };
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    let first_col = range.start().map_or(0, |(_, col)| col as usize);
    let grid = range.rows().enumerate().map(move |(i, cells)| {
        let mut row: Vec<Cell> = vec![Cell::Empty; first_col];
        row.extend(cells.iter().map(cell_of));
        (first_row + i + 1, row)
    });
    Ok(from_grid(grid))
}

/// Reads a file of either kind.
pub fn read(path: &Path) -> Result<Table, String> {
    match FileKind::of(path)? {
        FileKind::Csv => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("无法读取 {}（{e}）", path.display()))?;
            read_csv(&bytes)
        }
        FileKind::Xlsx => read_xlsx(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_bom_blank_lines_and_quotes() {
        let text = "\u{feff}机构名称,违规金额\n\n\"某某医院, 东院\",\"111,843.00\"\n,\n";
        let table = read_csv(text.as_bytes()).unwrap();
        assert_eq!(table.headers, vec!["机构名称", "违规金额"]);
        assert_eq!(table.header_row, 1);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[0].0, 3);
        assert_eq!(table.rows[0].1[0], Cell::Text("某某医院, 东院".into()));
        assert!(table.rows[1].1.iter().all(Cell::is_empty));
        // A quoted line break does not count as a row; blank lines do.
        let text = "a,b\n\"x\ny\",1\n\n\n2,3\n";
        let table = read_csv(text.as_bytes()).unwrap();
        let rows: Vec<usize> = table.rows.iter().map(|(row, _)| *row).collect();
        assert_eq!(rows, vec![2, 5]);
    }

    #[test]
    fn non_utf8_is_refused() {
        // "机构" in GBK.
        let err = read_csv(&[0xbb, 0xfa, 0xb9, 0xb9, b'\n']).unwrap_err();
        assert!(
            err.starts_with("文件不是 UTF-8 编码（第 1 个字节起无法读取），可能是 GBK 编码")
                && err.contains("CSV UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_files_are_named_in_chinese() {
        let err = FileKind::of(Path::new("ledger.txt")).unwrap_err();
        assert_eq!(
            err,
            "ledger.txt：不支持这种文件类型；请导入 .csv 或 .xlsx 文件"
        );
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake.xlsx");
        std::fs::write(&fake, "机构名称,违规金额\n").unwrap();
        let err = read(&fake).unwrap_err();
        assert!(err.contains("无法作为 Excel 工作簿读取"), "{err}");
        let err = read(&dir.path().join("missing.csv")).unwrap_err();
        assert!(err.starts_with("无法读取 "), "{err}");
    }

    #[test]
    fn empty_file_has_no_headers() {
        let table = read_csv(b"").unwrap();
        assert!(table.headers.is_empty() && table.rows.is_empty());
    }
}
