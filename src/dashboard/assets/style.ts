/**
 * The dashboard's style sheet (served as `/assets/kuilt.css`), shared by the cluster page and the
 * game page. Plain CSS, sized for a laptop screen (1280–1440 px wide): the node cards of a
 * three-node cluster and the control panels fit one screen.
 */
export const STYLE = `
:root {
  --bg: #f4f5f7; --card: #ffffff; --ink: #1f2430; --muted: #6b7280; --line: #e3e6eb;
  --leader: #c77700; --follower: #2563eb; --candidate: #c0267a; --learner: #7c3aed; --down: #8a919c;
  --ok: #15803d; --bad: #b91c1c; --accent: #111827;
  font-family: ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 14px; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
header.top { display: flex; align-items: center; gap: 18px; padding: 10px 20px; background: var(--accent); color: #f9fafb; }
header.top .brand { font-weight: 700; font-size: 18px; letter-spacing: .5px; }
header.top .brand small { font-weight: 400; color: #9ca3af; margin-left: 6px; font-size: 13px; }
header.top .facts { display: flex; gap: 16px; flex-wrap: wrap; color: #e5e7eb; }
header.top .facts b { color: #fff; }
header.top .spacer { flex: 1; }
header.top a { color: #cbd5e1; }
.live { display: inline-flex; align-items: center; gap: 6px; color: #d1d5db; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--down); display: inline-block; }
.dot.ok { background: #22c55e; } .dot.bad { background: #ef4444; }
main { padding: 14px 20px 20px; display: grid; gap: 14px; }
.nodes { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.node { border-top: 4px solid var(--down); display: flex; flex-direction: column; gap: 8px; min-height: 300px; }
.node[data-role="Leader"] { border-top-color: var(--leader); }
.node[data-role="Follower"] { border-top-color: var(--follower); }
.node[data-role="Candidate"] { border-top-color: var(--candidate); }
.node[data-role="Learner"] { border-top-color: var(--learner); }
.node.isdown { opacity: .75; }
.node h2 { margin: 0; font-size: 18px; display: flex; align-items: center; gap: 8px; }
.pill { font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 999px; color: #fff; background: var(--down); }
.pill.Leader { background: var(--leader); } .pill.Follower { background: var(--follower); }
.pill.Candidate { background: var(--candidate); } .pill.Learner { background: var(--learner); }
.pill.kind { background: #eef0f3; color: var(--muted); font-weight: 500; }
.pill.cut { background: #fee2e2; color: var(--bad); }
.health { margin-left: auto; font-size: 12px; font-weight: 500; color: var(--muted); display: inline-flex; gap: 5px; align-items: center; }
.stats { display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px 8px; }
.stat { display: flex; flex-direction: column; }
.stat span { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .4px; }
.stat b { font-size: 16px; font-variant-numeric: tabular-nums; }
.problems { color: var(--bad); font-size: 12px; min-height: 16px; }
.buttons { display: flex; gap: 6px; flex-wrap: wrap; }
button { font: inherit; font-size: 13px; padding: 5px 10px; border-radius: 6px; border: 1px solid #cfd4db; background: #fff; color: var(--ink); cursor: pointer; }
button:hover { background: #f3f4f6; }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.primary:hover { background: #374151; }
button.danger { color: var(--bad); border-color: #f3c4c4; }
button:disabled { opacity: .45; cursor: default; }
.tail { margin: 0; padding: 6px 8px; list-style: none; background: #f8f9fb; border: 1px solid var(--line); border-radius: 6px;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; line-height: 17px;
  height: 146px; overflow: hidden; display: flex; flex-direction: column; justify-content: flex-end; }
.tail li { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tail .idx { color: var(--muted); display: inline-block; min-width: 52px; }
.tail .internal { color: var(--muted); font-style: italic; }
.panels { display: grid; grid-template-columns: 1.1fr 1.2fr 1fr; gap: 14px; }
.panels h3 { margin: 0 0 8px; font-size: 14px; text-transform: uppercase; letter-spacing: .5px; color: var(--muted); }
.row { display: flex; gap: 6px; margin-bottom: 8px; align-items: center; flex-wrap: wrap; }
input, select { font: inherit; font-size: 13px; padding: 5px 8px; border: 1px solid #cfd4db; border-radius: 6px; min-width: 0; }
input.key { width: 110px; } input.value { flex: 1; min-width: 120px; }
.activity { margin: 0; padding: 0; list-style: none; font-size: 12px; max-height: 150px; overflow: auto; }
.activity li { padding: 3px 0; border-bottom: 1px dashed var(--line); }
.activity .err { color: var(--bad); }
.activity time { color: var(--muted); margin-right: 6px; font-variant-numeric: tabular-nums; }
.members { font-size: 13px; line-height: 22px; }
.muted { color: var(--muted); }
.game { display: grid; grid-template-columns: auto 1fr; gap: 24px; align-items: start; max-width: 760px; }
.board { display: grid; grid-template-columns: repeat(3, 92px); grid-template-rows: repeat(3, 92px); gap: 6px; }
.board button { font-size: 44px; font-weight: 700; height: 92px; width: 92px; padding: 0; }
.board button.X { color: var(--follower); } .board button.O { color: var(--leader); }
.banner { font-size: 18px; font-weight: 600; margin-bottom: 8px; }
`
