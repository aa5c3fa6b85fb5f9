#pragma once
// ProtoWriter: hand-encoded protocol buffers, appended to a string: varints, zigzag, fixed64 doubles,
// length-delimited strings and nested messages. Just what io.prometheus.client.MetricFamily needs; no
// library, no schema.
//
// A nested message (or a length-prefixed top-level one, for the "delimited" stream) is opened with
// begin() and closed with end(): one byte is kept for its length, which end() fills in, moving the
// message's bytes along only in the rare case that the length needs more than one byte. Messages nest up
// to kMaxDepth; fields are written in the order the caller calls (proto3 parsers accept any order).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace metrics {

class ProtoWriter {
 public:
  static constexpr std::size_t kMaxDepth = 8;

  explicit ProtoWriter(std::string& out) noexcept : out_(out) {}

  void varint_field(std::uint32_t field, std::uint64_t value);   // wire type 0
  void sint_field(std::uint32_t field, std::int64_t value);      // wire type 0, zigzag (sint32/sint64)
  void double_field(std::uint32_t field, double value);          // wire type 1
  void string_field(std::uint32_t field, std::string_view value);  // wire type 2
  // A packed repeated sint64 (zigzag varints in one length-delimited field).
  void packed_sint_field(std::uint32_t field, const std::int64_t* values, std::size_t count);

  void begin(std::uint32_t field);  // a nested message: tag, then its length once end() knows it
  void begin_delimited();           // a top-level message preceded by its length (no tag)
  void end();
  std::size_t depth() const noexcept { return depth_; }

  static void append_varint(std::string& out, std::uint64_t value);

 private:
  void tag(std::uint32_t field, std::uint32_t wire_type) {
    const std::uint64_t key = (std::uint64_t{field} << 3) | wire_type;
    if (key < 0x80) {
      out_.push_back(static_cast<char>(key));
    } else {
      append_varint(out_, key);
    }
  }

  std::string& out_;
  std::array<std::size_t, kMaxDepth> starts_{};  // where each open message's length byte is
  std::size_t depth_ = 0;
};

}  // namespace metrics
