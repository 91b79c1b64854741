// The circlefit page: a form to start fits, the job list, and one job's page (/jobs/{id})
// where the picture forms live from the job's event stream. Plain JavaScript with no build
// step and no library: a few hundred lines that only draw SVG elements, fetch JSON and
// follow one event stream do not need a framework, and the binary serves every asset.
"use strict";

const $ = id => document.getElementById(id);
const ENDED = ["done", "failed", "cancelled"];
const HAS_RESULT = ["done", "cancelled"];
const SVG_NS = "http://www.w3.org/2000/svg";

// ---- the API, with the token asked once and kept ----------------------------------------

let token = localStorage.getItem("circlefit-token") || "";

/** `url` with the token as `access_token` (for what the browser fetches itself). */
function withToken(url) {
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(token);
}

/** A fetch with the token; a 401 asks for it once and retries. */
async function api(path, options = {}) {
  const send = () => fetch(path, Object.assign({}, options, {
    headers: Object.assign({}, options.headers || {}, token ? { Authorization: "Bearer " + token } : {}),
  }));
  let r = await send();
  if (r.status === 401) {
    token = prompt("This server needs a token:") || "";
    localStorage.setItem("circlefit-token", token);
    r = await send();
  }
  return r;
}

/** The JSON body of a response, or `{error}` for one that has none. */
async function body(r) {
  try { return await r.json(); } catch { return { error: `HTTP ${r.status}` }; }
}

function notice(text) { $("notice").textContent = text; }

// ---- the live picture ------------------------------------------------------------------

function svgEl(name, attrs = {}) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Circle `k` as the SVG export draws it: plain, or a radial gradient for a soft edge. */
function circleNode(k, c) {
  const [x, y, r, red, green, blue, a] = c;
  const colour = `rgb(${red},${green},${blue})`;
  const g = svgEl("g");
  if (c.length > 7) {
    const [outer, inner] = [c[7], c[8]];
    const grad = svgEl("radialGradient", { id: "live-c" + k, gradientUnits: "userSpaceOnUse", cx: x, cy: y, r: outer });
    grad.append(svgEl("stop", { offset: inner, "stop-color": colour, "stop-opacity": a }),
                svgEl("stop", { offset: 1, "stop-color": colour, "stop-opacity": 0 }));
    g.append(grad, svgEl("circle", { cx: x, cy: y, r: outer, fill: `url(#live-c${k})` }));
  } else {
    g.append(svgEl("circle", { cx: x, cy: y, r, fill: colour, "fill-opacity": a }));
  }
  return g;
}

/** The SVG the circles are drawn into, sized and filled by the job's frame. */
const picture = {
  layer: null,
  reset(frame) {
    const svg = $("live");
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${frame.width} ${frame.height}`);
    svg.setAttribute("width", frame.width);
    svg.setAttribute("height", frame.height);
    const [r, g, b] = frame.background;
    svg.append(svgEl("rect", { width: frame.width, height: frame.height, fill: `rgb(${r},${g},${b})` }));
    this.layer = svgEl("g", { id: "circles" });
    svg.append(this.layer);
  },
  /** Sets circle `i` (a new one is appended). */
  set(i, c) {
    const node = circleNode(i, c);
    const old = this.layer.children[i];
    if (old) old.replaceWith(node); else this.layer.append(node);
  },
  /** Applies an event's `draw`: every change, then the count. */
  apply(draw) {
    if (!draw || !this.layer) return;
    for (const [i, c] of draw.changes) this.set(i, c);
    while (this.layer.children.length > draw.count) this.layer.lastElementChild.remove();
  },
  count() { return this.layer ? this.layer.children.length : 0; },
};

// ---- one job's page ----------------------------------------------------------------------

let current = null; // { id, row, events, chartAt }

function jobUrl(id, rest = "") { return `/api/v1/jobs/${id}${rest}`; }

function statusText(row) {
  const parts = [row.status];
  if (row.circles) parts.push(`${row.circles} circles`);
  if (row.psnr != null) parts.push(`${row.psnr.toFixed(2)} dB`);
  if (row.evaluations) parts.push(`${row.evaluations.toLocaleString()} evaluations`);
  if (row.error) parts.push(row.error);
  return parts.join(" · ");
}

/** Shows `row`'s figures and the controls its status allows. */
function showRow(row) {
  const before = current.row && current.row.status;
  current.row = Object.assign(current.row || {}, row);
  row = current.row;
  const s = row.status;
  // The list follows the job's state at once, not at its next poll.
  if (before && before !== s) loadList();
  $("status").textContent = statusText(row);
  $("status").className = "status-" + s;
  $("cancel").disabled = !["queued", "running", "paused"].includes(s);
  $("pause").disabled = !["queued", "running"].includes(s);
  $("resume").disabled = s !== "paused";
  const joint = row.settings && row.settings.mode === "joint";
  $("extend").disabled = s !== "done" || joint;
  $("extend-circles").disabled = $("extend").disabled;
  // Twice the circles, unless the user has typed a number.
  const extend = $("extend-circles");
  if (s === "done" && (!extend.value || extend.dataset.auto === "1")) {
    extend.value = row.circles * 2;
    extend.dataset.auto = "1";
  }
  $("delete").disabled = !ENDED.includes(s);
  const ended = HAS_RESULT.includes(s);
  document.querySelector("input[name=view][value=error]").disabled = !ended;
  if (ended) $("errormap").src = withToken(jobUrl(row.id, "/diff.png"));
  showDownloads(row.id, ended);
  refreshChart(ENDED.includes(s));
}

function showDownloads(id, ended) {
  const el = $("downloads");
  if (!ended) { el.textContent = "Downloads appear when the job ends."; return; }
  if (el.dataset.job === String(id)) return;
  el.dataset.job = String(id);
  el.replaceChildren("Download: ");
  for (const [file, label] of [["result.png", "PNG"], ["result.svg", "SVG"], ["result.json", "JSON"], ["result.gif", "GIF"], ["report.html", "Report"]]) {
    const a = document.createElement("a");
    a.id = "download-" + file.split(".")[1];
    a.href = withToken(jobUrl(id, "/" + file));
    a.download = `circlefit-${id}-${file}`;
    a.textContent = label;
    el.append(a);
  }
}

/** Reloads the history chart (at most every two seconds unless `now`). */
function refreshChart(now) {
  const t = Date.now();
  if (!now && current.chartAt && t - current.chartAt < 2000) return;
  current.chartAt = t;
  $("chart").src = withToken(jobUrl(current.id, "/history.svg")) + (token ? "&" : "?") + "t=" + t;
}

function showFamily(rows) {
  if (!current) return;
  const el = $("family");
  el.replaceChildren();
  const link = (id, text) => {
    const a = document.createElement("a");
    a.href = `/jobs/${id}`; a.dataset.job = ""; a.textContent = text;
    return a;
  };
  const row = rows.find(j => j.id === current.id);
  if (row && row.parent != null) el.append("Extends ", link(row.parent, `job ${row.parent}`), ". ");
  for (const child of rows.filter(j => j.parent === current.id)) el.append("Extended by ", link(child.id, `job ${child.id}`), ". ");
}

function closeJob() {
  if (current && current.events) current.events.close();
  current = null;
  $("job").hidden = true;
  document.title = "circlefit";
}

async function openJob(id) {
  closeJob();
  current = { id, row: null, events: null, chartAt: 0 };
  const mine = current;
  $("job").hidden = false;
  $("job-title").textContent = `Job ${id}`;
  document.title = `circlefit · job ${id}`;
  $("control-error").textContent = "";
  $("downloads").dataset.job = "";
  $("extend-circles").value = "";
  $("extend-circles").dataset.auto = "";
  const r = await api(jobUrl(id));
  if (mine !== current) return;
  if (!r.ok) { $("status").textContent = (await body(r)).error; picture.reset({ width: 1, height: 1, background: [255, 255, 255] }); return; }
  const row = await r.json();
  $("reference").src = withToken(jobUrl(id, "/ref.png"));
  // The picture so far, at once; the stream then sends every change (its first event
  // repeats every circle, which sets the same ones again).
  const c = await api(jobUrl(id, "/circles?since=0"));
  if (mine !== current) return;
  if (c.ok) {
    const now = await c.json();
    picture.reset(now.frame);
    now.circles.forEach((circle, i) => picture.set(i, circle));
  }
  showRow(row);
  showFamily(lastList);
  if (!ENDED.includes(row.status)) follow(id);
}

/** Follows the job's event stream until it ends. */
function follow(id) {
  const events = new EventSource(withToken(jobUrl(id, "/events")));
  current.events = events;
  events.addEventListener("progress", e => {
    const p = JSON.parse(e.data);
    picture.apply(p.draw);
    showRow({ status: "running", circles: p.circles, psnr: p.psnr, evaluations: p.evaluations });
  });
  events.addEventListener("status", e => showRow(JSON.parse(e.data)));
  for (const end of ENDED) {
    events.addEventListener(end, e => {
      events.close();
      const row = JSON.parse(e.data);
      picture.apply(row.draw);
      delete row.draw;
      showRow(row); // the status changed: the list is re-read there
    });
  }
  // A broken stream (a restarting server, a proxy timeout): the browser reconnects by
  // itself, and the new stream's first event brings every circle again.
  events.onerror = () => {
    if (current && current.events === events && events.readyState !== EventSource.CLOSED)
      $("status").textContent = statusText(current.row || { status: "reconnecting" }) + " (reconnecting)";
  };
}

async function control(action, options = { method: "POST" }) {
  $("control-error").textContent = "";
  const id = current.id;
  const r = await api(jobUrl(id, action), options);
  const b = r.status === 204 ? {} : await body(r);
  if (!r.ok) { $("control-error").textContent = b.error; return null; }
  return b;
}

$("cancel").addEventListener("click", () => control("/cancel"));
$("pause").addEventListener("click", async () => {
  const b = await control("/pause");
  if (b && b.status === "paused") showRow({ status: "paused" });
});
$("resume").addEventListener("click", async () => {
  const b = await control("/resume");
  if (b && current && !current.events) follow(current.id);
});
$("extend-circles").addEventListener("input", () => { $("extend-circles").dataset.auto = ""; });
$("extend").addEventListener("click", async () => {
  const circles = Number($("extend-circles").value);
  const b = await control("/extend", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ circles }),
  });
  if (b) { await loadList(); go(`/jobs/${b.id}`); }
});
$("delete").addEventListener("click", async () => {
  const button = $("delete");
  // Two steps, no dialog: the first click asks, the second deletes.
  if (button.dataset.armed !== String(current.id)) {
    button.dataset.armed = String(current.id);
    button.textContent = "Really delete?";
    return;
  }
  button.dataset.armed = "";
  button.textContent = "Delete";
  if (await control("", { method: "DELETE" })) { await loadList(); go("/"); }
});

// ---- the view switch and the comparison slider --------------------------------------------

function showView() {
  const view = document.querySelector("input[name=view]:checked").value;
  $("stage").className = "stage show-" + view;
  $("reference").hidden = view !== "compare";
  $("errormap").hidden = view !== "error";
  $("slider-row").hidden = view !== "compare";
  slide();
}
function slide() {
  // The reference covers the left part of the picture, up to the slider.
  $("reference").style.clipPath = `inset(0 ${100 - Number($("compare").value)}% 0 0)`;
}
for (const radio of document.querySelectorAll("input[name=view]")) radio.addEventListener("change", showView);
$("compare").addEventListener("input", slide);

// ---- the job list --------------------------------------------------------------------------

let lastList = [];
let lastListText = "";

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content;
  return td;
}

function listRow(j) {
  const tr = document.createElement("tr");
  tr.dataset.id = j.id;
  if (current && current.id === j.id) tr.className = "current";
  const thumb = document.createElement("img");
  thumb.alt = `Job ${j.id}`;
  thumb.loading = "lazy";
  thumb.src = withToken(jobUrl(j.id, HAS_RESULT.includes(j.status) && j.circles ? "/result.png" : "/ref.png"));
  const picLink = document.createElement("a");
  picLink.href = `/jobs/${j.id}`; picLink.dataset.job = ""; picLink.tabIndex = -1; picLink.append(thumb);
  const link = document.createElement("a");
  link.href = `/jobs/${j.id}`; link.dataset.job = ""; link.textContent = `#${j.id}`;
  const status = cell(j.status);
  status.className = "status-" + j.status;
  // An ended job: how long it took; else when it was made.
  const time = j.finished
    ? `${((j.finished - j.created) / 1000).toFixed(1)} s`
    : new Date(j.created).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  tr.append(cell(picLink), cell(link), status, cell(String(j.circles)), cell(j.psnr != null ? j.psnr.toFixed(2) : ""), cell(time));
  return tr;
}

/** Reads the list; redraws it only when something changed. */
async function loadList() {
  const r = await api("/api/v1/jobs");
  if (!r.ok) return;
  const text = await r.text();
  if (text === lastListText) return;
  lastListText = text;
  lastList = JSON.parse(text);
  $("jobs").replaceChildren(...lastList.map(listRow));
  showFamily(lastList);
}

// ---- upload ----------------------------------------------------------------------------------

const FIELDS = ["image", "circles", "mode", "edges", "seed", "iters", "pop", "polish"];
/** Where a message about a setting the form has no field for is shown. */
const FIELD_OF = { males: "pop", batch_size: "circles" };

function clearErrors() {
  for (const f of FIELDS) $(f + "-error").textContent = "";
  $("form-error").textContent = "";
}

/** Shows the server's message next to the field it names. */
function showError(message) {
  const m = /^([a-z_]+)\b/.exec(message || "");
  const field = m && (FIELD_OF[m[1]] || m[1]);
  if (field && FIELDS.includes(field)) {
    $(field + "-error").textContent = message;
    if (["seed", "iters", "pop", "polish"].includes(field)) $("advanced").open = true;
    $(field).setAttribute("aria-invalid", "true");
    $(field).focus();
  } else {
    $("form-error").textContent = message;
  }
}

function settings() {
  const s = { circles: Number($("circles").value), mode: $("mode").value, edges: $("edges").value };
  for (const f of ["seed", "iters", "pop", "polish"]) if ($(f).value !== "") s[f] = Number($(f).value);
  return s;
}

$("upload").addEventListener("submit", async ev => {
  ev.preventDefault();
  clearErrors();
  for (const f of FIELDS) $(f).removeAttribute("aria-invalid");
  const file = $("image").files[0];
  if (!file) { showError("image: choose a PNG or JPEG file (or drop one on the box)"); return; }
  const form = new FormData();
  form.append("image", file);
  form.append("settings", JSON.stringify(settings()));
  $("start").disabled = true;
  try {
    const r = await api("/api/v1/jobs", { method: "POST", body: form });
    const b = await body(r);
    if (!r.ok) { showError(b.error); return; }
    await loadList();
    go(`/jobs/${b.id}`);
  } finally {
    $("start").disabled = false;
  }
});

const drop = $("drop");
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) $("image").files = e.dataTransfer.files;
});

// ---- routing: `/` and `/jobs/{id}`, with back and forward --------------------------------------

function route() {
  const m = /^\/jobs\/(\d+)$/.exec(location.pathname);
  if (m) openJob(Number(m[1])); else closeJob();
  for (const tr of $("jobs").children) tr.className = current && Number(tr.dataset.id) === current.id ? "current" : "";
}

function go(path) {
  if (location.pathname !== path) history.pushState({}, "", path);
  route();
}

document.addEventListener("click", e => {
  const a = e.target.closest("a[data-job]");
  if (!a || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  go(a.getAttribute("href"));
});
$("home").addEventListener("click", e => { e.preventDefault(); go("/"); });
window.addEventListener("popstate", route);

showView();
loadList().then(route);
// The list follows every job's state (a job started elsewhere, another server's worker).
setInterval(() => { if (!document.hidden) loadList(); }, 2000);
