// BucketStore get/put against a bare std::unordered_map doing the same work without shards, locks, keyed
// hashing, metadata or accounting: the ratio is what those cost a single thread. The memory goal's shape
// (100-byte values with a content type), and the two hashes: the keyed SipHash of ids against std::hash per
// id length, and the ETag's XXH64 per value length.
#include <benchmark/benchmark.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/shared_bytes.h"
#include "base/siphash.h"
#include "base/xxhash64.h"
#include "store/bucket_store.h"

namespace {

constexpr std::size_t kIds = 10'000;
constexpr base::HashKey kKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

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
  static store::BucketStore store(1u << 30, kKey);
  [[maybe_unused]] static const bool filled = [] {
    for (const std::string& id : kIdList) store.put(id, std::string(16, 'v'));
    return true;
  }();
  return store;
}

void BM_StoreGet(benchmark::State& state) {
  store::BucketStore& shared = filled_store();
  // Threads start at different ids so that they do not walk the same values in step.
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (kIds / 2);
  store::Lookup out;  // one per thread, as each event loop keeps one
  for (auto _ : state) {
    benchmark::DoNotOptimize(shared.get(kIdList[i++ % kIds], out));
    benchmark::DoNotOptimize(out.value.data());
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

// A received 1 KiB body handed over as the connection will: built in a ByteBuilder, stored without a copy.
void BM_StorePutBuilder(benchmark::State& state) {
  store::BucketStore store(1u << 30, kKey);
  base::MemoryAccount bodies(1u << 30);
  const std::string body(1024, 'x');
  std::size_t i = 0;
  for (auto _ : state) {
    base::ByteBuilder builder(&bodies);
    if (!builder.reserve_more(body.size(), body.size())) state.SkipWithError("reserve");
    builder.append(body);
    const auto outcome = store.put(kIdList[i++ % 1000], std::move(builder), "application/octet-stream", 1);
    benchmark::DoNotOptimize(outcome);
  }
}
BENCHMARK(BM_StorePutBuilder)->Name("store/put_1KiB_builder");

void BM_StorePutCopy(benchmark::State& state) {
  store::BucketStore store(1u << 30, kKey);
  const std::string body(1024, 'x');
  std::size_t i = 0;
  for (auto _ : state) {
    const auto outcome = store.put(kIdList[i++ % 1000], std::string_view(body), "application/octet-stream", 1);
    benchmark::DoNotOptimize(outcome);
  }
}
// Named as before the builder variant existed: bench/micro_main.cpp compares it with the reference.
BENCHMARK(BM_StorePutCopy)->Name("store/put_1KiB");

// The memory goal's shape: 100-byte values with a content type, replaced in place (a copy into the slot).
void BM_StorePut100Typed(benchmark::State& state) {
  store::BucketStore store(1u << 30, kKey);
  const std::string body(100, 'x');
  std::size_t i = 0;
  for (auto _ : state) {
    const auto outcome = store.put(kIdList[i++ % kIds], std::string_view(body), "application/json", 1);
    benchmark::DoNotOptimize(outcome);
  }
}
BENCHMARK(BM_StorePut100Typed)->Name("store/put_100B_typed");

// Creating and erasing entries: the slot, its page when the class needs one, the table's resizes.
void BM_StorePutErase(benchmark::State& state) {
  store::BucketStore store(1u << 30, kKey);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& id = kIdList[i++ % kIds];
    benchmark::DoNotOptimize(store.put(id, std::string_view("v")));
    benchmark::DoNotOptimize(store.erase(id));
  }
}
BENCHMARK(BM_StorePutErase)->Name("store/put_erase_1B");

std::string id_of_length(std::size_t length) { return std::string(length, 'i'); }

void BM_SipHash13(benchmark::State& state) {
  const std::string id = id_of_length(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(id.data());
    benchmark::DoNotOptimize(base::siphash13(kKey, id));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_SipHash13)->Name("hash/siphash13")->Arg(8)->Arg(64)->Arg(1024);

void BM_StdHash(benchmark::State& state) {
  const std::string id = id_of_length(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(id.data());
    benchmark::DoNotOptimize(std::hash<std::string_view>{}(id));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_StdHash)->Name("hash/std_hash_reference")->Arg(8)->Arg(64)->Arg(1024);

void BM_XxHash64(benchmark::State& state) {
  const std::string value(static_cast<std::size_t>(state.range(0)), 'v');
  for (auto _ : state) {
    benchmark::DoNotOptimize(value.data());
    benchmark::DoNotOptimize(base::xxhash64(value));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_XxHash64)->Name("hash/xxhash64")->Arg(100)->Arg(1024)->Arg(1 << 20);

}  // namespace
