//! Memory resource notifications: the two system-wide events behind
//! CreateMemoryResourceNotification(LowMemoryResourceNotification) and
//! (HighMemoryResourceNotification), which applications wait on or poll
//! with QueryMemoryResourceNotification (MODEL.md s7).
//!
//! The thresholds are computed at boot as ReactOS `mminit.c`
//! MiInitializeMemoryEvents computes them (WRK `initsup.c` has the same
//! formula): the low threshold starts at MmPlentyFreePages, 400 pages,
//! doubled on machines of at least 63 MB (ReactOS `mminit.c` and WRK
//! `wsmanage.c` MiAdjustWorkingSetManagerParameters); above 1 GB of
//! physical pages it is 32 MB plus 1/128 of the pages beyond 1 GB, above
//! 128 MB it grows by 1/32 of the pages beyond 128 MB; it is capped at
//! 64 MB. The high threshold is three times the low one, and never below
//! it. The registry values LowMemoryThreshold and HighMemoryThreshold (in
//! MB) replace either; here they are the machine settings
//! `[machine.notifications] low` and `high`. The low override is not
//! capped, and the high default follows an overridden low.
//!
//! The events change as available pages (zeroed + free + standby) move one
//! page at a time (ReactOS `pfnlist.c` MiIncrementAvailablePages and
//! MiDecrementAvailablePages; WRK `pfnlist.c` MiInsertPageInFreeList and
//! MiUnlinkPageFromList):
//!
//! - a page taken when available equals the high threshold clears the
//!   high event; else, when it equals the low threshold, sets the low one;
//! - a page given back that brings available to the low threshold clears
//!   the low event; else, one that brings it to the high threshold sets
//!   the high one.
//!
//! So the low event is signalled while available < low, the high event
//! while available >= high, and between them neither. At boot both are
//! set from the level (ReactOS MiNotifyMemoryEvents). With equal
//! thresholds the `else` means the low event is never set again and the
//! high event never set again: the first crossing down clears high, the
//! first crossing up clears low, and from then on neither is signalled.
//!
//! pagelab evaluates the events at the end of every operation
//! (`Machine::apply`), of every fault, and of every background round of an
//! `advance`, from the net change of available pages since the last
//! evaluation: that gives the sources' result exactly when the thresholds
//! differ (the state is then a function of available pages alone); with
//! equal thresholds, a crossing down and back up inside one operation is
//! not seen. The hit path of a reference changes no list and checks
//! nothing.

use serde::Serialize;

use crate::event::Event;
use crate::machine::Machine;

/// MmPlentyFreePages before it is doubled (ReactOS `mminit.c`, WRK
/// `wsmanage.c`: 400 pages).
pub const PLENTY_FREE_PAGES: u64 = 400;
/// Machines of at least this many pages double MmPlentyFreePages
/// (63 MB: `MmNumberOfPhysicalPages >= 63*1024*1024/PAGE_SIZE`).
const PLENTY_DOUBLED_AT: u64 = 63 * 1024 * 1024 / 4096;
/// Pages per MB.
const MB: u64 = 1024 * 1024 / 4096;

/// Registry overrides of the thresholds (LowMemoryThreshold,
/// HighMemoryThreshold), in pages; `None` is the formula.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NotifyConfig {
    /// The low threshold, pages.
    pub low: Option<u64>,
    /// The high threshold, pages.
    pub high: Option<u64>,
}

/// The two thresholds, in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    /// The low event is signalled below this many available pages.
    pub low: u64,
    /// The high event is signalled at this many available pages and above.
    pub high: u64,
}

impl Thresholds {
    /// The thresholds of a machine with `physical` pages and these
    /// overrides (ReactOS `mminit.c` MiInitializeMemoryEvents).
    pub fn of(physical: u64, config: &NotifyConfig) -> Thresholds {
        let low = config.low.unwrap_or_else(|| {
            let plenty = if physical >= PLENTY_DOUBLED_AT { 2 * PLENTY_FREE_PAGES } else { PLENTY_FREE_PAGES };
            let mut low = plenty;
            if physical > 0x40000 {
                low = 32 * MB + ((physical - 0x40000) >> 7);
            } else if physical > 0x8000 {
                low += (physical - 0x8000) >> 5;
            }
            low.min(64 * MB)
        });
        let high = config.high.unwrap_or(3 * low).max(low);
        Thresholds { low, high }
    }
}

/// Which memory condition the two events describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryCondition {
    /// The low event is signalled.
    Low,
    /// Neither is signalled.
    Normal,
    /// The high event is signalled.
    High,
}

/// One of the two notifications, as scenarios name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notification {
    /// LowMemoryResourceNotification.
    Low,
    /// HighMemoryResourceNotification.
    High,
}

impl Notification {
    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            Notification::Low => "low",
            Notification::High => "high",
        }
    }

    /// Parses "low" or "high".
    pub fn parse(s: &str) -> Option<Notification> {
        match s {
            "low" => Some(Notification::Low),
            "high" => Some(Notification::High),
            _ => None,
        }
    }
}

/// The two events and what has happened to them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotifyState {
    /// The thresholds, fixed at boot.
    pub thresholds: Thresholds,
    /// The low event is signalled.
    pub low: bool,
    /// The high event is signalled.
    pub high: bool,
    /// Times the low event was set since boot.
    pub low_signals: u64,
    /// Times the high event was set since boot.
    pub high_signals: u64,
    /// Available pages at the last evaluation.
    last_available: u64,
}

impl NotifyState {
    /// The events at boot, set from the level (ReactOS MiNotifyMemoryEvents).
    pub fn new(thresholds: Thresholds, available: u64) -> NotifyState {
        let low = available < thresholds.low;
        NotifyState {
            thresholds,
            low,
            high: !low && available >= thresholds.high,
            low_signals: 0,
            high_signals: 0,
            last_available: available,
        }
    }

    /// Whether one event is signalled.
    pub fn signalled(&self, which: Notification) -> bool {
        match which {
            Notification::Low => self.low,
            Notification::High => self.high,
        }
    }

    /// The condition the events describe now.
    pub fn condition(&self) -> MemoryCondition {
        match (self.low, self.high) {
            (true, _) => MemoryCondition::Low,
            (false, true) => MemoryCondition::High,
            (false, false) => MemoryCondition::Normal,
        }
    }

    /// Available pages moved to `available`: applies every threshold the
    /// move crossed, as the page-at-a-time code would. Returns whether the
    /// condition changed.
    fn update(&mut self, available: u64) -> bool {
        let before = self.condition();
        let (was, now) = (self.last_available, available);
        let Thresholds { low, high } = self.thresholds;
        if now < was {
            // Pages taken: the check runs before each decrement, on the
            // values was, was - 1, ..., now + 1.
            let passed = |t: u64| now < t && t <= was;
            if passed(high) {
                self.high = false;
            }
            if passed(low) && low != high && !self.low {
                self.low = true;
                self.low_signals += 1;
            }
        } else if now > was {
            // Pages given back: the check runs after each increment, on
            // the values was + 1, ..., now.
            let reached = |t: u64| was < t && t <= now;
            if reached(low) {
                self.low = false;
            }
            if reached(high) && low != high && !self.high {
                self.high = true;
                self.high_signals += 1;
            }
        }
        self.last_available = now;
        self.condition() != before
    }
}

impl Machine {
    /// The memory resource notifications.
    pub fn notifications(&self) -> &NotifyState {
        &self.notify
    }

    /// QueryMemoryResourceNotification: whether the event is signalled.
    pub fn query_memory_resource_notification(&self, which: Notification) -> bool {
        self.notify.signalled(which)
    }

    /// Brings the two events up to date with available pages, emitting an
    /// event when the condition changes. Called at the end of every
    /// operation, fault and background round.
    #[inline]
    pub(crate) fn update_notifications(&mut self) {
        let available = self.pfn.available();
        if available != self.notify.last_available && self.notify.update(available) {
            let (condition, t) = (self.notify.condition(), self.notify.thresholds);
            self.emit(|| Event::MemoryCondition { condition, available, low: t.low, high: t.high });
        }
    }
}

impl Machine {
    /// Between operations the events are up to date, and with distinct
    /// thresholds they are what the level of available pages says.
    pub(crate) fn check_notifications(&self) -> Result<(), String> {
        let n = &self.notify;
        let available = self.pfn.available();
        if n.last_available != available {
            return Err(format!(
                "memory notifications last evaluated at {} available pages, but {available} are available",
                n.last_available
            ));
        }
        let t = n.thresholds;
        if t.low != t.high && (n.low != (available < t.low) || n.high != (available >= t.high)) {
            return Err(format!(
                "memory notifications low {} high {} at {available} available pages (thresholds {} and {})",
                n.low, n.high, t.low, t.high
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1024 * MB;

    /// The formula, written out once more from the sources' text.
    fn formula(pages: u64) -> (u64, u64) {
        let plenty = if pages >= 63 * MB { 800 } else { 400 };
        let mut low = plenty;
        if pages > GB {
            low = 32 * MB + (pages - GB) / 128;
        } else if pages > 128 * MB {
            low += (pages - 128 * MB) / 32;
        }
        let low = low.min(64 * MB);
        (low, 3 * low)
    }

    #[test]
    fn thresholds_follow_the_formula_from_64_mb_to_256_gb() {
        let none = NotifyConfig::default();
        let cases = [
            // 64 MB: plenty doubled, below the 128 MB step: 800 pages.
            (64 * MB, 800, 2400),
            // 512 MB: 800 + (131072 - 32768) / 32 = 3872.
            (512 * MB, 3872, 11616),
            // 2 GB: 32 MB + (524288 - 262144) / 128 = 8192 + 2048.
            (2 * GB, 10240, 30720),
            // 8 GB: 8192 + 14336 = 22528, capped at 64 MB.
            (8 * GB, 16384, 49152),
            (256 * GB, 16384, 49152),
            // Below 63 MB the plenty figure is not doubled.
            (32 * MB, 400, 1200),
            // Exactly 1 GB is still the 128 MB rule; one page more, 32 MB.
            (GB, 7968, 23904),
            (GB + 1, 8192, 24576),
        ];
        for (pages, low, high) in cases {
            let t = Thresholds::of(pages, &none);
            assert_eq!((t.low, t.high), (low, high), "{pages} pages");
            assert_eq!(formula(pages), (low, high), "{pages} pages");
        }
    }

    #[test]
    fn overrides_replace_either_threshold_and_high_never_falls_below_low() {
        let t = Thresholds::of(64 * MB, &NotifyConfig { low: Some(100), high: None });
        assert_eq!((t.low, t.high), (100, 300), "high follows an overridden low");
        let t = Thresholds::of(64 * MB, &NotifyConfig { low: None, high: Some(5000) });
        assert_eq!((t.low, t.high), (800, 5000));
        let t = Thresholds::of(64 * MB, &NotifyConfig { low: Some(900), high: Some(500) });
        assert_eq!((t.low, t.high), (900, 900));
        // The low override is not capped at 64 MB.
        let t = Thresholds::of(256 * GB, &NotifyConfig { low: Some(100 * MB), high: None });
        assert_eq!(t.low, 100 * MB);
    }

    fn state(available: u64) -> NotifyState {
        NotifyState::new(Thresholds { low: 100, high: 300 }, available)
    }

    #[test]
    fn at_boot_the_events_follow_the_level() {
        assert_eq!(state(99).condition(), MemoryCondition::Low);
        assert_eq!(state(100).condition(), MemoryCondition::Normal);
        assert_eq!(state(299).condition(), MemoryCondition::Normal);
        assert_eq!(state(300).condition(), MemoryCondition::High);
    }

    #[test]
    fn going_down_high_clears_below_its_threshold_and_low_sets_below_its_own() {
        let mut s = state(400);
        for (available, condition) in [
            (301, MemoryCondition::High),
            (300, MemoryCondition::High),
            (299, MemoryCondition::Normal),
            (200, MemoryCondition::Normal),
            (101, MemoryCondition::Normal),
            (100, MemoryCondition::Normal),
            (99, MemoryCondition::Low),
            (0, MemoryCondition::Low),
        ] {
            s.update(available);
            assert_eq!(s.condition(), condition, "at {available}");
        }
        assert_eq!((s.low_signals, s.high_signals), (1, 0));
    }

    #[test]
    fn going_up_low_clears_at_its_threshold_and_high_sets_at_its_own() {
        let mut s = state(0);
        for (available, condition) in [
            (98, MemoryCondition::Low),
            (99, MemoryCondition::Low),
            (100, MemoryCondition::Normal),
            (101, MemoryCondition::Normal),
            (299, MemoryCondition::Normal),
            (300, MemoryCondition::High),
            (301, MemoryCondition::High),
        ] {
            s.update(available);
            assert_eq!(s.condition(), condition, "at {available}");
        }
        assert_eq!((s.low_signals, s.high_signals), (0, 1));
    }

    #[test]
    fn a_jump_across_both_thresholds_ends_where_the_level_says() {
        let mut s = state(1000);
        assert!(s.update(5));
        assert!(s.low && !s.high);
        assert!(s.update(1000));
        assert!(!s.low && s.high);
        assert!(!s.update(2000), "still high");
        assert_eq!((s.low_signals, s.high_signals), (1, 1));
    }

    #[test]
    fn with_equal_thresholds_the_first_crossing_clears_and_nothing_sets_again() {
        let mut s = NotifyState::new(Thresholds { low: 100, high: 100 }, 150);
        assert_eq!(s.condition(), MemoryCondition::High);
        s.update(50);
        assert_eq!(s.condition(), MemoryCondition::Normal, "going down clears high, does not set low");
        s.update(150);
        assert_eq!(s.condition(), MemoryCondition::Normal, "going up clears low, does not set high");
        s.update(10);
        assert_eq!(s.condition(), MemoryCondition::Normal);
        assert_eq!((s.low_signals, s.high_signals), (0, 0));
    }

    #[test]
    fn the_machine_signals_as_pages_are_taken_and_given_back() {
        use crate::config::MachineConfig;
        use crate::machine::{AccessKind, Op, OpValue};
        use crate::units::Bytes;
        let mut cfg = MachineConfig::with_memory(Bytes(1 << 20)); // 256 frames
        cfg.notifications = NotifyConfig { low: Some(100), high: Some(200) };
        cfg.ws_max = 256;
        let mut m = Machine::new(cfg).unwrap();
        m.set_recording(true);
        assert!(m.query_memory_resource_notification(Notification::High));
        let OpValue::Process(pid) = m.apply(&Op::create_process("p")).unwrap() else { panic!() };
        m.apply(&Op::SetWorkingSetSize { pid, limits: Some((1, 256)) }).unwrap();
        m.apply(&Op::Reserve {
            pid,
            address: Some(0x10000),
            size: 1 << 20,
            protection: crate::pte::Protection::ReadWrite,
            commit: true,
        })
        .unwrap();
        let touch = |m: &mut Machine, i: u64| {
            m.access(pid, 0x10000 + i * 4096, AccessKind::Write, None, crate::working_set::NEVER).unwrap();
        };
        // 256 available: 56 pages taken leave 200, still high.
        for i in 0..56 {
            touch(&mut m, i);
        }
        assert_eq!(m.pfn_db().available(), 200);
        assert!(m.query_memory_resource_notification(Notification::High));
        touch(&mut m, 56);
        assert!(!m.query_memory_resource_notification(Notification::High), "199 is below high");
        assert!(!m.query_memory_resource_notification(Notification::Low));
        for i in 57..156 {
            touch(&mut m, i);
        }
        assert_eq!(m.pfn_db().available(), 100);
        assert!(!m.query_memory_resource_notification(Notification::Low), "100 is not below low");
        touch(&mut m, 156);
        assert!(m.query_memory_resource_notification(Notification::Low), "99 is below low");
        // Decommitting gives the pages back: the low event clears at 100,
        // the high one sets at 200.
        m.apply(&Op::Decommit { pid, address: 0x10000, size: 157 * 4096 }).unwrap();
        assert!(m.query_memory_resource_notification(Notification::High));
        let kinds: Vec<_> = m.drain_events().iter().map(|e| e.kind()).filter(|k| k.starts_with("memory_")).collect();
        assert_eq!(kinds, ["memory_normal", "memory_low", "memory_high"]);
        assert_eq!((m.notifications().low_signals, m.notifications().high_signals), (1, 1));
    }
}
