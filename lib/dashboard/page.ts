/**
 * The live page's HTML and CSS: one page, nothing loaded from elsewhere (its script is page-script.ts, served
 * beside it so a strict Content-Security-Policy needs no inline code). Tables on a wide screen; on a phone each
 * row becomes a card, so nothing scrolls sideways at 375 px.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Pilcrow · live</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="page.css">
<script src="page.js" defer></script>
</head>
<body>
<header>
  <h1><span class="mark">¶</span> Pilcrow <span class="sub">live</span></h1>
  <p id="connection" class="connection" data-state="connecting">connecting…</p>
</header>
<main>
  <section class="totals" aria-label="Totals">
    <div><span class="label">instances ready</span><strong id="total-ready">–</strong></div>
    <div><span class="label">requests / s</span><strong id="total-rps">–</strong></div>
    <div><span class="label">requests</span><strong id="total-requests">–</strong></div>
    <div><span class="label">errors</span><strong id="total-errors">–</strong></div>
    <div><span class="label">in flight</span><strong id="total-in-flight">–</strong></div>
  </section>
  <section>
    <h2>Routes</h2>
    <table class="cards" id="routes">
      <thead><tr><th>route</th><th>instances</th><th class="n">req/s</th><th class="n">p50</th><th class="n">p99</th>
      <th class="n">errors</th><th class="n">in flight</th><th class="n">requests</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Nodes</h2>
    <table class="cards" id="nodes">
      <thead><tr><th>node</th><th>health</th><th>runtime</th><th>address</th><th class="n">uptime</th>
      <th class="n">memory</th><th class="n">requests</th><th class="n">errors</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<footer id="updated">no snapshot yet</footer>
</body>
</html>
`;

export const PAGE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #fff; --text: #1c2330; --muted: #667085; --line: #e4e7ec;
  --ready: #12b76a; --connecting: #f79009; --frozen: #4e9af1; --bad: #f04438;
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0f141b; --panel: #171d26; --text: #e6e9ef; --muted: #98a2b3; --line: #283140; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); }
header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem;
  padding: .9rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { margin: 0; font-size: 1.3rem; font-weight: 650; }
h1 .mark { color: var(--ready); }
h1 .sub { color: var(--muted); font-weight: 400; font-size: .95rem; }
h2 { font-size: 1rem; margin: 1.4rem 0 .6rem; color: var(--muted); font-weight: 600; text-transform: uppercase;
  letter-spacing: .04em; }
main { padding: 0 1.25rem 1rem; max-width: 1200px; margin: 0 auto; }
.connection { margin: 0; padding: .2rem .7rem; border-radius: 999px; font-size: .85rem; border: 1px solid var(--line); }
.connection::before { content: "●"; margin-right: .4rem; }
.connection[data-state="live"]::before { color: var(--ready); }
.connection[data-state="connecting"]::before { color: var(--connecting); }
.connection[data-state="retrying"] { color: var(--bad); border-color: var(--bad); }
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .75rem; margin-top: 1.2rem; }
.totals div { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: .7rem .9rem; }
.totals .label { display: block; color: var(--muted); font-size: .8rem; }
.totals strong { font-size: 1.5rem; font-variant-numeric: tabular-nums; }
table { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line);
  border-radius: 10px; overflow: hidden; }
th, td { padding: .55rem .75rem; text-align: left; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .78rem; color: var(--muted); font-weight: 600; }
tr:last-child td { border-bottom: 0; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
td.route, td.node { font-weight: 600; overflow-wrap: anywhere; }
td.address { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; overflow-wrap: anywhere; }
.muted { color: var(--muted); font-weight: 400; }
.chips { display: flex; flex-wrap: wrap; gap: .3rem; }
.chip { display: inline-flex; align-items: center; gap: .3rem; padding: .05rem .5rem; border-radius: 999px;
  font-size: .8rem; border: 1px solid var(--line); white-space: nowrap; max-width: 100%; overflow: hidden;
  text-overflow: ellipsis; }
.chip::before, .health::before { content: ""; width: .55rem; height: .55rem; border-radius: 50%;
  display: inline-block; flex: none; }
.health::before { margin-right: .35rem; }
[data-health="ready"]::before { background: var(--ready); }
[data-health="connecting"]::before { background: var(--connecting); }
[data-health="frozen"]::before { background: var(--frozen); }
.errors-some { color: var(--bad); font-weight: 600; }
footer { color: var(--muted); font-size: .8rem; text-align: center; padding: 1rem; }
.empty td { color: var(--muted); text-align: center; }
@media (max-width: 720px) {
  header { padding: .75rem 1rem; }
  main { padding: 0 .75rem 1rem; }
  table.cards, .cards tbody, .cards tr, .cards td { display: block; width: 100%; }
  table.cards { border: 0; background: none; }
  .cards thead { display: none; }
  .cards tr { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; margin-bottom: .6rem;
    padding: .35rem 0; display: grid; grid-template-columns: 1fr 1fr; }
  .cards td { border: 0; padding: .25rem .8rem; text-align: left; min-width: 0; }
  .cards td[data-label]::before { content: attr(data-label); display: block; font-size: .72rem; color: var(--muted); }
  .cards td.wide { grid-column: 1 / -1; }
  .cards tr.empty { display: block; }
}
`;
