#include "http/output_queue.h"

#include <algorithm>
#include <new>

namespace http {

void OutputQueue::commit(std::size_t n) noexcept {
  if (n == 0) return;
  owned_.commit(n);
  total_ += n;
  if (first_ == segments_.size()) return;  // all owned: no segments to keep
  Segment& last = segments_.back();
  if (!last.owner) {
    last.length += n;
    return;
  }
  // Capacity was reserved when the shared slice was queued, so this cannot allocate.
  segments_.push_back(Segment{{}, nullptr, n});
}

bool OutputQueue::append(std::string_view bytes) noexcept {
  if (bytes.empty()) return true;
  const std::span<char> space = writable(bytes.size());
  if (space.empty()) return false;
  std::copy(bytes.begin(), bytes.end(), space.data());
  commit(bytes.size());
  return true;
}

bool OutputQueue::reserve_shared_slice() noexcept {
  try {
    // Room for the slice, a run of owned bytes before it if there is none yet, and one after it.
    segments_.reserve(segments_.size() + 3);
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

void OutputQueue::append_reserved_shared(base::SharedBytes owner, std::string_view slice) noexcept {
  if (slice.empty()) return;
  if (first_ == segments_.size() && !owned_.empty()) segments_.push_back(Segment{{}, nullptr, owned_.size()});
  segments_.push_back(Segment{std::move(owner), slice.data(), slice.size()});
  total_ += slice.size();
  ++shared_slices_;
}

std::size_t OutputQueue::gather(std::span<iovec> out, bool* file_follows) const noexcept {
  if (file_follows != nullptr) *file_follows = false;
  if (out.empty() || total_ == 0) return 0;
  const std::string_view owned = owned_.readable();
  if (first_ == segments_.size()) {
    out[0] = iovec{const_cast<char*>(owned.data()), owned.size()};
    return 1;
  }
  std::size_t count = 0;
  std::size_t owned_offset = 0;
  for (std::size_t i = first_; i < segments_.size() && count < out.size(); ++i) {
    const Segment& segment = segments_[i];
    if (segment.owner.file_backed()) {  // sent by sendfile, never gathered
      if (file_follows != nullptr) *file_follows = true;
      break;
    }
    if (segment.owner) {
      out[count++] = iovec{const_cast<char*>(segment.data), segment.length};
    } else {
      out[count++] = iovec{const_cast<char*>(owned.data() + owned_offset), segment.length};
      owned_offset += segment.length;
    }
  }
  return count;
}

std::optional<OutputQueue::FileSlice> OutputQueue::front_file_slice() const noexcept {
  if (first_ == segments_.size()) return std::nullopt;
  const Segment& segment = segments_[first_];
  const std::optional<base::SharedBytes::FileLocation> location = segment.owner.file_location(segment.data);
  if (!location) return std::nullopt;
  return FileSlice{location->fd, location->offset, segment.length};
}

void OutputQueue::consume(std::size_t n) noexcept {
  n = std::min(n, total_);
  total_ -= n;
  if (first_ == segments_.size()) {
    owned_.consume(n);
    return;
  }
  while (n > 0 && first_ < segments_.size()) {
    Segment& segment = segments_[first_];
    const std::size_t take = std::min(n, segment.length);
    if (segment.owner) {
      segment.data += take;
    } else {
      owned_.consume(take);
    }
    segment.length -= take;
    n -= take;
    if (segment.length == 0) {
      if (segment.owner) --shared_slices_;
      segment = Segment{};  // drops the reference to the stored value as soon as it is sent
      ++first_;
    }
  }
  if (first_ == segments_.size()) {
    segments_.clear();  // keeps its capacity for the next large response
    first_ = 0;
  }
}

void OutputQueue::shrink_if_empty(std::size_t keep) noexcept {
  if (total_ != 0) return;
  owned_.shrink_if_empty_and_larger_than(keep);
  if (segments_.capacity() > 8) {
    segments_ = std::vector<Segment>();
    first_ = 0;
  }
}

}  // namespace http
