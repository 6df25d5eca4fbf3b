// chinese_ptm attention views (head, model, neuron, difference). Plain JavaScript, no library, no network:
// the page carries its data in <script id="attention-data" type="application/json">.
(function () {
  "use strict";
  var errors = 0;
  window.addEventListener("error", function () { errors += 1; document.body.dataset.errors = errors; });
  var SVG = "http://www.w3.org/2000/svg", MIN_LINE = 0.01;
  var data = JSON.parse(document.getElementById("attention-data").textContent);
  var all = data.attention.all;
  var T = all.left_text.length, L = all.attn.length, H = all.attn[0].length;
  var state = {layer: data.layer || 0, head: data.head === null ? 0 : data.head, query: 0,
               heads: all.attn[0].map(function (_, h) { return data.head === null || data.head === h; })};

  function el(tag, attrs, parent, ns) {
    var node = ns ? document.createElementNS(SVG, tag) : document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function headColor(h, alpha) { return "hsla(" + Math.round(360 * h / H) + ",70%,45%," + (alpha === undefined ? 1 : alpha) + ")"; }
  function options(select, count, prefix, value) {
    for (var i = 0; i < count; i++) { var o = el("option", {value: i}, select); o.textContent = prefix + " " + i; }
    select.value = value;
  }

  // ---- head view: one layer, the chosen heads, a line from every token to every token it attends to ----
  function tokenLabel(svg, x, y, i, anchor) {
    var g = el("g", {"class": "tok", "data-index": i}, svg, true);
    var t = el("text", {x: x, y: y, "text-anchor": anchor}, g, true);
    t.appendChild(document.createTextNode(data.tokens[i]));
    if (data.readings[i]) {
      var r = el("tspan", {"class": "reading", dx: 4}, t, true);
      r.textContent = data.readings[i];
    }
    return g;
  }
  function drawHeadView() {
    var svg = document.getElementById("hv-svg");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var row = 24, left = 150, right = 450;
    svg.setAttribute("height", T * row + 20);
    var lines = el("g", {}, svg, true), labels = 0, drawn = 0;
    for (var i = 0; i < T; i++) {
      var a = tokenLabel(svg, left - 10, 20 + i * row, i, "end");
      var b = tokenLabel(svg, right + 10, 20 + i * row, i, "start");
      a.addEventListener("mouseenter", focus.bind(null, i)); a.addEventListener("mouseleave", focus.bind(null, -1));
      labels += 2;
    }
    var attn = all.attn[state.layer];
    for (var h = 0; h < H; h++) {
      if (!state.heads[h]) continue;
      for (var q = 0; q < T; q++) for (var k = 0; k < T; k++) {
        if (attn[h][q][k] < MIN_LINE) continue;  // invisible anyway; long texts would draw 10^5 lines
        el("line", {x1: left, y1: 15 + q * row, x2: right, y2: 15 + k * row, stroke: headColor(h),
                    "stroke-opacity": attn[h][q][k], "stroke-width": 2, "data-from": q}, lines, true);
        drawn += 1;
      }
    }
    document.body.dataset.tokenLabels = labels;
    document.body.dataset.lines = drawn;
  }
  function focus(i) {
    var lines = document.querySelectorAll("#hv-svg line");
    for (var n = 0; n < lines.length; n++)
      lines[n].style.display = i < 0 || +lines[n].getAttribute("data-from") === i ? "" : "none";
  }
  function headSwatches() {
    var box = document.getElementById("hv-heads");
    while (box.firstChild) box.removeChild(box.firstChild);
    state.heads.forEach(function (on, h) {
      var s = el("span", {"class": "swatch" + (on ? "" : " off"), title: "head " + h + " (double-click: only this head)"}, box);
      s.style.background = headColor(h);
      s.addEventListener("click", function () { state.heads[h] = !state.heads[h]; headSwatches(); drawHeadView(); });
      s.addEventListener("dblclick", function () {
        state.heads = state.heads.map(function (_, j) { return j === h; }); headSwatches(); drawHeadView();
      });
    });
  }

  // ---- heat maps on canvases: model view (weights) and difference view (changes) ----
  function heatmap(matrix, size, color) {
    var canvas = el("canvas", {width: size, height: size});
    var ctx = canvas.getContext("2d"), cell = size / T;
    for (var q = 0; q < T; q++) for (var k = 0; k < T; k++) {
      ctx.fillStyle = color(matrix[q][k]);
      ctx.fillRect(k * cell, q * cell, Math.ceil(cell), Math.ceil(cell));
    }
    return canvas;
  }
  function grid(container, matrices, color, caption, onPick) {
    container.style.gridTemplateColumns = "4em repeat(" + H + ", max-content)";
    el("div", {}, container);
    for (var h = 0; h < H; h++) el("div", {"class": "rowhead"}, container).textContent = "head " + h;
    var size = Math.max(48, Math.min(110, Math.floor(1000 / H)));
    var cells = 0;
    for (var l = 0; l < L; l++) {
      el("div", {"class": "rowhead"}, container).textContent = "layer " + l;
      for (h = 0; h < H; h++) {
        var cell = el("div", {"class": "cell", title: "layer " + l + ", head " + h}, container);
        cell.appendChild(heatmap(matrices[l][h], size, color));
        if (caption) el("div", {}, cell).textContent = caption(l, h);
        cell.addEventListener("click", onPick.bind(null, l, h));
        cells += 1;
      }
    }
    return cells;
  }
  function pick(l, h) {
    state.layer = l; state.head = h;
    document.getElementById("hv-layer").value = l;
    state.heads = state.heads.map(function (_, j) { return j === h; });
    headSwatches(); drawHeadView(); syncNeuron(); location.hash = "#head-view";
  }

  // ---- neuron view: the query vector, each key, their elementwise product, the score and the weight ----
  function vector(values, scale, parent) {
    var td = el("td", {"class": "vec"}, parent);
    values.forEach(function (v) {
      var s = el("span", {title: v.toFixed(3)}, td), a = Math.min(1, Math.abs(v) / scale);
      s.style.background = v >= 0 ? "rgba(33,102,172," + a + ")" : "rgba(214,96,77," + a + ")";
    });
  }
  function maxAbs(rows) {
    return rows.reduce(function (m, r) { return r.reduce(function (n, v) { return Math.max(n, Math.abs(v)); }, m); }, 1e-6);
  }
  function drawNeuron() {
    var table = document.getElementById("nv-table");
    while (table.firstChild) table.removeChild(table.firstChild);
    var note = document.getElementById("nv-note");
    if (!all.queries) return;
    if (!all.queries[state.layer]) {
      note.textContent = "This page holds the query and key vectors of layer " + data.neuron_layers.join(", ") +
        " only (to stay small); open it with --layer " + state.layer + " for this layer's.";
      return;
    }
    note.textContent = "";
    var l = state.layer, h = state.head, q = all.queries[l][h][state.query], keys = all.keys[l][h];
    var products = keys.map(function (k) { return k.map(function (v, d) { return v * q[d]; }); });
    var vs = maxAbs(keys.concat([q])), ps = maxAbs(products), scale = 1 / Math.sqrt(q.length);
    var head = el("tr", {}, table);
    ["", "query q / keys k", "q × k (elementwise)", "q·k/√d", "weight"].forEach(function (t) { el("th", {}, head).textContent = t; });
    var qr = el("tr", {}, table);
    el("td", {}, qr).textContent = data.tokens[state.query] + " (query)";
    vector(q, vs, qr); el("td", {}, qr); el("td", {}, qr); el("td", {}, qr);
    keys.forEach(function (k, j) {
      var tr = el("tr", {}, table);
      el("td", {}, tr).textContent = data.tokens[j] + (data.readings[j] ? " " + data.readings[j] : "");
      vector(k, vs, tr); vector(products[j], ps, tr);
      el("td", {}, tr).textContent = (products[j].reduce(function (a, b) { return a + b; }, 0) * scale).toFixed(2);
      var w = all.attn[l][h][state.query][j], td = el("td", {}, tr);
      el("span", {"class": "bar"}, td).style.width = Math.round(120 * w) + "px";
      el("span", {}, td).textContent = " " + w.toFixed(3);
    });
    document.body.dataset.neuronRows = keys.length;
  }
  function syncNeuron() {
    document.getElementById("nv-layer").value = state.layer;
    document.getElementById("nv-head").value = state.head;
    var spans = document.querySelectorAll("#nv-query span");
    for (var i = 0; i < spans.length; i++) spans[i].className = i === state.query ? "on" : "";
    drawNeuron();
  }

  function setUp() {
    var layer = document.getElementById("hv-layer");
    options(layer, L, "layer", state.layer);
    layer.addEventListener("change", function () { state.layer = +layer.value; drawHeadView(); });
    headSwatches(); drawHeadView();
    var cells = grid(document.getElementById("mv-grid"), all.attn,
                     function (w) { return "rgba(68,119,170," + w + ")"; }, null, pick);
    document.body.dataset.modelCells = cells;
    if (all.queries) {
      var nl = document.getElementById("nv-layer"), nh = document.getElementById("nv-head");
      options(nl, L, "layer", state.layer); options(nh, H, "head", state.head);
      nl.addEventListener("change", function () { state.layer = +nl.value; drawNeuron(); });
      nh.addEventListener("change", function () { state.head = +nh.value; drawNeuron(); });
      var box = document.getElementById("nv-query");
      data.tokens.forEach(function (t, i) {
        el("span", {}, box).textContent = t;
        box.lastChild.addEventListener("click", function () { state.query = i; syncNeuron(); });
      });
      syncNeuron();
    }
    Object.keys(data.without || {}).forEach(function (branch) {
      var change = data.without[branch];
      var box = document.getElementById("dv-" + branch);
      var diffs = all.attn.map(function (layer, l) { return layer.map(function (m, h) {
        return m.map(function (row, q) { return row.map(function (w, k) { return w - change.attn[l][h][q][k]; }); });
      }); });
      grid(box, diffs, function (d) {
        var a = Math.min(1, Math.abs(d) * 4);
        return d >= 0 ? "rgba(33,102,172," + a + ")" : "rgba(214,96,77," + a + ")";
      }, function (l, h) { return "changed " + change.changed[l][h].toFixed(3); }, pick);
    });
    document.body.dataset.ready = "1";
    document.body.dataset.errors = errors;
  }
  setUp();
})();
