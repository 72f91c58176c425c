    /// One memory reference by a thread of `pid` running on `node` (the
    /// process's node if `None`). `next_use` is the time of the next
    /// reference to the same page, for the OPT policy ([`NEVER`] if
    /// unknown or none). A process that does not exist or has exited is
    /// [`OpError::NoSuchProcess`].
    #[inline(always)]
    pub fn access(
        &mut self,
        pid: ProcessId,
        address: u64,
        kind: AccessKind,
        node: Option<u8>,
        next_use: u64,
    ) -> Result<Resolution, OpError> {
        let vpn = Vpn::containing(address);
        let write = kind == AccessKind::Write;
        // A process that never existed has no PTE either: the slow path
        // answers NoSuchProcess, as it does for one that has exited.
        let Some(p) = self.processes.get_mut(pid.0 as usize) else {
            return self.access_slow(pid, vpn, address, kind, node, next_use);
        };
        if let Some(pte) = p.page_table.get_mut(vpn) {
            if pte.is_valid() && (!write || pte.is_dirty()) {
                // The hit path: set the accessed bit, tell the policy.
                pte.touch(write);
                let pte = *pte;
                p.counters.paging.references += 1;
                // Large and AWE pages are in no working set: nothing to tell.
                if p.ws.tracks_references() && pte.in_working_set() {
                    let slot = self.pfn.entry(pte.pfn()).ws_index();
                    p.ws.referenced(slot, next_use);
                }
                if self.tlb.is_some() {
                    self.tlb_hit(pid, vpn, pte.is_large());
                }
                return Ok(Resolution::Hit);
            }
        }
        self.access_slow(pid, vpn, address, kind, node, next_use)
    }
