#include "store/slab.h"

#include <array>
#include <cstdlib>
#include <new>

#include "store/entry.h"

namespace store {

struct Page {
  Page* prev;
  std::uint16_t used;
  std::uint16_t capacity;
  std::uint16_t slot_bytes;
  std::uint8_t size_class;
  std::uint8_t unused;

  char* slot(std::size_t i) noexcept { return reinterpret_cast<char*>(this + 1) + i * slot_bytes; }
};
static_assert(sizeof(Page) == Slab::kPageHeaderBytes);

namespace {

constexpr std::array<std::uint16_t, SizeClasses::kCount> make_class_bytes() {
  std::array<std::uint16_t, SizeClasses::kCount> bytes{};
  std::size_t n = 0;
  for (std::uint16_t b = 24; b <= 256; b += 8) bytes[n++] = b;
  for (std::uint16_t step = 16, b = 256; b < kMaxEntryBytes; step *= 2) {
    for (int i = 0; i < 16; ++i) bytes[n++] = b += step;
  }
  return bytes;
}
constexpr std::array<std::uint16_t, SizeClasses::kCount> kClassBytes = make_class_bytes();
static_assert(kClassBytes.back() == kMaxEntryBytes && kClassBytes[29] == 256 && kClassBytes[30] == 272);

// The class of each size in 8-byte steps: index (bytes + 7) / 8.
constexpr std::array<std::uint8_t, kMaxEntryBytes / 8 + 1> make_class_index() {
  std::array<std::uint8_t, kMaxEntryBytes / 8 + 1> index{};
  std::size_t c = 0;
  for (std::size_t i = 0; i < index.size(); ++i) {
    while (kClassBytes[c] < i * 8) ++c;
    index[i] = static_cast<std::uint8_t>(c);
  }
  return index;
}
constexpr std::array<std::uint8_t, kMaxEntryBytes / 8 + 1> kClassIndex = make_class_index();

// Slots are 8-aligned, as a large entry's SharedBytes needs.
static_assert(Slab::kPageHeaderBytes % 8 == 0);

}  // namespace

std::size_t SizeClasses::of(std::size_t bytes) noexcept { return kClassIndex[(bytes + 7) / 8]; }
std::size_t SizeClasses::bytes(std::size_t size_class) noexcept { return kClassBytes[size_class]; }

void PageFree::operator()(Page* page) const noexcept { std::free(page); }

std::size_t Slab::max_capacity(std::size_t size_class) noexcept {
  const std::size_t fit = (kPageChunkBytes - 8 - kPageHeaderBytes) / SizeClasses::bytes(size_class);
  return fit == 0 ? 1 : fit;
}

std::size_t Slab::first_capacity(std::size_t size_class) noexcept {
  const std::size_t n = 256 / SizeClasses::bytes(size_class);
  return n == 0 ? 1 : n;
}

std::size_t Slab::next_capacity(std::size_t size_class, std::size_t last_capacity) noexcept {
  if (last_capacity == 0) return first_capacity(size_class);
  const std::size_t limit = max_capacity(size_class);
  return 2 * last_capacity < limit ? 2 * last_capacity : limit;
}

std::size_t Slab::page_charge(std::size_t size_class, std::size_t capacity) noexcept {
  return heap_chunk_bytes(kPageHeaderBytes + capacity * SizeClasses::bytes(size_class));
}

Slab::~Slab() {
  for (Class& c : classes_) {
    while (Page* page = c.last) {
      c.last = page->prev;
      PageFree()(page);
    }
  }
}

namespace {

PagePtr allocate_page(std::size_t size_class, std::size_t capacity) noexcept {
  const std::size_t slot_bytes = SizeClasses::bytes(size_class);
  const std::size_t bytes = Slab::kPageHeaderBytes + capacity * slot_bytes;
  PagePtr page(static_cast<Page*>(std::malloc(bytes)));
  if (!page) return page;
  // The table keeps tag bits above an entry's address (store/entry_table.h).
  if (reinterpret_cast<std::uintptr_t>(page.get()) + bytes > kEntryAddressLimit) return PagePtr();
  new (page.get()) Page{nullptr, 0, static_cast<std::uint16_t>(capacity), static_cast<std::uint16_t>(slot_bytes),
                        static_cast<std::uint8_t>(size_class), 0};
  return page;
}

}  // namespace

PagePtr Slab::prepare(std::size_t size_class) const noexcept {
  const Class& c = classes_[size_class];
  if (c.room.load(std::memory_order_relaxed) != 0) return PagePtr();
  const std::uint32_t capacity = c.next_capacity.load(std::memory_order_relaxed);
  // 0 until the class's first page: that one is its first capacity.
  return allocate_page(size_class, capacity != 0 ? capacity : first_capacity(size_class));
}

void Slab::publish(Class& c, std::size_t size_class) noexcept {
  const Page* page = c.last;
  c.room.store(page == nullptr ? 0 : page->capacity - page->used, std::memory_order_relaxed);
  c.next_capacity.store(static_cast<std::uint32_t>(next_capacity(size_class, page == nullptr ? 0 : page->capacity)),
                        std::memory_order_relaxed);
}

std::size_t Slab::page_needed(std::size_t size_class) const noexcept {
  const Page* page = classes_[size_class].last;
  if (page != nullptr && page->used < page->capacity) return 0;
  return page_charge(size_class, next_capacity(size_class, page == nullptr ? 0 : page->capacity));
}

std::size_t Slab::page_freed_by_pop(std::size_t size_class) const noexcept {
  const Page* page = classes_[size_class].last;
  return page != nullptr && page->used == 1 ? page_charge(size_class, page->capacity) : 0;
}

bool Slab::reserve_slot(std::size_t size_class, PagePtr& spare) noexcept {
  Class& c = classes_[size_class];
  if (c.last != nullptr && c.last->used < c.last->capacity) return true;
  const std::size_t capacity = next_capacity(size_class, c.last == nullptr ? 0 : c.last->capacity);
  PagePtr page;
  if (spare && spare->size_class == size_class && spare->capacity == capacity) {
    page = std::move(spare);
  } else {
    page = allocate_page(size_class, capacity);
    if (!page) return false;
  }
  page->prev = c.last;
  c.last = page.release();
  charged_ += page_charge(size_class, capacity);
  ++pages_;
  publish(c, size_class);
  return true;
}

char* Slab::push(std::size_t size_class) noexcept {
  Class& c = classes_[size_class];
  char* slot = c.last->slot(c.last->used++);
  publish(c, size_class);
  return slot;
}

char* Slab::last(std::size_t size_class) const noexcept {
  Page* page = classes_[size_class].last;
  return page->slot(page->used - 1u);
}

void Slab::pop(std::size_t size_class, PagePtr& emptied) noexcept {
  Class& c = classes_[size_class];
  Page* page = c.last;
  if (--page->used == 0) {
    c.last = page->prev;
    charged_ -= page_charge(size_class, page->capacity);
    --pages_;
    emptied.reset(page);
  }
  publish(c, size_class);
}

}  // namespace store
