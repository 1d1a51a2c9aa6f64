/** The readable end of `npm run bench:processes`: tables of what the JSON lines said. */
import { formatTable, round } from "../stats.js"
import type { Latency, WsBaseline } from "./baselines.js"
import type { PhaseResult } from "./phase.js"
import type { Trials } from "./reelection.js"

const ms = (us: number) => (Number.isFinite(us) ? round(us / 1000, 2) : "-")

export interface RunSummary {
  readonly ws: WsBaseline | undefined
  readonly wal: (Latency & { readonly load1: number }) | undefined
  readonly phases: ReadonlyArray<PhaseResult>
  readonly trials: ReadonlyArray<Trials>
}

const phaseTable = (phases: ReadonlyArray<PhaseResult>) =>
  formatTable(
    ["phase", "commits/s", "p50 ms", "p99 ms", "LeadershipLost", "leader chg", "CQ step-downs", "lag p99/max ms (worst voter)", "stalls≥100ms (on CPU)", "runq wait%", "GC max ms", "RSS MiB", "host cpu%", "load1"],
    phases.map(({ name, record: r }) => {
      const host = r["host"] as { cpu_pct: number }
      return [
        name.replace(/^proc\.raft\./, ""),
        r["commits_per_s"] as number,
        ms(r["p50_us"] as number),
        ms(r["p99_us"] as number),
        r["leadership_lost"] as number,
        r["leader_changes"] as number,
        r["check_quorum_step_downs"] as number,
        `${r["lag_p99_ms"]} / ${r["lag_max_ms"]}`,
        `${r["stalls_over_100ms"]} (${r["stalls_over_100ms_on_cpu"]})`,
        r["runqueue_wait_pct"] as number,
        r["gc_max_ms"] as number,
        r["rss_peak_mib"] as number,
        host.cpu_pct,
        `${r["load1_start"]}→${r["load1"]}`
      ]
    })
  )

/** Stalls of at least this long are explained in the table's profile section. */
const EXPLAIN_STALL_MS = 50

const profileText = (phases: ReadonlyArray<PhaseResult>) =>
  phases.flatMap((p) =>
    p.profiles.map((f) => {
      const s = f.summary
      const lines = [
        `profile ${p.name} ${f.node} (${f.role}): on CPU ~${s.on_cpu_pct}% (not idle ${s.not_idle_pct}%) of ${s.window_ms} ms`,
        `  top self time: ${s.top_self.slice(0, 10).map((t) => `${t.fn} ${t.pct}%`).join("; ")}`
      ]
      for (const st of s.stalls.filter((x) => x.info["ms"]! >= EXPLAIN_STALL_MS).slice(0, 4)) {
        lines.push(
          `  stall ${st.info["ms"]} ms at +${st.t_ms} ms, commit index ${st.info["commit_index"]} (main thread on CPU ${st.info["cpu_ms"]} ms, waiting for a CPU ${st.info["wait_ms"]} ms; sampled ~${st.sampled_on_cpu_ms} ms, GC ${st.gc_pct}%):`,
          ...(st.top_self.length === 0
            ? ["    no samples: the thread was not running"]
            : [
              `    ${st.kuilt_inclusive.slice(0, 6).map((t) => `${t.fn} ${t.pct}%`).join("; ")}`,
              `    self: ${st.top_self.slice(0, 4).map((t) => `${t.fn} ${t.pct}%`).join("; ")}`
            ])
        )
      }
      return lines.join("\n")
    })
  ).join("\n")

export const printSummary = (s: RunSummary): void => {
  const out: Array<string> = [""]
  if (s.ws !== undefined) {
    out.push(`raw ws via relay process: round trip p50 ${ms(s.ws.rtt.p50_us)} ms, p99 ${ms(s.ws.rtt.p99_us)} ms (load ${s.ws.rtt.load1}); one-way ${s.ws.oneWay.frames_per_s} frames/s (load ${s.ws.oneWay.load1})`)
  }
  if (s.wal !== undefined) out.push(`SQLite WAL commit, synchronous=FULL: p50 ${ms(s.wal.p50_us)} ms, p99 ${ms(s.wal.p99_us)} ms (load ${s.wal.load1})`)
  if (s.phases.length > 0) out.push("", phaseTable(s.phases))
  for (const t of s.trials) {
    out.push(`re-election after SIGKILL (${t.storage}, ${t.trials} trials): new leader p50 ${t.elected_p50_ms} ms, p99 ${t.elected_p99_ms} ms; its first commit p50 ${t.commit_p50_ms} ms, p99 ${t.commit_p99_ms} ms (load ${t.load1})`)
  }
  const profiles = profileText(s.phases)
  if (profiles !== "") out.push("", profiles)
  // The table goes to stderr: stdout carries only JSON lines.
  process.stderr.write(out.join("\n") + "\n")
}
