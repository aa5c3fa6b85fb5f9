#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/config_env.h"
#include "base/text.h"

// The rules of parse_config(): flags over variables over defaults, argument forms, errors, --help.
// Each setting's own syntax, range and rendering are tested in config_options_test.cpp.
namespace app {
namespace {

using test::Env;
using test::parse;

TEST(ParseConfig, NullEnvironmentLookupMeansNoVariables) {
  const ConfigResult result = parse_config({"--port", "1"}, EnvLookup{});
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(result.config.port, 1);
}

TEST(ParseConfig, FlagWinsOverVariableWhichWinsOverDefault) {
  const Env env{{"PORT", "7000"}, {"THREADS", "2"}, {"LOG_LEVEL", "error"}};
  const ConfigResult result = parse({"--port", "8000"}, env);
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(result.config.port, 8000);                   // flag over variable
  EXPECT_EQ(result.config.threads, 2u);                  // variable over default
  EXPECT_EQ(result.config.log_level, LogLevel::kError);  // variable over default
  EXPECT_EQ(result.config.body_min_rate, 1024u);         // default
}

TEST(ParseConfig, ValidFlagHidesInvalidVariable) {
  const ConfigResult result = parse({"--port=9000"}, Env{{"PORT", "not a port"}});
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(result.config.port, 9000);
}

TEST(ParseConfig, LastRepeatedFlagWins) {
  const ConfigResult result = parse({"--port", "1", "--port=2", "--port", "3"});
  ASSERT_EQ(result.mode, Mode::kServe) << result.error;
  EXPECT_EQ(result.config.port, 3);
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

TEST(ParseConfig, AdminPortMustDifferFromPortUnlessBothAreZero) {
  const ConfigResult same = parse({"--admin-port", "5000"});
  ASSERT_EQ(same.mode, Mode::kError);
  EXPECT_EQ(same.error,
            R"(invalid ADMIN_PORT / --admin-port "5000": expected a port other than PORT / --port 5000 )"
            R"((only 0 may be given to both: each listener then gets its own free port))");
  EXPECT_EQ(parse({"--port=7000"}, Env{{"ADMIN_PORT", "7000"}}).mode, Mode::kError);
  EXPECT_EQ(parse({"--healthcheck", "--admin-port=5000"}).mode, Mode::kError);

  const std::pair<std::string_view, std::string_view> fine[] = {{"0", "0"}, {"5000", "0"}, {"0", "5000"},
                                                                {"5000", "5001"}};
  for (const auto& [port, admin_port] : fine) {
    SCOPED_TRACE(std::string(port) + " " + std::string(admin_port));
    const ConfigResult result = parse({"--port", port, "--admin-port", admin_port});
    ASSERT_EQ(result.mode, Mode::kServe) << result.error;
    EXPECT_EQ(result.config.admin_port, base::parse_unsigned(admin_port));
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

}  // namespace
}  // namespace app
