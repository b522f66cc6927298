//! The global in-flight-bytes budget: every buffer of upload bytes the gateway holds is covered by
//! permits from one semaphore, so memory stays bounded however many uploads run at once, and a
//! full budget applies backpressure (the next reader waits) instead of growing the heap.
//!
//! Permits are counted in blocks of [`Budget::block_size`] bytes so a large budget fits the
//! semaphore's `u32` permit counts. The peak of reserved bytes is kept for `/metrics` and the
//! memory benchmarks (DESIGN §7).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default block size: 64 KiB.
pub const DEFAULT_BLOCK: u64 = 64 * 1024;

/// A shared, cloneable budget of in-flight bytes.
#[derive(Clone, Debug)]
pub struct Budget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    semaphore: Arc<Semaphore>,
    block: u64,
    blocks: u32,
    in_use: AtomicU64,
    peak: AtomicU64,
    /// Whole-chunk buffers given back, kept for the next chunk (at most the budget's size in
    /// all): the same few buffers serve every chunk, so the allocator never sees multi-MiB
    /// buffers come and go from many threads, which left freed ones resident (glibc arenas,
    /// mimalloc segments alike) and took 50 concurrent JS uploads to 2.4× the budget.
    spare: parking_lot::Mutex<Vec<Vec<u8>>>,
}

/// Buffers smaller than this are not kept for reuse (a small file's or a tail's).
const SPARE_MIN: usize = 1024 * 1024;

/// Bytes reserved from a [`Budget`]; released when dropped.
#[derive(Debug)]
pub struct BudgetPermit {
    permit: OwnedSemaphorePermit,
    inner: Arc<Inner>,
    bytes: u64,
}

/// Why a reservation could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// More than the whole budget was asked for: it could never be granted.
    #[error("{requested} bytes exceed the whole in-flight budget of {capacity} bytes")]
    ExceedsCapacity {
        /// Bytes asked for.
        requested: u64,
        /// The budget's size.
        capacity: u64,
    },
    /// The budget was closed (shutdown).
    #[error("the in-flight budget is closed")]
    Closed,
}

impl Budget {
    /// A budget of `total` bytes (rounded down to whole blocks, at least one) in `block`-byte
    /// permits.
    pub fn new(total: u64, block: u64) -> Self {
        let block = block.max(1);
        let blocks = u32::try_from((total / block).max(1))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Self {
            inner: Arc::new(Inner {
                semaphore: Arc::new(Semaphore::new(blocks as usize)),
                block,
                blocks,
                in_use: AtomicU64::new(0),
                peak: AtomicU64::new(0),
                spare: parking_lot::Mutex::new(Vec::new()),
            }),
        }
    }

    /// Reserves room for `bytes`, waiting while the budget is full.
    pub async fn acquire(&self, bytes: u64) -> Result<BudgetPermit, BudgetError> {
        let blocks = bytes.div_ceil(self.inner.block).max(1);
        if blocks > u64::from(self.inner.blocks) {
            return Err(BudgetError::ExceedsCapacity {
                requested: bytes,
                capacity: self.capacity(),
            });
        }
        let permit = Arc::clone(&self.inner.semaphore)
            .acquire_many_owned(blocks as u32)
            .await
            .map_err(|_| BudgetError::Closed)?;
        Ok(self.grant(permit, blocks))
    }

    /// Reserves room for `bytes` only if it is free right now: admission control for requests
    /// that should be told to come back later (429) rather than wait holding a connection.
    /// `None` when the budget is full (or closed, or smaller than `bytes`).
    pub fn try_acquire(&self, bytes: u64) -> Option<BudgetPermit> {
        let blocks = bytes.div_ceil(self.inner.block).max(1);
        let count = u32::try_from(blocks).ok()?;
        let permit = Arc::clone(&self.inner.semaphore)
            .try_acquire_many_owned(count)
            .ok()?;
        Some(self.grant(permit, blocks))
    }

    fn grant(&self, permit: OwnedSemaphorePermit, blocks: u64) -> BudgetPermit {
        let reserved = blocks * self.inner.block;
        let now = self.inner.in_use.fetch_add(reserved, Ordering::AcqRel) + reserved;
        self.inner.peak.fetch_max(now, Ordering::AcqRel);
        BudgetPermit {
            permit,
            inner: Arc::clone(&self.inner),
            bytes: reserved,
        }
    }

    /// Closes the budget: waiting and future reservations fail with [`BudgetError::Closed`].
    pub fn close(&self) {
        self.inner.semaphore.close();
    }

    /// The budget's size in bytes.
    pub fn capacity(&self) -> u64 {
        u64::from(self.inner.blocks) * self.inner.block
    }

    /// The permit granularity in bytes.
    pub fn block_size(&self) -> u64 {
        self.inner.block
    }

    /// Bytes reserved right now.
    pub fn in_use(&self) -> u64 {
        self.inner.in_use.load(Ordering::Acquire)
    }

    /// The most bytes ever reserved at once.
    pub fn peak(&self) -> u64 {
        self.inner.peak.load(Ordering::Acquire)
    }

    /// An empty buffer for `capacity` bytes: a spare one given back by [`Budget::freeze`] when
    /// one fits (at most twice as large), else a new one. Reserve its bytes first.
    pub fn buffer(&self, capacity: usize) -> Vec<u8> {
        if capacity >= SPARE_MIN {
            let mut spare = self.inner.spare.lock();
            let fits =
                |b: &Vec<u8>| (capacity..=capacity.saturating_mul(2)).contains(&b.capacity());
            if let Some(i) = spare.iter().position(fits) {
                return spare.swap_remove(i);
            }
            // None fits (they are another path's size): free spares until spare and reserved
            // bytes (this buffer's reservation included) fit in the budget again.
            let reserved = usize::try_from(self.in_use()).unwrap_or(usize::MAX);
            let room = usize::try_from(self.capacity()).unwrap_or(usize::MAX);
            let mut kept: usize = spare.iter().map(Vec::capacity).sum();
            while kept.saturating_add(reserved) > room {
                let Some(freed) = spare.pop() else { break };
                kept -= freed.capacity();
            }
        }
        Vec::with_capacity(capacity)
    }

    /// `buf` as [`Bytes`] holding `permit`: when the last clone is dropped (also one still
    /// queued in an HTTP client) the buffer is kept for [`Budget::buffer`] (while spare and
    /// reserved bytes together fit in the budget) and the permit released.
    pub fn freeze(&self, buf: Vec<u8>, permit: BudgetPermit) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            _permit: permit,
            budget: self.clone(),
        })
    }

    /// Keeps `buf` for [`Budget::buffer`] (when it is large enough and the spares have room).
    pub fn recycle(&self, mut buf: Vec<u8>) {
        if buf.capacity() < SPARE_MIN {
            return;
        }
        buf.clear();
        let mut spare = self.inner.spare.lock();
        let kept: usize = spare.iter().map(Vec::capacity).sum();
        // Spare and reserved bytes together stay within the budget (`in_use` still counts the
        // reservation of the buffer coming back, so it is not counted twice).
        let reserved = usize::try_from(self.in_use()).unwrap_or(usize::MAX);
        let room = usize::try_from(self.capacity()).unwrap_or(usize::MAX);
        if kept.saturating_add(reserved.max(buf.capacity())) <= room {
            spare.push(buf);
        }
    }

    /// Bytes of spare buffers kept for reuse.
    pub fn spare_bytes(&self) -> usize {
        self.inner.spare.lock().iter().map(Vec::capacity).sum()
    }
}

/// A buffer lent out as [`Bytes`] by [`Budget::freeze`].
struct Pooled {
    buf: Vec<u8>,
    _permit: BudgetPermit,
    budget: Budget,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.budget.recycle(std::mem::take(&mut self.buf));
    }
}

impl BudgetPermit {
    /// Bytes this permit reserves (whole blocks).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Gives back what is reserved beyond `bytes` (rounded up to whole blocks): a small file
    /// read whole holds only its own size while it waits to go upstream, not a whole part.
    pub fn shrink_to(&mut self, bytes: u64) {
        let keep = bytes.div_ceil(self.inner.block).max(1);
        let held = self.bytes / self.inner.block;
        if keep >= held {
            return;
        }
        let extra = usize::try_from(held - keep).unwrap_or(0);
        if let Some(released) = self.permit.split(extra) {
            drop(released);
            let freed = (held - keep) * self.inner.block;
            self.inner.in_use.fetch_sub(freed, Ordering::AcqRel);
            self.bytes -= freed;
        }
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        self.inner.in_use.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_frozen_buffer_holds_its_permit_and_comes_back_for_the_next_chunk() {
        const MIB: usize = 1024 * 1024;
        let budget = Budget::new(4 * MIB as u64, DEFAULT_BLOCK);
        let permit = budget.acquire(2 * MIB as u64).await.expect("permit");
        let mut buf = budget.buffer(2 * MIB);
        buf.extend_from_slice(&vec![5u8; 2 * MIB]);
        let at = buf.as_ptr();
        let bytes = budget.freeze(buf, permit);
        let clone = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(budget.in_use(), 2 * MIB as u64, "a clone still holds it");
        assert_eq!(clone[..], [5u8; 10]);
        drop(clone);
        assert_eq!(budget.in_use(), 0);
        assert_eq!(budget.spare_bytes(), 2 * MIB);
        let again = budget.buffer(2 * MIB);
        assert_eq!(
            (again.as_ptr(), again.len()),
            (at, 0),
            "the same buffer, emptied"
        );
        // Never more spare than the budget's size.
        for _ in 0..4 {
            let permit = budget.acquire(MIB as u64).await.expect("permit");
            drop(budget.freeze(vec![0u8; 3 * MIB], permit));
        }
        assert!(budget.spare_bytes() <= 4 * MIB, "{}", budget.spare_bytes());
        // A buffer of another size frees spares rather than adding to them.
        let permit = budget.acquire(2 * MIB as u64).await.expect("permit");
        let other = budget.buffer(MIB * 5 / 4);
        assert!(
            budget.spare_bytes() + budget.in_use() as usize <= 4 * MIB,
            "{} spare",
            budget.spare_bytes()
        );
        drop((other, permit));
    }

    #[tokio::test]
    async fn a_shrunk_permit_gives_back_the_rest_at_once() {
        let budget = Budget::new(4 * 1024, 1024);
        let mut permit = budget.acquire(4 * 1024).await.expect("permit");
        permit.shrink_to(1500);
        assert_eq!(permit.bytes(), 2048);
        assert_eq!(budget.in_use(), 2048);
        assert!(budget.try_acquire(2048).is_some());
        drop(permit);
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn permits_count_whole_blocks_and_release_on_drop() {
        let budget = Budget::new(1024, 256);
        let a = budget.acquire(300).await.expect("fits");
        assert_eq!(a.bytes(), 512);
        assert_eq!(budget.in_use(), 512);
        drop(a);
        assert_eq!(budget.in_use(), 0);
        assert_eq!(budget.peak(), 512);
    }

    #[tokio::test]
    async fn a_full_budget_makes_the_next_reader_wait() {
        let budget = Budget::new(1024, 256);
        let held = budget.acquire(1024).await.expect("all of it");
        let waiting = tokio::time::timeout(Duration::from_millis(50), budget.acquire(1)).await;
        assert!(waiting.is_err(), "should wait while the budget is full");
        let b2 = budget.clone();
        let later = tokio::spawn(async move { b2.acquire(256).await.map(|p| p.bytes()) });
        drop(held);
        assert_eq!(later.await.expect("join"), Ok(256));
        assert_eq!(budget.peak(), 1024);
    }

    #[tokio::test]
    async fn asking_for_more_than_the_whole_budget_fails_at_once() {
        let budget = Budget::new(1024, 256);
        assert_eq!(
            budget.acquire(2048).await.map(|p| p.bytes()),
            Err(BudgetError::ExceedsCapacity {
                requested: 2048,
                capacity: 1024
            })
        );
    }

    #[tokio::test]
    async fn try_acquire_refuses_at_once_when_full_instead_of_waiting() {
        let budget = Budget::new(1024, 256);
        let held = budget.try_acquire(768).expect("free");
        assert!(budget.try_acquire(512).is_none());
        let rest = budget.try_acquire(256).expect("exactly what is left");
        drop((held, rest));
        assert_eq!(budget.in_use(), 0);
        assert!(budget.try_acquire(4096).is_none());
    }

    #[tokio::test]
    async fn closing_fails_new_reservations() {
        let budget = Budget::new(1024, 256);
        budget.close();
        assert_eq!(
            budget.acquire(1).await.map(|p| p.bytes()),
            Err(BudgetError::Closed)
        );
    }
}
