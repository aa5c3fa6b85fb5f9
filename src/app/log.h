#pragma once
// Logger: one JSON object per line on a file descriptor (stderr in production), for log shippers.
//
// Each line is {"ts":"<RFC 3339 UTC with ms>","level":"info","event":"<event>",<fields>}. The calling
// thread only formats it and hands it to a LogQueue, whose writer thread writes it: logging never waits
// for the descriptor, so a slow stderr cannot stall an event loop. When the queue is full the line is
// dropped and counted (dropped_lines()). Lines from one thread keep their order and never interleave with
// others'. Messages below the configured level cost one comparison. Field values are JSON-escaped (control
// bytes as \u00XX, invalid UTF-8 bytes as \ufffd), so request data can never break a line. log() never
// throws: a line that cannot be formatted for lack of memory is dropped and counted.
//
// Destroying the Logger writes what is still queued (bounded by the drain timeout) and stops the writer.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "app/config.h"
#include "app/log_queue.h"

namespace app {

struct LogField {
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
  std::string_view key;
  Value value;
  // A field whose value is already JSON (an object or array) and is written verbatim.
  bool raw_json = false;
};

class Logger {
 public:
  explicit Logger(LogLevel level, int fd = 2, std::size_t queue_bytes = LogQueue::kDefaultCapacity,
                  std::chrono::milliseconds drain_timeout = LogQueue::kDefaultDrainTimeout) noexcept
      : level_(level), queue_(fd, queue_bytes, drain_timeout) {}

  bool enabled(LogLevel level) const noexcept { return level >= level_; }
  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {}) const;
  void debug(std::string_view event, std::initializer_list<LogField> fields = {}) const { log(LogLevel::kDebug, event, fields); }
  void info(std::string_view event, std::initializer_list<LogField> fields = {}) const { log(LogLevel::kInfo, event, fields); }
  void warn(std::string_view event, std::initializer_list<LogField> fields = {}) const { log(LogLevel::kWarn, event, fields); }
  void error(std::string_view event, std::initializer_list<LogField> fields = {}) const { log(LogLevel::kError, event, fields); }

  // Lines logged at an enabled level that were not, and will not be, written.
  std::uint64_t dropped_lines() const noexcept { return queue_.dropped_lines(); }
  // Bytes waiting for the writer; at most the queue's capacity.
  std::size_t queued_bytes() const noexcept { return queue_.queued_bytes(); }

 private:
  LogLevel level_;
  // Mutable: logging is logically const (callers share a const Logger), the queue is its output.
  mutable LogQueue queue_;
};

// Appends one line exactly as log() queues it, '\n' included. Throws std::bad_alloc when out of memory.
void append_log_line(std::string& out, LogLevel level, std::string_view event,
                     std::initializer_list<LogField> fields);

// Appends `text` as the inside of a JSON string (no quotes added).
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace app
