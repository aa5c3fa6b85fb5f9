// The durable writes test drives an in-process server with the integration tests' client and puts its log
// on the durable tests' fault injection file system; both are compiled into this executable as well.
#include "durable/fault_injection_fs.cpp"
#include "integration/harness.cpp"
