#include "durable/segment.h"

#include <array>
#include <cerrno>
#include <charconv>
#include <utility>

#include "durable/record.h"

namespace durable {
namespace {

constexpr std::string_view kPrefix = "segment-";
constexpr std::string_view kSuffix = ".log";
constexpr std::size_t kDigits = 20;  // UINT64_MAX has 20

}  // namespace

std::string numbered_file_name(std::string_view prefix, std::uint64_t number, std::string_view suffix) {
  std::array<char, kDigits> digits{};
  const auto converted = std::to_chars(digits.data(), digits.data() + digits.size(), number);
  const auto written = static_cast<std::size_t>(converted.ptr - digits.data());
  std::string name(prefix);
  name.append(kDigits - written, '0').append(digits.data(), written).append(suffix);
  return name;
}

std::optional<std::uint64_t> parse_numbered_file_name(std::string_view name, std::string_view prefix,
                                                      std::string_view suffix) noexcept {
  if (name.size() != prefix.size() + kDigits + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix)) {
    return std::nullopt;
  }
  const std::string_view digits = name.substr(prefix.size(), kDigits);
  std::uint64_t number = 0;
  const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size() || number == 0) return std::nullopt;
  return number;
}

std::string path_in(const std::string& directory, const std::string& name) {
  std::string path = directory;
  if (!path.empty() && path.back() != '/') path.push_back('/');
  return path + name;
}

std::string segment_file_name(std::uint64_t segment) { return numbered_file_name(kPrefix, segment, kSuffix); }

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) noexcept {
  return parse_numbered_file_name(name, kPrefix, kSuffix);
}

std::string segment_path(const std::string& directory, std::uint64_t segment) {
  return path_in(directory, segment_file_name(segment));
}

base::Result<NewSegment> create_segment(FileSystem& fs, const std::string& directory, std::uint64_t segment,
                                        std::uint64_t next_sequence) noexcept {
  if (segment == 0 || next_sequence == 0) {
    return base::Status::error("log segment: segment and sequence numbers start at 1", EINVAL);
  }
  const std::string path = segment_path(directory, segment);
  if (fs.file_size(path).is_ok()) return base::Status::error("log segment " + path + " exists already", EEXIST);
  auto opened = fs.open_append(path);
  if (!opened) return opened.status();
  std::unique_ptr<AppendFile> file = std::move(*opened);

  const auto header = encode_file_header(segment);
  std::array<char, kBatchRecordBytes> first{};
  if (auto encoded = encode_head(batch_record(next_sequence, 0), RecordLimits{}, first); !encoded) {
    return encoded.status();
  }
  const std::array<std::string_view, 2> pieces{std::string_view(header.data(), header.size()),
                                               std::string_view(first.data(), first.size())};
  base::Status status = file->append(pieces);
  if (status) status = file->sync_data();
  if (status) status = fs.sync_directory(directory);
  if (!status) {
    (void)file->close();
    (void)fs.unlink(path);
    return status;
  }
  return NewSegment{std::move(file), kFileHeaderBytes + kBatchRecordBytes};
}

}  // namespace durable
