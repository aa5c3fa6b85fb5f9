// One access-log line as StorageService logs it: formatting only (what every logging thread must pay), the
// whole call through the queue to the writer thread, and a call whose line is dropped because the
// descriptor is full. Times are the calling thread's CPU unless the name says process_cpu.
#include <fcntl.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "app/log.h"

namespace {

void log_access_line(const app::Logger& logger) {
  logger.info("request", {{"method", std::string_view("GET")},
                          {"target", std::string_view("/api/buckets/bench16")},
                          {"route", std::string_view("/api/buckets/{id}")},
                          {"status", std::int64_t{200}},
                          {"duration_seconds", 3.2e-05}});
}

// Reference: the formatting log() does before handing the line over, allocation included.
void BM_FormatAccessLine(benchmark::State& state) {
  for (auto _ : state) {
    std::string line;
    app::append_log_line(line, app::LogLevel::kInfo, "request",
                         {{"method", std::string_view("GET")},
                          {"target", std::string_view("/api/buckets/bench16")},
                          {"route", std::string_view("/api/buckets/{id}")},
                          {"status", std::int64_t{200}},
                          {"duration_seconds", 3.2e-05}});
    benchmark::DoNotOptimize(line.data());
  }
}
BENCHMARK(BM_FormatAccessLine)->Name("log/format_access_line");

// Through the queue to a writer thread writing to /dev/null. Every 1,000 lines the clock stops until the
// writer has caught up, so the queue never fills whatever the scheduler does with the writer: this is the
// cost of a line that is kept. Shared by the threads of the two-thread run, as by the event loops.
void BM_AccessLineThroughQueue(benchmark::State& state) {
  static const int dev_null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  static const app::Logger logger(app::LogLevel::kInfo, dev_null);
  constexpr std::size_t kCaughtUp = 256 * 1024;  // with two threads' batches of ~150 KB, far from full
  const std::uint64_t dropped_before = logger.dropped_lines();
  std::size_t lines = 0;
  for (auto _ : state) {
    log_access_line(logger);
    if (++lines % 1000 == 0) {
      state.PauseTiming();
      while (logger.queued_bytes() > kCaughtUp) std::this_thread::yield();
      state.ResumeTiming();
    }
  }
  state.counters["dropped"] = benchmark::Counter(static_cast<double>(logger.dropped_lines() - dropped_before),
                                                 benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_AccessLineThroughQueue)->Name("log/access_line_through_queue")->Threads(1)->Threads(2);

// Without pauses, counting the writer thread's CPU too: what a line costs the process in all. When the
// writer falls behind (a busy machine), lines are dropped and `dropped` says how many.
void BM_AccessLineProcessCpu(benchmark::State& state) {
  static const int dev_null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  static const app::Logger logger(app::LogLevel::kInfo, dev_null);
  const std::uint64_t dropped_before = logger.dropped_lines();
  for (auto _ : state) {
    log_access_line(logger);
  }
  state.counters["dropped"] = benchmark::Counter(static_cast<double>(logger.dropped_lines() - dropped_before),
                                                 benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_AccessLineProcessCpu)->Name("log/access_line_process_cpu")->MeasureProcessCPUTime()->UseRealTime();

// A pipe nobody reads, filled first: after the queue has filled, every line is formatted and dropped.
void BM_AccessLineDropped(benchmark::State& state) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    state.SkipWithError("pipe2 failed");
    return;
  }
  const std::string filler(4096, '#');
  while (::write(fds[1], filler.data(), filler.size()) > 0) {
  }
  {
    const app::Logger logger(app::LogLevel::kInfo, fds[1], app::LogQueue::kDefaultCapacity,
                             std::chrono::milliseconds(0));
    while (logger.dropped_lines() == 0) log_access_line(logger);
    const std::uint64_t dropped_before = logger.dropped_lines();
    for (auto _ : state) {
      log_access_line(logger);
    }
    state.counters["dropped"] = benchmark::Counter(static_cast<double>(logger.dropped_lines() - dropped_before),
                                                   benchmark::Counter::kAvgIterations);
  }
  ::close(fds[0]);
  ::close(fds[1]);
}
BENCHMARK(BM_AccessLineDropped)->Name("log/access_line_dropped");

}  // namespace
