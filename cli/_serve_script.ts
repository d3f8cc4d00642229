// The script of `loops serve`'s page, as a string. Every value from the
// registry reaches the page through textContent or a form option's text,
// never as markup (tests/cli/serve_test.ts checks that no markup-parsing
// sink appears here). The token comes from the URL's fragment (never sent
// to the server in a URL), is kept in sessionStorage and sent as a header.

/** The page's script. */
export const PAGE_JS = String.raw`"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token") || sessionStorage.getItem("loops-token") || "";
  if (params.get("token")) {
    sessionStorage.setItem("loops-token", token);
    history.replaceState(null, "", location.pathname);
  }
  const auth = { authorization: "Bearer " + token };
  let loops = [];
  let readOnly = true;
  let selected = null;
  const sort = { key: "id", dir: 1 };

  const el = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  };
  // A host is told by its id; its label is its name (else its id, else
  // "this host" for an entry without one). When several host ids share a
  // name (containers, or processes with their own LOOPS_HOST_ID, on one
  // machine), each label adds the shortest prefix of the id, 8 characters
  // at least, that tells them apart: "name (3f2a9c1b…)".
  const hostKey = (loop) => loop.host_id === undefined ? "-" : "id:" + loop.host_id;
  const hostName = (loop) => loop.hostname || loop.host_id || "this host";
  let hostLabels = new Map();
  const labelHosts = (list) => {
    const byName = new Map();
    for (const loop of list) {
      const ids = byName.get(hostName(loop)) || new Map();
      ids.set(hostKey(loop), loop.host_id || "");
      byName.set(hostName(loop), ids);
    }
    const labels = new Map();
    for (const [name, ids] of byName) {
      const all = [...ids.values()];
      // The shortest start (8 or more) that tells the ids apart; ids that
      // are the same whole are left as they are (no start tells them apart).
      const longest = Math.max(0, ...all.map((id) => id.length));
      let n = 8;
      while (n < longest && new Set(all.map((id) => id.slice(0, n))).size < all.length) n++;
      for (const [key, id] of ids) {
        const shown = id.length > n ? id.slice(0, n) + "…" : id;
        labels.set(key, ids.size === 1 || id === "" ? name : name + " (" + shown + ")");
      }
    }
    return labels;
  };
  const host = (loop) => hostLabels.get(hostKey(loop)) || hostName(loop);
  const age = (started) => {
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(started)) / 1000));
    if (!Number.isFinite(s)) return "?";
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    return Math.floor(s / 86400) + "d";
  };
  const sortValue = (loop, key) => {
    if (key === "host") return host(loop);
    if (key === "worktree") return loop.worktree_path || "";
    if (key === "pid") return loop.pid;
    if (key === "started") return -Date.parse(loop.started);
    return String(loop[key] ?? "");
  };
  const message = (text, kind) => {
    const box = $("message");
    box.textContent = text;
    box.dataset.kind = kind;
    box.hidden = text === "";
  };
  const connection = (state, text) => {
    $("connection").dataset.state = state;
    $("connection").textContent = text;
  };
  // Fills a filter with "All" and the values (a Set, or a Map of each
  // value to its text), sorted by their text.
  const options = (select, values) => {
    const labels = values instanceof Map ? values : new Map([...values].map((v) => [v, v]));
    const current = select.value;
    const all = el("option", "All");
    all.value = "";
    const sorted = [...labels].sort(([, x], [, y]) => x < y ? -1 : x > y ? 1 : 0);
    select.replaceChildren(all, ...sorted.map(([value, text]) => {
      const option = el("option", text);
      option.value = value;
      return option;
    }));
    select.value = labels.has(current) ? current : "";
  };

  function visible() {
    const status = $("status-filter").value;
    const hostFilter = $("host-filter").value;
    const words = $("search").value.trim().toLowerCase();
    return loops.filter((loop) =>
      (status === "" || loop.status === status) &&
      (hostFilter === "" || hostKey(loop) === hostFilter) &&
      (words === "" || [loop.id, loop.prompt, loop.worktree_path, host(loop),
        String(loop.pid), loop.status].some((v) => (v || "").toLowerCase().includes(words)))
    ).sort((a, b) => {
      const x = sortValue(a, sort.key);
      const y = sortValue(b, sort.key);
      return (x < y ? -1 : x > y ? 1 : 0) * sort.dir ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
  }

  function row(loop) {
    const tr = el("tr");
    tr.tabIndex = 0;
    tr.dataset.id = loop.id;
    tr.setAttribute("aria-selected", String(loop.id === selected));
    const status = el("td");
    status.append(el("span", loop.status, "status s-" + loop.status));
    const started = el("td", age(loop.started), "age num");
    started.dataset.started = loop.started;
    tr.append(el("th", loop.id), status, el("td", host(loop)),
      el("td", loop.pid, "num"), started,
      el("td", loop.worktree_path || "", "wide"), el("td", loop.prompt, "prompt"));
    tr.firstChild.scope = "row";
    return tr;
  }

  function render() {
    const counts = new Map();
    for (const loop of loops) counts.set(loop.status, (counts.get(loop.status) || 0) + 1);
    $("counts").replaceChildren(el("li", "total: " + loops.length),
      ...[...counts].sort().map(([s, n]) => el("li", s + ": " + n, "status s-" + s)));
    options($("status-filter"), new Set(loops.map((l) => l.status)));
    hostLabels = labelHosts(loops);
    options($("host-filter"), hostLabels);
    const shown = visible();
    const focused = document.activeElement?.dataset?.id;
    $("rows").replaceChildren(...shown.map(row));
    if (focused !== undefined) {
      [...$("rows").rows].find((tr) => tr.dataset.id === focused)?.focus();
    }
    $("summary").textContent = "Loops: " + shown.length + " shown of " + loops.length;
    $("empty").hidden = shown.length > 0;
    if (selected !== null && !loops.some((l) => l.id === selected)) {
      message("Loop " + selected + " is no longer registered", "info");
      closeDetails();
    }
  }

  function closeDetails() {
    const id = selected;
    selected = null;
    $("details").hidden = true;
    for (const tr of $("rows").rows) tr.setAttribute("aria-selected", "false");
    [...$("rows").rows].find((tr) => tr.dataset.id === id)?.focus();
  }

  async function openDetails(id) {
    selected = id;
    for (const tr of $("rows").rows) {
      tr.setAttribute("aria-selected", String(tr.dataset.id === id));
    }
    const loop = loops.find((l) => l.id === id);
    if (loop === undefined) return;
    showFields(loop);
    $("details").hidden = false;
    $("kill").hidden = true;
    $("stop").hidden = readOnly;
    $("details-title").focus();
    try {
      const response = await fetch("/api/loops/" + encodeURIComponent(id), { headers: auth });
      if (response.ok && selected === id) {
        showFields({ ...loops.find((l) => l.id === id), ...(await response.json()) });
      }
    } catch {
      // The event stream says when the server is gone.
    }
  }

  function showFields(loop) {
    $("details-title").textContent = "Loop " + loop.id;
    const fields = [];
    for (const [key, value] of Object.entries(loop)) {
      fields.push(el("dt", key), el("dd", typeof value === "string" ? value : JSON.stringify(value)));
    }
    fields.push(el("dt", "age"), el("dd", age(loop.started)));
    $("fields").replaceChildren(...fields);
  }

  async function stop(force) {
    const id = selected;
    if (id === null) return;
    const what = force ? "SIGTERM, then SIGKILL if it is still alive after 5 s," : "SIGTERM";
    if (!confirm("Send " + what + " to loop " + id + "?")) return;
    message("Stopping " + id + "…", "info");
    try {
      const response = await fetch("/api/loops/" + encodeURIComponent(id) + "/stop", {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ force }),
      });
      const result = await response.json();
      const lines = [...(result.messages || []), result.error || ""].filter(Boolean);
      // A stopped loop's details close here, so that the update removing it
      // does not replace this answer with "no longer registered".
      if (result.ok && selected === id) closeDetails();
      message(lines.join("\n") || (result.ok ? "Stopped" : "Failed"), result.ok ? "info" : "error");
      $("kill").hidden = readOnly || response.status !== 504;
    } catch (error) {
      message("Cannot stop " + id + ": " + error, "error");
    }
  }

  function connect() {
    const events = new EventSource("/api/events?token=" + encodeURIComponent(token));
    events.addEventListener("open", () => connection("live", "Live"));
    events.addEventListener("loops", (event) => {
      loops = JSON.parse(event.data);
      connection("live", "Live");
      render();
    });
    events.addEventListener("error", () => {
      connection("lost", "Connection lost, reconnecting…");
      if (events.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
    });
  }

  async function start() {
    try {
      const response = await fetch("/api/info", { headers: auth });
      if (response.status === 401) {
        message("Wrong or missing token: open the URL that loops serve printed", "error");
      } else if (response.ok) {
        const info = await response.json();
        readOnly = info.readOnly;
        $("location").textContent = info.location + (readOnly ? " (read-only)" : "");
      }
    } catch {
      // connect() reports it.
    }
    connect();
  }

  for (const th of document.querySelectorAll("th[data-key]")) {
    th.querySelector("button").addEventListener("click", () => {
      sort.dir = sort.key === th.dataset.key ? -sort.dir : 1;
      sort.key = th.dataset.key;
      for (const other of document.querySelectorAll("th[data-key]")) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", sort.dir === 1 ? "ascending" : "descending");
      render();
    });
  }
  for (const id of ["status-filter", "host-filter", "search"]) $(id).addEventListener("input", render);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("rows").addEventListener("click", (event) => {
    const tr = event.target.closest("tr");
    if (tr) openDetails(tr.dataset.id);
  });
  $("rows").addEventListener("keydown", (event) => {
    const tr = event.target.closest("tr");
    if (!tr) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openDetails(tr.dataset.id);
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      tr.nextElementSibling?.focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      tr.previousElementSibling?.focus();
    }
  });
  $("details").addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDetails();
  });
  $("close").addEventListener("click", closeDetails);
  $("stop").addEventListener("click", () => stop(false));
  $("kill").addEventListener("click", () => stop(true));
  setInterval(() => {
    for (const td of document.querySelectorAll("td.age")) td.textContent = age(td.dataset.started);
  }, 1000);
  start();
})();
`;
