/**
 * Reads a V8 CPU profile (`--cpu-prof`) over a time window: the functions with the most self time,
 * kuilt's own functions by inclusive time, and — for each stall the process recorded (its event
 * loop turned late, `probes.ts`) — what ran during that stall: the samples that fall inside it,
 * by self time and by kuilt function (which names the engine or fabric step that held the thread).
 *
 * A busy period in a profile (no `(idle)` sample) is not a stretch without yielding: a loaded
 * process turns its event loop without ever idling. The stalls are. On a busy machine a thread is
 * also often descheduled; the sampler then leaves a long gap, so each sample's weight is capped
 * at three sampling intervals: weights estimate CPU time, spans measure wall time.
 *
 * Profile timestamps are `process.hrtime` microseconds of the profiled process, the time base the
 * node processes report their windows and stalls in. Positions are mapped back to the TypeScript
 * source: `tsx` runs each file as esbuild's whitespace-minified output (one line), so the
 * profile's line and column are re-derived by transforming the file with the same options.
 */
import { transformSync } from "esbuild"
import { readFileSync } from "node:fs"
import { SourceMap } from "node:module"
import { fileURLToPath } from "node:url"
import { round } from "../stats.js"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface FunctionTime {
  readonly fn: string
  readonly ms: number
  readonly pct: number
}

/** A stall to explain: its span in the profiled process's hrtime µs, and what the process saw. */
export interface StallWindow {
  readonly fromUs: number
  readonly toUs: number
  /** Carried to the output as is (e.g. the stall's length and its CPU / run-queue split). */
  readonly info: Record<string, number>
}

export interface StallProfile {
  /** When it began, in ms after the window's start. */
  readonly t_ms: number
  readonly info: Record<string, number>
  /** Samples inside the stall: estimated CPU time, and the share of it in the garbage collector. */
  readonly sampled_on_cpu_ms: number
  readonly gc_pct: number
  readonly top_self: ReadonlyArray<FunctionTime>
  /** kuilt's functions (src/, layers/, services/) by inclusive time within the stall. */
  readonly kuilt_inclusive: ReadonlyArray<FunctionTime>
}

export interface ProfileSummary {
  /** The window, in the profiled process's hrtime µs (for `profileCli.ts`). */
  readonly from_us: number
  readonly to_us: number
  readonly window_ms: number
  /** The sampler's median interval (µs): `--cpu-prof-interval`, 1 ms by default. */
  readonly sample_interval_us: number
  /** Estimated time on a CPU (capped sample weights), and time not idle, in % of the window. */
  readonly on_cpu_pct: number
  readonly not_idle_pct: number
  /** By estimated CPU time; percentages of the estimated CPU time. */
  readonly top_self: ReadonlyArray<FunctionTime>
  readonly kuilt_inclusive: ReadonlyArray<FunctionTime>
  readonly stalls: ReadonlyArray<StallProfile>
}

/** The options `tsx` transforms a TypeScript file with (its output is reproduced exactly). */
const TSX_TRANSFORM = {
  loader: "ts",
  format: "esm",
  target: `node${process.versions.node}`,
  sourcemap: true,
  minifyWhitespace: true,
  keepNames: true
} as const

const sources = new Map<string, { readonly map: SourceMap; readonly lines: ReadonlyArray<string> } | null>()

/** The TypeScript line (1-based) and its text for a position in tsx's output of `path`. */
const original = (path: string, line: number, column: number): { line: number; text: string } | undefined => {
  let known = sources.get(path)
  if (known === undefined) {
    try {
      const source = readFileSync(path, "utf8")
      const out = transformSync(source, { ...TSX_TRANSFORM, sourcefile: path })
      known = { map: new SourceMap(JSON.parse(out.map)), lines: source.split("\n") }
    } catch {
      known = null
    }
    sources.set(path, known)
  }
  if (known === null) return undefined
  const entry = known.map.findEntry(line, column) as { originalLine?: number }
  if (entry.originalLine === undefined) return undefined
  return { line: entry.originalLine + 1, text: (known.lines[entry.originalLine] ?? "").trim().slice(0, 48) }
}

const labels = new Map<string, string>()

/**
 * `fn path:line` with the path cut to the repository (or to the npm package); TypeScript files
 * of the repository are mapped back to their source line, and an anonymous function there is
 * shown with the start of that line.
 */
const label = (f: CallFrame): string => {
  const key = `${f.functionName}|${f.url}|${f.lineNumber}|${f.columnNumber}`
  const cached = labels.get(key)
  if (cached !== undefined) return cached
  const name = f.functionName === "" ? "(anonymous)" : f.functionName
  let text = name
  if (f.url !== "") {
    let path = f.url.startsWith("file://") ? fileURLToPath(f.url) : f.url
    let line = f.lineNumber + 1
    let snippet = ""
    if (path.endsWith(".ts") && !path.includes("node_modules")) {
      const o = original(path, f.lineNumber, f.columnNumber)
      if (o !== undefined) {
        line = o.line
        if (name === "(anonymous)") snippet = ` [${o.text}]`
      }
    }
    const nm = path.lastIndexOf("node_modules/")
    if (nm >= 0) path = path.slice(nm + "node_modules/".length)
    else {
      const m = /\/(src|layers|services|bench)\/.*/.exec(path)
      if (m !== null) path = m[0].slice(1)
    }
    text = `${name} ${path}:${line}${snippet}`
  }
  labels.set(key, text)
  return text
}

const isKuilt = (f: CallFrame) => f.url !== "" && !f.url.includes("node_modules") && /\/(src|layers|services)\//.test(f.url)

const top = (m: Map<string, number>, totalUs: number, n: number): Array<FunctionTime> =>
  [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([fn, us]) => ({
    fn,
    ms: round(us / 1000),
    pct: round((us / Math.max(1, totalUs)) * 100)
  }))

const add = (m: Map<string, number>, key: string, us: number) => m.set(key, (m.get(key) ?? 0) + us)

interface Sample {
  readonly t: number
  readonly weight: number
  readonly wall: number
  readonly node: ProfileNode
}

/**
 * Summarises the profile at `file` between `fromUs` and `toUs` (hrtime µs of that process), and
 * what ran during each of `stalls`.
 */
export const summarizeProfile = (
  file: string,
  fromUs: number,
  toUs: number,
  stalls: ReadonlyArray<StallWindow> = []
): ProfileSummary => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of profile.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  // The kuilt functions on each node's stack, computed once per node.
  const kuiltStack = new Map<number, ReadonlyArray<string>>()
  const stackOf = (id: number): ReadonlyArray<string> => {
    const known = kuiltStack.get(id)
    if (known !== undefined) return known
    const names = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame
      if (isKuilt(f)) names.add(label(f))
    }
    const list = [...names]
    kuiltStack.set(id, list)
    return list
  }

  // Samples in the window; a sample stands for the time until the next one.
  const { samples, timeDeltas } = profile
  const raw: Array<{ t: number; wall: number; node: ProfileNode }> = []
  let t = profile.startTime
  for (let i = 0; i + 1 < samples.length; i++) {
    t += timeDeltas[i]!
    if (t >= fromUs && t <= toUs) raw.push({ t, wall: timeDeltas[i + 1]!, node: byId.get(samples[i]!)! })
  }
  const walls = raw.map((r) => r.wall).sort((a, b) => a - b)
  const interval = walls.length === 0 ? 1000 : Math.max(1, walls[Math.floor(walls.length / 2)]!)
  const cap = 3 * interval
  const all: Array<Sample> = raw.map((r) => ({ ...r, weight: Math.min(r.wall, cap) }))

  const aggregate = (within: ReadonlyArray<Sample>) => {
    const self = new Map<string, number>()
    const inclusive = new Map<string, number>()
    let busy = 0
    let gc = 0
    let idleWall = 0
    let wall = 0
    for (const smp of within) {
      wall += smp.wall
      const name = smp.node.callFrame.functionName
      if (name === "(idle)") {
        idleWall += smp.wall
        continue
      }
      busy += smp.weight
      if (name === "(garbage collector)") gc += smp.weight
      add(self, label(smp.node.callFrame), smp.weight)
      for (const k of stackOf(smp.node.id)) add(inclusive, k, smp.weight)
    }
    return { self, inclusive, busy, gc, idleWall, wall }
  }

  const whole = aggregate(all)
  const stallProfiles = stalls.map((st): StallProfile => {
    const a = aggregate(all.filter((smp) => smp.t >= st.fromUs && smp.t < st.toUs))
    return {
      t_ms: round((st.fromUs - fromUs) / 1000),
      info: st.info,
      sampled_on_cpu_ms: round(a.busy / 1000),
      gc_pct: round((a.gc / Math.max(1, a.busy)) * 100),
      top_self: top(a.self, a.busy, 8),
      kuilt_inclusive: top(a.inclusive, a.busy, 12)
    }
  })
  return {
    from_us: fromUs,
    to_us: toUs,
    window_ms: round(whole.wall / 1000),
    sample_interval_us: interval,
    on_cpu_pct: round((whole.busy / Math.max(1, whole.wall)) * 100),
    not_idle_pct: round(((whole.wall - whole.idleWall) / Math.max(1, whole.wall)) * 100),
    top_self: top(whole.self, whole.busy, 25),
    kuilt_inclusive: top(whole.inclusive, whole.busy, 25),
    stalls: stallProfiles
  }
}
