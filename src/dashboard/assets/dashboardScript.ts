/**
 * The cluster page's script (served as `/assets/dashboard.js`): plain browser JavaScript, no
 * framework. It follows `/api/events` (server-sent events carrying the `ClusterStatus` every
 * half second; reconnecting by itself) and renders one card per node; its buttons call the HTTP
 * API (`src/dashboard/Api.ts`) and report each outcome in the activity list. In `serve` mode the
 * feed carries every server's nodes, and a page whose server went away moves to another one.
 *
 * Kept as a string (no template literals or interpolation inside) so the package ships it as is.
 */
export const DASHBOARD_SCRIPT = `
"use strict";
(function () {
  var state = { status: null, activity: [] };
  var $ = function (id) { return document.getElementById(id); };
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function clock() { var d = new Date(); return d.toTimeString().slice(0, 8); }
  function log(text, bad) {
    state.activity.unshift({ at: clock(), text: text, bad: !!bad });
    state.activity = state.activity.slice(0, 30);
    $("activity").innerHTML = state.activity.map(function (a) {
      return '<li class="' + (a.bad ? "err" : "") + '"><time>' + a.at + "</time>" + esc(a.text) + "</li>";
    }).join("");
  }
  function call(method, path, body) {
    var started = performance.now();
    return fetch(path, {
      method: method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = { message: t }; }
        return { ok: r.ok, status: r.status, data: data, ms: Math.round(performance.now() - started) };
      });
    }, function (e) { return { ok: false, status: 0, data: { message: String(e) }, ms: 0 }; });
  }
  function failure(r) { return (r.data && (r.data.message || r.data.error)) || ("HTTP " + r.status); }

  var leaderOf = function (s) {
    for (var i = 0; i < s.nodes.length; i++) if (s.nodes[i].up && s.nodes[i].role === "Leader") return s.nodes[i];
    return null;
  };

  function stat(label, value) { return '<div class="stat"><span>' + label + "</span><b>" + esc(value) + "</b></div>"; }

  function tailHtml(n) {
    if (!n.up) return '<li class="internal">(down)</li>';
    return n.tail.slice(-8).map(function (l) {
      var internal = l.text.charAt(0) === "(";
      return '<li title="' + esc(l.text) + '"><span class="idx">#' + l.index + (l.term === null ? "" : " t" + l.term) + "</span>" +
        '<span class="' + (internal ? "internal" : "") + '">' + esc(l.text) + "</span></li>";
    }).join("");
  }

  function cardHtml(n, s) {
    var controls = s.partitions !== null;
    var isolated = controls && s.partitions.isolated.indexOf(n.id) >= 0;
    var cut = controls && s.partitions.cuts.some(function (c) { return c[0] === n.id || c[1] === n.id; });
    var role = n.up ? n.role : "Down";
    var kind = n.up ? (n.voters.indexOf(n.id) >= 0 ? "voter" : n.learners.indexOf(n.id) >= 0 ? "learner" : "joining") : "";
    var h = '<h2><span class="id">' + esc(n.id) + '</span><span class="pill ' + role + '">' + role + "</span>" +
      (kind ? '<span class="pill kind">' + kind + "</span>" : "") +
      (isolated ? '<span class="pill cut">isolated</span>' : cut ? '<span class="pill cut">link cut</span>' : "") +
      '<span class="health"><span class="dot ' + (n.healthy ? "ok" : "bad") + '"></span>' + (n.healthy ? "healthy" : "unhealthy") + "</span></h2>";
    h += '<div class="stats">' + stat("term", n.term) + stat("commit", n.commit) + stat("applied", n.applied) + stat("lag", n.lag) +
      stat("log", n.lastLogIndex) + stat("keys", n.keys) + stat("commits/s", n.commitsPerSecond) + stat("leader", n.leader || "—") + "</div>";
    h += '<div class="problems">' + esc(n.up ? n.problems.join("; ") : (n.down || "down")) + "</div>";
    var b = "";
    if (n.up && role !== "Leader" && kind === "voter") b += '<button data-act="transfer" data-id="' + esc(n.id) + '">Make leader</button>';
    if (controls) {
      if (n.up) b += '<button class="danger" data-act="kill" data-id="' + esc(n.id) + '">Kill</button>';
      // A serve-mode node is a process of its own: kuilt up (--restart-after) restarts it, not the page.
      else if (s.mode === "cluster") b += '<button class="primary" data-act="restart" data-id="' + esc(n.id) + '">Restart</button>';
      if (isolated || cut) b += '<button data-act="heal" data-id="' + esc(n.id) + '">Heal links</button>';
      else if (n.up) b += '<button data-act="isolate" data-id="' + esc(n.id) + '">Isolate</button>';
    }
    h += '<div class="buttons">' + b + "</div>";
    h += '<ul class="tail">' + tailHtml(n) + "</ul>";
    return h;
  }

  function render(s) {
    state.status = s;
    var leader = leaderOf(s);
    var rate = 0;
    if (leader) rate = leader.commitsPerSecond;
    $("mode").textContent = s.mode === "cluster" ? "cluster · " + s.nodes.length + " nodes in one process" : "serve · " + s.server;
    $("leader").textContent = leader ? leader.id : "none";
    $("term").textContent = leader ? leader.term : Math.max.apply(null, s.nodes.map(function (n) { return n.term; }).concat([0]));
    $("commit").textContent = leader ? leader.commit : "—";
    $("rate").textContent = rate;
    var box = $("nodes");
    var seen = {};
    s.nodes.forEach(function (n) {
      seen[n.id] = true;
      var el = box.querySelector('[data-node="' + CSS.escape(n.id) + '"]');
      if (!el) {
        el = document.createElement("section");
        el.className = "card node";
        el.setAttribute("data-node", n.id);
        box.appendChild(el);
      }
      el.setAttribute("data-role", n.up ? n.role : "Down");
      el.classList.toggle("isdown", !n.up);
      el.innerHTML = cardHtml(n, s);
    });
    Array.prototype.slice.call(box.children).forEach(function (el) { if (!seen[el.getAttribute("data-node")]) el.remove(); });
    var any = s.nodes.filter(function (n) { return n.up; })[0];
    var m = any ? { voters: any.voters, learners: any.learners } : { voters: [], learners: [] };
    $("members").innerHTML = "<div><b>voters</b> " + (m.voters.map(esc).join(", ") || "—") + "</div><div><b>learners</b> " +
      (m.learners.map(esc).join(", ") || "—") + "</div>";
    var controls = s.partitions !== null;
    $("faults").style.display = controls ? "" : "none";
    if (controls) {
      var cuts = s.partitions.isolated.map(function (i) { return i + " isolated"; })
        .concat(s.partitions.cuts.map(function (c) { return c[0] + " ✕ " + c[1]; }));
      $("cuts").textContent = cuts.length ? cuts.join(", ") : "no link cut";
      ["cut-a", "cut-b"].forEach(function (id) {
        var sel = $(id), v = sel.value;
        var ids = s.nodes.map(function (n) { return n.id; });
        if (sel.options.length !== ids.length) sel.innerHTML = ids.map(function (i) { return "<option>" + esc(i) + "</option>"; }).join("");
        if (v) sel.value = v;
      });
    }
  }

  // In serve mode every server serves this page: when ours stops answering (it was killed), move
  // to another server of the cluster, so the page outlives any one node.
  var failures = 0;
  function moveElsewhere() {
    var s = state.status;
    if (!s || s.mode !== "serve" || s.peers.length === 0) return;
    var peers = s.peers;
    (function probe(i) {
      if (i >= peers.length) return;
      // Another origin: an opaque answer is enough to know the server is up.
      fetch(peers[i].url + "/health", { mode: "no-cors" }).then(function () {
        location.href = peers[i].url + "/";
      }, function () { probe(i + 1); });
    })(0);
  }
  function connect() {
    var es = new EventSource("/api/events");
    es.addEventListener("status", function (e) {
      failures = 0;
      $("live").className = "dot ok";
      $("livetext").textContent = "live";
      render(JSON.parse(e.data));
    });
    es.onerror = function () {
      $("live").className = "dot bad";
      $("livetext").textContent = "reconnecting";
      if (++failures >= 3) moveElsewhere();
    };
  }

  function act(kind, id) {
    var done = function (what) {
      return function (r) { log(r.ok ? what + " (" + r.ms + " ms)" : what + " failed: " + failure(r), !r.ok); };
    };
    if (kind === "transfer") return call("POST", "/api/transfer", { target: id }).then(done("leadership → " + id));
    return call("POST", "/api/nodes/" + encodeURIComponent(id) + "/" + kind).then(done(kind + " " + id));
  }

  document.addEventListener("click", function (e) {
    var t = e.target.closest("button[data-act]");
    if (!t) return;
    t.disabled = true;
    act(t.getAttribute("data-act"), t.getAttribute("data-id"));
  });

  $("put-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var key = $("put-key").value, value = $("put-value").value;
    if (!key) return log("a key is needed", true);
    call("PUT", "/api/kv", { key: key, value: value }).then(function (r) {
      if (r.ok) log("put " + key + " = " + value + " → index " + r.data.result.revision + " via " + r.data.node + " (" + r.ms + " ms)");
      else log("put " + key + " failed: " + failure(r), true);
    });
  });
  $("get-btn").addEventListener("click", function () {
    var key = $("put-key").value;
    if (!key) return log("a key is needed", true);
    call("GET", "/api/kv?key=" + encodeURIComponent(key)).then(function (r) {
      if (r.status === 404) log("get " + key + ": not set (index " + r.data.index + ")");
      else if (r.ok) log("get " + key + " = " + r.data.value + " (revision " + r.data.revision + ", read at " + r.data.index + ")");
      else log("get " + key + " failed: " + failure(r), true);
    });
  });
  $("transfer-btn").addEventListener("click", function () {
    call("POST", "/api/transfer", {}).then(function (r) {
      log(r.ok ? "leadership → " + r.data.leader + " (" + r.ms + " ms)" : "transfer failed: " + failure(r), !r.ok);
    });
  });
  $("member-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var id = $("member-id").value, action = e.submitter ? e.submitter.value : "add";
    if (!id) return log("a node id is needed", true);
    log(action + " " + id + " …");
    call("POST", "/api/members", { action: action, id: id }).then(function (r) {
      log(r.ok ? action + " " + id + ": voters " + r.data.voters.join(", ") + (r.data.learners.length ? "; learners " + r.data.learners.join(", ") : "")
        : action + " " + id + " failed: " + failure(r), !r.ok);
    });
  });
  $("cut-btn").addEventListener("click", function () {
    var a = $("cut-a").value, b = $("cut-b").value;
    call("POST", "/api/cut", { a: a, b: b }).then(function (r) { log(r.ok ? "cut " + a + " ✕ " + b : "cut failed: " + failure(r), !r.ok); });
  });
  $("heal-btn").addEventListener("click", function () {
    call("POST", "/api/heal").then(function (r) { log(r.ok ? "healed every link" : "heal failed: " + failure(r), !r.ok); });
  });
  connect();
})();
`
