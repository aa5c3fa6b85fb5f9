#pragma once
// PendingSlot: what a connection keeps of a request whose answer was deferred, shared with the handler's
// PendingResponse. The request head's views are gone by the time the answer comes, so the slot keeps what
// the response and its record need. `connection` is cleared when the slot is answered or the connection
// goes, which is how a late complete() knows to do nothing.
#include <chrono>
#include <cstdint>
#include <string>

#include "http/method.h"
#include "http/request_id.h"

namespace http {
class Connection;

namespace detail {

struct PendingSlot {
  Connection* connection = nullptr;
  Method method = Method::kUnknown;
  std::string method_token;
  std::string target;  // cut to kRecordedTargetBytes
  std::uint32_t tag = 0;
  RequestId request_id;
  std::chrono::steady_clock::time_point started;
  int version_minor = 1;
  bool head_request = false;
  bool keep_alive = true;
};

}  // namespace detail
}  // namespace http
