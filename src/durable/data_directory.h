#pragma once
// The data directory (DATA_DIR): the lock that gives one process the directory, and the one place that says
// which of its files belong to the log, so that what else comes to live there (snapshots) is added here.
//
// lock_data_directory() creates the directory when it is absent (and fsyncs its parent, so that a new
// directory's name survives a power cut with the segments in it), then takes flock on <directory>/LOCK for
// as long as the FileLock lives. Another holder — another process, or another open of the file in this
// one — gives an error for which is_locked() is true, whose message is one line naming the directory.
//
// list_data_directory() reads the names once: log segments (durable/segment.h), snapshots and snapshots'
// temp files (durable/snapshot_file.h), each by number, ascending; every other name (LOCK, an operator's
// notes) is ignored. An absent directory holds nothing.
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "durable/file_ops.h"

namespace durable {

base::Result<FileLock> lock_data_directory(FileSystem& fs, const std::string& directory) noexcept;

struct DataDirectoryListing {
  std::vector<std::uint64_t> segments;        // ascending
  std::vector<std::uint64_t> snapshots;       // ascending: snapshot S covers the segments below S
  std::vector<std::uint64_t> temp_snapshots;  // ascending: snapshots that were being written
};

base::Result<DataDirectoryListing> list_data_directory(FileSystem& fs, const std::string& directory) noexcept;

}  // namespace durable
