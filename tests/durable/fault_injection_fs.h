#pragma once
// FaultInjectionFileSystem: a FileSystem over another one (the real one, in a temp dir) that remembers what
// has been made durable, so that a test can cut the power — drop_unsynced() — and see what a crash would
// leave, and that makes chosen calls fail. After LevelDB's FaultInjectionTestEnv. Test support only.
//
// The durability model is strict POSIX, as LevelDB's:
//  - a file's data is durable up to its size at its last successful sync_data() or sync(); what was
//    appended since is lost. A file found on disk (not created through this) is durable as found.
//  - what truncate() removes is gone for good, durable or not (removed bytes never come back).
//  - creating a file (open_append of a new path), rename() and unlink() are durable once sync_directory()
//    has been called, after them, on every directory they touch. A file's own sync does not make its name
//    durable.
//  - a failed sync (injected) loses the bytes it was to make durable, even when a later sync succeeds:
//    Linux marks the pages clean once it has reported the error ("fsyncgate"). They read back as zeros
//    after the power cut if later bytes survive. A sync the power cut stopped (below) is not such a
//    failure: its pages are left to drop_unsynced().
//
// drop_unsynced() truncates each file to its durable size (zeroing lost ranges), then undoes, newest
// first, every create, rename and unlink that is not durable: a created file is removed, a renamed one
// moved back (and the durable content of a file it replaced restored), an unlinked one restored with its
// durable content. Afterwards everything on disk counts as durable. Files still open keep appending; close
// them first, as a crashed process would have.
//
// drop_unsynced(survives) is the power cut at page granularity: pages written back out of order. Each
// kPageBytes page (by file offset) of the data appended since the last sync keeps what was appended when
// survives(path, page_offset) says so and reads as zeros otherwise; the file ends with its last surviving
// page, or at its durable size if none survives.
//
// Faults: fail_nth(op, n, errno) makes the nth call of `op` from now on fail with errno, doing nothing;
// limit_bytes(budget) makes appends beyond `budget` bytes in total (from now on) write what fits and fail
// with ENOSPC, like a full disk. cut_power() makes every later call of a FaultOp fail with EIO, doing
// nothing, as a machine that stopped would; cut_power_at(op, n) does so from the nth call of `op` on. The
// power is back after drop_unsynced().
//
// The sync gate lets a test hold a writer inside its sync: while the gate is closed, sync_data() and sync()
// wait at it before doing anything else (holding no lock of this), and wait_for_syncs_at_gate() sees them
// arrive; pass_syncs() lets some through without opening it. Every other call takes one mutex, so a log
// thread may write while the test looks.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "durable/file_ops.h"

namespace durable::test {

enum class FaultOp : std::uint8_t {
  kOpenAppend,
  kAppend,
  kSyncData,
  kSync,
  kTruncate,
  kRename,
  kUnlink,
  kSyncDirectory,
  kMapFile,
};
inline constexpr std::size_t kFaultOps = 9;

class FaultInjectionFileSystem final : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem& base) noexcept : base_(base) {}

  base::Result<std::unique_ptr<AppendFile>> open_append(const std::string& path) noexcept override;
  base::Result<std::string> read_file(const std::string& path) noexcept override;
  base::Result<std::size_t> read_at(const std::string& path, std::uint64_t offset,
                                    std::span<char> out) noexcept override;
  base::Result<std::uint64_t> file_size(const std::string& path) noexcept override;
  base::Status truncate(const std::string& path, std::uint64_t size) noexcept override;
  base::Status rename(const std::string& from, const std::string& to) noexcept override;
  base::Status unlink(const std::string& path) noexcept override;
  base::Status create_directory(const std::string& path) noexcept override;
  base::Result<std::vector<std::string>> list_directory(const std::string& path) noexcept override;
  base::Status sync_directory(const std::string& path) noexcept override;
  base::Result<FileLock> lock_file(const std::string& path) noexcept override;
  // The real file's mapping: what is on disk now, durable or not, as a process reading it would see.
  base::Result<MappedFile> map_file(const std::string& path) noexcept override;

  static constexpr std::uint64_t kPageBytes = 4096;
  using PageFilter = std::function<bool(const std::string& path, std::uint64_t page_offset)>;

  // The power cut.
  base::Status drop_unsynced() { return drop_unsynced(PageFilter()); }
  base::Status drop_unsynced(const PageFilter& survives);
  void fail_nth(FaultOp op, int nth, int error_number);
  void limit_bytes(std::uint64_t budget);
  void cut_power();
  void cut_power_at(FaultOp op, int nth);
  bool power_is_cut() const;

  void close_sync_gate();
  void open_sync_gate();
  void pass_syncs(std::size_t n);  // lets `n` syncs through the closed gate
  // Whether `n` syncs wait at the closed gate within `timeout`.
  bool wait_for_syncs_at_gate(std::size_t n, std::chrono::milliseconds timeout);
  // Calls of `op` so far, failed ones included.
  std::uint64_t calls(FaultOp op) const;

 private:
  friend class FaultAppendFile;

  struct FileState {
    std::uint64_t synced = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> lost;  // [begin, end) a failed sync gave up
  };
  struct MetaOp {
    enum class Kind : std::uint8_t { kCreate, kRename, kUnlink } kind;
    std::string path;                  // created, unlinked, or renamed from
    std::string to;                    // renamed to
    std::optional<std::string> saved;  // the durable content of what it removed or replaced
    std::set<std::string> pending;     // directories still to be synced for it to be durable
  };
  struct Fault {
    int countdown = 0;
    int error_number = 0;
  };

  // The injected error for this call of `op`, or ok; counts the call.
  base::Status inject(FaultOp op, std::string_view what, const std::string& path);
  std::shared_ptr<FileState> track(const std::string& path);
  base::Result<std::string> durable_content(const std::string& path);
  base::Status write_whole(const std::string& path, const std::string& content);
  void pass_sync_gate();

  FileSystem& base_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<FileState>> files_;
  std::vector<MetaOp> journal_;
  std::array<Fault, kFaultOps> faults_{};
  std::array<std::uint64_t, kFaultOps> calls_{};
  std::optional<std::uint64_t> byte_budget_;
  std::uint64_t bytes_appended_ = 0;  // since limit_bytes()
  bool power_cut_ = false;
  std::optional<std::pair<FaultOp, int>> power_cut_at_;  // the op, and the countdown to its cutting call

  std::mutex gate_mutex_;
  std::condition_variable gate_changed_;
  bool gate_closed_ = false;
  std::size_t at_gate_ = 0;
  std::size_t passes_ = 0;
};

}  // namespace durable::test
