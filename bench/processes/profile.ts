/**
 * Reads a V8 CPU profile (`--cpu-prof`) over a time window: the functions with the most self time,
 * and the longest synchronous stretches — runs of consecutive samples with no `(idle)` sample
 * between them, i.e. time the event loop did not get back — each with the functions that ran
 * during it (self time, and kuilt's own functions by inclusive time, which name the engine or
 * fabric step that held the thread).
 *
 * Profile timestamps are `process.hrtime` microseconds of the profiled process, the time base the
 * node processes report their windows in. Positions are mapped back to the TypeScript source:
 * `tsx` runs each file as esbuild's whitespace-minified output (one line), so the profile's line
 * and column are re-derived by transforming the file with the same options and reading the map.
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

export interface Stretch {
  /** When it began, in ms after the window's start. */
  readonly t_ms: number
  readonly ms: number
  /** Share of the stretch spent in the garbage collector. */
  readonly gc_pct: number
  readonly top_self: ReadonlyArray<FunctionTime>
  /** kuilt's functions (src/, layers/, services/) by inclusive time within the stretch. */
  readonly kuilt_inclusive: ReadonlyArray<FunctionTime>
}

export interface ProfileSummary {
  /** The window, in the profiled process's hrtime µs (for `profileCli.ts`). */
  readonly from_us: number
  readonly to_us: number
  readonly window_ms: number
  readonly busy_pct: number
  readonly top_self: ReadonlyArray<FunctionTime>
  readonly kuilt_inclusive: ReadonlyArray<FunctionTime>
  readonly longest_stretches: ReadonlyArray<Stretch>
  readonly stretches_over_50ms: number
  readonly stretches_over_100ms: number
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

/** Summarises the profile at `file` between `fromUs` and `toUs` (hrtime µs of that process). */
export const summarizeProfile = (file: string, fromUs: number, toUs: number): ProfileSummary => {
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

  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let windowUs = 0
  let idleUs = 0
  const stretches: Array<Stretch> = []
  let run: { startUs: number; us: number; gcUs: number; self: Map<string, number>; incl: Map<string, number> } | undefined
  const closeRun = () => {
    if (run === undefined) return
    stretches.push({
      t_ms: round((run.startUs - fromUs) / 1000),
      ms: round(run.us / 1000),
      gc_pct: round((run.gcUs / Math.max(1, run.us)) * 100),
      top_self: top(run.self, run.us, 6),
      kuilt_inclusive: top(run.incl, run.us, 10)
    })
    run = undefined
  }

  let t = profile.startTime
  const { samples, timeDeltas } = profile
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i]!
    // A sample stands for the time until the next one.
    const us = i + 1 < samples.length ? timeDeltas[i + 1]! : 0
    if (t < fromUs || t > toUs) continue
    windowUs += us
    const node = byId.get(samples[i]!)!
    const name = node.callFrame.functionName
    if (name === "(idle)") {
      idleUs += us
      closeRun()
      continue
    }
    const key = label(node.callFrame)
    add(self, key, us)
    const kuilt = stackOf(node.id)
    for (const k of kuilt) add(inclusive, k, us)
    run ??= { startUs: t, us: 0, gcUs: 0, self: new Map(), incl: new Map() }
    run.us += us
    if (name === "(garbage collector)") run.gcUs += us
    add(run.self, key, us)
    for (const k of kuilt) add(run.incl, k, us)
  }
  closeRun()
  const busyUs = windowUs - idleUs
  stretches.sort((a, b) => b.ms - a.ms)
  return {
    from_us: fromUs,
    to_us: toUs,
    window_ms: round(windowUs / 1000),
    busy_pct: round((busyUs / Math.max(1, windowUs)) * 100),
    top_self: top(self, busyUs, 25),
    kuilt_inclusive: top(inclusive, busyUs, 25),
    longest_stretches: stretches.slice(0, 6),
    stretches_over_50ms: stretches.filter((s) => s.ms >= 50).length,
    stretches_over_100ms: stretches.filter((s) => s.ms >= 100).length
  }
}
