// fastgate files.js: progressive enhancement of the file pages (folder, trash, file).
//
// Without JavaScript every action is a plain form or link: ticking boxes and pressing "Move
// selected…" or "Move selected to trash…" opens a page that asks where or whether, the row menu
// is a <details>. With it: the bulk bar shows how many items are ticked (and a select-all box),
// its buttons wait for a tick, one row menu is open at a time (Escape closes it and gives focus
// back to its button), buttons with data-confirm ask first, and a thumbnail that fails to load
// leaves its placeholder icon showing.

function bulk() {
  const form = document.querySelector("form[data-bulk]");
  if (!form) return;
  const boxes = () => [...document.querySelectorAll(`input[type=checkbox][name=node][form="${form.id}"]`)];
  const count = form.querySelector("[data-bulk-count]");
  const actions = [...form.querySelectorAll("[data-bulk-action]")];
  const all = document.querySelector("input[data-select-all]");
  const update = () => {
    const ticked = boxes().filter((b) => b.checked).length;
    count.textContent = ticked === 0 ? "Tick items to act on several at once." : `${ticked} selected`;
    form.dataset.count = String(ticked);
    form.classList.toggle("has-selection", ticked > 0);
    for (const button of actions) button.disabled = ticked === 0;
    if (all) {
      all.checked = ticked > 0 && ticked === boxes().length;
      all.indeterminate = ticked > 0 && ticked < boxes().length;
    }
  };
  for (const box of boxes()) box.addEventListener("change", update);
  if (all) {
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
      update();
    });
  }
  update();
}

function menus() {
  const menus = [...document.querySelectorAll("details.row-menu, details.share")];
  for (const menu of menus) {
    menu.addEventListener("toggle", () => {
      if (!menu.open) return;
      for (const other of menus) if (other !== menu) other.open = false;
      const first = menu.querySelector("input[type=text], .menu-panel a, .share-form select");
      if (first) first.focus();
    });
    menu.addEventListener("keydown", (e) => {
      if (e.key !== "Escape" || !menu.open) return;
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  }
  document.addEventListener("click", (e) => {
    for (const menu of menus) if (menu.open && !menu.contains(e.target)) menu.open = false;
  });
}

function confirms() {
  document.addEventListener("submit", (e) => {
    const button = e.submitter;
    const question = button && button.dataset.confirm;
    if (question && !window.confirm(question)) e.preventDefault();
  });
}

function thumbnails() {
  for (const img of document.querySelectorAll(".thumb img")) {
    const failed = () => img.closest(".thumb").classList.add("is-missing");
    if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) failed();
    img.addEventListener("error", failed);
    img.addEventListener("load", () => img.closest(".thumb").classList.add("is-loaded"));
  }
}

bulk();
menus();
confirms();
thumbnails();
