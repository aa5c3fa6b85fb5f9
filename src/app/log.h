#pragma once
// Logger: one JSON object per line on a file descriptor (stderr in production), for log shippers.
//
// Each line is {"ts":"<RFC 3339 UTC with ms>","level":"info","event":"<event>",<fields>} and is written
// with a single write(2), so lines from several threads never interleave. Messages below the configured
// level cost one comparison. Field values are JSON-escaped (control bytes as \u00XX, invalid UTF-8 bytes
// as \ufffd), so request data can never break a line.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "app/config.h"

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
  explicit Logger(LogLevel level, int fd = 2) noexcept : level_(level), fd_(fd) {}

  bool enabled(LogLevel level) const noexcept { return level >= level_; }
  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {}) const;
  void debug(std::string_view event, std::initializer_list<LogField> fields = {}) const { log(LogLevel::kDebug, event, fields); }
  void info(std::string_view event, std::initializer_list<LogField> fields = {}) const { log(LogLevel::kInfo, event, fields); }
  void warn(std::string_view event, std::initializer_list<LogField> fields = {}) const { log(LogLevel::kWarn, event, fields); }
  void error(std::string_view event, std::initializer_list<LogField> fields = {}) const { log(LogLevel::kError, event, fields); }

 private:
  LogLevel level_;
  int fd_;
};

// Appends `text` as the inside of a JSON string (no quotes added).
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace app
