#include "durable/submission_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/shared_bytes.h"
#include "durable/log_writer.h"
#include "log_builder.h"

namespace durable {
namespace {

class Ignored final : public Completion {
 public:
  void logged(std::uint64_t, const base::Status&) noexcept override {}
};

// Copied strings and values are found again after the queue's string grew (and moved) many times over;
// an owned value is referenced where it lies, not copied.
TEST(SubmissionQueueTest, RecordsResolveTheirCopiedBytesAfterTheQueueGrew) {
  SubmissionQueue queue;
  Ignored completion;
  std::vector<test::OwnedRecord> expected;
  const base::SharedBytes owned = base::SharedBytes::copy_of(std::string(10'000, 'o'));
  for (std::uint64_t i = 1; i <= 200; ++i) {
    std::string value(static_cast<std::size_t>(i * 37 % (SubmissionQueue::kMaxCopiedValueBytes + 1)),
                      static_cast<char>('a' + i % 26));
    const std::string id = "id-" + std::to_string(i);
    const bool is_delete = i % 7 == 0;
    const bool is_owned = i % 5 == 0;
    const Record record = is_delete  ? delete_record(i, id)
                          : is_owned ? put_record(i, id, owned.view(), i, 1'700'000'000, "application/x")
                                     : put_record(i, id, value, i, 1'700'000'000, "text/plain");
    ASSERT_TRUE(queue.push(record, is_owned && !is_delete ? owned : base::SharedBytes(),
                           completion, i));
    expected.push_back(test::OwnedRecord::from(record));
    value.assign(value.size(), '#');  // the caller's bytes change at once
  }
  ASSERT_EQ(queue.size(), expected.size());
  for (std::size_t i = 0; i < queue.size(); ++i) {
    EXPECT_EQ(test::OwnedRecord::from(queue.record(i)), expected[i]) << i;
    EXPECT_EQ(queue.entries()[i].charged, i + 1);
    EXPECT_EQ(queue.entries()[i].completion, &completion);
  }
  EXPECT_EQ(queue.record(4).value.data(), owned.view().data());  // sequence 5: referenced

  SubmissionQueue other;
  other.swap(queue);
  EXPECT_TRUE(queue.empty());
  other.truncate(3);
  ASSERT_EQ(other.size(), 3u);
  EXPECT_EQ(test::OwnedRecord::from(other.record(2)), expected[2]);
  other.clear();
  EXPECT_TRUE(other.empty());
}

}  // namespace
}  // namespace durable
