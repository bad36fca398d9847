// onewindow: small progressive enhancements. Pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Confirm destructive admin actions.
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
});

// Admin: catalogue import (/admin/catalogue). Forms cannot post files without multipart, so the chosen
// file is read here and sent as the request body to the JSON API, with the session's CSRF token in the
// x-csrf-token header. The answer is shown as counts, or as a table of every bad row and column.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("import-form");
  if (!form) return;
  const input = document.getElementById("import-file");
  const button = document.getElementById("import-submit");
  const result = document.getElementById("import-result");
  const box = document.getElementById("import-error-box");
  const boxMessage = document.getElementById("import-error-message");
  const tbody = document.querySelector("#import-errors tbody");
  const en = document.documentElement.lang.startsWith("en");
  const msg = (name, values = {}) =>
    (form.dataset[name] || "").replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ""));
  const cell = (tag, text, attrs = {}) => {
    const el = document.createElement(tag);
    el.textContent = text;
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  };
  const showError = (message, rows) => {
    result.textContent = "";
    boxMessage.textContent = message;
    tbody.replaceChildren(
      ...rows.map((r) => {
        const tr = document.createElement("tr");
        tr.append(
          cell("th", String(r.row ?? ""), { scope: "row" }),
          cell("td", r.column ?? r.field ?? ""),
          cell("td", (en ? r.en : r.zh) || r.zh || r.en || ""),
        );
        return tr;
      }),
    );
    tbody.closest("table").hidden = rows.length === 0;
    box.hidden = false;
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    box.hidden = true;
    const file = input.files && input.files[0];
    if (!file) {
      showError(msg("msgNofile"), []);
      input.focus();
      return;
    }
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    if (!["csv", "json", "xlsx"].includes(ext)) {
      showError(msg("msgBadext"), []);
      return;
    }
    const params = new URLSearchParams({ format: ext });
    if (form.dataset.place) params.set("place", form.dataset.place);
    button.disabled = true;
    result.textContent = msg("msgBusy");
    try {
      const resp = await fetch(`/api/v1/catalogue/import?${params}`, {
        method: "POST",
        headers: { "x-csrf-token": form.dataset.csrf, "content-type": "application/octet-stream" },
        body: await file.arrayBuffer(),
        credentials: "same-origin",
      });
      let body = {};
      try {
        body = await resp.json();
      } catch {
        body = {};
      }
      if (resp.ok) {
        result.textContent = msg("msgDone", body);
      } else {
        const message = (en ? body.message_en : body.message) || `${msg("msgFailed")} (HTTP ${resp.status})`;
        showError(message, Array.isArray(body.errors) ? body.errors : []);
      }
    } catch (err) {
      showError(`${msg("msgFailed")}: ${err}`, []);
    } finally {
      button.disabled = false;
    }
  });
});

// Dashboard (/dashboard): live over SSE. The server renders the figures; each `html` event carries the
// live part of the page, which replaces the old one — nothing is formatted twice, and the page never
// reloads. The browser reconnects by itself; if it gives up, start again, more slowly each time.
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("live-status");
  const live = document.getElementById("dashboard-live");
  if (!status || !live || !window.EventSource) return;
  let retry = 1000;
  const connect = () => {
    const es = new EventSource(status.dataset.live);
    es.addEventListener("open", () => {
      status.textContent = status.dataset.msgLive;
      retry = 1000;
    });
    es.addEventListener("html", (e) => {
      const doc = new DOMParser().parseFromString(`<div>${e.data}</div>`, "text/html");
      const fresh = doc.body.firstElementChild;
      if (fresh) live.replaceChildren(...fresh.childNodes);
      live.dataset.updates = String(Number(live.dataset.updates || 0) + 1);
    });
    es.addEventListener("error", () => {
      status.textContent = status.dataset.msgOffline;
      if (es.readyState === EventSource.CLOSED) {
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30_000);
      }
    });
  };
  connect();
});
