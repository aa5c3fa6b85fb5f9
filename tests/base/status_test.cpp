#include "base/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>

namespace base {
namespace {

TEST(Status, DefaultIsOk) {
  const Status status;
  EXPECT_TRUE(status.is_ok());
  EXPECT_TRUE(static_cast<bool>(status));
  EXPECT_TRUE(status.message().empty());
  EXPECT_EQ(status.error_number(), 0);
}

TEST(Status, ErrorCarriesMessageAndErrno) {
  const Status status = Status::from_errno("bind", EADDRINUSE);
  EXPECT_FALSE(status);
  EXPECT_EQ(status.error_number(), EADDRINUSE);
  EXPECT_EQ(status.message(), std::string("bind: ") + std::strerror(EADDRINUSE));
  EXPECT_EQ(Status::error("bad").message(), "bad");
  EXPECT_FALSE(Status::error("bad"));
}

TEST(Result, HoldsAValueOrAnError) {
  Result<std::unique_ptr<int>> value = std::make_unique<int>(7);
  ASSERT_TRUE(value);
  EXPECT_EQ(**value, 7);
  std::unique_ptr<int> taken = std::move(value).value();
  EXPECT_EQ(*taken, 7);

  const Result<int> failed = Status::error("no");
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.status().message(), "no");
}

TEST(Result, AnOkStatusWithoutValueStillReadsAsAnError) {
  const Result<int> odd = Status::ok();
  EXPECT_FALSE(odd);
  EXPECT_FALSE(odd.status());
}

}  // namespace
}  // namespace base
