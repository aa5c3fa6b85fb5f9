#include "app/config_options.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/config.h"
#include "app/config_env.h"
#include "app/log.h"

// Every setting of the option table: from flag and variable, its range and error, --help row, JSON key.
namespace app {
namespace {

using test::Env;
using test::flag_name;
using test::parse;

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
    {"admin-port", "ADMIN_PORT", "9090", R"("admin_port":9090)"},
    {"admin-max-connections", "ADMIN_MAX_CONNECTIONS", "4", R"("admin_max_connections":4)"},
    {"threads", "THREADS", "3", R"("threads":3)"},
    {"max-memory-bytes", "MAX_MEMORY_BYTES", "1GiB", R"("max_memory_bytes":1073741824)"},
    {"max-storage-bytes", "MAX_STORAGE_BYTES", "2GiB", R"("max_storage_bytes":2147483648)"},
    {"max-inflight-body-bytes", "MAX_INFLIGHT_BODY_BYTES", "32M", R"("max_inflight_body_bytes":33554432)"},
    {"max-body-bytes", "MAX_BODY_BYTES", "1M", R"("max_body_bytes":1048576)"},
    {"max-connection-memory-bytes", "MAX_CONNECTION_MEMORY_BYTES", "100MiB",
     R"("max_connection_memory_bytes":104857600)"},
    {"max-connections", "MAX_CONNECTIONS", "77", R"("max_connections":77)"},
    {"max-connections-per-client", "MAX_CONNECTIONS_PER_CLIENT", "0", R"("max_connections_per_client":0)"},
    {"socket-buffer-bytes", "SOCKET_BUFFER_BYTES", "128KiB", R"("socket_buffer_bytes":131072)"},
    {"sendfile-min-bytes", "SENDFILE_MIN_BYTES", "1MiB", R"("sendfile_min_bytes":1048576)"},
    {"max-header-bytes", "MAX_HEADER_BYTES", "32Ki", R"("max_header_bytes":32768)"},
    {"max-request-line", "MAX_REQUEST_LINE", "4000", R"("max_request_line":4000)"},
    {"header-timeout", "HEADER_TIMEOUT_MS", "2s", R"("header_timeout_ms":2000)"},
    {"body-timeout", "BODY_TIMEOUT_MS", "1500ms", R"("body_timeout_ms":1500)"},
    {"body-min-rate", "BODY_MIN_RATE", "0", R"("body_min_rate":0)"},
    {"idle-timeout", "IDLE_TIMEOUT_MS", "2m", R"("idle_timeout_ms":120000)"},
    {"write-timeout", "WRITE_TIMEOUT_MS", "250", R"("write_timeout_ms":250)"},
    {"shutdown-delay", "SHUTDOWN_DELAY_MS", "5s", R"("shutdown_delay_ms":5000)"},
    {"shutdown-grace", "SHUTDOWN_GRACE_MS", "20000", R"("shutdown_grace_ms":20000)"},
    {"histogram-buckets", "HISTOGRAM_BUCKETS", "0.01,0.1,1", R"("histogram_buckets":[0.01,0.1,1])"},
    {"native-histogram-schema", "NATIVE_HISTOGRAM_SCHEMA", "-2", R"("native_histogram_schema":-2)"},
    {"native-histogram-zero-threshold", "NATIVE_HISTOGRAM_ZERO_THRESHOLD", "1e-6",
     R"("native_histogram_zero_threshold":1e-06)"},
    {"native-histogram-bucket-limit", "NATIVE_HISTOGRAM_BUCKET_LIMIT", "0", R"("native_histogram_bucket_limit":0)"},
    {"log-level", "LOG_LEVEL", "debug", R"("log_level":"debug")"},
    {"access-log", "ACCESS_LOG", "true", R"("access_log":true)"},
    {"read-token-file", "READ_TOKEN_FILE", "/run/secrets/read token", R"("read_token_file":"/run/secrets/read token")"},
    {"write-token-file", "WRITE_TOKEN_FILE", "secrets/write_token", R"("write_token_file":"secrets/write_token")"},
    {"data-dir", "DATA_DIR", "/var/lib/storage_api", R"("data_dir":"/var/lib/storage_api")"},
    {"fsync", "FSYNC", "everysec", R"("fsync":"everysec")"},
    {"repair", "REPAIR", "true", R"("repair":true)"},
    {"snapshot-min-bytes", "SNAPSHOT_MIN_BYTES", "1MiB", R"("snapshot_min_bytes":1048576)"},
    {"snapshot-ratio", "SNAPSHOT_RATIO", "1.5", R"("snapshot_ratio":1.5)"},
    {"shard-name", "SHARD_NAME", "storage-api-2", R"("shard_name":"storage-api-2")"},
};

TEST(ParseConfig, DefaultsWithoutFlagsOrVariables) {
  const ConfigResult result = parse({});
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  const Config& config = result.config;
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.port, 5000);
  EXPECT_EQ(config.admin_port, std::nullopt);
  EXPECT_EQ(config.admin_max_connections, 16u);
  EXPECT_EQ(config.threads, 0u);
  // Unset: derived from the memory budget (memory_plan.h).
  EXPECT_EQ(config.max_memory_bytes, std::nullopt);
  EXPECT_EQ(config.max_storage_bytes, std::nullopt);
  EXPECT_EQ(config.max_inflight_body_bytes, std::nullopt);
  EXPECT_EQ(config.max_body_bytes, std::nullopt);
  EXPECT_EQ(config.max_connection_memory_bytes, std::nullopt);
  EXPECT_EQ(config.max_connections, std::nullopt);
  EXPECT_EQ(config.max_connections_per_client, 64u);
  EXPECT_EQ(config.socket_buffer_bytes, 64u * 1024);
  EXPECT_EQ(config.body_min_rate, 1024u);
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
  EXPECT_EQ(config.read_token_file, std::nullopt);  // no authentication
  EXPECT_EQ(config.write_token_file, std::nullopt);
  EXPECT_EQ(config_to_json(config), config_to_json(Config{}));
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

TEST(ParseConfig, EmptyVariableCountsAsUnset) {
  Env env;
  for (const SettingCase& setting : kSettings) env[std::string(setting.variable)] = "";
  const ConfigResult result = parse({}, env);
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(config_to_json(result.config), config_to_json(Config{}));
}

TEST(ParseConfig, ShutdownDelayMayBeZero) {
  for (const std::string_view zero : {"0", "0ms", "0s"}) {
    SCOPED_TRACE(zero);
    const ConfigResult result = parse({"--shutdown-delay", zero}, Env{{"SHUTDOWN_DELAY_MS", "5000"}});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.shutdown_delay_ms, 0u);
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
  // Every boolean word is tested in config_values_test.cpp.
  const std::pair<std::string_view, bool> booleans[] = {{"yes", true}, {"TRUE", true}, {"0", false}, {"Off", false}};
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

std::string_view variable_of(std::string_view flag) {
  for (const SettingCase& setting : kSettings) {
    if (setting.flag == flag) return setting.variable;
  }
  ADD_FAILURE() << "no setting " << flag;
  return {};
}

TEST(ParseConfig, InvalidValuesNameFlagVariableAndValue) {
  // Value syntax is tested in config_values_test.cpp; here, each setting's range and the error's form.
  const std::pair<std::string_view, std::vector<std::string_view>> cases[] = {
      {"host", {"example.com", "1.2.3", "1.2.3.4:80", "[::1", " 127.0.0.1"}},
      {"port", {"70000", "65536", "-1", "+80", "80x", "8 0", "0x50", "99999999999999999999999"}},
      {"admin-port", {"65536", "x", "-1"}},
      {"admin-max-connections", {"0", "1025", "1K", "-1"}},
      {"threads", {"1025", "two"}},
      {"max-memory-bytes", {"0", "1T", "1.5G"}},
      {"max-storage-bytes", {"lots", "0"}},
      {"max-inflight-body-bytes", {"0", "0K", "64MB"}},
      {"max-body-bytes", {"0", "0K", "10X", "10MB", "1.5M", "-1", "K", "17179869184G", "18446744073709551616"}},
      {"max-connection-memory-bytes", {"0", "1T"}},
      {"max-connections", {"0", "1K"}},
      {"max-connections-per-client", {"-1", "x", "1K"}},
      {"socket-buffer-bytes", {"0", "4095", "3K", "16777217", "17M", "1G", "64KB"}},
      {"sendfile-min-bytes", {"-1", "lots", "1.5M"}},
      {"max-header-bytes", {"0"}},
      {"max-request-line", {"1T"}},
      {"header-timeout", {"0", "0s"}},
      {"body-timeout", {"86400001", "1441m"}},
      {"body-min-rate", {"-1", "1.5K", "fast", "1KB"}},
      {"idle-timeout", {"1h", "1.5s"}},
      {"write-timeout", {"-5", "99999999999999999999m"}},
      {"shutdown-delay", {"2d", "86401s"}},
      {"shutdown-grace", {"0"}},
      {"histogram-buckets", {"0.1,0.05", "0,1", "0.1,+Inf", "nan", "0.1,,1", "1s"}},
      {"native-histogram-schema", {"6", "-5", "3.0", "+3", "x", " 3"}},
      {"native-histogram-zero-threshold", {"0", "-1e-6", "2", "nan", "inf", "1e-320", "1us"}},
      {"native-histogram-bucket-limit", {"-1", "10001", "1K", "many"}},
      {"log-level", {"verbose", "trace"}},
      {"access-log", {"maybe", "2"}},
      {"read-token-file", {"/run/secrets/a\nb", "tab\there"}},
      {"write-token-file", {"del\x7f"}},
      {"data-dir", {"/data\n"}},
      {"fsync", {"sometimes", "1"}},
      {"repair", {"perhaps"}},
      {"snapshot-min-bytes", {"-1", "1.5M", "lots"}},
      {"snapshot-ratio", {"-1", "-0", "1001", "2x", "1e3", "+2", " 2", "nan", "inf", "."}},
      {"shard-name", {"a b", "shard/1", "x\ny", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},
  };
  for (const auto& [flag_text, values] : cases) {
    const std::string variable(variable_of(flag_text));
    const std::string flag = flag_name(flag_text);
    for (const std::string_view value : values) {
      SCOPED_TRACE(flag + " " + std::string(value));
      std::string quoted = "\"";
      append_json_escaped(quoted, value);  // as the error quotes it: control characters escaped
      quoted += "\"";
      const ConfigResult from_flag = parse({flag + "=" + std::string(value)});
      const ConfigResult from_env = parse({}, Env{{variable, std::string(value)}});
      for (const ConfigResult* result : {&from_flag, &from_env}) {
        ASSERT_EQ(result->mode, Mode::kError);
        EXPECT_EQ(result->error.rfind("invalid " + variable + " / " + flag + " " + quoted + ": expected ", 0), 0u)
            << result->error;
        EXPECT_EQ(result->error.find('\n'), std::string::npos);
      }
    }
  }
}

TEST(ParseConfig, RangeBoundsAreAccepted) {
  struct Case {
    std::string_view variable;
    std::string_view value;
    std::string_view json;
  };
  const Case cases[] = {
      {"ADMIN_PORT", "0", R"("admin_port":0)"},
      {"ADMIN_PORT", "65535", R"("admin_port":65535)"},
      {"ADMIN_MAX_CONNECTIONS", "1", R"("admin_max_connections":1)"},
      {"ADMIN_MAX_CONNECTIONS", "1024", R"("admin_max_connections":1024)"},
      {"SOCKET_BUFFER_BYTES", "4KiB", R"("socket_buffer_bytes":4096)"},
      {"SOCKET_BUFFER_BYTES", "16MiB", R"("socket_buffer_bytes":16777216)"},
      {"SENDFILE_MIN_BYTES", "0", R"("sendfile_min_bytes":0)"},
      {"BODY_MIN_RATE", "0K", R"("body_min_rate":0)"},
      {"BODY_MIN_RATE", "1G", R"("body_min_rate":1073741824)"},
      {"MAX_CONNECTIONS_PER_CLIENT", "100000", R"("max_connections_per_client":100000)"},
      {"MAX_MEMORY_BYTES", "1", R"("max_memory_bytes":1)"},
      {"SNAPSHOT_MIN_BYTES", "0", R"("snapshot_min_bytes":0)"},
      {"SNAPSHOT_RATIO", "0", R"("snapshot_ratio":0)"},
      {"NATIVE_HISTOGRAM_SCHEMA", "-4", R"("native_histogram_schema":-4)"},
      {"NATIVE_HISTOGRAM_SCHEMA", "5", R"("native_histogram_schema":5)"},
      {"NATIVE_HISTOGRAM_ZERO_THRESHOLD", "1", R"("native_histogram_zero_threshold":1)"},
      {"NATIVE_HISTOGRAM_BUCKET_LIMIT", "10000", R"("native_histogram_bucket_limit":10000)"},
      {"SNAPSHOT_RATIO", "1000", R"("snapshot_ratio":1000)"},
      {"SNAPSHOT_RATIO", "0.25", R"("snapshot_ratio":0.25)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.variable) + "=" + std::string(c.value));
    const ConfigResult result = parse({}, Env{{std::string(c.variable), std::string(c.value)}});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_NE(config_to_json(result.config).find(c.json), std::string::npos) << config_to_json(result.config);
  }
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
  // Each setting's row holds its flag, its variable and its default.
  const std::pair<std::string_view, std::string_view> defaults[] = {
      {"port", "5000"},          {"admin-port", "unset"},           {"max-memory-bytes", "cgroup limit"},
      {"max-storage-bytes", "derived"}, {"max-body-bytes", "derived"}, {"max-connections", "derived"},
      {"socket-buffer-bytes", "64KiB"}, {"body-min-rate", "1KiB"},   {"max-connections-per-client", "64"},
      {"admin-max-connections", "16"},  {"body-timeout", "30s"},      {"read-token-file", "unset"},
      {"write-token-file", "unset"},     {"data-dir", "unset"},          {"fsync", "always"},
      {"snapshot-min-bytes", "64MiB"},  {"snapshot-ratio", "2"},
  };
  const auto row_of = [&usage](std::string_view flag) {
    // "--max-connections" must not find the row of "--max-connections-per-client".
    for (const std::string_view end : {" ", "[="}) {
      const std::size_t row = usage.find("\n  " + flag_name(flag) + std::string(end));
      if (row != std::string::npos) return usage.substr(row + 1, usage.find('\n', row + 1) - row - 1);
    }
    return std::string();
  };
  for (const SettingCase& setting : kSettings) {
    EXPECT_NE(row_of(setting.flag).find(setting.variable), std::string::npos) << setting.flag;
  }
  for (const auto& [flag, default_value] : defaults) {
    EXPECT_NE(row_of(flag).find("  " + std::string(default_value) + "  "), std::string::npos) << row_of(flag);
  }
}

TEST(ConfigToJson, WritesEveryFieldWithItsType) {
  EXPECT_EQ(config_to_json(Config{}),
            R"({"host":"0.0.0.0","port":5000,"admin_port":null,"admin_max_connections":16,"threads":0,)"
            R"("max_memory_bytes":null,"max_storage_bytes":null,"max_inflight_body_bytes":null,)"
            R"("max_body_bytes":null,"max_connection_memory_bytes":null,"max_connections":null,)"
            R"("max_connections_per_client":64,"socket_buffer_bytes":65536,"sendfile_min_bytes":262144,)"
            R"("max_header_bytes":16384,)"
            R"("max_request_line":8192,"header_timeout_ms":10000,"body_timeout_ms":30000,"body_min_rate":1024,)"
            R"("idle_timeout_ms":60000,"write_timeout_ms":30000,"shutdown_delay_ms":0,"shutdown_grace_ms":10000,)"
            R"("histogram_buckets":null,"native_histogram_schema":3,)"
            R"("native_histogram_zero_threshold":9.5367431640625e-07,"native_histogram_bucket_limit":160,)"
            R"("log_level":"info","access_log":false,)"
            R"("read_token_file":null,"write_token_file":null,"data_dir":null,"fsync":"always","repair":false,)"
            R"("snapshot_min_bytes":67108864,"snapshot_ratio":2,"shard_name":null})");
  Config config;
  config.host = "a\"b";
  config.histogram_buckets = {0.005, 0.25, 10};
  config.log_level = LogLevel::kWarn;
  config.access_log = true;
  config.max_storage_bytes = std::numeric_limits<std::size_t>::max();
  config.admin_port = 0;
  config.write_token_file = "/run/secrets/\"write\"";
  const std::string json = config_to_json(config);
  EXPECT_NE(json.find(R"("host":"a\"b")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("histogram_buckets":[0.005,0.25,10])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("log_level":"warn")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("access_log":true)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("max_storage_bytes":18446744073709551615)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("admin_port":0)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("write_token_file":"/run/secrets/\"write\"")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("read_token_file":null)"), std::string::npos) << json;
}

TEST(OptionTable, EverySettingOnceAndFoundByItsFlag) {
  ASSERT_EQ(options().size(), std::size(kSettings));
  for (std::size_t i = 0; i < options().size(); ++i) {
    const Option& option = options()[i];
    SCOPED_TRACE(option.flag);
    EXPECT_EQ(option.flag, kSettings[i].flag);  // the table's order is --help's and the JSON's
    EXPECT_EQ(option.variable, kSettings[i].variable);
    EXPECT_EQ(find_option(option.flag), &option);
    EXPECT_FALSE(option.meaning.empty());
  }
  EXPECT_EQ(find_option("no-such-flag"), nullptr);
  EXPECT_EQ(find_option("PORT"), nullptr);
  EXPECT_EQ(log_level_name(LogLevel::kWarn), "warn");
}

}  // namespace
}  // namespace app
