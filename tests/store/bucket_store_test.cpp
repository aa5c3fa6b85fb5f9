// BucketStore's operations: what put, get and erase answer, the metadata and content type that come back,
// conditions, binary ids and values, and values on either side of the inline/shared boundary.
#include "store/bucket_store.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/xxhash64.h"
#include "store/slab.h"
#include "store_test_support.h"

namespace store {
namespace {

using namespace std::string_literals;

TEST(BucketStore, PutCreatesThenReplacesAndGetReturnsTheObject) {
  BucketStore store(1 << 20, kTestKey);
  const PutOutcome created = store.put("a", "hello", "text/plain", 1700000000);
  EXPECT_EQ(created.result, PutResult::kCreated);
  EXPECT_EQ(created.meta, (ObjectMeta{base::xxhash64("hello"), 1700000000, 5}));
  EXPECT_EQ(store.bucket_count(), 1u);

  Lookup out;
  ASSERT_TRUE(store.get("a", out));
  EXPECT_EQ(out.value, "hello");
  EXPECT_EQ(out.content_type, "text/plain");
  EXPECT_EQ(out.meta, created.meta);
  EXPECT_FALSE(out.owner) << "a small value is copied out";

  const PutOutcome replaced = store.put("a", "hi", "", 1700000001);
  EXPECT_EQ(replaced.result, PutResult::kReplaced);
  EXPECT_EQ(replaced.meta, (ObjectMeta{base::xxhash64("hi"), 1700000001, 2}));
  ASSERT_TRUE(store.get("a", out));
  EXPECT_EQ(out.value, "hi");
  EXPECT_EQ(out.content_type, "") << "a put without a type leaves none";
  EXPECT_EQ(store.bucket_count(), 1u);
}

// Every short value length, with and without a content type before it in the lookup's buffer, one Lookup
// reused throughout (as a handler reuses it), a large value's reference held in it between small ones.
TEST(BucketStore, ShortValuesOfEveryLengthComeBackWhole) {
  BucketStore store(1 << 20, kTestKey);
  const std::string large(4096, 'L');
  ASSERT_EQ(store.put("large", large).result, PutResult::kCreated);
  Lookup out;
  for (std::size_t n = 0; n <= 40; ++n) {
    std::string value;
    for (std::size_t i = 0; i < n; ++i) value += static_cast<char>('a' + (i * 7 + n) % 26);
    for (const std::string_view type : {std::string_view(), std::string_view("text/plain; charset=utf-8")}) {
      ASSERT_EQ(store.put("v", value, type).result, n == 0 && type.empty() ? PutResult::kCreated : PutResult::kReplaced);
      ASSERT_TRUE(store.get("large", out));
      ASSERT_TRUE(out.owner);
      ASSERT_TRUE(store.get("v", out));
      EXPECT_FALSE(out.owner) << "the large value's reference is dropped";
      EXPECT_EQ(out.value, value) << n;
      EXPECT_EQ(out.content_type, type) << n;
      EXPECT_EQ(out.meta.size, n);
    }
  }
}

TEST(BucketStore, GetOfAnAbsentIdEmptiesTheLookup) {
  BucketStore store(1 << 20, kTestKey);
  ASSERT_EQ(store.put("big", std::string(5000, 'b'), "x/y").result, PutResult::kCreated);
  Lookup out;
  ASSERT_TRUE(store.get("big", out));
  EXPECT_TRUE(out.owner);
  EXPECT_FALSE(store.get("missing", out));
  EXPECT_FALSE(out.owner) << "the previous value's reference is dropped";
  EXPECT_EQ(out.value, "");
  EXPECT_EQ(out.content_type, "");
  EXPECT_EQ(out.meta, ObjectMeta{});
}

TEST(BucketStore, MetadataOnlyGetLeavesTheValueOut) {
  BucketStore store(1 << 20, kTestKey);
  ASSERT_EQ(store.put("small", "abc", "a/b", 42).result, PutResult::kCreated);
  ASSERT_EQ(store.put("large", std::string(4000, 'L'), "c/d", -42).result, PutResult::kCreated);
  Lookup out;
  ASSERT_TRUE(store.get("small", out, false));
  EXPECT_EQ(out.value, "");
  EXPECT_EQ(out.content_type, "a/b");
  EXPECT_EQ(out.meta, (ObjectMeta{base::xxhash64("abc"), 42, 3}));
  ASSERT_TRUE(store.get("large", out, false));
  EXPECT_FALSE(out.owner) << "no reference is taken for a metadata-only look-up";
  EXPECT_EQ(out.value, "");
  EXPECT_EQ(out.content_type, "c/d");
  EXPECT_EQ(out.meta, (ObjectMeta{base::xxhash64(std::string(4000, 'L')), -42, 4000}));
}

TEST(BucketStore, ModificationTimesRoundTripWithin56Bits) {
  BucketStore store(1 << 20, kTestKey);
  const std::int64_t times[] = {0, 1, -1, 1700000000, -1700000000, entry::kMaxModified, entry::kMinModified};
  Lookup out;
  for (const std::int64_t t : times) {
    ASSERT_EQ(store.put("t", "v", "", t).meta.modified, t);
    ASSERT_TRUE(store.get("t", out));
    EXPECT_EQ(out.meta.modified, t);
  }
  EXPECT_EQ(store.put("t", "v", "", INT64_MAX).meta.modified, entry::kMaxModified);
  ASSERT_TRUE(store.get("t", out));
  EXPECT_EQ(out.meta.modified, entry::kMaxModified);
  EXPECT_EQ(store.put("t", "v", "", INT64_MIN).meta.modified, entry::kMinModified);
}

TEST(BucketStore, TheETagIsTheFixedSeedXxh64OfTheBytes) {
  BucketStore first(1 << 20, kTestKey);
  BucketStore second(1 << 20, base::HashKey{7, 8});
  const std::string large(3000, 'q');
  for (const std::string& value : {""s, "x"s, "hello world"s, large}) {
    const std::uint64_t etag = first.put("id", value).meta.etag;
    EXPECT_EQ(etag, base::xxhash64(value, 0));
    EXPECT_EQ(second.put("other", value).meta.etag, etag) << "the ETag does not depend on the store's key";
  }
  EXPECT_EQ(first.put("id", "").meta.etag, 0xEF46DB3751D8E999ULL);
}

TEST(BucketStore, EraseAnswersWhetherItErased) {
  BucketStore store(1 << 20, kTestKey);
  ASSERT_EQ(store.put("a", "1").result, PutResult::kCreated);
  EXPECT_EQ(store.erase("a"), EraseResult::kErased);
  EXPECT_EQ(store.erase("a"), EraseResult::kNotFound);
  Lookup out;
  EXPECT_FALSE(store.get("a", out));
  EXPECT_EQ(store.bucket_count(), 0u);
  EXPECT_EQ(store.stored_bytes(), 0u) << "an empty store is charged nothing";
}

TEST(BucketStore, ConditionsDecideAgainstTheCurrentObject) {
  BucketStore store(1 << 20, kTestKey);
  const IfAbsent if_absent;
  const PutOutcome first = store.put("c", "one", "", 1, &if_absent);
  ASSERT_EQ(first.result, PutResult::kCreated);
  const PutOutcome again = store.put("c", "two", "", 2, &if_absent);
  EXPECT_EQ(again.result, PutResult::kPreconditionFailed);
  EXPECT_EQ(again.meta, first.meta) << "a refusal reports the current object";

  const IfMatch stale(first.meta.etag + 1);
  EXPECT_EQ(store.put("c", "two", "", 2, &stale).result, PutResult::kPreconditionFailed);
  EXPECT_EQ(store.erase("c", &stale), EraseResult::kPreconditionFailed);
  Lookup out;
  ASSERT_TRUE(store.get("c", out));
  EXPECT_EQ(out.value, "one") << "refused conditions change nothing";

  const IfMatch current(first.meta.etag);
  EXPECT_EQ(store.put("c", "two", "", 2, &current).result, PutResult::kReplaced);
  EXPECT_EQ(store.erase("c", &current), EraseResult::kPreconditionFailed) << "the ETag changed with the value";
  const IfMatch now(base::xxhash64("two"));
  EXPECT_EQ(store.erase("c", &now), EraseResult::kErased);

  // An absent id: the condition decides between kNotFound and kPreconditionFailed.
  EXPECT_EQ(store.erase("c", &now), EraseResult::kPreconditionFailed);
  EXPECT_EQ(store.erase("c", &if_absent), EraseResult::kNotFound);
  EXPECT_EQ(store.put("c", "x", "", 0, &now).result, PutResult::kPreconditionFailed);
  EXPECT_EQ(store.bucket_count(), 0u);
}

TEST(BucketStore, BinaryIdsAndValuesRoundTrip) {
  BucketStore store(1 << 20, kTestKey);
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  const std::string ids[] = {"\0"s, "\0\0"s, "a\0b"s, "\xff\xfe"s, every_byte, std::string(kMaxIdBytes, '\0')};
  for (const std::string& id : ids) {
    ASSERT_EQ(store.put(id, every_byte + id, "application/octet-stream").result, PutResult::kCreated);
  }
  EXPECT_EQ(store.bucket_count(), std::size(ids));
  Lookup out;
  for (const std::string& id : ids) {
    ASSERT_TRUE(store.get(id, out)) << id.size();
    EXPECT_EQ(out.value, every_byte + id);
  }
  EXPECT_FALSE(store.get("a"s, out)) << "ids differing only after a NUL are distinct";
  EXPECT_FALSE(store.get("\0\0\0"s, out));
}

TEST(BucketStore, InvalidIdsAndTypesAreRefused) {
  BucketStore store(1 << 20, kTestKey);
  EXPECT_EQ(store.put("", "v").result, PutResult::kCapacityExceeded);
  EXPECT_EQ(store.put(std::string(kMaxIdBytes + 1, 'i'), "v").result, PutResult::kCapacityExceeded);
  EXPECT_EQ(store.put("ok", "v", std::string(kMaxContentTypeBytes + 1, 't')).result, PutResult::kCapacityExceeded);
  EXPECT_EQ(store.put("ok", "v", std::string(kMaxContentTypeBytes, 't')).result, PutResult::kCreated);
  EXPECT_FALSE(store.would_fit("", 1));
  EXPECT_EQ(BucketStore::entry_bytes(0, 1), SIZE_MAX);
  EXPECT_EQ(store.bucket_count(), 1u);
}

// The largest value kept inline for an id of `id_size` bytes and no kept type.
std::size_t largest_inline(std::size_t id_size) { return kMaxEntryBytes - entry::kHeaderBytes - id_size; }

TEST(BucketStore, ValuesUpToTheLargestClassAreInlineAndLargerOnesShared) {
  BucketStore store(1 << 24, kTestKey);
  for (const std::size_t id_size : {1u, 17u, 1024u}) {
    const std::string id(id_size, 'i');
    const std::size_t inline_size = largest_inline(id_size);
    for (const std::size_t size : {inline_size - 1, inline_size, inline_size + 1, inline_size + 100}) {
      const std::string value = test_value(size, id_size);
      ASSERT_NE(store.put(id, value, "t/t").result, PutResult::kCapacityExceeded);
      Lookup out;
      ASSERT_TRUE(store.get(id, out));
      EXPECT_EQ(out.value, value);
      EXPECT_EQ(out.content_type, "t/t");
      const bool shared = size > inline_size;
      EXPECT_EQ(static_cast<bool>(out.owner), shared) << "id " << id_size << ", value " << size;
      if (shared) {
        EXPECT_EQ(out.value.data(), out.owner.data()) << "a large value is handed out, not copied";
      }
      EXPECT_EQ(store.usage().large_entries, shared ? 1u : 0u);
      EXPECT_EQ(BucketStore::entry_bytes(id_size, size),
                shared ? SizeClasses::bytes(SizeClasses::of(entry::kLargeHeaderBytes + id_size)) +
                             base::SharedBytes::header_bytes() + BucketStore::kLargeBlockOverheadBytes + size
                       : SizeClasses::bytes(SizeClasses::of(entry::kHeaderBytes + id_size + size)));
    }
    ASSERT_EQ(store.erase(id), EraseResult::kErased);
  }
  EXPECT_EQ(store.stored_bytes(), 0u);
}

TEST(BucketStore, AHeldLargeValueOutlivesItsReplacementAndStaysCharged) {
  BucketStore store(1 << 20, kTestKey);
  const std::string first(5000, '1');
  ASSERT_EQ(store.put("v", first).result, PutResult::kCreated);
  base::SharedBytes held;
  {
    Lookup out;
    ASSERT_TRUE(store.get("v", out));
    held = out.owner;
  }
  const std::size_t with_first = store.stored_bytes();
  ASSERT_EQ(store.put("v", std::string(5000, '2')).result, PutResult::kReplaced);
  EXPECT_EQ(held.view(), first) << "the reader's bytes are not touched by the replacement";
  EXPECT_EQ(store.stored_bytes(), with_first + held.charged_bytes()) << "both values are charged";
  ASSERT_EQ(store.erase("v"), EraseResult::kErased);
  EXPECT_EQ(store.stored_bytes(), held.charged_bytes());
  held = base::SharedBytes();
  EXPECT_EQ(store.stored_bytes(), 0u);
}

TEST(BucketStore, ABodyIsStoredFromItsBuilderAndItsChargeMoves) {
  BucketStore store(1 << 20, kTestKey);
  base::MemoryAccount bodies(1 << 20);
  for (const std::size_t size : {10u, 3000u}) {
    base::ByteBuilder body(&bodies);
    ASSERT_TRUE(body.reserve_more(size));
    const std::string value = test_value(size, 3);
    body.append(value);
    const char* bytes = body.view().data();
    ASSERT_EQ(store.put("body", std::move(body), "x/y", 5).result,
              size == 10 ? PutResult::kCreated : PutResult::kReplaced);
    EXPECT_TRUE(body.empty());
    EXPECT_EQ(bodies.used(), 0u) << "the in-flight budget no longer pays for it";
    Lookup out;
    ASSERT_TRUE(store.get("body", out));
    EXPECT_EQ(out.value, value);
    if (size == 3000) {
      EXPECT_EQ(out.value.data(), bytes) << "a large body is stored without a copy";
    }
  }
}

}  // namespace
}  // namespace store
