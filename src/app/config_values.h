#pragma once
// The value syntax of every setting, parsed strictly and printed back in the same syntax.
//
// Parsers accept exactly one form and return nullopt for anything else: no signs, no surrounding spaces,
// no trailing garbage, no overflow. Range checks that depend on the setting (a positive size, 1..1024
// connections) belong to the option table in config.cpp; these only answer "is this a size at all".
// Formatters produce text the parsers accept, so a value shown in --help or an error can be pasted back.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace app {

// A byte count, optionally with a binary suffix: K/Ki/KiB, M/Mi/MiB, G/Gi/GiB (1024^n, any case).
std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

// Milliseconds, optionally with a unit: ms, s or m (a whole number, no fractions).
std::optional<std::uint64_t> parse_duration_ms(std::string_view text) noexcept;

// true/1/yes/on or false/0/no/off, any case.
std::optional<bool> parse_bool(std::string_view text) noexcept;

// A TCP port, 0..65535 (0 asks the kernel for a free one).
std::optional<std::uint16_t> parse_port(std::string_view text) noexcept;

// An IPv4 or IPv6 literal; "[...]" brackets are removed and "localhost" means 127.0.0.1.
std::optional<std::string> parse_host(std::string_view text);

// Comma-separated positive, finite, strictly increasing numbers (spaces around items allowed). An empty
// or all-space text is the empty list.
std::optional<std::vector<double>> parse_increasing_list(std::string_view text);

// The largest of GiB, MiB or KiB that divides `bytes`, e.g. "64MiB"; otherwise the plain count.
std::string format_size(std::uint64_t bytes);

// "0", or the largest of m, s or ms that divides `ms`, e.g. "30s".
std::string format_duration(std::uint64_t ms);

// Shortest round-trip decimal forms joined by commas, e.g. "0.005,0.25,10"; non-finite values as "null".
std::string format_list(const std::vector<double>& values);

}  // namespace app
