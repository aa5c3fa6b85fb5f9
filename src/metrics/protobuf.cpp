#include "metrics/protobuf.h"

#include <bit>
#include <cassert>

namespace metrics {

namespace {

constexpr std::uint32_t kVarint = 0;
constexpr std::uint32_t kFixed64 = 1;
constexpr std::uint32_t kLengthDelimited = 2;

constexpr std::uint64_t zigzag(std::int64_t value) noexcept {
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}

std::size_t varint_size(std::uint64_t value) noexcept {
  std::size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

}  // namespace

void ProtoWriter::append_varint(std::string& out, std::uint64_t value) {
  if (value < 0x80) {  // every tag here, and most lengths and counts
    out.push_back(static_cast<char>(value));
    return;
  }
  char bytes[10];
  std::size_t n = 0;
  while (value >= 0x80) {
    bytes[n++] = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  bytes[n++] = static_cast<char>(value);
  out.append(bytes, n);
}

void ProtoWriter::varint_field(std::uint32_t field, std::uint64_t value) {
  tag(field, kVarint);
  append_varint(out_, value);
}

void ProtoWriter::sint_field(std::uint32_t field, std::int64_t value) {
  tag(field, kVarint);
  append_varint(out_, zigzag(value));
}

void ProtoWriter::double_field(std::uint32_t field, double value) {
  tag(field, kFixed64);
  std::uint64_t bits = std::bit_cast<std::uint64_t>(value);
  char bytes[8];
  for (char& byte : bytes) {  // little-endian on the wire, whatever the host
    byte = static_cast<char>(bits & 0xff);
    bits >>= 8;
  }
  out_.append(bytes, sizeof bytes);
}

void ProtoWriter::string_field(std::uint32_t field, std::string_view value) {
  tag(field, kLengthDelimited);
  append_varint(out_, value.size());
  out_.append(value);
}

void ProtoWriter::packed_sint_field(std::uint32_t field, const std::int64_t* values, std::size_t count) {
  if (count == 0) return;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < count; ++i) bytes += varint_size(zigzag(values[i]));
  tag(field, kLengthDelimited);
  append_varint(out_, bytes);
  for (std::size_t i = 0; i < count; ++i) append_varint(out_, zigzag(values[i]));
}

void ProtoWriter::begin(std::uint32_t field) {
  tag(field, kLengthDelimited);
  begin_delimited();
}

void ProtoWriter::begin_delimited() {
  assert(depth_ < kMaxDepth);
  starts_[depth_++] = out_.size();
  out_.push_back('\0');  // the length, when it fits one byte (most messages here)
}

void ProtoWriter::end() {
  assert(depth_ > 0);
  const std::size_t start = starts_[--depth_];
  const std::size_t length = out_.size() - start - 1;
  if (length < 0x80) {
    out_[start] = static_cast<char>(length);
    return;
  }
  std::string prefix;
  append_varint(prefix, length);
  out_.replace(start, 1, prefix);  // moves the message along by the extra length bytes
}

}  // namespace metrics
