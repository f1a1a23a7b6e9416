// mnistcnn plot: training and validation loss and accuracy per epoch, from the JSONL log
// `mnistcnn train --log` wrote, as a PNG or an SVG.
#include <filesystem>

#include "commands.h"
#include "common.h"
#include "mnistcnn/explain/plots.h"

namespace mnistcnn::cli {

namespace {

struct PlotArgs {
  std::string log, out, title;
};

void run_plot(const PlotArgs& a) {
  const auto log = explain::read_train_log(a.log);
  const std::string title = a.title.empty() ? std::filesystem::path(a.log).filename().string() : a.title;
  explain::plot_training_curves(log, title, a.out);
  note("plot: " + std::to_string(log.epochs.size()) + " epochs" +
       (log.steps.empty() ? "" : " and " + std::to_string(log.steps.size()) + " logged steps") + " from " + a.log);
  std::printf("wrote %s\n", a.out.c_str());
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto a = std::make_shared<PlotArgs>();
  auto* cmd = app.add_subcommand("plot", "Plot loss and accuracy per epoch from a training log (PNG or SVG)");
  cmd->add_option("log", a->log, "JSONL log written by `mnistcnn train --log`")->required();
  cmd->add_option("--out", a->out, "output image: .png or .svg")->required();
  cmd->add_option("--title", a->title, "title above the plots (default: the log's file name)");
  cmd->callback([a] { run_plot(*a); });
}

}  // namespace mnistcnn::cli
