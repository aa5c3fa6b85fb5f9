#pragma once
// Registry: the list of things rendered at /metrics, in registration order.
//
// A Collector writes zero or more whole families into a TextWriter when scraped; observation happens
// elsewhere (histograms, atomics), so collection never blocks the request path. The registry does not own
// its collectors; they must outlive it. Registration (and set_created) happens at start-up, before any
// scrape; render() may then run on several threads at once, in any of the formats.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/exposition.h"

namespace metrics {

class Collector {
 public:
  virtual ~Collector() = default;
  virtual void collect(TextWriter& out) const = 0;
};

// A gauge (or counter) whose value is read at scrape time, e.g. the store's byte count.
class CallbackGauge final : public Collector {
 public:
  CallbackGauge(std::string name, std::string help, std::function<double()> read,
                MetricType type = MetricType::kGauge);
  void collect(TextWriter& out) const override;

 private:
  std::string name_;
  std::string help_;
  std::function<double()> read_;
  MetricType type_;
};

// A gauge with a constant value 1 and fixed labels, e.g. build information.
class InfoGauge final : public Collector {
 public:
  InfoGauge(std::string name, std::string help, std::vector<std::pair<std::string, std::string>> labels);
  void collect(TextWriter& out) const override;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::pair<std::string, std::string>> labels_;
};

class Registry {
 public:
  void add(const Collector& collector);
  // The Unix time the counters and histograms started from (the process start), for OpenMetrics' _created.
  void set_created(double unix_seconds) noexcept { created_seconds_ = unix_seconds; }
  // Appends the whole exposition: text, OpenMetrics (ending with "# EOF") or delimited protobuf.
  void render(std::string& out, Format format = Format::kText) const;

 private:
  std::vector<const Collector*> collectors_;
  double created_seconds_ = 0;
};

}  // namespace metrics
