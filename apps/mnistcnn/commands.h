// Each subcommand lives in its own cmd_*.cpp and registers itself on the root app.
// Callbacks throw mnistcnn::Error (or CLI11's errors); main() turns them into messages
// on stderr and a non-zero exit.
#pragma once
#include <CLI/CLI.hpp>

namespace mnistcnn::cli {

void add_data_command(CLI::App& app);
void add_arch_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_ensemble_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_finetune_command(CLI::App& app);
void add_import_command(CLI::App& app);
void add_data_export_command(CLI::App* data);
void add_explain_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_search_command(CLI::App& app);

}  // namespace mnistcnn::cli
