/**
 * Keeps a busy process's event loop turning while SQLite writes run on it.
 *
 * better-sqlite3 is synchronous, and Effect resumes fibers on microtasks: a cluster in one process
 * is a closed loop of fibers (proposers wake the leader, the leader wakes followers, their acks
 * wake the leader, commits wake the proposers) that can run for seconds without a macrotask —
 * no timer, no socket read, no heartbeat — each step doing a synchronous transaction. Every
 * engine parks between turns, so a per-engine "busy for 10 ms" rule never fires.
 *
 * So the storage yields: before a write, if no storage in this process has yielded for
 * `YIELD_EVERY_MS` of wall time, the write first waits for a `setImmediate` (after the poll
 * phase: I/O callbacks and due timers get their turn). The budget is shared by every storage in
 * the process — one yield suffices for all of them — and costs one macrotask per few
 * milliseconds of writing, not one per write. Wall time (not Effect's Clock) is the right
 * measure here: this is about the real event loop, and under a `TestClock` it must still turn.
 */
import { Effect } from "effect"
import { performance } from "node:perf_hooks"

/** Longest stretch of wall time between two yields (the loop may also turn on its own). */
export const YIELD_EVERY_MS = 4

let lastYield = performance.now()

const immediate: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/** Yields a macrotask when the shared budget is spent; otherwise nothing. */
export const macrotaskYield: Effect.Effect<void> = Effect.suspend(() => {
  const t = performance.now()
  if (t - lastYield < YIELD_EVERY_MS) return Effect.void
  lastYield = t
  return immediate
})
