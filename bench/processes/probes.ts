/**
 * What a benchmark process measures about itself during a phase: how late its event loop turned
 * (`monitorEventLoopDelay`), when it stalled (timestamped, to line stalls up with role changes in
 * other processes and with a CPU profile), its garbage-collection pauses (`PerformanceObserver`
 * 'gc'), its peak memory and its CPU use. `reset` starts a window; `report` reads it.
 *
 * On a shared machine a late event loop is either this process's own work or the kernel not
 * running it: on Linux each stall is split, from the main thread's `/proc/self/schedstat`, into
 * time on a CPU (`cpu_ms`: our code, GC on the main thread) and time runnable but waiting for a
 * CPU (`wait_ms`: other processes had it), and the window reports the main thread's run-queue
 * wait as a share of wall time.
 */
import { openSync, readSync } from "node:fs"
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { round } from "../stats.js"
import { wallMs } from "./protocol.js"

/** Event-loop delay sampling period (ms): the histogram's values are this plus the lag. */
const RESOLUTION_MS = 2
/** The stall recorder's tick (ms); a tick later than this by `STALL_MS` or more is a stall. */
export const TICK_MS = 5
const STALL_MS = 50
const RSS_EVERY_MS = 100
/** `process.memoryUsage()` walks the heap's spaces: the heap is sampled less often than the RSS. */
const HEAP_EVERY = 10
const KEEP_STALLS = 8

export interface Stall {
  /** Wall-clock ms (comparable across the processes of the machine) when the stall began. */
  readonly at: number
  readonly ms: number
  /** Main thread on a CPU during the stall (ms; -1 where /proc/self/schedstat is unavailable). */
  readonly cpu_ms: number
  /** Main thread runnable but waiting for a CPU during the stall (ms; -1 when unknown). */
  readonly wait_ms: number
  /** What `Probes.annotate` said right after the stall (a node process: its last log index). */
  readonly mark: number
}

/** /proc/self/schedstat, kept open (read every tick: a pread rather than open/read/close). */
let schedFd: number | undefined | null
const schedBuf = Buffer.alloc(128)

/** The main thread's [on-CPU ns, run-queue wait ns], or undefined off Linux. */
const schedstat = (): [number, number] | undefined => {
  try {
    if (schedFd === undefined) schedFd = openSync("/proc/self/schedstat", "r")
    if (schedFd === null) return undefined
    const n = readSync(schedFd, schedBuf, 0, schedBuf.length, 0)
    const [run, wait] = schedBuf.toString("latin1", 0, n).split(" ")
    return [Number(run), Number(wait)]
  } catch {
    schedFd = null
    return undefined
  }
}

export interface ProbeFigures {
  /** Event-loop lag beyond the sampling period, over the window. */
  readonly lag_p50_ms: number
  readonly lag_p99_ms: number
  readonly lag_max_ms: number
  readonly stalls_over_50ms: number
  readonly stalls_over_100ms: number
  readonly stalls_over_150ms: number
  /** Stalls of 100 ms or more during which the main thread was on a CPU at least half the time. */
  readonly stalls_over_100ms_on_cpu: number
  /** The longest stalls of the window, longest first. */
  readonly longest_stalls: ReadonlyArray<Stall>
  readonly gc_count: number
  readonly gc_total_ms: number
  readonly gc_max_ms: number
  /** Longest mark-sweep-compact (major) pause. */
  readonly gc_major_max_ms: number
  readonly rss_peak_mib: number
  readonly heap_used_peak_mib: number
  /** Process CPU (user + system, all threads) over the window, in % of one core. */
  readonly cpu_pct: number
  /** Main thread: on a CPU, and runnable but waiting for one, in % of the window (-1: unknown). */
  readonly main_cpu_pct: number
  readonly main_runqueue_wait_pct: number
}

const mib = (bytes: number) => round(bytes / (1024 * 1024))

export class Probes {
  private readonly delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  private stalls: Array<Stall> = []
  private stallCounts = [0, 0, 0, 0]
  private gc = { count: 0, total: 0, max: 0, majorMax: 0 }
  private rssPeak = 0
  private heapPeak = 0
  private cpu = process.cpuUsage()
  private since = wallMs()
  private lastTick = performance.now()
  private lastSched = schedstat()
  /** Read right after each stall (e.g. the node's last log index), so stalls can be placed. */
  annotate: () => number = () => -1
  private schedAtReset = this.lastSched

  constructor() {
    this.delay.enable()
    setInterval(() => this.tick(), TICK_MS).unref()
    setInterval(() => this.sampleMemory(), RSS_EVERY_MS).unref()
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind
        this.gc.count++
        this.gc.total += e.duration
        if (e.duration > this.gc.max) this.gc.max = e.duration
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR && e.duration > this.gc.majorMax) this.gc.majorMax = e.duration
      }
    }).observe({ entryTypes: ["gc"] })
  }

  private tick(): void {
    const t = performance.now()
    const late = t - this.lastTick - TICK_MS
    this.lastTick = t
    const sched = schedstat()
    const before = this.lastSched
    this.lastSched = sched
    if (late < STALL_MS) return
    const cpu = sched === undefined || before === undefined ? -1 : round((sched[0] - before[0]) / 1e6)
    const wait = sched === undefined || before === undefined ? -1 : round((sched[1] - before[1]) / 1e6)
    this.stallCounts[0]!++
    if (late >= 100) this.stallCounts[1]!++
    if (late >= 150) this.stallCounts[2]!++
    if (late >= 100 && cpu >= late / 2) this.stallCounts[3]!++
    this.stalls.push({ at: round(performance.timeOrigin + t - late - TICK_MS), ms: round(late), cpu_ms: cpu, wait_ms: wait, mark: this.annotate() })
    this.stalls.sort((a, b) => b.ms - a.ms)
    if (this.stalls.length > KEEP_STALLS) this.stalls.length = KEEP_STALLS
  }

  private memorySamples = 0

  private sampleMemory(): void {
    const rss = process.memoryUsage.rss()
    if (rss > this.rssPeak) this.rssPeak = rss
    if (this.memorySamples++ % HEAP_EVERY !== 0) return
    const heap = process.memoryUsage().heapUsed
    if (heap > this.heapPeak) this.heapPeak = heap
  }

  /** Starts a new window. */
  reset(): void {
    this.delay.reset()
    this.stalls = []
    this.stallCounts = [0, 0, 0, 0]
    this.gc = { count: 0, total: 0, max: 0, majorMax: 0 }
    this.rssPeak = 0
    this.heapPeak = 0
    this.sampleMemory()
    this.cpu = process.cpuUsage()
    this.since = wallMs()
    this.schedAtReset = schedstat()
  }

  /** The figures of the window so far. */
  report(): ProbeFigures {
    this.sampleMemory()
    const lag = (ns: number) => round(Math.max(0, ns / 1e6 - RESOLUTION_MS))
    const cpu = process.cpuUsage(this.cpu)
    const elapsedMs = Math.max(1, wallMs() - this.since)
    const sched = schedstat()
    const at = this.schedAtReset
    const share = (k: 0 | 1) => (sched === undefined || at === undefined ? -1 : round(((sched[k] - at[k]) / 1e6 / elapsedMs) * 100))
    return {
      lag_p50_ms: lag(this.delay.percentile(50)),
      lag_p99_ms: lag(this.delay.percentile(99)),
      lag_max_ms: lag(this.delay.max),
      stalls_over_50ms: this.stallCounts[0]!,
      stalls_over_100ms: this.stallCounts[1]!,
      stalls_over_150ms: this.stallCounts[2]!,
      stalls_over_100ms_on_cpu: this.stallCounts[3]!,
      longest_stalls: [...this.stalls],
      gc_count: this.gc.count,
      gc_total_ms: round(this.gc.total),
      gc_max_ms: round(this.gc.max),
      gc_major_max_ms: round(this.gc.majorMax),
      rss_peak_mib: mib(this.rssPeak),
      heap_used_peak_mib: mib(this.heapPeak),
      cpu_pct: round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100),
      main_cpu_pct: share(0),
      main_runqueue_wait_pct: share(1)
    }
  }
}
