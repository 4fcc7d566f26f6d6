// seqkit keyboard: asks the JSON API after every keystroke and draws what comes back.
"use strict";

const text = document.getElementById("text");
const bar = document.getElementById("suggestions");
let latest = 0;          // the newest request sent; older answers are dropped
let shown = [];          // the suggestions on screen
let prefix = "";         // the half-typed word they complete ("" after a space)
let info = null;

async function getJSON(url) {
  const response = await fetch(url);
  return response.json();
}

function render(suggestions) {
  shown = suggestions;
  bar.replaceChildren(...suggestions.map((s, n) => {
    const button = document.createElement("button");
    button.className = "suggestion";
    button.dataset.word = s.word;
    button.title = n === 0 ? "Tab takes this one" : "click to take it";
    button.innerHTML = `<span class="word"></span><span class="prob"></span>`;
    button.querySelector(".word").textContent = s.word;
    button.querySelector(".prob").textContent = (100 * s.prob).toFixed(1) + "%";
    button.addEventListener("click", () => accept(s.word));
    return button;
  }));
}

function accept(word) {
  const value = text.value;
  const cut = prefix ? value.length - value.split(/\s+/).pop().length : value.length;
  const spacer = cut > 0 && !/\s$/.test(value.slice(0, cut)) ? " " : "";
  text.value = value.slice(0, cut) + spacer + word + " ";
  text.focus();
  update();
}

async function update() {
  const request = ++latest;
  const value = text.value;
  const answer = await getJSON(`/api/suggest?k=3&text=${encodeURIComponent(value)}`);
  if (request !== latest) return;
  if (answer.error) { bar.textContent = answer.error; shown = []; return; }
  prefix = answer.prefix;
  render(answer.suggestions);
  bar.dataset.text = value;  // which text these suggestions are for (the browser test reads it)
  // The state after each whole word: a word still being typed has no column of its own yet.
  const typed = prefix ? value.slice(0, value.length - prefix.length) : value;
  drawTrace(await getJSON(`/api/trace?last=12&text=${encodeURIComponent(typed)}`), request);
  if (info && info.sentiment) drawSentiment(await getJSON(`/api/sentiment?text=${encodeURIComponent(value)}`), request);
}

// ------------------------------------------------------------------ the heatmaps

function colour(value, signed) {
  if (signed) {  // h and c: blue below zero, red above
    const v = Math.max(-1, Math.min(1, value));
    const a = Math.round(255 * (1 - Math.abs(v)));
    return v < 0 ? `rgb(${a},${a},255)` : `rgb(255,${a},${a})`;
  }
  const v = Math.max(0, Math.min(1, value));  // gates: white at 0, dark at 1
  const a = Math.round(255 * (1 - v));
  return `rgb(${a},${a},${Math.round(a * 0.9 + 25)})`;
}

function scale(signed) {  // the colour scale of a heatmap: what its colours mean
  const legend = document.createElement("div");
  legend.className = "scale";
  const strip = document.createElement("canvas");
  strip.width = 120;
  strip.height = 8;
  const pen = strip.getContext("2d");
  for (let x = 0; x < strip.width; x++) {
    const t = x / (strip.width - 1);
    pen.fillStyle = colour(signed ? 2 * t - 1 : t, signed);
    pen.fillRect(x, 0, 1, strip.height);
  }
  const low = document.createElement("span"), high = document.createElement("span");
  low.textContent = signed ? "-1" : "0";
  high.textContent = "1";
  legend.append(low, strip, high);
  return legend;
}

function drawTrace(trace, request) {
  if (request !== latest) return;
  const box = document.getElementById("trace");
  box.replaceChildren();
  const names = {h: "h_t (hidden state)", c: "c_t (cell)", i: "i_t (input gate)", f: "f_t (forget gate)", o: "o_t (output gate)"};
  const cellWidth = 56;
  for (const [name, rows] of Object.entries(trace.parts || {})) {
    const units = rows[0].length, rowHeight = Math.max(1, Math.min(6, Math.floor(240 / units)));
    const part = document.createElement("div");
    part.className = "part";
    part.innerHTML = `<div class="part-name">${names[name] || name}</div>`;
    const canvas = document.createElement("canvas");
    canvas.width = cellWidth * rows.length;
    canvas.height = rowHeight * units;
    canvas.dataset.part = name;
    const pen = canvas.getContext("2d");
    rows.forEach((values, column) => values.forEach((value, unit) => {
      pen.fillStyle = colour(value, name === "h" || name === "c");
      pen.fillRect(column * cellWidth, unit * rowHeight, cellWidth - 1, rowHeight);
    }));
    const words = document.createElement("div");
    words.className = "words";
    for (const word of trace.words) {
      const label = document.createElement("span");
      label.style.width = cellWidth + "px";
      label.textContent = word;
      words.appendChild(label);
    }
    part.append(scale(name === "h" || name === "c"), canvas, words);
    box.appendChild(part);
  }
}

const PALETTE = ["#c0392b", "#2e86c1", "#27ae60", "#8e44ad", "#d68910"];

function drawSentiment(answer, request) {
  if (request !== latest || answer.error) return;
  const box = document.getElementById("sentiment-bars");
  box.replaceChildren(...answer.words.map((word, n) => {
    const cell = document.createElement("div");
    cell.className = "sentiment-word";
    const bars = document.createElement("div");
    bars.className = "sentiment-bar";
    answer.probabilities[n].forEach((p, j) => {
      const piece = document.createElement("div");
      piece.style.width = (100 * p) + "%";
      piece.style.background = PALETTE[j % PALETTE.length];
      piece.title = `${answer.labels[j]} ${(100 * p).toFixed(0)}%`;
      bars.appendChild(piece);
    });
    const label = document.createElement("span");
    label.textContent = word;
    cell.append(bars, label);
    return cell;
  }));
}

// ------------------------------------------------------------------ the forecast page

async function forecastFile(file) {
  const message = document.getElementById("forecast-message");
  const response = await fetch("/api/forecast", {method: "POST", body: await file.arrayBuffer()});
  const answer = await response.json();
  if (answer.error) { message.textContent = answer.error; return; }
  message.textContent = `${file.name}: the forecast of ${answer.targets.join(", ")}, with its quantile band`;
  drawForecast(answer);
}

function drawForecast(answer) {
  const canvas = document.getElementById("forecast-plot");
  const pen = canvas.getContext("2d");
  pen.clearRect(0, 0, canvas.width, canvas.height);
  const target = answer.targets[0];
  const past = answer.history[target].map(Number);
  const columns = Object.keys(answer.forecast);
  const median = answer.forecast[target].map(Number);
  const levels = columns.filter(c => c.startsWith(target + "_q")).sort((a, b) =>
    Number(a.slice(target.length + 2)) - Number(b.slice(target.length + 2)));
  const lower = levels[0], upper = levels[levels.length - 1];  // the widest band: e.g. q10 to q90
  const low = lower ? answer.forecast[lower].map(Number) : median, high = upper ? answer.forecast[upper].map(Number) : median;
  const all = [...past, ...low, ...high];
  const min = Math.min(...all), max = Math.max(...all), n = past.length + median.length;
  const x = i => 40 + (canvas.width - 60) * i / Math.max(1, n - 1);
  const y = v => canvas.height - 30 - (canvas.height - 50) * (v - min) / Math.max(1e-9, max - min);
  pen.fillStyle = "rgba(46,134,193,0.25)";
  pen.beginPath();
  low.forEach((v, i) => pen.lineTo(x(past.length + i), y(v)));
  [...high].reverse().forEach((v, i) => pen.lineTo(x(past.length + high.length - 1 - i), y(v)));
  pen.fill();
  const line = (values, start, style) => {
    pen.strokeStyle = style; pen.lineWidth = 2; pen.beginPath();
    values.forEach((v, i) => pen.lineTo(x(start + i), y(v))); pen.stroke();
  };
  line(past, 0, "#24324a");
  line(median, past.length, "#2e86c1");
  pen.fillStyle = "#333"; pen.font = "12px sans-serif";
  pen.fillText(max.toFixed(2), 2, 14); pen.fillText(min.toFixed(2), 2, canvas.height - 30);
}

// ------------------------------------------------------------------ wiring

text.addEventListener("input", update);
text.addEventListener("keydown", event => {
  if (event.key === "Tab" && shown.length) {
    event.preventDefault();
    accept(shown[0].word);
  }
});
document.getElementById("csv").addEventListener("change", event => {
  if (event.target.files.length) forecastFile(event.target.files[0]);
});

function showPage() {
  const name = location.hash === "#forecast" && info && info.forecast ? "forecast" : "keyboard";
  document.getElementById("keyboard-page").hidden = name !== "keyboard";
  document.getElementById("forecast-page").hidden = name !== "forecast";
}
window.addEventListener("hashchange", showPage);

getJSON("/api/info").then(answer => {
  info = answer;
  document.getElementById("model").textContent =
    `${answer.cell}, ${answer.num_layers} x ${answer.hidden_size}, ${answer.vocab_size.toLocaleString()} words`;
  document.getElementById("sentiment").hidden = !answer.sentiment;
  document.querySelector('[data-tab="forecast"]').hidden = !answer.forecast;
  showPage();
  update();
});
