#pragma once
// Log segments as files: their names, and the creation of a new one.
//
// A log directory holds segments named segment_file_name(n), n counting from 1; recovery replays them in
// the order of their numbers. create_segment() makes the file durable before anything is appended: it
// writes the header and a batch record saying nothing was durable yet, carrying the next sequence number
// (durable/record.h), then fdatasyncs the file and fsyncs the directory, so that the name, the header and
// that first batch record survive a power cut, and the scan of a batched log applies from the first batch
// on (durable/log_scan.h). A segment already there is never reopened: a log writer always appends to a
// segment it created.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "durable/file_ops.h"

namespace durable {

// <prefix> + a number (> 0) in 20 decimal digits + <suffix>: how segments and snapshots are named, so that
// names sort as their numbers do. The parser takes nothing else (and no number 0).
std::string numbered_file_name(std::string_view prefix, std::uint64_t number, std::string_view suffix);
std::optional<std::uint64_t> parse_numbered_file_name(std::string_view name, std::string_view prefix,
                                                      std::string_view suffix) noexcept;
// `name` in `directory`, with one '/' between.
std::string path_in(const std::string& directory, const std::string& name);

// "segment-" + the number in 20 decimal digits + ".log".
std::string segment_file_name(std::uint64_t segment);
// The number of a name segment_file_name() made; nothing for any other name (or segment 0).
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) noexcept;
std::string segment_path(const std::string& directory, std::uint64_t segment);

struct NewSegment {
  std::unique_ptr<AppendFile> file;
  std::uint64_t size = 0;  // header and first batch record, all durable
};

// Creates segment `segment` (> 0) in `directory` (which must exist) as above. Refuses (EEXIST) when the file
// exists. On failure the partly created file is closed and unlinked, as far as that goes.
base::Result<NewSegment> create_segment(FileSystem& fs, const std::string& directory, std::uint64_t segment,
                                        std::uint64_t next_sequence) noexcept;

}  // namespace durable
