// fastgate upload-row.js: how one upload looks on the page, and the small formatting helpers.
// Built with DOM calls and textContent only: file names never become markup.

export function stateText(state) {
  return {
    queued: "Waiting…",
    starting: "Starting…",
    uploading: "Uploading",
    assembling: "Assembling and storing on Fast.io…",
    stored: "Stored",
    failed: "Failed",
    cancelled: "Cancelled",
  }[state] || state;
}

// One file's line. Built with DOM calls and textContent only: names never become markup.
export class ProgressRow {
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
    if (state === "assembling") {
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
    if (receipt.node_id && workspace) {
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

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function formatSize(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(bytes)} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.ceil((seconds % 3600) / 60)} min`;
}
