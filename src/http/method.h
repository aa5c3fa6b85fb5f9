#pragma once
// HTTP request methods as a small enum, so hot paths compare integers and metric labels index arrays.
#include <cstdint>
#include <string_view>

namespace http {

enum class Method : std::uint8_t { kGet, kHead, kPut, kDelete, kPost, kOptions, kPatch, kConnect, kTrace, kUnknown };

// Maps a syntactically valid method token to its enum; any other token is kUnknown (answered with 501).
// Method names are case-sensitive (RFC 9110 9.1).
constexpr Method method_from_token(std::string_view token) noexcept {
  if (token == "GET") return Method::kGet;
  if (token == "HEAD") return Method::kHead;
  if (token == "PUT") return Method::kPut;
  if (token == "DELETE") return Method::kDelete;
  if (token == "POST") return Method::kPost;
  if (token == "OPTIONS") return Method::kOptions;
  if (token == "PATCH") return Method::kPatch;
  if (token == "CONNECT") return Method::kConnect;
  if (token == "TRACE") return Method::kTrace;
  return Method::kUnknown;
}

constexpr std::string_view method_name(Method m) noexcept {
  switch (m) {
    case Method::kGet: return "GET";
    case Method::kHead: return "HEAD";
    case Method::kPut: return "PUT";
    case Method::kDelete: return "DELETE";
    case Method::kPost: return "POST";
    case Method::kOptions: return "OPTIONS";
    case Method::kPatch: return "PATCH";
    case Method::kConnect: return "CONNECT";
    case Method::kTrace: return "TRACE";
    case Method::kUnknown: break;
  }
  return "other";
}

}  // namespace http
