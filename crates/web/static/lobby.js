// onewindow lobby pages: kiosk (/kiosk), guide desk (/guide), window console (/console), hall display
// (/display/{hall}) and the citizen's ticket page (/t/{token}). Each page renders its first state on the
// server; this script takes over through the JSON API (/api/v1/tickets, /windows, /queues) and the
// display stream (/api/v1/display/{hall}/events). Page texts come from data-* attributes so they follow
// the page's language; no inline script or style anywhere (the CSP forbids them). See docs/lobby.md.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const en = () => document.documentElement.lang.startsWith("en");
  const fmt = (s, values = {}) => String(s ?? "").replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ""));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  /** Mainland mobile numbers: 11 digits starting 13–19 (the server checks the same, see core ids.rs). */
  const PHONE_RE = /^1[3-9]\d{9}$/;

  /**
   * A JSON request to the API. Pages signed in with a cookie must show the CSRF token on unsafe calls.
   * Resolves to { ok, status, body, message } and never throws: a network failure is status 0.
   */
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
    } catch (err) {
      return { ok: false, status: 0, body: null, message: en() ? "Network error" : "网络连接失败" };
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
    return { ok: resp.ok, status: resp.status, body: data, message: message || `HTTP ${resp.status}` };
  }

  /** "10:32" in Asia/Shanghai (the hall's time, whatever the device's zone). */
  function hhmm(ms) {
    try {
      return new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(ms));
    } catch {
      return new Date(ms).toTimeString().slice(0, 5);
    }
  }

  function hhmmss(ms) {
    try {
      return new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(new Date(ms));
    } catch {
      return new Date(ms).toTimeString().slice(0, 8);
    }
  }

  /** Writes waiting counts into every element marked data-count-for="<queue code>". */
  function applyCounts(queues) {
    for (const q of queues || []) {
      for (const el of document.querySelectorAll(`[data-count-for="${CSS.escape(q.code)}"]`)) {
        const v = String(q.waiting);
        if (el.textContent !== v) el.textContent = v;
      }
    }
  }

  /** Shows one of several sections (the kiosk's and guide desk's steps) and moves focus to its heading. */
  function showStep(sections, name) {
    for (const [k, el] of Object.entries(sections)) if (el) el.hidden = k !== name;
    const heading = sections[name]?.querySelector("h1, h2");
    if (heading) {
      if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
    }
    window.scrollTo(0, 0);
  }

  /** Fills the printable ticket card (kiosk and guide desk) from POST /api/v1/tickets' answer. */
  function fillTicket(t, { queueName, priorityLabel, publicUrl }) {
    $("ticket-number").textContent = t.number;
    $("ticket-queue").textContent = queueName || t.queue_name;
    $("ticket-ahead").textContent = String(t.ahead);
    const wait = $("ticket-wait");
    wait.textContent = t.ahead > 0 ? fmt(wait.dataset.wait, { n: Math.max(1, t.estimated_wait_minutes) }) : wait.dataset.soon;
    $("ticket-time").textContent = hhmm(t.issued_at);
    const p = $("ticket-priority");
    p.hidden = !priorityLabel;
    p.textContent = priorityLabel || "";
    const link = $("ticket-link");
    link.href = t.status_url;
    link.textContent = (publicUrl || window.location.origin).replace(/\/+$/, "") + t.status_url;
  }

  // --- kiosk ---------------------------------------------------------------------------------------

  function kiosk(root) {
    const { csrf, hall, publicUrl } = root.dataset;
    const idleMs = Number(root.dataset.idleSeconds || 90) * 1000;
    const steps = { queue: $("step-queue"), phone: $("step-phone"), ticket: $("step-ticket") };
    const phone = $("phone");
    const phoneError = $("phone-error");
    const form = $("phone-form");
    const take = $("take");
    let chosen = null;
    let current = "queue";

    const go = (name) => {
      current = name;
      showStep(steps, name);
    };
    const setError = (msg) => {
      phoneError.textContent = msg || "";
      if (msg) phone.setAttribute("aria-invalid", "true");
      else phone.removeAttribute("aria-invalid");
    };
    const reset = () => {
      chosen = null;
      phone.value = "";
      setError("");
      $("item-q").value = "";
      $("item-results").replaceChildren();
      $("item-status").textContent = "";
      take.disabled = false;
      go("queue");
    };
    const choose = (tile, item) => {
      chosen = { queue: tile.dataset.queue, name: tile.dataset.name, item: item?.code };
      $("chosen-queue").textContent = tile.dataset.name;
      $("chosen-item").textContent = item ? (en() ? `(item: ${item.name})` : `（事项：${item.name}）`) : "";
      setError("");
      go("phone");
    };

    for (const tile of root.querySelectorAll(".queue-tile")) tile.addEventListener("click", () => choose(tile));
    // Appointment check-in: the same phone step; the booking says which queue.
    const checkin = $("appointment-checkin");
    checkin.addEventListener("click", () => {
      chosen = { checkin: true, name: checkin.dataset.name };
      $("chosen-queue").textContent = checkin.dataset.name;
      $("chosen-item").textContent = "";
      setError("");
      go("phone");
    });

    // Item search: the hit's zone decides the queue; items of zones without their own queue go to 综合受理.
    const search = $("item-search");
    search.addEventListener("submit", async (e) => {
      e.preventDefault();
      const q = $("item-q").value.trim();
      const status = $("item-status");
      const list = $("item-results");
      if (!q) return;
      status.textContent = search.dataset.msgBusy;
      const r = await api("GET", `/api/v1/items?${new URLSearchParams({ q, limit: "8", place: hall })}`);
      if (!r.ok) {
        status.textContent = `${search.dataset.msgFailed}（${r.message}）`;
        return;
      }
      const items = r.body.items || [];
      status.textContent = items.length ? fmt(search.dataset.msgFound, { n: items.length }) : search.dataset.msgNone;
      const tiles = [...root.querySelectorAll(".queue-tile")];
      const general = tiles.find((t) => t.classList.contains("general")) || tiles[0];
      list.replaceChildren(
        ...items.map((it) => {
          const tile = tiles.find((t) => !t.classList.contains("general") && t.dataset.zone === it.zone) || general;
          const li = document.createElement("li");
          const b = document.createElement("button");
          b.type = "button";
          b.dataset.item = it.code;
          const name = document.createElement("span");
          name.className = "ir-name";
          name.textContent = it.name;
          const meta = document.createElement("span");
          meta.className = "ir-meta";
          meta.textContent = `${it.department_name} · ${en() ? "queue" : "取号"}：${tile.dataset.name}`;
          b.append(name, meta);
          b.addEventListener("click", () => choose(tile, it));
          li.append(b);
          return li;
        }),
      );
    });

    // The on-screen number pad, for touch screens without a keyboard.
    for (const key of root.querySelectorAll(".keypad [data-key]")) {
      key.addEventListener("click", () => {
        const k = key.dataset.key;
        if (k === "clear") phone.value = "";
        else if (k === "del") phone.value = phone.value.slice(0, -1);
        else if (phone.value.length < 11) phone.value += k;
        setError("");
      });
    }
    phone.addEventListener("input", () => {
      const digits = phone.value.replace(/\D/g, "").slice(0, 11);
      if (digits !== phone.value) phone.value = digits;
      setError("");
    });

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (take.disabled || !chosen) return;
      const number = phone.value.replace(/\D/g, "");
      if (!PHONE_RE.test(number)) {
        setError(form.dataset.msgBad);
        phone.focus();
        return;
      }
      take.disabled = true;
      setError("");
      const body = chosen.checkin ? { phone: number, place: hall } : { queue: chosen.queue, phone: number, place: hall };
      if (chosen.item) body.item = chosen.item;
      const url = chosen.checkin ? "/api/v1/appointments/check-in" : "/api/v1/tickets";
      const r = await api("POST", url, { body, csrf });
      take.disabled = false;
      if (r.status === 201 && r.body) {
        fillTicket(r.body, { queueName: chosen.checkin ? r.body.queue_name : chosen.name, publicUrl });
        phone.value = "";
        go("ticket");
        refreshCounts();
      } else {
        setError(r.status === 0 ? form.dataset.msgFailed : r.message);
        phone.focus();
      }
    });

    $("back").addEventListener("click", reset);
    $("done").addEventListener("click", reset);
    $("print").addEventListener("click", () => window.print());

    // A kiosk is shared: after a while without a touch, the number typed and the ticket shown are cleared.
    let idle = null;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        if (current !== "queue") reset();
      }, idleMs);
    };
    for (const ev of ["pointerdown", "keydown", "input"]) document.addEventListener(ev, touch, { passive: true });
    touch();

    const refreshCounts = async () => {
      const r = await api("GET", `/api/v1/queues?place=${encodeURIComponent(hall)}`);
      if (r.ok) applyCounts(r.body);
    };
    setInterval(refreshCounts, 15_000);
  }

  // --- guide desk ----------------------------------------------------------------------------------

  function guide(root) {
    const { csrf, hall, publicUrl } = root.dataset;
    const form = $("guide-form");
    const steps = { form: $("guide-form-step"), ticket: $("step-ticket") };
    const reason = $("priority-reason");
    const phone = $("guide-phone");
    const submit = $("guide-take");
    const errs = { priority_reason: $("reason-error"), phone: $("guide-phone-error"), other: $("guide-error") };
    const clear = () => {
      for (const el of Object.values(errs)) el.textContent = "";
      reason.removeAttribute("aria-invalid");
      phone.removeAttribute("aria-invalid");
    };
    const fail = (field, msg) => {
      const el = errs[field] || errs.other;
      el.textContent = msg;
      if (field === "priority_reason") {
        reason.setAttribute("aria-invalid", "true");
        reason.focus();
      } else if (field === "phone") {
        phone.setAttribute("aria-invalid", "true");
        phone.focus();
      }
    };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (submit.disabled) return;
      clear();
      const queue = form.querySelector('input[name="queue"]:checked');
      const priority = form.querySelector('input[name="priority"]:checked');
      if (!queue) return fail("other", form.dataset.msgQueue);
      const pr = priority ? priority.value : "normal";
      const why = reason.value.trim();
      if (pr !== "normal" && !why) return fail("priority_reason", form.dataset.msgReason);
      const number = phone.value.replace(/[\s-]/g, "");
      if (number && !PHONE_RE.test(number)) return fail("phone", form.dataset.msgPhone);
      const body = { queue: queue.value, priority: pr, place: hall };
      if (pr !== "normal") body.priority_reason = why;
      if (number) body.phone = number;
      submit.disabled = true;
      const r = await api("POST", "/api/v1/tickets", { body, csrf });
      submit.disabled = false;
      if (r.status === 201 && r.body) {
        const label = pr !== "normal" ? `${en() ? "Priority" : "优先"}：${priority.closest("label").textContent.trim()}` : "";
        fillTicket(r.body, { queueName: queue.dataset.name, priorityLabel: label, publicUrl });
        showStep(steps, "ticket");
      } else {
        const field = r.body && r.body.field;
        fail(field === "priority_reason" || field === "phone" ? field : "other", r.status === 0 ? form.dataset.msgFailed : r.message);
      }
    });
    $("print").addEventListener("click", () => window.print());
    $("done").addEventListener("click", () => {
      form.reset();
      clear();
      showStep(steps, "form");
    });
  }

  // --- window console ------------------------------------------------------------------------------

  const CONSOLE_WINDOW_KEY = "onewindow.console.window";

  function consoleApp(root) {
    const d = root.dataset;
    const { csrf, hall } = d;
    const win = d.window;
    const picker = $("window-select");
    if (!win) {
      // The window this computer used last time.
      let saved = null;
      try {
        saved = window.localStorage.getItem(CONSOLE_WINDOW_KEY);
      } catch {
        saved = null;
      }
      if (saved && [...picker.options].some((o) => o.value === saved)) {
        window.location.replace(`/console?window=${encodeURIComponent(saved)}`);
      }
      return;
    }
    try {
      window.localStorage.setItem(CONSOLE_WINDOW_KEY, win);
    } catch {
      /* private mode: nothing remembered */
    }
    picker.addEventListener("change", () => {
      if (picker.value) window.location.assign(`/console?window=${encodeURIComponent(picker.value)}`);
    });

    const base = `/api/v1/windows/${encodeURIComponent(win)}`;
    const heldKey = `onewindow.console.held.${win}`;
    const buttons = [...root.querySelectorAll("button[data-action]")];
    const message = $("console-message");
    const ok = $("console-ok");
    let view = null;
    let busy = false;

    const say = (text, isError) => {
      message.textContent = isError ? text : "";
      ok.textContent = isError ? "" : text;
    };

    const held = {
      list() {
        try {
          return JSON.parse(window.localStorage.getItem(heldKey) || "[]");
        } catch {
          return [];
        }
      },
      save(list) {
        try {
          window.localStorage.setItem(heldKey, JSON.stringify(list));
        } catch {
          /* ignore */
        }
        held.render();
      },
      add(n) {
        held.save([...held.list().filter((x) => x !== n), n]);
      },
      remove(n) {
        held.save(held.list().filter((x) => x !== n));
      },
      render() {
        const box = $("held-list");
        box.replaceChildren(
          ...held.list().map((n) => {
            const b = document.createElement("button");
            b.type = "button";
            b.className = "secondary";
            b.dataset.action = "resume";
            b.dataset.number = n;
            b.textContent = `${n} ${d.labelResume}`;
            b.addEventListener("click", () => act("resume", { number: n }));
            return b;
          }),
        );
        buttons.splice(0, buttons.length, ...root.querySelectorAll("button[data-action]"));
        enable();
      },
    };

    /** Which buttons make sense now; all are off while a request is in flight (no double actions). */
    function enable() {
      const t = view && view.ticket;
      const st = t ? t.status : null;
      const paused = !!(view && view.paused);
      const free = !!view && !t && !paused;
      const allowed = {
        "call-next": free,
        call: free,
        resume: free,
        recall: st === "called",
        start: st === "called",
        "no-show": st === "called",
        finish: st === "serving",
        hold: st === "serving",
        transfer: !!t,
        pause: free,
        unpause: paused,
      };
      for (const b of buttons) b.disabled = busy || !allowed[b.dataset.action];
    }

    function render(v) {
      view = v;
      const t = v.ticket;
      const status = $("console-status");
      $("console-number").textContent = t ? t.number : "—";
      status.className = `c-status${t ? ` s-${t.status}` : ""}`;
      status.textContent = t ? d[`status${t.status === "serving" ? "Serving" : "Called"}`] : d.statusNone;
      const detail = [];
      if (t) {
        detail.push(t.queue_name);
        if (t.priority && t.priority !== "normal") detail.push(`${en() ? "Priority" : "优先"}：${t.priority_reason || t.priority}`);
        if (t.phone_masked) detail.push(t.phone_masked);
        if (t.recalls) detail.push(fmt(d.labelRecalls, { n: t.recalls }));
        if (t.transfers) detail.push(en() ? `transferred ${t.transfers}×` : `转移 ${t.transfers} 次`);
      }
      $("console-detail").textContent = detail.join(" · ");
      const p = $("console-paused");
      p.hidden = !v.paused;
      p.textContent = v.paused ? fmt(d.labelPaused, { r: v.pause_reason }) : "";
      enable();
    }

    async function refresh() {
      const r = await api("GET", base);
      if (r.ok) render(r.body);
      else {
        enable();
        if (r.status === 401) say(en() ? "Signed out: log in again" : "登录已失效，请重新登录", true);
      }
    }

    let timer = null;
    const refreshSoon = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!busy) refresh();
      }, 200);
    };

    const done = {
      "call-next": (t) => fmt(d.msgCalled, { n: t.number }),
      call: (t) => fmt(d.msgCalled, { n: t.number }),
      recall: (t) => fmt(d.msgRecalled, { n: t.number }),
      start: (t) => fmt(d.msgStarted, { n: t.number }),
      finish: (t) => fmt(d.msgFinished, { n: t.number }),
      "no-show": (t) => fmt(d.msgNoshow, { n: t.number }),
      hold: (t) => fmt(d.msgHeld, { n: t.number }),
      resume: (t) => fmt(d.msgResumed, { n: t.number }),
      transfer: (t) => fmt(d.msgTransferred, { n: t.number }),
      pause: () => d.msgPaused,
      unpause: () => d.msgUnpaused,
    };

    /** One window action. Buttons go off before the request leaves, so a double click acts once. */
    async function act(action, body) {
      if (busy) return;
      busy = true;
      enable();
      say(d.msgBusy, false);
      const r = await api("POST", `${base}/${action}`, { body, csrf });
      let text;
      if (r.ok) {
        text = r.status === 204 && action === "call-next" ? d.msgNobody : done[action](r.body || {});
        if (action === "hold" && r.body) held.add(r.body.number);
        if (action === "resume" && r.body) held.remove(r.body.number);
        if (action === "call" || action === "resume") $("number-input").value = "";
        if (action === "pause") $("pause-reason").value = "";
      } else {
        text = r.status === 0 ? `${d.msgFailed}：${r.message}` : r.message;
        if (action === "resume" && r.status === 404 && body) held.remove(body.number);
      }
      // The window's new state first, then the message about it.
      busy = false;
      await refresh();
      say(text, !r.ok);
    }

    for (const b of root.querySelectorAll(".console-actions button[data-action]")) {
      b.addEventListener("click", () => act(b.dataset.action));
    }
    $("number-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const action = e.submitter && e.submitter.dataset.action === "resume" ? "resume" : "call";
      const n = $("number-input").value.trim().toUpperCase();
      if (!/^[A-Z]{1,2}\d{1,4}$/.test(n)) {
        say(d.msgNeedNumber, true);
        $("number-input").focus();
        return;
      }
      act(action, { number: n });
    });
    $("transfer-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const to = $("transfer-to").value;
      if (!to) {
        say(d.msgNeedTarget, true);
        $("transfer-to").focus();
        return;
      }
      const body = { placement: $("transfer-placement").value };
      if (to.startsWith("w:")) body.to_window = to.slice(2);
      else body.to_queue = to.slice(2);
      act("transfer", body);
    });
    $("pause-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const reason = $("pause-reason").value.trim();
      if (!reason) {
        say(d.msgNeedReason, true);
        $("pause-reason").focus();
        return;
      }
      act("pause", { reason });
    });
    $("act-unpause").addEventListener("click", () => act("unpause"));

    // Waiting counts and this window's state, live from the hall's display stream; a slow poll backs it up.
    const live = $("live-state");
    const es = new EventSource(`/api/v1/display/${encodeURIComponent(hall)}/events`);
    es.addEventListener("open", () => {
      live.textContent = d.msgLive;
      live.classList.remove("offline");
      refreshSoon();
    });
    es.addEventListener("error", () => {
      live.textContent = d.msgOffline;
      live.classList.add("offline");
    });
    es.addEventListener("snapshot", (e) => applyCounts(JSON.parse(e.data).queues));
    es.addEventListener("queues", (e) => {
      applyCounts(JSON.parse(e.data).queues);
      refreshSoon();
    });
    es.addEventListener("call", refreshSoon);
    es.addEventListener("reload", refreshSoon);
    setInterval(() => {
      if (!busy) refresh();
    }, 20_000);

    held.render();
    refresh();
  }

  // --- hall display --------------------------------------------------------------------------------

  function display(root) {
    const hall = root.dataset.hall;
    const minShow = Number(root.dataset.minShowMs || 4000);
    const freshMs = Number(root.dataset.freshMs || 120000);
    const voiceBtn = $("enable-voice");
    const conn = $("conn");
    const tbody = document.querySelector("#recent-calls tbody");
    let voice = false;
    let announced = 0;

    // The recent list as rendered by the server (newest first, one row per ticket).
    const rows = [...tbody.querySelectorAll("tr")].map((tr) => ({
      number: tr.dataset.number,
      window: tr.dataset.window,
      at: Number(tr.dataset.at),
      text: tr.dataset.text,
    }));
    const recent = rows.slice();
    const key = (c) => `${c.at}|${c.number}|${c.window}`;
    const seen = new Set(rows.map(key));
    // Calls at or before this instant were on screen at load: they are never announced.
    let baseline = rows.reduce((m, c) => Math.max(m, c.at), 0);

    function renderRecent() {
      tbody.replaceChildren(
        ...recent.slice(0, 8).map((c) => {
          const tr = document.createElement("tr");
          tr.dataset.number = c.number;
          tr.dataset.window = c.window;
          tr.dataset.at = String(c.at);
          const a = document.createElement("td");
          a.textContent = c.number;
          const b = document.createElement("td");
          b.textContent = c.window;
          tr.append(a, b);
          return tr;
        }),
      );
    }
    function addRecent(c) {
      const i = recent.findIndex((x) => x.number === c.number);
      if (i >= 0) recent.splice(i, 1);
      recent.unshift(c);
      recent.length = Math.min(recent.length, 8);
      renderRecent();
    }

    // Voice: browsers allow speech only after a gesture on the page, so a person switches it on once.
    voiceBtn.addEventListener("click", () => {
      if (!("speechSynthesis" in window)) {
        voiceBtn.textContent = voiceBtn.dataset.unsupported;
        return;
      }
      voice = true;
      voiceBtn.setAttribute("aria-pressed", "true");
      voiceBtn.textContent = voiceBtn.dataset.on;
      // Spoken inside the gesture, which also unlocks speech on browsers that want that.
      const u = new SpeechSynthesisUtterance(voiceBtn.dataset.on);
      u.lang = en() ? "en" : "zh-CN";
      window.speechSynthesis.speak(u);
    });

    function zhVoice() {
      try {
        return window.speechSynthesis.getVoices().find((v) => /^zh(-|_)?CN/i.test(v.lang)) || null;
      } catch {
        return null;
      }
    }

    /**
     * Says a call in Mandarin. Utterances queue in the browser; nothing ever cancels one, so calls from
     * several windows at once are all heard. Resolves when spoken (or failed, or after 15 s at most).
     */
    function announce(c) {
      if (!voice) return Promise.resolve();
      const text = c.text || `请 ${c.number} 号到 ${c.window} 窗口办理`;
      const u = new SpeechSynthesisUtterance(text);
      u.lang = "zh-CN";
      u.rate = 0.9;
      const v = zhVoice();
      if (v) u.voice = v;
      announced += 1;
      $("announce-count").textContent = String(announced);
      $("last-spoken").textContent = text;
      return new Promise((resolve) => {
        const end = () => resolve();
        u.addEventListener("end", end);
        u.addEventListener("error", end);
        setTimeout(end, 15_000);
        window.speechSynthesis.speak(u);
      });
    }

    // Calls queue for the screen too: each stays on the "current" panel for at least minShow ms.
    const pending = [];
    let pumping = false;
    async function pump() {
      if (pumping) return;
      pumping = true;
      while (pending.length) {
        const c = pending.shift();
        $("current-number").textContent = c.number;
        $("current-window").textContent = c.window;
        $("current-line").hidden = false;
        $("no-call").hidden = true;
        const panel = document.querySelector(".d-current");
        panel.classList.remove("flash");
        void panel.offsetWidth; // restart the animation
        panel.classList.add("flash");
        addRecent(c);
        await Promise.all([sleep(minShow), announce(c)]);
      }
      pumping = false;
    }

    /** A call from the stream or a snapshot: announced if new and recent, else just listed. */
    function incoming(c) {
      const k = key(c);
      if (seen.has(k) || c.at < baseline) return;
      seen.add(k);
      if (Date.now() - c.at > freshMs) {
        addRecent(c);
        return;
      }
      pending.push(c);
      pump();
    }

    function applySnapshot(snap) {
      applyCounts(snap.queues);
      for (const q of snap.queues || []) {
        if (!document.querySelector(`#display-queues [data-queue="${CSS.escape(q.code)}"]`)) {
          const li = document.createElement("li");
          li.dataset.queue = q.code;
          const name = document.createElement("span");
          name.className = "dq-name";
          name.textContent = `${q.prefix} ${q.name}`;
          const count = document.createElement("b");
          count.className = "dq-count";
          count.dataset.countFor = q.code;
          count.textContent = String(q.waiting);
          li.append(name, " ", count);
          $("display-queues").append(li);
        }
      }
      // Oldest first, so they are announced in the order they were made.
      for (const c of [...(snap.calls || [])].reverse()) incoming(c);
    }

    async function fetchSnapshot() {
      const r = await api("GET", `/api/v1/display/${encodeURIComponent(hall)}`);
      if (r.ok) applySnapshot(r.body);
    }

    const setConn = (okNow) => {
      conn.className = `conn ${okNow ? "conn-ok" : "conn-lost"}`;
      conn.textContent = okNow ? conn.dataset.ok : conn.dataset.lost;
      document.body.classList.toggle("disconnected", !okNow);
    };

    // The stream: the browser resends Last-Event-ID itself when it reconnects, and the server replays
    // what was missed. After an error the snapshot is fetched again to be sure nothing is stale.
    let es = null;
    let hadError = false;
    let retry = 1000;
    function connect() {
      es = new EventSource(`/api/v1/display/${encodeURIComponent(hall)}/events`);
      es.addEventListener("open", () => {
        setConn(true);
        retry = 1000;
        if (hadError) {
          hadError = false;
          fetchSnapshot();
        }
      });
      es.addEventListener("error", () => {
        setConn(false);
        hadError = true;
        if (es.readyState === EventSource.CLOSED) {
          // The browser gave up (e.g. the server answered with an error): start again, slowly.
          setTimeout(connect, retry);
          retry = Math.min(retry * 2, 30_000);
        }
      });
      es.addEventListener("snapshot", (e) => applySnapshot(JSON.parse(e.data)));
      es.addEventListener("call", (e) => incoming(JSON.parse(e.data)));
      es.addEventListener("queues", (e) => applyCounts(JSON.parse(e.data).queues));
      es.addEventListener("reload", () => fetchSnapshot());
    }
    connect();

    // The clock, in the hall's time.
    const clock = $("clock");
    const tick = () => {
      try {
        clock.textContent = new Intl.DateTimeFormat(en() ? "en-GB" : "zh-CN", {
          timeZone: "Asia/Shanghai",
          month: "long",
          day: "numeric",
          weekday: "short",
          hour: "2-digit",
          minute: "2-digit",
          hour12: false,
        }).format(new Date());
      } catch {
        clock.textContent = hhmm(Date.now());
      }
    };
    tick();
    setInterval(tick, 10_000);
  }

  // --- the citizen's ticket page -------------------------------------------------------------------

  function ticketPage(root) {
    const d = root.dataset;
    const url = `/api/v1/tickets/${encodeURIComponent(d.token)}`;
    const late = $("late");
    const lateMsg = $("late-message");
    const final = new Set(["done", "no_show", "expired"]);
    let status = d.status;
    let timer = null;

    function render(t) {
      const was = status;
      status = t.status;
      const s = $("tp-status");
      s.textContent = d[`label${t.status.charAt(0).toUpperCase()}${t.status.slice(1)}`] || d[`label${t.status}`] || t.status;
      s.className = `tp-status status-${t.status}`;
      $("tp-called").hidden = t.status !== "called";
      $("tp-window").textContent = t.window || "";
      $("tp-waiting").hidden = t.status !== "waiting";
      if (t.ahead !== null && t.ahead !== undefined) $("tp-ahead").textContent = String(t.ahead);
      if (t.estimated_wait_minutes !== null && t.estimated_wait_minutes !== undefined) $("tp-wait").textContent = String(t.estimated_wait_minutes);
      $("tp-late").hidden = t.status !== "waiting";
      if (t.late_used) late.disabled = true;
      if (was !== "called" && t.status === "called") {
        document.title = `【${s.textContent}】${document.title.replace(/^【[^】]*】/, "")}`;
        if (navigator.vibrate) navigator.vibrate([400, 150, 400]);
      }
      $("tp-updated").textContent = fmt(d.msgUpdated, { time: hhmmss(Date.now()) });
    }

    async function poll() {
      const r = await api("GET", url);
      if (r.ok) render(r.body);
      else if (r.status === 0) $("tp-updated").textContent = d.msgOffline;
      if (!final.has(status)) timer = setTimeout(poll, Number(d.pollSeconds || 5) * 1000);
    }
    if (!final.has(status)) timer = setTimeout(poll, Number(d.pollSeconds || 5) * 1000);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !final.has(status)) {
        clearTimeout(timer);
        poll();
      }
    });

    late.addEventListener("click", async () => {
      if (late.disabled) return;
      late.disabled = true;
      const r = await api("POST", `${url}/late`, { csrf: d.csrf });
      if (r.ok) {
        lateMsg.textContent = fmt(d.msgLateDone, { n: d.lateMoves });
        render(r.body);
      } else {
        lateMsg.textContent = r.status === 0 ? d.msgFailed : r.message;
        // Refused for good (already used, no longer waiting): the button stays off.
        late.disabled = r.status === 409 || r.status === 404 ? true : false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const pages = { kiosk, guide, console: consoleApp, display, "ticket-page": ticketPage };
    for (const [id, fn] of Object.entries(pages)) {
      const root = $(id);
      if (root) fn(root);
    }
  });
})();
