/** Small helpers shared by the benchmarks: percentiles, timing, JSON-line output, same-run ratios. */
import { Effect } from "effect"
import { loadavg } from "node:os"
import { performance } from "node:perf_hooks"

export const now = (): number => performance.now()

export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export const summarize = (samplesMs: Array<number>) => {
  samplesMs.sort((a, b) => a - b)
  return {
    n: samplesMs.length,
    p50_us: round(percentile(samplesMs, 50) * 1000),
    p99_us: round(percentile(samplesMs, 99) * 1000),
    max_us: round(percentile(samplesMs, 100) * 1000)
  }
}

export const round = (x: number, digits = 1): number => {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

let peakRss = 0
export const sampleRss = (): number => {
  const rss = process.memoryUsage().rss
  if (rss > peakRss) peakRss = rss
  return peakRss
}

export type BenchRecord = { readonly bench: string } & Record<string, unknown>

/**
 * How a figure compares with a baseline measured earlier in the same run: `metric` of this record
 * over `baselineMetric` (default: the same key) of the record named `vs`.
 */
export interface Comparison {
  readonly vs: string
  readonly metric: string
  readonly baselineMetric?: string
}

const printed = new Map<string, BenchRecord>()

/**
 * Prints one benchmark result as a JSON line (the format `npm run bench` promises). With
 * `compare`, the line also carries `vs`, `baseline` and `ratio` (this figure / the baseline's).
 */
export const emit = (record: BenchRecord, compare?: Comparison): void => {
  sampleRss()
  let line: BenchRecord = record
  const base = compare === undefined ? undefined : printed.get(compare.vs)
  if (compare !== undefined && base !== undefined) {
    const value = record[compare.metric]
    const baseline = base[compare.baselineMetric ?? compare.metric]
    if (typeof value === "number" && typeof baseline === "number" && baseline > 0) {
      line = { ...record, vs: compare.vs, baseline, ratio: round(value / baseline, 3) }
    }
  }
  printed.set(record.bench, line)
  console.log(JSON.stringify(line))
}

/** Every line printed so far, by bench name (with its ratio fields). */
export const printedRecords = (): ReadonlyMap<string, BenchRecord> => printed

/** The peak resident set size sampled so far, in MiB. */
export const peakRssMiB = (): number => round(sampleRss() / (1024 * 1024))

/**
 * Runs a benchmark program to its end, then prints the peak RSS and a summary line with every
 * ratio printed so far, and exits (0, or 1 with the error).
 */
export const runBench = <E>(main: Effect.Effect<void, E>): void => {
  Effect.runPromise(Effect.andThen(main, () => {
    emit({ bench: "process.peak_rss", mib: peakRssMiB() })
    const ratios: Record<string, number> = {}
    for (const [name, line] of printedRecords()) if (typeof line.ratio === "number") ratios[name] = line.ratio
    emit({ bench: "summary.ratios", ...ratios })
  })).then(
    () => process.exit(0),
    (e) => {
      console.error(e)
      process.exit(1)
    }
  )
}

/** The machine's 1-minute load average (printed beside figures measured on a shared machine). */
export const loadAverage = (): number => round(loadavg()[0]!, 2)

/** A plain-text table: a header row, a rule, then the rows; columns padded to their widest cell. */
export const formatTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  const cells = [header, ...rows].map((r) => r.map(String))
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n")
}
