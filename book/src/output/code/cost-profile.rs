    /// A built-in profile by name.
    pub fn profile(name: &str) -> Option<CostModel> {
        let ns = SimNanos;
        Some(match name {
            // 33 MHz 486, ~40 MB/s memory, IDE disk ~12 ms seek, ~2 MB/s.
            "disk-1993" => CostModel {
                profile: name.into(),
                fault_trap: ns(10_000),
                soft_fault: ns(30_000),
                zero_page: ns(100_000),
                copy_page: ns(200_000),
                tlb_miss: ns(1_000),
                io_latency: ns(15_000_000),
                io_per_page: ns(2_000_000),
                ws_lock_hold: ns(5_000),
                pfn_lock_hold: ns(5_000),
                batch_page: ns(1_000),
            },
            // A 2008 server: ~8 ms per random disk I/O, ~100 MB/s transfer.
            "server-2008" => CostModel {
                profile: name.into(),
                fault_trap: ns(1_000),
                soft_fault: ns(2_000),
                zero_page: ns(1_000),
                copy_page: ns(2_000),
                tlb_miss: ns(50),
                io_latency: ns(8_000_000),
                io_per_page: ns(40_000),
                ws_lock_hold: ns(200),
                pfn_lock_hold: ns(200),
                batch_page: ns(40),
            },
            // A current machine with an NVMe drive: ~80 us latency, ~2 GB/s.
            "nvme" => CostModel {
                profile: name.into(),
                fault_trap: ns(500),
                soft_fault: ns(700),
                zero_page: ns(300),
                copy_page: ns(600),
                tlb_miss: ns(30),
                io_latency: ns(80_000),
                io_per_page: ns(2_000),
                ws_lock_hold: ns(100),
                pfn_lock_hold: ns(100),
                batch_page: ns(20),
            },
            _ => return None,
        })
    }
