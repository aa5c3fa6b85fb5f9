// Runs the micro-benchmarks with the usual console output, then prints each hot path as a ratio to a
// reference measured in the same process (or to a target), since absolute times on a shared machine move
// from run to run while ratios of neighbouring measurements hold.
//
// With --benchmark_repetitions=N the medians are used. Pass --benchmark_enable_random_interleaving=true to
// spread each benchmark's repetitions over the run, so a burst of load elsewhere hits subject and
// reference alike.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Remembers one time per benchmark: CPU nanoseconds per operation. CPU time is immune to preemption by
// other load on the machine, and in a multi-threaded run (CPU time of all threads over all their
// operations) it grows exactly when the threads slow each other down: cache lines bouncing, spinning.
class RatioReporter final : public benchmark::ConsoleReporter {
 public:
  // Counters as columns, no colour codes: the output usually goes to a file.
  RatioReporter() : ConsoleReporter(OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
      if (!median && !single) continue;
      const double to_ns = 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
      nanoseconds_[run.run_name.str()] = run.GetAdjustedCPUTime() * to_ns;
      if (const auto rate = run.counters.find("items_per_second"); rate != run.counters.end()) {
        items_per_second_[run.run_name.str()] = rate->second.value;
      }
    }
  }
  const double* find(const std::string& name) const {
    const auto it = nanoseconds_.find(name);
    return it == nanoseconds_.end() ? nullptr : &it->second;
  }
  const double* find_rate(const std::string& name) const {
    const auto it = items_per_second_.find(name);
    return it == items_per_second_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, double> nanoseconds_;
  std::map<std::string, double> items_per_second_;
};

struct Comparison {
  std::string_view subject;
  std::string_view reference;  // a benchmark name, or empty to compare with target_ns
  double target_ns;
  std::string_view reading;    // how to read the ratio
};

constexpr Comparison kComparisons[] = {
    {"parse/parse_request_head/0", "parse/memchr_reference/0", 0, "wrk's 2-line head: parsing vs finding its line ends"},
    {"parse/parse_request_head/1", "parse/memchr_reference/1", 0, "typical 8-line head: parsing vs finding its line ends"},
    {"connection/get_fixed_answer", "parse/parse_request_head/0", 0,
     "whole keep-alive GET through Connection vs parsing its head"},
    {"connection/get_1MiB_shared_fixed_answer", "connection/get_fixed_answer", 0,
     "a 1 MiB GET sent from shared memory vs a 16-byte one: ~1 means the body costs nothing to queue"},
    {"connection/put_1KiB_fixed_answer", "connection/get_fixed_answer", 0,
     "a 1 KiB PUT vs a 16-byte GET, both through the connection alone: reading and charging the body"},
    {"connection/get_16B_bucket_service", "connection/get_fixed_answer", 0,
     "the service's handler (route, store, metrics) on top of the connection"},
    {"connection/get_1MiB_bucket_service", "connection/get_1MiB_shared_fixed_answer", 0,
     "the service's 1 MiB GET vs the same answer by reference: the service's routing, store lookup and metrics"},
    {"connection/put_1KiB_bucket_service", "connection/get_16B_bucket_service", 0,
     "a 1 KiB PUT vs a 16-byte GET, both through the service"},
    {"metrics/histogram_observe/threads:1", "metrics/atomic_fetch_add_reference", 0,
     "one histogram observation vs one relaxed atomic fetch_add"},
    {"metrics/histogram_observe/threads:2", "metrics/histogram_observe/threads:1", 0,
     "CPU per op with two writers (own shards) vs one: ~1 means no contention"},
    {"metrics/request_metrics_observe", "metrics/histogram_observe/threads:1", 0,
     "labels to series index on top of the observation"},
    {"metrics/observe_classic_native_exemplar/threads:1", "metrics/histogram_observe/threads:1", 0,
     "classic buckets + native histogram + exemplar vs classic buckets alone (issue target: at most 2)"},
    {"metrics/request_metrics_observe_exemplar", "metrics/request_metrics_observe", 0,
     "a request's observation with its exemplar vs without one (both with labels and native buckets)"},
    {"scrape/render_realistic_31_series", "", 100'000, "render of a realistic /metrics vs the 100 us target"},
    {"scrape/render_all_768_series", "", 100'000, "render with every label combination vs the 100 us target"},
    {"scrape/process_collector_only", "scrape/render_realistic_31_series", 0,
     "share of the realistic render spent reading /proc"},
    {"store/get_16B/threads:1", "store/unordered_map_get_reference", 0,
     "store get vs an unlocked unordered_map find + shared_ptr copy"},
    {"store/get_16B/threads:2", "store/get_16B/threads:1", 0,
     "CPU per op with two readers vs one: ~1 means no contention"},
    {"store/put_1KiB", "store/unordered_map_put_reference", 0, "store put vs an unlocked unordered_map insert"},
    {"log/access_line_through_queue/threads:1", "log/format_access_line", 0,
     "an access-log line handed to the writer thread vs only formatting it"},
    {"log/access_line_through_queue/threads:2", "log/access_line_through_queue/threads:1", 0,
     "CPU per line with two logging threads vs one: the queue's mutex contended"},
    {"log/access_line_process_cpu/process_time/real_time", "log/access_line_through_queue/threads:1", 0,
     "the line's cost to the whole process (writer thread included) vs to the caller"},
    {"log/access_line_dropped", "log/format_access_line", 0, "a line dropped because stderr is full vs formatting it"},
    {"crc32c/hardware/1048576", "crc32c/software/1048576", 0,
     "CRC32C of 1 MiB with the crc32 instruction (three interleaved streams) vs slicing-by-8 tables"},
    {"crc32c/hardware/64", "crc32c/software/64", 0, "the same over a 64-byte record head"},
};

// Throughput, for what is bound by waiting (the disk) rather than by CPU: items per second, real time.
struct RateComparison {
  std::string_view subject;
  std::string_view reference;
  std::string_view reading;
};

constexpr RateComparison kRateComparisons[] = {
    {"durable/log_1KiB_always/disk/window:1/real_time/threads:4",
     "durable/log_1KiB_always/disk/window:1/real_time/threads:1",
     "durable records/s, 4 synchronous submitters vs 1 on the disk: group commit"},
    {"durable/log_1KiB_always/disk/window:1/real_time/threads:16",
     "durable/log_1KiB_always/disk/window:1/real_time/threads:1",
     "the same with 16 submitters"},
    {"durable/log_1KiB_always/disk/window:64/real_time/threads:1",
     "durable/log_1KiB_always/disk/window:1/real_time/threads:1",
     "one submitter keeping 64 records in flight vs 1"},
    {"durable/log_1KiB_always/tmpfs/window:1/real_time/threads:1",
     "durable/log_1KiB_always/disk/window:1/real_time/threads:1",
     "tmpfs vs the disk, one synchronous submitter: what fdatasync costs"},
    {"durable/log_1KiB_always/tmpfs/window:1/real_time/threads:16",
     "durable/log_1KiB_always/tmpfs/window:1/real_time/threads:1",
     "16 submitters vs 1 on tmpfs, where the hand-off to the log thread is the cost"},
};

void print_rate_ratios(const RatioReporter& reporter) {
  std::printf("\n## Throughput ratios (items per second, real time)\n\n");
  std::printf("| subject | items/s | reference | items/s | ratio | reading |\n|---|---:|---|---:|---:|---|\n");
  for (const RateComparison& c : kRateComparisons) {
    const double* subject = reporter.find_rate(std::string(c.subject));
    const double* reference = reporter.find_rate(std::string(c.reference));
    if (subject == nullptr || reference == nullptr) continue;
    std::printf("| %.*s | %.0f | %.*s | %.0f | %.2f | %.*s |\n", static_cast<int>(c.subject.size()), c.subject.data(),
                *subject, static_cast<int>(c.reference.size()), c.reference.data(), *reference, *subject / *reference,
                static_cast<int>(c.reading.size()), c.reading.data());
  }
}

void print_ratios(const RatioReporter& reporter) {
  std::printf("\n## Ratios (same process; medians when repeated)\n\n");
  std::printf("| subject | ns/op | reference | ns/op | ratio | reading |\n|---|---:|---|---:|---:|---|\n");
  for (const Comparison& c : kComparisons) {
    const double* subject = reporter.find(std::string(c.subject));
    const double* reference = c.reference.empty() ? &c.target_ns : reporter.find(std::string(c.reference));
    if (subject == nullptr || reference == nullptr) continue;  // filtered out by --benchmark_filter
    const std::string reference_name = c.reference.empty() ? "target" : std::string(c.reference);
    std::printf("| %.*s | %.1f | %s | %.1f | %.2f | %.*s |\n", static_cast<int>(c.subject.size()), c.subject.data(),
                *subject, reference_name.c_str(), *reference, *subject / *reference,
                static_cast<int>(c.reading.size()), c.reading.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_ratios(reporter);
  print_rate_ratios(reporter);
  benchmark::Shutdown();
  return 0;
}
