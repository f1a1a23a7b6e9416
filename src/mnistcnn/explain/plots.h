// Plots of training and evaluation, drawn by the project itself (PNG through libpng or
// plain SVG): loss and accuracy curves per epoch, the confusion matrix as a heat-map, and
// a grid of misclassified digits.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/digit_image.h"
#include "mnistcnn/data/normalize.h"
#include "mnistcnn/explain/train_log.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/train/metrics.h"

namespace mnistcnn::explain {

// Two panels, loss and accuracy, training and validation per epoch (training loss of the
// logged steps behind them when the log has any). PNG or SVG by the extension of `out`.
void plot_training_curves(const TrainLog& log, const std::string& title, const std::string& out);

// Rows: true class; columns: predicted; each cell coloured by its share of the row (the
// recall on the diagonal) and labelled with its count. PNG or SVG by the extension.
void plot_confusion(const train::ConfusionMatrix& cm, const std::vector<std::string>& names, const std::string& title,
                    const std::string& out);

struct Misclassified {
  int64_t index = 0;  // in the judged set (a caller may renumber it: the grid captions it #index)
  int truth = 0, predicted = 0;
  float confidence = 0;  // probability given to `predicted`
  data::DigitImage image;  // as the model saw it (model_view: deskewed if the model deskews)
};

// The test images whose prediction (in `predictions`, one per image in the set's order)
// differs from the label, most confident mistakes first; the probabilities come from
// running `net` on them again. `norm` is the model's normalisation.
std::vector<Misclassified> find_errors(nn::Sequential& net, const data::Normalization& norm, const data::Dataset& test,
                                       const std::vector<int32_t>& predictions);
// The same with the probabilities already at hand (N×C for the N images of `test`, e.g.
// the mean over the views of test-time augmentation): nothing is run again.
std::vector<Misclassified> find_errors(const Tensor& probabilities, const data::Normalization& norm,
                                       const data::Dataset& test, const std::vector<int32_t>& predictions);

// A PNG grid of up to `max_count` of them, each with its true and predicted label and
// the confidence; "no errors" when there are none.
void plot_errors(const std::vector<Misclassified>& errors, const std::vector<std::string>& names,
                 const std::string& title, const std::string& out, int max_count = 100);

// "Nice" tick positions (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi], about
// `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

}  // namespace mnistcnn::explain
