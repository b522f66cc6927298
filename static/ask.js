// Ask pages: follow each unfinished answer through the gateway's event stream and swap in the
// server-rendered answer when it is final. Without JavaScript the page refreshes itself instead.

const STATES = {
  ready: "queued",
  in_progress: "reading the files",
  post_processing: "checking the citations",
};

function follow(article) {
  const url = article.dataset.events;
  if (!url || !window.EventSource) return;
  const status = article.querySelector("[data-status]");
  const source = new EventSource(url);
  source.addEventListener("state", (event) => {
    const { state } = JSON.parse(event.data);
    article.dataset.state = state;
    if (status) status.textContent = `Answering… (${STATES[state] || state})`;
  });
  source.addEventListener("answer", async () => {
    source.close();
    await refresh(article);
  });
  source.addEventListener("failed", (event) => {
    source.close();
    let message = "The answer could not be followed; reload the page.";
    try {
      message = JSON.parse(event.data).error.message || message;
    } catch {
      // keep the default message
    }
    if (status) {
      status.textContent = message;
      status.classList.add("panel-error");
    }
  });
}

// Replaces `article` with its server-rendered version (the one renderer of answers).
async function refresh(article) {
  const response = await fetch(window.location.pathname, { headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById(article.id);
  if (!fresh) return;
  article.replaceWith(document.importNode(fresh, true));
  const replaced = document.getElementById(article.id);
  if (replaced && replaced.dataset.events) follow(replaced);
}

for (const article of document.querySelectorAll("article[data-events]")) follow(article);
