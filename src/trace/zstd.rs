//! A streaming zstd decoder over any buffered input, for compressed traces
//! (libCacheSim distributes its traces as `.oracleGeneral.zst`).
//!
//! It decodes frame after frame (`zstd` writes one; `pzstd` and `cat a.zst
//! b.zst` make several), skips skippable frames, checks each frame's
//! checksum when it has one, and holds at most one frame's window in
//! memory: a window larger than [`MAX_WINDOW`] is refused before anything
//! is decoded. Errors are `io::Error`s of kind `InvalidData` whose message
//! names the byte offset in the compressed input.
//!
//! The decoding itself is ruzstd's (pure Rust); the frame headers are read
//! here, so that the window is checked and the offsets are known.

use std::io::{self, BufRead, Read};

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// The magic number that starts every zstd frame, as the file's first four
/// bytes (RFC 8878, section 3.1.1).
pub const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The largest window a frame may ask for: 100 MiB, the most ruzstd
/// decodes. `zstd` at levels 1 to 19 uses at most 8 MiB; `--ultra -22`
/// (128 MiB) and `--long=31` (2 GiB) are refused with a message.
pub const MAX_WINDOW: u64 = 100 << 20;

/// Bytes decoded per step: the output buffer stays near this plus one
/// 128 KiB block, except at a frame's end, when its window is drained.
const STEP: usize = 1 << 16;

/// Counts the compressed bytes read, for error offsets.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before a frame header (or the end of the input).
    Between,
    /// Inside a frame.
    InFrame,
    /// The input ended after a whole frame.
    Done,
    /// An error was returned; every later read returns an error too.
    Failed,
}

/// Decompresses a zstd stream: a [`BufRead`] of the decoded bytes.
pub struct ZstdDecoder<R> {
    src: Counted<R>,
    dec: FrameDecoder,
    out: Vec<u8>,
    pos: usize,
    state: State,
    frames: u64,
    /// The error of a failed decoder, repeated on later reads.
    failure: Option<String>,
}

fn corrupt(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl<R: BufRead> ZstdDecoder<R> {
    /// A decoder over `input`, which must start with a zstd frame.
    pub fn new(input: R) -> ZstdDecoder<R> {
        ZstdDecoder {
            src: Counted { inner: input, count: 0 },
            dec: FrameDecoder::new(),
            out: Vec::new(),
            pos: 0,
            state: State::Between,
            frames: 0,
            failure: None,
        }
    }

    /// Compressed bytes read so far.
    pub fn compressed_offset(&self) -> u64 {
        self.src.count
    }

    fn fail(&mut self, message: String) -> io::Error {
        self.state = State::Failed;
        self.failure = Some(message.clone());
        corrupt(message)
    }

    /// Reads `buf.len()` header bytes; a short read is a truncated header.
    fn header_bytes(&mut self, buf: &mut [u8], at: u64, what: &str) -> io::Result<()> {
        match self.src.read_exact(buf) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.fail(format!(
                "truncated zstd data: the {what} of the frame at compressed byte {at} is cut off at byte {}",
                self.src.count
            ))),
            Err(e) => Err(e),
        }
    }

    /// Reads the next frame's header and readies the decoder; `false` at
    /// the end of the input.
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            if self.src.inner.fill_buf()?.is_empty() {
                if self.frames == 0 {
                    return Err(self.fail("not zstd data: the input is empty".into()));
                }
                return Ok(false);
            }
            let at = self.src.count;
            let mut hdr = [0u8; 18];
            self.header_bytes(&mut hdr[..4], at, "magic number")?;
            let magic = u32::from_le_bytes(hdr[..4].try_into().expect("4 bytes"));
            if (0x184D_2A50..=0x184D_2A5F).contains(&magic) {
                // A skippable frame (RFC 8878, 3.1.2): a length, then data.
                let mut len = [0u8; 4];
                self.header_bytes(&mut len, at, "length of the skippable frame")?;
                let len = u32::from_le_bytes(len) as u64;
                let skipped = io::copy(&mut (&mut self.src).take(len), &mut io::sink())?;
                if skipped < len {
                    return Err(self.fail(format!(
                        "truncated zstd data: the skippable frame at compressed byte {at} declares {len} bytes, \
                         {skipped} follow"
                    )));
                }
                continue;
            }
            if hdr[..4] != MAGIC {
                let shown = hdr[..4].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
                let what = if self.frames == 0 { "not zstd data" } else { "corrupt zstd data" };
                return Err(self.fail(format!(
                    "{what}: expected a zstd frame (28 b5 2f fd) at compressed byte {at}, found {shown}"
                )));
            }
            // The frame header descriptor (RFC 8878, 3.1.1.1.1).
            self.header_bytes(&mut hdr[4..5], at, "header")?;
            let fhd = hdr[4];
            let mut k = 5;
            let single = fhd & 0x20 != 0;
            if fhd & 0x08 != 0 {
                return Err(self
                    .fail(format!("corrupt zstd data: the frame at compressed byte {at} sets a reserved header bit")));
            }
            let mut window_desc = 0;
            if !single {
                self.header_bytes(&mut hdr[5..6], at, "header")?;
                window_desc = hdr[5];
                k = 6;
            }
            let dict_len = [0, 1, 2, 4][(fhd & 3) as usize];
            let mut dict = [0u8; 4];
            self.header_bytes(&mut dict[..dict_len], at, "header")?;
            hdr[k..k + dict_len].copy_from_slice(&dict[..dict_len]);
            k += dict_len;
            if u32::from_le_bytes(dict) != 0 {
                return Err(self.fail(format!(
                    "the zstd frame at compressed byte {at} needs dictionary {}, which pagelab does not have",
                    u32::from_le_bytes(dict)
                )));
            }
            let fcs_len = match fhd >> 6 {
                0 if single => 1,
                0 => 0,
                1 => 2,
                2 => 4,
                _ => 8,
            };
            let mut fcs = [0u8; 8];
            self.header_bytes(&mut fcs[..fcs_len], at, "header")?;
            hdr[k..k + fcs_len].copy_from_slice(&fcs[..fcs_len]);
            k += fcs_len;
            let content = u64::from_le_bytes(fcs) + if fcs_len == 2 { 256 } else { 0 };
            let window = if single {
                content
            } else {
                let log = 10 + u64::from(window_desc >> 3);
                (1u64 << log) + ((1u64 << log) / 8) * u64::from(window_desc & 7)
            };
            if window > MAX_WINDOW {
                return Err(self.fail(format!(
                    "the zstd frame at compressed byte {at} needs a {} MiB window; pagelab decodes windows up to \
                     {} MiB (zstd levels 1 to 19 use at most 8 MiB): recompress with `zstd -19`",
                    window.div_ceil(1 << 20),
                    MAX_WINDOW >> 20
                )));
            }
            if let Err(e) = self.dec.reset(&hdr[..k]) {
                return Err(self.fail(format!("corrupt zstd data: the frame header at compressed byte {at}: {e}")));
            }
            self.frames += 1;
            return Ok(true);
        }
    }

    /// Decodes more output into `out`; `false` at the end of the input.
    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.pos = 0;
        loop {
            match self.state {
                State::Failed => return Err(corrupt(self.failure.clone().unwrap_or_default())),
                State::Done => return Ok(false),
                State::Between => {
                    if self.next_frame()? {
                        self.state = State::InFrame;
                    } else {
                        self.state = State::Done;
                    }
                }
                State::InFrame => {
                    let at = self.src.count;
                    let finished = match self.dec.decode_blocks(&mut self.src, BlockDecodingStrategy::UptoBytes(STEP)) {
                        Ok(f) => f,
                        Err(e) => {
                            let cut = self.src.inner.fill_buf().map(|b| b.is_empty()).unwrap_or(false);
                            // Cut off: the decoder's own error is only that
                            // it ran out of input, which the message says.
                            let message = if cut {
                                format!(
                                    "truncated zstd data: the input ends at compressed byte {}, inside a block \
                                     after byte {at}",
                                    self.src.count
                                )
                            } else {
                                format!(
                                    "corrupt zstd data: a block after compressed byte {at} (read to byte {}): {e}",
                                    self.src.count
                                )
                            };
                            return Err(self.fail(message));
                        }
                    };
                    self.dec.collect_to_writer(&mut self.out)?;
                    if finished && self.dec.can_collect() == 0 {
                        if let (Some(want), Some(got)) =
                            (self.dec.get_checksum_from_data(), self.dec.get_calculated_checksum())
                        {
                            if want != got {
                                return Err(self.fail(format!(
                                    "corrupt zstd data: the checksum of the frame ending at compressed byte {} \
                                     does not match its data",
                                    self.src.count
                                )));
                            }
                        }
                        self.state = State::Between;
                    }
                    if !self.out.is_empty() {
                        return Ok(true);
                    }
                }
            }
        }
    }
}

impl<R: BufRead> Read for ZstdDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for ZstdDecoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.out.len() {
            self.refill()?;
        }
        Ok(&self.out[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `zstd -19 --check` of the bytes 0..=255 repeated 64 times (16 KiB).
    pub(crate) fn sample() -> (Vec<u8>, Vec<u8>) {
        let plain: Vec<u8> = (0..=255u8).cycle().take(256 * 64).collect();
        (plain, include_bytes!("testdata/bytes.zst").to_vec())
    }

    fn decode(bytes: &[u8], cap: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        ZstdDecoder::new(io::BufReader::with_capacity(cap, bytes)).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn decodes_one_frame_through_any_buffer() {
        let (plain, z) = sample();
        for cap in [1, 7, 64, 1 << 16] {
            assert_eq!(decode(&z, cap).unwrap(), plain, "buffer of {cap}");
        }
    }

    #[test]
    fn decodes_concatenated_frames_and_skips_skippable_ones() {
        let (plain, z) = sample();
        let mut two = z.clone();
        two.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
        two.extend_from_slice(&z);
        let mut want = plain.clone();
        want.extend_from_slice(&plain);
        assert_eq!(decode(&two, 100).unwrap(), want);
    }

    #[test]
    fn errors_name_the_compressed_offset() {
        let (_, z) = sample();
        let e = decode(b"", 64).unwrap_err();
        assert!(e.to_string().contains("the input is empty"), "{e}");
        let e = decode(b"hello world", 64).unwrap_err();
        assert!(e.to_string().contains("expected a zstd frame (28 b5 2f fd) at compressed byte 0"), "{e}");
        let e = decode(&z[..3], 64).unwrap_err();
        assert!(e.to_string().contains("cut off at byte 3"), "{e}");
        let e = decode(&z[..z.len() - 10], 64).unwrap_err();
        assert!(e.to_string().starts_with("truncated zstd data"), "{e}");
        // Cut inside a block: where the input ends, without the decoder's
        // own report of running out of input.
        let e = decode(&z[..100], 64).unwrap_err().to_string();
        assert!(e.starts_with("truncated zstd data: the input ends at compressed byte 100, inside a block"), "{e}");
        assert!(!e.contains("Error {"), "{e}");
        // Garbage after a whole frame.
        let mut tail = z.clone();
        tail.extend_from_slice(b"junk");
        let e = decode(&tail, 64).unwrap_err();
        assert!(e.to_string().contains(&format!("at compressed byte {}, found 6a 75 6e 6b", z.len())), "{e}");
        // A flipped byte in the data breaks a block or the checksum.
        let mut flip = z.clone();
        let mid = flip.len() / 2;
        flip[mid] ^= 0x55;
        let e = decode(&flip, 64).unwrap_err();
        assert!(e.to_string().starts_with("corrupt zstd data"), "{e}");
        // A window of 2 GiB is refused before decoding (window descriptor
        // 0xA8: 2^(10+21)).
        let big = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 0, 0, 0];
        let e = decode(&big, 64).unwrap_err();
        assert!(e.to_string().contains("needs a 2048 MiB window"), "{e}");
        // A dictionary is refused.
        let dict = [0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x58, 7, 0, 0];
        let e = decode(&dict, 64).unwrap_err();
        assert!(e.to_string().contains("needs dictionary 7"), "{e}");
    }

    #[test]
    fn a_failed_decoder_stays_failed() {
        let mut d = ZstdDecoder::new(&b"nope"[..]);
        assert!(d.fill_buf().is_err());
        assert!(d.fill_buf().is_err());
    }
}
