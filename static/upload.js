// fastgate upload.js: progressive enhancement of the upload forms (form[data-upload]).
//
// Without JavaScript those forms post as multipart to their action and the server answers with a
// results page. With it, files picked or dropped (folders too, keeping their tree) go through the
// gateway's chunked JSON API (DESIGN §3, §4):
//   POST   /api/uploads {workspace, folder, name, size, relative_path} -> {id, token, chunk_size, chunks, parallel}
//   PUT    /api/uploads/{id}/chunks/{n}   raw bytes; Upload-Token; Content-Digest: sha-256=:<b64>:
//   GET    /api/uploads/{id}              -> {state, received: [n, ...]}   (resume)
//   POST   /api/uploads/{id}/complete     -> {node_id, name, size, sha256}  once stored
//   DELETE /api/uploads/{id}              -> cancelled
// `parallel` chunks per file and FILES_AT_ONCE files go at a time; each chunk is retried on its own
// with backoff; a 429 pauses every upload on the page for its Retry-After. A session is remembered
// in localStorage by the file's fingerprint, so picking the same file again after a reload sends
// only the chunks Fast.io does not have yet. Progress is honest: bytes the browser has sent, then
// Fast.io's own assembling/storing states, and "stored" only with the receipt in hand.

const FILES_AT_ONCE = 2;
const CHUNK_ATTEMPTS = 8;
const STORE = "fastgate.uploads";
const SPEED_WINDOW_MS = 5000;

let pausedUntil = 0; // a 429 anywhere pauses every upload of the page until then

function init() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  for (const el of document.querySelectorAll("[data-js-hide]")) el.hidden = true;
  for (const form of document.querySelectorAll("form[data-upload]")) new Uploader(form);
}

// One enhanced form: the queue of its files, the summary line and the live region.
class Uploader {
  constructor(form) {
    this.form = form;
    this.input = form.querySelector("input[type=file]");
    this.list = form.querySelector("[data-progress]");
    this.zone = form.querySelector("[data-dropzone]");
    if (!this.input || !this.list || !window.fetch || !window.XMLHttpRequest) return;
    this.uploads = [];
    this.running = 0;
    this.throttled = 0; // 429s met, shown in the summary's data-throttled
    this.list.removeAttribute("aria-live"); // byte counts are not news; the live region gets states
    this.live = el("div", "visually-hidden");
    this.live.setAttribute("role", "status");
    this.live.setAttribute("aria-live", "polite");
    this.summary = el("div", "upload-summary");
    this.summary.hidden = true;
    this.summaryText = el("span", "upload-summary-text");
    this.summaryBar = el("progress");
    this.summaryBar.setAttribute("aria-label", "All uploads");
    this.summary.append(this.summaryText, this.summaryBar);
    this.list.before(this.summary);
    this.list.after(this.live);
    this.input.required = false;
    for (const button of form.querySelectorAll("button[type=submit]")) button.hidden = true;
    this.addFolderPicker();
    this.input.addEventListener("change", () => this.takeInput(this.input));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.takeInput(this.input);
    });
    if (this.zone) this.enableDrop();
    window.addEventListener("online", () => this.uploads.forEach((u) => u.wake()));
  }

  // A second, JS-only picker for whole folders (webkitdirectory keeps webkitRelativePath).
  addFolderPicker() {
    const picker = el("input", "visually-hidden");
    picker.type = "file";
    picker.multiple = true;
    picker.webkitdirectory = true;
    picker.tabIndex = -1;
    picker.setAttribute("aria-hidden", "true");
    picker.dataset.folderInput = "";
    const button = el("button", "button button-small folder-pick", "Choose a folder");
    button.type = "button";
    button.addEventListener("click", () => picker.click());
    picker.addEventListener("change", () => this.takeInput(picker));
    (this.zone || this.input).after(button, picker);
  }

  takeInput(input) {
    const files = [...input.files].map((file) => ({ file, path: file.webkitRelativePath || "" }));
    input.value = "";
    this.add(files);
  }

  enableDrop() {
    const zone = this.zone;
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (e) => {
        e.preventDefault();
        zone.classList.add("is-dragover");
      });
    }
    for (const type of ["dragleave", "dragend", "drop"]) {
      zone.addEventListener(type, () => zone.classList.remove("is-dragover"));
    }
    zone.addEventListener("drop", async (e) => {
      e.preventDefault();
      this.add(await droppedFiles(e.dataTransfer));
    });
  }

  destination() {
    const data = new FormData(this.form);
    return {
      workspace: this.form.dataset.workspace || data.get("workspace"),
      folder: this.form.dataset.folder || data.get("folder") || "root",
    };
  }

  add(entries) {
    if (!entries.length) return;
    const dest = this.destination();
    for (const { file, path } of entries) {
      const upload = new FileUpload(file, path, dest, this);
      this.uploads.push(upload);
      this.list.append(upload.row.el);
    }
    this.summary.hidden = false;
    this.pump();
    this.refresh();
  }

  // Starts queued uploads while fewer than FILES_AT_ONCE run.
  pump() {
    for (const upload of this.uploads) {
      if (this.running >= FILES_AT_ONCE) break;
      if (upload.state !== "queued") continue;
      this.running++;
      upload.run().finally(() => {
        this.running--;
        this.pump();
        this.refresh();
      });
    }
  }

  announce(text) {
    this.live.textContent = text;
  }

  // The total line: bytes sent over all files, and how many are stored.
  refresh() {
    const live = this.uploads.filter((u) => u.state !== "cancelled");
    const total = live.reduce((a, u) => a + u.file.size, 0);
    const sent = live.reduce((a, u) => a + u.sentBytes(), 0);
    const stored = live.filter((u) => u.state === "stored").length;
    const failed = live.filter((u) => u.state === "failed").length;
    this.summaryBar.max = Math.max(1, total);
    this.summaryBar.value = Math.min(sent, total);
    let text = `${stored} of ${live.length} stored · ${formatSize(sent)} of ${formatSize(total)} sent`;
    if (failed) text += ` · ${failed} failed`;
    if (pausedUntil > Date.now()) text += " · paused: the server asked us to slow down";
    this.summaryText.textContent = text;
    const settled = live.every((u) => ["stored", "failed"].includes(u.state));
    if (settled && stored && this.form.dataset.folder && !this.refreshLink) {
      // The folder's table was rendered before these files existed.
      this.refreshLink = el("a", "", "Show them in the folder");
      this.refreshLink.href = window.location.pathname;
      this.summary.append(this.refreshLink);
    }
    this.summary.dataset.stored = String(stored);
    this.summary.dataset.total = String(live.length);
    this.summary.dataset.throttled = String(this.throttled);
  }
}

// Files of a drop, walking dropped folders (DataTransfer entries) so their tree is kept.
async function droppedFiles(transfer) {
  if (!transfer) return [];
  const entries = [...(transfer.items || [])]
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
    .filter(Boolean);
  if (!entries.length) return [...transfer.files].map((file) => ({ file, path: "" }));
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((ok, fail) => entry.file(ok, fail));
      out.push({ file, path: prefix ? `${prefix}/${file.name}` : "" });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      const dir = prefix ? `${prefix}/${entry.name}` : entry.name;
      for (;;) {
        const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
        if (!batch.length) break;
        for (const child of batch) await walk(child, dir);
      }
    }
  };
  for (const entry of entries) await walk(entry, "");
  return out;
}

// One file: its session, its chunks in flight, its row.
class FileUpload {
  constructor(file, path, dest, owner) {
    this.file = file;
    this.path = path;
    this.dest = dest;
    this.owner = owner;
    this.state = "queued";
    this.sent = new Map(); // chunk number -> bytes of it sent (complete chunks: their length)
    this.xhrs = new Set();
    this.wakers = new Set();
    this.samples = [];
    this.row = new ProgressRow(this);
    this.key = ["v1", dest.workspace, dest.folder, path || file.name, file.size, file.lastModified].join("|");
  }

  sentBytes() {
    let sum = 0;
    for (const n of this.sent.values()) sum += n;
    return sum;
  }

  setState(state, text) {
    this.state = state;
    this.row.show(state, text);
    if (!["uploading", "queued"].includes(state) || text) this.owner.announce(`${this.file.name}: ${text || stateText(state)}`);
    this.owner.refresh();
  }

  async run() {
    this.stopping = false;
    this.sent.clear();
    this.samples = [];
    try {
      this.setState("starting", "Starting…");
      const received = await this.session();
      for (const n of received) this.sent.set(n, this.chunkLength(n));
      if (received.size) this.row.resumed(received.size, this.session_.chunks);
      this.setState("uploading");
      this.tick();
      await this.sendChunks(received);
      this.setState("assembling", "Assembling on Fast.io…");
      const receipt = await this.complete();
      forget(this.key);
      this.receipt = receipt;
      this.setState("stored", "Stored");
      this.row.stored(receipt, this.dest.workspace);
    } catch (err) {
      if (this.state === "cancelled") return;
      if (err && err.status === 404) forget(this.key); // the session is gone: start afresh next time
      this.setState("failed", err && err.message ? err.message : String(err));
    } finally {
      this.xhrs.clear();
    }
  }

  // An existing session for this file (after a reload or a retry) with the chunks Fast.io holds,
  // or a new one.
  async session() {
    const known = remembered(this.key);
    if (known && known.expires * 1000 > Date.now()) {
      try {
        const state = await api("GET", `/api/uploads/${encodeURIComponent(known.id)}`, null, known.token);
        if (["ready", "uploading"].includes(state.state)) {
          this.session_ = known;
          return new Set(state.received || []);
        }
        if (["assemble", "assembling", "complete", "store", "storing", "stored"].includes(state.state)) {
          this.session_ = known;
          return new Set(Array.from({ length: known.chunks }, (_, i) => i + 1));
        }
      } catch (err) {
        if (err.status !== 404 && err.status !== 401) throw err;
      }
      forget(this.key);
    }
    const body = { ...this.dest, name: this.file.name, size: this.file.size };
    if (this.path) body.relative_path = this.path;
    const ticket = await withRetries(() => api("POST", "/api/uploads", body), this);
    this.session_ = ticket;
    remember(this.key, ticket);
    return new Set();
  }

  chunkLength(n) {
    const size = this.session_.chunk_size;
    return Math.max(0, Math.min(size, this.file.size - (n - 1) * size));
  }

  async sendChunks(received) {
    const queue = [];
    for (let n = 1; n <= this.session_.chunks; n++) if (!received.has(n)) queue.push(n);
    let failure = null;
    const worker = async () => {
      while (queue.length && !failure && this.state !== "cancelled") {
        const n = queue.shift();
        try {
          await withRetries(() => this.putChunk(n), this);
        } catch (err) {
          failure = failure || err;
          this.stopping = true;
          for (const xhr of [...this.xhrs]) xhr.abort(); // one chunk gave up: stop its siblings
          return;
        }
        this.sent.set(n, this.chunkLength(n));
        this.tick();
      }
    };
    const parallel = Math.max(1, Math.min(this.session_.parallel || 3, queue.length || 1));
    await Promise.all(Array.from({ length: parallel }, worker));
    if (this.state === "cancelled") throw cancelled();
    if (failure) throw failure;
  }

  async putChunk(n) {
    await waitWhilePaused(this);
    if (this.state === "cancelled") throw cancelled();
    const size = this.session_.chunk_size;
    const bytes = await this.file.slice((n - 1) * size, n * size).arrayBuffer();
    const digest = await contentDigest(bytes);
    if (this.state === "cancelled") throw cancelled();
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhrs.add(xhr);
      const settle = (fn, value) => {
        this.xhrs.delete(xhr);
        fn(value);
      };
      xhr.open("PUT", `/api/uploads/${encodeURIComponent(this.session_.id)}/chunks/${n}`);
      xhr.setRequestHeader("Upload-Token", this.session_.token);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      if (digest) xhr.setRequestHeader("Content-Digest", digest);
      xhr.upload.onprogress = (e) => {
        this.sent.set(n, e.loaded);
        this.tick();
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return settle(resolve);
        this.sent.set(n, 0);
        settle(reject, httpError(xhr.status, xhr.responseText, xhr.getResponseHeader("Retry-After")));
      };
      xhr.onerror = () => {
        this.sent.set(n, 0);
        settle(reject, lost());
      };
      xhr.onabort = () => {
        this.sent.set(n, 0);
        settle(reject, this.state === "cancelled" ? cancelled() : lost());
      };
      xhr.send(bytes);
    });
  }

  // Completes and long-polls to stored, showing Fast.io's own states meanwhile.
  async complete() {
    const id = encodeURIComponent(this.session_.id);
    let done = false;
    const watch = (async () => {
      while (!done) {
        await sleep(700);
        if (done) break;
        try {
          const state = await api("GET", `/api/uploads/${id}`, null, this.session_.token);
          if (!done && ["assemble", "assembling", "complete", "store", "storing"].includes(state.state)) {
            const storing = ["complete", "store", "storing"].includes(state.state);
            this.row.show(storing ? "storing" : "assembling", storing ? "Storing on Fast.io…" : "Assembling on Fast.io…");
          }
        } catch { /* the answer to complete decides */ }
      }
    })();
    try {
      return await withRetries(() => api("POST", `/api/uploads/${id}/complete`, null, this.session_.token), this);
    } finally {
      done = true;
      await watch;
    }
  }

  tick() {
    const now = performance.now();
    const bytes = this.sentBytes();
    this.samples.push([now, bytes]);
    while (this.samples.length > 2 && now - this.samples[0][0] > SPEED_WINDOW_MS) this.samples.shift();
    const [t0, b0] = this.samples[0];
    const speed = now - t0 > 250 ? ((bytes - b0) * 1000) / (now - t0) : 0;
    this.row.progress(bytes, this.file.size, speed);
    this.owner.refresh();
  }

  cancel() {
    if (["stored", "cancelled"].includes(this.state)) return;
    const session = this.session_;
    this.setState("cancelled", "Cancelled");
    for (const xhr of [...this.xhrs]) xhr.abort();
    this.wake();
    forget(this.key);
    if (session) api("DELETE", `/api/uploads/${encodeURIComponent(session.id)}`, null, session.token).catch(() => {});
  }

  retry() {
    if (this.state !== "failed") return;
    this.setState("queued", "Waiting…");
    this.owner.pump();
  }

  // Ends any backoff wait early (back online, cancelled).
  wake() {
    for (const wake of [...this.wakers]) wake();
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}

async function waitWhilePaused(upload) {
  while (pausedUntil > Date.now() && upload.state !== "cancelled") {
    upload.owner.refresh();
    await upload.sleep(pausedUntil - Date.now());
  }
}

// Runs `attempt` until it succeeds, retrying lost connections and 429/5xx answers with
// exponential backoff and jitter; a 429 pauses every upload for its Retry-After.
async function withRetries(attempt, upload) {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (upload.state === "cancelled") throw cancelled();
      if (upload.stopping) throw err;
      if (!err.retry || i >= CHUNK_ATTEMPTS) throw err;
      if (err.status === 429) {
        upload.owner.throttled++;
        pausedUntil = Math.max(pausedUntil, Date.now() + (err.retryAfter || 1) * 1000);
        await waitWhilePaused(upload);
      } else {
        const backoff = Math.min(15000, 300 * 2 ** (i - 1));
        await upload.sleep(backoff * (0.5 + Math.random() / 2));
      }
    }
  }
}

// crypto.subtle exists only in secure contexts (https, localhost); without it the gateway hashes
// alone, which it does anyway.
async function contentDigest(bytes) {
  if (!window.crypto || !crypto.subtle) return null;
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let binary = "";
  for (const b of hash) binary += String.fromCharCode(b);
  return `sha-256=:${btoa(binary)}:`;
}

async function api(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body) headers["Content-Type"] = "application/json";
  if (token) headers["Upload-Token"] = token;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin",
    });
  } catch {
    throw lost();
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
  const retry = status === 429 || status >= 500 || status === 0;
  return Object.assign(new Error(message), { status, retry, retryAfter: Number(retryAfter) || 0 });
}

function lost() {
  return Object.assign(new Error("The connection was lost."), { retry: true });
}

function cancelled() {
  return Object.assign(new Error("Cancelled."), { retry: false });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readStore() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || "{}");
  } catch {
    return {};
  }
}
function writeStore(all) {
  try {
    localStorage.setItem(STORE, JSON.stringify(all));
  } catch { /* storage full or disabled: no resume after reload, uploads still work */ }
}
function remembered(key) {
  return readStore()[key] || null;
}
function remember(key, t) {
  const all = readStore();
  all[key] = { id: t.id, token: t.token, chunk_size: t.chunk_size, chunks: t.chunks, parallel: t.parallel, expires: t.expires };
  writeStore(all);
}
function forget(key) {
  const all = readStore();
  delete all[key];
  writeStore(all);
}

function stateText(state) {
  return {
    queued: "Waiting…",
    starting: "Starting…",
    uploading: "Uploading",
    assembling: "Assembling on Fast.io…",
    storing: "Storing on Fast.io…",
    stored: "Stored",
    failed: "Failed",
    cancelled: "Cancelled",
  }[state] || state;
}

// One file's line. Built with DOM calls and textContent only: names never become markup.
class ProgressRow {
  constructor(upload) {
    const { file, path } = upload;
    this.el = el("div", "progress-item");
    this.el.dataset.state = "queued";
    this.el.dataset.name = path || file.name;
    this.name = el("span", "progress-name", path || file.name);
    this.status = el("span", "progress-status", "Waiting…");
    this.bar = el("progress");
    this.bar.max = Math.max(1, file.size);
    this.bar.value = 0;
    this.bar.setAttribute("aria-label", `Upload of ${file.name}`);
    this.detail = el("span", "progress-detail", `0 B of ${formatSize(file.size)}`);
    this.buttons = el("span", "progress-buttons");
    this.cancel = el("button", "button button-small progress-cancel", "Cancel");
    this.cancel.type = "button";
    this.cancel.setAttribute("aria-label", `Cancel ${file.name}`);
    this.cancel.addEventListener("click", () => upload.cancel());
    this.retry = el("button", "button button-small progress-retry", "Retry");
    this.retry.type = "button";
    this.retry.setAttribute("aria-label", `Retry ${file.name}`);
    this.retry.hidden = true;
    this.retry.addEventListener("click", () => upload.retry());
    this.buttons.append(this.retry, this.cancel);
    this.el.append(this.name, this.status, this.bar, this.detail, this.buttons);
  }

  show(state, text) {
    this.el.dataset.state = state;
    this.el.classList.toggle("is-done", state === "stored");
    this.el.classList.toggle("is-failed", state === "failed" || state === "cancelled");
    this.status.textContent = text || stateText(state);
    this.retry.hidden = state !== "failed";
    this.cancel.hidden = ["stored", "cancelled"].includes(state);
    if (state === "assembling" || state === "storing") {
      this.bar.removeAttribute("value"); // indeterminate: Fast.io is working, not done
      this.detail.textContent = `${formatSize(this.bar.max)} sent · waiting for Fast.io`;
    }
  }

  resumed(chunks, total) {
    this.el.dataset.resumed = String(chunks);
    this.detail.textContent = `Resuming: ${chunks} of ${total} chunks already on Fast.io`;
  }

  progress(sent, total, speed) {
    if (this.el.dataset.state !== "uploading") return;
    this.bar.value = Math.min(sent, total);
    const pct = total ? Math.min(99, Math.floor((sent / total) * 100)) : 0;
    let text = `${formatSize(sent)} of ${formatSize(total)} · ${pct} %`;
    if (speed > 0) {
      text += ` · ${formatSize(speed)}/s`;
      const eta = (total - sent) / speed;
      if (sent < total) text += ` · ${formatDuration(eta)} left`;
    }
    this.detail.textContent = text;
  }

  stored(receipt, workspace) {
    this.bar.max = 1;
    this.bar.value = 1;
    this.status.textContent = "Stored ✓";
    this.detail.textContent = `${formatSize(receipt.size ?? 0)} verified by Fast.io`;
    if (receipt.node_id) {
      const link = el("a", "progress-name", this.name.textContent);
      link.href = `/download/${encodeURIComponent(workspace)}/${encodeURIComponent(receipt.node_id)}`;
      this.name.replaceWith(link);
      this.name = link;
    }
    if (receipt.sha256) {
      const hash = el("code", "hash progress-hash", `SHA-256 ${receipt.sha256}`);
      hash.dataset.sha256 = receipt.sha256;
      this.el.append(hash);
    }
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
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(bytes)} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.ceil((seconds % 3600) / 60)} min`;
}

init();
