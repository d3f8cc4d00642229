// The page of `loops serve`, as strings: no build step and no external file.
// The markup holds no data; the script (cli/_serve_script.ts) fills it with
// textContent only, so a prompt full of HTML is shown as text.
export { PAGE_JS } from "./_serve_script.ts";

/** The page's markup. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loops</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>loops</h1>
  <p id="location"></p>
  <p id="connection" role="status" aria-live="polite" data-state="connecting">Connecting…</p>
</header>
<main>
  <section aria-label="Counts per status">
    <ul id="counts"></ul>
  </section>
  <form id="filters" role="search" aria-label="Filter loops">
    <label>Status
      <select id="status-filter"><option value="">All</option></select>
    </label>
    <label>Host
      <select id="host-filter"><option value="">All</option></select>
    </label>
    <label>Search
      <input id="search" type="search" placeholder="id, prompt, worktree…" autocomplete="off">
    </label>
  </form>
  <p id="message" role="alert" hidden></p>
  <div class="scroll">
    <table id="loops">
      <caption id="summary">Loops</caption>
      <thead>
        <tr>
          <th scope="col" data-key="id" aria-sort="ascending"><button type="button">ID</button></th>
          <th scope="col" data-key="status"><button type="button">Status</button></th>
          <th scope="col" data-key="host"><button type="button">Host</button></th>
          <th scope="col" data-key="pid"><button type="button">PID</button></th>
          <th scope="col" data-key="started"><button type="button">Age</button></th>
          <th scope="col" data-key="worktree" class="wide"><button type="button">Worktree</button></th>
          <th scope="col" data-key="prompt"><button type="button">Prompt</button></th>
        </tr>
      </thead>
      <tbody id="rows"></tbody>
    </table>
  </div>
  <p id="empty" hidden>No loops.</p>
  <section id="details" aria-labelledby="details-title" hidden>
    <h2 id="details-title" tabindex="-1">Loop</h2>
    <dl id="fields"></dl>
    <div class="actions">
      <button type="button" id="stop">Stop (SIGTERM)</button>
      <button type="button" id="kill" hidden>Stop, then SIGKILL</button>
      <button type="button" id="close">Close</button>
    </div>
  </section>
</main>
</body>
</html>
`;

/** The page's style: status by colour and by text, narrow-window friendly. */
export const PAGE_CSS =
  `:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff;
  --muted: #57606a; --line: #d0d7de; --focus: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117;
  --muted: #9198a1; --line: #30363d; --focus: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; color: var(--fg);
  background: var(--bg); }
header, main { padding: 0.5rem 1rem; }
header { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: baseline;
  border-bottom: 1px solid var(--line); }
h1 { font-size: 1.3rem; margin: 0; }
#location { color: var(--muted); margin: 0; overflow-wrap: anywhere; }
#connection { margin: 0 0 0 auto; font-weight: 600; }
#connection[data-state="live"]::before { content: "● "; color: #1a7f37; }
#connection[data-state="lost"] { color: #cf222e; }
#connection[data-state="lost"]::before { content: "○ "; }
#counts { list-style: none; display: flex; flex-wrap: wrap; gap: 0.5rem;
  padding: 0; margin: 0.5rem 0; }
#counts li { border: 1px solid var(--line); border-radius: 1rem; padding: 0.1rem 0.7rem; }
#filters { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; margin: 0.5rem 0; }
#filters label { display: flex; flex-direction: column; font-size: 0.85rem; }
input, select, button { font: inherit; color: inherit; background: var(--bg);
  border: 1px solid var(--line); border-radius: 4px; padding: 0.2rem 0.4rem; }
:focus-visible { outline: 2px solid var(--focus); outline-offset: 1px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; color: var(--muted); padding: 0.3rem 0; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th button { border: 0; padding: 0; font-weight: 600; cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
tbody tr { cursor: pointer; }
tbody tr:hover, tbody tr[aria-selected="true"] { background: color-mix(in srgb, var(--focus) 12%, transparent); }
td.prompt { min-width: 12rem; max-width: 32rem; overflow-wrap: anywhere; white-space: pre-wrap; }
td.num { font-variant-numeric: tabular-nums; }
.status { white-space: nowrap; font-weight: 600; }
.status::before { content: "■ "; }
.s-running { color: #1a7f37; }
.s-orphan { color: #9a6700; }
.s-remote { color: #0969da; }
.s-unknown { color: #8250df; }
.s-stale { color: #bf3989; }
#message { border: 1px solid currentColor; border-radius: 4px; padding: 0.4rem 0.6rem; }
#message[data-kind="error"] { color: #cf222e; }
#details { border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 1rem;
  margin: 1rem 0; }
#details h2 { font-size: 1.1rem; overflow-wrap: anywhere; }
#fields { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
#fields dt { font-weight: 600; }
#fields dd { margin: 0; overflow-wrap: anywhere; white-space: pre-wrap; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0.5rem 0; }
@media (max-width: 640px) {
  .wide { display: none; }
  #connection { margin-left: 0; }
  #fields { grid-template-columns: 1fr; }
}
`;
