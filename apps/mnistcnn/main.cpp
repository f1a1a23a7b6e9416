// mnistcnn: the command line over the library. A thin shell: parse flags, call the
// library, print; errors become a message on stderr and exit code 1 (2 for usage).
#include <cstdio>
#include <exception>

#include "commands.h"
#include "mnistcnn/core/error.h"
#include "training_run.h"

int main(int argc, char** argv) {
  CLI::App app{"mnistcnn: build, train, evaluate and run convolutional networks on MNIST"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mnistcnn 0.1.0");
  mnistcnn::cli::add_data_command(app);
  mnistcnn::cli::add_arch_command(app);
  mnistcnn::cli::add_train_command(app);
  mnistcnn::cli::add_finetune_command(app);
  mnistcnn::cli::add_import_command(app);
  mnistcnn::cli::add_eval_command(app);
  mnistcnn::cli::add_ensemble_command(app);
  mnistcnn::cli::add_predict_command(app);
  mnistcnn::cli::add_info_command(app);
  mnistcnn::cli::add_explain_command(app);
  mnistcnn::cli::add_plot_command(app);
  mnistcnn::cli::add_serve_command(app);
  mnistcnn::cli::add_search_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const mnistcnn::cli::StoppedBySignal& s) {
    return s.code;
  } catch (const mnistcnn::Error& e) {
    std::fprintf(stderr, "mnistcnn: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "mnistcnn: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnistcnn: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
