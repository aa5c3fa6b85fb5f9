#include "http/accept.h"

#include "base/text.h"
#include "http/field_syntax.h"

namespace http {

namespace {

std::size_t token_end(std::string_view text, std::size_t from) noexcept {
  while (from < text.size() && base::is_token_char(text[from])) ++from;
  return from;
}

std::size_t skip_ows(std::string_view text, std::size_t from) noexcept {
  while (from < text.size() && base::is_ows(text[from])) ++from;
  return from;
}

}  // namespace

bool parse_qvalue(std::string_view text, std::uint16_t& thousandths) noexcept {
  if (text.empty() || text.size() > 5 || (text[0] != '0' && text[0] != '1')) return false;
  unsigned value = text[0] == '1' ? 1000 : 0;
  if (text.size() > 1) {
    if (text[1] != '.') return false;
    unsigned scale = 100;
    for (std::size_t i = 2; i < text.size(); ++i, scale /= 10) {
      if (!base::is_digit(text[i])) return false;
      value += static_cast<unsigned>(text[i] - '0') * scale;
    }
    if (value > 1000) return false;  // "1.5": only zeros may follow a 1
  }
  thousandths = static_cast<std::uint16_t>(value);
  return true;
}

bool parameter_equals(const MediaParameter& parameter, std::string_view expected, bool ignore_case) noexcept {
  const auto same = [ignore_case](char a, char b) noexcept {
    return ignore_case ? base::to_lower_ascii(a) == base::to_lower_ascii(b) : a == b;
  };
  std::string_view value = parameter.value;
  if (value.empty() || value.front() != '"') {
    if (value.size() != expected.size()) return false;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!same(value[i], expected[i])) return false;
    }
    return true;
  }
  // A quoted-string already checked by the reader: the quotes go, and each quoted-pair stands for its byte.
  value = value.substr(1, value.size() - 2);
  std::size_t j = 0;
  for (std::size_t i = 0; i < value.size(); ++i, ++j) {
    if (value[i] == '\\') ++i;
    if (j == expected.size() || !same(value[i], expected[j])) return false;
  }
  return j == expected.size();
}

AcceptReader::Step AcceptReader::skip_element() noexcept {
  while (pos_ < text_.size() && text_[pos_] != ',') {
    if (text_[pos_] == '"') {
      const std::size_t length = field_syntax::quoted_string_length(text_.substr(pos_));
      if (length == std::string_view::npos) {
        pos_ = text_.size();  // an unterminated quote swallows the rest: no comma after it can be trusted
        break;
      }
      pos_ += length;
    } else {
      ++pos_;
    }
  }
  return Step::kMalformed;
}

AcceptReader::Step AcceptReader::next(MediaRange& out) noexcept {
  // Empty elements: ", ," and leading or trailing commas.
  while (pos_ < text_.size() && (text_[pos_] == ',' || base::is_ows(text_[pos_]))) ++pos_;
  if (pos_ == text_.size()) return Step::kEnd;

  out = MediaRange{};
  const std::size_t type_end = token_end(text_, pos_);
  if (type_end == pos_ || type_end == text_.size() || text_[type_end] != '/') return skip_element();
  const std::size_t subtype_end = token_end(text_, type_end + 1);
  if (subtype_end == type_end + 1) return skip_element();
  out.type = text_.substr(pos_, type_end - pos_);
  out.subtype = text_.substr(type_end + 1, subtype_end - type_end - 1);
  // '*' is a tchar, so "te*t/x" reads as tokens: only a lone "*" is a wildcard, and "*/x" is no range.
  const bool star_type = out.type == "*";
  const bool star_subtype = out.subtype == "*";
  if ((star_type && !star_subtype) || (!star_type && out.type.find('*') != std::string_view::npos) ||
      (!star_subtype && out.subtype.find('*') != std::string_view::npos)) {
    return skip_element();
  }
  pos_ = subtype_end;

  bool weighted = false;
  for (;;) {
    pos_ = skip_ows(text_, pos_);
    if (pos_ == text_.size() || text_[pos_] == ',') return Step::kRange;
    if (text_[pos_] != ';') return skip_element();
    pos_ = skip_ows(text_, pos_ + 1);
    if (pos_ == text_.size() || text_[pos_] == ',' || text_[pos_] == ';') continue;  // an empty parameter
    const std::size_t name_end = token_end(text_, pos_);
    if (name_end == pos_ || name_end == text_.size() || text_[name_end] != '=') return skip_element();
    const std::string_view name = text_.substr(pos_, name_end - pos_);
    const std::size_t value_length = field_syntax::parameter_value_length(text_.substr(name_end + 1));
    if (value_length == 0) return skip_element();
    const std::string_view value = text_.substr(name_end + 1, value_length);
    pos_ = name_end + 1 + value_length;
    if (weighted) continue;  // accept-ext: allowed, and of no meaning here
    if (base::equals_ignore_case(name, "q")) {
      if (!parse_qvalue(value, out.weight)) return skip_element();
      weighted = true;
      continue;
    }
    if (out.parameter_count == kMaxMediaRangeParameters) return skip_element();
    out.parameters[out.parameter_count++] = MediaParameter{name, value};
  }
}

}  // namespace http
