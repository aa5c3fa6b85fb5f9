#include "app/access_tokens.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "base/read_file.h"
#include "base/text.h"

namespace app {

struct AccessTokens::TokenSet {
  std::vector<std::string> read;
  std::vector<std::string> write;
};

namespace {

constexpr std::string_view kBearerScheme = "Bearer";

constexpr bool is_b64token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || base::is_digit(c)) return true;
  return c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

// 1 when `stored` equals `presented`, else 0. Every byte of `stored` is compared, eight at a time, and the
// differences are accumulated behind an optimisation barrier, so that the compiler cannot stop at the
// first difference. A presented token of another length is not read at all: `stored` is compared with
// itself instead, so the time depends on the length of `stored` alone.
unsigned equal_in_constant_time(std::string_view stored, std::string_view presented) noexcept {
  const bool same_length = stored.size() == presented.size();
  const std::string_view other = same_length ? presented : stored;
  std::uint64_t difference = same_length ? 0 : 1;
  std::size_t i = 0;
  for (; i + sizeof(std::uint64_t) <= stored.size(); i += sizeof(std::uint64_t)) {
    std::uint64_t a;
    std::uint64_t b;
    std::memcpy(&a, stored.data() + i, sizeof a);
    std::memcpy(&b, other.data() + i, sizeof b);
    difference |= a ^ b;
    __asm__ volatile("" : "+r"(difference));
  }
  for (; i < stored.size(); ++i) {
    difference |= static_cast<unsigned char>(stored[i]) ^ static_cast<unsigned char>(other[i]);
    __asm__ volatile("" : "+r"(difference));
  }
  return static_cast<unsigned>(difference == 0);
}

// 1 when `presented` is one of `tokens`; compares with each of them, whatever matched before.
unsigned matches_any(const std::vector<std::string>& tokens, std::string_view presented) noexcept {
  unsigned matched = 0;
  for (const std::string& token : tokens) matched |= equal_in_constant_time(token, presented);
  return matched;
}

enum class Credentials { kNone, kBearer, kMalformedBearer };

// The token of Bearer credentials: "Bearer" in any case (RFC 9110 11.1), one or more spaces, a b64token.
Credentials bearer_token(std::string_view authorization, std::string_view& token) noexcept {
  const std::string_view value = base::trim_ows(authorization);
  std::size_t scheme_end = 0;
  while (scheme_end < value.size() && base::is_token_char(value[scheme_end])) ++scheme_end;
  if (!base::equals_ignore_case(value.substr(0, scheme_end), kBearerScheme)) return Credentials::kNone;
  std::string_view rest = value.substr(scheme_end);
  if (rest.empty() || rest.front() != ' ') return Credentials::kMalformedBearer;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (!is_b64token(rest)) return Credentials::kMalformedBearer;
  token = rest;
  return Credentials::kBearer;
}

// "read token file /path: <problem>", naming the file and never its contents.
base::Status file_error(std::string_view kind, const std::string& path, std::string_view problem) {
  std::string message(kind);
  message.append(" token file ").append(path).append(": ").append(problem);
  return base::Status::error(std::move(message));
}

base::Result<std::vector<std::string>> read_token_file(std::string_view kind, const std::string& path) {
  // One byte more than allowed, so that a file of exactly the limit is read whole and a larger one noticed.
  std::string buffer(AccessTokens::kMaxFileBytes + 1, '\0');
  const base::Result<std::size_t> read = base::read_whole_file(path.c_str(), buffer);
  if (!read) {
    const int error_number = read.status().error_number();
    if (error_number != 0) return file_error(kind, path, std::string("cannot read it: ") + std::strerror(error_number));
    return file_error(kind, path, "larger than " + std::to_string(AccessTokens::kMaxFileBytes) + " bytes");
  }
  if (*read > AccessTokens::kMaxFileBytes) {
    return file_error(kind, path, "larger than " + std::to_string(AccessTokens::kMaxFileBytes) + " bytes");
  }
  buffer.resize(*read);
  base::Result<std::vector<std::string>> tokens = parse_token_file(buffer);
  if (!tokens) return file_error(kind, path, tokens.status().message());
  return tokens;
}

}  // namespace

bool is_b64token(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size() && is_b64token_char(text[i])) ++i;
  if (i == 0) return false;
  while (i < text.size() && text[i] == '=') ++i;
  return i == text.size();
}

base::Result<std::vector<std::string>> parse_token_file(std::string_view text) {
  std::vector<std::string> tokens;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = base::trim_whitespace(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(line_number) + ": ";
    if (line.size() > AccessTokens::kMaxTokenBytes) {
      return base::Status::error(where + "a token longer than " + std::to_string(AccessTokens::kMaxTokenBytes) +
                                 " bytes");
    }
    if (!is_b64token(line)) {
      return base::Status::error(where +
                                 "not a token (one per line, of letters, digits and -._~+/ then optional = "
                                 "padding; a comment line starts with #)");
    }
    if (tokens.size() == AccessTokens::kMaxTokensPerFile) {
      return base::Status::error(where + "more than " + std::to_string(AccessTokens::kMaxTokensPerFile) + " tokens");
    }
    tokens.emplace_back(line);
  }
  if (tokens.empty()) return base::Status::error("no token in it (one per line; a comment line starts with #)");
  return tokens;
}

AccessTokens::AccessTokens(std::optional<std::string> read_token_file, std::optional<std::string> write_token_file,
                           std::shared_ptr<const TokenSet> tokens) noexcept
    : read_file_(std::move(read_token_file)),
      write_file_(std::move(write_token_file)),
      tokens_(std::move(tokens)),
      published_(tokens_.get()) {}

AccessTokens::~AccessTokens() = default;

base::Result<std::unique_ptr<AccessTokens>> AccessTokens::load(std::optional<std::string> read_token_file,
                                                               std::optional<std::string> write_token_file) {
  std::unique_ptr<AccessTokens> tokens(
      new AccessTokens(std::move(read_token_file), std::move(write_token_file), std::make_shared<const TokenSet>()));
  base::Result<std::shared_ptr<const TokenSet>> loaded = tokens->read_files();
  if (!loaded) return loaded.status();
  tokens->tokens_ = std::move(*loaded);
  tokens->published_.store(tokens->tokens_.get(), std::memory_order_release);
  return tokens;
}

base::Result<std::shared_ptr<const AccessTokens::TokenSet>> AccessTokens::read_files() const {
  auto tokens = std::make_shared<TokenSet>();
  if (read_file_) {
    base::Result<std::vector<std::string>> read = read_token_file("read", *read_file_);
    if (!read) return read.status();
    tokens->read = std::move(*read);
  }
  if (write_file_) {
    base::Result<std::vector<std::string>> write = read_token_file("write", *write_file_);
    if (!write) return write.status();
    tokens->write = std::move(*write);
  }
  return std::shared_ptr<const TokenSet>(std::move(tokens));
}

base::Status AccessTokens::reload() {
  base::Result<std::shared_ptr<const TokenSet>> loaded = read_files();
  if (!loaded) return loaded.status();
  std::shared_ptr<const TokenSet> replaced = std::move(*loaded);
  {
    const std::lock_guard lock(mutex_);
    tokens_.swap(replaced);
    published_.store(tokens_.get(), std::memory_order_release);
  }
  return base::Status::ok();  // `replaced` is freed here, or by the last thread still referring to it
}

AccessTokens::Counts AccessTokens::counts() const {
  const std::lock_guard lock(mutex_);
  return {tokens_->read.size(), tokens_->write.size()};
}

bool AccessTokens::required(Access access) const noexcept {
  return access == Access::kRead ? read_file_.has_value() : write_file_.has_value();
}

std::shared_ptr<const AccessTokens::TokenSet>& AccessTokens::thread_reference() noexcept {
  // One per thread, for whichever AccessTokens the thread last checked against; an event-loop thread
  // only ever uses the one in main(), so it refreshes only after a reload.
  thread_local std::shared_ptr<const TokenSet> reference;
  return reference;
}

const AccessTokens::TokenSet& AccessTokens::current() const noexcept {
  std::shared_ptr<const TokenSet>& reference = thread_reference();
  if (reference.get() != published_.load(std::memory_order_acquire)) {
    const std::lock_guard lock(mutex_);
    reference = tokens_;
  }
  return *reference;
}

AccessVerdict AccessTokens::check(Access access, std::string_view authorization) const noexcept {
  if (!required(access)) return AccessVerdict::kAllowed;
  std::string_view token;
  switch (bearer_token(authorization, token)) {
    case Credentials::kNone:
      return AccessVerdict::kMissing;
    case Credentials::kMalformedBearer:
      return AccessVerdict::kInvalid;
    case Credentials::kBearer:
      break;
  }
  // Both sets, whatever the access: the time taken does not tell a read token from a write token.
  const TokenSet& tokens = current();
  const unsigned read = matches_any(tokens.read, token);
  const unsigned write = matches_any(tokens.write, token);
  const bool allowed = access == Access::kRead ? (read | write) != 0 : write != 0;
  return allowed ? AccessVerdict::kAllowed : AccessVerdict::kInvalid;
}

}  // namespace app
