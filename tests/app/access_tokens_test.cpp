#include "app/access_tokens.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

// Token files, the verdicts for read and write access, rotation, and reloads while other threads check.
namespace app {
namespace {

constexpr std::string_view kReadToken = "read-token-0123456789abcdef";
constexpr std::string_view kWriteToken = "write.token_0123456789~+/ABC==";
constexpr std::string_view kNextWriteToken = "next-write-token-fedcba9876543210";

class AccessTokensTest : public ::testing::Test {
 protected:
  std::string write_file(const std::string& name, std::string_view contents) {
    const std::string path = (dir_.path() / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    return path;
  }
  static std::string bearer(std::string_view token) { return "Bearer " + std::string(token); }

  // Tokens from files with these contents (nullopt: that file is not configured); fails the test on error.
  std::unique_ptr<AccessTokens> load(std::optional<std::string_view> read, std::optional<std::string_view> write) {
    std::optional<std::string> read_path;
    std::optional<std::string> write_path;
    if (read) read_path = write_file("read_token", *read);
    if (write) write_path = write_file("write_token", *write);
    base::Result<std::unique_ptr<AccessTokens>> tokens = AccessTokens::load(read_path, write_path);
    EXPECT_TRUE(tokens) << tokens.status().message();
    return tokens ? std::move(*tokens) : nullptr;
  }
  // The error of loading these contents as the write token file.
  std::string write_file_error(std::string_view contents) {
    const base::Result<std::unique_ptr<AccessTokens>> tokens =
        AccessTokens::load(std::nullopt, write_file("write_token", contents));
    EXPECT_FALSE(tokens);
    return tokens ? std::string() : tokens.status().message();
  }

  test_support::TempDir dir_;
};

TEST_F(AccessTokensTest, WithoutFilesEverythingIsAllowed) {
  const auto tokens = load(std::nullopt, std::nullopt);
  ASSERT_TRUE(tokens);
  EXPECT_FALSE(tokens->required(Access::kRead));
  EXPECT_FALSE(tokens->required(Access::kWrite));
  for (const Access access : {Access::kRead, Access::kWrite}) {
    EXPECT_EQ(tokens->check(access, ""), AccessVerdict::kAllowed);
    EXPECT_EQ(tokens->check(access, "Bearer wrong"), AccessVerdict::kAllowed);
  }
  EXPECT_TRUE(tokens->reload()) << "nothing to read is not an error";
  EXPECT_EQ(tokens->counts().read, 0u);
  EXPECT_EQ(tokens->counts().write, 0u);
}

TEST_F(AccessTokensTest, ReadTokensReadAndWriteTokensReadAndWrite) {
  const auto tokens = load(kReadToken, kWriteToken);
  ASSERT_TRUE(tokens);
  EXPECT_TRUE(tokens->required(Access::kRead));
  EXPECT_TRUE(tokens->required(Access::kWrite));
  EXPECT_EQ(tokens->check(Access::kRead, bearer(kReadToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kRead, bearer(kWriteToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kWriteToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kReadToken)), AccessVerdict::kInvalid)
      << "a read token never grants a write";
}

TEST_F(AccessTokensTest, OnlyTheConfiguredAccessNeedsAToken) {
  const auto writes_protected = load(std::nullopt, kWriteToken);
  ASSERT_TRUE(writes_protected);
  EXPECT_FALSE(writes_protected->required(Access::kRead));
  EXPECT_EQ(writes_protected->check(Access::kRead, ""), AccessVerdict::kAllowed);
  EXPECT_EQ(writes_protected->check(Access::kWrite, ""), AccessVerdict::kMissing);
  EXPECT_EQ(writes_protected->check(Access::kWrite, bearer(kWriteToken)), AccessVerdict::kAllowed);

  const auto reads_protected = load(kReadToken, std::nullopt);
  ASSERT_TRUE(reads_protected);
  EXPECT_EQ(reads_protected->check(Access::kRead, ""), AccessVerdict::kMissing);
  EXPECT_EQ(reads_protected->check(Access::kRead, bearer(kReadToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(reads_protected->check(Access::kWrite, ""), AccessVerdict::kAllowed);
}

TEST_F(AccessTokensTest, MissingAndInvalidCredentials) {
  const auto tokens = load(kReadToken, kWriteToken);
  ASSERT_TRUE(tokens);
  const std::string token(kWriteToken);
  const std::string missing_cases[] = {"",        "   ", "Basic dXNlcjpwYXNz", "Bearerish " + token, "Token " + token,
                                       "Digest username=\"x\""};
  for (const std::string& missing : missing_cases) {
    SCOPED_TRACE(missing);
    EXPECT_EQ(tokens->check(Access::kWrite, missing), AccessVerdict::kMissing);
    EXPECT_EQ(tokens->check(Access::kRead, missing), AccessVerdict::kMissing);
  }
  const std::string invalid[] = {
      "Bearer",                       // no token
      "Bearer ",                      // no token after the space
      "Bearer\t" + token,             // the separator is spaces
      "Bearer " + token + " extra",   // one token only
      "Bearer " + token + "x",        // longer
      "Bearer " + token.substr(0, token.size() - 1),  // a prefix
      "Bearer " + token.substr(1),                   // a suffix
      "Bearer =" + token,             // padding first
      "Bearer " + token + "=a",       // something after the padding
      "Bearer not-the-token",
      "Bearer " + std::string(kNextWriteToken),
      "Bearer " + std::string(token.size(), 'A'),  // same length, other bytes
  };
  for (const std::string& value : invalid) {
    SCOPED_TRACE(value);
    EXPECT_EQ(tokens->check(Access::kWrite, value), AccessVerdict::kInvalid);
    EXPECT_EQ(tokens->check(Access::kRead, value), AccessVerdict::kInvalid);
  }
}

TEST_F(AccessTokensTest, TheSchemeIsCaseInsensitiveAndSpacesMayRepeat) {
  const auto tokens = load(std::nullopt, kWriteToken);
  ASSERT_TRUE(tokens);
  const std::string token(kWriteToken);
  for (const std::string& value : {"Bearer " + token, "bearer " + token, "BEARER " + token, "bEaReR " + token,
                                   "Bearer    " + token, " Bearer " + token + " \t"}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(tokens->check(Access::kWrite, value), AccessVerdict::kAllowed);
  }
  // The token itself is compared exactly.
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  EXPECT_EQ(tokens->check(Access::kWrite, "Bearer " + upper), AccessVerdict::kInvalid);
}

TEST_F(AccessTokensTest, FileFormatCommentsBlankLinesWhitespaceAndCrLf) {
  const auto tokens = load(std::nullopt,
                           "# rotated 2024-05-01: next first, old until every client moved\r\n"
                           "\r\n"
                           "   next-write-token-fedcba9876543210   \r\n"
                           "\t# the old one\n"
                           "\twrite.token_0123456789~+/ABC==\t\n"
                           "\n");
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->counts().write, 2u);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kWriteToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kNextWriteToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer("#")), AccessVerdict::kInvalid);
}

TEST_F(AccessTokensTest, BadFilesAreOneLineNamingTheFileAndNeverTheToken) {
  const std::string path = (dir_.path() / "write_token").string();
  const struct {
    std::string_view contents;
    std::string_view problem;
  } cases[] = {
      {"", "no token"},
      {"\n  \n# only a comment\n", "no token"},
      {"good-token\nsecret-part other-part\n", "line 2: not a token"},
      {"secret-token # a comment\n", "line 1: not a token"},
      {"secret\"token\n", "line 1: not a token"},
      {"secret==token\n", "line 1: not a token"},
      {"====\n", "line 1: not a token"},
      {std::string_view("secret\0token\n", 13), "line 1: not a token"},
      {"s\xc3\xa9" "cret\n", "line 1: not a token"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.contents);
    const std::string error = write_file_error(c.contents);
    EXPECT_EQ(error.rfind("write token file " + path + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(c.problem), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    EXPECT_EQ(error.find("secret"), std::string::npos) << "the message quotes the file: " << error;
  }
}

TEST_F(AccessTokensTest, SizeAndCountAreBounded) {
  const std::string longest(AccessTokens::kMaxTokenBytes, 'a');
  ASSERT_TRUE(load(std::nullopt, longest));
  EXPECT_NE(write_file_error(longest + "a").find("line 1: a token longer than 512 bytes"), std::string::npos);

  std::string most;
  for (std::size_t i = 0; i < AccessTokens::kMaxTokensPerFile; ++i) most += "token-" + std::to_string(i) + "\n";
  const auto at_limit = load(std::nullopt, most);
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->counts().write, AccessTokens::kMaxTokensPerFile);
  EXPECT_NE(write_file_error(most + "one-more\n").find("line 33: more than 32 tokens"), std::string::npos);

  // Exactly the size limit (one token, then comment lines) is read whole; one byte more is refused.
  std::string full = "token\n";
  full += "#" + std::string(AccessTokens::kMaxFileBytes - full.size() - 2, 'x') + "\n";
  ASSERT_EQ(full.size(), AccessTokens::kMaxFileBytes);
  ASSERT_TRUE(load(std::nullopt, full));
  EXPECT_NE(write_file_error(full + "\n").find("larger than 65536 bytes"), std::string::npos);
}

TEST_F(AccessTokensTest, AnUnreadableFileIsNamed) {
  const std::string missing = (dir_.path() / "absent").string();
  const base::Result<std::unique_ptr<AccessTokens>> tokens = AccessTokens::load(missing, std::nullopt);
  ASSERT_FALSE(tokens);
  EXPECT_EQ(tokens.status().message(), "read token file " + missing + ": cannot read it: No such file or directory");

  const base::Result<std::unique_ptr<AccessTokens>> directory =
      AccessTokens::load(std::nullopt, dir_.path().string());
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.status().message().find("write token file " + dir_.path().string() + ": cannot read it"),
            std::string::npos)
      << directory.status().message();
}

TEST_F(AccessTokensTest, RotationWithTwoTokensThenReload) {
  const auto tokens = load(std::nullopt, kWriteToken);
  ASSERT_TRUE(tokens);
  // Step 1: the new token is added; both work.
  write_file("write_token", std::string(kWriteToken) + "\n" + std::string(kNextWriteToken) + "\n");
  ASSERT_TRUE(tokens->reload());
  EXPECT_EQ(tokens->counts().write, 2u);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kWriteToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kNextWriteToken)), AccessVerdict::kAllowed);
  // Step 2: the old token is removed.
  write_file("write_token", std::string(kNextWriteToken) + "\n");
  ASSERT_TRUE(tokens->reload());
  EXPECT_EQ(tokens->counts().write, 1u);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kWriteToken)), AccessVerdict::kInvalid);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kNextWriteToken)), AccessVerdict::kAllowed);
}

TEST_F(AccessTokensTest, AFailedReloadKeepsTheTokensInUse) {
  const auto tokens = load(kReadToken, kWriteToken);
  ASSERT_TRUE(tokens);
  const std::string read_path = (dir_.path() / "read_token").string();
  // A bad write file fails the reload even though the read file is good and changed: all or nothing.
  write_file("read_token", std::string(kNextWriteToken) + "\n");
  write_file("write_token", "not a token\n");
  const base::Status bad = tokens->reload();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("write token file"), std::string::npos) << bad.message();
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kWriteToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kRead, bearer(kReadToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kRead, bearer(kNextWriteToken)), AccessVerdict::kInvalid);

  // A deleted file, then an empty one: still the old tokens.
  std::filesystem::remove(read_path);
  const base::Status missing = tokens->reload();
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("read token file " + read_path + ": cannot read it"), std::string::npos);
  write_file("read_token", "");
  EXPECT_FALSE(tokens->reload());
  EXPECT_EQ(tokens->check(Access::kRead, bearer(kReadToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->counts().read, 1u);
  EXPECT_EQ(tokens->counts().write, 1u);

  // Both repaired: the new tokens apply.
  write_file("read_token", std::string(kNextWriteToken) + "\n");
  write_file("write_token", std::string(kWriteToken) + "\n");
  ASSERT_TRUE(tokens->reload());
  EXPECT_EQ(tokens->check(Access::kRead, bearer(kNextWriteToken)), AccessVerdict::kAllowed);
  EXPECT_EQ(tokens->check(Access::kRead, bearer(kReadToken)), AccessVerdict::kInvalid);
}

TEST_F(AccessTokensTest, InstancesDoNotShareTheirTokensThroughThePerThreadReference) {
  const auto first = load(std::nullopt, kWriteToken);
  ASSERT_TRUE(first);
  const auto second = load(std::nullopt, kNextWriteToken);
  ASSERT_TRUE(second);
  for (int round = 0; round < 3; ++round) {  // alternating, so each check follows one against the other
    EXPECT_EQ(first->check(Access::kWrite, bearer(kWriteToken)), AccessVerdict::kAllowed);
    EXPECT_EQ(second->check(Access::kWrite, bearer(kWriteToken)), AccessVerdict::kInvalid);
    EXPECT_EQ(second->check(Access::kWrite, bearer(kNextWriteToken)), AccessVerdict::kAllowed);
    EXPECT_EQ(first->check(Access::kWrite, bearer(kNextWriteToken)), AccessVerdict::kInvalid);
  }
}

// Checkers on several threads while the main thread rotates between two generations of the files. Every
// verdict must be consistent with one generation or the other; the old token stays valid in both, the new
// one only in the second. Under ThreadSanitizer this also proves the snapshot hand-over race-free.
TEST_F(AccessTokensTest, ConcurrentChecksDuringReloads) {
  const std::string old_only = std::string(kWriteToken) + "\n";
  const std::string both = std::string(kWriteToken) + "\n" + std::string(kNextWriteToken) + "\n";
  const auto tokens = load(kReadToken, old_only);
  ASSERT_TRUE(tokens);

  constexpr int kThreads = 4;
  constexpr int kReloads = 200;
  std::atomic<bool> stop{false};
  std::atomic<int> running{0};
  std::atomic<long> wrong{0};
  std::atomic<long> new_token_seen{0};
  std::vector<std::thread> checkers;
  for (int t = 0; t < kThreads; ++t) {
    checkers.emplace_back([&] {
      const std::string old_value = bearer(kWriteToken);
      const std::string new_value = bearer(kNextWriteToken);
      const std::string read_value = bearer(kReadToken);
      running.fetch_add(1);
      while (!stop.load(std::memory_order_relaxed)) {
        if (tokens->check(Access::kWrite, old_value) != AccessVerdict::kAllowed) wrong.fetch_add(1);
        if (tokens->check(Access::kRead, read_value) != AccessVerdict::kAllowed) wrong.fetch_add(1);
        if (tokens->check(Access::kWrite, read_value) != AccessVerdict::kInvalid) wrong.fetch_add(1);
        if (tokens->check(Access::kWrite, "Bearer nope") != AccessVerdict::kInvalid) wrong.fetch_add(1);
        if (tokens->check(Access::kWrite, new_value) == AccessVerdict::kAllowed) new_token_seen.fetch_add(1);
      }
    });
  }
  while (running.load() < kThreads) std::this_thread::yield();
  for (int i = 0; i < kReloads; ++i) {
    write_file("write_token", i % 2 == 0 ? both : old_only);
    ASSERT_TRUE(tokens->reload());
    if (i % 10 == 5) {  // a bad file now and then: kept tokens, no effect on the checkers
      write_file("write_token", "bad token\n");
      EXPECT_FALSE(tokens->reload());
    }
  }
  // End on the generation with both tokens: the checkers see the new one (they revalidate on their next
  // check), so the loop above did reach them.
  write_file("write_token", both);
  ASSERT_TRUE(tokens->reload());
  const long seen_before = new_token_seen.load();
  while (new_token_seen.load() < seen_before + kThreads) std::this_thread::yield();
  stop.store(true);
  for (std::thread& checker : checkers) checker.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(tokens->check(Access::kWrite, bearer(kNextWriteToken)), AccessVerdict::kAllowed);
}

TEST(TokenSyntax, B64Token) {
  for (const std::string_view good : {"a", "Z9", "abc-._~+/", "YWJj", "YWI=", "YQ==", "a==========", "/", "~"}) {
    EXPECT_TRUE(is_b64token(good)) << good;
  }
  for (const std::string_view bad : {"", "=", "a=b", "a b", "a,b", "a\"", "a:b", "a\tb", "\xff", "a#"}) {
    EXPECT_FALSE(is_b64token(bad)) << bad;
  }
}

TEST(TokenSyntax, ParseKeepsOrderAndDuplicates) {
  const base::Result<std::vector<std::string>> tokens = parse_token_file("b\n#x\na\nb");
  ASSERT_TRUE(tokens) << tokens.status().message();
  EXPECT_EQ(*tokens, (std::vector<std::string>{"b", "a", "b"}));
}

}  // namespace
}  // namespace app
