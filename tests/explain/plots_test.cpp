// Drawing: ticks, the font, anti-aliased lines, PNG and SVG output, the training log
// reader's errors, and the plots and explain commands through the real program.
#include "mnistcnn/explain/plots.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/canvas.h"
#include "mnistcnn/explain/classify.h"
#include "mnistcnn/explain/font.h"
#include "mnistcnn/explain/painter.h"
#include "mnistcnn/io/file.h"
#include "mnistcnn/io/png.h"
#include "explain/support_models.h"
#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

std::string slurp(const std::string& path) {
  const auto b = io::read_file_bytes(path);
  return {b.begin(), b.end()};
}

TEST(Plots, NiceTicks) {
  const auto a = explain::nice_ticks(0, 1, 5);
  ASSERT_EQ(a.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], 0.2 * i, 1e-12);
  const auto t = explain::nice_ticks(0.9, 1.0, 4);  // 0.025 apart
  ASSERT_EQ(t.size(), 5u);
  EXPECT_NEAR(t[0], 0.9, 1e-12);
  EXPECT_NEAR(t[1] - t[0], 0.025, 1e-12);
  const auto u = explain::nice_ticks(0.013, 2.31, 5);  // 0.5 apart, inside the range
  EXPECT_NEAR(u.front(), 0.5, 1e-12);
  EXPECT_NEAR(u.back(), 2.0, 1e-12);
  EXPECT_EQ(explain::nice_ticks(1, 1, 5).size(), 1u);
}

TEST(Canvas, FontLinesAndPng) {
  EXPECT_TRUE(explain::glyph_pixel('1', 2, 0));
  EXPECT_FALSE(explain::glyph_pixel(' ', 2, 3));
  EXPECT_TRUE(explain::glyph_pixel('g', 4, 7));  // descender
  for (int y = 0; y < explain::kGlyphHeight; ++y)  // a character the font lacks is '?'
    for (int x = 0; x < explain::kGlyphWidth; ++x) EXPECT_EQ(explain::glyph_pixel('\x01', x, y), explain::glyph_pixel('?', x, y));
  explain::Canvas c(40, 20);
  c.line(5, 10, 35, 10, 2, explain::kBlack);  // covers rows 9 and 10 fully, 8 and 11 not at all
  EXPECT_EQ(c.at(20, 9).r, 0);
  EXPECT_EQ(c.at(20, 10).r, 0);
  EXPECT_EQ(c.at(20, 12).r, 255);
  EXPECT_EQ(c.at(2, 10).r, 255);  // before the round cap
  EXPECT_EQ(explain::Canvas::text_width("ab\nabc", 2), (3 * 6 - 1) * 2);
  const std::string dir = testing::make_temp_dir("canvas");
  c.save_png(dir + "/c.png");
  const auto img = io::read_png_gray(dir + "/c.png");
  EXPECT_EQ(img.width, 40);
  EXPECT_EQ(img.height, 20);
  EXPECT_THROW(explain::make_painter(dir + "/c.jpg", 10, 10), Error);
  auto svg = explain::make_painter(dir + "/c.svg", 10, 10);
  svg->text(0, 0, "a<b & \"c\"", 1, explain::kBlack);
  svg->polyline({{0, 0}, {5, 5}}, 1, explain::kBlack, true);
  svg->save(dir + "/c.svg");
  const std::string text = slurp(dir + "/c.svg");
  EXPECT_NE(text.find("a&lt;b &amp; &quot;c&quot;"), std::string::npos) << text;
  EXPECT_NE(text.find("stroke-dasharray"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Colormap, EndsAndMiddle) {
  EXPECT_EQ(explain::colormap(explain::Colormap::Gray, 1.0f).g, 255);
  EXPECT_EQ(explain::colormap(explain::Colormap::Viridis, 0.0f).r, 68);
  EXPECT_EQ(explain::colormap(explain::Colormap::Inferno, std::nanf("")).r, 0);
  const auto mid = explain::colormap(explain::Colormap::Diverging, 0.5f);
  EXPECT_EQ(mid.r, 247);
  EXPECT_EQ(mid.b, 247);
}

TEST(TrainLog, ReadsEpochsAndStepsAndNamesBadLines) {
  const std::string dir = testing::make_temp_dir("trainlog");
  {
    std::ofstream(dir + "/ok.jsonl") << "{\"step\":10,\"epoch\":1,\"batch\":10,\"loss\":0.9}\n\n"
                                     << "{\"epoch\":1,\"train_loss\":0.5,\"train_accuracy\":0.8,\"val_loss\":0.4,"
                                        "\"val_accuracy\":0.85,\"steps\":20}\n"
                                     << "{\"epoch\":2,\"train_loss\":0.3,\"train_accuracy\":0.9,\"steps\":40}\n";
    std::ofstream(dir + "/bad.jsonl") << "{\"epoch\":1,\"train_loss\":0.5,\"train_accuracy\":0.8}\n{oops\n";
    std::ofstream(dir + "/empty.jsonl") << "\n";
    std::ofstream(dir + "/field.jsonl") << "{\"epoch\":1,\"train_loss\":\"low\",\"train_accuracy\":0.8}\n";
  }
  const auto log = explain::read_train_log(dir + "/ok.jsonl");
  ASSERT_EQ(log.epochs.size(), 2u);
  EXPECT_EQ(log.steps.size(), 1u);
  EXPECT_TRUE(log.epochs[0].val_loss.has_value());
  EXPECT_FALSE(log.epochs[1].val_accuracy.has_value());
  explain::plot_training_curves(log, "test", dir + "/curves.png");
  EXPECT_EQ(io::read_png_gray(dir + "/curves.png").width, 1200);
  explain::plot_training_curves(log, "test", dir + "/curves.svg");
  EXPECT_NE(slurp(dir + "/curves.svg").find("<polyline"), std::string::npos);
  auto message = [&](const std::string& name) {
    try {
      explain::read_train_log(dir + "/" + name);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("bad.jsonl").find("bad.jsonl:2: not a JSON object"), std::string::npos);
  EXPECT_NE(message("empty.jsonl").find("no epoch records"), std::string::npos);
  EXPECT_NE(message("field.jsonl").find("field.jsonl:1: no number \"train_loss\""), std::string::npos);
  EXPECT_NE(message("missing.jsonl").find("missing.jsonl"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Plots, ConfusionAndErrorGrid) {
  train::ConfusionMatrix cm(10);
  for (int i = 0; i < 10; ++i) cm.add(i, i);
  cm.add(4, 9);
  const std::string dir = testing::make_temp_dir("confusion");
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back(std::to_string(i));
  explain::plot_confusion(cm, names, "t", dir + "/cm.png");
  EXPECT_GT(io::read_png_gray(dir + "/cm.png").width, 560);

  // Three images, the model's predictions are given: the wrong ones are found, most confident first.
  data::Dataset ds;
  ds.images.assign(3 * 784, 0);
  ds.images[400] = ds.images[784 + 400] = ds.images[2 * 784 + 401] = 255;
  ds.labels = {1, 2, 3};
  io::LoadedModel m = testing::digit_model();
  const auto errors = explain::find_errors(m.net, m.info.normalization, ds, {1, 5, 6});
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_GE(errors[0].confidence, errors[1].confidence);
  explain::plot_errors(errors, names, "t", dir + "/errors.png");
  EXPECT_EQ(io::read_png_gray(dir + "/errors.png").width, 10 * 104 + 32);
  explain::plot_errors({}, names, "t", dir + "/none.png");  // "no errors"
  EXPECT_THROW(explain::find_errors(m.net, m.info.normalization, ds, {1, 2}), Error);
  std::filesystem::remove_all(dir);
}

// For a model that deskews, the error list holds each digit as the model saw it, and its
// confidence is that of the deskewed digit (deskewed once: the list's images are not
// deskewed again); the variant with probabilities at hand draws the same images.
TEST(Plots, ErrorsOfADeskewingModelAreTheDeskewedDigits) {
  data::Dataset ds;
  ds.images.assign(2 * 784, 0);
  for (int y = 4; y < 24; ++y)  // two slanted strokes
    for (int k = 0; k < 2; ++k) {
      ds.images[static_cast<size_t>(y * 28 + 8 + y / 2 + k)] = 255;
      ds.images[static_cast<size_t>(784 + y * 28 + 20 - y / 2 + k)] = 200;
    }
  ds.labels = {1, 7};
  io::LoadedModel m = testing::digit_model();
  data::Normalization norm = m.info.normalization;
  norm.deskew = true;
  const std::vector<int32_t> predictions = {4, 3};
  const auto errors = explain::find_errors(m.net, norm, ds, predictions);
  ASSERT_EQ(errors.size(), 2u);
  for (const auto& e : errors) {
    const data::DigitImage raw = data::digit_from_mnist_bytes(ds.images.data() + e.index * 784);
    const data::DigitImage seen = explain::model_view(raw, norm);
    EXPECT_NE(seen.pixels, raw.pixels);  // the strokes were slanted
    EXPECT_EQ(e.image.pixels, seen.pixels) << e.index;
    const Tensor p = explain::class_probabilities(m.net, explain::digits_to_input({&raw, 1}, norm));
    EXPECT_NEAR(e.confidence, p[e.predicted], 1e-6) << e.index;
  }
  Tensor probabilities({2, 10});
  probabilities.fill(0.1f);
  const auto at_hand = explain::find_errors(probabilities, norm, ds, predictions);
  ASSERT_EQ(at_hand.size(), 2u);
  for (const auto& e : at_hand)
    for (const auto& f : errors) {
      if (e.index == f.index) {
        EXPECT_EQ(e.image.pixels, f.image.pixels);
      }
    }
}

TEST(ExplainCli, WritesHeatMapsFiltersAndFeatureMaps) {
  const std::string dir = testing::make_temp_dir("explain_cli");
  io::LoadedModel m = testing::digit_model();
  io::save_model(dir + "/m.safetensors", m.net, m.info);
  std::vector<uint8_t> px(60 * 60, 255);
  for (int y = 10; y < 50; ++y) px[static_cast<size_t>(y * 60 + 30)] = px[static_cast<size_t>(y * 60 + 31)] = 0;
  io::write_png_gray(dir + "/d.png", 60, 60, px.data());
  const auto r = testing::run_cli("explain --model " + dir + "/m.safetensors " + dir + "/d.png --out " + dir + "/out --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* f : {"input.png", "saliency.png", "gradcam.png", "filters.png", "features_1.png", "features_4.png", "explain.json"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/out/" + f)) << f;
  EXPECT_EQ(io::read_png_gray(dir + "/out/saliency.png").width, 280);
  EXPECT_EQ(j["probabilities"].size(), 10u);
  std::vector<uint8_t> white(60 * 60, 255);
  io::write_png_gray(dir + "/blank.png", 60, 60, white.data());
  const auto b = testing::run_cli("explain --model " + dir + "/m.safetensors " + dir + "/blank.png --out " + dir + "/o2");
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("blank.png: no digit found"), std::string::npos) << b.err;
  const auto c = testing::run_cli("explain --model " + dir + "/m.safetensors " + dir + "/d.png --out " + dir + "/o3 --class 12");
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.err.find("--class 12"), std::string::npos) << c.err;
  std::filesystem::remove_all(dir);
}

TEST(PlotCli, CurvesFromATrainingLogAndEvalImages) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("plot_cli");
  const auto t = testing::run_cli("train --arch 'conv(4,3) relu maxpool(2) flatten dense(10)' --epochs 2 --limit 1000 "
                                  "--val-split 0.2 --quiet --log-every 5 --data " + testing::mnist_dir() + " --out " + dir +
                                  "/m.safetensors --log " + dir + "/log.jsonl");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const auto p = testing::run_cli("plot " + dir + "/log.jsonl --out " + dir + "/curves.svg");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(slurp(dir + "/curves.svg").find("validation"), std::string::npos);
  const auto e = testing::run_cli("eval --model " + dir + "/m.safetensors --data " + testing::mnist_dir() +
                                  " --json --confusion-png " + dir + "/cm.png --errors-png " + dir + "/err.png");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NO_THROW(nlohmann::json::parse(e.out));  // stdout stays one JSON object
  EXPECT_GT(io::read_png_gray(dir + "/cm.png").width, 0);
  EXPECT_GT(io::read_png_gray(dir + "/err.png").height, 0);
  const auto bad = testing::run_cli("plot " + dir + "/log.jsonl --out " + dir + "/curves.gif");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("curves.gif"), std::string::npos) << bad.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mnistcnn
