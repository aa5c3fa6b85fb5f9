#pragma once
// Status and Result<T>: the one way fallible calls report failure (after LevelDB's Status and C++23's
// std::expected). A Status is either ok, costing nothing, or an error with a one-line message meant for
// the log or the operator and, where a system call failed, its errno. Result<T> is a T or an error Status.
// Neither throws; both are [[nodiscard]] so an error cannot be dropped by accident.
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace base {

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;  // ok
  static Status ok() noexcept { return Status(); }
  static Status error(std::string message, int error_number = 0) {
    Status status;
    status.failed_ = true;
    status.message_ = std::move(message);
    status.error_number_ = error_number;
    return status;
  }
  // "<what>: <strerror(error_number)>", keeping the errno for callers that branch on it.
  static Status from_errno(std::string_view what, int error_number) {
    std::string message(what);
    message.append(": ").append(std::strerror(error_number));
    return error(std::move(message), error_number);
  }

  bool is_ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return !failed_; }
  const std::string& message() const noexcept { return message_; }
  int error_number() const noexcept { return error_number_; }

 private:
  bool failed_ = false;
  int error_number_ = 0;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor): reads as `return value;`
  Result(Status error) : status_(std::move(error)) {  // NOLINT(google-explicit-constructor)
    if (status_.is_ok()) status_ = Status::error("Result built from an ok Status without a value");
  }

  bool is_ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return value_.has_value(); }
  const Status& status() const noexcept { return status_; }

  T& value() & noexcept { return *value_; }
  const T& value() const& noexcept { return *value_; }
  T&& value() && noexcept { return std::move(*value_); }
  T& operator*() & noexcept { return *value_; }
  const T& operator*() const& noexcept { return *value_; }
  T* operator->() noexcept { return &*value_; }
  const T* operator->() const noexcept { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace base
