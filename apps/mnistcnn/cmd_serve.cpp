// mnistcnn serve: the draw-a-digit web page and its JSON API over one loaded model.
#include <thread>

#include "commands.h"
#include "common.h"
#include "mnistcnn/explain/predictor.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/serve/server.h"
#include "signal_stop.h"

namespace mnistcnn::cli {

namespace {

struct ServeArgs {
  serve::ServerOptions server;
  std::string model;
  int inference_threads = 0, threads_per_request = 1;
  double max_body_mib = 4;
};

void run_serve(ServeArgs& a) {
  a.server.model_name = a.model;
  a.server.max_body_bytes = static_cast<size_t>(a.max_body_mib * 1024 * 1024);
  prepare_gemm_in_background();  // the first request does not wait for it
  const explain::Predictor predictor =
      explain::Predictor::load(a.model, {.max_concurrent = a.inference_threads, .threads_per_call = a.threads_per_request});
  serve::Server server(predictor, a.server);
  const int port = server.bind();
  // From here a signal stops the server: httplib's stop() flips a flag and shuts the
  // listening socket down (safe from the signal thread); one before run() skips it. (One
  // in the microseconds between that check and httplib's loop starting finds nothing to
  // stop: a second signal then ends the program.)
  const SignalStop signals([&server] { server.stop(); });
  if (!server.random_digits_status().empty())
    note("random digits off: " + server.random_digits_status());
  if (!server.corrections_status().empty()) note("corrections off: " + server.corrections_status());
  else note("corrections go to " + a.server.corrections_dir + "/<label>/");
  note("model " + a.model + ": " + std::to_string(predictor.param_count()) + " parameters, " +
       std::to_string(predictor.max_concurrent()) + " predictions at once, " + std::to_string(a.threads_per_request) +
       " thread(s) each");
  std::printf("serving http://%s:%d/  (Ctrl-C stops)\n", a.server.host.c_str(), port);
  std::fflush(stdout);
  if (!signals.flag()->load()) server.run();
  note("stopped");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Web page to draw digits and see the model read them, plus a JSON API");
  cmd->add_option("--model", a->model, "model file (.safetensors)")->required();
  cmd->add_option("--port", a->server.port, "TCP port (0: any free one)")->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--host", a->server.host, "address to listen on")->capture_default_str();
  cmd->add_option("--data", a->server.data_dir, "IDX directory with MNIST's test set, for the random-digit button")
      ->capture_default_str()
      ->default_val("data/mnist");
  cmd->add_option("--corrections", a->server.corrections_dir,
                  "directory for digits users correct (DIR/<label>/*.png, for `mnistcnn finetune --data DIR`)");
  cmd->add_option("--max-corrections", a->server.max_corrections, "most corrected digits to store")
      ->check(CLI::Range(int64_t{0}, int64_t{10'000'000}))->capture_default_str();
  cmd->add_option("--max-body-mib", a->max_body_mib, "largest request body accepted (MiB); larger get 413")
      ->check(finite_number() & CLI::Range(0.001, 64.0))->capture_default_str();
  cmd->add_option("--min-confidence", a->server.min_confidence, "top probability below which the page says \"not sure\"")
      ->check(finite_number() & CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--inference-threads", a->inference_threads, "predictions running at once (0: one per core)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--threads-per-request", a->threads_per_request, "OpenMP threads of each prediction")
      ->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--http-threads", a->server.http_threads, "connections served at once")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace mnistcnn::cli
