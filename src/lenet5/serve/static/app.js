// The drawing pad: pointer events (mouse, pen and touch alike), debounced live prediction.
// Two modes: one digit (POST /api/predict, probability bars) and a number (a wide pad,
// POST /api/read, each digit's box drawn over the ink with its probability).
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const overlay = document.getElementById("overlay");
const overlayCtx = overlay.getContext("2d");
const numberEl = document.getElementById("number");
const numberDigits = document.getElementById("number-digits");
let mode = "digit";
// Where the picture sent sits on the pad: the identity for drawings, the fit for uploads.
let view = { scale: 1, dx: 0, dy: 0 };
const digitEl = document.getElementById("digit");
const statusEl = document.getElementById("status");
const bars = document.getElementById("bars");
const seen = document.getElementById("seen");
const seenEmpty = document.getElementById("seen-empty");
let drawing = false;
let inked = false;
let timer = null;
let inFlight = 0;

function resetPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000";
  ctx.lineWidth = pad.height / 14;  // a pen stroke about as thick as an MNIST stroke
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  inked = false;
  view = { scale: 1, dx: 0, dy: 0 };
  overlayCtx.clearRect(0, 0, overlay.width, overlay.height);
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
}

pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);  // a dot for a tap
  ctx.stroke();
  inked = true;
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const [x, y] = point(event);
  ctx.lineTo(x, y);
  ctx.stroke();
  schedule();
});
for (const name of ["pointerup", "pointercancel", "pointerleave"]) {
  pad.addEventListener(name, () => {
    if (!drawing) return;
    drawing = false;
    schedule(0);
  });
}

function schedule(delay = 150) {
  clearTimeout(timer);
  timer = setTimeout(() => pad.toBlob((blob) => send(blob, "image/png")), delay);
}

async function send(body, type) {
  const ticket = ++inFlight;
  const reading = mode === "number";
  statusEl.textContent = "reading…";
  try {
    const route = reading ? "/api/read" : "/api/predict";
    const response = await fetch(route, { method: "POST", headers: { "Content-Type": type }, body });
    const answer = await response.json();
    if (ticket !== inFlight) return;  // a newer drawing has been sent since
    if (!response.ok) {
      show(null);
      showNumber(null);
      const prompt = reading ? "Write a number" : "Draw a digit";
      statusEl.textContent = answer.code === "no_ink" ? prompt : `Cannot read that image: ${answer.error}`;
      return;
    }
    if (reading) showNumber(answer);
    else show(answer);
  } catch (error) {
    statusEl.textContent = `Server unreachable (${error})`;
  }
}

function show(answer) {
  bars.replaceChildren();
  if (!answer) {
    digitEl.textContent = "?";
    seen.removeAttribute("src");
    seen.hidden = true;  // never a broken-image icon: the empty state says what will appear
    seenEmpty.hidden = false;
    return;
  }
  digitEl.textContent = answer.not_a_digit ? "–" : String(answer.digit);
  const sure = answer.not_a_digit ? "not a digit" : `${(100 * answer.probability).toFixed(1)}% sure`;
  statusEl.textContent = `${sure} · ${answer.latency_ms.toFixed(1)} ms`;
  drawDigitBox(answer);
  answer.probabilities.forEach((p, d) => {
    const row = document.createElement("li");
    row.dataset.digit = String(d);
    if (d === answer.digit) row.className = "best";
    row.innerHTML = `<span>${d}</span><span class="bar"><span class="fill"></span></span><span>${(100 * p).toFixed(1)}%</span>`;
    row.querySelector(".fill").style.width = `${100 * p}%`;
    bars.appendChild(row);
  });
  seen.src = `data:image/png;base64,${answer.input_png}`;
  seen.hidden = false;
  seenEmpty.hidden = true;
}

// Where a box of the picture sent lands on the pad.
function onPad(box) {
  return box.map((v, i) => v * view.scale + (i % 2 ? view.dy : view.dx));
}

// One digit read from an uploaded photo: its box on the photo (a drawing needs none).
function drawDigitBox(answer) {
  overlayCtx.clearRect(0, 0, overlay.width, overlay.height);
  if (!answer.box || view.scale === 1) return;
  const [x0, y0, x1, y1] = onPad(answer.box);
  overlayCtx.lineWidth = Math.max(2, overlay.height / 120);
  overlayCtx.strokeStyle = answer.not_a_digit ? "#d40000" : "#0a8f3c";
  overlayCtx.strokeRect(x0, y0, x1 - x0, y1 - y0);
}

function showNumber(answer) {
  overlayCtx.clearRect(0, 0, overlay.width, overlay.height);
  numberDigits.replaceChildren();
  if (!answer) {
    numberEl.textContent = "";
    return;
  }
  numberEl.textContent = answer.number;
  const whole = (answer.numbers || []).length > 1 ? "the least sure number" : "the whole number";
  statusEl.textContent = `${(100 * answer.confidence).toFixed(1)}% sure of ${whole} · ${answer.latency_ms.toFixed(1)} ms`;
  overlayCtx.lineWidth = Math.max(1, overlay.height / 240);
  overlayCtx.strokeStyle = "#2857dc";
  for (const n of (answer.numbers || []).length > 1 ? answer.numbers : []) {  // each number's own box
    const [x0, y0, x1, y1] = onPad(n.box);
    overlayCtx.strokeRect(x0 - 4, y0 - 4, x1 - x0 + 8, y1 - y0 + 8);
  }
  const line = Math.max(2, overlay.height / 120);
  const size = Math.round(overlay.height / 11);
  overlayCtx.font = `bold ${size}px system-ui, sans-serif`;
  overlayCtx.lineWidth = line;
  let labelsEnd = -Infinity;  // right end of the last label drawn above the boxes
  for (const d of answer.digits) {
    const [x0, y0, x1, y1] = onPad(d.box);
    const colour = d.probability >= 0.9 ? "#0a8f3c" : d.probability >= 0.6 ? "#d97800" : "#d40000";
    overlayCtx.strokeStyle = colour;
    overlayCtx.fillStyle = colour;
    overlayCtx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const label = `${d.digit} ${(100 * d.probability).toFixed(0)}%`;
    const width = overlayCtx.measureText(label).width;
    if (x0 >= labelsEnd + line) {  // room above the box
      overlayCtx.fillText(label, x0, Math.max(size, y0 - line * 2));
      labelsEnd = x0 + width;
    } else {  // a narrow neighbour's label is there: below the box instead
      overlayCtx.fillText(label, x0, Math.min(overlay.height - line, y1 + size + line));
    }
    const item = document.createElement("li");
    item.textContent = `${d.digit} · ${(100 * d.probability).toFixed(1)}%`;
    numberDigits.appendChild(item);
  }
}

function setMode(next) {
  mode = next;
  const number = next === "number";
  document.body.classList.toggle("number-mode", number);
  document.getElementById("mode-digit").setAttribute("aria-selected", String(!number));
  document.getElementById("mode-number").setAttribute("aria-selected", String(number));
  document.getElementById("title").textContent = number ? "Write a number" : "Draw a digit";
  document.getElementById("hint").textContent = number
    ? "Write the digits side by side on one line; each gets a box and its reading."
    : "Draw with a mouse, pen or finger, or drop an image on the pad.";
  pad.width = overlay.width = number ? 840 : 280;  // resizing a canvas clears it
  pad.height = overlay.height = 280;
  resetPad();
  show(null);
  showNumber(null);
  statusEl.textContent = number ? "Write a number" : "Draw a digit";
  showModelLine();
}
document.getElementById("mode-digit").addEventListener("click", () => setMode("digit"));
document.getElementById("mode-number").addEventListener("click", () => setMode("number"));

document.getElementById("clear").addEventListener("click", () => {
  resetPad();
  show(null);
  showNumber(null);
  statusEl.textContent = mode === "number" ? "Write a number" : "Draw a digit";
});

// A phone photo is made smaller in the browser before it is sent: the reader looks at about
// 1,000 px anyway, and the API keeps its body limit (a 12 MP JPEG is 3-5 MB).
const UPLOAD_SIDE = 2000;

function upload(file) {
  if (!file) return;
  const image = new Image();
  image.onload = () => {  // show the photo on the pad, fitted; send it, smaller if it is large
    resetPad();
    const shrink = Math.min(1, UPLOAD_SIDE / Math.max(image.width, image.height));
    const sentWidth = Math.round(image.width * shrink), sentHeight = Math.round(image.height * shrink);
    const scale = Math.min(pad.width / image.width, pad.height / image.height);
    const w = image.width * scale, h = image.height * scale;
    ctx.drawImage(image, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    // Boxes come in the pixels of the picture sent: scaled from there onto the pad.
    view = { scale: scale / shrink, dx: (pad.width - w) / 2, dy: (pad.height - h) / 2 };
    if (shrink === 1) {
      URL.revokeObjectURL(image.src);
      send(file, file.type || "application/octet-stream");  // after the pad is set, so the boxes land on it
      return;
    }
    const smaller = document.createElement("canvas");
    smaller.width = sentWidth;
    smaller.height = sentHeight;
    smaller.getContext("2d").drawImage(image, 0, 0, sentWidth, sentHeight);  // upright, as the browser shows it
    URL.revokeObjectURL(image.src);
    smaller.toBlob((blob) => send(blob, "image/jpeg"), "image/jpeg", 0.92);
  };
  image.onerror = () => {  // a format the browser cannot show (TIFF): the server may still read it
    URL.revokeObjectURL(image.src);
    resetPad();
    send(file, file.type || "application/octet-stream");
  };
  image.src = URL.createObjectURL(file);
}
document.getElementById("file").addEventListener("change", (event) => upload(event.target.files[0]));
pad.addEventListener("dragover", (event) => { event.preventDefault(); pad.classList.add("drop"); });
pad.addEventListener("dragleave", () => pad.classList.remove("drop"));
pad.addEventListener("drop", (event) => {
  event.preventDefault();
  pad.classList.remove("drop");
  upload(event.dataTransfer.files[0]);
});

let modelLines = { digit: "", number: "" };
function showModelLine() {
  const line = modelLines[mode];
  if (line) document.getElementById("model-line").textContent = line;
}
fetch("/api/model").then((r) => r.json()).then((info) => {
  const percent = (p) => (p == null ? "" : `, ${(100 * p).toFixed(2)}% on MNIST test`);
  modelLines.digit = `Model: ${info.model}${percent(info.test_accuracy)}. It reads your digit as you draw.`;
  const reader = info.reader || {};
  const junk = reader.classes === 11 ? ", trained to reject pieces that are not one digit" : "";
  modelLines.number = `Reader model: ${reader.name || reader.model}${percent(reader.test_accuracy)}${junk}. ` +
    "It reads the number as you write.";
  showModelLine();
}).catch(() => {});

resetPad();
