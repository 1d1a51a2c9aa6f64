/**
 * The reference replay of the global committed log (reference §4.2, invariant 4: "snapshots must
 * equal replay to their index"). Every committed entry is recorded once, by index; a reference
 * `KvStateMachine` applies the contiguous prefix as it becomes known and keeps a checkpoint of its
 * bytes every `CHECKPOINT` indices, so the state at any committed index is one restore plus at most
 * `CHECKPOINT − 1` applies away. A node's snapshot, published or installed, must be byte-equal to
 * the replay at its index: the KV snapshot is canonical (sorted maps, sorted session table).
 */
import { asCommitted } from "../../../services/raft/LogEntry.js"
import type { ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import { KvStateMachine } from "./KvStateMachine.js"

const CHECKPOINT = 32

export class ReplayOracle {
  /** index → the committed entry there (index 0 unused). */
  private readonly log: Array<LogEntry | undefined> = []
  private readonly reference = new KvStateMachine()
  /** Highest index the reference has applied (the committed log is known contiguously to here). */
  private at = 0
  /** checkpoint index (multiple of CHECKPOINT) → reference bytes at it. */
  private readonly checkpoints = new Map<number, Uint8Array>([[0, new KvStateMachine().snapshot()]])
  /** Committed configuration entries, in index order. */
  readonly configs: Array<{ readonly index: number; readonly config: ConfigPayload }> = []

  get contiguousThrough(): number {
    return this.at
  }

  /** Records the committed entry (first time an index is applied anywhere). */
  record(entry: LogEntry): void {
    if (this.log[entry.index] !== undefined) return
    this.log[entry.index] = entry
    if (entry._tag === "Config") {
      this.configs.push({ index: entry.index, config: entry.config })
      this.configs.sort((a, b) => a.index - b.index)
    }
    while (this.log[this.at + 1] !== undefined) {
      const next = this.log[this.at + 1]!
      this.reference.apply(asCommitted(next))
      this.at = next.index
      if (this.at % CHECKPOINT === 0) this.checkpoints.set(this.at, this.reference.snapshot())
    }
  }

  /** The reference bytes at `index`, or undefined when the committed log is not known that far. */
  stateAt(index: number): Uint8Array | undefined {
    if (index > this.at || index < 0) return undefined
    if (index === this.at) return this.reference.snapshot()
    const base = index - (index % CHECKPOINT)
    const sm = new KvStateMachine()
    sm.restore(this.checkpoints.get(base)!)
    for (let i = base + 1; i <= index; i++) sm.apply(asCommitted(this.log[i]!))
    return sm.snapshot()
  }

  /** The membership in force at `index` per the committed log (undefined = the bootstrap's). */
  configAt(index: number): ConfigPayload | undefined {
    let found: ConfigPayload | undefined
    for (const c of this.configs) {
      if (c.index > index) break
      found = c.config
    }
    return found
  }

  /** The latest committed configuration entry. */
  get latestConfig(): { readonly index: number; readonly config: ConfigPayload } | undefined {
    return this.configs[this.configs.length - 1]
  }
}

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
