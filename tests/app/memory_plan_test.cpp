#include "app/memory_plan.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <limits>
#include <optional>
#include <string>

namespace app {
namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;
constexpr std::size_t GiB = 1024 * MiB;
// 8KiB of connection state + 4 x the default 64KiB socket buffers.
constexpr std::size_t kPerConnection = 264 * KiB;

const MemoryPlanConstants kConstants{8 * KiB, 64 * KiB};

MemoryLimit cgroup(std::size_t bytes) { return MemoryLimit{bytes, "cgroup v2 memory.max"}; }

MemoryPlan plan_ok(const Config& config, std::optional<MemoryLimit> detected = std::nullopt) {
  base::Result<MemoryPlan> plan = plan_memory(config, std::move(detected), kConstants);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  return plan.is_ok() ? *plan : MemoryPlan{};
}

std::string plan_error(const Config& config, std::optional<MemoryLimit> detected = std::nullopt) {
  const base::Result<MemoryPlan> plan = plan_memory(config, std::move(detected), kConstants);
  EXPECT_FALSE(plan.is_ok()) << plan->to_json();
  if (plan.is_ok()) return {};
  EXPECT_EQ(plan.status().message().find('\n'), std::string::npos);
  return plan.status().message();
}

std::size_t total(const MemoryPlan& plan) {
  return plan.runtime_reserve + plan.storage + plan.inflight_bodies + plan.connection_memory + plan.admin_memory;
}

TEST(PlanMemory, WithoutALimitTheFixedDefaultsApply) {
  const MemoryPlan plan = plan_ok(Config{});
  EXPECT_EQ(plan.limit, 0u);
  EXPECT_EQ(plan.limit_source, "");
  EXPECT_EQ(plan.runtime_reserve, 0u);
  EXPECT_EQ(plan.storage, 256 * MiB);
  EXPECT_EQ(plan.inflight_bodies, 128 * MiB);
  EXPECT_EQ(plan.connection_memory, 256 * MiB);
  EXPECT_EQ(plan.admin_memory, 0u);
  EXPECT_EQ(plan.per_connection, kPerConnection);
  EXPECT_EQ(plan.max_connections, 992u);  // 256MiB / 264KiB, rounded down
  EXPECT_EQ(plan.max_body_bytes, 64 * MiB);
}

TEST(PlanMemory, WithoutALimitExplicitValuesNeedNotFitAnything) {
  Config config;
  config.max_storage_bytes = 100 * GiB;
  config.max_inflight_body_bytes = 50 * GiB;
  config.max_connections = 20000;
  const MemoryPlan plan = plan_ok(config);
  EXPECT_EQ(plan.storage, 100 * GiB);
  EXPECT_EQ(plan.inflight_bodies, 50 * GiB);
  EXPECT_EQ(plan.connection_memory, 20000 * kPerConnection);
  EXPECT_EQ(plan.max_connections, 20000u);
  EXPECT_EQ(plan.max_body_bytes, 64 * MiB);
}

TEST(PlanMemory, Compose448MiBWithDefaults) {
  const MemoryPlan plan = plan_ok(Config{}, cgroup(448 * MiB));
  EXPECT_EQ(plan.limit, 448 * MiB);
  EXPECT_EQ(plan.limit_source, "cgroup v2 memory.max");
  EXPECT_EQ(plan.runtime_reserve, 32 * MiB);  // 448MiB / 16 = 28MiB is below the floor
  EXPECT_EQ(plan.storage, 208 * MiB);
  EXPECT_EQ(plan.inflight_bodies, 104 * MiB);
  EXPECT_EQ(plan.connection_memory, 104 * MiB);
  EXPECT_EQ(plan.max_connections, 403u);
  EXPECT_EQ(plan.max_body_bytes, 64 * MiB);
  EXPECT_EQ(total(plan), plan.limit);
}

TEST(PlanMemory, Compose512MiBWithDefaults) {
  const MemoryPlan plan = plan_ok(Config{}, cgroup(512 * MiB));
  EXPECT_EQ(plan.runtime_reserve, 32 * MiB);
  EXPECT_EQ(plan.storage, 240 * MiB);
  EXPECT_EQ(plan.inflight_bodies, 120 * MiB);
  EXPECT_EQ(plan.connection_memory, 120 * MiB);
  EXPECT_EQ(plan.max_connections, 465u);
  EXPECT_EQ(plan.max_body_bytes, 64 * MiB);
  EXPECT_EQ(total(plan), plan.limit);
}

TEST(PlanMemory, Compose448MiBWithTheComposeFileSettings) {
  Config config;  // docker-compose.yml sets MAX_STORAGE_BYTES=256Mi and MAX_BODY_BYTES=64Mi
  config.max_storage_bytes = 256 * MiB;
  config.max_body_bytes = 64 * MiB;
  const MemoryPlan plan = plan_ok(config, cgroup(448 * MiB));
  EXPECT_EQ(plan.storage, 256 * MiB);
  EXPECT_EQ(plan.inflight_bodies, 80 * MiB);  // the 160MiB left, shared 25 : 25
  EXPECT_EQ(plan.connection_memory, 80 * MiB);
  EXPECT_EQ(plan.max_connections, 310u);
  EXPECT_EQ(plan.max_body_bytes, 64 * MiB);
}

TEST(PlanMemory, MaxMemoryBytesWinsOverTheCgroupLimit) {
  Config config;
  config.max_memory_bytes = 1 * GiB;
  const MemoryPlan plan = plan_ok(config, cgroup(448 * MiB));
  EXPECT_EQ(plan.limit, 1 * GiB);
  EXPECT_EQ(plan.limit_source, "MAX_MEMORY_BYTES");
  EXPECT_EQ(plan.runtime_reserve, 64 * MiB);  // a sixteenth above 512MiB
  EXPECT_EQ(total(plan), 1 * GiB);
}

TEST(PlanMemory, RuntimeReserveIsASixteenthRoundedDownAndAtLeast32MiB) {
  const std::pair<std::size_t, std::size_t> cases[] = {
      {48 * MiB, 32 * MiB}, {512 * MiB, 32 * MiB}, {512 * MiB + 16, 32 * MiB + 1},
      {1 * GiB + 15, 64 * MiB}, {2 * GiB, 128 * MiB},
  };
  for (const auto& [limit, reserve] : cases) {
    SCOPED_TRACE(limit);
    const MemoryPlan plan = plan_ok(Config{}, cgroup(limit));
    EXPECT_EQ(plan.runtime_reserve, reserve);
    EXPECT_EQ(total(plan), limit);
  }
}

TEST(PlanMemory, SharesRoundDownAndTheRemainderGoesToTheFirst) {
  // 416MiB + 3 bytes to share: 50% is 218103809.5, 25% is 109051904.75.
  const MemoryPlan plan = plan_ok(Config{}, cgroup(448 * MiB + 3));
  EXPECT_EQ(plan.inflight_bodies, 109051904u);
  EXPECT_EQ(plan.connection_memory, 109051904u);
  EXPECT_EQ(plan.storage, 218103811u);  // 218103809 + the 2 bytes rounding left over
  EXPECT_EQ(total(plan), 448 * MiB + 3);
}

TEST(PlanMemory, WeightsAreRenormalisedOverTheUnsetOnes) {
  Config storage_given;
  storage_given.max_storage_bytes = 100 * MiB;
  MemoryPlan plan = plan_ok(storage_given, cgroup(448 * MiB));
  EXPECT_EQ(plan.storage, 100 * MiB);
  EXPECT_EQ(plan.inflight_bodies, 158 * MiB);  // 316MiB shared 25 : 25
  EXPECT_EQ(plan.connection_memory, 158 * MiB);

  Config bodies_given;
  bodies_given.max_inflight_body_bytes = 116 * MiB;
  plan = plan_ok(bodies_given, cgroup(448 * MiB));
  EXPECT_EQ(plan.storage, 200 * MiB);  // 300MiB shared 50 : 25
  EXPECT_EQ(plan.inflight_bodies, 116 * MiB);
  EXPECT_EQ(plan.connection_memory, 100 * MiB);

  Config only_storage_unset;
  only_storage_unset.max_inflight_body_bytes = 100 * MiB;
  only_storage_unset.max_connection_memory_bytes = 16 * MiB;
  plan = plan_ok(only_storage_unset, cgroup(448 * MiB));
  EXPECT_EQ(plan.storage, 300 * MiB);
  EXPECT_EQ(total(plan), 448 * MiB);
}

TEST(PlanMemory, ExplicitMaxConnectionsIsAnExplicitConnectionBudget) {
  Config config;
  config.max_connections = 100;
  const MemoryPlan plan = plan_ok(config, cgroup(448 * MiB));
  EXPECT_EQ(plan.connection_memory, 100 * kPerConnection);
  EXPECT_EQ(plan.max_connections, 100u);
  // The remaining 409174016 bytes are shared 50 : 25; the one byte rounding leaves goes to storage.
  EXPECT_EQ(plan.storage, 272782678u);
  EXPECT_EQ(plan.inflight_bodies, 136391338u);
  EXPECT_EQ(total(plan), 448 * MiB);
}

TEST(PlanMemory, ExplicitMaxConnectionsMustFitAnExplicitConnectionBudget) {
  Config config;
  config.max_connection_memory_bytes = 100 * MiB;
  config.max_connections = 387;  // 387 x 264KiB = 102168KiB <= 102400KiB
  EXPECT_EQ(plan_ok(config).max_connections, 387u);
  EXPECT_EQ(plan_ok(config, cgroup(448 * MiB)).connection_memory, 100 * MiB);
  config.max_connections = 388;
  EXPECT_EQ(plan_error(config),
            "MAX_CONNECTIONS 388 x 264KiB (8KiB state + 4 x 64KiB socket buffers) = 102432KiB is more than the "
            "connection memory budget 100MiB (MAX_CONNECTION_MEMORY_BYTES)");
}

TEST(PlanMemory, DerivedMaxConnectionsIsCappedAt10000) {
  const MemoryPlan plan = plan_ok(Config{}, cgroup(16 * GiB));
  EXPECT_EQ(plan.connection_memory, 3840 * MiB);
  EXPECT_EQ(plan.max_connections, 10000u);
}

TEST(PlanMemory, SocketBuffersSetTheCostOfAConnection) {
  Config config;
  config.socket_buffer_bytes = 4 * KiB;
  const MemoryPlan plan = plan_ok(config);
  EXPECT_EQ(plan.per_connection, 24 * KiB);
  EXPECT_EQ(plan.max_connections, 10000u);  // 256MiB / 24KiB = 10922
  config.socket_buffer_bytes = 16 * MiB;
  EXPECT_EQ(plan_ok(config).max_connections, 3u);  // 256MiB / (64MiB + 8KiB)
}

TEST(PlanMemory, TooFewBytesForOneConnection) {
  Config config;
  config.max_connection_memory_bytes = 100 * KiB;
  EXPECT_EQ(plan_error(config),
            "the connection memory budget 100KiB (MAX_CONNECTION_MEMORY_BYTES) is less than one connection: "
            "264KiB (8KiB state + 4 x 64KiB socket buffers)");
  Config huge_buffers;
  huge_buffers.socket_buffer_bytes = 16 * MiB;
  EXPECT_EQ(plan_error(huge_buffers, cgroup(64 * MiB)),
            "the connection memory budget 8MiB (derived from memory limit 64MiB (cgroup v2 memory.max)) is less "
            "than one connection: 65544KiB (8KiB state + 4 x 16MiB socket buffers)");
}

TEST(PlanMemory, AdminConnectionsComeOffTheTopOnlyWithAnAdminPort) {
  Config config;
  config.admin_port = 0;  // any admin port, even a free one, has its own connections
  MemoryPlan plan = plan_ok(config, cgroup(448 * MiB));
  EXPECT_EQ(plan.admin_memory, 16 * (kPerConnection + 64 * KiB));
  EXPECT_EQ(total(plan), 448 * MiB);
  EXPECT_LT(plan.storage, 208 * MiB);
  config.admin_max_connections = 1;
  EXPECT_EQ(plan_ok(config).admin_memory, kPerConnection + 64 * KiB);
  config.admin_port.reset();
  EXPECT_EQ(plan_ok(config, cgroup(448 * MiB)).admin_memory, 0u);
}

TEST(PlanMemory, LimitTooSmall) {
  Config config;
  config.max_memory_bytes = 48 * MiB;  // exactly the reserve and the 16MiB minimum
  EXPECT_EQ(plan_ok(config).storage, 8 * MiB);
  config.max_memory_bytes = 48 * MiB - 1;
  EXPECT_EQ(plan_error(config),
            "memory limit 50331647 (MAX_MEMORY_BYTES) is too small: runtime reserve 32MiB + 16MiB minimum for "
            "storage, request bodies and connections = 48MiB");
  EXPECT_EQ(plan_error(Config{}, cgroup(0)),
            "memory limit 0 (cgroup v2 memory.max) is too small: runtime reserve 32MiB + 16MiB minimum for "
            "storage, request bodies and connections = 48MiB");
  Config with_admin;
  with_admin.admin_port = 9000;
  EXPECT_EQ(plan_error(with_admin, cgroup(50 * MiB)),
            "memory limit 50MiB (cgroup v2 memory.max) is too small: admin 5248KiB + runtime reserve 32MiB + "
            "16MiB minimum for storage, request bodies and connections = 54400KiB");
}

TEST(PlanMemory, ExplicitBudgetsThatDoNotFitNameEveryComponent) {
  Config config;
  config.admin_port = 9000;
  config.max_storage_bytes = 400 * MiB;
  config.max_inflight_body_bytes = 128 * MiB;
  config.max_connection_memory_bytes = 100 * MiB;
  EXPECT_EQ(plan_error(config, cgroup(448 * MiB)),
            "memory budget does not fit: MAX_STORAGE_BYTES 400MiB + MAX_INFLIGHT_BODY_BYTES 128MiB + "
            "MAX_CONNECTION_MEMORY_BYTES 100MiB + admin 5248KiB + runtime reserve 32MiB = 681088KiB > "
            "memory limit 448MiB (cgroup v2 memory.max)");

  Config connections;
  connections.max_storage_bytes = 400 * MiB;
  connections.max_connections = 100;
  connections.max_memory_bytes = 448 * MiB;
  EXPECT_EQ(plan_error(connections),
            "memory budget does not fit: MAX_STORAGE_BYTES 400MiB + connections 26400KiB (MAX_CONNECTIONS 100 x "
            "264KiB) + runtime reserve 32MiB = 468768KiB > memory limit 448MiB (MAX_MEMORY_BYTES)");
}

TEST(PlanMemory, ExplicitBudgetsMayFillTheLimitExactly) {
  Config config;
  config.max_storage_bytes = 216 * MiB;
  config.max_inflight_body_bytes = 100 * MiB;
  config.max_connection_memory_bytes = 100 * MiB;
  EXPECT_EQ(total(plan_ok(config, cgroup(448 * MiB))), 448 * MiB);
  config.max_connection_memory_bytes = 100 * MiB + 1;
  EXPECT_NE(plan_error(config, cgroup(448 * MiB)).find("= 469762049 > memory limit 448MiB"), std::string::npos);
}

TEST(PlanMemory, ExplicitBudgetsThatLeaveNothingForTheDerivedOnes) {
  Config config;
  config.max_storage_bytes = 416 * MiB;
  EXPECT_EQ(plan_error(config, cgroup(448 * MiB)),
            "memory budget does not fit: MAX_STORAGE_BYTES 416MiB + runtime reserve 32MiB = 448MiB leaves nothing "
            "for MAX_INFLIGHT_BODY_BYTES within memory limit 448MiB (cgroup v2 memory.max)");
}

TEST(PlanMemory, TheLargestBodyLeavesRoomForItsValueHeader) {
  MemoryPlanConstants constants = kConstants;
  constants.body_overhead_bytes = 32;
  Config config;
  config.max_inflight_body_bytes = 1 * MiB;
  const base::Result<MemoryPlan> plan = plan_memory(config, std::nullopt, constants);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->max_body_bytes, 1 * MiB - 32) << "a 1 MiB body is charged 1 MiB + 32 bytes";
  config.max_body_bytes = 1 * MiB;
  EXPECT_FALSE(plan_memory(config, std::nullopt, constants));
  config.max_body_bytes = 1 * MiB - 32;
  EXPECT_TRUE(plan_memory(config, std::nullopt, constants));
}

TEST(PlanMemory, MaxBodyBytesAgainstTheInflightBudget) {
  Config config;
  config.max_memory_bytes = 100 * MiB;  // 68MiB to share: 17MiB for bodies in flight
  EXPECT_EQ(plan_ok(config).max_body_bytes, 17 * MiB);  // the 64MiB default, lowered
  config.max_body_bytes = 17 * MiB;
  EXPECT_EQ(plan_ok(config).max_body_bytes, 17 * MiB);
  config.max_body_bytes = 17 * MiB + 1;
  EXPECT_EQ(plan_error(config),
            "MAX_BODY_BYTES 17825793 is larger than the in-flight body budget 17MiB (derived from memory limit "
            "100MiB (MAX_MEMORY_BYTES)), so such a body could never be received");

  Config explicit_budget;
  explicit_budget.max_inflight_body_bytes = 1 * MiB;
  EXPECT_EQ(plan_ok(explicit_budget).max_body_bytes, 1 * MiB);
  explicit_budget.max_body_bytes = 2 * MiB;
  EXPECT_EQ(plan_error(explicit_budget),
            "MAX_BODY_BYTES 2MiB is larger than the in-flight body budget 1MiB (MAX_INFLIGHT_BODY_BYTES), so such a "
            "body could never be received");

  Config no_limit;
  no_limit.max_body_bytes = 1 * GiB;
  EXPECT_EQ(plan_error(no_limit),
            "MAX_BODY_BYTES 1GiB is larger than the in-flight body budget 128MiB (default without a memory limit), "
            "so such a body could never be received");
  no_limit.max_body_bytes = 128 * MiB;
  EXPECT_EQ(plan_ok(no_limit).max_body_bytes, 128 * MiB);
}

TEST(PlanMemory, HugeValuesDoNotWrapAround) {
  Config config;
  config.max_connections = std::numeric_limits<std::size_t>::max() / 2;
  EXPECT_NE(plan_error(config).find("does not fit in 64 bits"), std::string::npos);
  Config sizes;
  sizes.max_storage_bytes = std::numeric_limits<std::size_t>::max();
  sizes.max_inflight_body_bytes = std::numeric_limits<std::size_t>::max();
  EXPECT_NE(plan_error(sizes, cgroup(448 * MiB)).find("= over 16EiB > memory limit 448MiB"), std::string::npos);
}

TEST(MemoryPlanJson, EveryFieldInBytes) {
  EXPECT_EQ(plan_ok(Config{}, cgroup(448 * MiB)).to_json(),
            R"({"limit":469762048,"limit_source":"cgroup v2 memory.max","runtime_reserve":33554432,)"
            R"("storage":218103808,"inflight_bodies":109051904,"connection_memory":109051904,"admin_memory":0,)"
            R"("per_connection":270336,"max_connections":403,"max_body_bytes":67108864})");
  const std::string unlimited = plan_ok(Config{}).to_json();
  EXPECT_EQ(unlimited.rfind(R"({"limit":0,"limit_source":null,"runtime_reserve":0,)", 0), 0u) << unlimited;
  MemoryPlan quoted;
  quoted.limit_source = "a\"b";
  EXPECT_NE(quoted.to_json().find(R"("limit_source":"a\"b")"), std::string::npos) << quoted.to_json();
}

}  // namespace
}  // namespace app
