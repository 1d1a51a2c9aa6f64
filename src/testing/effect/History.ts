/**
 * What the simulated cluster has seen over the whole run, across crashes and restarts: who led
 * which term, every election, the committed item each node applied at each index, and every
 * safety violation found on the way. `checkInvariants` and `checkChurn` judge from it, and the
 * dump summarises it.
 *
 * Elections are read from the nodes' trace streams (lossy by contract, but drained by a dedicated
 * fiber per node, so in practice complete); committed items from each node's `committedFrom`.
 */
import type { CommandEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"

/** One election event: a campaign (`Timeout`: a term bump) or a win (`BecomeLeader`). */
export interface ElectionEvent {
  readonly at: number
  readonly node: NodeId
  readonly term: number
}

/** Per-node election counts. */
export interface ElectionCounts {
  /** Real elections started (term bumps after a successful PreVote, or a transfer). */
  readonly campaigns: number
  /** Elections won. */
  readonly leaderships: number
}

/** Violations kept verbatim; beyond this the rest are only counted (one bug floods otherwise). */
const MAX_VIOLATIONS = 50

/** A short, stable fingerprint of a committed command (FNV-1a over the bytes). */
const fingerprint = (bytes: Uint8Array): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193)
  return (h >>> 0).toString(16).padStart(8, "0")
}

/** How a committed command is compared across nodes: term, dedup key and content. */
export const commandSignature = (entry: CommandEntry): string =>
  `command t${entry.term} ${entry.dedupKey.clientId}#${entry.dedupKey.requestId} ` +
  `${entry.command.byteLength}B:${fingerprint(entry.command)}`

export class History {
  readonly leadersByTerm = new Map<number, Set<NodeId>>()
  readonly campaigns: Array<ElectionEvent> = []
  readonly leaderships: Array<ElectionEvent> = []
  private readonly committed = new Map<number, { readonly signature: string; readonly node: NodeId }>()
  private readonly found: Array<string> = []
  private dropped = 0

  /** Safety violations seen so far (at most `MAX_VIOLATIONS` verbatim, then a count). */
  get violations(): ReadonlyArray<string> {
    return this.dropped === 0 ? this.found : [...this.found, `… and ${this.dropped} more`]
  }

  violation(message: string): void {
    if (this.found.length < MAX_VIOLATIONS) this.found.push(message)
    else this.dropped++
  }

  onTrace(e: RaftTraceEvent): void {
    switch (e._tag) {
      case "Timeout":
        this.campaigns.push({ at: e.at, node: e.node, term: e.newTerm })
        return
      case "BecomeLeader": {
        this.leaderships.push({ at: e.at, node: e.node, term: e.term })
        const leaders = this.leadersByTerm.get(e.term) ?? new Set<NodeId>()
        leaders.add(e.node)
        this.leadersByTerm.set(e.term, leaders)
        // Election Safety (§5.2): at most one leader per term, over the whole run.
        if (leaders.size === 2) this.violation(`two leaders in term ${e.term}: ${[...leaders].join(", ")}`)
        return
      }
      default:
        return
    }
  }

  /**
   * Node `node` applied `signature` at `index`. The first node to apply an index fixes what every
   * node must apply there (State Machine Safety, §5.4.3); a node replaying after a restart is held
   * to the same.
   */
  onCommitted(node: NodeId, index: number, signature: string): void {
    const first = this.committed.get(index)
    if (first === undefined) this.committed.set(index, { signature, node })
    else if (first.signature !== signature) {
      this.violation(
        `committed entries diverge at index ${index}: ${first.node} applied "${first.signature}", ` +
          `${node} applied "${signature}"`
      )
    }
  }

  /** Highest index any node applied. */
  get highestCommitted(): number {
    let max = 0
    for (const i of this.committed.keys()) if (i > max) max = i
    return max
  }

  countsOf(node: NodeId): ElectionCounts {
    return {
      campaigns: this.campaigns.filter((e) => e.node === node).length,
      leaderships: this.leaderships.filter((e) => e.node === node).length
    }
  }

  /** The window of `windowMs` (starting at a campaign) holding the most campaigns. */
  worstWindow(windowMs: number): { readonly elections: number; readonly start: number } {
    const times = this.campaigns.map((e) => e.at).sort((a, b) => a - b)
    let best = { elections: 0, start: 0 }
    let i = 0
    for (let j = 0; j < times.length; j++) {
      while (times[j]! - times[i]! >= windowMs) i++
      if (j - i + 1 > best.elections) best = { elections: j - i + 1, start: times[i]! }
    }
    return best
  }
}
