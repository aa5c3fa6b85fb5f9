#include "http/media_type.h"

#include "base/text.h"
#include "http/field_syntax.h"

namespace http {

bool is_valid_media_type(std::string_view value) noexcept {
  if (value.empty() || value.size() > kMaxContentTypeBytes) return false;
  std::size_t i = 0;
  const auto token_end = [&](std::size_t from) noexcept {
    while (from < value.size() && base::is_token_char(value[from])) ++from;
    return from;
  };
  const auto skip_ows = [&](std::size_t from) noexcept {
    while (from < value.size() && base::is_ows(value[from])) ++from;
    return from;
  };

  i = token_end(0);  // type
  if (i == 0 || i == value.size() || value[i] != '/') return false;
  const std::size_t subtype_end = token_end(i + 1);
  if (subtype_end == i + 1) return false;
  i = subtype_end;

  while (i < value.size()) {
    i = skip_ows(i);
    if (i == value.size() || value[i] != ';') return false;
    i = skip_ows(i + 1);
    if (i == value.size() || value[i] == ';') continue;  // an empty parameter
    const std::size_t name_end = token_end(i);
    if (name_end == i || name_end == value.size() || value[name_end] != '=') return false;
    i = name_end + 1;
    const std::size_t value_length = field_syntax::parameter_value_length(value.substr(i));
    if (value_length == 0) return false;
    i += value_length;
  }
  return true;
}

}  // namespace http
