#include "durable/snapshot_file.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include "base/crc32c.h"
#include "durable/segment.h"

namespace durable {
namespace {

constexpr std::string_view kPrefix = "snapshot-";
constexpr std::string_view kSuffix = ".snap";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr int kDamagedErrno = EBADMSG;  // as recovery's damage (durable/recovery.h is_log_damaged)

void store_u32(char* out, std::uint32_t value) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}
void store_u64(char* out, std::uint64_t value) noexcept {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(value >> (8 * i));
}
std::uint32_t load_u32(const char* in) noexcept {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(in[i]);
  return value;
}
std::uint64_t load_u64(const char* in) noexcept {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(in[i]);
  return value;
}

base::Status damaged(const std::string& path, std::size_t offset, std::string_view reason) {
  return base::Status::error("snapshot " + path + " is damaged at offset " + std::to_string(offset) + ": " +
                                 std::string(reason) +
                                 "; it was complete when it was written (synced before its rename), so this is "
                                 "corruption: restore DATA_DIR from a backup",
                             kDamagedErrno);
}

}  // namespace

std::string snapshot_file_name(std::uint64_t segment) { return numbered_file_name(kPrefix, segment, kSuffix); }

std::string snapshot_path(const std::string& directory, std::uint64_t segment) {
  return path_in(directory, snapshot_file_name(segment));
}

std::string snapshot_temp_path(const std::string& directory, std::uint64_t segment) {
  return snapshot_path(directory, segment) + std::string(kTempSuffix);
}

std::optional<std::uint64_t> parse_snapshot_file_name(std::string_view name, bool& temp) noexcept {
  temp = name.ends_with(kTempSuffix);
  if (temp) name.remove_suffix(kTempSuffix.size());
  return parse_numbered_file_name(name, kPrefix, kSuffix);
}

std::array<char, kSnapshotHeaderBytes> encode_snapshot_header(const SnapshotHeader& header) noexcept {
  std::array<char, kSnapshotHeaderBytes> bytes{};
  std::memcpy(bytes.data(), kSnapshotMagic.data(), kSnapshotMagic.size());
  store_u32(bytes.data() + 8, kSnapshotFormatVersion);
  store_u64(bytes.data() + 12, header.segment);
  store_u64(bytes.data() + 20, header.sequence);
  store_u32(bytes.data() + 28,
            base::crc32c_mask(base::crc32c(std::string_view(bytes.data(), kSnapshotHeaderBytes - 4))));
  return bytes;
}

SnapshotFileWriter::SnapshotFileWriter(FileSystem& fs, std::unique_ptr<AppendFile> file, std::string temp_path,
                                       std::string final_path, const RecordLimits& limits) noexcept
    : fs_(fs),
      file_(std::move(file)),
      temp_path_(std::move(temp_path)),
      final_path_(std::move(final_path)),
      limits_(limits) {}

SnapshotFileWriter::~SnapshotFileWriter() {
  if (file_) (void)file_->close();
}

base::Result<std::unique_ptr<SnapshotFileWriter>> SnapshotFileWriter::create(FileSystem& fs, std::string temp_path,
                                                                             std::string final_path,
                                                                             const SnapshotHeader& header,
                                                                             const RecordLimits& limits) noexcept {
  if (fs.file_size(temp_path).is_ok()) {
    return base::Status::error("snapshot " + temp_path + " exists already", EEXIST);
  }
  auto opened = fs.open_append(temp_path);
  if (!opened) return opened.status();
  std::unique_ptr<SnapshotFileWriter> writer(new (std::nothrow) SnapshotFileWriter(
      fs, std::move(*opened), std::move(temp_path), std::move(final_path), limits));
  if (!writer) return base::Status::error("snapshot: out of memory", ENOMEM);
  const auto bytes = encode_snapshot_header(header);
  if (base::Status appended = writer->file_->append(std::string_view(bytes.data(), bytes.size())); !appended) {
    writer->abandon();
    return appended;
  }
  writer->size_ = bytes.size();
  return writer;
}

base::Status SnapshotFileWriter::append(std::span<const std::string_view> pieces, std::uint64_t bytes,
                                        std::uint64_t records) noexcept {
  if (!file_) return base::Status::error("snapshot " + temp_path_ + ": closed", EBADF);
  if (pieces.empty()) return base::Status::ok();
  if (base::Status appended = file_->append(pieces); !appended) return appended;
  size_ += bytes;
  next_sequence_ += records;
  return base::Status::ok();
}

base::Status SnapshotFileWriter::sync() noexcept {
  if (!file_) return base::Status::error("snapshot " + temp_path_ + ": closed", EBADF);
  return file_->sync_data();
}

base::Status SnapshotFileWriter::finish() noexcept {
  if (!file_) return base::Status::error("snapshot " + temp_path_ + ": closed", EBADF);
  std::array<char, kBatchRecordBytes> end{};
  if (auto encoded = encode_head(batch_record(next_sequence_, size_), RecordLimits{}, end); !encoded) {
    return encoded.status();
  }
  base::Status status = file_->append(std::string_view(end.data(), end.size()));
  if (status) status = file_->sync_data();
  if (status) {
    size_ += end.size();
    status = file_->close();
    file_.reset();
  }
  if (status) status = fs_.rename(temp_path_, final_path_);
  return status;
}

void SnapshotFileWriter::abandon() noexcept {
  if (file_) {
    (void)file_->close();
    file_.reset();
  }
  (void)fs_.unlink(temp_path_);
}

base::Result<LoadedSnapshot> load_snapshot(FileSystem& fs, const std::string& path, std::uint64_t segment,
                                           SnapshotCallback& callback) noexcept {
  auto mapped = fs.map_file(path);
  if (!mapped) return mapped.status();
  const std::string_view bytes = mapped->bytes();
  LoadedSnapshot loaded;
  loaded.bytes = bytes.size();
  if (bytes.size() < kSnapshotHeaderBytes) return damaged(path, 0, "header cut short");
  if (bytes.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) return damaged(path, 0, "not a snapshot (bad magic)");
  const std::uint32_t stored = base::crc32c_unmask(load_u32(bytes.data() + kSnapshotHeaderBytes - 4));
  if (base::crc32c(bytes.substr(0, kSnapshotHeaderBytes - 4)) != stored) {
    return damaged(path, 0, "header checksum mismatch");
  }
  if (const std::uint32_t version = load_u32(bytes.data() + 8); version != kSnapshotFormatVersion) {
    return base::Status::error("snapshot " + path + " is of format version " + std::to_string(version) +
                                   ", this build reads " + std::to_string(kSnapshotFormatVersion),
                               ENOTSUP);
  }
  loaded.header.segment = load_u64(bytes.data() + 12);
  loaded.header.sequence = load_u64(bytes.data() + 20);
  if (loaded.header.segment != segment) {
    return damaged(path, 0, "its header says it covers the segments before " + std::to_string(loaded.header.segment));
  }
  std::size_t offset = kSnapshotHeaderBytes;
  for (;;) {
    // The format's own limits: a snapshot is read whole or refused, so they only bound the lengths.
    const Decoded decoded = decode_next(bytes, offset, RecordLimits{});
    if (decoded.status == DecodeStatus::kEnd) return damaged(path, offset, "it ends without its end record");
    if (decoded.status != DecodeStatus::kRecord) return damaged(path, offset, decoded.reason);
    const Record& record = decoded.record;
    if (record.sequence != loaded.objects + 1) return damaged(path, offset, "record out of order");
    if (record.operation == Operation::kBatch) {
      if (record.durable_end != offset) return damaged(path, offset, "end record at the wrong offset");
      if (decoded.next_offset != bytes.size()) return damaged(path, decoded.next_offset, "bytes after the end record");
      return loaded;
    }
    if (record.operation != Operation::kPut) return damaged(path, offset, "a snapshot holds puts only");
    if (base::Status applied = callback.put(record); !applied) return applied;
    ++loaded.objects;
    offset = decoded.next_offset;
  }
}

bool is_snapshot_damaged(const base::Status& status) noexcept {
  return !status.is_ok() && status.error_number() == kDamagedErrno;
}

}  // namespace durable
