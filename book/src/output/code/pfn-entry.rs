/// One PFN database entry, 24 bytes.
///
/// `flink`/`blink` are the list links while the frame is on a list; while
/// it is active, `flink` holds its working-set list index (as NT's
/// `u1.WsIndex`). `pte` is the back-pointer to the PTE that maps the page:
/// owner process in the top 16 bits, VPN in the low 48. The NUMA node is
/// not stored: it follows from the frame number.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct PfnEntry {
    flink: u32,
    blink: u32,
    pte: u64,
    original: u32,
    share_count: u8,
    reference_count: u8,
    flags: u16,
}
