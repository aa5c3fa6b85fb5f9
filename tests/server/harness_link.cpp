// The server tests talk to an in-process server with the integration tests' client; it is compiled into
// this executable as well, so the suites share one implementation.
#include "integration/harness.cpp"
