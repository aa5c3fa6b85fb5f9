#include "durable/data_directory.h"

#include <algorithm>
#include <cerrno>
#include <exception>

#include "durable/segment.h"
#include "durable/snapshot_file.h"

namespace durable {
namespace {

std::string parent_of(const std::string& directory) {
  std::string path = directory;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

}  // namespace

base::Result<FileLock> lock_data_directory(FileSystem& fs, const std::string& directory) noexcept {
  try {
    if (base::Status created = fs.create_directory(directory); !created) return created;
    if (base::Status synced = fs.sync_directory(parent_of(directory)); !synced) return synced;
    std::string lock_path = directory;
    if (!lock_path.empty() && lock_path.back() != '/') lock_path.push_back('/');
    lock_path += "LOCK";
    auto lock = fs.lock_file(lock_path);
    if (!lock && is_locked(lock.status())) {
      return base::Status::error("DATA_DIR " + directory + " is in use by another storage_api process",
                                 lock.status().error_number());
    }
    return lock;
  } catch (const std::exception&) {
    return base::Status::error("DATA_DIR " + directory + ": out of memory", ENOMEM);
  }
}

base::Result<DataDirectoryListing> list_data_directory(FileSystem& fs, const std::string& directory) noexcept {
  auto names = fs.list_directory(directory);
  if (!names) {
    if (names.status().error_number() == ENOENT) return DataDirectoryListing{};
    return names.status();
  }
  DataDirectoryListing listing;
  try {
    for (const std::string& name : *names) {
      if (const auto segment = parse_segment_file_name(name)) {
        listing.segments.push_back(*segment);
        continue;
      }
      bool temp = false;
      if (const auto snapshot = parse_snapshot_file_name(name, temp)) {
        (temp ? listing.temp_snapshots : listing.snapshots).push_back(*snapshot);
      }
    }
  } catch (const std::exception&) {
    return base::Status::error("list " + directory + ": out of memory", ENOMEM);
  }
  std::sort(listing.segments.begin(), listing.segments.end());
  std::sort(listing.snapshots.begin(), listing.snapshots.end());
  std::sort(listing.temp_snapshots.begin(), listing.temp_snapshots.end());
  return listing;
}

}  // namespace durable
