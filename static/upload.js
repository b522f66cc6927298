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
// the gateway's own `assembling` state, and "stored" only with the receipt in hand.
// Modules: this file (forms, drop and pick, the queue, the summary), upload-transfer.js (one
// file's session and chunks), upload-row.js (one file's row, formatting).

import { FileUpload, api, isPaused } from "./upload-transfer.js";
import { el, formatSize } from "./upload-row.js";

const FILES_AT_ONCE = 2;

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
    // An upload-request link's page (form[data-link]): its JS submission token, begun by the
    // first create of a batch and ended (the webhook) by `done` once the batch settles.
    this.link = form.dataset.link || null;
    this.submission = null;
    this.firstCreate = null;
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
    // One picker: the drop zone's label opens the native input, which stays focusable (and
    // announced) but no longer shows its own "Choose Files / No file chosen" control.
    this.input.classList.add("visually-hidden");
    form.classList.add("is-enhanced");
    for (const button of form.querySelectorAll("button[type=submit]")) button.hidden = true;
    if (!this.link) this.addFolderPicker();
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
    if (this.link) return { link: this.link };
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

  // POST {link}/uploads: the first create of a batch begins the submission (password and name
  // from the form), the others wait for it and join with its token.
  async createLinkUpload(body) {
    while (this.firstCreate) await this.firstCreate.catch(() => {});
    const request = { ...body };
    if (this.submission) {
      request.submission = this.submission;
    } else {
      const data = new FormData(this.form);
      if (data.get("password")) request.password = data.get("password");
      if (data.get("uploader")) request.uploader = data.get("uploader");
    }
    const call = api("POST", `${this.link}/uploads`, request);
    if (!this.submission) this.firstCreate = call;
    try {
      const ticket = await call;
      this.submission = ticket.submission;
      return ticket;
    } finally {
      if (this.firstCreate === call) this.firstCreate = null;
    }
  }

  // The batch settled: end the link's submission (its webhook goes out); the next pick begins
  // a new one.
  endSubmission() {
    const submission = this.submission;
    this.submission = null;
    api("POST", `${this.link}/done`, { submission }).catch(() => {});
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
    if (isPaused()) text += " · paused: the server asked us to slow down";
    this.summaryText.textContent = text;
    const settled = live.every((u) => ["stored", "failed"].includes(u.state));
    if (settled && this.link && this.submission && this.running === 0) this.endSubmission();
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


init();
