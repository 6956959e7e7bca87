//! Byte-level plumbing under the readers: SHA-256 and byte counts of each input as it streams
//! past (for the manifest, without a second pass), and transcoding of GBK/GB18030/Latin-1 to
//! UTF-8 before the CSV parser sees it.
//!
//! Transcoding comes first because GBK trail bytes include `|` (0x7C): splitting a GBK file on
//! `|` before decoding could cut a character in half. Undecodable bytes become U+FFFD, and the
//! reader rejects any row that contains one (reject-with-reason, never a silent change).

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// Running hash and size of one input file.
#[derive(Default)]
pub struct Tally {
    hasher: Sha256,
    pub bytes: u64,
}

impl Tally {
    pub fn hex(self) -> String {
        let digest = self.hasher.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A reader that feeds everything it reads into a shared [`Tally`].
pub struct Hashing<R> {
    inner: R,
    tally: Rc<RefCell<Tally>>,
    progress: Option<indicatif::ProgressBar>,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> (Self, Rc<RefCell<Tally>>) {
        let tally = Rc::new(RefCell::new(Tally::default()));
        (
            Hashing {
                inner,
                tally: tally.clone(),
                progress: None,
            },
            tally,
        )
    }

    /// Also advance a progress bar by the bytes read.
    pub fn with_progress(mut self, bar: Option<indicatif::ProgressBar>) -> Self {
        self.progress = bar;
        self
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut t = self.tally.borrow_mut();
        t.hasher.update(&buf[..n]);
        t.bytes += n as u64;
        if let Some(bar) = &self.progress {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

/// Ends a stream quietly where a compressed file is cut short (a copy interrupted mid-way):
/// the rows before the cut are read as usual, and the pipeline records one reject for the
/// lost tail instead of failing the whole run.
pub struct Truncation<R> {
    inner: R,
    pub cut: Rc<RefCell<Option<String>>>,
}

impl<R: Read> Truncation<R> {
    pub fn new(inner: R) -> (Self, Rc<RefCell<Option<String>>>) {
        let cut = Rc::new(RefCell::new(None));
        (
            Truncation {
                inner,
                cut: cut.clone(),
            },
            cut,
        )
    }
}

impl<R: Read> Read for Truncation<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cut.borrow().is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::InvalidInput
                        | io::ErrorKind::InvalidData
                ) =>
            {
                *self.cut.borrow_mut() = Some(e.to_string());
                Ok(0)
            }
            other => other,
        }
    }
}

/// Streams `inner` (in `encoding`) out as UTF-8, replacing undecodable bytes with U+FFFD.
pub struct Transcoder<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    in_start: usize,
    in_end: usize,
    output: Vec<u8>,
    out_start: usize,
    out_end: usize,
    eof: bool,
    finished: bool,
}

impl<R: Read> Transcoder<R> {
    pub fn new(inner: R, encoding: &'static encoding_rs::Encoding) -> Self {
        Transcoder {
            inner,
            // No BOM sniffing: the user chose the encoding.
            decoder: encoding.new_decoder_without_bom_handling(),
            input: vec![0; 1 << 16],
            in_start: 0,
            in_end: 0,
            output: vec![0; (1 << 17) + 16],
            out_start: 0,
            out_end: 0,
            eof: false,
            finished: false,
        }
    }
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = buf.len().min(self.out_end - self.out_start);
                buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.eof {
                let n = self.inner.read(&mut self.input)?;
                self.in_start = 0;
                self.in_end = n;
                self.eof = n == 0;
            }
            let (_result, read, written, _had_errors) = self.decoder.decode_to_utf8(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                self.eof,
            );
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.eof && self.in_start == self.in_end && written == 0 {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_transcodes_in_small_reads() {
        let (bytes, _, _) = encoding_rs::GBK.encode("终端号|应答码\nT1|05\n");
        let mut t = Transcoder::new(&bytes[..], encoding_rs::GBK);
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = t.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(String::from_utf8(out).unwrap(), "终端号|应答码\nT1|05\n");
    }

    #[test]
    fn undecodable_bytes_become_replacement() {
        let bytes = b"ok\xff\n";
        let mut s = String::new();
        Transcoder::new(&bytes[..], encoding_rs::GBK)
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "ok\u{fffd}\n");
    }

    #[test]
    fn hashing_counts_bytes() {
        let (mut h, tally) = Hashing::new(&b"abc"[..]);
        io::copy(&mut h, &mut io::sink()).unwrap();
        drop(h);
        let t = Rc::try_unwrap(tally).ok().unwrap().into_inner();
        assert_eq!(t.bytes, 3);
        assert_eq!(
            t.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
