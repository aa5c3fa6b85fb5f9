// BucketStore get/put against a bare std::unordered_map doing the same work without shards or locks: the
// ratio is what thread safety costs a single thread.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/bucket_store.h"

namespace {

constexpr std::size_t kIds = 10'000;

std::vector<std::string> make_ids() {
  std::vector<std::string> ids;
  ids.reserve(kIds);
  for (std::size_t i = 0; i < kIds; ++i) ids.push_back("bucket-" + std::to_string(i * 7919));
  return ids;
}

const std::vector<std::string> kIdList = make_ids();

using Reference = std::unordered_map<std::string, std::shared_ptr<const std::string>>;

void BM_ReferenceGet(benchmark::State& state) {
  Reference map;
  for (const std::string& id : kIdList) map.emplace(id, std::make_shared<const std::string>(16, 'v'));
  std::size_t i = 0;
  for (auto _ : state) {
    const auto found = map.find(kIdList[i++ % kIds]);
    std::shared_ptr<const std::string> blob = found == map.end() ? nullptr : found->second;
    benchmark::DoNotOptimize(blob.get());
  }
}
BENCHMARK(BM_ReferenceGet)->Name("store/unordered_map_get_reference");

// Shared by the threads of the two-thread run: readers of one store, as the event loops are.
store::BucketStore& filled_store() {
  static store::BucketStore store(1u << 30);
  [[maybe_unused]] static const bool filled = [] {
    for (const std::string& id : kIdList) store.put(id, std::string(16, 'v'));
    return true;
  }();
  return store;
}

void BM_StoreGet(benchmark::State& state) {
  store::BucketStore& shared = filled_store();
  // Threads start at different ids so that they do not walk the same blobs in step.
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (kIds / 2);
  for (auto _ : state) {
    store::Blob blob = shared.get(kIdList[i++ % kIds]);
    benchmark::DoNotOptimize(blob.get());
  }
}
BENCHMARK(BM_StoreGet)->Name("store/get_16B")->Threads(1)->Threads(2);

void BM_ReferencePut(benchmark::State& state) {
  Reference map;
  std::size_t i = 0;
  for (auto _ : state) {
    std::string value(1024, 'x');
    map.insert_or_assign(kIdList[i++ % 1000], std::make_shared<const std::string>(std::move(value)));
  }
}
BENCHMARK(BM_ReferencePut)->Name("store/unordered_map_put_reference");

void BM_StorePut(benchmark::State& state) {
  store::BucketStore store(1u << 30);
  std::size_t i = 0;
  for (auto _ : state) {
    std::string value(1024, 'x');
    const auto result = store.put(kIdList[i++ % 1000], std::move(value));
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_StorePut)->Name("store/put_1KiB");

}  // namespace
