// looprl report: trajectory viewer and ROI calculator. Plain JS, no dependencies, no network.
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

  // ---- ROI: the mirror of looprl/analysis/roi.py's outcome() and break_even_tgc() (formulas in its
  // docstring; tests/analysis/test_roi_chromium.py checks the two agree). null: not computable here.
  function servingPerTask(inp, tokens, seconds) {
    var cost = 0;
    if (inp.price_per_million_tokens > 0) { if (tokens === null) return null; cost += tokens / 1e6 * inp.price_per_million_tokens; }
    if (inp.serving_price_per_hour > 0) { if (seconds === null) return null; cost += seconds / 3600 * inp.serving_price_per_hour; }
    return cost;
  }
  function roiOutcome(inp, tgc, tokens, seconds, trainHours) {
    var nYear = 12 * inp.tasks_per_month;
    var hours = nYear * (tgc * inp.minutes_per_task - inp.minutes_checking) / 60;
    var labour = hours * inp.hourly_cost;
    var perTask = servingPerTask(inp, tokens, seconds);
    var serving = perTask === null ? null : nYear * perTask;
    var net = serving === null ? null : labour - serving;
    var training = trainHours === null ? null : trainHours * inp.train_price_per_hour;
    var payback = training !== null && net !== null && net > 0 ? training / (net / 12) : null;
    return { tgc: tgc, hours_per_year: hours, labour_savings_per_year: labour, serving_cost_per_year: serving,
      net_savings_per_year: net, training_cost: training, payback_months: payback };
  }
  function breakEvenTgc(inp, tokens, seconds) {
    var perTask = servingPerTask(inp, tokens, seconds);
    return perTask === null ? null : (inp.minutes_checking + 60 * perTask / inp.hourly_cost) / inp.minutes_per_task;
  }

  var roi = data.roi, roiInputs = {}, roiBox = document.getElementById("roi-inputs");
  var money = function (x) {  // as looprl roi prints it: cents below 10, whole units above
    if (x === null) return "n/a";
    var digits = Math.abs(x) < 10 ? 2 : 0;
    return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  };
  var pct = function (x) { return x === null ? "n/a" : (100 * x).toFixed(1) + "%"; };
  roi.sliders.forEach(function (s) {
    var label = el("label", null, s.label + " ");
    label.title = s.help;
    var input = el("input"); input.type = "range"; input.id = "roi-" + s.key;
    input.min = s.min; input.max = Math.max(s.max, s.value); input.step = s.step; input.value = s.value;
    if (hash[s.key] !== undefined) input.value = hash[s.key];
    var shown = el("output", null, input.value); shown.id = "roi-" + s.key + "-value";
    label.appendChild(input); label.appendChild(shown);
    roiBox.appendChild(label);
    roiInputs[s.key] = { input: input, shown: shown };
  });
  function readInputs() {
    var inp = {};
    Object.keys(roiInputs).forEach(function (k) { inp[k] = Number(roiInputs[k].input.value); roiInputs[k].shown.textContent = roiInputs[k].input.value; });
    return inp;
  }
  var measuredBody = document.querySelector("#roi-measured tbody");
  roi.runs.forEach(function (m) {
    var tr = el("tr");
    var sources = el("ul", "sources");
    Object.keys(m.sources).forEach(function (k) { sources.appendChild(el("li", null, k + ": " + m.sources[k])); });
    [m.name, pct(m.tgc) + " [" + pct(m.tgc_low) + " to " + pct(m.tgc_high) + "] of " + m.n_tasks,
      m.tokens_per_episode === null ? "n/a" : money(m.tokens_per_episode),
      m.seconds_per_episode === null ? "n/a" : m.seconds_per_episode.toFixed(2),
      m.train_hours === null ? "unknown" : m.train_hours === 0 ? "0" : m.train_hours.toPrecision(3)].forEach(function (v, i) { tr.appendChild(el("td", i ? "num" : null, v)); });
    var td = el("td"); td.appendChild(sources); tr.appendChild(td);
    measuredBody.appendChild(tr);
  });
  document.getElementById("roi-skipped").textContent = roi.skipped.map(function (s) { return s.run + ": not in the estimate (" + s.why + ")"; }).join(" ");

  function months(o) {
    if (o.training_cost === null || o.net_savings_per_year === null) return "unknown";
    if (o.payback_months === null) return "never";
    return o.payback_months === 0 ? "none needed" : o.payback_months < 0.1 ? "< 0.1 mo" : o.payback_months.toFixed(1) + " mo";
  }
  function cell(tr, key, at, fmt) {
    var td = el("td", "num"), lo = at.low[key], pt = at.point[key], hi = at.high[key];
    td.dataset.key = key; td.dataset.point = pt; td.dataset.low = lo; td.dataset.high = hi;
    td.textContent = fmt(at.point) + (fmt(at.low) === fmt(at.high) ? "" : " [" + fmt(at.low) + " to " + fmt(at.high) + "]");
    tr.appendChild(td);
  }
  var tableBody = document.querySelector("#roi-table tbody");
  function updateRoi() {
    var inp = readInputs();
    tableBody.textContent = "";
    var series = roi.runs.map(function (m) {
      var at = {};
      [["low", m.tgc_low], ["point", m.tgc], ["high", m.tgc_high]].forEach(function (p) {
        at[p[0]] = roiOutcome(inp, p[1], m.tokens_per_episode, m.seconds_per_episode, m.train_hours);
      });
      var tr = el("tr"); tr.appendChild(el("td", null, m.name));
      ["hours_per_year", "labour_savings_per_year", "serving_cost_per_year", "net_savings_per_year", "training_cost"].forEach(function (k) {
        cell(tr, k, at, function (o) { return money(o[k]); });
      });
      cell(tr, "payback_months", at, months);
      var be = breakEvenTgc(inp, m.tokens_per_episode, m.seconds_per_episode), td = el("td", "num", pct(be) + (be !== null && be > 1 ? " (unreachable)" : ""));
      td.dataset.key = "break_even_tgc"; td.dataset.point = be; tr.appendChild(td);
      tableBody.appendChild(tr);
      return { m: m, inp: inp };
    });
    drawChart(series, inp);
  }

  // Savings against monthly task volume: first-year net savings (a year's net savings less the
  // one-time training cost) at the measured TGC (line) and over its 95% interval (band), per run.
  var SVG = "http://www.w3.org/2000/svg", COLORS = ["#2d6cdf", "#c0392b", "#1f8a4c", "#8e44ad", "#d35400", "#16a085"];
  function svg(tag, attrs, text) {
    var n = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) n.textContent = text;
    return n;
  }
  function drawChart(series, inp) {
    var box = document.getElementById("roi-chart"); box.textContent = "";
    var W = 900, H = 320, L = 90, R = 280, T = 24, B = 44, xMax = Math.max(100, 2 * inp.tasks_per_month);
    var firstYear = function (m, tgc, n) {
      var o = roiOutcome(Object.assign({}, inp, { tasks_per_month: n }), tgc, m.tokens_per_episode, m.seconds_per_episode, m.train_hours);
      return o.net_savings_per_year === null ? null : o.net_savings_per_year - (o.training_cost || 0);
    };
    var curves = series.filter(function (s) { return firstYear(s.m, s.m.tgc, 0) !== null; }).map(function (s) {
      return { name: s.m.name, ends: [0, xMax].map(function (n) { return [firstYear(s.m, s.m.tgc_low, n), firstYear(s.m, s.m.tgc, n), firstYear(s.m, s.m.tgc_high, n)]; }) };
    });
    var ys = [0]; curves.forEach(function (c) { c.ends.forEach(function (e) { ys.push.apply(ys, e); }); });
    var yMin = Math.min.apply(null, ys), yMax = Math.max.apply(null, ys); if (yMax === yMin) yMax = yMin + 1;
    var X = function (n) { return L + (W - L - R) * n / xMax; }, Y = function (v) { return T + (H - T - B) * (yMax - v) / (yMax - yMin); };
    var chart = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "first-year net savings against tasks a month" });
    chart.appendChild(svg("text", { x: L, y: 14, "font-size": 12 }, "first-year net savings (a year's net savings − training cost) against tasks a month"));
    chart.appendChild(svg("line", { x1: L, x2: W - R, y1: Y(0), y2: Y(0), stroke: "#999" }));
    chart.appendChild(svg("line", { x1: X(inp.tasks_per_month), x2: X(inp.tasks_per_month), y1: T, y2: H - B, stroke: "#bbb", "stroke-dasharray": "4 3" }));
    [0, 0.5, 1].forEach(function (f) {
      chart.appendChild(svg("text", { x: X(f * xMax), y: H - B + 16, "font-size": 11, "text-anchor": "middle" }, money(f * xMax)));
      var v = yMin + f * (yMax - yMin);
      chart.appendChild(svg("text", { x: L - 6, y: Y(v) + 4, "font-size": 11, "text-anchor": "end" }, money(v)));
    });
    chart.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 8, "font-size": 12, "text-anchor": "middle" }, "tasks a month"));
    curves.forEach(function (c, i) {
      var color = COLORS[i % COLORS.length], a = c.ends[0], b = c.ends[1];
      chart.appendChild(svg("polygon", { class: "roi-band", points: [[0, a[0]], [xMax, b[0]], [xMax, b[2]], [0, a[2]]].map(function (p) { return X(p[0]) + "," + Y(p[1]); }).join(" "), fill: color, "fill-opacity": 0.12 }));
      chart.appendChild(svg("line", { class: "roi-line", x1: X(0), y1: Y(a[1]), x2: X(xMax), y2: Y(b[1]), stroke: color, "stroke-width": 2 }));
      chart.appendChild(svg("text", { x: W - R + 8, y: T + 14 + 16 * i, "font-size": 12, fill: color }, c.name));
    });
    box.appendChild(chart);
  }
  Object.keys(roiInputs).forEach(function (k) { roiInputs[k].input.addEventListener("input", updateRoi); });
  updateRoi();
})();
