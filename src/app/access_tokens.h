#pragma once
// AccessTokens: optional bearer-token access control (RFC 6750) from two files, READ_TOKEN_FILE and
// WRITE_TOKEN_FILE. A read token grants reads; a write token grants reads and writes. An access whose file
// is not configured needs no token, so with neither file the service is open, as it always was.
//
// File format: one token per line. Whitespace around a line (CR included) and empty lines are ignored; a
// line whose first non-blank character is '#' is a comment (a '#' anywhere else is refused, as it is not
// a token character). A token is an RFC 6750 b64token: letters, digits and "-._~+/", then optional "="
// padding, at most kMaxTokenBytes. A file holds at least one and at most kMaxTokensPerFile tokens in at
// most kMaxFileBytes. Every token of a file is valid at once, so a token is rotated without downtime:
// add the new one, reload, move the clients over, remove the old one, reload.
//
// check() runs on every event-loop thread for every request and writes no shared memory: each thread
// keeps its own reference to the token set it last used and revalidates it with one atomic load of the
// published set's address; only the first check after a reload takes the lock. The presented token is
// compared with every token of both sets, each comparison over all of the stored token's bytes without an
// early exit, so the time taken depends on the lengths alone, never on how much of a token matched or
// which token it was. No token, nor any part of one, is ever put in an error message.
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace app {

enum class Access { kRead, kWrite };

// Outcome of checking an Authorization field value.
enum class AccessVerdict {
  kAllowed,
  kMissing,  // no credentials, or credentials of another scheme than Bearer: 401
  kInvalid,  // Bearer credentials that are malformed or not a token granting this access: 401 invalid_token
};

class AccessTokens {
 public:
  static constexpr std::size_t kMaxFileBytes = 64 * 1024;
  static constexpr std::size_t kMaxTokensPerFile = 32;
  static constexpr std::size_t kMaxTokenBytes = 512;

  struct Counts {
    std::size_t read = 0;   // 0: reads need no token
    std::size_t write = 0;  // 0: writes need no token
  };

  // Loads the files (either may be unset = that access needs no token). Error: one line naming the file
  // and what is wrong (unreadable, too large, no token, too many tokens, a line that is not a token).
  static base::Result<std::unique_ptr<AccessTokens>> load(std::optional<std::string> read_token_file,
                                                           std::optional<std::string> write_token_file);

  AccessTokens(const AccessTokens&) = delete;
  AccessTokens& operator=(const AccessTokens&) = delete;
  ~AccessTokens();

  // A token file is configured for this access.
  bool required(Access access) const noexcept;

  // `authorization` is the Authorization field value (empty if absent). Thread-safe and contention-free.
  // Without required(access) every request is allowed, whatever it carries.
  AccessVerdict check(Access access, std::string_view authorization) const noexcept;

  // Re-reads both files. On any error keeps the tokens in use and returns the error; safe while other
  // threads call check(). Requests checked after it returns see the new tokens.
  base::Status reload();

  // The tokens in use, for the log.
  Counts counts() const;

 private:
  struct TokenSet;

  AccessTokens(std::optional<std::string> read_token_file, std::optional<std::string> write_token_file,
               std::shared_ptr<const TokenSet> tokens) noexcept;
  base::Result<std::shared_ptr<const TokenSet>> read_files() const;
  // The set in use, as this thread's reference to it; valid until this thread's next call.
  const TokenSet& current() const noexcept;
  static std::shared_ptr<const TokenSet>& thread_reference() noexcept;

  const std::optional<std::string> read_file_;
  const std::optional<std::string> write_file_;
  mutable std::mutex mutex_;
  std::shared_ptr<const TokenSet> tokens_;  // guarded by mutex_
  // tokens_.get(), to be read without the lock. A thread's own reference keeps its set alive, so no other
  // set can have that address meanwhile: equal addresses mean the reference is current.
  std::atomic<const TokenSet*> published_;
};

// The tokens of one file's text in order, or what is wrong with it ("line 3: ..."), never quoting a token.
base::Result<std::vector<std::string>> parse_token_file(std::string_view text);

// RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
bool is_b64token(std::string_view text) noexcept;

}  // namespace app
