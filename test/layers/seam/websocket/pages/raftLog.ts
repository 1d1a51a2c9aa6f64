/**
 * What the mixed browser/Node Raft test records on every node, in the pages and in Node alike:
 * the committed sequence as delivered (to compare logs index by index), the commands applied
 * through a `ClientSessionTable` (a proposal retried after `LeadershipLost` may commit twice; the
 * table applies it once, as the README tells applications to), and a view of the node's state for
 * failure messages. Platform-neutral: it is bundled into the pages.
 */
import { Effect, Option, Stream } from "effect"
import type { Scope } from "effect"
import type { SeamShape } from "../../../../../services/seam/Seam.js"
import type { RaftNodeShape } from "../../../../../services/raft/RaftNode.js"
import { ClientSessionTable } from "../../../../../src/raft/ClientSessionTable.js"

/** One committed item as delivered by `committedFrom(1)`. */
export interface LoggedItem {
  readonly index: number
  readonly tag: "Entry" | "Internal" | "Install"
  /** The command as text, for `Entry`. */
  readonly text?: string
}

/** A node's state at one moment, for progress reports and failure messages. */
export interface NodeView {
  readonly id: string
  readonly role: string
  readonly term: number
  readonly leader: string | null
  readonly commitIndex: number
  readonly delivered: number
  readonly lastDelivered: number
  readonly applied: number
  readonly duplicatesFiltered: number
  readonly peers: ReadonlyArray<string>
  readonly seam: string
}

export interface RaftLog {
  /** Every committed item delivered, in order. */
  readonly items: ReadonlyArray<LoggedItem>
  /** The commands applied (each dedup key once), in log order. */
  readonly applied: ReadonlyArray<string>
  readonly view: Effect.Effect<NodeView>
}

const text = new TextDecoder()

/** Follows `node.committedFrom(1)` in the current scope and records it. */
export const recordRaftLog = (node: RaftNodeShape, seam: SeamShape): Effect.Effect<RaftLog, never, Scope.Scope> =>
  Effect.gen(function*() {
    const items: Array<LoggedItem> = []
    const applied: Array<string> = []
    let duplicatesFiltered = 0
    const sessions = ClientSessionTable.empty()
    yield* Effect.forkScoped(Stream.runForEach(node.committedFrom(1), (c) =>
      Effect.sync(() => {
        switch (c._tag) {
          case "Entry": {
            const command = text.decode(c.entry.command)
            items.push({ index: c.entry.index, tag: "Entry", text: command })
            if (sessions.shouldApply(c.entry.dedupKey)) applied.push(command)
            else duplicatesFiltered++
            return
          }
          case "Internal":
            items.push({ index: c.index, tag: "Internal" })
            return
          case "Install":
            items.push({ index: c.snapshot.throughIndex, tag: "Install" })
            return
        }
      })))
    const view = Effect.gen(function*() {
      const leader = yield* node.leader.get
      const state = yield* seam.state.get
      return {
        id: node.id,
        role: yield* node.role.get,
        term: yield* node.term.get,
        leader: Option.getOrNull(leader),
        commitIndex: yield* node.commitIndex.get,
        delivered: items.length,
        lastDelivered: items.at(-1)?.index ?? 0,
        applied: applied.length,
        duplicatesFiltered,
        peers: [...(yield* seam.peers.get)].sort(),
        seam: state._tag
      } satisfies NodeView
    })
    return { items, applied, view }
  })

/** The view in one line. */
export const showView = (v: NodeView): string =>
  `${v.id}: ${v.role} term ${v.term} leader ${v.leader ?? "-"} commit ${v.commitIndex} ` +
  `delivered ${v.delivered} (last #${v.lastDelivered}) applied ${v.applied} (${v.duplicatesFiltered} retried duplicates filtered) ` +
  `seam ${v.seam} peers [${v.peers.join(", ")}]`
