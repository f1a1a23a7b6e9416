// The report `eval` prints for one set of predictions, shared with `ensemble`: accuracy,
// loss, per-class precision/recall/F1, averages and the confusion matrix, as text or JSON.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval_data.h"
#include "mnistcnn/train/trainer.h"

namespace mnistcnn::cli {

int64_t error_count(const train::EvalResult& r);
// accuracy, loss, count, errors, per_class, macro_avg, weighted_avg, confusion.
nlohmann::json eval_json(const train::EvalResult& r, const std::vector<std::string>& names);
// Every wrong prediction as {index, label, predicted, and source_index or file}: index is
// the image's position among the judged images, so that models and ensembles can be
// compared image by image; source_index its position in the IDX file (the same as index when
// the whole test set is judged; not with --classes or held-out training images), file its
// PNG when the data is an image folder.
nlohmann::json misclassified_json(const train::EvalResult& r, const EvalImages& judged,
                                  const std::vector<std::string>& names);
// The per-class table, the averages and the confusion matrix, on stdout.
void print_class_report(const train::EvalResult& r, const std::vector<std::string>& names);

}  // namespace mnistcnn::cli
