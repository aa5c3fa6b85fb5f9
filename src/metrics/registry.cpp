#include "metrics/registry.h"

#include <utility>

namespace metrics {

CallbackGauge::CallbackGauge(std::string name, std::string help, std::function<double()> read, MetricType type)
    : name_(std::move(name)), help_(std::move(help)), read_(std::move(read)), type_(type) {}

void CallbackGauge::collect(TextWriter& out) const {
  // An empty function would throw on call; a family without a source is simply not rendered.
  if (!read_) return;
  out.family(name_, help_, type_);
  out.sample(name_, std::span<const Label>(), read_());
}

InfoGauge::InfoGauge(std::string name, std::string help, std::vector<std::pair<std::string, std::string>> labels)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}

void InfoGauge::collect(TextWriter& out) const {
  std::vector<Label> labels;
  labels.reserve(labels_.size());
  for (const auto& [label_name, label_value] : labels_) labels.push_back(Label{label_name, label_value});
  out.family(name_, help_, MetricType::kGauge);
  out.sample(name_, labels, 1);
}

void Registry::add(const Collector& collector) { collectors_.push_back(&collector); }

void Registry::render(std::string& out, Format format) const {
  TextWriter writer(out, format, created_seconds_);
  for (const Collector* collector : collectors_) collector->collect(writer);
  writer.finish();
}

}  // namespace metrics
