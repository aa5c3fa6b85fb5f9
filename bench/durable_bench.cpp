// CRC32C with the CPU's crc32 instruction against slicing-by-8 tables, per buffer size (bytes_per_second is
// the throughput), and the log codec: a put's head encoded, and a whole segment of 1 KiB puts scanned as
// recovery scans it.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include "base/crc32c.h"
#include "durable/log_scan.h"
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
