//! Win32 error codes the model returns, with their sources.

use serde::Serialize;
use std::fmt;

/// A Win32 error code, as GetLastError would report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Win32Error {
    /// 8 ERROR_NOT_ENOUGH_MEMORY: no free address range large enough
    /// (STATUS_NO_MEMORY from NtAllocateVirtualMemory; WRK `allocvm.c`).
    NotEnoughMemory,
    /// 50 ERROR_NOT_SUPPORTED (MODEL.md s5: no large-page support).
    NotSupported,
    /// 87 ERROR_INVALID_PARAMETER.
    InvalidParameter,
    /// 158 ERROR_NOT_LOCKED: VirtualUnlock of a page not locked (WRK
    /// `lockvm.c` STATUS_NOT_LOCKED).
    NotLocked,
    /// 487 ERROR_INVALID_ADDRESS: the range is not (or already) reserved.
    InvalidAddress,
    /// 1132 ERROR_MAPPED_ALIGNMENT: a view's base address is not a multiple
    /// of the allocation granularity (Docs, MapViewOfFileEx; WRK `mapview.c`
    /// STATUS_MAPPED_ALIGNMENT).
    MappedAlignment,
    /// 1300 ERROR_NOT_ALL_ASSIGNED (AdjustTokenPrivileges, MODEL.md s5).
    NotAllAssigned,
    /// 1314 ERROR_PRIVILEGE_NOT_HELD (MODEL.md s5).
    PrivilegeNotHeld,
    /// 1450 ERROR_NO_SYSTEM_RESOURCES (MODEL.md s5).
    NoSystemResources,
    /// 1453 ERROR_WORKING_SET_QUOTA: VirtualLock beyond the working-set
    /// minimum (WRK `lockvm.c` STATUS_WORKING_SET_QUOTA).
    WorkingSetQuota,
    /// 1455 ERROR_COMMITMENT_LIMIT: the commit charge would pass the limit.
    CommitmentLimit,
    /// 998 ERROR_NOACCESS: a page VirtualLock touches cannot be accessed
    /// (WRK `lockvm.c`: STATUS_ACCESS_VIOLATION).
    NoAccess,
}

impl Win32Error {
    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            Win32Error::NotEnoughMemory => 8,
            Win32Error::NotSupported => 50,
            Win32Error::InvalidParameter => 87,
            Win32Error::NotLocked => 158,
            Win32Error::InvalidAddress => 487,
            Win32Error::MappedAlignment => 1132,
            Win32Error::NotAllAssigned => 1300,
            Win32Error::PrivilegeNotHeld => 1314,
            Win32Error::NoSystemResources => 1450,
            Win32Error::WorkingSetQuota => 1453,
            Win32Error::CommitmentLimit => 1455,
            Win32Error::NoAccess => 998,
        }
    }

    /// The symbolic name.
    pub fn name(self) -> &'static str {
        match self {
            Win32Error::NotEnoughMemory => "ERROR_NOT_ENOUGH_MEMORY",
            Win32Error::NotSupported => "ERROR_NOT_SUPPORTED",
            Win32Error::InvalidParameter => "ERROR_INVALID_PARAMETER",
            Win32Error::NotLocked => "ERROR_NOT_LOCKED",
            Win32Error::InvalidAddress => "ERROR_INVALID_ADDRESS",
            Win32Error::MappedAlignment => "ERROR_MAPPED_ALIGNMENT",
            Win32Error::NotAllAssigned => "ERROR_NOT_ALL_ASSIGNED",
            Win32Error::PrivilegeNotHeld => "ERROR_PRIVILEGE_NOT_HELD",
            Win32Error::NoSystemResources => "ERROR_NO_SYSTEM_RESOURCES",
            Win32Error::WorkingSetQuota => "ERROR_WORKING_SET_QUOTA",
            Win32Error::CommitmentLimit => "ERROR_COMMITMENT_LIMIT",
            Win32Error::NoAccess => "ERROR_NOACCESS",
        }
    }

    /// Every code, for parsing scenario expectations.
    pub const ALL: [Win32Error; 12] = [
        Win32Error::NotEnoughMemory,
        Win32Error::NotSupported,
        Win32Error::InvalidParameter,
        Win32Error::NotLocked,
        Win32Error::InvalidAddress,
        Win32Error::MappedAlignment,
        Win32Error::NotAllAssigned,
        Win32Error::PrivilegeNotHeld,
        Win32Error::NoSystemResources,
        Win32Error::WorkingSetQuota,
        Win32Error::CommitmentLimit,
        Win32Error::NoAccess,
    ];
}

impl fmt::Display for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}
