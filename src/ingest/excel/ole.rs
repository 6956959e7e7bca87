//! A structural check of the OLE2 compound file (MS-CFB) that holds an `.xls` workbook, run
//! before the file is handed to calamine.
//!
//! Why: calamine follows the file's sector chains as they are written. In a damaged file a
//! chain can loop back on itself, and calamine then copies the same sectors over and over
//! until the stream's claimed length (up to 4 GiB) or, for the directory, forever — fuzzing
//! found a 9.6 kB `.xls` that made it allocate past 4 GB
//! (`tests/fixtures/fuzz/ingest_excel/xls-sector-chain-loop`). A well-formed file has no
//! loop: every chain ends at ENDOFCHAIN and no FAT sector is listed twice. Once that holds,
//! every chain calamine walks is at most as long as the file, so what it allocates for the
//! container is bounded by the file's size.
//!
//! Layout facts used (MS-CFB 2.2–2.5): a 512-byte header (sector shift at 30, first
//! directory sector at 48, first DIFAT sector at 68, the first 109 DIFAT entries at 76);
//! sector `i` starts at byte `(i + 1) * sector_size`; the FAT maps a sector to the next one
//! in its chain; ids from `0xFFFF_FFFA` up are markers, not sectors.

/// Ids from here up are markers (DIFSECT, FATSECT, ENDOFCHAIN, FREESECT), not sectors.
const MAX_REGULAR: u32 = 0xFFFF_FFFA;

/// Check the sector chains of an OLE2 file, then its workbook's sheets; `Err` says what is
/// damaged. Files too short or too odd to be judged here pass, and calamine names their fault
/// itself.
pub fn check(bytes: &[u8]) -> Result<(), &'static str> {
    let Some(file) = Container::new(bytes) else {
        return Ok(());
    };
    file.check_header()?;
    let fat = file.fat()?;
    check_chains(&fat, file.sectors)?;
    match file.workbook(&fat) {
        Some(stream) => check_sheets(&stream),
        None => Ok(()), // calamine says the stream is missing
    }
}

/// The compound file: its header and its sectors.
struct Container<'a> {
    header: &'a [u8],
    body: &'a [u8],
    size: usize,
    /// Sectors in the file.
    sectors: usize,
}

impl<'a> Container<'a> {
    fn new(bytes: &'a [u8]) -> Option<Container<'a>> {
        if bytes.len() < 512 {
            return None;
        }
        let size: usize = match u16_at(bytes, 30) {
            9 => 512,
            12 => 4096,
            _ => return None,
        };
        let body = &bytes[size.min(bytes.len())..];
        Some(Container {
            header: bytes,
            body,
            size,
            sectors: body.len().div_ceil(size),
        })
    }

    fn sector(&self, id: u32) -> Result<&'a [u8], &'static str> {
        let start = id as usize * self.size;
        if id >= MAX_REGULAR || start >= self.body.len() {
            return Err("a sector chain points past the end of the file");
        }
        Ok(&self.body[start..(start + self.size).min(self.body.len())])
    }

    /// Sizes the header states, which calamine reserves room for before it reads a sector:
    /// no more FAT or mini FAT sectors than the file has. calamine 0.35 also takes the
    /// DIFAT's length from bytes 62..66 (the mini FAT's start and length overlapped; the
    /// format has it at 72..76) and reserves that many entries: a mini FAT length of 65,280
    /// made that 17 GB (found by fuzzing: `ingest_excel/header-claims-65280-mini-fat-sectors`).
    fn check_header(&self) -> Result<(), &'static str> {
        let fat_len = u32_at(self.header, 44) as usize;
        let mini_fat_len = u32_at(self.header, 64) as usize;
        if fat_len > self.sectors
            || mini_fat_len > self.sectors
            || u32_at(self.header, 62) >= 1 << 24
        {
            return Err("its header states more FAT sectors than the file has");
        }
        Ok(())
    }

    /// The FAT, from the sectors the DIFAT lists (109 entries in the header, then a chain of
    /// sectors whose last entry is the next DIFAT sector), each listed once.
    fn fat(&self) -> Result<Vec<u32>, &'static str> {
        let mut fat_sectors: Vec<u32> = (76..512)
            .step_by(4)
            .map(|at| u32_at(self.header, at))
            .collect();
        let mut seen = vec![false; self.sectors];
        let mut id = u32_at(self.header, 68);
        while id < MAX_REGULAR {
            let s = self.sector(id)?;
            if std::mem::replace(&mut seen[id as usize], true) {
                return Err("the chain of FAT index (DIFAT) sectors loops");
            }
            let entries: Vec<u32> = s.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
            let Some((&next, listed)) = entries.split_last() else {
                break;
            };
            fat_sectors.extend_from_slice(listed);
            id = next;
        }
        let mut fat: Vec<u32> = Vec::new();
        let mut listed = vec![false; self.sectors];
        for id in fat_sectors.into_iter().filter(|&id| id < MAX_REGULAR) {
            let s = self.sector(id)?;
            if std::mem::replace(&mut listed[id as usize], true) {
                return Err("a FAT sector is listed twice");
            }
            fat.extend(s.chunks_exact(4).map(|c| u32_at(c, 0)));
        }
        Ok(fat)
    }

    /// The sectors of the stream that starts at `start`, at most `max` of them.
    fn read(&self, start: u32, fat: &[u32], max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for id in chain(start, fat, self.sectors, max) {
            if let Ok(s) = self.sector(id) {
                out.extend_from_slice(s);
            }
        }
        out
    }

    /// The workbook stream, read as calamine will read it: by name from the directory, from
    /// the mini stream when it is shorter than 4,096 bytes.
    fn workbook(&self, fat: &[u32]) -> Option<Vec<u8>> {
        let dir = self.read(u32_at(self.header, 48), fat, self.sectors);
        let entries: Vec<&[u8]> = dir.chunks_exact(128).collect();
        let book = entries.iter().find(|e| {
            let name: String = char::decode_utf16(
                e[..64]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]])),
            )
            .map_while(|c| c.ok().filter(|c| *c != '\0'))
            .collect();
            name.eq_ignore_ascii_case("workbook") || name.eq_ignore_ascii_case("book")
        })?;
        let (start, len) = (u32_at(book, 116), u32_at(book, 120) as usize);
        let mut stream = if len < 4096 {
            // 64-byte sectors inside the root entry's stream, chained by the mini FAT.
            let root = entries.first()?;
            let mini_stream = self.read(u32_at(root, 116), fat, self.sectors);
            let mini_fat: Vec<u32> = self
                .read(u32_at(self.header, 60), fat, self.sectors)
                .chunks_exact(4)
                .map(|c| u32_at(c, 0))
                .collect();
            let mini_sectors = mini_stream.len().div_ceil(64);
            let mut out = Vec::new();
            for id in chain(start, &mini_fat, mini_sectors, len.div_ceil(64)) {
                let at = id as usize * 64;
                out.extend_from_slice(&mini_stream[at..(at + 64).min(mini_stream.len())]);
            }
            out
        } else {
            self.read(start, fat, len.div_ceil(self.size))
        };
        stream.truncate(len);
        Some(stream)
    }
}

/// No chain may loop: walk every sector's chain once, marking sectors on the current walk (1)
/// and sectors known to end (2); meeting a 1 again is a loop. O(sectors).
fn check_chains(fat: &[u32], sectors: usize) -> Result<(), &'static str> {
    let len = fat.len().min(sectors);
    let mut state = vec![0u8; len];
    let mut path = Vec::new();
    for start in 0..len {
        let mut id = start;
        while id < len && state[id] == 0 {
            state[id] = 1;
            path.push(id);
            id = fat[id] as usize;
        }
        if id < len && state[id] == 1 {
            return Err("a sector chain loops back on itself");
        }
        for &p in &path {
            state[p] = 2;
        }
        path.clear();
    }
    Ok(())
}

/// The ids of a chain from `start` through `fat`, over `sectors` sectors, at most `max`.
fn chain(start: u32, fat: &[u32], sectors: usize, max: usize) -> Vec<u32> {
    let mut ids = Vec::new();
    let mut id = start;
    while id < MAX_REGULAR && (id as usize) < fat.len().min(sectors) && ids.len() < max {
        ids.push(id);
        id = fat[id as usize];
    }
    if id < MAX_REGULAR && (id as usize) < sectors && ids.len() < max {
        ids.push(id); // the last sector, whose FAT entry is beyond the table
    }
    ids
}

/// Excel 97–2003 (BIFF8) sheets have 65,536 rows and 256 columns.
const BIFF8_ROWS: u32 = 65_536;
const BIFF8_COLUMNS: u32 = 256;

const TOO_FAR: &str = "a cell lies beyond column 256, past what an .xls sheet can hold";
const BAD_SIZE: &str = "a sheet states a size an .xls sheet cannot have";

/// Each sheet's stated size and its cells must fit a BIFF8 sheet. Why: calamine reserves
/// room for the rectangle a sheet's DIMENSIONS record states, and lays the cells out as a
/// dense rectangle spanning the extreme ones; a 9.7 kB file whose sheet states billions of
/// rows asked for 1.1 TB and aborted the run (found by fuzzing:
/// `ingest_excel/sheet-size-past-the-sheet`), and cells at column 0 and column 65,535 would
/// do the same. Within these limits a sheet costs at most 65,536 × 256 cells. The sheets are
/// found as calamine finds them: the workbook globals, up to their EOF record, give each
/// sheet's offset (BOUNDSHEET), and a sheet runs from there to its own EOF.
fn check_sheets(stream: &[u8]) -> Result<(), &'static str> {
    let mut offsets = Vec::new();
    for (kind, data) in records(stream) {
        match kind {
            0x0085 if data.len() >= 4 => offsets.push(u32_at(data, 0) as usize),
            0x000A => break,
            _ => {}
        }
    }
    for at in offsets.into_iter().filter(|&at| at <= stream.len()) {
        check_sheet(&stream[at..])?;
    }
    Ok(())
}

fn check_sheet(sheet: &[u8]) -> Result<(), &'static str> {
    let mut extent = Extent::default();
    for (kind, data) in records(sheet) {
        let cols: &[usize] = match kind {
            0x000A => break,
            0x0200 => {
                check_dimensions(data)?;
                &[]
            }
            // FORMULA, RSTRING, LABELSST, BLANK, NUMBER, LABEL, BOOLERR, RK: (row, col, …)
            0x0006 | 0x00D6 | 0x00FD | 0x0201 | 0x0203 | 0x0204 | 0x0205 | 0x027E => &[2],
            // MULRK, MULBLANK: (row, first col, …, last col)
            0x00BD | 0x00BE if data.len() >= 6 => &[2, data.len() - 2],
            _ => &[],
        };
        for &c in cols {
            if c + 2 <= data.len() && u32::from(u16_at(data, c)) >= BIFF8_COLUMNS {
                return Err(TOO_FAR);
            }
        }
        // The cells calamine places (it skips BLANK, MULBLANK and RSTRING).
        if matches!(
            kind,
            0x0006 | 0x00FD | 0x0203 | 0x0204 | 0x0205 | 0x027E | 0x00BD
        ) {
            let count = if kind == 0x00BD {
                data.len().saturating_sub(6) / 6
            } else {
                1
            };
            for &c in cols.iter().filter(|&&c| c + 2 <= data.len()) {
                extent.add(u16_at(data, 0), u16_at(data, c), count);
            }
        }
    }
    extent.check()
}

/// The rectangle a sheet's cells span and how many there are. calamine lays the sheet out
/// densely over that rectangle, twice over (it hands out a copy): a 10 kB file with cells at
/// A1 and IV65536 cost 1 GB. A real export fills its rectangle; this one is refused when it
/// spans more than a million cells and more than 16 times the cells it holds.
#[derive(Default)]
struct Extent {
    rows: Option<(u16, u16)>,
    cols: Option<(u16, u16)>,
    cells: usize,
}

const SPARSE: &str = "its few cells are spread over a far larger sheet than an export fills";

impl Extent {
    fn add(&mut self, row: u16, col: u16, cells: usize) {
        let widen = |span: Option<(u16, u16)>, v: u16| {
            Some(span.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        };
        self.rows = widen(self.rows, row);
        self.cols = widen(self.cols, col);
        self.cells += cells;
    }

    fn check(&self) -> Result<(), &'static str> {
        let (Some(rows), Some(cols)) = (self.rows, self.cols) else {
            return Ok(());
        };
        let area = (usize::from(rows.1 - rows.0) + 1) * (usize::from(cols.1 - cols.0) + 1);
        if area > 1 << 20 && area / 16 > self.cells {
            return Err(SPARSE);
        }
        Ok(())
    }
}

/// DIMENSIONS: first row, one past the last row, first column, one past the last column
/// (rows 32-bit in BIFF8's 14-byte form, 16-bit in the older 10-byte one). Empty is all
/// zero; otherwise first < past-last, within the sheet. calamine subtracts without checking,
/// so first ≥ past-last wraps to billions.
fn check_dimensions(data: &[u8]) -> Result<(), &'static str> {
    let (rows, cols) = match data.len() {
        14 => ((u32_at(data, 0), u32_at(data, 4)), (8, 10)),
        10 => (
            (u32::from(u16_at(data, 0)), u32::from(u16_at(data, 2))),
            (4, 6),
        ),
        _ => return Ok(()), // calamine refuses the record itself
    };
    let cols = (
        u32::from(u16_at(data, cols.0)),
        u32::from(u16_at(data, cols.1)),
    );
    let fits = |(first, past): (u32, u32), most: u32| past == 0 || (first < past && past <= most);
    if fits(rows, BIFF8_ROWS) && fits(cols, BIFF8_COLUMNS) {
        Ok(())
    } else {
        Err(BAD_SIZE)
    }
}

/// A BIFF stream's records as (type, data), stopping where a record would run past the end.
fn records(stream: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let kind = u16_at(stream.get(at..at + 4)?, 0);
        let len = usize::from(u16_at(stream, at + 2));
        let data = stream.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some((kind, data))
    })
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal version-3 compound file: header, one FAT sector (sector 0), then `chain`
    /// written into the FAT from sector 1 on, and two more data sectors.
    fn file(chain: &[(u32, u32)]) -> Vec<u8> {
        let mut b = vec![0u8; 512 * 4];
        b[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
        b[30..32].copy_from_slice(&9u16.to_le_bytes());
        b[32..34].copy_from_slice(&6u16.to_le_bytes());
        b[44..48].copy_from_slice(&1u32.to_le_bytes());
        b[48..52].copy_from_slice(&1u32.to_le_bytes());
        b[68..72].copy_from_slice(&0xFFFF_FFFEu32.to_le_bytes());
        for at in (76..512).step_by(4) {
            b[at..at + 4].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        }
        b[76..80].copy_from_slice(&0u32.to_le_bytes()); // the FAT is sector 0
        let fat = 512;
        for i in 0..128 {
            b[fat + 4 * i..fat + 4 * i + 4].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        }
        b[fat..fat + 4].copy_from_slice(&0xFFFF_FFFDu32.to_le_bytes()); // FATSECT
        for &(from, to) in chain {
            let at = fat + 4 * from as usize;
            b[at..at + 4].copy_from_slice(&to.to_le_bytes());
        }
        b
    }

    #[test]
    fn a_chain_that_ends_passes() {
        assert_eq!(check(&file(&[(1, 2), (2, 0xFFFF_FFFE)])), Ok(()));
    }

    #[test]
    fn a_looping_chain_is_refused() {
        assert_eq!(
            check(&file(&[(1, 2), (2, 1)])),
            Err("a sector chain loops back on itself")
        );
        assert_eq!(
            check(&file(&[(2, 2)])),
            Err("a sector chain loops back on itself")
        );
    }

    #[test]
    fn a_fat_sector_listed_twice_is_refused() {
        let mut b = file(&[(1, 0xFFFF_FFFE)]);
        b[80..84].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(check(&b), Err("a FAT sector is listed twice"));
    }

    #[test]
    fn a_looping_difat_chain_is_refused() {
        let mut b = file(&[(1, 0xFFFF_FFFE)]);
        // DIFAT starts at sector 2, whose last entry points back to sector 2.
        b[68..72].copy_from_slice(&2u32.to_le_bytes());
        let s2 = 512 * 3;
        for i in 0..128 {
            b[s2 + 4 * i..s2 + 4 * i + 4].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        }
        b[s2 + 508..s2 + 512].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(
            check(&b),
            Err("the chain of FAT index (DIFAT) sectors loops")
        );
    }

    /// A BIFF record: type, length, data.
    fn record(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut r = kind.to_le_bytes().to_vec();
        r.extend_from_slice(&(data.len() as u16).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn a_cell_past_column_256_is_refused() {
        // NUMBER at row 3, column 255 (the last of 256): fine.
        let mut ok = record(0x0203, &[3, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // MULBLANK on row 0, columns 0..=255: fine.
        ok.extend(record(0x00BE, &[0, 0, 0, 0, 15, 0, 15, 0, 255, 0]));
        assert_eq!(check_sheet(&ok), Ok(()));

        let number = record(0x0203, &[3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            check_sheet(&[ok.clone(), number.clone()].concat()),
            Err(TOO_FAR)
        );
        // MULRK whose last column is 256.
        let mulrk = record(0x00BD, &[0, 0, 250, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(check_sheet(&mulrk), Err(TOO_FAR));
        // A record type that is not a cell is not read as one.
        assert_eq!(
            check_sheet(&record(0x0809, &[0, 6, 16, 0, 0xFF, 0xFF])),
            Ok(())
        );
        // Past the sheet's EOF the records are not the sheet's.
        let eof = record(0x000A, &[]);
        assert_eq!(check_sheet(&[ok, eof, number].concat()), Ok(()));
    }

    #[test]
    fn a_few_cells_spread_over_the_whole_sheet_are_refused() {
        let number = |row: u16, col: u16| {
            let mut d = row.to_le_bytes().to_vec();
            d.extend_from_slice(&col.to_le_bytes());
            d.extend_from_slice(&[0; 10]);
            record(0x0203, &d)
        };
        // A1 and IV65536: 16.7 million cells for two.
        let far = [number(0, 0), number(65_535, 255)].concat();
        assert_eq!(check_sheet(&far), Err(SPARSE));
        // The same corner reached by a real sheet's worth of rows (4,096 × 256 cells).
        let mut full = far.clone();
        for row in (0..65_536u32).step_by(16) {
            for col in 0..256 {
                full.extend(number(row as u16, col));
            }
        }
        assert_eq!(check_sheet(&full), Ok(()));
        // A note far below a small table stays within a million cells.
        let note = [number(0, 0), number(0, 9), number(60_000, 0)].concat();
        assert_eq!(check_sheet(&note), Ok(()));
    }

    fn dimensions(rows: (u32, u32), cols: (u16, u16)) -> Vec<u8> {
        let mut d = Vec::new();
        for v in [rows.0, rows.1] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        for v in [cols.0, cols.1, 0] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        record(0x0200, &d)
    }

    #[test]
    fn an_impossible_sheet_size_is_refused() {
        for fine in [((0, 0), (0, 0)), ((0, 10), (0, 3)), ((0, 65_536), (0, 256))] {
            assert_eq!(check_sheet(&dimensions(fine.0, fine.1)), Ok(()), "{fine:?}");
        }
        for bad in [
            ((0, 4_000_000_000), (0, 3)), // the 1.1 TB reservation
            ((0, 10), (0, 65_535)),
            ((10, 5), (0, 3)), // first past the end: calamine's subtraction wraps
            ((0, 10), (3, 3)),
        ] {
            assert_eq!(
                check_sheet(&dimensions(bad.0, bad.1)),
                Err(BAD_SIZE),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sheets_are_found_where_the_globals_say() {
        // Globals: BOUNDSHEET pointing at offset `at`, EOF; then bytes that are not records
        // from the start but hold a bad DIMENSIONS record from `at` on.
        let globals_len = 4 + 6 + 4;
        let filler = vec![0x3Cu8, 0, 1, 0, 0]; // a 1-byte CONTINUE record
        let at = (globals_len + filler.len()) as u32;
        let mut bound = at.to_le_bytes().to_vec();
        bound.extend_from_slice(&[0, 0]);
        let stream = [
            record(0x0085, &bound),
            record(0x000A, &[]),
            filler,
            dimensions((0, 4_000_000_000), (0, 3)),
        ]
        .concat();
        assert_eq!(check_sheets(&stream), Err(BAD_SIZE));
        // An offset past the end is calamine's to refuse, not ours.
        let mut far = stream.clone();
        far[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(check_sheets(&far), Ok(()));
    }

    #[test]
    fn a_header_claiming_more_fat_sectors_than_the_file_has_is_refused() {
        let too_many = Err("its header states more FAT sectors than the file has");
        let mut b = file(&[(1, 0xFFFF_FFFE)]);
        b[44..48].copy_from_slice(&4u32.to_le_bytes()); // the file has 3 sectors
        assert_eq!(check(&b), too_many);
        let mut b = file(&[(1, 0xFFFF_FFFE)]);
        b[64..68].copy_from_slice(&65_280u32.to_le_bytes()); // the fuzzer's mini FAT length
        assert_eq!(check(&b), too_many);
        let mut b = file(&[(1, 0xFFFF_FFFE)]);
        b[64..68].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(check(&b), Ok(()));
    }

    #[test]
    fn a_real_workbook_passes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/equiv/portal.xls");
        assert_eq!(check(&std::fs::read(path).unwrap()), Ok(()));
    }
}
