/**
 * Generates linearizable KV histories by simulating an atomic store with concurrent clients:
 * every operation takes effect at one instant between its invocation and its completion, the
 * interleaving is random (seeded), and some operations time out — before or after taking effect,
 * and a timed-out operation that has not taken effect yet may still do so later, or never.
 *
 * Used to test and benchmark the checker (a correct checker must say "ok" for every seed), and as
 * a template for recording histories from a real system. Also produces log indices for
 * {@link checkLogIndexes}.
 */
import type { HistoryEvent, Operation } from "./History.js"
import { HistoryRecorder, UNKNOWN } from "./History.js"
import type { KvInput, KvOutput } from "./KvModel.js"
import type { IndexedOperation } from "./LogIndexOracle.js"

/** Shape of the generated history. */
export interface SimulatedKvOptions {
  /** PRNG seed; the same options always give the same history. */
  readonly seed: number
  /** Number of operations invoked. */
  readonly operations: number
  /** Concurrent clients (default 8). */
  readonly clients?: number
  /** Distinct keys (default 16). */
  readonly keys?: number
  /** Chance, per scheduling turn of an in-flight operation, that its client gives up (default 0.01). */
  readonly timeoutRate?: number
}

/** A generated history, in both forms, with the log positions the simulated store assigned. */
export interface SimulatedKvHistory {
  readonly operations: ReadonlyArray<Operation<KvInput, KvOutput>>
  readonly events: ReadonlyArray<HistoryEvent<KvInput, KvOutput>>
  readonly indexed: ReadonlyArray<IndexedOperation>
}

/** mulberry32: tiny, seedable, good enough to pick interleavings. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface InFlight {
  readonly id: number
  readonly input: KvInput
  output?: KvOutput
  /** Write index or read fence, once applied. */
  index?: number
}

/**
 * Simulates `operations` KV operations (get 40%, put 35%, cas 20% — half with the current value
 * as `from` — delete 5%) on unique values, and returns the recorded history. Always linearizable.
 */
export const simulateKvHistory = (options: SimulatedKvOptions): SimulatedKvHistory => {
  const rand = prng(options.seed)
  const clients = options.clients ?? 8
  const keyCount = options.keys ?? 16
  const timeoutRate = options.timeoutRate ?? 0.01
  const pick = (n: number) => Math.floor(rand() * n)
  const rec = new HistoryRecorder<KvInput, KvOutput>()
  const store = new Map<string, string>()
  let logIndex = 0
  const applied = new Map<number, { kind: "write" | "read"; index: number }>()

  const apply = (f: InFlight) => {
    const key = f.input.key
    const current = store.get(key) ?? null
    const write = (value: string | null) => {
      if (value === null) store.delete(key)
      else store.set(key, value)
      f.index = ++logIndex
      applied.set(f.id, { kind: "write", index: f.index })
    }
    const read = () => {
      f.index = logIndex
      applied.set(f.id, { kind: "read", index: f.index })
    }
    switch (f.input.type) {
      case "get":
        read()
        f.output = { type: "value", value: current }
        break
      case "put":
        write(f.input.value)
        f.output = { type: "done" }
        break
      case "delete":
        write(null)
        f.output = { type: "done" }
        break
      case "cas": {
        const ok = current === f.input.from
        if (ok) write(f.input.to)
        else read()
        f.output = { type: "cas", ok }
      }
    }
  }

  const newInput = (id: number): KvInput => {
    const key = `k${pick(keyCount)}`
    const r = rand()
    const value = `v${id}`
    if (r < 0.4) return { type: "get", key }
    if (r < 0.75) return { type: "put", key, value }
    if (r < 0.8) return { type: "delete", key }
    const from = rand() < 0.5 ? store.get(key) ?? null : rand() < 0.5 ? null : `v${pick(id + 1)}`
    return { type: "cas", key, from, to: value }
  }

  const slots: Array<InFlight | undefined> = new Array(clients).fill(undefined)
  const ghosts: Array<InFlight> = [] // timed out before taking effect: may still apply, or never
  let invoked = 0
  const busy = () => slots.some((s) => s !== undefined)
  while (invoked < options.operations || busy()) {
    if (ghosts.length > 0 && rand() < 0.05) {
      const g = ghosts.splice(pick(ghosts.length), 1)[0]!
      if (rand() < 0.5) apply(g)
      continue
    }
    const c = pick(clients)
    const f = slots[c]
    if (f === undefined) {
      if (invoked >= options.operations) continue
      const input = newInput(invoked) // ids are invocation order, so `v${id}` values are unique
      slots[c] = { id: rec.invoke(c, input), input }
      invoked++
      continue
    }
    if (rand() < timeoutRate) {
      rec.timeout(f.id)
      if (f.output === undefined) ghosts.push(f)
      slots[c] = undefined
    } else if (f.output === undefined) {
      if (rand() < 0.5) apply(f)
    } else if (rand() < 0.5) {
      rec.complete(f.id, f.output)
      slots[c] = undefined
    }
  }

  const operations = rec.operations()
  const indexed: Array<IndexedOperation> = []
  for (const op of operations) {
    const at = applied.get(op.id)
    const base = { id: op.id, key: op.input.key, call: op.call, return: op.return }
    const writeValue = op.input.type === "put" ? op.input.value : op.input.type === "cas" ? op.input.to : null
    if (at === undefined) {
      // Never took effect: only a timed-out write can be in this state; it has no index.
      if (op.input.type !== "get") indexed.push({ kind: "write", ...base, value: writeValue })
      continue
    }
    if (at.kind === "write") indexed.push({ kind: "write", ...base, value: writeValue, index: at.index })
    // A failed CAS also read the key but reports only "not equal", the oracle checks gets only;
    // timed-out reads have no output to check.
    else if (op.input.type === "get" && op.output !== UNKNOWN && op.output.type === "value") {
      indexed.push({ kind: "read", ...base, value: op.output.value, index: at.index })
    }
  }
  return { operations, events: rec.events(), indexed }
}
