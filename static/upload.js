// fastgate upload.js: progressive enhancement of upload forms (form[data-upload]). Without
// JavaScript those forms post as multipart and the server answers with a results page. With it,
// each file goes through the chunked JSON API (DESIGN §3, §4):
//   POST /api/uploads {workspace, folder, name, size}  -> {id, token, chunk_size, chunks, parallel}
//   PUT  /api/uploads/{id}/chunks/{n}  raw bytes, headers Upload-Token and Content-Digest (RFC 9530)
//   GET  /api/uploads/{id}             -> {state, received: [n, ...]}   (used to resume)
//   POST /api/uploads/{id}/complete    -> receipt {name, size, sha256, node}
//   DELETE /api/uploads/{id}           -> cancelled
// Chunks go `parallel` (3) at a time, each retried on its own with backoff; an interrupted upload
// resumes (same file picked again, even after a reload) from the server's received-chunk list.
// Progress is real: it counts bytes the browser has sent (XMLHttpRequest upload events).

const RETRIES = 5;
const STORE = "fastgate.uploads";

function init() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  for (const el of document.querySelectorAll("[data-js-hide]")) el.hidden = true;
  for (const form of document.querySelectorAll("form[data-upload]")) enhance(form);
}

function enhance(form) {
  const input = form.querySelector("input[type=file]");
  const list = form.querySelector("[data-progress]");
  const zone = form.querySelector("[data-dropzone]");
  if (!input || !list || !window.fetch || !window.XMLHttpRequest) return;
  if (zone) {
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("is-dragover"); });
    }
    for (const type of ["dragleave", "dragend", "drop"]) {
      zone.addEventListener(type, () => zone.classList.remove("is-dragover"));
    }
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) input.files = e.dataTransfer.files;
    });
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const files = [...input.files];
    if (!files.length) return;
    const data = new FormData(form);
    const dest = {
      workspace: form.dataset.workspace || data.get("workspace"),
      folder: form.dataset.folder || data.get("folder") || "root",
    };
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    list.replaceChildren();
    const rows = files.map((file) => new ProgressRow(list, file));
    for (let i = 0; i < files.length; i++) {
      try {
        rows[i].done(await uploadFile(files[i], dest, rows[i]), dest.workspace);
      } catch (err) {
        rows[i].fail(err && err.message ? err.message : String(err));
      }
    }
    if (button) button.disabled = false;
    input.value = "";
  });
}

async function uploadFile(file, dest, row) {
  const key = [dest.workspace, dest.folder, file.name, file.size, file.lastModified].join("/");
  let session = remembered(key);
  let received = new Set();
  if (session) {
    const state = await api("GET", `/api/uploads/${session.id}`, null, session.token).catch(() => null);
    if (state && Array.isArray(state.received) && !["cancelled", "failed", "stored"].includes(state.state)) {
      received = new Set(state.received);
    } else {
      session = null;
    }
  }
  if (!session) {
    session = await api("POST", "/api/uploads", { ...dest, name: file.name, size: file.size });
    remember(key, session);
  }
  row.onCancel(() => api("DELETE", `/api/uploads/${session.id}`, null, session.token).catch(() => {}));

  const size = session.chunk_size;
  const queue = [];
  for (let n = 1; n <= session.chunks; n++) if (!received.has(n)) queue.push(n);
  const sent = new Map([...received].map((n) => [n, chunkLength(file, size, n)]));
  const report = () => row.progress([...sent.values()].reduce((a, b) => a + b, 0), file.size);
  report();
  const worker = async () => {
    while (queue.length && !row.cancelled) {
      const n = queue.shift();
      await withRetries(() => putChunk(file, session, n, (loaded) => { sent.set(n, loaded); report(); }, row));
      sent.set(n, chunkLength(file, size, n));
      report();
    }
  };
  const parallel = Math.max(1, Math.min(session.parallel || 3, queue.length || 1));
  await Promise.all(Array.from({ length: parallel }, worker));
  if (row.cancelled) throw new Error("Cancelled.");
  row.finishing();
  const receipt = await withRetries(() => api("POST", `/api/uploads/${session.id}/complete`, null, session.token));
  forget(key);
  return receipt;
}

function chunkLength(file, size, n) {
  return Math.max(0, Math.min(size, file.size - (n - 1) * size));
}

async function putChunk(file, session, n, onProgress, row) {
  const start = (n - 1) * session.chunk_size;
  const bytes = await file.slice(start, start + session.chunk_size).arrayBuffer();
  const digest = await contentDigest(bytes);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/api/uploads/${encodeURIComponent(session.id)}/chunks/${n}`);
    xhr.setRequestHeader("Upload-Token", session.token);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    if (digest) xhr.setRequestHeader("Content-Digest", digest);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(httpError(xhr.status, xhr.responseText, xhr.getResponseHeader("Retry-After"))));
    xhr.onerror = () => reject(Object.assign(new Error("The connection was lost."), { retry: true }));
    row.onAbort(() => xhr.abort());
    xhr.onabort = () => reject(new Error("Cancelled."));
    xhr.send(bytes);
  });
}

// crypto.subtle exists only in secure contexts (https, localhost); without it the server hashes alone.
async function contentDigest(bytes) {
  if (!window.crypto || !crypto.subtle) return null;
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha-256=:${btoa(String.fromCharCode(...hash))}:`;
}

async function withRetries(attempt) {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!err.retry || i >= RETRIES) throw err;
      const backoff = err.retryAfter ? err.retryAfter * 1000 : Math.min(30000, 500 * 2 ** i);
      await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random() / 2)));
    }
  }
}

async function api(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body) headers["Content-Type"] = "application/json";
  if (token) headers["Upload-Token"] = token;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined, credentials: "same-origin" });
  } catch {
    throw Object.assign(new Error("The connection was lost."), { retry: true });
  }
  const text = await response.text();
  if (!response.ok) throw httpError(response.status, text, response.headers.get("Retry-After"));
  return text ? JSON.parse(text) : {};
}

function httpError(status, text, retryAfter) {
  let message = `The server answered ${status}.`;
  try {
    message = JSON.parse(text).error.message || message;
  } catch { /* not our JSON error shape */ }
  const retry = status === 429 || status >= 500;
  return Object.assign(new Error(message), { status, retry, retryAfter: Number(retryAfter) || 0 });
}

function remembered(key) {
  try { return JSON.parse(localStorage.getItem(STORE) || "{}")[key] || null; } catch { return null; }
}
function remember(key, session) {
  try {
    const all = JSON.parse(localStorage.getItem(STORE) || "{}");
    all[key] = { id: session.id, token: session.token, chunk_size: session.chunk_size, chunks: session.chunks, parallel: session.parallel };
    localStorage.setItem(STORE, JSON.stringify(all));
  } catch { /* storage full or disabled: no resume, uploads still work */ }
}
function forget(key) {
  try {
    const all = JSON.parse(localStorage.getItem(STORE) || "{}");
    delete all[key];
    localStorage.setItem(STORE, JSON.stringify(all));
  } catch { /* ignore */ }
}

// One file's line in the progress list. Built with DOM calls and textContent only: names never
// become markup.
class ProgressRow {
  constructor(list, file) {
    this.cancelled = false;
    this.aborts = [];
    this.el = el("div", "progress-item");
    this.name = el("span", "progress-name", file.name);
    this.status = el("span", "progress-status", "Waiting…");
    this.bar = el("progress");
    this.bar.max = Math.max(1, file.size);
    this.bar.value = 0;
    this.cancel = el("button", "button button-small progress-cancel", "Cancel");
    this.cancel.type = "button";
    this.cancel.addEventListener("click", () => {
      this.cancelled = true;
      this.aborts.forEach((abort) => abort());
      if (this.cancelHook) this.cancelHook();
    });
    this.el.append(this.name, this.status, this.bar, this.cancel);
    list.append(this.el);
  }
  onCancel(hook) { this.cancelHook = hook; }
  onAbort(abort) { this.aborts.push(abort); }
  progress(sent, total) {
    this.bar.value = sent;
    this.status.textContent = `${formatSize(sent)} of ${formatSize(total)}`;
  }
  finishing() { this.status.textContent = "Verifying…"; }
  done(receipt, workspace) {
    this.el.classList.add("is-done");
    this.bar.value = this.bar.max;
    this.cancel.remove();
    this.status.textContent = `Stored · ${formatSize(receipt.size ?? 0)}`;
    if (receipt.node) {
      const link = el("a", "progress-name", this.name.textContent);
      link.href = `/download/${encodeURIComponent(workspace)}/${encodeURIComponent(receipt.node)}`;
      this.name.replaceWith(link);
    }
    if (receipt.sha256) this.el.append(el("code", "hash progress-hash", `SHA-256 ${receipt.sha256}`));
  }
  fail(message) {
    this.el.classList.add("is-failed");
    this.cancel.remove();
    this.status.textContent = message;
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatSize(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

init();
