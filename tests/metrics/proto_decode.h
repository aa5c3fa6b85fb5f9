#pragma once
// A small protobuf wire-format reader for the tests: a message as its list of fields, nested messages
// decoded on demand. Independent of ProtoWriter, so the encoder is checked against a second reading.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace proto_test {

struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire = 0;
  std::uint64_t varint = 0;  // wire 0
  double fixed = 0;          // wire 1
  std::string bytes;         // wire 2
};

inline bool read_varint(std::string_view& in, std::uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    value |= std::uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// The fields of one message, or nullopt when the bytes are not well-formed.
inline std::optional<std::vector<Field>> decode(std::string_view in) {
  std::vector<Field> fields;
  while (!in.empty()) {
    std::uint64_t key = 0;
    if (!read_varint(in, key)) return std::nullopt;
    Field field;
    field.number = static_cast<std::uint32_t>(key >> 3);
    field.wire = static_cast<std::uint32_t>(key & 7);
    if (field.wire == 0) {
      if (!read_varint(in, field.varint)) return std::nullopt;
    } else if (field.wire == 1) {
      if (in.size() < 8) return std::nullopt;
      std::uint64_t bits = 0;
      for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
      std::memcpy(&field.fixed, &bits, sizeof bits);
      in.remove_prefix(8);
    } else if (field.wire == 2) {
      std::uint64_t length = 0;
      if (!read_varint(in, length) || length > in.size()) return std::nullopt;
      field.bytes = std::string(in.substr(0, length));
      in.remove_prefix(length);
    } else {
      return std::nullopt;
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

// The length-delimited messages of a stream (varint length, then the message).
inline std::optional<std::vector<std::string>> split_delimited(std::string_view in) {
  std::vector<std::string> messages;
  while (!in.empty()) {
    std::uint64_t length = 0;
    if (!read_varint(in, length) || length > in.size()) return std::nullopt;
    messages.emplace_back(in.substr(0, length));
    in.remove_prefix(length);
  }
  return messages;
}

inline std::vector<Field> all(const std::vector<Field>& fields, std::uint32_t number) {
  std::vector<Field> out;
  for (const Field& f : fields) {
    if (f.number == number) out.push_back(f);
  }
  return out;
}

inline const Field* first(const std::vector<Field>& fields, std::uint32_t number) {
  for (const Field& f : fields) {
    if (f.number == number) return &f;
  }
  return nullptr;
}

inline std::int64_t unzigzag(std::uint64_t v) { return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1); }

}  // namespace proto_test
