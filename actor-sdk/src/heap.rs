//! The global allocator of `wasm32` actors: a small stack-like arena in
//! front of the standard allocator.
//!
//! A fresh instance of a Rust guest has a gap between the end of its static
//! data (`__heap_base`) and the end of its initial linear memory, which the
//! standard allocator (dlmalloc) never uses: its first allocation grows the
//! memory instead and writes to the first *and* the last 4 KiB page of the
//! new 64 KiB wasm page. For a small actor those two pages plus the
//! `memory.grow` are a large share of what an activation costs.
//!
//! [`ActorHeap`] serves allocations from that gap first, right after the
//! static data, so the few hundred bytes an activation and a typical call
//! allocate share pages the instance touches anyway. Blocks are carved off
//! the top like a stack and carry a footer (their span and a freed bit);
//! freeing the topmost block releases it and every freed block below it, so
//! the memory of a call is reclaimed once the call has freed it all, in any
//! order. A block freed below a live one waits until the blocks above it are
//! freed. Anything that does not fit — large or long-lived-and-fragmented
//! allocations, or everything once the arena is full — goes to the standard
//! allocator, so the arena never costs more than its fixed size
//! ([`ARENA_MAX`]) and never fails an allocation the standard allocator
//! would have served.
//!
//! `wasm32` without the `atomics` feature is single-threaded, which is what
//! makes the unsynchronised `Cell`s sound.

// A global allocator hands out raw memory: this module is the one place of
// the SDK that needs `unsafe` for it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Largest arena, in bytes. The arena is further bounded by the end of the
/// initial linear memory (the next 64 KiB boundary after `__heap_base`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const ARENA_MAX: usize = 16 << 10;

/// The wasm page size.
#[cfg(target_arch = "wasm32")]
const WASM_PAGE: usize = 64 << 10;

/// Blocks (and their footers) are aligned to a `usize`.
const WORD: usize = size_of::<usize>();

/// Footer bit marking a freed block (spans are multiples of [`WORD`]).
const FREED: usize = 1;

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    /// End of the static data, provided by the linker (`wasm-ld`).
    static __heap_base: u8;
}

/// The arena of this instance: from `__heap_base` to the end of the initial
/// memory (the first wasm page boundary at or after it; the standard
/// allocator only uses memory it grows beyond that), at most [`ARENA_MAX`].
#[cfg(target_arch = "wasm32")]
fn arena() -> (usize, usize) {
    let heap_base = (&raw const __heap_base) as usize;
    let end = heap_base.next_multiple_of(WASM_PAGE);
    let start = heap_base.next_multiple_of(WORD).min(end);
    (start, end.min(start.saturating_add(ARENA_MAX)))
}

/// Native builds (the unit tests) give the arena a region explicitly.
#[cfg(not(target_arch = "wasm32"))]
fn arena() -> (usize, usize) {
    (0, 0)
}

/// The arena allocator; see the module documentation.
pub(crate) struct ActorHeap {
    /// Start of the arena; 0 until the first allocation.
    base: Cell<usize>,
    /// End of the topmost block (the next free byte).
    top: Cell<usize>,
    /// End of the arena.
    end: Cell<usize>,
}

// SAFETY: only for single-threaded wasm32 (no `atomics`), where no two
// threads can ever share the allocator.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for ActorHeap {}

impl ActorHeap {
    pub(crate) const fn new() -> Self {
        Self {
            base: Cell::new(0),
            top: Cell::new(0),
            end: Cell::new(0),
        }
    }

    /// Sets the arena up on first use.
    fn init(&self) {
        if self.base.get() == 0 {
            let (start, end) = arena();
            self.set_region(start, end);
        }
    }

    /// Uses `start..end` (word-aligned, unused by anything else) as the arena.
    fn set_region(&self, start: usize, end: usize) {
        self.base.set(start);
        self.top.set(start);
        self.end.set(end.max(start));
    }

    fn owns(&self, ptr: *mut u8) -> bool {
        let addr = ptr as usize;
        addr >= self.base.get() && addr < self.end.get()
    }

    /// Carves a block for `layout` off the top, or `None` when it does not fit.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        self.init();
        let top = self.top.get();
        let start = top.checked_next_multiple_of(layout.align().max(WORD))?;
        let footer = start.checked_add(layout.size().checked_next_multiple_of(WORD)?)?;
        let block_end = footer.checked_add(WORD)?;
        if block_end > self.end.get() {
            return None;
        }
        // SAFETY: `footer..block_end` lies in the arena (checked above),
        // which is in bounds of the linear memory and used by nobody else.
        unsafe { (footer as *mut usize).write(block_end - top) };
        self.top.set(block_end);
        Some(start as *mut u8)
    }

    /// Marks the block at `ptr` (of `size` bytes) freed, then pops freed
    /// blocks off the top.
    ///
    /// # Safety
    /// `ptr` and `size` must describe a live block of this arena.
    unsafe fn free(&self, ptr: *mut u8, size: usize) {
        let footer = (ptr as usize + size.next_multiple_of(WORD)) as *mut usize;
        // SAFETY: the footer of a live block (caller's contract).
        unsafe { *footer |= FREED };
        let base = self.base.get();
        let mut top = self.top.get();
        while top > base {
            // SAFETY: `top` is the end of a block, whose footer precedes it.
            let word = unsafe { *((top - WORD) as *const usize) };
            if word & FREED == 0 {
                break;
            }
            top -= word & !FREED;
        }
        self.top.set(top);
    }

    /// Resizes the topmost block in place when it is `ptr` and the new size
    /// fits; returns whether it did.
    ///
    /// # Safety
    /// `ptr` and `old_size` must describe a live block of this arena.
    unsafe fn resize_top(&self, ptr: *mut u8, old_size: usize, new_size: usize) -> bool {
        let top = self.top.get();
        let footer = ptr as usize + old_size.next_multiple_of(WORD);
        if footer + WORD != top {
            return false;
        }
        let Some(new_footer) = new_size
            .checked_next_multiple_of(WORD)
            .and_then(|n| (ptr as usize).checked_add(n))
        else {
            return false;
        };
        let new_end = new_footer + WORD;
        if new_end > self.end.get() {
            return false;
        }
        // SAFETY: the footer of the live topmost block (caller's contract).
        let span = unsafe { *(footer as *const usize) };
        let block_start = top - span;
        // SAFETY: `new_footer..new_end` is in the arena (checked above).
        unsafe { (new_footer as *mut usize).write(new_end - block_start) };
        self.top.set(new_end);
        true
    }
}

// SAFETY: blocks never overlap (each is carved above the previous top and
// released only once freed), are aligned as requested, and lie in memory
// that nothing else uses; everything else is the standard allocator's.
unsafe impl GlobalAlloc for ActorHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: forwarded with the caller's valid layout.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => {
                // SAFETY: a fresh block of `layout.size()` bytes.
                unsafe { ptr.write_bytes(0, layout.size()) };
                ptr
            }
            // SAFETY: as `alloc`; dlmalloc knows fresh memory is zeroed.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.owns(ptr) {
            // SAFETY: a live block of ours (caller's contract).
            unsafe { self.free(ptr, layout.size()) }
        } else {
            // SAFETY: it came from `System` (caller's contract).
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(ptr) {
            // SAFETY: it came from `System` (caller's contract).
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: a live block of ours (caller's contract).
        if unsafe { self.resize_top(ptr, layout.size(), new_size) } {
            return ptr;
        }
        // SAFETY: `new_size` with `layout`'s alignment is valid (caller's
        // contract for `realloc`).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid, non-zero-sized layout.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct and at least this long.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.free(ptr, layout.size());
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heap over a leaked, word-aligned buffer of `len` bytes.
    fn heap(len: usize) -> (ActorHeap, usize, usize) {
        let buf: &'static mut [usize] = Vec::leak(vec![0; len / WORD]);
        let start = buf.as_mut_ptr() as usize;
        let heap = ActorHeap::new();
        heap.set_region(start, start + len);
        (heap, start, start + len)
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn frees_in_any_order_return_the_arena() {
        let (h, start, end) = heap(1024);
        unsafe {
            let a = h.alloc(layout(10, 1));
            let b = h.alloc(layout(3, 2));
            let c = h.alloc(layout(24, 8));
            for p in [a, b, c] {
                assert!((start..end).contains(&(p as usize)));
            }
            assert!(a < b && b < c);
            h.dealloc(a, layout(10, 1));
            h.dealloc(c, layout(24, 8));
            assert!(h.top.get() > start, "`b` is still live");
            let d = h.alloc(layout(5, 1));
            assert_eq!(d, c, "the top is reused at once");
            h.dealloc(d, layout(5, 1));
            h.dealloc(b, layout(3, 2));
            assert_eq!(h.top.get(), start, "all freed: the arena is empty again");
        }
    }

    #[test]
    fn alignment_is_honoured() {
        let (h, _, _) = heap(4096);
        unsafe {
            for align in [1, 2, 4, 8, 16, 64, 256] {
                let p = h.alloc(layout(1, align));
                assert_eq!(p as usize % align, 0, "align {align}");
                p.write(0xAB);
            }
        }
    }

    #[test]
    fn what_does_not_fit_goes_to_the_system_allocator() {
        let (h, start, end) = heap(256);
        unsafe {
            let big = h.alloc(layout(1000, 4));
            assert!(!(start..end).contains(&(big as usize)));
            big.write_bytes(7, 1000);
            let small = h.alloc(layout(200, 4));
            assert!((start..end).contains(&(small as usize)));
            let overflow = h.alloc(layout(200, 4));
            assert!(!(start..end).contains(&(overflow as usize)), "arena full");
            let zeroed = h.alloc_zeroed(layout(100, 8));
            assert!(
                std::slice::from_raw_parts(zeroed, 100)
                    .iter()
                    .all(|&b| b == 0)
            );
            h.dealloc(zeroed, layout(100, 8));
            h.dealloc(overflow, layout(200, 4));
            h.dealloc(big, layout(1000, 4));
            h.dealloc(small, layout(200, 4));
            assert_eq!(h.top.get(), start);
        }
    }

    #[test]
    fn realloc_grows_the_top_in_place_and_moves_the_rest() {
        let (h, start, end) = heap(1024);
        unsafe {
            let a = h.alloc(layout(8, 4));
            a.copy_from_nonoverlapping(b"abcdefgh".as_ptr(), 8);
            let a2 = h.realloc(a, layout(8, 4), 100);
            assert_eq!(a2, a, "the top block grows in place");
            let b = h.alloc(layout(4, 4));
            let a3 = h.realloc(a2, layout(100, 4), 200);
            assert_ne!(a3, a2, "a block below another one moves");
            assert_eq!(std::slice::from_raw_parts(a3, 8), b"abcdefgh");
            let a4 = h.realloc(a3, layout(200, 4), 2000);
            assert!(!(start..end).contains(&(a4 as usize)), "too big: moved out");
            assert_eq!(std::slice::from_raw_parts(a4, 8), b"abcdefgh");
            h.dealloc(b, layout(4, 4));
            assert_eq!(h.top.get(), start);
            h.dealloc(a4, layout(2000, 4));
        }
    }

    #[test]
    fn random_workload_keeps_blocks_intact() {
        let (h, start, _) = heap(4096);
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        // (pointer, layout, fill byte)
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let check = |(p, l, fill): &(*mut u8, Layout, u8)| unsafe {
            assert!(
                std::slice::from_raw_parts(*p, l.size())
                    .iter()
                    .all(|b| b == fill)
            );
        };
        for round in 0..20_000 {
            let fill = u8::try_from(round % 251).unwrap();
            match next(3) {
                0 | 1 if live.len() < 64 => {
                    let l = layout(1 + next(300), 1 << next(5));
                    let p = unsafe { h.alloc(l) };
                    assert_eq!(p as usize % l.align(), 0);
                    unsafe { p.write_bytes(fill, l.size()) };
                    live.push((p, l, fill));
                }
                2 if !live.is_empty() => {
                    let i = next(live.len());
                    let (p, l, old) = live[i];
                    check(&live[i]);
                    let new_size = 1 + next(400);
                    let q = unsafe { h.realloc(p, l, new_size) };
                    let keep = l.size().min(new_size);
                    assert!(
                        unsafe { std::slice::from_raw_parts(q, keep) }
                            .iter()
                            .all(|&b| b == old)
                    );
                    let l = layout(new_size, l.align());
                    unsafe { q.write_bytes(fill, new_size) };
                    live[i] = (q, l, fill);
                }
                _ if !live.is_empty() => {
                    let (p, l, fill) = live.swap_remove(next(live.len()));
                    check(&(p, l, fill));
                    unsafe { h.dealloc(p, l) };
                }
                _ => {}
            }
        }
        for entry in live.drain(..) {
            check(&entry);
            unsafe { h.dealloc(entry.0, entry.1) };
        }
        assert_eq!(h.top.get(), start, "everything freed: the arena is empty");
    }
}
