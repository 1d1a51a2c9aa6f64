/** Small helpers shared by the benchmarks: percentiles, timing, JSON-line output. */
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

/** Prints one benchmark result as a JSON line (the format `npm run bench` promises). */
export const emit = (record: Record<string, unknown>): void => {
  sampleRss()
  console.log(JSON.stringify(record))
}
