#include "eval_report.h"

#include <cstdio>

namespace mnistcnn::cli {

int64_t error_count(const train::EvalResult& r) {
  return r.count() - static_cast<int64_t>(r.accuracy() * static_cast<double>(r.count()) + 0.5);
}

nlohmann::json eval_json(const train::EvalResult& r, const std::vector<std::string>& names) {
  const auto& cm = r.confusion;
  const int C = cm.classes();
  const auto per_class = cm.per_class();
  nlohmann::json pc = nlohmann::json::array(), conf = nlohmann::json::array();
  for (int k = 0; k < C; ++k) {
    const auto& m_k = per_class[static_cast<size_t>(k)];
    pc.push_back({{"class", names[static_cast<size_t>(k)]}, {"precision", m_k.precision}, {"recall", m_k.recall},
                  {"f1", m_k.f1}, {"support", m_k.support}});
    nlohmann::json row = nlohmann::json::array();
    for (int j = 0; j < C; ++j) row.push_back(cm.at(k, j));
    conf.push_back(row);
  }
  auto avg = [](const train::ClassMetrics& m_) {
    return nlohmann::json{{"precision", m_.precision}, {"recall", m_.recall}, {"f1", m_.f1}, {"support", m_.support}};
  };
  return {{"accuracy", r.accuracy()}, {"loss", r.loss}, {"count", r.count()}, {"errors", error_count(r)},
          {"per_class", pc}, {"macro_avg", avg(cm.macro())}, {"weighted_avg", avg(cm.weighted())}, {"confusion", conf}};
}

nlohmann::json misclassified_json(const train::EvalResult& r, const EvalImages& judged,
                                  const std::vector<std::string>& names) {
  nlohmann::json wrong = nlohmann::json::array();
  for (size_t i = 0; i < r.predictions.size(); ++i) {
    const auto label = static_cast<size_t>(judged.images.labels[i]), predicted = static_cast<size_t>(r.predictions[i]);
    if (label == predicted) continue;
    nlohmann::json w = {{"index", i}, {"label", names[label]}, {"predicted", names[predicted]}};
    if (!judged.files.empty())
      w["file"] = judged.files.at(i);
    else
      w["source_index"] = judged.source_index.at(i);
    wrong.push_back(std::move(w));
  }
  return wrong;
}

void print_class_report(const train::EvalResult& r, const std::vector<std::string>& names) {
  const auto& cm = r.confusion;
  const int C = cm.classes();
  const auto per_class = cm.per_class();
  std::printf("%-12s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
  for (int k = 0; k < C; ++k) {
    const auto& m_k = per_class[static_cast<size_t>(k)];
    std::printf("%-12s %9.4f %9.4f %9.4f %9lld\n", names[static_cast<size_t>(k)].c_str(), m_k.precision, m_k.recall,
                m_k.f1, static_cast<long long>(m_k.support));
  }
  const auto mac = cm.macro(), wei = cm.weighted();
  std::printf("%-12s %9.4f %9.4f %9.4f %9lld\n", "macro avg", mac.precision, mac.recall, mac.f1,
              static_cast<long long>(mac.support));
  std::printf("%-12s %9.4f %9.4f %9.4f %9lld\n\n", "weighted avg", wei.precision, wei.recall, wei.f1,
              static_cast<long long>(wei.support));
  std::printf("confusion matrix (rows: true class, columns: predicted)\n%6s", "");
  for (int j = 0; j < C; ++j) std::printf("%6s", names[static_cast<size_t>(j)].substr(0, 5).c_str());
  std::printf("\n");
  for (int k = 0; k < C; ++k) {
    std::printf("%6s", names[static_cast<size_t>(k)].substr(0, 5).c_str());
    for (int j = 0; j < C; ++j) std::printf("%6lld", static_cast<long long>(cm.at(k, j)));
    std::printf("\n");
  }
}

}  // namespace mnistcnn::cli
