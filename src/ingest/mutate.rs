//! Test support: cheap deterministic fuzzing for the readers. Splices markup-ish bytes,
//! invalid UTF-8 and deletions into a fixture; readers must never panic, hang, or report line
//! numbers that go backwards on any of the results.

/// Bytes that break CSV, JSON and XML in interesting ways.
const NOISE: &[&[u8]] = &[
    b"<",
    b">",
    b"/",
    b"\"",
    b"'",
    b"&",
    b"=",
    b"<!",
    b"<?",
    b"]]>",
    b"-->",
    b"\n",
    b"\r\n",
    b"{",
    b"}",
    b"[",
    b":",
    b",",
    b"\\",
    b"\xff",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"</log>",
    b"<log ",
];

/// `rounds` mutated copies of `base`, the same every run (a fixed LCG, Knuth's MMIX constants).
pub fn mutations(base: &[u8], rounds: usize) -> Vec<Vec<u8>> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n.max(1)
    };
    (0..rounds)
        .map(|_| {
            let mut input = base.to_vec();
            for _ in 0..1 + next(4) {
                let at = next(input.len() + 1);
                match next(3) {
                    0 => {
                        let piece = NOISE[next(NOISE.len())];
                        input.splice(at..at, piece.iter().copied());
                    }
                    1 => {
                        let end = (at + next(40)).min(input.len());
                        input.drain(at..end);
                    }
                    _ => input.truncate(at),
                }
            }
            input
        })
        .collect()
}
