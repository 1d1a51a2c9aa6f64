/**
 * Network faults of a simulated cluster, in cluster terms (groups of node ids) over the loom's
 * link-level controls, with a written record of what is in force for the dump.
 *
 * All partitions are silent, as on a real network: a sender is not told, frames already in flight
 * still arrive, and a cut outlives a crash and restart of either side (it is keyed by node id).
 */
import { Effect } from "effect"
import type { InMemoryLoomShape, LinkConditions } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { NetworkNotes } from "./Dump.js"

/** Link conditions in short form; omitted fields keep their current value. */
export interface NetworkSettings {
  /** Fixed one-way delay (ms). */
  readonly latencyMs?: number
  /** Extra delay drawn uniformly from 0..jitterMs per frame (ms). */
  readonly jitterMs?: number
  /** Probability that a frame is lost. */
  readonly drop?: number
  /** Probability that a frame is delivered twice. */
  readonly duplicate?: number
  /** Probability that a frame is held back (by up to `reorderDelayMs`) so later ones overtake it. */
  readonly reorder?: number
  readonly reorderDelayMs?: number
}

const toLink = (c: NetworkSettings): Partial<LinkConditions> => ({
  ...(c.latencyMs === undefined ? {} : { latencyMs: c.latencyMs }),
  ...(c.jitterMs === undefined ? {} : { jitterMs: c.jitterMs }),
  ...(c.drop === undefined ? {} : { dropProbability: c.drop }),
  ...(c.duplicate === undefined ? {} : { duplicateProbability: c.duplicate }),
  ...(c.reorder === undefined ? {} : { reorderProbability: c.reorder }),
  ...(c.reorderDelayMs === undefined ? {} : { reorderDelayMs: c.reorderDelayMs })
})

const describe = (c: NetworkSettings): string =>
  Object.entries(c).map(([k, v]) => `${k} ${v}`).join(", ")

const group = (ids: Iterable<string>) => `{${[...ids].join(" ")}}`

const peer = (id: string) => id as PeerId

/** One id or several. */
export type Nodes = string | ReadonlyArray<string>

const many = (nodes: Nodes): ReadonlyArray<string> => (typeof nodes === "string" ? [nodes] : nodes)

export class Network {
  readonly notes: NetworkNotes = { faults: [], conditions: undefined }

  constructor(
    private readonly loom: InMemoryLoomShape,
    private readonly ids: ReadonlyArray<string>,
    private readonly check: (id: string) => void
  ) {}

  private cutAll(a: ReadonlyArray<string>, b: ReadonlyArray<string>, oneWay: boolean): Effect.Effect<void> {
    for (const id of [...a, ...b]) this.check(id)
    const cuts: Array<Effect.Effect<void>> = []
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue
        cuts.push(oneWay ? this.loom.faults.cutOneWay(peer(x), peer(y)) : this.loom.faults.cut(peer(x), peer(y)))
      }
    }
    return Effect.all(cuts, { discard: true })
  }

  partition(a: Nodes, b?: Nodes): Effect.Effect<void> {
    return Effect.suspend(() => {
      const left = many(a)
      const right = b === undefined ? this.ids.filter((id) => !left.includes(id)) : many(b)
      this.notes.faults.push(`partition ${group(left)} | ${group(right)}`)
      return this.cutAll(left, right, false)
    })
  }

  partitionOneWay(from: Nodes, to: Nodes): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.notes.faults.push(`one-way ${group(many(from))} -x-> ${group(many(to))}`)
      return this.cutAll(many(from), many(to), true)
    })
  }

  isolate(id: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.check(id)
      this.notes.faults.push(`isolate ${id}`)
      return this.loom.faults.isolate(peer(id))
    })
  }

  bridge(bridgeId: string, sideA: Nodes, sideB: Nodes): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.check(bridgeId)
      const a = many(sideA)
      const b = many(sideB)
      if (a.includes(bridgeId) || b.includes(bridgeId)) {
        return Effect.dieMessage(`bridge(${bridgeId}): the bridge cannot be on either side`)
      }
      this.notes.faults.push(`bridge ${bridgeId} between ${group(a)} and ${group(b)}`)
      return this.cutAll(a, b, false)
    })
  }

  /** Removes every partition (link conditions stay; see `resetConditions`). */
  get heal(): Effect.Effect<void> {
    return Effect.zipRight(this.loom.faults.healAll, Effect.sync(() => void (this.notes.faults.length = 0)))
  }

  setConditions(c: NetworkSettings): Effect.Effect<void> {
    return Effect.zipRight(
      this.loom.faults.setConditions(toLink(c)),
      Effect.sync(() => this.addConditions(`all: ${describe(c)}`))
    )
  }

  setLink(from: string, to: string, c: NetworkSettings): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.check(from)
      this.check(to)
      this.addConditions(`${from}->${to}: ${describe(c)}`)
      return this.loom.faults.setLinkConditions(peer(from), peer(to), toLink(c))
    })
  }

  private addConditions(text: string): void {
    this.notes.conditions = this.notes.conditions === undefined ? text : `${this.notes.conditions}; ${text}`
  }

  get resetConditions(): Effect.Effect<void> {
    return Effect.zipRight(this.loom.faults.resetConditions, Effect.sync(() => void (this.notes.conditions = undefined)))
  }
}
