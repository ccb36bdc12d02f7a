// Polls /api/metrics and redraws SVG charts. No external libraries: everything ships with axon.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 640, HEIGHT = 300, MARGIN = { left: 56, right: 16, top: 12, bottom: 30 };
const POLL_MS = 500;

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

function formatNumber(value) {
  if (value === null || value === undefined) return "—";
  return Math.abs(value) >= 1e4 || (Math.abs(value) < 1e-3 && value !== 0) ? value.toExponential(3) : value.toFixed(4);
}

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}

// series: [{name, points: [[x, y], ...]}]; points with y === null are gaps.
function drawChart(svg, series, xLabel) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const all = series.flatMap((s) => s.points.filter((p) => p[1] !== null));
  if (all.length === 0) {
    svg.appendChild(svgElement("text", { x: WIDTH / 2 - 40, y: HEIGHT / 2 })).textContent = "no data yet";
    return;
  }
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  let [xMin, xMax, yMin, yMax] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (xMin === xMax) { xMin -= 1; xMax += 1; }
  if (yMin === yMax) { yMin -= 0.5; yMax += 0.5; }
  const px = (x) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * (WIDTH - MARGIN.left - MARGIN.right);
  const py = (y) => HEIGHT - MARGIN.bottom - ((y - yMin) / (yMax - yMin)) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const bottom = HEIGHT - MARGIN.bottom;
  const right = WIDTH - MARGIN.right;
  svg.appendChild(svgElement("line", { class: "axis", x1: MARGIN.left, y1: bottom, x2: right, y2: bottom }));
  svg.appendChild(svgElement("line", { class: "axis", x1: MARGIN.left, y1: MARGIN.top, x2: MARGIN.left, y2: bottom }));
  for (const [value, y] of [[yMax, MARGIN.top + 4], [yMin, HEIGHT - MARGIN.bottom]]) {
    svg.appendChild(svgElement("text", { x: 4, y })).textContent = formatNumber(value);
  }
  svg.appendChild(svgElement("text", { x: MARGIN.left, y: HEIGHT - 8 })).textContent = `${xLabel} ${xMin}`;
  const xMaxLabel = svg.appendChild(svgElement("text", { x: WIDTH - MARGIN.right - 60, y: HEIGHT - 8 }));
  xMaxLabel.textContent = `${xLabel} ${xMax}`;
  for (const s of series) {
    const visible = s.points.filter((p) => p[1] !== null);
    const group = svgElement("g", { class: `series-${s.cssClass || s.name}`, "data-series": s.name });
    group.appendChild(svgElement("polyline", { points: visible.map((p) => `${px(p[0])},${py(p[1])}`).join(" ") }));
    for (const [x, y] of visible) {
      const point = { class: "point", r: 3, cx: px(x), cy: py(y), "data-series": s.name, "data-x": x, "data-y": y };
      group.appendChild(svgElement("circle", point));
    }
    svg.appendChild(group);
  }
}

function render(metrics) {
  document.getElementById("run-name").textContent = metrics.name;
  document.title = `${metrics.name} — axon`;
  document.getElementById("status").textContent = metrics.status;
  const last = metrics.epochs.length ? metrics.epochs[metrics.epochs.length - 1].epoch : "—";
  const epochText = metrics.total_epochs ? `${last} / ${metrics.total_epochs}` : String(last);
  document.getElementById("epoch").textContent = epochText;
  document.getElementById("params").textContent = metrics.param_count.toLocaleString("en-US");
  document.getElementById("batch").textContent = metrics.batch_size ?? "—";
  document.getElementById("best").textContent =
    metrics.best_val_loss === null ? "—" : `${formatNumber(metrics.best_val_loss)} (epoch ${metrics.best_epoch})`;
  document.getElementById("eta").textContent = formatSeconds(metrics.eta_seconds);

  drawChart(document.getElementById("loss-chart"), [
    { name: "train_loss", points: metrics.epochs.map((e) => [e.epoch, e.train_loss]) },
    { name: "val_loss", points: metrics.epochs.map((e) => [e.epoch, e.val_loss]) },
  ], "epoch");
  const stepLoss = { name: "loss", points: metrics.steps.map((s) => [s.step, s.loss]) };
  drawChart(document.getElementById("step-chart"), [stepLoss], "step");

  const extrasSection = document.getElementById("extras");
  const names = [...new Set(metrics.epochs.flatMap((e) => Object.keys(e.extras)))];
  for (const name of names) {
    let svg = document.getElementById(`extra-${name}`);
    if (!svg) {
      const heading = document.createElement("h2");
      heading.textContent = name;
      const attributes = { id: `extra-${name}`, class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img" };
      svg = svgElement("svg", { ...attributes, "aria-label": name });
      extrasSection.append(heading, svg);
    }
    const points = metrics.epochs.map((e) => [e.epoch, e.extras[name] ?? null]);
    drawChart(svg, [{ name, cssClass: "extra", points }], "epoch");
  }
  document.body.dataset.epochsShown = String(metrics.epochs.length);
}

async function poll() {
  try {
    const response = await fetch("/api/metrics", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
    document.getElementById("error").textContent = "";
  } catch (error) {
    document.getElementById("error").textContent = `cannot reach the training process: ${error.message}`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
