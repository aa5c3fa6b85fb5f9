#pragma once
// Slab: one shard's entries, packed by size class into pages. Not synchronised: the shard lock guards it.
//
// Size classes step by 8 bytes up to 256 and by 1/16 of a power of two beyond (272, 288 ... 2048): 78
// classes, so an entry's slot wastes under 8 bytes, or under 6.25% when larger. Each class of each shard
// is a dense array of slots over a stack of pages: every page but the last is full, and freeing a slot
// moves the class's last entry into it (entries are relocatable, store/entry.h; the store points the
// moved entry's table slot at its new place). So no page is ever left sparse by deletes, there is no free
// list to search, and the only partly filled page of a class is its last one, freed once it empties.
//
// Pages are malloc'd. A class's first page holds about 256 bytes of slots, each next one twice its
// predecessor, up to what fits a 4096-byte malloc chunk (the 16-byte page header included): a class used
// by few entries costs little, a busy one costs one page header and malloc chunk header (16 + 8 bytes, and
// rounding) per 4 KiB. A page's charge is its whole malloc chunk (heap_chunk_bytes).
//
// The unused part of the partly filled pages is at most one page per class and shard, charged like every
// page: bounded by 4 KiB times 78 classes times the shards (20 MiB at 64 shards), reached only by a store
// holding entries of every class in every shard. While a class of a shard is small its pages still
// double, so its last page may be mostly empty: with 94 entries of one class per shard, 25 of the 75
// bytes charged per entry are unused slots and page headers; from a few hundred per shard on, about 1.
//
// A page is allocated before the shard lock when prepare() predicts it (a guess from relaxed reads) and
// under the lock only when the guess was wrong; an emptied page is handed back to be freed after the lock.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace store {

// What glibc's malloc takes on a 64-bit system for a request of `n` bytes (below its mmap threshold): the
// request and the chunk's 8-byte size field, rounded up to 16, at least 32. The store charges its blocks
// by it.
constexpr std::size_t heap_chunk_bytes(std::size_t n) noexcept {
  const std::size_t chunk = (n + 8 + 15) & ~std::size_t{15};
  return chunk < 32 ? 32 : chunk;
}

class SizeClasses {
 public:
  static constexpr std::size_t kCount = 78;
  // The class of an entry of `bytes` (1..kMaxEntryBytes).
  static std::size_t of(std::size_t bytes) noexcept;
  static std::size_t bytes(std::size_t size_class) noexcept;
};

struct Page;
struct PageFree {
  void operator()(Page* page) const noexcept;
};
using PagePtr = std::unique_ptr<Page, PageFree>;

class Slab {
 public:
  static constexpr std::size_t kPageHeaderBytes = 16;
  static constexpr std::size_t kPageChunkBytes = 4096;

  Slab() noexcept = default;
  ~Slab();  // frees the pages; the owner has retired the entries' large values
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  // Without the lock: the page the next allocation in `size_class` will need, or none (also when it
  // cannot be allocated). A guess only; the caller passes it to reserve_slot().
  PagePtr prepare(std::size_t size_class) const noexcept;

  // Under the lock. The charge of the page the next slot of `size_class` needs: 0 when its last page has
  // room.
  std::size_t page_needed(std::size_t size_class) const noexcept;
  // The charge a pop() from `size_class` gives back: its last page's when that holds one slot, else 0.
  std::size_t page_freed_by_pop(std::size_t size_class) const noexcept;
  // Makes room for one more slot: takes `spare` when it is the page needed, allocates one otherwise. False
  // (nothing changed) when the page cannot be allocated.
  bool reserve_slot(std::size_t size_class, PagePtr& spare) noexcept;
  // A new slot at the end of `size_class`; needs room made by reserve_slot() (or page_needed() == 0).
  char* push(std::size_t size_class) noexcept;
  // The class's last slot: the one pop() drops, whose entry the caller first moves into the slot it frees.
  char* last(std::size_t size_class) const noexcept;
  // Drops the last slot (its entry moved or retired). The page it empties goes to `emptied`.
  void pop(std::size_t size_class, PagePtr& emptied) noexcept;

  std::size_t charged_bytes() const noexcept { return charged_; }  // every page's charge
  std::size_t page_count() const noexcept { return pages_; }

  // The page sizes, for tests and models: slots in a class's first and largest pages, and the charge of a
  // page of `capacity` slots.
  static std::size_t first_capacity(std::size_t size_class) noexcept;
  static std::size_t max_capacity(std::size_t size_class) noexcept;
  static std::size_t next_capacity(std::size_t size_class, std::size_t last_capacity) noexcept;
  static std::size_t page_charge(std::size_t size_class, std::size_t capacity) noexcept;

 private:
  struct Class {
    Page* last = nullptr;
    // Mirrors of the last page's state for prepare(), which reads them without the lock.
    std::atomic<std::uint32_t> room{0};           // free slots in the last page
    std::atomic<std::uint32_t> next_capacity{0};  // slots of the page the class would add next (0: its first)
  };
  void publish(Class& c, std::size_t size_class) noexcept;

  Class classes_[SizeClasses::kCount];
  std::size_t charged_ = 0;
  std::size_t pages_ = 0;
};

}  // namespace store
