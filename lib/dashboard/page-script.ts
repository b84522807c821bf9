/**
 * The live page's script, served as `/_pilcrow/page.js`: it listens to `/_pilcrow/events` (EventSource, which
 * reconnects by itself) and redraws the totals, routes and nodes from each snapshot (snapshot.ts's shape). Every
 * name on the page comes from the mesh (a book peer picks its own), so text is only ever set as text, never as HTML.
 * Rows carry data-* attributes (route, node id, health) that the browser test reads.
 */

export const PAGE_SCRIPT = `"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const connection = $("connection");
  let lastAt = 0;

  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
  }

  function cell(row, text, options = {}) {
    const td = document.createElement("td");
    td.textContent = text;
    if (options.label) td.dataset.label = options.label;
    if (options.className) td.className = options.className;
    row.append(td);
    return td;
  }

  function integer(value) {
    return value === undefined || value === null ? "–" : Math.round(value).toLocaleString("en");
  }
  function rate(value) {
    return value >= 100 ? integer(value) : value.toFixed(1);
  }
  function ms(value) {
    if (value === null || value === undefined) return "–";
    return (value >= 10 ? Math.round(value) : value.toFixed(1)) + " ms";
  }
  function bytes(value) {
    if (value === undefined) return "–";
    const mib = value / 1048576;
    return (mib >= 100 ? Math.round(mib) : mib.toFixed(1)) + " MiB";
  }
  function duration(seconds) {
    if (seconds === undefined) return "–";
    const s = Math.floor(seconds);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }

  function replaceRows(table, rows, emptyText, columns) {
    const body = table.tBodies[0];
    if (rows.length === 0) {
      const row = document.createElement("tr");
      row.className = "empty";
      const td = cell(row, emptyText);
      td.colSpan = columns;
      body.replaceChildren(row);
    } else {
      body.replaceChildren(...rows);
    }
  }

  function routeRow(route) {
    const row = document.createElement("tr");
    row.dataset.route = route.route;
    cell(row, route.route.replace(/^([A-Z]+)\\//, "$1 /"), { className: "route wide" });
    const instances = cell(row, "", { label: "instances", className: "wide" });
    const chips = document.createElement("div");
    chips.className = "chips";
    for (const instance of route.instances) {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.dataset.health = instance.health;
      chip.dataset.instance = instance.id;
      chip.title = instance.name + " " + instance.id + ": " + instance.health;
      chip.textContent = instance.id;
      chips.append(chip);
    }
    if (route.instances.length === 0) chips.textContent = route.route === "other" ? "no service" : "none";
    instances.append(chips);
    cell(row, rate(route.requestsPerSecond), { label: "req/s", className: "n" });
    cell(row, ms(route.p50Ms), { label: "p50", className: "n" });
    cell(row, ms(route.p99Ms), { label: "p99", className: "n" });
    cell(row, integer(route.errors), { label: "errors", className: route.errors > 0 ? "n errors-some" : "n" });
    cell(row, integer(route.inFlight), { label: "in flight", className: "n" });
    cell(row, integer(route.requests), { label: "requests", className: "n requests" });
    return row;
  }

  function nodeRow(node) {
    const row = document.createElement("tr");
    row.dataset.node = node.id;
    row.dataset.name = node.name;
    row.dataset.health = node.health;
    const name = cell(row, node.name, { className: "node wide" });
    if (node.kind !== "pilcrow") {
      const kind = document.createElement("span");
      kind.className = "muted";
      kind.textContent = node.kind === "gateway" ? " · gateway" : " · book peer";
      name.append(kind);
    }
    // The dot goes on a span: on a phone the cell's ::before is its label.
    const health = document.createElement("span");
    health.className = "health";
    health.dataset.health = node.health;
    health.textContent = node.health;
    cell(row, "", { label: "health" }).append(health);
    const runtime = node.runtime ? node.runtime + " " + node.version : node.note ? "(" + node.note + ")" : "–";
    cell(row, runtime, { label: "runtime" });
    cell(row, node.id + (node.pid ? " · pid " + node.pid : ""), { label: "address", className: "address wide" });
    cell(row, duration(node.uptimeSeconds), { label: "uptime", className: "n" });
    const memory = node.rssBytes === undefined ? "–" : bytes(node.rssBytes) + " (heap " + bytes(node.heapUsedBytes) + ")";
    cell(row, memory, { label: "memory (rss)", className: "n" });
    cell(row, integer(node.requests), { label: "requests", className: "n requests" });
    const errors = node.errors === undefined ? undefined : node.errors + node.timeouts;
    cell(row, integer(errors), { label: "errors, timeouts", className: errors > 0 ? "n errors-some" : "n" });
    return row;
  }

  function render(snapshot) {
    const totals = snapshot.totals;
    $("total-ready").textContent = totals.ready + " / " + totals.instances;
    $("total-rps").textContent = rate(totals.requestsPerSecond);
    $("total-requests").textContent = integer(totals.requests);
    $("total-errors").textContent = integer(totals.errors);
    $("total-in-flight").textContent = integer(totals.inFlight);
    replaceRows($("routes"), snapshot.routes.map(routeRow), "no routes yet", 8);
    replaceRows($("nodes"), snapshot.nodes.map(nodeRow), "no nodes", 8);
    lastAt = Date.now(); // the browser's clock: the gateway's may differ
    $("updated").textContent = "updated " + new Date(snapshot.at).toLocaleTimeString();
  }

  const events = new EventSource("events");
  events.onopen = () => setConnection("live", "live");
  events.onmessage = (message) => {
    try {
      render(JSON.parse(message.data));
      setConnection("live", "live");
    } catch (error) {
      console.error("bad snapshot", error);
    }
  };
  // EventSource tries again by itself (after the retry the stream gave); a refused stream (503, 401) it does not.
  events.onerror = () => {
    setConnection("retrying", "disconnected, retrying");
    if (events.readyState === EventSource.CLOSED) setTimeout(() => location.reload(), 5000);
  };
  setInterval(() => {
    if (lastAt && Date.now() - lastAt > 5000 && connection.dataset.state === "live") {
      setConnection("retrying", "no news for " + Math.round((Date.now() - lastAt) / 1000) + "s, retrying");
    }
  }, 1000);
})();
`;
