/**
 * Effect's metric registry in the Prometheus text exposition format (version 0.0.4), for a
 * `/metrics` endpoint: every `Metric` the process updated — the Raft engine's counters and
 * histograms, the node gauges of `NodeMetrics`, the WebSocket host's — with its labels.
 *
 * Counters become `counter`, gauges `gauge`, histograms `histogram` (cumulative `_bucket{le}`
 * lines ending in `+Inf`, `_sum`, `_count`), summaries `summary` (`{quantile}`, `_sum`,
 * `_count`), frequencies a `counter` per observed value (label `key`). Names and label names are
 * reduced to Prometheus' alphabet; label values are escaped. Metrics sharing a name are grouped
 * under one `# TYPE` line, as the format requires.
 */
import { Effect, Metric, MetricState, Option } from "effect"
import type { MetricPair } from "effect"

/** The `Content-Type` of the text format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const sanitizeName = (name: string): string => {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`
}
const sanitizeLabel = (name: string): string => {
  const s = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(s) ? s : `_${s}`
}
const escapeValue = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')
const escapeHelp = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** A sample value as Prometheus writes it (`+Inf`, `-Inf`, `NaN` included). */
export const formatValue = (v: number | bigint): string => {
  if (typeof v === "bigint") return v.toString()
  if (Number.isNaN(v)) return "NaN"
  if (v === Infinity) return "+Inf"
  if (v === -Infinity) return "-Inf"
  return String(v)
}

const labelsOf = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${sanitizeLabel(k)}="${escapeValue(v)}"`).join(",")}}`

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  readonly lines: Array<string>
}

/** Renders metric pairs (from `Metric.snapshot`) as exposition text, families sorted by name. */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: Family["type"], help: string | undefined): Family => {
    let f = families.get(name)
    if (f === undefined) {
      f = { type, help, lines: [] }
      families.set(name, f)
    }
    return f
  }
  const sortKey = (p: MetricPair.MetricPair.Untyped) => `${p.metricKey.name}${labelsOf(p.metricKey.tags.map((t) => [t.key, t.value] as const))}`
  const sorted = [...pairs].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0))
  for (const pair of sorted) {
    const key = pair.metricKey
    const name = sanitizeName(key.name)
    const help = Option.getOrUndefined(key.description)
    const tags = key.tags.map((t) => [t.key, t.value] as const)
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      family(name, "counter", help).lines.push(`${name}${labelsOf(tags)} ${formatValue(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).lines.push(`${name}${labelsOf(tags)} ${formatValue(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const f = family(name, "histogram", help)
      let sawInf = false
      for (const [bound, count] of state.buckets) {
        if (bound === Infinity) sawInf = true
        f.lines.push(`${name}_bucket${labelsOf([...tags, ["le", formatValue(bound)]])} ${formatValue(count)}`)
      }
      if (!sawInf) f.lines.push(`${name}_bucket${labelsOf([...tags, ["le", "+Inf"]])} ${formatValue(state.count)}`)
      f.lines.push(`${name}_sum${labelsOf(tags)} ${formatValue(state.sum)}`)
      f.lines.push(`${name}_count${labelsOf(tags)} ${formatValue(state.count)}`)
    } else if (MetricState.isSummaryState(state)) {
      const f = family(name, "summary", help)
      for (const [q, v] of state.quantiles) {
        f.lines.push(`${name}${labelsOf([...tags, ["quantile", String(q)]])} ${formatValue(Option.getOrElse(v, () => NaN))}`)
      }
      f.lines.push(`${name}_sum${labelsOf(tags)} ${formatValue(state.sum)}`)
      f.lines.push(`${name}_count${labelsOf(tags)} ${formatValue(state.count)}`)
    } else if (MetricState.isFrequencyState(state)) {
      const f = family(name, "counter", help)
      for (const [k, n] of state.occurrences) f.lines.push(`${name}${labelsOf([...tags, ["key", k]])} ${formatValue(n)}`)
    }
  }
  const out: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const f = families.get(name)!
    if (f.help !== undefined) out.push(`# HELP ${name} ${escapeHelp(f.help)}`)
    out.push(`# TYPE ${name} ${f.type}`)
    out.push(...f.lines)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}

/** The process's metric registry now, as exposition text (never fails). */
export const scrape: Effect.Effect<string> = Effect.map(Metric.snapshot, render)
