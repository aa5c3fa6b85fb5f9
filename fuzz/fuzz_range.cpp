// The sans-I/O HTTP semantics on arbitrary bytes: decide_range and format_content_range, If-Range,
// parse_http_date / format_http_date, is_valid_media_type and evaluate_preconditions.
//
// Input: byte 0 is flags (bits 0-1: how bytes 1-8 become the representation's length: mod 256, mod 65536,
// as is, 2^64 - 1 - mod 256; bit 2: the target is absent; bits 3-5: the method, GET HEAD PUT DELETE POST);
// bytes 1-8 the length, little-endian; the rest is lines: Range, If-Range, a date, a media type, then
// "Name: value" field lines for the preconditions.
//
// Invariants:
//  - decide_range without If-Range agrees with an independent reading of the Range (kind and bounds); a
//    206 range has first <= last < length; a 416 or an ignored Range carries no bounds
//  - If-Range only ever turns the verdict into kNone; the current tag itself, or the Last-Modified date,
//    keeps the verdict exactly; a weak tag never does
//  - format_content_range fits kMaxContentRangeBytes and spells out the decision
//  - a parsed date formats back to text that parses to the same second; an IMF-fixdate formats back to
//    itself but for the weekday (and a leap second); outside RFC 850 the clock does not matter
//  - is_valid_media_type agrees with a regular expression of the RFC 9110 grammar
//  - evaluate_preconditions is unchanged when each field's lines are joined into one with ", " (a list
//    split over lines is one list); 304 only for GET and HEAD, never for an absent target; 400 only with an
//    If-Match or If-None-Match field; no conditional field, no condition
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/media_type.h"
#include "http/range.h"
#include "http/validators.h"

namespace {

constexpr std::int64_t kNow = 1735689600;  // 2025-01-01, the clock RFC 850 years are read against
constexpr std::uint64_t kMax = UINT64_MAX;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return out;
}

// A decimal number, saturated at 2^64 - 1: compared as text once leading zeros are gone.
bool reference_number(std::string_view digits, std::uint64_t& value) {
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) return false;
  const std::size_t nonzero = digits.find_first_not_of('0');
  digits = nonzero == std::string_view::npos ? std::string_view("0") : digits.substr(nonzero);
  const std::string_view max = "18446744073709551615";
  if (digits.size() > max.size() || (digits.size() == max.size() && digits > max)) {
    value = kMax;
    return true;
  }
  value = std::stoull(std::string(digits));
  return true;
}

http::RangeDecision reference_range(std::string_view range, std::uint64_t length) {
  http::RangeDecision none;
  const std::size_t equals = range.find('=');
  if (range.empty() || equals == std::string_view::npos || lower(range.substr(0, equals)) != "bytes") return none;
  const std::string_view set = range.substr(equals + 1);
  if (!set.empty() && (set[0] == ' ' || set[0] == '\t')) return none;
  std::vector<std::string_view> specs;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= set.size(); ++i) {
    if (i == set.size() || set[i] == ',') {
      const std::string_view spec = trim(set.substr(start, i - start));
      if (!spec.empty()) specs.push_back(spec);
      start = i + 1;
    }
  }
  if (specs.empty()) return none;
  std::vector<http::ByteRange> satisfiable;
  for (const std::string_view spec : specs) {
    const std::size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return none;
    std::uint64_t a = 0;
    std::uint64_t b = kMax;
    if (dash == 0) {
      if (!reference_number(spec.substr(1), b)) return none;
      if (b != 0 && length != 0) satisfiable.push_back({b >= length ? 0 : length - b, length - 1});
      continue;
    }
    if (!reference_number(spec.substr(0, dash), a)) return none;
    if (dash + 1 < spec.size() && !reference_number(spec.substr(dash + 1), b)) return none;
    if (b < a) return none;
    if (a < length) satisfiable.push_back({a, std::min(b, length - 1)});
  }
  http::RangeDecision out;
  if (satisfiable.empty()) {
    out.kind = http::RangeKind::kUnsatisfiable;
  } else if (specs.size() == 1) {
    out.kind = http::RangeKind::kSatisfiable;
    out.range = satisfiable[0];
  }
  return out;
}

bool same(const http::RangeDecision& a, const http::RangeDecision& b) {
  return a.kind == b.kind && a.range.first == b.range.first && a.range.last == b.range.last;
}

void check_range(std::string_view range, std::string_view if_range, std::uint64_t length,
                 const http::Validators& current) {
  const http::RangeDecision plain = http::decide_range(range, {}, length, current);
  FUZZ_CHECK(same(plain, reference_range(range, length)));
  if (plain.kind == http::RangeKind::kSatisfiable) {
    FUZZ_CHECK(plain.range.first <= plain.range.last && plain.range.last < length);
  } else {
    FUZZ_CHECK(plain.range.first == 0 && plain.range.last == 0);
  }
  FUZZ_CHECK(plain.kind != http::RangeKind::kSatisfiable || length > 0);

  const http::RangeDecision conditional = http::decide_range(range, if_range, length, current);
  FUZZ_CHECK(if_range.empty() ? same(conditional, plain)
                              : same(conditional, plain) || conditional.kind == http::RangeKind::kNone);
  if (current.exists) {
    FUZZ_CHECK(same(http::decide_range(range, current.etag, length, current), plain));
    char date[http::kHttpDateBytes];
    FUZZ_CHECK(same(http::decide_range(range, http::format_http_date(current.last_modified, date), length, current),
                    plain));
    const std::string weak = "W/" + std::string(current.etag);
    FUZZ_CHECK(http::decide_range(range, weak, length, current).kind == http::RangeKind::kNone);
  }

  char out[http::kMaxContentRangeBytes];
  const std::string_view text = http::format_content_range(plain, length, out);
  FUZZ_CHECK(text.size() <= http::kMaxContentRangeBytes);
  switch (plain.kind) {
    case http::RangeKind::kNone:
      FUZZ_CHECK(text.empty());
      break;
    case http::RangeKind::kUnsatisfiable:
      FUZZ_CHECK(text == "bytes */" + std::to_string(length));
      break;
    case http::RangeKind::kSatisfiable:
      FUZZ_CHECK(text == "bytes " + std::to_string(plain.range.first) + "-" + std::to_string(plain.range.last) + "/" +
                             std::to_string(length));
      break;
  }
}

void check_date(std::string_view text) {
  const std::optional<std::int64_t> parsed = http::parse_http_date(text, kNow);
  const bool rfc850 = text.size() > 3 && text[3] != ',' && text[3] != ' ';
  if (!rfc850) FUZZ_CHECK(http::parse_http_date(text) == parsed);
  if (!parsed) return;
  char out[http::kHttpDateBytes];
  const std::string_view formatted = http::format_http_date(*parsed, out);
  FUZZ_CHECK(formatted.size() == http::kHttpDateBytes);
  FUZZ_CHECK(http::parse_http_date(formatted) == parsed);
  const bool leap_second = text.size() == http::kHttpDateBytes && text.substr(23, 2) == "60";
  if (text.size() == http::kHttpDateBytes && text[3] == ',' && !leap_second) {
    FUZZ_CHECK(formatted.substr(3) == text.substr(3));
  }
}

// RFC 9110 8.3.1 as a regular expression. std::regex sees obs-text as DEL, which the grammar allows nowhere,
// so the expression admits it where obs-text belongs: inside a quoted-string.
bool reference_media_type(std::string_view value) {
  if (value.empty() || value.size() > http::kMaxContentTypeBytes) return false;
  if (value.find('\x7f') != std::string_view::npos) return false;
  std::string mapped(value);
  for (char& c : mapped) {
    if (static_cast<unsigned char>(c) >= 0x80) c = '\x7f';
  }
  // Trailing OWS belongs only to a last, empty parameter: "a/b; " but not "a/b " or "a/b; c=d ".
  const std::size_t kept = mapped.find_last_not_of(" \t");
  if (kept != mapped.size() - 1) {
    if (kept == std::string::npos || mapped[kept] != ';') return false;
    mapped.resize(kept + 1);
  }
  static const std::regex kGrammar(
      R"([!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+)"
      R"((?:[ \t]*;(?:[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+=)"
      R"((?:[!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[\t !\x23-\x5b\x5d-\x7e\x7f]|\\[\t \x21-\x7e\x7f])*"))?)*)");
  return std::regex_match(mapped, kGrammar);
}

http::Method method_of(std::uint8_t flags) {
  constexpr http::Method kMethods[] = {http::Method::kGet, http::Method::kHead, http::Method::kPut,
                                       http::Method::kDelete, http::Method::kPost};
  const unsigned index = (flags >> 3) & 7;
  return index < 5 ? kMethods[index] : http::Method::kGet;
}

bool conditional_name(std::string_view name) {
  const std::string n = lower(name);
  return n == "if-match" || n == "if-none-match" || n == "if-modified-since" || n == "if-unmodified-since";
}

void check_preconditions(const std::vector<std::string_view>& lines, http::Method method,
                         const http::Validators& current) {
  http::RequestHead head;
  head.method = method;
  bool any_conditional = false;
  bool tag_list = false;
  for (const std::string_view text : lines) {
    if (head.header_count == http::kMaxHeaders) break;
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) continue;
    http::Header& field = head.headers[head.header_count++];
    field.name = text.substr(0, colon);
    field.value = trim(text.substr(colon + 1));
    any_conditional = any_conditional || conditional_name(field.name);
    const std::string n = lower(field.name);
    tag_list = tag_list || n == "if-match" || n == "if-none-match";
  }
  const http::Precondition result = http::evaluate_preconditions(head, current);
  FUZZ_CHECK(http::evaluate_preconditions(head, current) == result);
  if (result == http::Precondition::kNotModified) {
    FUZZ_CHECK(method == http::Method::kGet || method == http::Method::kHead);
    FUZZ_CHECK(current.exists);
  }
  if (result == http::Precondition::kMalformed) FUZZ_CHECK(tag_list);
  if (!any_conditional) FUZZ_CHECK(result == http::Precondition::kProceed);

  // Every line of a conditional field joined into its first: the same list, the same verdict.
  std::vector<std::string> joined_values;
  joined_values.reserve(head.header_count);
  http::RequestHead joined;
  joined.method = method;
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    const http::Header& field = head.headers[i];
    if (!conditional_name(field.name)) {
      joined.headers[joined.header_count++] = field;
      continue;
    }
    const std::string n = lower(field.name);
    if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
    seen.push_back(n);
    std::string value;
    for (std::size_t j = i; j < head.header_count; ++j) {
      if (lower(head.headers[j].name) != n) continue;
      if (j != i) value += ", ";
      value += head.headers[j].value;
    }
    joined_values.push_back(std::move(value));
    joined.headers[joined.header_count++] = {field.name, joined_values.back()};
  }
  FUZZ_CHECK(http::evaluate_preconditions(joined, current) == result);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t flags = 0;
  std::uint64_t raw = 0;
  if (size >= 9) {
    flags = data[0];
    for (int i = 0; i < 8; ++i) raw |= std::uint64_t{data[1 + i]} << (8 * i);
    data += 9;
    size -= 9;
  }
  std::uint64_t length = raw;
  switch (flags & 3) {
    case 0: length = raw % 256; break;
    case 1: length = raw % 65536; break;
    case 2: break;
    case 3: length = kMax - raw % 256; break;
  }
  const http::Validators current{(flags & 4) == 0, "\"0123456789abcdef\"", 784111777};

  std::vector<std::string_view> lines;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::size_t start = 0;;) {
    const std::size_t end = input.find('\n', start);
    lines.push_back(input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  const auto line = [&](std::size_t i) { return i < lines.size() ? lines[i] : std::string_view(); };

  check_range(line(0), line(1), length, current);
  check_range(line(0), line(1), length, http::Validators{true, "\"x\"", -1});
  for (std::size_t i = 0; i < std::min<std::size_t>(lines.size(), 3); ++i) check_date(line(i));
  FUZZ_CHECK(http::is_valid_media_type(line(3)) == reference_media_type(line(3)));
  FUZZ_CHECK(http::is_valid_media_type(input) == reference_media_type(input));
  if (lines.size() > 4) {
    const std::vector<std::string_view> fields(lines.begin() + 4, lines.end());
    check_preconditions(fields, method_of(flags), current);
  }
  return 0;
}
