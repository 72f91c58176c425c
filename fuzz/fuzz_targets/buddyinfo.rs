//! The buddyinfo reader of `pagelab fragmentation` on arbitrary text: no
//! panic; an error points inside the input; a text that reads gives
//! indices within the ranges Linux's give, for every zone and the sum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagelab::fragmentation::{FreeBlocks, Order};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match FreeBlocks::from_buddyinfo(text) {
        Err(e) => {
            let lines = text.lines().count().max(1) as u64;
            assert!(e.line >= 1 && e.line <= lines + 1, "{e} outside {lines} lines");
            assert!(e.col >= 1 && !e.message.is_empty(), "{e}");
        }
        Ok(info) => {
            let all = info.zones.iter().map(|z| &z.blocks).chain(std::iter::once(&info.total));
            for blocks in all {
                let _ = blocks.figures();
                for k in 0..=12 {
                    let Some(k) = Order::try_new(k) else { continue };
                    let u = blocks.unusable_index(k).0;
                    let x = blocks.extfrag_index(k).0;
                    assert!((0..=1000).contains(&u), "unusable {u} at order {k:?}");
                    assert!((-1000..=1000).contains(&x), "extfrag {x} at order {k:?}");
                }
            }
        }
    }
});
