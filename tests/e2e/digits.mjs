// Strokes for the ten digits as a person draws them with a mouse: polylines in
// fractions of the drawing area (0..1), one array per stroke, sampled densely enough to
// look like a real pointer trail.
const TAU = 2 * Math.PI;

function arc(cx, cy, rx, ry, from, to, n = 28) {
  const pts = [];
  for (let i = 0; i <= n; i++) {
    const t = from + (to - from) * (i / n);
    pts.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
  }
  return pts;
}

function line(x0, y0, x1, y1, n = 12) {
  const pts = [];
  for (let i = 0; i <= n; i++) pts.push([x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n]);
  return pts;
}

const join = (...parts) => parts.flat();

export const DIGITS = {
  0: [arc(0.5, 0.5, 0.2, 0.31, -Math.PI / 2, -Math.PI / 2 - TAU * 1.04, 40)],
  1: [join(line(0.44, 0.27, 0.54, 0.17, 4), line(0.54, 0.17, 0.52, 0.83, 16))],
  2: [join(arc(0.5, 0.35, 0.18, 0.16, Math.PI * 1.1, Math.PI * 2.15, 20), line(0.66, 0.42, 0.3, 0.8, 14),
           line(0.3, 0.8, 0.74, 0.79, 10))],
  3: [join(arc(0.48, 0.33, 0.16, 0.14, -Math.PI * 0.9, Math.PI * 0.5, 20),
           arc(0.48, 0.64, 0.19, 0.17, -Math.PI * 0.5, Math.PI * 0.85, 22))],
  4: [join(line(0.58, 0.17, 0.27, 0.6, 12), line(0.27, 0.6, 0.76, 0.6, 10)), line(0.6, 0.33, 0.6, 0.85, 12)],
  5: [join(line(0.7, 0.19, 0.37, 0.19, 8), line(0.37, 0.19, 0.34, 0.46, 8),
           arc(0.49, 0.62, 0.19, 0.18, -Math.PI * 0.75, Math.PI * 0.85, 24))],
  6: [join(arc(0.7, 0.62, 0.36, 0.44, -Math.PI / 2, -Math.PI, 14), arc(0.5, 0.64, 0.16, 0.16, Math.PI, -Math.PI, 26))],
  7: [join(line(0.27, 0.21, 0.73, 0.21, 10), line(0.73, 0.21, 0.43, 0.83, 16))],
  8: [(() => {
    const pts = [];
    for (let i = 0; i <= 60; i++) {
      const t = TAU * i / 60;
      pts.push([0.5 + 0.17 * Math.sin(2 * t), 0.5 - 0.32 * Math.cos(t)]);
    }
    return pts;
  })()],
  9: [join(arc(0.5, 0.36, 0.16, 0.15, 0, -TAU, 30), line(0.66, 0.36, 0.61, 0.84, 14))],
};
