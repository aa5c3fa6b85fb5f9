#pragma once
// read_whole_file: the whole of a small file (/proc, /sys, cgroup files) read with read(2) into the
// caller's buffer — no allocation, and no iostreams, whose first use sets up the locale machinery.
//
// Returns the number of bytes read, or an error when the file cannot be opened or read, or when it fills
// the buffer: a cut-off value would be taken for a wrong one, and a missing value is better than a wrong one.
#include <cstddef>
#include <span>

#include "base/status.h"

namespace base {

Result<std::size_t> read_whole_file(const char* path, std::span<char> buffer);

}  // namespace base
