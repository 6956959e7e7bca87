//! The chunk splitter's rule read byte by byte, the plain way: the last line end outside a
//! quoted field (a quote opens one only at the start of a field; `""` inside is a literal
//! quote; a quote as the very last byte of a quoted field leaves it open). Shared by the
//! `csv_split` fuzz target and tests/fuzz_regressions.rs.

pub fn reference(bytes: &[u8], delimiter: u8) -> Option<usize> {
    let (mut in_quotes, mut last, mut p) = (false, None, 0);
    while p < bytes.len() {
        let b = bytes[p];
        if in_quotes {
            if b == b'"' {
                match bytes.get(p + 1) {
                    Some(b'"') => p += 1,
                    Some(_) => in_quotes = false,
                    None => break,
                }
            }
        } else if b == b'\n' {
            last = Some(p + 1);
        } else if b == b'"' {
            in_quotes =
                p == 0 || matches!(bytes[p - 1], b'\n' | b'\r') || bytes[p - 1] == delimiter;
        }
        p += 1;
    }
    last
}
