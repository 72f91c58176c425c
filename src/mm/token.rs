//! Access tokens and privileges.
//!
//! Some memory operations need a privilege as well as memory: large pages
//! and AWE need SeLockMemoryPrivilege, the "Lock pages in memory" user
//! right (MODEL.md s5, s6). Three facts make the privilege a classic trap,
//! and the model keeps all three:
//!
//! - **Policy grants a right to the account; a token holds it.** Granting
//!   "Lock pages in memory" (Local Security Policy, User Rights Assignment,
//!   or `LsaAddAccountRights`) changes the account's rights, not any
//!   running process: a token is built at logon from the rights the account
//!   has then, and every process of that logon session gets a copy: a
//!   right granted now is in effect from the next logon (MODEL.md s5, from
//!   the seed article on large pages and the privilege).
//! - **A held privilege is disabled until enabled.** A process enables it
//!   with `AdjustTokenPrivileges`.
//! - **`AdjustTokenPrivileges` succeeds when it fails.** It enables only
//!   privileges the token holds; asked for one it does not hold, it still
//!   returns TRUE, and `GetLastError()` says 1300 ERROR_NOT_ALL_ASSIGNED
//!   (Docs, AdjustTokenPrivileges; MODEL.md s5; Wine 8 does the same, s9).
//!
//! The model has one account, whose processes all run in its current
//! logon session: [`Security`] holds the account's rights and the rights
//! of the session, [`Token`] a process's copy.

use serde::Serialize;

/// A privilege the model knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Privilege {
    /// SeLockMemoryPrivilege, the "Lock pages in memory" user right: needed
    /// for large pages and AWE (MODEL.md s5, s6).
    LockMemory,
}

impl Privilege {
    /// Every privilege, in the order lists show them.
    pub const ALL: [Privilege; 1] = [Privilege::LockMemory];

    /// The privilege's name as Windows spells it (`SE_LOCK_MEMORY_NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Privilege::LockMemory => "SeLockMemoryPrivilege",
        }
    }

    /// The user right that grants it, as Local Security Policy names it.
    pub fn right(self) -> &'static str {
        match self {
            Privilege::LockMemory => "Lock pages in memory",
        }
    }

    /// Parses a privilege name.
    pub fn parse(s: &str) -> Option<Privilege> {
        Privilege::ALL.into_iter().find(|p| p.name() == s)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of privileges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct PrivilegeSet(u8);

impl PrivilegeSet {
    /// Whether `p` is in the set.
    pub fn contains(self, p: Privilege) -> bool {
        self.0 & p.bit() != 0
    }

    /// Adds `p`; whether it was new.
    pub fn insert(&mut self, p: Privilege) -> bool {
        let new = !self.contains(p);
        self.0 |= p.bit();
        new
    }

    /// Removes `p`.
    pub fn remove(&mut self, p: Privilege) {
        self.0 &= !p.bit();
    }

    /// Whether `self` holds every privilege of `other`.
    pub fn includes(self, other: PrivilegeSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// The privileges in the set, in [`Privilege::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Privilege> {
        Privilege::ALL.into_iter().filter(move |&p| self.contains(p))
    }
}

/// A process's access token: the privileges it holds (the account's rights
/// at the logon it belongs to) and those of them enabled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Token {
    /// The logon session the token was built for (1 is the first).
    pub logon: u32,
    /// Privileges held.
    pub held: PrivilegeSet,
    /// Privileges enabled (always a subset of `held`).
    pub enabled: PrivilegeSet,
}

/// What `AdjustTokenPrivileges` did. It returns TRUE either way; the
/// difference is in `GetLastError()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjusted {
    /// Every privilege asked for was changed: last error 0.
    AllAssigned,
    /// A privilege asked for is not held, so it was not enabled: last
    /// error 1300 ERROR_NOT_ALL_ASSIGNED.
    NotAllAssigned,
}

impl Token {
    /// `AdjustTokenPrivileges` for one privilege: enables it if the token
    /// holds it, disables it either way.
    pub fn adjust(&mut self, p: Privilege, enable: bool) -> Adjusted {
        if !enable {
            self.enabled.remove(p);
            return Adjusted::AllAssigned;
        }
        if self.held.contains(p) {
            self.enabled.insert(p);
            Adjusted::AllAssigned
        } else {
            Adjusted::NotAllAssigned
        }
    }

    /// Whether `p` is held and enabled: what an operation that needs it
    /// checks.
    pub fn has_enabled(&self, p: Privilege) -> bool {
        self.enabled.contains(p)
    }
}

/// The machine's security state: the rights policy grants the account, and
/// the current logon session with the rights it began with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Security {
    /// Rights granted to the account by policy, now.
    pub granted: PrivilegeSet,
    /// The current logon session (1 is the first).
    pub logon: u32,
    /// The account's rights when the current session logged on: what the
    /// tokens of its processes hold.
    pub session: PrivilegeSet,
}

impl Default for Security {
    fn default() -> Self {
        Security { granted: PrivilegeSet::default(), logon: 1, session: PrivilegeSet::default() }
    }
}

impl Security {
    /// Grants a right to the account; whether it was new. Running
    /// processes and the current session are unchanged.
    pub fn grant(&mut self, p: Privilege) -> bool {
        self.granted.insert(p)
    }

    /// The account logs on again: a new session whose tokens hold the
    /// rights granted by now.
    pub fn logon(&mut self) {
        self.logon += 1;
        self.session = self.granted;
    }

    /// The token of a process started now: the session's rights, none
    /// enabled.
    pub fn new_token(&self) -> Token {
        Token { logon: self.logon, held: self.session, enabled: PrivilegeSet::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjusting_a_privilege_not_held_is_not_all_assigned_and_enables_nothing() {
        let mut t = Security::default().new_token();
        assert_eq!(t.adjust(Privilege::LockMemory, true), Adjusted::NotAllAssigned);
        assert!(!t.has_enabled(Privilege::LockMemory));
    }

    #[test]
    fn a_grant_takes_effect_at_the_next_logon_only() {
        let mut s = Security::default();
        let before = s.new_token();
        assert!(s.grant(Privilege::LockMemory));
        assert!(!s.grant(Privilege::LockMemory), "granted once");
        // Same session: a process started now still lacks it.
        let same = s.new_token();
        assert!(!same.held.contains(Privilege::LockMemory));
        s.logon();
        let mut after = s.new_token();
        assert_eq!(after.logon, 2);
        assert!(!before.held.contains(Privilege::LockMemory));
        assert_eq!(after.adjust(Privilege::LockMemory, true), Adjusted::AllAssigned);
        assert!(after.has_enabled(Privilege::LockMemory));
        assert_eq!(after.adjust(Privilege::LockMemory, false), Adjusted::AllAssigned);
        assert!(!after.has_enabled(Privilege::LockMemory) && after.held.contains(Privilege::LockMemory));
    }

    #[test]
    fn privilege_names_round_trip() {
        for p in Privilege::ALL {
            assert_eq!(Privilege::parse(p.name()), Some(p));
        }
        assert_eq!(Privilege::parse("SeLockMemory"), None);
    }
}
