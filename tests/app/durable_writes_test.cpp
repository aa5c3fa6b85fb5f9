// DurableWrites in-process: the storage service behind a real server on loopback, its log on the fault
// injection file system, so that a test can hold a sync, fail one, or fill the disk, and see what the
// client is told and what the store and the log keep.
#include "app/durable_writes.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "app/storage_service.h"
#include "durable/file_ops.h"
#include "durable/log_writer.h"
#include "durable/recovery.h"
#include "durable/fault_injection_fs.h"
#include "integration/harness.h"
#include "server/server.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using durable::test::FaultInjectionFileSystem;
using durable::test::FaultOp;
using harness::Client;

class DurableService {
 public:
  DurableService() {
    directory_ = (dir_.path() / "data").string();
    EXPECT_TRUE(fs_.create_directory(directory_));
    durable::LogWriterOptions options;
    options.directory = directory_;
    auto opened = durable::LogWriter::open(fs_, queue_, options);
    EXPECT_TRUE(opened) << opened.status().message();
    writer_ = std::move(*opened);
    writes_ = std::make_unique<app::DurableWrites>(store_, *writer_, queue_,
                                                   [this](const base::Status&) { failures_.fetch_add(1); });
    context_.durable = writes_.get();
    server::ServerOptions server_options;
    server_options.address = *net::parse_address("127.0.0.1", 0);
    server_options.threads = 1;
    server_ = std::make_unique<server::Server>(
        std::move(server_options),
        [this](unsigned index, server::ListenerKind, net::EventLoop& loop) {
          return std::make_unique<app::StorageService>(context_, index, app::RouteSet::kAll, &loop);
        },
        [](std::string_view, int) {});
    const base::Status started = server_->start();
    EXPECT_TRUE(started) << started.message();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~DurableService() {
    fs_.open_sync_gate();
    server_->drain(0ms);
    thread_.join();
    (void)writer_->close();  // the last answers go to the loops before they are destroyed
  }

  std::uint16_t port() const { return server_->port(); }
  FaultInjectionFileSystem& fs() { return fs_; }
  store::BucketStore& store() { return store_; }
  int failures() const { return failures_.load(); }
  durable::LogWriter& writer() { return *writer_; }

  // What a recovery of the log would load: id -> value.
  std::map<std::string, std::string> replay() {
    struct Collect final : durable::ReplaySink {
      std::map<std::string, std::string> objects;
      base::Status apply(const durable::Record& record) noexcept override {
        if (record.operation == durable::Operation::kDelete) {
          objects.erase(std::string(record.id));
        } else {
          objects[std::string(record.id)] = std::string(record.value);
        }
        return base::Status::ok();
      }
    } collect;
    const auto recovered = durable::recover(fs_, durable::RecoveryOptions{directory_, false, {}}, collect);
    EXPECT_TRUE(recovered) << recovered.status().message();
    return collect.objects;
  }

 private:
  test_support::TempDir dir_;
  std::string directory_;
  durable::PosixFileSystem posix_;
  FaultInjectionFileSystem fs_{posix_};
  base::MemoryAccount queue_{64 << 20};
  store::BucketStore store_{64 << 20, base::HashKey{1, 2}};
  app::RequestMetrics metrics_{{0.001, 0.01}, 1};
  app::RefusalMetrics refusals_;
  metrics::Registry registry_;
  std::atomic<bool> shutting_down_{false};
  app::Logger log_{app::LogLevel::kError};
  app::ServiceContext context_{store_, metrics_, refusals_, registry_, shutting_down_, log_, false};
  std::unique_ptr<durable::LogWriter> writer_;
  std::unique_ptr<app::DurableWrites> writes_;
  std::atomic<int> failures_{0};
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
};

bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

TEST(DurableWritesTest, APutIsAnsweredOnlyOnceItsRecordIsSynced) {
  DurableService service;
  Client c(service.port());
  service.fs().close_sync_gate();
  ASSERT_TRUE(c.send(harness::build_request("PUT", "/api/buckets/x", "value")));
  ASSERT_TRUE(service.fs().wait_for_syncs_at_gate(1, 5000ms));
  // The record is written and its fdatasync has begun: nothing may have been answered yet.
  EXPECT_FALSE(readable_now(c.fd())) << "answered before the record was durable";
  service.fs().open_sync_gate();
  const auto answer = c.read_response();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_FALSE(answer->header("etag").empty());
  EXPECT_FALSE(answer->header("last-modified").empty());
  EXPECT_EQ(service.writer().stats().durable_sequence, service.writer().stats().written_sequence);
  EXPECT_EQ(c.request("DELETE", "/api/buckets/x")->status, 200);
  EXPECT_EQ(c.request("DELETE", "/api/buckets/x")->status, 400) << "an unknown id is not logged";
  EXPECT_EQ(service.writer().stats().records_written, 2u);
}

TEST(DurableWritesTest, AFailedSyncAnswers503AndFailsTheLogOnce) {
  DurableService service;
  Client c(service.port());
  ASSERT_EQ(c.request("PUT", "/api/buckets/before", "kept")->status, 200);
  service.fs().fail_nth(FaultOp::kSyncData, 1, EIO);
  EXPECT_EQ(c.request("PUT", "/api/buckets/lost", "never acknowledged")->status, 503);
  EXPECT_EQ(service.failures(), 1);
  // Every later write is refused at once: the log never retries a failed sync.
  EXPECT_EQ(c.request("PUT", "/api/buckets/later", "refused")->status, 503);
  EXPECT_EQ(c.request("DELETE", "/api/buckets/before")->status, 503);
  EXPECT_EQ(c.request("GET", "/api/buckets/before")->body, "kept") << "reads go on";
  EXPECT_EQ(service.failures(), 1) << "the failure is reported once";
}

TEST(DurableWritesTest, AFullDiskAnswers507UndoesTheChangeAndWritesResumeWithRoom) {
  DurableService service;
  Client c(service.port());
  const auto first = c.request("PUT", "/api/buckets/x", "old value");
  ASSERT_EQ(first->status, 200);
  service.fs().limit_bytes(0);
  const std::string big(10000, 'b');
  EXPECT_EQ(c.request("PUT", "/api/buckets/x", big)->status, 507);
  EXPECT_EQ(c.request("PUT", "/api/buckets/new", big)->status, 507);
  EXPECT_EQ(c.request("DELETE", "/api/buckets/x")->status, 507);
  // What the log does not hold, the store does not show: each change was undone.
  const auto x = c.request("GET", "/api/buckets/x");
  EXPECT_EQ(x->body, "old value");
  EXPECT_EQ(x->header("etag"), first->header("etag"));
  EXPECT_EQ(x->header("last-modified"), first->header("last-modified"));
  EXPECT_EQ(c.request("GET", "/api/buckets/new")->status, 404);
  EXPECT_EQ(service.failures(), 0) << "a full disk does not fail the log";

  service.fs().limit_bytes(std::uint64_t{1} << 40);
  EXPECT_EQ(c.request("PUT", "/api/buckets/new", big)->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/new")->body, big);
  ASSERT_TRUE(service.writer().close());
  const std::map<std::string, std::string> logged = service.replay();
  EXPECT_EQ(logged, (std::map<std::string, std::string>{{"new", big}, {"x", "old value"}}));
}

TEST(DurableWritesTest, AFailedPreconditionIsNotLogged) {
  DurableService service;
  Client c(service.port());
  ASSERT_EQ(c.request("PUT", "/api/buckets/x", "v1")->status, 200);
  EXPECT_EQ(c.request("PUT", "/api/buckets/x", "v2", "If-None-Match: *\r\n")->status, 412);
  EXPECT_EQ(c.request("DELETE", "/api/buckets/x", "", "If-Match: \"nope\"\r\n")->status, 412);
  EXPECT_EQ(service.writer().stats().records_written, 1u);
  EXPECT_EQ(c.request("GET", "/api/buckets/x")->body, "v1");
}

}  // namespace
