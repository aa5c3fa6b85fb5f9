#include "fault_injection_fs.h"

#include <cerrno>
#include <filesystem>

namespace durable::test {
namespace {

using base::Result;
using base::Status;

std::string directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).lexically_normal().parent_path().string();
  return dir.empty() ? std::string(".") : dir;
}

std::string normal(const std::string& dir) {
  std::string out = std::filesystem::path(dir).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

class FaultAppendFile final : public AppendFile {
 public:
  FaultAppendFile(FaultInjectionFileSystem& fs, std::shared_ptr<FaultInjectionFileSystem::FileState> state,
                  std::unique_ptr<AppendFile> inner) noexcept
      : fs_(fs), state_(std::move(state)), inner_(std::move(inner)) {}

  Status append(std::span<const std::string_view> pieces) noexcept override {
    const std::lock_guard lock(fs_.mutex_);
    if (Status injected = fs_.inject(FaultOp::kAppend, "append", path()); !injected) return injected;
    std::uint64_t total = 0;
    for (const std::string_view piece : pieces) total += piece.size();
    if (!fs_.byte_budget_ || fs_.bytes_appended_ + total <= *fs_.byte_budget_) {
      Status status = inner_->append(pieces);
      if (status) fs_.bytes_appended_ += total;
      return status;
    }
    // A full disk: what fits is written, then ENOSPC.
    std::uint64_t room = *fs_.byte_budget_ - fs_.bytes_appended_;
    std::vector<std::string_view> fitting;
    for (const std::string_view piece : pieces) {
      if (room == 0) break;
      fitting.push_back(piece.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(room, piece.size()))));
      room -= fitting.back().size();
    }
    if (Status status = inner_->append(fitting); !status) return status;
    fs_.bytes_appended_ = *fs_.byte_budget_;
    return Status::from_errno("append " + path(), ENOSPC);
  }
  Status sync_data() noexcept override { return synced(FaultOp::kSyncData, "fdatasync", &AppendFile::sync_data); }
  Status sync() noexcept override { return synced(FaultOp::kSync, "fsync", &AppendFile::sync); }
  Result<std::uint64_t> size() noexcept override { return inner_->size(); }
  Status close() noexcept override { return inner_->close(); }
  const std::string& path() const noexcept override { return inner_->path(); }

 private:
  Status synced(FaultOp op, std::string_view what, Status (AppendFile::*call)()) {
    fs_.pass_sync_gate();
    const std::lock_guard lock(fs_.mutex_);
    const auto size = inner_->size();
    if (!size) return size.status();
    if (Status injected = fs_.inject(op, what, path()); !injected) {
      // A sync that fails loses its pages; one the power cut stopped leaves them to drop_unsynced().
      if (*size > state_->synced && !fs_.power_cut_) state_->lost.emplace_back(state_->synced, *size);
      return injected;
    }
    if (Status status = ((*inner_).*call)(); !status) return status;
    state_->synced = *size;
    return Status::ok();
  }

  FaultInjectionFileSystem& fs_;
  std::shared_ptr<FaultInjectionFileSystem::FileState> state_;
  std::unique_ptr<AppendFile> inner_;
};

Status FaultInjectionFileSystem::inject(FaultOp op, std::string_view what, const std::string& path) {
  const auto index = static_cast<std::size_t>(op);
  ++calls_[index];
  if (power_cut_at_ && power_cut_at_->first == op && --power_cut_at_->second == 0) {
    power_cut_ = true;
    power_cut_at_.reset();
  }
  if (power_cut_) return Status::from_errno(std::string(what) + " " + path + " (power cut)", EIO);
  Fault& fault = faults_[index];
  if (fault.countdown > 0 && --fault.countdown == 0) {
    return Status::from_errno(std::string(what) + " " + path + " (injected)", fault.error_number);
  }
  return Status::ok();
}

std::shared_ptr<FaultInjectionFileSystem::FileState> FaultInjectionFileSystem::track(const std::string& path) {
  auto& state = files_[path];
  if (!state) {
    state = std::make_shared<FileState>();
    const auto size = base_.file_size(path);
    state->synced = size ? *size : 0;
  }
  return state;
}

Result<std::string> FaultInjectionFileSystem::durable_content(const std::string& path) {
  auto content = base_.read_file(path);
  if (!content) return content;
  const auto found = files_.find(path);
  if (found == files_.end()) return content;
  const FileState& state = *found->second;
  if (content->size() > state.synced) content->resize(static_cast<std::size_t>(state.synced));
  for (const auto& [begin, end] : state.lost) {
    for (std::uint64_t at = begin; at < end && at < content->size(); ++at) (*content)[at] = '\0';
  }
  return content;
}

Status FaultInjectionFileSystem::write_whole(const std::string& path, const std::string& content) {
  auto file = base_.open_append(path);
  if (!file) return file.status();
  if (Status status = base_.truncate(path, 0); !status) return status;
  if (Status status = (*file)->append(content); !status) return status;
  return (*file)->close();
}

Result<std::unique_ptr<AppendFile>> FaultInjectionFileSystem::open_append(const std::string& path) noexcept {
  const std::lock_guard lock(mutex_);
  if (Status injected = inject(FaultOp::kOpenAppend, "open", path); !injected) return injected;
  const bool existed = base_.file_size(path).is_ok();
  auto inner = base_.open_append(path);
  if (!inner) return inner.status();
  if (!existed) {
    files_.erase(path);
    journal_.push_back(MetaOp{MetaOp::Kind::kCreate, path, {}, std::nullopt, {normal(directory_of(path))}});
  }
  std::unique_ptr<AppendFile> file = std::make_unique<FaultAppendFile>(*this, track(path), std::move(*inner));
  return file;
}

Result<std::string> FaultInjectionFileSystem::read_file(const std::string& path) noexcept {
  return base_.read_file(path);
}

Result<std::size_t> FaultInjectionFileSystem::read_at(const std::string& path, std::uint64_t offset,
                                                      std::span<char> out) noexcept {
  return base_.read_at(path, offset, out);
}

Result<std::uint64_t> FaultInjectionFileSystem::file_size(const std::string& path) noexcept {
  return base_.file_size(path);
}

Status FaultInjectionFileSystem::truncate(const std::string& path, std::uint64_t size) noexcept {
  const std::lock_guard lock(mutex_);
  if (Status injected = inject(FaultOp::kTruncate, "truncate", path); !injected) return injected;
  const std::shared_ptr<FileState> state = track(path);
  if (Status status = base_.truncate(path, size); !status) return status;
  state->synced = std::min(state->synced, size);
  std::erase_if(state->lost, [&](const auto& range) { return range.first >= size; });
  return Status::ok();
}

Status FaultInjectionFileSystem::rename(const std::string& from, const std::string& to) noexcept {
  const std::lock_guard lock(mutex_);
  if (Status injected = inject(FaultOp::kRename, "rename", from + " to " + to); !injected) return injected;
  std::optional<std::string> saved;
  if (base_.file_size(to).is_ok()) {
    auto content = durable_content(to);
    if (!content) return content.status();
    saved = std::move(*content);
  }
  const std::shared_ptr<FileState> state = track(from);
  if (Status status = base_.rename(from, to); !status) return status;
  files_.erase(from);
  files_[to] = state;
  journal_.push_back(MetaOp{MetaOp::Kind::kRename, from, to, std::move(saved),
                            {normal(directory_of(from)), normal(directory_of(to))}});
  return Status::ok();
}

Status FaultInjectionFileSystem::unlink(const std::string& path) noexcept {
  const std::lock_guard lock(mutex_);
  if (Status injected = inject(FaultOp::kUnlink, "unlink", path); !injected) return injected;
  auto content = durable_content(path);
  if (!content) return content.status();
  if (Status status = base_.unlink(path); !status) return status;
  files_.erase(path);
  journal_.push_back(MetaOp{MetaOp::Kind::kUnlink, path, {}, std::move(*content), {normal(directory_of(path))}});
  return Status::ok();
}

Status FaultInjectionFileSystem::create_directory(const std::string& path) noexcept {
  return base_.create_directory(path);
}

Result<std::vector<std::string>> FaultInjectionFileSystem::list_directory(const std::string& path) noexcept {
  return base_.list_directory(path);
}

Status FaultInjectionFileSystem::sync_directory(const std::string& path) noexcept {
  const std::lock_guard lock(mutex_);
  if (Status injected = inject(FaultOp::kSyncDirectory, "fsync", path); !injected) return injected;
  if (Status status = base_.sync_directory(path); !status) return status;
  const std::string dir = normal(path);
  for (MetaOp& op : journal_) op.pending.erase(dir);
  std::erase_if(journal_, [](const MetaOp& op) { return op.pending.empty(); });
  return Status::ok();
}

Result<FileLock> FaultInjectionFileSystem::lock_file(const std::string& path) noexcept {
  return base_.lock_file(path);
}

Result<MappedFile> FaultInjectionFileSystem::map_file(const std::string& path) noexcept {
  const std::lock_guard lock(mutex_);
  if (Status injected = inject(FaultOp::kMapFile, "mmap", path); !injected) return injected;
  return base_.map_file(path);
}

Status FaultInjectionFileSystem::drop_unsynced(const PageFilter& survives) {
  const std::lock_guard lock(mutex_);
  Status first_error;
  auto keep = [&](Status status) {
    if (!status && first_error) first_error = std::move(status);
  };
  for (const auto& [path, state] : files_) {
    const auto size = base_.file_size(path);
    if (!size) continue;  // unlinked behind our back
    if (state->lost.empty() && !survives) {
      if (*size > state->synced) keep(base_.truncate(path, state->synced));
      continue;
    }
    auto whole = base_.read_file(path);
    auto content = durable_content(path);
    if (!whole || !content) {
      keep(whole ? content.status() : whole.status());
      continue;
    }
    for (std::uint64_t page = state->synced / kPageBytes * kPageBytes; survives && page < whole->size();
         page += kPageBytes) {
      if (!survives(path, page)) continue;
      const auto from = static_cast<std::size_t>(std::max(page, state->synced));
      const auto to = static_cast<std::size_t>(std::min<std::uint64_t>(page + kPageBytes, whole->size()));
      if (content->size() < to) content->resize(to, '\0');
      content->replace(from, to - from, *whole, from, to - from);
    }
    for (const auto& [begin, end] : state->lost) {  // lost for good, whatever survived around them
      for (std::uint64_t at = begin; at < end && at < content->size(); ++at) (*content)[at] = '\0';
    }
    keep(write_whole(path, *content));
  }
  for (auto op = journal_.rbegin(); op != journal_.rend(); ++op) {
    switch (op->kind) {
      case MetaOp::Kind::kCreate:
        if (Status status = base_.unlink(op->path); !status && status.error_number() != ENOENT) keep(status);
        break;
      case MetaOp::Kind::kRename:
        keep(base_.rename(op->to, op->path));
        if (op->saved) keep(write_whole(op->to, *op->saved));
        break;
      case MetaOp::Kind::kUnlink:
        keep(write_whole(op->path, *op->saved));
        break;
    }
  }
  files_.clear();
  journal_.clear();
  power_cut_ = false;
  power_cut_at_.reset();
  return first_error;
}

void FaultInjectionFileSystem::fail_nth(FaultOp op, int nth, int error_number) {
  const std::lock_guard lock(mutex_);
  faults_[static_cast<std::size_t>(op)] = Fault{nth, error_number};
}

void FaultInjectionFileSystem::limit_bytes(std::uint64_t budget) {
  const std::lock_guard lock(mutex_);
  byte_budget_ = budget;
  bytes_appended_ = 0;
}

std::uint64_t FaultInjectionFileSystem::calls(FaultOp op) const {
  const std::lock_guard lock(mutex_);
  return calls_[static_cast<std::size_t>(op)];
}

void FaultInjectionFileSystem::cut_power() {
  const std::lock_guard lock(mutex_);
  power_cut_ = true;
}

void FaultInjectionFileSystem::cut_power_at(FaultOp op, int nth) {
  const std::lock_guard lock(mutex_);
  power_cut_at_.emplace(op, nth);
}

bool FaultInjectionFileSystem::power_is_cut() const {
  const std::lock_guard lock(mutex_);
  return power_cut_;
}

void FaultInjectionFileSystem::pass_sync_gate() {
  std::unique_lock lock(gate_mutex_);
  ++at_gate_;
  gate_changed_.notify_all();
  gate_changed_.wait(lock, [&] { return !gate_closed_ || passes_ > 0; });
  if (gate_closed_) --passes_;
  --at_gate_;
  gate_changed_.notify_all();
}

void FaultInjectionFileSystem::pass_syncs(std::size_t n) {
  const std::lock_guard lock(gate_mutex_);
  passes_ += n;
  gate_changed_.notify_all();
}

void FaultInjectionFileSystem::close_sync_gate() {
  const std::lock_guard lock(gate_mutex_);
  gate_closed_ = true;
}

void FaultInjectionFileSystem::open_sync_gate() {
  const std::lock_guard lock(gate_mutex_);
  gate_closed_ = false;
  passes_ = 0;
  gate_changed_.notify_all();
}

bool FaultInjectionFileSystem::wait_for_syncs_at_gate(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(gate_mutex_);
  return gate_changed_.wait_for(lock, timeout, [&] { return gate_closed_ && at_gate_ >= n; });
}

}  // namespace durable::test
