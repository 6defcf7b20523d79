// looprl report: trajectory viewer and value estimate. Plain JS, no dependencies, no network.
// Agent text is untrusted: it only ever reaches the page through textContent, never as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("looprl-data").textContent);
  var hash = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
    var i = kv.indexOf("=");
    if (i > 0) hash[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
  });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fillSelect(id, values) {
    var select = document.getElementById(id);
    values.forEach(function (v) { var o = el("option", null, v); o.value = v; select.appendChild(o); });
    return select;
  }
  function unique(key) {
    var seen = {}, out = [];
    data.episodes.forEach(function (e) { if (!seen[e[key]]) { seen[e[key]] = 1; out.push(e[key]); } });
    return out.sort();
  }

  // ---- trajectory viewer
  function renderEpisode(ep) {
    var d = el("details", "episode " + (ep.success ? "pass" : "fail"));
    d.dataset.task = ep.task_id; d.dataset.run = ep.run; d.dataset.method = ep.method;
    d.dataset.success = ep.success ? "pass" : "fail";
    var s = el("summary");
    s.appendChild(el("span", "badge", ep.success ? "success" : "failure"));
    s.appendChild(document.createTextNode(ep.task_id + " · " + ep.run + " (" + ep.method + ") · sample " + ep.sample +
      " · reward " + Number(ep.reward).toFixed(2) + " · " + ep.n_turns + " turns" +
      (ep.terminated ? " · complete_task called" : "") + (ep.truncated ? " · truncated" : "")));
    d.appendChild(s);
    d.appendChild(el("div", "label", "task (end of the prompt)"));
    d.appendChild(el("pre", null, ep.task));
    ep.turns.forEach(function (t, i) {
      var box = el("div", "turn" + (t.error ? " error" : ""));
      box.appendChild(el("div", "label", "turn " + (i + 1) + (t.error ? " · execution error" : "")));
      if (t.reasoning) { box.appendChild(el("div", "label", "reasoning")); box.appendChild(el("pre", "reasoning", t.reasoning)); }
      if (t.code) { box.appendChild(el("div", "label", "code")); box.appendChild(el("pre", "code", t.code)); }
      if (t.api_calls.length) {
        box.appendChild(el("div", "label", "API calls"));
        var ul = el("ul", "calls");
        t.api_calls.forEach(function (c) {
          ul.appendChild(el("li", c.ok === false ? "failed" : "ok",
            c.endpoint + "(" + c.args + ")" + (c.status !== null && c.status !== undefined ? " → " + c.status : "") + (c.ok === false ? " failed" : "")));
        });
        box.appendChild(ul);
      }
      box.appendChild(el("div", "label", "output"));
      box.appendChild(el("pre", "output", t.output));
      d.appendChild(box);
    });
    if (ep.turns_cut) d.appendChild(el("p", "note", ep.turns_cut + " more turn(s) not shown (cap: " + data.limits.max_turns + " per episode)."));
    d.appendChild(el("div", "label", "answer given to complete_task"));
    d.appendChild(el("pre", null, ep.answer === null ? "(none)" : ep.answer));
    d.appendChild(el("div", "label", "evaluation checks"));
    var checks = el("ul", "checks");
    if (!ep.checks.length) checks.appendChild(el("li", null, "(no checks recorded)"));
    ep.checks.forEach(function (c) {
      checks.appendChild(el("li", c.passed ? "pass" : "fail", (c.passed ? "PASS " : "FAIL ") + c.name + (c.detail ? ": " + c.detail : "")));
    });
    d.appendChild(checks);
    return d;
  }

  var container = document.getElementById("episodes");
  var nodes = data.episodes.map(function (ep) { var n = renderEpisode(ep); container.appendChild(n); return n; });
  // The first episode shown starts open so the layout of a transcript is visible at once; #open=all opens every one.
  nodes.forEach(function (n) { n.open = hash.open === "all"; });
  var filters = {
    task: fillSelect("f-task", unique("task_id")),
    success: document.getElementById("f-success"),
    method: fillSelect("f-method", unique("method")),
    run: fillSelect("f-run", unique("run")),
  };
  Object.keys(filters).forEach(function (k) { if (hash[k] !== undefined) filters[k].value = hash[k]; });
  function applyFilters() {
    var shown = 0;
    nodes.forEach(function (n) {
      var ok = Object.keys(filters).every(function (k) { return !filters[k].value || n.dataset[k] === filters[k].value; });
      n.hidden = !ok;
      shown += ok ? 1 : 0;
    });
    document.getElementById("f-count").textContent = shown + " of " + nodes.length + " episodes shown";
  }
  Object.keys(filters).forEach(function (k) { filters[k].addEventListener("change", applyFilters); });
  applyFilters();
  var firstShown = nodes.filter(function (n) { return !n.hidden; })[0];
  if (firstShown) firstShown.open = true;
  document.getElementById("viewer-note").textContent = data.caps.map(function (c) {
    return c.run + ": " + c.shown + " of " + c.total + " episodes (" + (c.source || "no rollouts") + ")";
  }).join("; ") + ". To keep the file small, at most " + data.limits.max_episodes + " episodes per run, " +
    data.limits.max_turns + " turns per episode, " + data.limits.max_chars + " characters per field and about " +
    data.limits.max_viewer_mb + " MB of transcripts in all are shown.";

  // ---- value estimate
  var inputs = { tasks: document.getElementById("v-tasks"), minutes: document.getElementById("v-minutes"), cost: document.getElementById("v-cost") };
  Object.keys(inputs).forEach(function (k) { if (hash[k] !== undefined) inputs[k].value = hash[k]; });
  var fmt = function (x, digits) { return x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }); };
  var tbody = document.querySelector("#value-table tbody");
  function updateValue() {
    var tasks = Math.max(0, Number(inputs.tasks.value) || 0), minutes = Math.max(0, Number(inputs.minutes.value) || 0), cost = Math.max(0, Number(inputs.cost.value) || 0);
    tbody.textContent = "";
    data.leaderboard.forEach(function (r) {
      var rate = r.tgc === null ? 0 : r.tgc, hours = tasks * rate * minutes / 60;
      var tr = el("tr");
      [r.run, r.method, r.split, fmt(100 * rate, 1) + " %", fmt(hours, 0), fmt(hours * cost, 0)].forEach(function (v, i) {
        tr.appendChild(el("td", i >= 3 ? "num" : null, v));
      });
      tbody.appendChild(tr);
    });
  }
  Object.keys(inputs).forEach(function (k) { inputs[k].addEventListener("input", updateValue); });
  updateValue();
})();
