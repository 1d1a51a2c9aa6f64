/**
 * The dashboard's HTML pages: the cluster page (`/`) and the game page (`/game`), plus the game's
 * script. Static markup; everything live comes from the scripts (`dashboardScript.ts`).
 */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kuilt dashboard</title>
<link rel="stylesheet" href="/assets/kuilt.css">
</head>
<body>
<header class="top">
  <div class="brand">kuilt<small id="mode">connecting…</small></div>
  <div class="facts">
    <span>leader <b id="leader">—</b></span>
    <span>term <b id="term">—</b></span>
    <span>commit <b id="commit">—</b></span>
    <span><b id="rate">0</b> commits/s</span>
  </div>
  <div class="spacer"></div>
  <a href="/game" target="_blank">game demo</a>
  <a href="/metrics" target="_blank">metrics</a>
  <a href="/health" target="_blank">health</a>
  <span class="live"><span id="live" class="dot"></span><span id="livetext">connecting</span></span>
</header>
<main>
  <section id="nodes" class="nodes"></section>
  <section class="panels">
    <div class="card">
      <h3>Key-value store</h3>
      <form id="put-form" class="row">
        <input id="put-key" class="key" placeholder="key" autocomplete="off">
        <input id="put-value" class="value" placeholder="value" autocomplete="off">
        <button id="put-btn" class="primary" type="submit">Put</button>
        <button id="get-btn" type="button">Get</button>
      </form>
      <div class="row"><button id="transfer-btn" type="button">Transfer leadership</button>
        <span class="muted">to the most caught-up voter</span></div>
      <p class="muted">Writes go through the Raft log: a follower forwards to the leader; a get reads through a
      read fence, so it sees every write that completed before it.</p>
    </div>
    <div class="card">
      <h3>Membership and faults</h3>
      <div id="members" class="members"></div>
      <form id="member-form" class="row">
        <input id="member-id" class="key" placeholder="node id" autocomplete="off">
        <button type="submit" value="add">Add learner</button>
        <button type="submit" value="promote">Promote</button>
        <button type="submit" value="remove" class="danger">Remove</button>
      </form>
      <div id="faults">
        <div class="row"><select id="cut-a"></select><select id="cut-b"></select>
          <button id="cut-btn" type="button">Cut link</button>
          <button id="heal-btn" type="button">Heal all</button></div>
        <div class="muted" id="cuts"></div>
      </div>
    </div>
    <div class="card">
      <h3>Activity</h3>
      <ul id="activity" class="activity"></ul>
    </div>
  </section>
</main>
<script src="/assets/dashboard.js"></script>
</body>
</html>
`

export const GAME_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kuilt · tic-tac-toe</title>
<link rel="stylesheet" href="/assets/kuilt.css">
</head>
<body>
<header class="top">
  <div class="brand">kuilt<small>tic-tac-toe over Raft</small></div>
  <div class="spacer"></div>
  <a href="/">cluster dashboard</a>
</header>
<main>
  <div class="card game">
    <div>
      <div id="banner" class="banner">Pick a seat</div>
      <div id="board" class="board"></div>
    </div>
    <div>
      <div class="row"><button id="seat-X" data-seat="X">Play X</button><button id="seat-O" data-seat="O">Play O</button>
        <button id="new-game">New game</button></div>
      <p class="muted">Each seat is a Raft peer of one game session (X hosts, O joins). Open this page in two tabs and take one
      seat in each: a move is proposed by your seat's peer and shown once that peer applied it from the committed log, so
      both tabs see the same board. Moves out of turn or on a taken cell are refused by both peers alike.</p>
      <h3 class="muted">Committed moves (your peer's view)</h3>
      <ul id="moves" class="activity"></ul>
    </div>
  </div>
</main>
<script src="/assets/game.js"></script>
</body>
</html>
`

export const GAME_SCRIPT = `
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var seat = new URLSearchParams(location.search).get("seat");
  var source = null;
  var board = null;
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  function draw() {
    var cells = board ? board.cells : [null, null, null, null, null, null, null, null, null];
    $("board").innerHTML = cells.map(function (c, i) {
      return '<button data-cell="' + i + '" class="' + (c || "") + '"' + (!seat || c || (board && board.winner) ? " disabled" : "") + ">" + (c || "") + "</button>";
    }).join("");
    var text = "Pick a seat";
    if (seat && board) {
      text = board.winner === "draw" ? "Draw" : board.winner ? board.winner + " wins" : (board.next === seat ? "Your move (" + seat + ")" : "Waiting for " + board.next);
    } else if (seat) text = "Joining as " + seat + "…";
    $("banner").textContent = text;
    $("moves").innerHTML = (board ? board.log.slice().reverse() : []).map(function (l) { return "<li>" + esc(l) + "</li>"; }).join("");
    ["X", "O"].forEach(function (s) { $("seat-" + s).className = seat === s ? "primary" : ""; });
  }
  function take(s) {
    seat = s;
    history.replaceState(null, "", "/game?seat=" + s);
    if (source) source.close();
    source = new EventSource("/api/game/events?seat=" + s);
    source.addEventListener("board", function (e) { board = JSON.parse(e.data); draw(); });
    draw();
  }
  function post(path, body) {
    return fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); });
  }
  document.addEventListener("click", function (e) {
    var cell = e.target.closest("button[data-cell]");
    if (cell && seat) { cell.disabled = true; post("/api/game/move", { seat: seat, cell: Number(cell.getAttribute("data-cell")) }); return; }
    var s = e.target.closest("button[data-seat]");
    if (s) take(s.getAttribute("data-seat"));
  });
  $("new-game").addEventListener("click", function () { if (seat) post("/api/game/new", { seat: seat }); });
  if (seat === "X" || seat === "O") take(seat); else { seat = null; draw(); }
})();
`
