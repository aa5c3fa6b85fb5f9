#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace app {
namespace {

using Env = std::map<std::string, std::string, std::less<>>;

EnvLookup lookup_in(const Env& env) {
  return [&env](std::string_view name) -> std::optional<std::string> {
    const auto found = env.find(name);
    if (found == env.end()) return std::nullopt;
    return found->second;
  };
}

ConfigResult parse(std::vector<std::string_view> args, const Env& env = {}) {
  return parse_config(args, lookup_in(env));
}

// Every setting, one per row: its flag, variable, a valid value, and how it appears in config_to_json().
struct SettingCase {
  std::string_view flag;
  std::string_view variable;
  std::string_view value;
  std::string_view json;
};

const SettingCase kSettings[] = {
    {"host", "HOST", "127.0.0.1", R"("host":"127.0.0.1")"},
    {"port", "PORT", "8080", R"("port":8080)"},
    {"threads", "THREADS", "3", R"("threads":3)"},
    {"max-body-bytes", "MAX_BODY_BYTES", "1M", R"("max_body_bytes":1048576)"},
    {"max-storage-bytes", "MAX_STORAGE_BYTES", "2GiB", R"("max_storage_bytes":2147483648)"},
    {"max-connections", "MAX_CONNECTIONS", "77", R"("max_connections":77)"},
    {"max-header-bytes", "MAX_HEADER_BYTES", "32Ki", R"("max_header_bytes":32768)"},
    {"max-request-line", "MAX_REQUEST_LINE", "4000", R"("max_request_line":4000)"},
    {"header-timeout", "HEADER_TIMEOUT_MS", "2s", R"("header_timeout_ms":2000)"},
    {"body-timeout", "BODY_TIMEOUT_MS", "1500ms", R"("body_timeout_ms":1500)"},
    {"idle-timeout", "IDLE_TIMEOUT_MS", "2m", R"("idle_timeout_ms":120000)"},
    {"write-timeout", "WRITE_TIMEOUT_MS", "250", R"("write_timeout_ms":250)"},
    {"shutdown-delay", "SHUTDOWN_DELAY_MS", "5s", R"("shutdown_delay_ms":5000)"},
    {"shutdown-grace", "SHUTDOWN_GRACE_MS", "20000", R"("shutdown_grace_ms":20000)"},
    {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.01,0.1,1", R"("histogram_buckets":[0.01,0.1,1])"},
    {"log-level", "LOG_LEVEL", "debug", R"("log_level":"debug")"},
    {"access-log", "ACCESS_LOG", "true", R"("access_log":true)"},
};

std::string flag_name(std::string_view flag) { return "--" + std::string(flag); }

TEST(ParseConfig, DefaultsWithoutFlagsOrVariables) {
  const ConfigResult result = parse({});
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  const Config& config = result.config;
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.port, 5000);
  EXPECT_EQ(config.threads, 0u);
  EXPECT_EQ(config.max_body_bytes, 64u << 20);
  EXPECT_EQ(config.max_storage_bytes, 256u << 20);
  EXPECT_EQ(config.max_connections, 10000u);
  EXPECT_EQ(config.max_header_bytes, 16u * 1024);
  EXPECT_EQ(config.max_request_line, 8u * 1024);
  EXPECT_EQ(config.header_timeout_ms, 10000u);
  EXPECT_EQ(config.body_timeout_ms, 30000u);
  EXPECT_EQ(config.idle_timeout_ms, 60000u);
  EXPECT_EQ(config.write_timeout_ms, 30000u);
  EXPECT_EQ(config.shutdown_delay_ms, 0u);
  EXPECT_EQ(config.shutdown_grace_ms, 10000u);
  EXPECT_TRUE(config.histogram_buckets.empty());
  EXPECT_EQ(config.log_level, LogLevel::kInfo);
  EXPECT_FALSE(config.access_log);
  EXPECT_EQ(config_to_json(config), config_to_json(Config{}));
}

TEST(ParseConfig, NullEnvironmentLookupMeansNoVariables) {
  const ConfigResult result = parse_config({"--port", "1"}, EnvLookup{});
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(result.config.port, 1);
}

TEST(ParseConfig, EverySettingFromFlagFlagEqualsAndVariable) {
  const std::string defaults = config_to_json(Config{});
  for (const SettingCase& setting : kSettings) {
    SCOPED_TRACE(setting.flag);
    // The default must differ, or a setting that is ignored would pass.
    ASSERT_EQ(defaults.find(setting.json), std::string::npos);

    const std::string flag = flag_name(setting.flag);
    const ConfigResult separate = parse({flag, setting.value});
    ASSERT_EQ(separate.mode, Mode::kServe) << separate.error;
    EXPECT_NE(config_to_json(separate.config).find(setting.json), std::string::npos)
        << config_to_json(separate.config);

    const std::string joined = flag + "=" + std::string(setting.value);
    const ConfigResult equals = parse({joined});
    ASSERT_EQ(equals.mode, Mode::kServe) << equals.error;
    EXPECT_EQ(config_to_json(equals.config), config_to_json(separate.config));

    const ConfigResult from_env = parse({}, Env{{std::string(setting.variable), std::string(setting.value)}});
    ASSERT_EQ(from_env.mode, Mode::kServe) << from_env.error;
    EXPECT_EQ(config_to_json(from_env.config), config_to_json(separate.config));
  }
}

TEST(ParseConfig, FlagWinsOverVariableWhichWinsOverDefault) {
  const Env env{{"PORT", "7000"}, {"THREADS", "2"}, {"LOG_LEVEL", "error"}};
  const ConfigResult result = parse({"--port", "8000"}, env);
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(result.config.port, 8000);                   // flag over variable
  EXPECT_EQ(result.config.threads, 2u);                  // variable over default
  EXPECT_EQ(result.config.log_level, LogLevel::kError);  // variable over default
  EXPECT_EQ(result.config.max_connections, 10000u);      // default
}

TEST(ParseConfig, ValidFlagHidesInvalidVariable) {
  const ConfigResult result = parse({"--port=9000"}, Env{{"PORT", "not a port"}});
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(result.config.port, 9000);
}

TEST(ParseConfig, EmptyVariableCountsAsUnset) {
  Env env;
  for (const SettingCase& setting : kSettings) env[std::string(setting.variable)] = "";
  const ConfigResult result = parse({}, env);
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(config_to_json(result.config), config_to_json(Config{}));
}

TEST(ParseConfig, LastRepeatedFlagWins) {
  const ConfigResult result = parse({"--port", "1", "--port=2", "--port", "3"});
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(result.config.port, 3);
}

TEST(ParseConfig, SizeSuffixes) {
  struct Case {
    std::string_view text;
    std::size_t bytes;
  };
  const Case cases[] = {
      {"1", 1},
      {"65536", 65536},
      {"1K", 1024},
      {"1Ki", 1024},
      {"1KiB", 1024},
      {"3k", 3072},
      {"2M", 2u << 20},
      {"2Mi", 2u << 20},
      {"2MiB", 2u << 20},
      {"1G", std::size_t{1} << 30},
      {"1Gi", std::size_t{1} << 30},
      {"4GiB", std::size_t{4} << 30},
      {"007", 7},
      {"16777215G", std::size_t{16777215} << 30},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const ConfigResult result = parse({"--max-body-bytes", c.text});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.max_body_bytes, c.bytes);
  }
}

TEST(ParseConfig, DurationUnits) {
  struct Case {
    std::string_view text;
    std::uint32_t ms;
  };
  const Case cases[] = {
      {"1", 1}, {"1ms", 1}, {"250", 250}, {"250ms", 250}, {"3s", 3000}, {"2m", 120000},
      {"86400000", 86400000}, {"86400s", 86400000}, {"1440m", 86400000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const ConfigResult result = parse({"--idle-timeout", c.text});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.idle_timeout_ms, c.ms);
  }
}

TEST(ParseConfig, ShutdownDelayMayBeZero) {
  for (const std::string_view zero : {"0", "0ms", "0s"}) {
    SCOPED_TRACE(zero);
    const ConfigResult result = parse({"--shutdown-delay", zero}, Env{{"SHUTDOWN_DELAY_MS", "5000"}});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.shutdown_delay_ms, 0u);
  }
}

TEST(ParseConfig, HostForms) {
  struct Case {
    std::string_view text;
    std::string_view host;
  };
  const Case cases[] = {
      {"0.0.0.0", "0.0.0.0"}, {"10.1.2.3", "10.1.2.3"}, {"::", "::"},
      {"::1", "::1"},         {"[::1]", "::1"},         {"fe80::1:2", "fe80::1:2"},
      {"localhost", "127.0.0.1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const ConfigResult result = parse({"--host", c.text});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.host, c.host);
  }
}

TEST(ParseConfig, HistogramBuckets) {
  struct Case {
    std::string_view text;
    std::vector<double> bounds;
  };
  const Case cases[] = {
      {"1", {1}},
      {"0.005,0.05,0.5,5", {0.005, 0.05, 0.5, 5}},
      {"0.001, 0.01 ,0.1", {0.001, 0.01, 0.1}},
      {"1e-3,2.5e-1,10", {0.001, 0.25, 10}},
      {"", {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const ConfigResult result = parse({"--histogram-buckets", c.text});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.histogram_buckets, c.bounds);
  }
}

TEST(ParseConfig, LogLevelsAndBooleans) {
  const std::pair<std::string_view, LogLevel> levels[] = {
      {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo},   {"warn", LogLevel::kWarn},
      {"warning", LogLevel::kWarn}, {"ERROR", LogLevel::kError}, {"Info", LogLevel::kInfo},
  };
  for (const auto& [text, level] : levels) {
    SCOPED_TRACE(text);
    const ConfigResult result = parse({}, Env{{"LOG_LEVEL", std::string(text)}, {"ACCESS_LOG", "yes"}});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.log_level, level);
  }
  const std::pair<std::string_view, bool> booleans[] = {
      {"true", true}, {"1", true},  {"yes", true},  {"on", true},  {"TRUE", true},
      {"false", false}, {"0", false}, {"no", false}, {"off", false}, {"Off", false},
  };
  for (const auto& [text, value] : booleans) {
    SCOPED_TRACE(text);
    // The opposite value in the variable proves the flag was read.
    const ConfigResult result =
        parse({"--access-log=" + std::string(text)}, Env{{"ACCESS_LOG", value ? "no" : "yes"}});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.access_log, value);
    const ConfigResult from_env = parse({}, Env{{"ACCESS_LOG", std::string(text)}});
    ASSERT_EQ(from_env.mode, Mode::kServe) << from_env.error;
    EXPECT_EQ(from_env.config.access_log, value);
  }
}

TEST(ParseConfig, AccessLogSwitchForms) {
  struct Case {
    std::vector<std::string_view> args;
    bool access_log;
    std::uint16_t port;
  };
  const Case cases[] = {
      {{"--access-log"}, true, 5000},
      {{"--access-log", "--port", "1"}, true, 1},
      {{"--access-log", "false"}, false, 5000},
      {{"--access-log", "off", "--port", "2"}, false, 2},
      {{"--access-log", "on"}, true, 5000},
      {{"--access-log=false"}, false, 5000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.args));
    const ConfigResult result = parse(c.args, Env{{"ACCESS_LOG", c.access_log ? "false" : "true"}});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.access_log, c.access_log);
    EXPECT_EQ(result.config.port, c.port);
  }
  // A word that is not a boolean is not taken as the switch's value.
  const ConfigResult stray = parse({"--access-log", "maybe"});
  ASSERT_EQ(stray.mode, Mode::kError);
  EXPECT_NE(stray.error.find("\"maybe\""), std::string::npos) << stray.error;
}

TEST(ParseConfig, InvalidValuesNameFlagVariableAndValue) {
  struct Case {
    std::string_view flag;
    std::string_view variable;
    std::string_view value;
  };
  const Case cases[] = {
      {"host", "HOST", "example.com"},
      {"host", "HOST", "1.2.3"},
      {"host", "HOST", "1.2.3.4:80"},
      {"host", "HOST", "[::1"},
      {"host", "HOST", " 127.0.0.1"},
      {"port", "PORT", "70000"},
      {"port", "PORT", "65536"},
      {"port", "PORT", "-1"},
      {"port", "PORT", "+80"},
      {"port", "PORT", "80x"},
      {"port", "PORT", "8 0"},
      {"port", "PORT", "0x50"},
      {"port", "PORT", "99999999999999999999999"},
      {"threads", "THREADS", "1025"},
      {"threads", "THREADS", "two"},
      {"max-body-bytes", "MAX_BODY_BYTES", "0"},
      {"max-body-bytes", "MAX_BODY_BYTES", "0K"},
      {"max-body-bytes", "MAX_BODY_BYTES", "10X"},
      {"max-body-bytes", "MAX_BODY_BYTES", "10MB"},
      {"max-body-bytes", "MAX_BODY_BYTES", "1.5M"},
      {"max-body-bytes", "MAX_BODY_BYTES", "-1"},
      {"max-body-bytes", "MAX_BODY_BYTES", "K"},
      {"max-body-bytes", "MAX_BODY_BYTES", "17179869184G"},
      {"max-body-bytes", "MAX_BODY_BYTES", "18446744073709551616"},
      {"max-storage-bytes", "MAX_STORAGE_BYTES", "lots"},
      {"max-connections", "MAX_CONNECTIONS", "0"},
      {"max-connections", "MAX_CONNECTIONS", "1K"},
      {"max-header-bytes", "MAX_HEADER_BYTES", "0"},
      {"max-request-line", "MAX_REQUEST_LINE", "1T"},
      {"header-timeout", "HEADER_TIMEOUT_MS", "0"},
      {"header-timeout", "HEADER_TIMEOUT_MS", "0s"},
      {"body-timeout", "BODY_TIMEOUT_MS", "86400001"},
      {"body-timeout", "BODY_TIMEOUT_MS", "1441m"},
      {"idle-timeout", "IDLE_TIMEOUT_MS", "1h"},
      {"idle-timeout", "IDLE_TIMEOUT_MS", "1.5s"},
      {"write-timeout", "WRITE_TIMEOUT_MS", "-5"},
      {"write-timeout", "WRITE_TIMEOUT_MS", "99999999999999999999m"},
      {"shutdown-delay", "SHUTDOWN_DELAY_MS", "2d"},
      {"shutdown-delay", "SHUTDOWN_DELAY_MS", "86401s"},
      {"shutdown-grace", "SHUTDOWN_GRACE_MS", "0"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.1,0.05"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.1,0.1"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "0,1"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "-1,1"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.1,inf"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.1,+Inf"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "nan"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.1,,1"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.1,"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.1;1"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "1s"},
      {"histogram-buckets", "HISTOGRAM_BUCKETS", "1e999"},
      {"log-level", "LOG_LEVEL", "verbose"},
      {"log-level", "LOG_LEVEL", "trace"},
      {"access-log", "ACCESS_LOG", "maybe"},
      {"access-log", "ACCESS_LOG", "2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.flag) + " " + std::string(c.value));
    const std::string flag = flag_name(c.flag);
    const std::string quoted = "\"" + std::string(c.value) + "\"";
    const ConfigResult from_flag = parse({flag + "=" + std::string(c.value)});
    const ConfigResult from_env = parse({}, Env{{std::string(c.variable), std::string(c.value)}});
    for (const ConfigResult* result : {&from_flag, &from_env}) {
      ASSERT_EQ(result->mode, Mode::kError);
      EXPECT_EQ(result->error.rfind(
                    "invalid " + std::string(c.variable) + " / " + flag + " " + quoted + ": expected ", 0),
                0u)
          << result->error;
      EXPECT_EQ(result->error.find('\n'), std::string::npos);
    }
  }
}

TEST(ParseConfig, PortErrorMessageIsExact) {
  const ConfigResult result = parse({"--port", "70000"});
  ASSERT_EQ(result.mode, Mode::kError);
  EXPECT_EQ(result.error, R"(invalid PORT / --port "70000": expected an integer from 0 to 65535)");
}

TEST(ParseConfig, ErrorQuotesControlCharactersAndLongValuesOnOneLine) {
  const ConfigResult multi_line = parse({}, Env{{"HOST", "bad\nhost\""}});
  ASSERT_EQ(multi_line.mode, Mode::kError);
  EXPECT_NE(multi_line.error.find(R"("bad\nhost\"")"), std::string::npos) << multi_line.error;
  EXPECT_EQ(multi_line.error.find('\n'), std::string::npos);

  const ConfigResult long_value = parse({}, Env{{"PORT", std::string(100000, '9')}});
  ASSERT_EQ(long_value.mode, Mode::kError);
  EXPECT_LT(long_value.error.size(), 300u);
  EXPECT_NE(long_value.error.find("...\""), std::string::npos) << long_value.error;
}

TEST(ParseConfig, ArgumentErrors) {
  struct Case {
    std::vector<std::string_view> args;
    std::vector<std::string_view> mentions;
  };
  const Case cases[] = {
      {{"--bogus"}, {"unknown flag", "\"--bogus\""}},
      {{"--bogus=1"}, {"unknown flag", "\"--bogus\""}},
      {{"-p", "80"}, {"unknown flag", "\"-p\""}},
      {{"--Port", "80"}, {"unknown flag", "\"--Port\""}},
      {{"serve"}, {"unexpected argument", "\"serve\""}},
      {{"--port"}, {"missing value", "PORT", "--port"}},
      {{"--port", "--threads", "2"}, {"missing value", "PORT", "--port"}},
      {{"--host"}, {"missing value", "HOST", "--host"}},
      {{"--healthcheck=1"}, {"unknown flag", "\"--healthcheck\""}},
      {{"--port", "1", "--bogus", "--threads", "x"}, {"unknown flag", "\"--bogus\""}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.args));
    const ConfigResult result = parse(c.args);
    ASSERT_EQ(result.mode, Mode::kError);
    for (const std::string_view mention : c.mentions) {
      EXPECT_NE(result.error.find(mention), std::string::npos) << result.error;
    }
    EXPECT_EQ(result.error.find('\n'), std::string::npos);
  }
}

TEST(ParseConfig, HelpWinsEvenOverErrors) {
  const std::vector<std::vector<std::string_view>> cases = {
      {"--help"},      {"-h"}, {"--port", "1", "-h"}, {"--bogus", "--help"}, {"--port", "70000", "--help"},
      {"--help", "x"},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(testing::PrintToString(args));
    EXPECT_EQ(parse(args).mode, Mode::kHelp);
  }
  EXPECT_EQ(parse({}, Env{{"PORT", "bad"}}).mode, Mode::kError);
  EXPECT_EQ(parse({"-h"}, Env{{"PORT", "bad"}}).mode, Mode::kHelp);
}

TEST(ParseConfig, HealthcheckStillParsesTheConfig) {
  const ConfigResult result = parse({"--healthcheck", "--port", "6000"}, Env{{"HOST", "::1"}});
  ASSERT_EQ(result.mode, Mode::kHealthcheck) << result.error;
  EXPECT_EQ(result.config.port, 6000);
  EXPECT_EQ(result.config.host, "::1");
  EXPECT_EQ(parse({"--healthcheck", "--port", "x"}).mode, Mode::kError);
}

TEST(UsageText, ListsEveryFlagVariableAndDefault) {
  const std::string usage = usage_text();
  for (const SettingCase& setting : kSettings) {
    EXPECT_NE(usage.find(flag_name(setting.flag)), std::string::npos) << setting.flag;
    EXPECT_NE(usage.find(setting.variable), std::string::npos) << setting.variable;
  }
  for (const std::string_view expected : {"--help", "-h", "--healthcheck", "0.0.0.0", "5000", "64MiB", "256MiB",
                                          "16KiB", "8KiB", "10000", "30s", "1m", "info", "false", "--name=value"}) {
    EXPECT_NE(usage.find(expected), std::string::npos) << expected;
  }
  // Each setting's row holds its flag and variable together.
  for (const SettingCase& setting : kSettings) {
    const std::size_t row = usage.find("  " + flag_name(setting.flag));
    ASSERT_NE(row, std::string::npos) << setting.flag;
    const std::string line = usage.substr(row, usage.find('\n', row) - row);
    EXPECT_NE(line.find(setting.variable), std::string::npos) << line;
  }
}

TEST(ConfigToJson, WritesEveryFieldWithItsType) {
  EXPECT_EQ(config_to_json(Config{}),
            R"({"host":"0.0.0.0","port":5000,"threads":0,"max_body_bytes":67108864,"max_storage_bytes":268435456,)"
            R"("max_connections":10000,"max_header_bytes":16384,"max_request_line":8192,"header_timeout_ms":10000,)"
            R"("body_timeout_ms":30000,"idle_timeout_ms":60000,"write_timeout_ms":30000,"shutdown_delay_ms":0,)"
            R"("shutdown_grace_ms":10000,"histogram_buckets":null,"log_level":"info","access_log":false})");
  Config config;
  config.host = "a\"b";
  config.histogram_buckets = {0.005, 0.25, 10};
  config.log_level = LogLevel::kWarn;
  config.access_log = true;
  config.max_storage_bytes = std::numeric_limits<std::size_t>::max();
  const std::string json = config_to_json(config);
  EXPECT_NE(json.find(R"("host":"a\"b")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("histogram_buckets":[0.005,0.25,10])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("log_level":"warn")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("access_log":true)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("max_storage_bytes":18446744073709551615)"), std::string::npos) << json;
}

}  // namespace
}  // namespace app
