// The draw-a-digit page: strokes on a canvas (mouse, pen, touch), sent as a PNG to
// POST /api/predict while drawing; the answer's probabilities, the 28x28 input the network
// saw and its saliency / Grad-CAM maps are drawn; corrections go to POST /api/correct.
'use strict';

const $ = (id) => document.getElementById(id);
const pad = $('pad'), ctx = pad.getContext('2d');
const state = {
  strokes: [],       // each an array of {x, y} in canvas pixels
  drawing: false,
  mnist: null,       // {index, label, bytes} when a test digit is loaded
  classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  last: null,        // the last prediction
  inFlight: false, pending: false, lastSent: 0,
  correctionsOn: false,
};

// Inferno, sampled at 0, 0.2, ..., 1 (the server's heat-maps use the same stops).
const INFERNO = [[0, 0, 4], [66, 10, 104], [147, 38, 103], [221, 81, 58], [252, 165, 10], [252, 255, 164]];
function inferno(t) {
  t = Math.min(1, Math.max(0, t || 0));
  const pos = t * (INFERNO.length - 1), i = Math.min(Math.floor(pos), INFERNO.length - 2), f = pos - i;
  return INFERNO[i].map((v, k) => Math.round(v * (1 - f) + INFERNO[i + 1][k] * f));
}

// ---- drawing -------------------------------------------------------------------------

// Stroke width follows the size of the drawing, so a small digit still has MNIST's
// stroke (about 2.5 px of its 20 px box) after it is fitted to 20 px.
function strokeWidth() {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const s of state.strokes) for (const p of s) {
    x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
  }
  const size = Math.max(x1 - x0, y1 - y0, 0);
  return Math.min(30, Math.max(8, 0.12 * size));
}

function render() {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, pad.width, pad.height);
  if (state.mnist) {  // the test digit, ink dark on white, under any strokes
    const img = ctx.createImageData(28, 28);
    state.mnist.bytes.forEach((b, i) => { img.data.set([255 - b, 255 - b, 255 - b, 255], 4 * i); });
    const tmp = Object.assign(document.createElement('canvas'), { width: 28, height: 28 });
    tmp.getContext('2d').putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, pad.width, pad.height);
  }
  ctx.strokeStyle = ctx.fillStyle = '#000';
  ctx.lineCap = ctx.lineJoin = 'round';
  ctx.lineWidth = strokeWidth();
  for (const s of state.strokes) {
    ctx.beginPath();
    if (s.length === 1) {  // a dot
      ctx.arc(s[0].x, s[0].y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.moveTo(s[0].x, s[0].y);
    for (const p of s.slice(1)) ctx.lineTo(p.x, p.y);
    ctx.stroke();
  }
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
}

pad.addEventListener('pointerdown', (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  state.drawing = true;
  state.strokes.push([point(e)]);
  render();
  schedulePredict();
});
pad.addEventListener('pointermove', (e) => {
  if (!state.drawing) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  const stroke = state.strokes[state.strokes.length - 1];
  for (const ce of events.length ? events : [e]) stroke.push(point(ce));
  render();
  schedulePredict();
});
for (const type of ['pointerup', 'pointercancel']) {
  pad.addEventListener(type, () => {
    if (!state.drawing) return;
    state.drawing = false;
    schedulePredict(true);
  });
}

function undo() {
  if (state.strokes.length) state.strokes.pop(); else state.mnist = null;
  changed();
}
function clearAll() {
  state.strokes = [];
  state.mnist = null;
  changed();
}
function changed() {
  render();
  if (!state.strokes.length && !state.mnist) showIdle();
  else schedulePredict(true);
}
$('undo').addEventListener('click', undo);
$('clear').addEventListener('click', clearAll);
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === 'z') { e.preventDefault(); undo(); }
  if (e.key === 'Escape') clearAll();
});

// ---- asking the server ---------------------------------------------------------------

// What to send: the MNIST digit itself while nothing is drawn over it (exactly what
// `mnistcnn eval` feeds the network), otherwise the canvas as a PNG.
function body() {
  if (state.mnist && !state.strokes.length)
    return Promise.resolve({ type: 'application/json',
      data: JSON.stringify({ pixels: state.mnist.bytes.map((b) => b / 255), preprocess: false }) });
  return new Promise((resolve) => pad.toBlob((blob) => resolve({ type: 'image/png', data: blob }), 'image/png'));
}

// At most one request in flight and one every 80 ms while drawing; the final state is
// always sent.
function schedulePredict(now) {
  if (state.inFlight) { state.pending = true; return; }
  const wait = now ? 0 : Math.max(0, 80 - (performance.now() - state.lastSent));
  if (wait > 0) { if (!state.timer) state.timer = setTimeout(() => { state.timer = null; schedulePredict(true); }, wait); return; }
  predict();
}

async function predict() {
  if (!state.strokes.length && !state.mnist) { showIdle(); return; }
  state.inFlight = true;
  state.pending = false;
  state.lastSent = performance.now();
  try {
    const b = await body();
    const res = await fetch('/api/predict', { method: 'POST', headers: { 'Content-Type': b.type }, body: b.data });
    const j = await res.json();
    if (!res.ok) throw new Error(j.error || res.statusText);
    if (state.strokes.length || state.mnist) show(j);  // not cleared meanwhile
  } catch (err) {
    setVerdict('!', 'error: ' + err.message, 'blank');
  } finally {
    state.inFlight = false;
    if (state.pending) schedulePredict(true);
  }
}

// ---- showing the answer --------------------------------------------------------------

function buildBars() {
  $('bars').innerHTML = '';
  for (const c of state.classes) {
    const row = Object.assign(document.createElement('div'), { className: 'row' });
    row.setAttribute('role', 'listitem');
    row.dataset.class = c;
    row.innerHTML = '<span class="cls"></span><div class="bar"><div class="fill"></div></div><span class="pct"></span>';
    row.querySelector('.cls').textContent = c;
    $('bars').appendChild(row);
  }
}

function setVerdict(label, note, kind) {
  $('verdict-label').textContent = label;
  $('verdict-note').textContent = note;
  $('verdict').className = 'verdict ' + kind;
  $('verdict').dataset.label = kind === 'sure' || kind === 'unsure' ? label : '';
}

function showIdle() {
  state.last = null;
  setVerdict('?', 'draw a digit', 'idle');
  for (const row of $('bars').children) {
    row.classList.remove('top');
    row.dataset.p = '';
    row.querySelector('.fill').style.width = '0';
    row.querySelector('.pct').textContent = '';
  }
  drawSeen(null);
  $('timing').textContent = '';
  $('source').textContent = 'Draw with the mouse, a pen or a finger.';
}

function show(j) {
  state.last = j;
  const probs = j.probabilities || [];
  const order = probs.map((p, i) => i).sort((a, b) => probs[b] - probs[a]);
  if (j.blank) setVerdict('–', 'not a digit: no ink found', 'blank');
  else if (j.uncertain)
    setVerdict(j.label, `not sure: ${state.classes[order[0]]} or ${state.classes[order[1]]}?`, 'unsure');
  else setVerdict(j.label, `${(100 * j.confidence).toFixed(1)}% sure`, 'sure');
  [...$('bars').children].forEach((row, i) => {
    const p = probs[i] || 0;
    row.dataset.p = String(p);
    row.classList.toggle('top', !j.blank && i === order[0]);
    row.querySelector('.fill').style.width = (100 * p).toFixed(1) + '%';
    row.querySelector('.pct').textContent = j.blank ? '' : (100 * p).toFixed(1) + '%';
  });
  drawSeen(j);
  $('timing').textContent = `answered in ${j.ms.toFixed(1)} ms on the server`;
}

function drawSeen(j) {
  const seen = $('seen').getContext('2d'), heat = $('heat').getContext('2d');
  const img = seen.createImageData(28, 28), h = heat.createImageData(28, 28);
  const choice = document.querySelector('input[name="overlay"]:checked').value;
  const map = j && !j.blank ? (choice === 'saliency' ? j.saliency : choice === 'gradcam' ? j.gradcam : null) : null;
  for (let i = 0; i < 784; i++) {
    const v = j ? Math.round(255 * j.input[i]) : 0;
    img.data.set([v, v, v, 255], 4 * i);
    if (map && map.length === 784) {
      const t = map[i];
      h.data.set([...inferno(t), Math.round(255 * Math.sqrt(t))], 4 * i);
    }
  }
  seen.putImageData(img, 0, 0);
  heat.putImageData(h, 0, 0);
}
for (const r of document.querySelectorAll('input[name="overlay"]'))
  r.addEventListener('change', () => drawSeen(state.last));

// ---- random MNIST digits -------------------------------------------------------------

$('random').addEventListener('click', async () => {
  const res = await fetch('/api/random');
  const j = await res.json();
  if (!res.ok) { setVerdict('!', j.error, 'blank'); return; }
  state.strokes = [];
  state.mnist = j;
  render();
  $('source').textContent = `MNIST test image #${j.index}, labelled ${j.label}. Draw over it, or Clear.`;
  schedulePredict(true);
});

// ---- corrections ---------------------------------------------------------------------

function buildCorrectionButtons() {
  $('correct-buttons').innerHTML = '';
  for (const c of state.classes) {
    const b = Object.assign(document.createElement('button'), { type: 'button', textContent: c, disabled: !state.correctionsOn });
    b.dataset.label = c;
    b.addEventListener('click', () => correct(c));
    $('correct-buttons').appendChild(b);
  }
}

async function correct(label) {
  if (!state.strokes.length && !state.mnist) { $('correct-status').textContent = 'Draw a digit first.'; return; }
  const b = await body();
  const res = await fetch('/api/correct?label=' + encodeURIComponent(label),
    { method: 'POST', headers: { 'Content-Type': b.type }, body: b.data });
  const j = await res.json();
  $('correct-status').textContent = res.ok
    ? `Saved as ${label} (${j.count} of your ${label}s, ${j.total} corrections in all): ${j.saved}`
    : 'Not saved: ' + j.error;
  $('correct-status').dataset.saved = res.ok ? j.saved : '';
}

// ---- start ---------------------------------------------------------------------------

async function start() {
  buildBars();
  render();
  showIdle();
  try {
    const m = await (await fetch('/api/model')).json();
    state.classes = m.classes;
    buildBars();
    showIdle();
    const acc = m.test_accuracy == null ? '' : `, ${(100 * m.test_accuracy).toFixed(2)}% on MNIST's test set`;
    $('model-line').textContent = `${m.model}: ${m.arch} (${m.params.toLocaleString()} parameters${acc})`;
    const tbody = $('layers').querySelector('tbody');
    for (const l of m.layers) {
      const tr = document.createElement('tr');
      for (const v of [l.index, l.spec, l.output]) { const td = document.createElement('td'); td.textContent = v; tr.appendChild(td); }
      tbody.appendChild(tr);
    }
    $('random').disabled = !m.random_digits.available;
    if (!m.random_digits.available) $('random').title = 'No MNIST test set on the server: ' + m.random_digits.reason;
    state.correctionsOn = m.corrections.enabled;
    buildCorrectionButtons();
    if (!m.corrections.enabled) {
      $('correct-status').textContent = 'Corrections are off: ' + m.corrections.reason;
      for (const b of $('correct-buttons').children) b.title = m.corrections.reason;
    }
    $('finetune-cmd').textContent = `mnistcnn finetune --from ${m.model} --data CORRECTIONS_DIR --out models/mine.safetensors`;
  } catch (err) {
    $('model-line').textContent = 'cannot reach the server: ' + err.message;
  }
  document.body.dataset.ready = '1';
}
start();

// For tests and the browser console: whether the last drawing has been answered.
window.mnistPage = {
  idle: () => !state.inFlight && !state.pending && !state.timer,
  last: () => state.last,
};
