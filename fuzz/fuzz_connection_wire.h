#pragma once
// An independent reader of what fuzz_connection's client received: status line, fields, and a body of
// Content-Length bytes (none for a HEAD request, which only the handler's records can tell), each response
// matched against the answer the handler recorded for it, in order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_connection_handler.h"

namespace fuzz_connection {

// One response as a client reads it; `normalized` is its bytes without the Date value.
struct WireResponse {
  int status = 0;
  bool close = false;
  std::string_view body;
  std::string normalized;
};

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `truncated`: the connection was reset (kAbort), so the last response may be cut short and answers
// recorded after it may never have been sent.
inline std::vector<WireResponse> read_responses(std::string_view wire, const std::vector<Answered>& answers,
                                                int continue_requests, bool truncated) {
  std::vector<WireResponse> responses;
  int interim = 0;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    const std::size_t blank = wire.find("\r\n\r\n", pos);
    if (blank == std::string_view::npos && truncated) break;
    FUZZ_CHECK(blank != std::string_view::npos);
    std::string_view head = wire.substr(pos, blank + 2 - pos);
    pos = blank + 4;

    const std::size_t status_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, status_end);
    FUZZ_CHECK(status_line.size() > 13 && status_line.starts_with("HTTP/1.1 ") && status_line[12] == ' ');
    FUZZ_CHECK(is_digit(status_line[9]) && is_digit(status_line[10]) && is_digit(status_line[11]));
    const int status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
    head.remove_prefix(status_end + 2);
    if (status == 100) {
      FUZZ_CHECK(head.empty());
      ++interim;
      continue;
    }
    FUZZ_CHECK(status >= 200);

    WireResponse response;
    response.status = status;
    response.normalized.assign(status_line);
    int content_lengths = 0;
    int dates = 0;
    bool retry_after = false;
    std::uint64_t content_length = 0;
    while (!head.empty()) {
      const std::size_t line_end = head.find("\r\n");
      const std::string_view line = head.substr(0, line_end);
      head.remove_prefix(line_end + 2);
      const std::size_t colon = line.find(": ");
      FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
      const std::string_view name = line.substr(0, colon);
      const std::string_view value = line.substr(colon + 2);
      if (name == "Date") {
        ++dates;
        FUZZ_CHECK(value.size() == 29 && value.ends_with(" GMT") && value[3] == ',');
        continue;
      }
      response.normalized += '|';
      response.normalized += line;
      if (name == "Content-Length") {
        ++content_lengths;
        FUZZ_CHECK(!value.empty() && value.size() <= 19);
        for (const char c : value) {
          FUZZ_CHECK(is_digit(c));
          content_length = content_length * 10 + static_cast<std::uint64_t>(c - '0');
        }
      }
      if (name == "Connection") {
        FUZZ_CHECK(value == "close" || value == "keep-alive");
        response.close = value == "close";
      }
      if (name == "Retry-After") retry_after = value == "1";
    }
    FUZZ_CHECK(content_lengths == 1);

    FUZZ_CHECK(responses.size() < answers.size());
    const Answered& answer = answers[responses.size()];
    FUZZ_CHECK(status == answer.status);
    FUZZ_CHECK(dates == (answer.no_date ? 0 : 1));
    if (answer.must_close) FUZZ_CHECK(response.close);
    if (response.close && !answer.must_close) FUZZ_CHECK(answer.may_close);
    if (answer.retry_after) FUZZ_CHECK(retry_after);
    FUZZ_CHECK(content_length == answer.body.size());
    const std::size_t body_bytes = answer.head_request ? 0 : static_cast<std::size_t>(content_length);
    if (wire.size() - pos < body_bytes && truncated) break;
    FUZZ_CHECK(wire.size() - pos >= body_bytes);
    response.body = wire.substr(pos, body_bytes);
    if (!answer.head_request) FUZZ_CHECK(response.body == answer.body);
    response.normalized += '|';
    response.normalized += response.body;
    pos += body_bytes;
    // Nothing may follow a response that announced the connection's end.
    if (response.close) FUZZ_CHECK(pos == wire.size());
    responses.push_back(std::move(response));
  }
  if (truncated) {
    FUZZ_CHECK(responses.size() <= answers.size());
  } else {
    FUZZ_CHECK(responses.size() == answers.size());
  }
  FUZZ_CHECK(interim <= continue_requests);
  return responses;
}

}  // namespace fuzz_connection
