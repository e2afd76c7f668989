// The drawing pad: pointer events (mouse, pen and touch alike), debounced live prediction.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
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
  ctx.lineWidth = pad.width / 14;  // a pen stroke about as thick as an MNIST stroke
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  inked = false;
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
  statusEl.textContent = "reading…";
  try {
    const response = await fetch("/api/predict", { method: "POST", headers: { "Content-Type": type }, body });
    const answer = await response.json();
    if (ticket !== inFlight) return;  // a newer drawing has been sent since
    if (!response.ok) {
      show(null);
      statusEl.textContent = answer.code === "no_ink" ? "Draw a digit" : `Cannot read that image: ${answer.error}`;
      return;
    }
    show(answer);
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
  digitEl.textContent = String(answer.digit);
  statusEl.textContent = `${(100 * answer.probability).toFixed(1)}% sure · ${answer.latency_ms.toFixed(1)} ms`;
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

document.getElementById("clear").addEventListener("click", () => {
  resetPad();
  show(null);
  statusEl.textContent = "Draw a digit";
});

function upload(file) {
  if (!file) return;
  const image = new Image();
  image.onload = () => {  // show the photo on the pad, fitted, and send the original bytes
    resetPad();
    const scale = Math.min(pad.width / image.width, pad.height / image.height);
    const w = image.width * scale, h = image.height * scale;
    ctx.drawImage(image, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    URL.revokeObjectURL(image.src);
  };
  image.src = URL.createObjectURL(file);
  send(file, file.type || "application/octet-stream");
}
document.getElementById("file").addEventListener("change", (event) => upload(event.target.files[0]));
pad.addEventListener("dragover", (event) => { event.preventDefault(); pad.classList.add("drop"); });
pad.addEventListener("dragleave", () => pad.classList.remove("drop"));
pad.addEventListener("drop", (event) => {
  event.preventDefault();
  pad.classList.remove("drop");
  upload(event.dataTransfer.files[0]);
});

fetch("/api/model").then((r) => r.json()).then((info) => {
  const accuracy = info.test_accuracy == null ? "" : `, ${(100 * info.test_accuracy).toFixed(2)}% on MNIST test`;
  document.getElementById("model-line").textContent = `Model: ${info.model}${accuracy}. It reads your digit as you draw.`;
}).catch(() => {});

resetPad();
