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

/// Check the sector chains of an OLE2 file; `Err` says what is damaged. Files too short or
/// too odd to be judged here pass, and calamine names their fault itself.
pub fn check(bytes: &[u8]) -> Result<(), &'static str> {
    if bytes.len() < 512 {
        return Ok(());
    }
    let size: usize = match u16_at(bytes, 30) {
        9 => 512,
        12 => 4096,
        _ => return Ok(()),
    };
    let body = &bytes[size.min(bytes.len())..];
    let n = body.len().div_ceil(size);
    let sector = |id: u32| -> Result<&[u8], &'static str> {
        let start = id as usize * size;
        if id >= MAX_REGULAR || start >= body.len() {
            return Err("a sector chain points past the end of the file");
        }
        Ok(&body[start..(start + size).min(body.len())])
    };

    // The DIFAT: 109 entries in the header, then a chain of sectors whose last entry is the
    // next DIFAT sector.
    let mut fat_sectors: Vec<u32> = (76..512).step_by(4).map(|at| u32_at(bytes, at)).collect();
    let mut seen = vec![false; n];
    let mut id = u32_at(bytes, 68);
    while id < MAX_REGULAR {
        let s = sector(id)?;
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

    // The FAT itself, from sectors each listed once.
    let mut fat: Vec<u32> = Vec::new();
    let mut listed = vec![false; n];
    for id in fat_sectors.into_iter().filter(|&id| id < MAX_REGULAR) {
        let s = sector(id)?;
        if std::mem::replace(&mut listed[id as usize], true) {
            return Err("a FAT sector is listed twice");
        }
        fat.extend(s.chunks_exact(4).map(|c| u32_at(c, 0)));
    }

    // No chain may loop: walk every sector's chain once, marking sectors on the current walk
    // (1) and sectors known to end (2); meeting a 1 again is a loop. O(sectors).
    let len = fat.len().min(n);
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

    #[test]
    fn a_real_workbook_passes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/equiv/portal.xls");
        assert_eq!(check(&std::fs::read(path).unwrap()), Ok(()));
    }
}
