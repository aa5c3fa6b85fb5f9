#pragma once
// AcceptReader: the media ranges of one Accept field value (RFC 9110 12.5.1), read one at a time, with
// their parameters and weight. Sans-I/O and allocation-free: every view points into the field value.
//
//   Accept = #( media-range [ weight ] )
//   media-range = ( "*/*" / ( type "/*" ) / ( type "/" subtype ) ) parameters
//   weight = OWS ";" OWS "q=" qvalue
//
// Empty list elements are skipped (RFC 9110 5.6.1). An element that breaks the grammar (a bad token, "*/x",
// a bad qvalue, more than kMaxMediaRangeParameters parameters) is reported as kMalformed and skipped up to
// the next comma outside a quoted-string, so one bad element never hides the others. Parameters after the
// weight (RFC 7231's accept-ext) are allowed and ignored. Names compare case-insensitively; values as the
// caller decides (parameter_equals).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace http {

inline constexpr std::size_t kMaxMediaRangeParameters = 8;
inline constexpr std::uint16_t kMaxWeight = 1000;  // q=1, in thousandths

struct MediaParameter {
  std::string_view name;
  std::string_view value;  // as received: a token, or a quoted-string with its quotes and escapes
};

struct MediaRange {
  std::string_view type;     // "*" for */*
  std::string_view subtype;  // "*" for */* and type/*
  std::array<MediaParameter, kMaxMediaRangeParameters> parameters{};
  std::size_t parameter_count = 0;
  std::uint16_t weight = kMaxWeight;  // qvalue in thousandths, 0..1000

  bool any_type() const noexcept { return type == "*"; }
  bool any_subtype() const noexcept { return subtype == "*"; }
};

class AcceptReader {
 public:
  enum class Step : std::uint8_t { kRange, kMalformed, kEnd };

  explicit AcceptReader(std::string_view field_value) noexcept : text_(field_value) {}

  // The next element: kRange with `out` filled, kMalformed (skipped), or kEnd.
  Step next(MediaRange& out) noexcept;

 private:
  Step skip_element() noexcept;

  std::string_view text_;
  std::size_t pos_ = 0;
};

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; false when malformed.
bool parse_qvalue(std::string_view text, std::uint16_t& thousandths) noexcept;

// True when the parameter's value, unquoted, equals `expected` (ASCII case-insensitively when asked).
bool parameter_equals(const MediaParameter& parameter, std::string_view expected, bool ignore_case) noexcept;

}  // namespace http
