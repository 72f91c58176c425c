//! Newtypes for every kind of number the model handles, so a virtual page
//! number can never be passed where a frame number is expected.

use std::fmt;

use serde::Serialize;

/// Size of a small page in bytes: 4 KiB on every NT platform (MODEL.md s1).
pub const PAGE_SIZE: u64 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

/// A virtual page number: a virtual address shifted right by 12.
///
/// Invariant: below 2^36 (the x64 48-bit virtual address space).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Vpn(pub u64);

impl Vpn {
    /// The page containing virtual address `va`.
    pub fn containing(va: u64) -> Vpn {
        Vpn(va >> PAGE_SHIFT)
    }
    /// The first virtual address of the page.
    pub fn address(self) -> u64 {
        self.0 << PAGE_SHIFT
    }
    /// The page `n` pages further on.
    pub fn offset(self, n: u64) -> Vpn {
        Vpn(self.0 + n)
    }
}

impl fmt::Display for Vpn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.address())
    }
}

/// A physical frame number: an index into the PFN database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Pfn(pub u32);

impl Pfn {
    /// The frame number as an index into per-frame arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pfn 0x{:x}", self.0)
    }
}

/// A process identifier, small and dense: the index of the process in the
/// machine's process table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ProcessId(pub u16);

/// A mapped file's identifier: its index in the machine's file table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FileId(pub u16);

/// A slot in the page file (a page-sized offset). Slot 0 is never used:
/// a page-file offset of 0 in a PTE means demand zero (MODEL.md s2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PageFileSlot(pub u32);

/// Simulated time in nanoseconds, produced only by the cost model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SimNanos(pub u64);

impl std::ops::Add for SimNanos {
    type Output = SimNanos;
    fn add(self, o: SimNanos) -> SimNanos {
        SimNanos(self.0.saturating_add(o.0))
    }
}

impl std::ops::AddAssign for SimNanos {
    fn add_assign(&mut self, o: SimNanos) {
        self.0 = self.0.saturating_add(o.0);
    }
}

impl std::ops::Mul<u64> for SimNanos {
    type Output = SimNanos;
    fn mul(self, n: u64) -> SimNanos {
        SimNanos(self.0.saturating_mul(n))
    }
}

impl SimNanos {
    /// Parses a duration: "1 s", "500 ms", "250 us", "100 ns" or a plain
    /// count of nanoseconds.
    pub fn parse(text: &str) -> Result<SimNanos, String> {
        let t = text.trim();
        let d = t.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(t.len());
        let (num, unit) = t.split_at(d);
        let value = num
            .replace('_', "")
            .parse::<u64>()
            .map_err(|_| format!("expected a duration such as \"1 s\", \"500 ms\" or \"250 us\", found {text:?}"))?;
        let mult: u64 = match unit.trim() {
            "" | "ns" => 1,
            "us" | "\u{b5}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            other => return Err(format!("unknown time unit {other:?} in {text:?}: expected ns, us, ms or s")),
        };
        value.checked_mul(mult).map(SimNanos).ok_or_else(|| format!("duration {text:?} does not fit in 64 bits"))
    }
}

impl fmt::Display for SimNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns >= 1_000_000_000 {
            write!(f, "{:.3} s", ns as f64 / 1e9)
        } else if ns >= 1_000_000 {
            write!(f, "{:.3} ms", ns as f64 / 1e6)
        } else if ns >= 1_000 {
            write!(f, "{:.1} us", ns as f64 / 1e3)
        } else {
            write!(f, "{ns} ns")
        }
    }
}

/// A size in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Bytes(pub u64);

impl Bytes {
    /// Whole pages in this size, rounding up.
    pub fn pages_ceil(self) -> u64 {
        self.0.div_ceil(PAGE_SIZE)
    }
    /// The error for a fractional size ("1.5 GiB"): sizes are whole
    /// numbers of a unit, and the same size in the next smaller unit is
    /// suggested when it is whole ("1536 MiB").
    fn fractional(text: &str) -> String {
        let t = text.trim();
        let d = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(d);
        let smaller = match unit.trim().to_ascii_lowercase().as_str() {
            "t" | "tb" | "tib" => Some("GiB"),
            "g" | "gb" | "gib" => Some("MiB"),
            "m" | "mb" | "mib" => Some("KiB"),
            "k" | "kb" | "kib" => Some("bytes"),
            _ => None,
        };
        let suggestion = match (num.parse::<f64>(), smaller) {
            (Ok(v), Some(u)) if (v * 1024.0).fract() == 0.0 && v * 1024.0 < 1e15 => {
                format!("; write \"{} {u}\"", (v * 1024.0) as u64)
            }
            _ => String::new(),
        };
        format!("size {text:?}: sizes are whole numbers of a unit{suggestion}")
    }

    /// Parses "64 MiB", "4GB", "0x10000", "512 pages" or a plain byte count.
    ///
    /// KB/MB/GB/TB are read as binary multiples, as Windows writes them.
    pub fn parse(text: &str) -> Result<Bytes, String> {
        let t = text.trim();
        if t.contains('.') {
            return Err(Bytes::fractional(text));
        }
        let split = t.find(|c: char| !(c.is_ascii_hexdigit() || c == 'x' || c == 'X' || c == '_')).unwrap_or(t.len());
        // "0x..." may contain hex letters; a decimal number followed by a unit
        // letter such as "4GB" must not swallow the 'B' as a hex digit.
        let (num, unit) = if t.starts_with("0x") || t.starts_with("0X") {
            t.split_at(split)
        } else {
            let d = t.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(t.len());
            t.split_at(d)
        };
        let num = num.replace('_', "");
        let value = if let Some(hex) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
            u64::from_str_radix(hex, 16)
        } else {
            num.parse::<u64>()
        }
        .map_err(|_| format!("expected a size such as \"64 MiB\", \"0x10000\" or \"512 pages\", found {text:?}"))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" | "bytes" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            "page" | "pages" => PAGE_SIZE,
            other => {
                return Err(format!("unknown size unit {other:?} in {text:?}: expected B, KiB, MiB, GiB, TiB or pages"))
            }
        };
        value.checked_mul(mult).map(Bytes).ok_or_else(|| format!("size {text:?} does not fit in 64 bits"))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
            if b >= 1 << shift && b % (1 << shift) == 0 {
                return write!(f, "{} {unit}", b >> shift);
            }
        }
        if b >= 1 << 20 {
            write!(f, "{:.1} MiB", b as f64 / (1u64 << 20) as f64)
        } else {
            write!(f, "{b} B")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_with_units() {
        assert_eq!(SimNanos::parse("1 s"), Ok(SimNanos(1_000_000_000)));
        assert_eq!(SimNanos::parse("250ms"), Ok(SimNanos(250_000_000)));
        assert_eq!(SimNanos::parse("3 us"), Ok(SimNanos(3_000)));
        assert_eq!(SimNanos::parse("1_500"), Ok(SimNanos(1_500)));
        assert!(SimNanos::parse("2 fortnights").unwrap_err().contains("expected ns, us, ms or s"));
        assert!(SimNanos::parse("soon").unwrap_err().contains("expected a duration"));
        assert!(SimNanos::parse("99999999999 s").unwrap_err().contains("64 bits"));
    }

    #[test]
    fn parses_sizes_with_units() {
        assert_eq!(Bytes::parse("64 MiB").unwrap(), Bytes(64 << 20));
        assert_eq!(Bytes::parse("4GB").unwrap(), Bytes(4 << 30));
        assert_eq!(Bytes::parse("0x10000").unwrap(), Bytes(0x10000));
        assert_eq!(Bytes::parse("512 pages").unwrap(), Bytes(512 * 4096));
        assert_eq!(Bytes::parse("1_024").unwrap(), Bytes(1024));
        assert!(Bytes::parse("12 parsecs").unwrap_err().contains("unknown size unit"));
        for (fractional, says) in [(".5 mib", "\"512 KiB\""), ("1.5 GiB", "\"1536 MiB\""), ("0.25GiB", "\"256 MiB\"")] {
            let e = Bytes::parse(fractional).unwrap_err();
            assert!(e.contains("whole numbers") && e.contains(says), "{fractional}: {e}");
        }
        assert!(!Bytes::parse("1.1 pages").unwrap_err().contains("write"), "no whole suggestion for pages");
        assert!(Bytes::parse("lots").is_err());
        assert!(Bytes::parse("99999999999 TiB").unwrap_err().contains("64 bits"));
    }

    #[test]
    fn displays_round_sizes_in_binary_units() {
        assert_eq!(Bytes(2 << 30).to_string(), "2 GiB");
        assert_eq!(Bytes(4096).to_string(), "4 KiB");
        assert_eq!(SimNanos(1_500).to_string(), "1.5 us");
    }
}
