// fastgate upload-transfer.js: one file's trip through the chunked upload API (see upload.js):
// its session (new, or remembered in localStorage and resumed from the chunks Fast.io holds),
// `parallel` chunk PUTs each hashed with crypto.subtle and retried on its own, a page-wide pause on
// 429, and complete long-polled to the receipt.

import { ProgressRow, stateText } from "./upload-row.js";

const CHUNK_ATTEMPTS = 8;
const STORE = "fastgate.uploads";
const SPEED_WINDOW_MS = 5000;

let pausedUntil = 0; // a 429 anywhere pauses every upload of the page until then

/** Whether a 429 has paused the page's uploads right now. */
export function isPaused() {
  return pausedUntil > Date.now();
}

// One file: its session, its chunks in flight, its row.
export class FileUpload {
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
    this.key = ["v1", dest.link || dest.workspace, dest.folder, path || file.name, file.size, file.lastModified].join("|");
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
      this.row.stored(receipt, this.dest.link ? null : this.dest.workspace);
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
        if (state.state === "receiving") {
          this.session_ = known;
          return new Set(state.received || []);
        }
        if (["assembling", "stored"].includes(state.state)) {
          this.session_ = known;
          return new Set(Array.from({ length: known.chunks }, (_, i) => i + 1));
        }
      } catch (err) {
        if (err.status !== 404 && err.status !== 401) throw err;
      }
      forget(this.key);
    }
    let ticket;
    if (this.dest.link) {
      // An upload-request link: files go flat into the link's folder, in the visit's submission.
      const body = { name: this.file.name, size: this.file.size };
      ticket = await withRetries(() => this.owner.createLinkUpload(body), this);
    } else {
      const body = { ...this.dest, name: this.file.name, size: this.file.size };
      if (this.path) body.relative_path = this.path;
      ticket = await withRetries(() => api("POST", "/api/uploads", body), this);
    }
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

  // Completes and long-polls to stored, showing the gateway's state meanwhile.
  async complete() {
    const id = encodeURIComponent(this.session_.id);
    let done = false;
    const watch = (async () => {
      while (!done) {
        await sleep(700);
        if (done) break;
        try {
          const state = await api("GET", `/api/uploads/${id}`, null, this.session_.token);
          if (!done && state.state === "assembling") this.row.show("assembling");
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

/** Calls the gateway's JSON API; a non-2xx answer throws an error with its status. */
export async function api(method, path, body, token) {
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

