// onewindow case pages: acceptance (/cases/new), the case page (/cases/{id}), the delivery window
// (/delivery) and the printable receipt and notice. The server renders what it reads; this script sends
// every change to the JSON API (/api/v1/cases, /api/v1/cases/{id}/actions, /trips, /api/v1/refusals)
// with the page's CSRF token in x-csrf-token, then reloads the page or moves on. Page texts come from
// data-* attributes so they follow the page's language; no inline script or style (the CSP forbids
// them). See docs/cases.md.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const en = () => document.documentElement.lang.startsWith("en");
  const fmt = (s, values = {}) => String(s ?? "").replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ""));
  const WINDOW_KEY = "onewindow.console.window"; // shared with the window console (lobby.js)
  const FLASH_KEY = "onewindow.case.flash";

  /** A JSON request to the API; never throws (a network failure is status 0). */
  async function api(method, url, { body, csrf } = {}) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (csrf) headers["x-csrf-token"] = csrf;
    let resp;
    try {
      resp = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch {
      return { ok: false, status: 0, body: null, message: en() ? "Network error" : "网络连接失败", errors: [] };
    }
    let data = null;
    if (resp.status !== 204) {
      try {
        data = await resp.json();
      } catch {
        data = null;
      }
    }
    const message = data && (en() ? data.message_en || data.message : data.message || data.message_en);
    const errors = (data && Array.isArray(data.errors) ? data.errors : []).map((e) => ({
      field: e.field || "",
      text: (en() ? e.en || e.zh : e.zh || e.en) || "",
    }));
    return { ok: resp.ok, status: resp.status, body: data, message: message || `HTTP ${resp.status}`, errors, field: data && data.field };
  }

  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k === "className") e.className = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  };

  /** Shows a message (and a list of field errors) in a role=alert box; empty text hides it. */
  function alertBox(box, text, items = []) {
    if (!box) return;
    if (!text) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    const list = items.filter((i) => i && i !== text);
    box.replaceChildren(el("p", { text }), ...(list.length ? [el("ul", {}, ...list.map((i) => el("li", { text: i })))] : []));
    box.hidden = false;
  }

  // --- print buttons (receipt, one-time notice) ------------------------------------------------------

  for (const b of document.querySelectorAll("[data-print]")) b.addEventListener("click", () => window.print());

  // --- acceptance ---------------------------------------------------------------------------------

  function acceptApp(root) {
    const d = root.dataset;
    const csrf = d.csrf;
    const clerk = d.clerk === "1";
    const alert = $("accept-alert");
    const form = $("accept-form");
    const tbody = document.querySelector("#materials tbody");
    const refusal = $("refusal");
    let item = null; // the chosen item (GET /api/v1/items/{code}).item
    let busy = false;

    const say = (text, items) => {
      alertBox(alert, text, items);
      if (text) alert.scrollIntoView({ block: "nearest" });
    };

    // The window and the ticket it serves.
    const win = $("window");
    const ticketLine = $("window-ticket");
    async function checkWindow() {
      if (!win) return;
      const w = win.value.trim().toUpperCase();
      win.value = w;
      ticketLine.className = "window-ticket";
      if (!w) {
        ticketLine.textContent = d.msgWindowNone;
        return;
      }
      try {
        window.localStorage.setItem(WINDOW_KEY, w);
      } catch {
        /* private mode */
      }
      const r = await api("GET", `/api/v1/windows/${encodeURIComponent(w)}`);
      if (r.status === 404) {
        ticketLine.textContent = fmt(d.msgWindowUnknown, { w });
        ticketLine.classList.add("idle");
        return;
      }
      if (!r.ok) {
        ticketLine.textContent = r.message;
        return;
      }
      const t = r.body && r.body.ticket;
      if (t && t.status === "serving") {
        ticketLine.textContent = fmt(d.msgWindowServing, { w, n: t.number });
        ticketLine.classList.add("serving");
        // A ticket taken for a particular item: start with that item.
        if (t.item && !item) choose(t.item);
      } else {
        ticketLine.textContent = fmt(d.msgWindowIdle, { w });
        ticketLine.classList.add("idle");
      }
    }
    if (win) {
      if (!win.value) {
        try {
          win.value = window.localStorage.getItem(WINDOW_KEY) || "";
        } catch {
          win.value = "";
        }
      }
      win.addEventListener("change", checkWindow);
      $("window-check").addEventListener("click", checkWindow);
      checkWindow();
    }

    // Finding the item.
    const q = $("item-q");
    const results = $("item-results");
    const itemStatus = $("item-status");
    $("item-search").addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = q.value.trim();
      if (!text) {
        itemStatus.textContent = d.msgNeedQuery;
        q.focus();
        return;
      }
      itemStatus.textContent = d.msgSearching;
      const params = new URLSearchParams({ q: text, limit: "10" });
      if (clerk) params.set("channel", "village");
      const r = await api("GET", `/api/v1/items?${params}`);
      if (!r.ok) {
        itemStatus.textContent = r.message;
        return;
      }
      const items = r.body.items || [];
      itemStatus.textContent = items.length ? fmt(d.msgFound, { n: items.length }) : d.msgNoItems;
      results.replaceChildren(
        ...items.map((it) => {
          const b = el(
            "button",
            { type: "button", "data-code": it.code, "aria-pressed": item && item.code === it.code ? "true" : "false" },
            el("span", { className: "code", text: it.code }),
            el("strong", { text: it.name }),
            el("span", { className: "dept", text: `${it.department_name} · ${fmt(d.labelDays, { n: it.promised_days })}` }),
          );
          b.addEventListener("click", () => choose(it.code));
          return el("li", {}, b);
        }),
      );
    });

    // The materials checklist of the chosen item.
    const STATUSES = [
      ["received", d.labelReceived],
      ["missing", d.labelMissing],
      ["verified", d.labelVerified],
    ];
    function rowState(tr) {
      const checked = tr.querySelector("input[type=radio]:checked");
      const st = checked ? checked.value : "";
      tr.classList.toggle("row-missing", st === "missing");
      tr.classList.toggle("row-unset", !st);
      return st;
    }
    async function choose(code) {
      const r = await api("GET", `/api/v1/items/${encodeURIComponent(code)}`);
      if (!r.ok) {
        itemStatus.textContent = r.message;
        return;
      }
      item = r.body.item;
      for (const b of results.querySelectorAll("button[data-code]")) b.setAttribute("aria-pressed", String(b.dataset.code === item.code));
      $("item-name").textContent = item.name;
      $("item-meta").textContent = `${item.code} · ${item.department_name} · ${fmt(d.labelDays, { n: item.promised_days })}`;
      tbody.replaceChildren(
        ...item.materials.map((m, i) => {
          const name = `m-${i}`;
          const tags = el(
            "td",
            {},
            el("span", { className: m.key ? "tag tag-key" : "tag", text: m.key ? d.labelKey : d.labelNonkey }),
            ` ${m.original ? d.labelOriginal : d.labelCopy} · ${fmt(d.labelCount, { n: m.count })}`,
          );
          const choice = el(
            "fieldset",
            { className: "status-choice" },
            el("legend", { className: "visually-hidden", text: `${m.name}：${d.labelChoose}` }),
            ...STATUSES.map(([v, label]) =>
              el("label", {}, el("input", { type: "radio", name, value: v, "data-material": m.name }), el("span", { text: label })),
            ),
          );
          const tr = el("tr", { "data-material": m.name, "data-key": m.key ? "1" : "0", className: `row-unset${m.key ? " row-key" : ""}` }, el("th", { scope: "row", text: m.name }), tags, el("td", {}, choice));
          tr.addEventListener("change", () => rowState(tr));
          return tr;
        }),
      );
      form.hidden = false;
      refusal.hidden = true;
      say("");
      const h = $("h-materials");
      h.setAttribute("tabindex", "-1");
      h.focus();
    }
    $("all-received").addEventListener("click", () => {
      for (const tr of tbody.querySelectorAll("tr")) {
        const r = tr.querySelector('input[value="received"]');
        if (r) r.checked = true;
        rowState(tr);
      }
    });

    function materials() {
      return [...tbody.querySelectorAll("tr")].map((tr) => ({ name: tr.dataset.material, status: rowState(tr), key: tr.dataset.key === "1" }));
    }

    const fieldIds = { "applicant.name": "applicant-name", "applicant.id_number": "applicant-id", "applicant.phone": "applicant-phone" };
    function clearFieldErrors() {
      for (const [f, id] of Object.entries(fieldIds)) {
        const box = $(`f-${f}`);
        const err = $(`e-${f}`);
        const input = $(id);
        box.classList.remove("has-error");
        err.hidden = true;
        err.textContent = "";
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
    }
    function fieldError(f, text) {
      const id = fieldIds[f];
      if (!id) return false;
      const input = $(id);
      $(`f-${f}`).classList.add("has-error");
      const err = $(`e-${f}`);
      err.textContent = text;
      err.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", `e-${f}`);
      return true;
    }

    function offerRefusal(message) {
      const missing = materials().filter((m) => m.status === "missing").map((m) => m.name);
      if (!missing.length) return;
      $("refusal-missing").textContent = missing.join(en() ? ", " : "、");
      $("refusal-reason").value = message;
      refusal.hidden = false;
    }

    const submitButton = $("accept-submit");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (busy) return;
      clearFieldErrors();
      refusal.hidden = true;
      if (!item) {
        say(d.msgNeedItem);
        return;
      }
      const list = materials();
      const unset = list.filter((m) => !m.status);
      if (unset.length) {
        say(fmt(d.msgNeedStatus, { n: unset.length }), unset.map((m) => m.name));
        tbody.querySelector("tr.row-unset input")?.focus();
        return;
      }
      const name = $("applicant-name").value.trim();
      if (!name) {
        fieldError("applicant.name", d.msgNeedName);
        say(d.msgNeedName);
        $("applicant-name").focus();
        return;
      }
      const body = {
        item: item.code,
        applicant: { name, id_number: $("applicant-id").value.trim() || null, phone: $("applicant-phone").value.trim() || null },
        materials: list.map((m) => ({ name: m.name, status: m.status })),
        tolerant: $("tolerant").checked,
        supplement_days: Number($("supplement-days").value) || 5,
      };
      if (win && win.value.trim()) body.window = win.value.trim().toUpperCase();
      busy = true;
      submitButton.disabled = true;
      const label = submitButton.textContent;
      submitButton.textContent = d.msgBusy;
      const r = await api("POST", "/api/v1/cases", { body, csrf });
      busy = false;
      submitButton.disabled = false;
      submitButton.textContent = label;
      if (r.status === 201 && r.body && r.body.id) {
        window.location.assign(`/cases/${r.body.id}/receipt`);
        return;
      }
      let focused = false;
      for (const er of r.errors) {
        if (fieldError(er.field, er.text) && !focused) {
          $(fieldIds[er.field]).focus();
          focused = true;
        }
      }
      say(r.message, r.errors.map((x) => x.text));
      if (r.status === 422 && (r.field === "materials" || r.field === "tolerant")) offerRefusal(r.message);
    });

    $("refuse-submit").addEventListener("click", async () => {
      if (busy || !item) return;
      const reason = $("refusal-reason").value.trim();
      if (!reason) {
        say(d.msgNeedReason);
        $("refusal-reason").focus();
        return;
      }
      const missing = materials().filter((m) => m.status === "missing").map((m) => m.name);
      busy = true;
      const r = await api("POST", "/api/v1/refusals", {
        body: { item: item.code, applicant_name: $("applicant-name").value.trim(), reason, missing },
        csrf,
      });
      busy = false;
      if (r.status === 201 && r.body) {
        window.location.assign(r.body.notice_url || `/refusals/${r.body.id}`);
        return;
      }
      say(r.message, r.errors.map((x) => x.text));
    });

    if (d.item) choose(d.item);
  }

  // --- case page and delivery window ----------------------------------------------------------------

  function caseApp(root) {
    const d = root.dataset;
    const { csrf, id } = d;
    const alert = $("case-alert");
    const flash = $("case-flash");
    let busy = false;

    // The message of the action that reloaded the page.
    try {
      const saved = JSON.parse(window.sessionStorage.getItem(FLASH_KEY) || "null");
      window.sessionStorage.removeItem(FLASH_KEY);
      if (saved && String(saved.id) === String(id) && flash) {
        flash.textContent = saved.text;
        flash.hidden = false;
      }
    } catch {
      /* nothing remembered */
    }

    const buttons = () => [...root.querySelectorAll("form button[type=submit]")];
    const setBusy = (on) => {
      busy = on;
      for (const b of buttons()) b.disabled = on;
    };
    const fail = (r, form) => {
      const fieldName = (r.field || "").replace(/^data\./, "");
      const input = form && fieldName ? form.querySelector(`[data-field="${CSS.escape(fieldName)}"]`) : null;
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      if (flash) flash.hidden = true;
      alertBox(alert, `${r.message}`, r.errors.map((x) => x.text));
    };
    const succeed = (text) => {
      try {
        window.sessionStorage.setItem(FLASH_KEY, JSON.stringify({ id, text }));
      } catch {
        /* the reload still shows the new state */
      }
      window.location.reload();
    };
    const labelOf = (input) => {
      const l = input.id ? document.querySelector(`label[for="${CSS.escape(input.id)}"]`) : null;
      return (l ? l.textContent : input.dataset.field || "").trim();
    };

    for (const form of root.querySelectorAll("form.case-action")) {
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (busy) return;
        alertBox(alert, "");
        const data = {};
        let comment = null;
        for (const input of form.querySelectorAll("[data-field]")) {
          input.removeAttribute("aria-invalid");
          const v = input.value.trim();
          if (input.required && !v) {
            input.setAttribute("aria-invalid", "true");
            input.focus();
            alertBox(alert, fmt(d.msgNeed, { f: labelOf(input) }));
            return;
          }
          if (input.dataset.field === "comment") comment = v;
          else data[input.dataset.field] = v;
        }
        const body = { action: form.dataset.action };
        if (comment !== null) body.comment = comment;
        if (Object.keys(data).length) body.data = data;
        setBusy(true);
        const r = await api("POST", `/api/v1/cases/${encodeURIComponent(id)}/actions`, { body, csrf });
        if (r.ok) {
          succeed(fmt(d.msgDone, { a: form.dataset.name }));
          return;
        }
        setBusy(false);
        fail(r, form);
      });
    }

    const trip = $("trip-form");
    if (trip) {
      trip.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (busy) return;
        const input = $("trip-reason");
        const reason = input.value.trim();
        input.removeAttribute("aria-invalid");
        if (!reason && Number(d.trips) >= 1) {
          input.setAttribute("aria-invalid", "true");
          input.focus();
          alertBox(alert, d.msgTripReason);
          return;
        }
        setBusy(true);
        const r = await api("POST", `/api/v1/cases/${encodeURIComponent(id)}/trips`, { body: { reason }, csrf });
        if (r.ok) {
          succeed(d.msgTripDone);
          return;
        }
        setBusy(false);
        fail(r, null);
        input.setAttribute("aria-invalid", "true");
      });
    }
  }

  // --- data exchange lookup on the case page (免证办; see docs/exchange.md) --------------------------

  function exchangeBox(box, root) {
    const d = box.dataset;
    const { csrf, id } = root.dataset;
    const select = $("exchange-service");
    const result = $("exchange-result");
    const services = new Map();
    const outcomeText = (l) =>
      ({ found: d.msgFound, not_found: d.msgNotFound, rejected: d.msgRejected, denied: d.msgDenied, pending: fmt(d.msgPending, { d: l.due_on || "" }) })[l.outcome] || l.outcome;
    const describe = (l) => {
      const s = services.get(l.service);
      const fields = (l.result && l.result.fields) || {};
      const items = Object.entries(fields).map(([k, v]) => {
        const f = s && s.fields.find((x) => x.name === k);
        return el("li", { text: `${f ? f.label : k}：${v ?? ""}` });
      });
      return el("div", { className: "exchange-lookup", "data-outcome": l.outcome, "data-service": l.service },
        el("p", {}, el("strong", { text: `${l.service_name}：${outcomeText(l)}` }), ` ${l.purpose}`),
        items.length ? el("ul", {}, ...items) : null);
    };
    const history = async () => {
      const r = await api("GET", `/api/v1/cases/${encodeURIComponent(id)}/lookups`);
      if (!r.ok || !Array.isArray(r.body) || !r.body.length) return;
      $("exchange-history").replaceChildren(el("h3", { text: d.msgHistory }), ...r.body.map(describe));
    };
    (async () => {
      const r = await api("GET", "/api/v1/exchange/services");
      const mine = r.ok && Array.isArray(r.body) ? r.body.filter((s) => s.my_mode) : [];
      for (const s of r.ok && Array.isArray(r.body) ? r.body : []) services.set(s.code, s);
      if (!mine.length) {
        select.replaceChildren(el("option", { value: "", text: d.msgNone }));
        return;
      }
      select.replaceChildren(el("option", { value: "", text: d.msgChoose }),
        ...mine.map((s) => el("option", { value: s.code, text: `${s.name}（${s.provider_name}，${s.my_mode === "fields" ? d.msgFields : d.msgExists}）` })));
      await history();
    })();
    $("exchange-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const purpose = $("exchange-purpose");
      for (const input of [select, purpose]) input.removeAttribute("aria-invalid");
      for (const input of [select, purpose]) {
        if (!input.value.trim()) {
          input.setAttribute("aria-invalid", "true");
          input.focus();
          alertBox($("case-alert"), fmt(root.dataset.msgNeed, { f: document.querySelector(`label[for="${input.id}"]`).textContent.trim() }));
          return;
        }
      }
      alertBox($("case-alert"), "");
      const material = $("exchange-material").value;
      const body = { service: select.value, purpose: purpose.value.trim() };
      if (material) body.material = material;
      const button = e.target.querySelector("button[type=submit]");
      button.disabled = true;
      result.textContent = root.dataset.msgBusy || "";
      const r = await api("POST", `/api/v1/cases/${encodeURIComponent(id)}/lookups`, { body, csrf });
      button.disabled = false;
      result.textContent = "";
      if (!r.ok) {
        alertBox($("case-alert"), r.message, r.errors.map((x) => x.text));
        await history();
        return;
      }
      if (r.body.material && r.body.outcome === "found") {
        try {
          window.sessionStorage.setItem(FLASH_KEY, JSON.stringify({ id, text: fmt(d.msgVerified, { m: r.body.material }) }));
        } catch {
          /* the reload still shows the new state */
        }
        window.location.reload();
        return;
      }
      result.replaceChildren(describe(r.body));
      await history();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = $("exchange-box");
    const c = $("case");
    if (box && c && c.dataset.id) exchangeBox(box, c);
  });

  document.addEventListener("DOMContentLoaded", () => {
    const accept = $("accept");
    if (accept) acceptApp(accept);
    const c = $("case");
    if (c && c.dataset.id) caseApp(c);
  });
})();
