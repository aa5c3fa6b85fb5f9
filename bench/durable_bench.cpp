// CRC32C with the CPU's crc32 instruction against slicing-by-8 tables, per buffer size (bytes_per_second is
// the throughput), the log codec (a put's head encoded, and a whole segment of 1 KiB puts scanned as
// recovery scans it), and the log writer's group commit on a real file.
#include <benchmark/benchmark.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/vfs.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <system_error>

#include "base/crc32c.h"
#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "durable/file_ops.h"
#include "durable/log_scan.h"
#include "durable/log_writer.h"
#include "durable/record.h"

namespace {

std::string random_bytes(std::size_t n) {
  std::mt19937_64 rng(42);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

template <std::uint32_t (*Crc)(std::uint32_t, std::string_view) noexcept>
void BM_Crc32c(benchmark::State& state) {
  if (Crc == &base::crc32c_hardware && !base::crc32c_hardware_available()) {
    state.SkipWithError("no crc32 instruction on this CPU");
    return;
  }
  const std::string buffer = random_bytes(static_cast<std::size_t>(state.range(0)));
  std::uint32_t crc = 0;
  for (auto _ : state) {
    crc = Crc(crc, buffer);
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32c<base::crc32c_hardware>)->Name("crc32c/hardware")->Arg(64)->Arg(4096)->Arg(1 << 20);
BENCHMARK(BM_Crc32c<base::crc32c_software>)->Name("crc32c/software")->Arg(64)->Arg(4096)->Arg(1 << 20);

const std::string kValue = random_bytes(1024);

void BM_EncodePutHead(benchmark::State& state) {
  std::array<char, durable::kMaxHeadBytes> head{};
  std::uint64_t sequence = 1;
  for (auto _ : state) {
    const auto record =
        durable::put_record(sequence++, "bucket-1234", kValue, 0x1234, 1'700'000'000, "application/json");
    auto size = durable::encode_head(record, durable::RecordLimits{}, head);
    benchmark::DoNotOptimize(size);
  }
}
BENCHMARK(BM_EncodePutHead)->Name("durable/encode_put_head_1KiB");

void BM_ScanLog(benchmark::State& state) {
  const auto header = durable::encode_file_header(1);
  std::string log(header.data(), header.size());
  for (std::uint64_t sequence = 1; log.size() < (16u << 20); ++sequence) {
    const std::string id = "bucket-" + std::to_string(sequence % 10'000);
    if (!durable::append_record(durable::put_record(sequence, id, kValue, sequence, 1'700'000'000, "text/plain"),
                                durable::RecordLimits{}, log)) {
      state.SkipWithError("append_record failed");
      return;
    }
  }
  std::uint64_t bytes_seen = 0;
  for (auto _ : state) {
    const durable::ScanResult result =
        durable::scan_log(log, durable::RecordLimits{}, [&](const durable::Record& record, std::size_t, std::size_t) {
          bytes_seen += record.value.size();
        });
    if (result.verdict != durable::ScanVerdict::kClean) state.SkipWithError("the log did not scan clean");
    benchmark::DoNotOptimize(bytes_seen);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * log.size()));
}
BENCHMARK(BM_ScanLog)->Name("durable/scan_log_16MiB_of_1KiB_puts")->Unit(benchmark::kMillisecond);

}  // namespace

// The log writer with group commit (FSYNC=always) on a real file: each benchmark thread is a submitter that
// keeps `window` 1 KiB puts in flight, waiting for each to be durable as a client waits for its answer.
// items_per_second is records per second over all submitters; records_per_sync how many records one
// write + fdatasync carried (1 without group commit). Run on the disk (TMPDIR, or /var/tmp when that is
// tmpfs) and on tmpfs (/dev/shm), where fdatasync costs next to nothing and the hand-off alone is measured.
namespace {

enum class Medium { kDisk, kTmpfs };

bool on_tmpfs(const std::string& dir) {
  struct statfs fs {};
  return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

std::string bench_directory(Medium medium) {
  if (medium == Medium::kTmpfs) return on_tmpfs("/dev/shm") ? "/dev/shm" : "";
  const std::string temp = std::filesystem::temp_directory_path().string();
  if (!on_tmpfs(temp)) return temp;
  return on_tmpfs("/var/tmp") ? "" : "/var/tmp";
}

class Waiter final : public durable::Completion {
 public:
  void logged(std::uint64_t, const base::Status& status) noexcept override {
    if (!status) failed_.store(true, std::memory_order_relaxed);
    done_.fetch_add(1, std::memory_order_release);
    done_.notify_one();
  }
  void wait_for(std::uint64_t n) const noexcept {
    for (std::uint64_t seen = done_.load(std::memory_order_acquire); seen < n;
         seen = done_.load(std::memory_order_acquire)) {
      done_.wait(seen, std::memory_order_acquire);
    }
  }
  bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> done_{0};
  std::atomic<bool> failed_{false};
};

struct SharedLog {
  std::string directory;
  base::MemoryAccount budget{std::size_t{256} << 20};
  durable::PosixFileSystem fs;
  std::unique_ptr<durable::LogWriter> writer;
  base::SharedBytes value = base::SharedBytes::copy_of(kValue);
};

template <Medium kMedium>
void BM_LogWriter(benchmark::State& state) {
  static SharedLog shared;  // set up and torn down by thread 0; the loop's start and end are barriers
  const auto window = static_cast<std::uint64_t>(state.range(0));
  if (state.thread_index() == 0) {
    const std::string base_dir = bench_directory(kMedium);
    shared.directory = base_dir.empty() ? "" : base_dir + "/storage_api_log_bench.XXXXXX";
    if (shared.directory.empty() || ::mkdtemp(shared.directory.data()) == nullptr) {
      state.SkipWithError("no directory on that medium");
    } else {
      durable::LogWriterOptions options;
      options.directory = shared.directory;
      auto writer = durable::LogWriter::open(shared.fs, shared.budget, options);
      if (!writer) {
        state.SkipWithError(writer.status().message().c_str());
      } else {
        shared.writer = std::move(*writer);
      }
    }
  }
  Waiter waiter;
  std::uint64_t submitted = 0;
  const std::string id = "bucket-" + std::to_string(state.thread_index());
  for (auto _ : state) {
    if (!shared.writer) break;  // thread 0 failed to set up
    const auto record = durable::put_record(0, id, shared.value.view(), 1, 1'700'000'000, "application/octet-stream");
    if (!shared.writer->submit(record, shared.value, waiter)) {
      state.SkipWithError("submit refused");
      break;
    }
    ++submitted;
    if (submitted >= window) waiter.wait_for(submitted - window + 1);
  }
  waiter.wait_for(submitted);
  if (waiter.failed()) state.SkipWithError("a record failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(submitted));
  if (state.thread_index() == 0 && shared.writer) {
    const base::Status closed = shared.writer->close();
    const durable::LogWriterStats stats = shared.writer->stats();
    if (!closed) state.SkipWithError(closed.message().c_str());
    const auto syncs = static_cast<double>(std::max<std::uint64_t>(stats.syncs, 1));
    state.counters["records_per_sync"] = static_cast<double>(stats.records_written) / syncs;
    state.counters["syncs_per_batch"] = syncs / static_cast<double>(std::max<std::uint64_t>(stats.batches, 1));
    state.counters["max_batch"] = static_cast<double>(stats.max_batch_records);
    state.counters["fdatasync_us"] = static_cast<double>(stats.sync_nanoseconds_sum) / syncs / 1e3;
    shared.writer.reset();
    std::error_code ignored;
    std::filesystem::remove_all(shared.directory, ignored);
  }
}
BENCHMARK(BM_LogWriter<Medium::kDisk>)
    ->Name("durable/log_1KiB_always/disk")
    ->ArgName("window")
    ->Arg(1)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(4)
    ->Threads(16);
BENCHMARK(BM_LogWriter<Medium::kDisk>)
    ->Name("durable/log_1KiB_always/disk")
    ->ArgName("window")
    ->Arg(64)
    ->UseRealTime()
    ->Threads(1);
BENCHMARK(BM_LogWriter<Medium::kTmpfs>)
    ->Name("durable/log_1KiB_always/tmpfs")
    ->ArgName("window")
    ->Arg(1)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(4)
    ->Threads(16);
BENCHMARK(BM_LogWriter<Medium::kTmpfs>)
    ->Name("durable/log_1KiB_always/tmpfs")
    ->ArgName("window")
    ->Arg(64)
    ->UseRealTime()
    ->Threads(1);

}  // namespace
