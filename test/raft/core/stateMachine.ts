/**
 * A tiny consumer state machine for snapshot tests: the committed commands in order, serialised
 * as JSON bytes. It is fed from what a node hands its consumer (`CoreCluster.stream`), skipping
 * items at or below what it already applied (a restarted node re-emits its tail), and replacing its
 * whole state on `Install`.
 */
import { committedIndex } from "../../../services/raft/LogEntry.js"
import type { Committed } from "../../../services/raft/LogEntry.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { bytes, nid, text } from "./helpers.js"

export interface Applied {
  readonly applied: number
  readonly commands: Array<string>
}

/** Applies `items` in order, optionally only those at or below `through`. */
export const applyAll = (items: ReadonlyArray<Committed>, through = Infinity): Applied => {
  let applied = 0
  let commands: Array<string> = []
  for (const c of items) {
    const index = committedIndex(c)
    if (index <= applied || index > through) continue
    switch (c._tag) {
      case "Install":
        commands = JSON.parse(text(c.snapshot.state)) as Array<string>
        break
      case "Entry":
        commands.push(text(c.entry.command))
        break
      case "Internal":
        break
    }
    applied = index
  }
  return { applied, commands }
}

export const encodeState = (commands: ReadonlyArray<string>): Uint8Array => bytes(JSON.stringify(commands))

/** The state machine of node `id`, fed from everything it handed its consumer. */
export const machineOf = (c: CoreCluster, id: string): Applied => applyAll(c.stream.get(nid(id)) ?? [])

/** Its state as bytes (what a consumer would publish as a snapshot). */
export const stateBytes = (c: CoreCluster, id: string, through = Infinity): Uint8Array =>
  encodeState(applyAll(c.stream.get(nid(id)) ?? [], through).commands)

/** The consumer of `id` publishes a snapshot of everything it applied (or through `through`). */
export const publish = (c: CoreCluster, id: string, through?: number): boolean => {
  const index = through ?? c.node(id).lastEmitted
  return c.compact(id, index, stateBytes(c, id, index))
}
