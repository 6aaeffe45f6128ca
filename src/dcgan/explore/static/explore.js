// dcgan explore: the page. Plain browser JavaScript, no library, no network beyond this server.
// Images are fetched as PNG blobs (so that a refused request shows its message instead of a broken
// image); each image response names the equivalent dcgan command in its X-Dcgan-Command header.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  info: null,
  pinned: [],          // seeds, in the order pinned (the walk visits them in this order)
  selected: null,      // the pin the "+ selected pin" buttons add
  slots: { a: [], b: [], c: [], from: [], to: [] },
  gridSeeds: [],
  cols: 8,
  labels: {},          // seed -> judge label text
  pageStart: 0,
};
const PAGE = 64;

// ------------------------------------------------------------------------------------------
// Fetching images: one request in flight per image; a newer request replaces an older one.

const inflight = new Map();

async function loadImage(img, url, msgEl, cmdEl) {
  const previous = inflight.get(img);
  if (previous) previous.abort();
  const ctrl = new AbortController();
  inflight.set(img, ctrl);
  img.dataset.state = "loading";
  let response;
  try {
    response = await fetch(url, { signal: ctrl.signal });
  } catch (err) {
    if (err.name === "AbortError") return false;
    showMessage(msgEl, "the server did not answer: is dcgan explore still running?");
    img.dataset.state = "error";
    return false;
  } finally {
    if (inflight.get(img) === ctrl) inflight.delete(img);
  }
  if (!response.ok) {
    let text = response.statusText;
    try { text = (await response.json()).error || text; } catch (_) { /* not JSON */ }
    showMessage(msgEl, text);
    img.classList.add("stale");
    img.dataset.state = "error";
    return false;
  }
  const blob = await response.blob();
  if (ctrl.signal.aborted) return false;
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  await new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; img.src = URL.createObjectURL(blob); });
  img.classList.remove("stale");
  img.dataset.version = String(Number(img.dataset.version || 0) + 1);
  img.dataset.state = "ok";
  if (cmdEl) cmdEl.textContent = response.headers.get("X-Dcgan-Command") || "";
  if (msgEl) showMessage(msgEl, "");
  return true;
}

async function getJSON(url, msgEl, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (_) {
    showMessage(msgEl, "the server did not answer: is dcgan explore still running?");
    return null;
  }
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    showMessage(msgEl, data.error || response.statusText);
    return null;
  }
  return data;
}

function showMessage(el, text) {
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("shown", Boolean(text));
}

const q = (params) => new URLSearchParams(params).toString();

// ------------------------------------------------------------------------------------------
// Samples: a grid of seeds, paging, typed seeds, the judge filter, hover labels, click to pin.

function seedText(seeds) {
  return seeds.join(",");
}

async function showGrid(seeds) {
  // The grid's seeds change only when the server drew them, so hover and click always map to what is shown.
  seeds = seeds || state.gridSeeds;
  const drop = $("grid-drop").value;
  const params = { seeds: seedText(seeds), cols: String(state.cols) };
  if (drop !== "") params.drop = drop;
  const ok = await loadImage($("grid"), "/api/samples.png?" + q(params), $("samples-msg"), $("samples-cmd"));
  if (!ok) return;
  state.gridSeeds = seeds;
  state.labels = {};
  if (state.info.judge) {
    const data = await getJSON("/api/labels?" + q({ seeds: seedText(seeds) }), $("samples-msg"));
    if (data) for (const l of data.labels) state.labels[l.seed] = (l.confident ? "" : "(unsure) ") + l.text;
  }
  if ($("panel-forget").classList.contains("active")) showForget();
}

function rangeSeeds(start, count) {
  return Array.from({ length: count }, (_, i) => start + i);
}

async function showTyped() {
  const text = $("seeds").value.trim();
  const m = /^(\d+)-(\d+)$/.exec(text);
  if (m) state.pageStart = Number(m[1]);
  $("query").value = "";
  const parsed = parseSeeds(text);
  if (parsed === null) {  // not a seed list the grid can lay out: the server says what is wrong with it
    await loadImage($("grid"), "/api/samples.png?" + q({ seeds: text }), $("samples-msg"), $("samples-cmd"));
    return;
  }
  await showGrid(parsed);
}

function parseSeeds(text) {
  // Only for laying out the grid; the server checks every request itself.
  const out = [];
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 4096 || !Number.isSafeInteger(hi)) return null;
    for (let s = lo; s <= hi; s++) out.push(s);
  }
  return out.length ? out : null;
}

function page(delta) {
  state.pageStart = Math.max(0, state.pageStart + delta * PAGE);
  $("seeds").value = `${state.pageStart}-${state.pageStart + PAGE - 1}`;
  $("query").value = "";
  showGrid(rangeSeeds(state.pageStart, PAGE));
}

async function applyQuery() {
  const query = $("query").value.trim();
  if (!query) { showTyped(); return; }
  showMessage($("samples-msg"), "searching…");
  const data = await getJSON("/api/select?" + q({ query, start: String(state.pageStart), count: String(PAGE) }), $("samples-msg"));
  if (!data) return;
  if (!data.seeds.length) {
    showMessage($("samples-msg"), `no sample among seeds ${data.searched[0]}-${data.searched[1]} matches '${data.query}' confidently`);
    return;
  }
  await showGrid(data.seeds);
  $("samples-cmd").textContent = data.command;
  showMessage($("samples-msg"), `${data.seeds.length} seeds among ${data.searched[0]}-${data.searched[1]} match '${data.query}'`);
}

function cellAt(event) {
  const img = $("grid");
  const rect = img.getBoundingClientRect();
  const rows = Math.ceil(state.gridSeeds.length / state.cols);
  const col = Math.floor(((event.clientX - rect.left) / rect.width) * state.cols);
  const row = Math.floor(((event.clientY - rect.top) / rect.height) * rows);
  const index = row * state.cols + col;
  if (col < 0 || col >= state.cols || row < 0 || index >= state.gridSeeds.length) return null;
  return state.gridSeeds[index];
}

function hover(event) {
  const seed = cellAt(event);
  const tip = $("tooltip");
  if (seed === null || $("grid").dataset.state !== "ok") { tip.hidden = true; return; }
  tip.hidden = false;
  const label = state.labels[seed];
  tip.textContent = `seed ${seed}` + (label ? `\n${label}` : "");
  const wrap = $("grid-wrap").getBoundingClientRect();
  tip.style.left = `${event.clientX - wrap.left + 14}px`;
  tip.style.top = `${event.clientY - wrap.top + 14}px`;
}

// ------------------------------------------------------------------------------------------
// Pins and slots.

function pin(seed) {
  if (!state.pinned.includes(seed)) state.pinned.push(seed);
  state.selected = seed;
  renderPins();
}

function chip(seed, onClick, title) {
  const el = document.createElement("span");
  el.className = "chip";
  el.dataset.seed = String(seed);
  el.title = title;
  const img = document.createElement("img");
  img.alt = `seed ${seed}`;
  loadImage(img, "/api/samples.png?" + q({ seeds: String(seed) }), null, null);
  const label = document.createElement("span");
  label.textContent = String(seed);
  el.append(img, label);
  el.addEventListener("click", onClick);
  return el;
}

function renderPins() {
  const box = $("pinned");
  box.replaceChildren();
  for (const seed of state.pinned) {
    const el = chip(seed, () => { state.selected = seed; renderPins(); }, `seed ${seed}: drag into a slot; double-click to unpin`);
    el.draggable = true;
    el.classList.toggle("selected", seed === state.selected);
    el.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", String(seed)); e.dataTransfer.effectAllowed = "copy"; });
    el.addEventListener("dblclick", () => {
      state.pinned = state.pinned.filter((s) => s !== seed);
      if (state.selected === seed) state.selected = null;
      renderPins();
    });
    box.append(el);
  }
  $("pinned-hint").hidden = state.pinned.length > 0;
  const target = $("dir-target");
  const keep = target.value;
  target.replaceChildren(...state.pinned.map((s) => new Option(`seed ${s}`, String(s))));
  if (state.pinned.map(String).includes(keep)) target.value = keep;
}

function renderSlots() {
  for (const slotEl of document.querySelectorAll(".slot")) {
    const name = slotEl.dataset.slot;
    const box = slotEl.querySelector(".chips");
    box.replaceChildren(...state.slots[name].map((seed, i) => chip(seed, () => {
      state.slots[name].splice(i, 1);
      slotsChanged(name);
    }, `seed ${seed}: click to remove`)));
  }
}

function addToSlot(name, seed) {
  if (seed === null || seed === undefined || Number.isNaN(seed)) return;
  state.slots[name].push(seed);
  slotsChanged(name);
}

function slotsChanged(name) {
  renderSlots();
  if (["a", "b", "c"].includes(name)) showArithmetic();
  else showDirection();
}

function setupSlots() {
  for (const slotEl of document.querySelectorAll(".slot")) {
    const name = slotEl.dataset.slot;
    slotEl.addEventListener("dragover", (e) => { e.preventDefault(); slotEl.classList.add("over"); });
    slotEl.addEventListener("dragleave", () => slotEl.classList.remove("over"));
    slotEl.addEventListener("drop", (e) => {
      e.preventDefault();
      slotEl.classList.remove("over");
      addToSlot(name, Number(e.dataTransfer.getData("text/plain")));
    });
    slotEl.querySelector(".add").addEventListener("click", () => {
      if (state.selected === null) { showMessage(name.length === 1 ? $("arith-msg") : $("dir-msg"), "select a pinned sample first (click it)"); return; }
      addToSlot(name, state.selected);
    });
  }
}

// ------------------------------------------------------------------------------------------
// Walk.

function walkParams() {
  return { seeds: seedText(state.pinned), steps: $("walk-steps").value };
}

async function showWalk() {
  const params = walkParams();
  const ok = await loadImage($("walk-strip"), "/api/walk.png?" + q(params), $("walk-msg"), $("walk-cmd"));
  if (ok) $("walk-strip").style.width = `${Number(params.steps) * 64}px`;  // 64 px a frame, one row per segment
  const gif = $("walk-gif");
  if (!ok) { gif.classList.add("disabled"); gif.removeAttribute("href"); return; }
  gif.href = "/api/walk.gif?" + q(params);
  gif.classList.remove("disabled");
  const slider = $("walk-slider");
  slider.max = String(state.pinned.length - 1);
  slider.value = "0";
  walkFrame();
}

const coalesced = new Map();  // a slider fires faster than images arrive: keep only the latest wish

async function latest(key, fn) {
  if (coalesced.has(key)) { coalesced.set(key, fn); return; }
  coalesced.set(key, fn);
  while (coalesced.get(key)) {
    const next = coalesced.get(key);
    coalesced.set(key, null);
    await next();
  }
  coalesced.delete(key);
}

function walkFrame() {
  const t = Number($("walk-slider").value);
  $("walk-pos").textContent = t.toFixed(2);
  if (state.pinned.length < 2) return;
  const seeds = seedText(state.pinned);
  latest("walk", () => loadImage($("walk-frame"), "/api/walk/frame.png?" + q({ seeds, t: String(t) }), $("walk-msg"), null));
}

// ------------------------------------------------------------------------------------------
// Arithmetic and direction.

async function showArithmetic() {
  const params = { a: seedText(state.slots.a), b: seedText(state.slots.b), c: seedText(state.slots.c) };
  const msg = $("arith-msg");
  // In order, so the first request computes and the other two reuse the server's remembered result.
  if (!(await loadImage($("arith-result"), "/api/arithmetic/result.png?" + q(params), msg, $("arith-cmd")))) return;
  await loadImage($("arith-means"), "/api/arithmetic/means.png?" + q(params), msg, null);
  await loadImage($("arith-pixel"), "/api/arithmetic/pixel.png?" + q(params), msg, null);
}

function showDirection() {
  const scale = Number($("dir-slider").value);
  $("dir-scale").textContent = (scale >= 0 ? "+" : "") + scale.toFixed(2);
  const params = { from: seedText(state.slots.from), to: seedText(state.slots.to), seed: $("dir-target").value, scale: String(scale) };
  if (!params.seed) { showMessage($("dir-msg"), "pin a sample to move (click one in the Samples grid)"); return; }
  latest("direction", () => loadImage($("dir-image"), "/api/direction.png?" + q(params), $("dir-msg"), $("dir-cmd")));
}

// ------------------------------------------------------------------------------------------
// Forget.

function renderDrops() {
  const drops = state.info.drops;
  const options = drops.map((d) => new Option(d.name, String(d.id)));
  const chooser = $("forget-drop");
  const keep = chooser.value;
  chooser.replaceChildren(...options);
  if (keep) chooser.value = keep;
  const grid = $("grid-drop");
  const gridKeep = grid.value;
  grid.replaceChildren(new Option("off", ""), ...drops.map((d) => new Option(d.name, String(d.id))));
  grid.value = gridKeep;
  if (!drops.length) showMessage($("forget-msg"), "no drop set yet: start dcgan explore with --drop dropped.json, or compute one here");
}

async function showForget() {
  const id = $("forget-drop").value;
  if (id === "") return;
  const drop = state.info.drops[Number(id)];
  $("forget-lines").textContent = (drop.lines || []).join("\n");
  const seeds = seedText(state.gridSeeds);
  const cols = String(state.cols);
  await loadImage($("forget-before"), "/api/samples.png?" + q({ seeds, cols }), $("forget-msg"), null);
  await loadImage($("forget-after"), "/api/samples.png?" + q({ seeds, cols, drop: id }), $("forget-msg"), $("forget-cmd"));
  if (!drop.file) $("forget-cmd").textContent = drop.command + "\n" + $("forget-cmd").textContent;
}

async function computeDrop() {
  const button = $("forget-compute");
  button.disabled = true;
  showMessage($("forget-msg"), "fitting the logistic regression on 150 samples' window boxes… (a few seconds)");
  const body = JSON.stringify({ object: $("forget-object").value, max_maps: Number($("forget-max").value) || null });
  const data = await getJSON("/api/forget", $("forget-msg"), { method: "POST", headers: { "Content-Type": "application/json" }, body });
  button.disabled = false;
  if (!data) return;
  state.info.drops.push(data);
  renderDrops();
  $("forget-drop").value = String(data.id);
  showMessage($("forget-msg"), "");
  showForget();
}

function toggleForget() {
  $("grid-drop").value = $("forget-toggle").checked ? $("forget-drop").value : "";
  showGrid();
}

// ------------------------------------------------------------------------------------------
// Inside D.

async function showInside() {
  showMessage($("vis-msg"), "searching real images and back-propagating… (a few seconds the first time)");
  const params = { layer: $("vis-layer").value, unit: $("vis-unit").value };
  await loadImage($("vis-image"), "/api/visualize.png?" + q(params), $("vis-msg"), $("vis-cmd"));
}

// ------------------------------------------------------------------------------------------

function showPanel(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.panel === name);
  for (const p of document.querySelectorAll(".panel")) p.classList.toggle("active", p.id === `panel-${name}`);
  if (name === "forget") showForget();
  if (name === "arithmetic" && Object.values(state.slots).some((s) => s.length)) showArithmetic();
}

async function start() {
  const info = await getJSON("/api/info", $("samples-msg"));
  if (!info) return;
  state.info = info;
  const m = info.model;
  $("model-info").textContent = `${info.bundled ? "bundled rooms model" : info.checkpoint} · ${m.image_size}×${m.image_size}, z ${m.z_dim} (${m.z_dist})`
    + (m.epoch != null ? ` · epoch ${m.epoch}` : "") + (info.judge ? ` · judge ${info.judge.path.split("/").pop()}` : " · no judge");
  if (!info.judge) {
    $("query").disabled = true;
    $("query").placeholder = "needs --judge";
    $("apply-query").disabled = true;
  }
  const objects = info.judge ? info.judge.localiser : [];
  $("forget-object").replaceChildren(...objects.map((o) => new Option(o, o)));
  $("forget-compute-box").hidden = !objects.length;
  $("vis-layer").replaceChildren(...info.d_layers.map((c, i) => new Option(`${i} (${c} units)`, String(i))));
  $("vis-layer").value = String(info.d_layers.length - 1);
  renderDrops();

  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showPanel(b.dataset.panel));
  $("prev-page").addEventListener("click", () => page(-1));
  $("next-page").addEventListener("click", () => page(1));
  $("show-seeds").addEventListener("click", showTyped);
  $("seeds").addEventListener("keydown", (e) => { if (e.key === "Enter") showTyped(); });
  $("apply-query").addEventListener("click", applyQuery);
  $("query").addEventListener("keydown", (e) => { if (e.key === "Enter") applyQuery(); });
  $("grid-drop").addEventListener("change", showGrid);
  $("grid").addEventListener("mousemove", hover);
  $("grid").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  $("grid").addEventListener("click", (e) => { const s = cellAt(e); if (s !== null) pin(s); });
  $("walk-go").addEventListener("click", showWalk);
  $("walk-slider").addEventListener("input", walkFrame);
  $("dir-slider").addEventListener("input", showDirection);
  $("dir-target").addEventListener("change", showDirection);
  $("forget-drop").addEventListener("change", showForget);
  $("forget-compute").addEventListener("click", computeDrop);
  $("forget-toggle").addEventListener("change", toggleForget);
  $("vis-go").addEventListener("click", showInside);
  setupSlots();
  renderPins();
  await showGrid(rangeSeeds(0, PAGE));
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", start);
