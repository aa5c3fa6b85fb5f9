#pragma once
// FUZZ_CHECK: an invariant every input must keep. A violation aborts, which libFuzzer reports as a crash and
// saves the input for. Not assert(): the fuzzers are usually built with NDEBUG, which would silence it.
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                   \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #condition);  \
      std::abort();                                                                             \
    }                                                                                           \
  } while (false)
