// The fault tests drive the real binary with the integration tests' harness; it is compiled into this
// executable as well, so both suites share one implementation.
#include "integration/harness.cpp"
