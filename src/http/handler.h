#pragma once
// Handler: what a Connection calls for each request. One instance serves one event-loop thread, so an
// implementation may keep per-thread scratch state and metric shards without locks.
//
// Per parsed request head the connection calls, in order: on_request_begin() once; precheck() once, unless
// the connection refused the request itself (bad framing, unknown method, body over the limit);
// handle() once the whole body has arrived, unless refused; and on_request_end() exactly once when the
// request is answered or abandoned (peer gone, timeout). on_response() is called for every final response,
// including refusals before a head could be parsed (then head is null).
#include <chrono>
#include <string>

#include "http/request.h"
#include "http/response.h"

namespace http {

class Handler {
 public:
  virtual ~Handler() = default;

  virtual void on_request_begin(const RequestHead& head) = 0;
  // Before any body byte is read: true to go on, or false with `refusal` filled in to answer instead (the
  // connection then closes if a body was announced, rather than read it).
  virtual bool precheck(const RequestHead& head, Response& refusal) = 0;
  // `body` holds the complete decoded body; the handler may move from it.
  virtual void handle(const RequestHead& head, std::string& body, Response& response) = 0;
  virtual void on_request_end() = 0;
  virtual void on_response(const RequestHead* head, int status, std::chrono::nanoseconds elapsed) = 0;
};

}  // namespace http
