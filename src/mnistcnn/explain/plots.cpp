// Training curves and the confusion matrix, laid out once on a Painter (PNG or SVG).
#include "mnistcnn/explain/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/painter.h"

namespace mnistcnn::explain {

namespace {

constexpr Rgb kInk{40, 40, 40}, kGrid{228, 228, 228}, kAxis{120, 120, 120};
constexpr Rgb kTrain{31, 119, 180}, kVal{255, 127, 14}, kSteps{174, 199, 232};

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Decimals that tell ticks `step` apart.
int decimals_for(double step) {
  int d = 0;
  while (d < 6 && std::abs(step * std::pow(10.0, d) - std::round(step * std::pow(10.0, d))) > 1e-6) ++d;
  return d;
}

struct Series {
  std::string name;
  Points points;  // in data coordinates
  Rgb color;
  bool markers = true, dashed = false;
  double width = 2.5;
};

struct Panel {
  double x, y, w, h;  // plot area in pixels
  double x_lo, x_hi, y_lo, y_hi;
  double px(double v) const { return x + (v - x_lo) / (x_hi - x_lo) * w; }
  double py(double v) const { return y + h - (v - y_lo) / (y_hi - y_lo) * h; }
};

void draw_panel(Painter& p, const Panel& a, const std::string& title, bool percent, const std::vector<Series>& series) {
  p.text(a.x + a.w / 2, a.y - 30, title, 2, kInk, Align::Center);
  const auto yt = nice_ticks(a.y_lo, a.y_hi, 6);
  const int yd = yt.size() > 1 ? decimals_for((yt[1] - yt[0]) * (percent ? 100 : 1)) : 2;
  for (double t : yt) {
    p.rect(a.x, a.py(t), a.w, 1, kGrid);
    p.text(a.x - 8, a.py(t) - 7, percent ? fixed(100 * t, yd) + "%" : fixed(t, yd), 2, kInk, Align::Right);
  }
  std::vector<double> xt;
  for (double t : nice_ticks(a.x_lo, a.x_hi, 8))
    if (std::abs(t - std::round(t)) < 1e-9) xt.push_back(t);  // whole epochs only
  for (double t : xt) {
    p.rect(a.px(t), a.y, 1, a.h, kGrid);
    p.text(a.px(t), a.y + a.h + 8, fixed(t, 0), 2, kInk, Align::Center);
  }
  p.text(a.x + a.w / 2, a.y + a.h + 34, "epoch", 2, kInk, Align::Center);
  p.rect(a.x, a.y + a.h, a.w, 1.5, kAxis);
  p.rect(a.x, a.y, 1.5, a.h, kAxis);
  double legend_y = a.y + 10;
  for (const Series& s : series) {
    if (s.points.empty()) continue;
    Points px;
    for (const auto& [vx, vy] : s.points) px.push_back({a.px(vx), a.py(std::clamp(vy, a.y_lo, a.y_hi))});
    p.polyline(px, s.width, s.color, s.dashed);
    if (s.markers)
      for (const auto& [x, y] : px) p.circle(x, y, 4, s.color);
    const double lx = a.x + a.w - 12 - Canvas::text_width(s.name, 2);
    p.polyline({{lx - 34, legend_y + 7}, {lx - 8, legend_y + 7}}, 3, s.color, s.dashed);
    p.text(lx, legend_y, s.name, 2, kInk);
    legend_y += 24;
  }
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag * 10;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return out;
}

void plot_training_curves(const TrainLog& log, const std::string& title, const std::string& out) {
  if (log.epochs.empty()) throw Error("plot: the training log has no epochs");
  const int W = 1200, H = 520;
  auto p = make_painter(out, W, H);
  p->text(W / 2.0, 16, title, 2, kInk, Align::Center);

  Series tl{"train", {}, kTrain}, vl{"validation", {}, kVal}, ta{"train", {}, kTrain}, va{"validation", {}, kVal};
  Series steps{"train (logged steps)", {}, kSteps, false, false, 1.5};
  for (const EpochRecord& r : log.epochs) {
    tl.points.push_back({r.epoch, r.train_loss});
    ta.points.push_back({r.epoch, r.train_accuracy});
    if (r.val_loss) vl.points.push_back({r.epoch, *r.val_loss});
    if (r.val_accuracy) va.points.push_back({r.epoch, *r.val_accuracy});
  }
  const int64_t per_epoch = log.epochs.front().steps / std::max(log.epochs.front().epoch, 1);
  if (per_epoch > 0)
    for (const StepRecord& s : log.steps) steps.points.push_back({double(s.step) / double(per_epoch), s.loss});

  double x_lo = log.epochs.front().epoch, x_hi = log.epochs.front().epoch;
  for (const auto& r : log.epochs) x_lo = std::min<double>(x_lo, r.epoch), x_hi = std::max<double>(x_hi, r.epoch);
  if (!steps.points.empty()) x_lo = 0;
  if (x_hi - x_lo < 1) x_lo -= 0.5, x_hi += 0.5;
  auto range = [](std::initializer_list<const Series*> ss, double& lo, double& hi) {
    lo = INFINITY, hi = -INFINITY;
    for (const Series* s : ss)
      for (const auto& pt : s->points) lo = std::min(lo, pt.second), hi = std::max(hi, pt.second);
  };
  double l_lo, l_hi, a_lo, a_hi;
  range({&tl, &vl, &steps}, l_lo, l_hi);
  range({&ta, &va}, a_lo, a_hi);
  l_lo = 0, l_hi = l_hi > 0 ? l_hi * 1.08 : 1;
  const double pad = std::max((a_hi - a_lo) * 0.08, 0.005);
  a_lo = std::max(0.0, a_lo - pad), a_hi = std::min(1.0, a_hi + pad);
  if (a_hi - a_lo < 1e-6) a_lo = std::max(0.0, a_hi - 0.01);

  const Panel loss{110, 80, 440, 340, x_lo, x_hi, l_lo, l_hi};
  const Panel acc{720, 80, 440, 340, x_lo, x_hi, a_lo, a_hi};
  draw_panel(*p, loss, "loss", false, {steps, tl, vl});
  draw_panel(*p, acc, "accuracy", true, {ta, va});
  p->save(out);
}

void plot_confusion(const train::ConfusionMatrix& cm, const std::vector<std::string>& names, const std::string& title,
                    const std::string& out) {
  const int C = cm.classes();
  if (C <= 0 || static_cast<int>(names.size()) < C) throw Error("plot: confusion matrix and class names disagree");
  const int cell = C <= 12 ? 56 : C <= 30 ? 30 : 18, scale = C <= 12 ? 2 : 1;
  const double x0 = 130, y0 = 100;
  const int W = static_cast<int>(x0) + C * cell + 140, H = static_cast<int>(y0) + C * cell + 120;
  auto p = make_painter(out, W, H);
  p->text(W / 2.0, 16, title, 2, kInk, Align::Center);
  p->text(x0 + C * cell / 2.0, y0 - 50, "predicted", 2, kInk, Align::Center);
  p->text(x0 - 14, y0 - 50, "true", 2, kInk, Align::Right);
  const auto per_class = cm.per_class();
  const Rgb dark{8, 48, 107};
  for (int t = 0; t < C; ++t) {
    int64_t row = 0;
    for (int q = 0; q < C; ++q) row += cm.at(t, q);
    const std::string name = names[static_cast<size_t>(t)].substr(0, 4);
    p->text(x0 - 14, y0 + t * cell + cell / 2.0 - 7 * scale / 2.0, name, scale, kInk, Align::Right);
    p->text(x0 + t * cell + cell / 2.0, y0 - 24, name, scale, kInk, Align::Center);
    for (int q = 0; q < C; ++q) {
      const int64_t n = cm.at(t, q);
      // sqrt: a handful of confusions in a row of a thousand still shows.
      const float share = row > 0 ? std::sqrt(static_cast<float>(n) / static_cast<float>(row)) : 0.0f;
      p->rect(x0 + q * cell, y0 + t * cell, cell - 1, cell - 1, mix({247, 251, 255}, dark, share));
      if (n > 0)
        p->text(x0 + q * cell + cell / 2.0, y0 + t * cell + cell / 2.0 - 7 * scale / 2.0, std::to_string(n), scale,
                share > 0.55f ? kWhite : kInk, Align::Center);
    }
    p->text(x0 + C * cell + 12, y0 + t * cell + cell / 2.0 - 7 * scale / 2.0,
            fixed(100 * per_class[static_cast<size_t>(t)].recall, 1) + "%", scale, kInk);
  }
  p->text(x0 + C * cell + 12, y0 - 24, "recall", scale, kInk);
  p->text(x0 - 14, y0 + C * cell + 12, "precision", scale, kInk, Align::Right);
  for (int q = 0; q < C; ++q)
    p->text(x0 + q * cell + cell / 2.0, y0 + C * cell + 12 + (q % 2) * (C > 12 ? 12 : 0),
            fixed(100 * per_class[static_cast<size_t>(q)].precision, C <= 12 ? 1 : 0), scale, kInk, Align::Center);
  p->text(x0 + C * cell / 2.0, y0 + C * cell + 50,
          "accuracy " + fixed(100 * cm.accuracy(), 2) + "% on " + std::to_string(cm.total()) + " images", 2, kInk,
          Align::Center);
  p->save(out);
}

}  // namespace mnistcnn::explain
