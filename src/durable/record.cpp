#include "durable/record.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>

#include "base/crc32c.h"

namespace durable {
namespace {

// The format is little-endian; on a little-endian machine these are plain loads and stores.
template <typename T>
T little_endian(T value) noexcept {
  if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
    if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(static_cast<std::uint16_t>(value)));
    if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(static_cast<std::uint32_t>(value)));
    if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(static_cast<std::uint64_t>(value)));
  }
  return value;
}

template <typename T>
void store_le(char* out, T value) noexcept {
  value = little_endian(value);
  std::memcpy(out, &value, sizeof value);
}

template <typename T>
T load_le(const char* in) noexcept {
  T value;
  std::memcpy(&value, in, sizeof value);
  return little_endian(value);
}

// Writes fixed-width fields and strings one after another.
class Writer {
 public:
  explicit Writer(char* out) noexcept : next_(out) {}
  template <typename T>
  void fixed(T value) noexcept {
    store_le(next_, value);
    next_ += sizeof value;
  }
  void bytes(std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(next_, s.data(), s.size());
    next_ += s.size();
  }

 private:
  char* next_;
};

// Reads them back, failing (and staying failed) at the first field that runs past the payload.
class Reader {
 public:
  explicit Reader(std::string_view payload) noexcept : rest_(payload) {}
  template <typename T>
  T fixed() noexcept {
    if (failed_ || rest_.size() < sizeof(T)) {
      failed_ = true;
      return T{};
    }
    const T value = load_le<T>(rest_.data());
    rest_.remove_prefix(sizeof(T));
    return value;
  }
  std::string_view bytes(std::size_t n) noexcept {
    if (failed_ || rest_.size() < n) {
      failed_ = true;
      return {};
    }
    const std::string_view taken = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return taken;
  }
  bool failed() const noexcept { return failed_; }
  std::size_t left() const noexcept { return rest_.size(); }

 private:
  std::string_view rest_;
  bool failed_ = false;
};

std::uint64_t payload_size(const Record& record) noexcept {
  if (record.operation == Operation::kBatch) return kBatchPayloadBytes;
  if (record.operation == Operation::kDelete) return kDeleteFixedPayloadBytes + record.id.size();
  return std::uint64_t{kPutFixedPayloadBytes} + record.content_type.size() + record.id.size() + record.value.size();
}

// The payload's fields into `out` (views into `payload`); a description of the first problem, or null.
const char* parse_payload(std::string_view payload, Record& out) noexcept {
  Reader reader(payload);
  out = Record{};
  out.sequence = reader.fixed<std::uint64_t>();
  const auto operation = reader.fixed<std::uint8_t>();
  if (reader.failed()) return "payload cut short";
  if (out.sequence == 0) return "sequence number 0";
  if (operation == static_cast<std::uint8_t>(Operation::kPut)) {
    out.operation = Operation::kPut;
    out.etag = reader.fixed<std::uint64_t>();
    out.modified_unix_seconds = reader.fixed<std::int64_t>();
    const auto content_type_bytes = reader.fixed<std::uint16_t>();
    if (content_type_bytes > kMaxContentTypeBytes) return "content type over its bound";
    out.content_type = reader.bytes(content_type_bytes);
    const auto id_bytes = reader.fixed<std::uint16_t>();
    if (id_bytes > kMaxIdBytes) return "id over its bound";
    out.id = reader.bytes(id_bytes);
    const auto value_bytes = reader.fixed<std::uint64_t>();
    if (reader.failed()) return "payload cut short";
    if (value_bytes != reader.left()) return "value length disagrees with the payload length";
    out.value = reader.bytes(reader.left());
    return nullptr;
  }
  if (operation == static_cast<std::uint8_t>(Operation::kDelete)) {
    out.operation = Operation::kDelete;
    const auto id_bytes = reader.fixed<std::uint16_t>();
    if (id_bytes > kMaxIdBytes) return "id over its bound";
    out.id = reader.bytes(id_bytes);
    if (reader.failed()) return "payload cut short";
    if (reader.left() != 0) return "bytes after a delete's id";
    return nullptr;
  }
  if (operation == static_cast<std::uint8_t>(Operation::kBatch)) {
    out.operation = Operation::kBatch;
    out.durable_end = reader.fixed<std::uint64_t>();
    if (reader.failed()) return "payload cut short";
    if (reader.left() != 0) return "bytes after a batch record's durable end";
    return nullptr;
  }
  return "unknown operation";
}

// The CRC a record at `frame` must carry: over its length field and payload.
std::uint32_t frame_crc(std::string_view bytes, std::size_t frame, std::uint32_t payload_bytes) noexcept {
  return base::crc32c(bytes.substr(frame + 4, 4 + std::size_t{payload_bytes}));
}

}  // namespace

std::size_t head_size(const Record& record) noexcept {
  const std::size_t value = record.operation == Operation::kPut ? record.value.size() : 0;
  return static_cast<std::size_t>(kRecordFrameBytes + payload_size(record) - value);
}

std::uint64_t record_size(const Record& record) noexcept { return kRecordFrameBytes + payload_size(record); }

base::Status check_record(const Record& record, const RecordLimits& limits) noexcept {
  if (record.sequence == 0) return base::Status::error("log record: sequence number 0 (they start at 1)");
  if (record.id.size() > kMaxIdBytes) {
    return base::Status::error("log record: id of " + std::to_string(record.id.size()) + " bytes, over " +
                               std::to_string(kMaxIdBytes));
  }
  const bool put_fields = record.etag != 0 || record.modified_unix_seconds != 0 || !record.content_type.empty() ||
                          !record.value.empty();
  if (record.operation != Operation::kBatch && record.durable_end != 0) {
    return base::Status::error("log record: only a batch record carries a durable end");
  }
  if (record.operation == Operation::kBatch) {
    if (put_fields || !record.id.empty()) {
      return base::Status::error("log record: a batch record carries only a sequence number and a durable end");
    }
  } else if (record.operation == Operation::kDelete) {
    if (put_fields) return base::Status::error("log record: a delete carries only a sequence number and an id");
  } else if (record.operation != Operation::kPut) {
    return base::Status::error("log record: unknown operation");
  } else if (record.content_type.size() > kMaxContentTypeBytes) {
    return base::Status::error("log record: content type of " + std::to_string(record.content_type.size()) +
                               " bytes, over " + std::to_string(kMaxContentTypeBytes));
  }
  if (record.value.size() > limits.max_payload_bytes || payload_size(record) > limits.max_payload_bytes) {
    return base::Status::error("log record: payload of " + std::to_string(payload_size(record)) +
                               " bytes, over the maximum of " + std::to_string(limits.max_payload_bytes));
  }
  return base::Status::ok();
}

base::Result<std::size_t> encode_head(const Record& record, const RecordLimits& limits, std::span<char> out) noexcept {
  if (base::Status checked = check_record(record, limits); !checked) return checked;
  const std::size_t head = head_size(record);
  if (out.size() < head) {
    return base::Status::error("log record: a head of " + std::to_string(head) + " bytes does not fit in " +
                               std::to_string(out.size()));
  }
  Writer writer(out.data() + 4);
  writer.fixed(static_cast<std::uint32_t>(payload_size(record)));
  writer.fixed(record.sequence);
  writer.fixed(static_cast<std::uint8_t>(record.operation));
  if (record.operation == Operation::kPut) {
    writer.fixed(record.etag);
    writer.fixed(record.modified_unix_seconds);
    writer.fixed(static_cast<std::uint16_t>(record.content_type.size()));
    writer.bytes(record.content_type);
    writer.fixed(static_cast<std::uint16_t>(record.id.size()));
    writer.bytes(record.id);
    writer.fixed(static_cast<std::uint64_t>(record.value.size()));
  } else if (record.operation == Operation::kDelete) {
    writer.fixed(static_cast<std::uint16_t>(record.id.size()));
    writer.bytes(record.id);
  } else {
    writer.fixed(record.durable_end);
  }
  std::uint32_t crc = base::crc32c(std::string_view(out.data() + 4, head - 4));
  if (record.operation == Operation::kPut) crc = base::crc32c(crc, record.value);
  store_le(out.data(), base::crc32c_mask(crc));
  return head;
}

base::Status append_record(const Record& record, const RecordLimits& limits, std::string& out) noexcept {
  if (base::Status checked = check_record(record, limits); !checked) return checked;
  const std::size_t old_size = out.size();
  const std::size_t head = head_size(record);
  try {
    out.reserve(old_size + static_cast<std::size_t>(record_size(record)));
    out.resize(old_size + head);
    out.append(record.operation == Operation::kPut ? record.value : std::string_view());
  } catch (const std::exception&) {  // bad_alloc, or length_error past max_size()
    out.resize(old_size);
    return base::Status::error("log record: out of memory for a record of " +
                                   std::to_string(record_size(record)) + " bytes",
                               ENOMEM);
  }
  const auto written = encode_head(record, limits, std::span<char>(out.data() + old_size, head));
  if (!written) {
    out.resize(old_size);
    return written.status();
  }
  return base::Status::ok();
}

std::array<char, kFileHeaderBytes> encode_file_header(std::uint64_t segment) noexcept {
  std::array<char, kFileHeaderBytes> header{};
  Writer writer(header.data());
  writer.bytes(kLogMagic);
  writer.fixed(kLogFormatVersion);
  writer.fixed(segment);
  writer.fixed(base::crc32c_mask(base::crc32c(std::string_view(header.data(), kFileHeaderBytes - 4))));
  return header;
}

HeaderCheck check_file_header(std::string_view bytes, FileHeader& header) noexcept {
  const std::size_t magic_bytes = std::min(bytes.size(), kLogMagic.size());
  if (bytes.substr(0, magic_bytes) != kLogMagic.substr(0, magic_bytes)) return HeaderCheck::kBadMagic;
  if (bytes.size() < kFileHeaderBytes) return HeaderCheck::kCutShort;
  const std::uint32_t stored = base::crc32c_unmask(load_le<std::uint32_t>(bytes.data() + kFileHeaderBytes - 4));
  if (base::crc32c(bytes.substr(0, kFileHeaderBytes - 4)) != stored) return HeaderCheck::kBadChecksum;
  const auto version = load_le<std::uint32_t>(bytes.data() + kLogMagic.size());
  if (version != kLogFormatVersion) return HeaderCheck::kUnsupportedVersion;
  header.version = version;
  header.segment = load_le<std::uint64_t>(bytes.data() + kLogMagic.size() + 4);
  return HeaderCheck::kValid;
}

base::Result<FileHeader> decode_file_header(std::string_view bytes) noexcept {
  FileHeader header;
  switch (check_file_header(bytes, header)) {
    case HeaderCheck::kValid:
      return header;
    case HeaderCheck::kBadMagic:
      return base::Status::error("not a storage_api log (bad magic)");
    case HeaderCheck::kCutShort:
      return base::Status::error("log header cut short: " + std::to_string(bytes.size()) + " of " +
                                 std::to_string(kFileHeaderBytes) + " bytes");
    case HeaderCheck::kBadChecksum:
      return base::Status::error("log header checksum mismatch");
    case HeaderCheck::kUnsupportedVersion:
      break;
  }
  return base::Status::error("log format version " + std::to_string(load_le<std::uint32_t>(bytes.data() + 8)) +
                             ", this build reads " + std::to_string(kLogFormatVersion));
}

Decoded decode_next(std::string_view bytes, std::size_t offset, const RecordLimits& limits) noexcept {
  Decoded decoded;
  decoded.offset = offset;
  if (offset >= bytes.size()) {
    if (offset > bytes.size()) {
      decoded.status = DecodeStatus::kCorrupt;
      decoded.reason = "offset past the end of the log";
    }
    return decoded;  // kEnd
  }
  const std::size_t rest = bytes.size() - offset;
  if (rest < kRecordFrameBytes) {
    decoded.status = DecodeStatus::kTornTail;
    decoded.reason = "record frame cut short";
    return decoded;
  }
  const auto payload_bytes = load_le<std::uint32_t>(bytes.data() + offset + 4);
  if (payload_bytes < kDeleteFixedPayloadBytes || payload_bytes > limits.max_payload_bytes) {
    decoded.status = DecodeStatus::kCorrupt;
    decoded.reason = "implausible payload length";
    return decoded;
  }
  if (payload_bytes > rest - kRecordFrameBytes) {
    decoded.status = DecodeStatus::kTornTail;
    decoded.reason = "record runs past the end of the log";
    return decoded;
  }
  const std::uint32_t stored = base::crc32c_unmask(load_le<std::uint32_t>(bytes.data() + offset));
  if (frame_crc(bytes, offset, payload_bytes) != stored) {
    decoded.status = DecodeStatus::kCorrupt;
    decoded.reason = "record checksum mismatch";
    return decoded;
  }
  if (const char* problem = parse_payload(bytes.substr(offset + kRecordFrameBytes, payload_bytes), decoded.record)) {
    decoded.status = DecodeStatus::kCorrupt;
    decoded.reason = problem;
    return decoded;
  }
  decoded.status = DecodeStatus::kRecord;
  decoded.next_offset = offset + kRecordFrameBytes + payload_bytes;
  return decoded;
}

bool valid_record_at(std::string_view bytes, std::size_t offset, const RecordLimits& limits, std::uint64_t after,
                     std::uint64_t& crc_bytes) noexcept {
  if (offset > bytes.size() || bytes.size() - offset < kRecordFrameBytes + kDeleteFixedPayloadBytes) return false;
  const auto payload_bytes = load_le<std::uint32_t>(bytes.data() + offset + 4);
  if (payload_bytes < kDeleteFixedPayloadBytes || payload_bytes > limits.max_payload_bytes ||
      payload_bytes > bytes.size() - offset - kRecordFrameBytes) {
    return false;
  }
  Record record;
  if (parse_payload(bytes.substr(offset + kRecordFrameBytes, payload_bytes), record) != nullptr) return false;
  if (record.sequence <= after) return false;
  crc_bytes += 4 + std::uint64_t{payload_bytes};
  return frame_crc(bytes, offset, payload_bytes) == base::crc32c_unmask(load_le<std::uint32_t>(bytes.data() + offset));
}

}  // namespace durable
