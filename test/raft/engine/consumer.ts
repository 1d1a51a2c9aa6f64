/**
 * A test consumer for engine snapshot tests: a state machine (the committed commands in order,
 * serialised as JSON) fed by `committedFrom(1)` in a scoped fiber, which can publish its state as
 * a snapshot.
 */
import { Effect, Stream } from "effect"
import { committedIndex } from "../../../services/raft/LogEntry.js"
import type { Committed } from "../../../services/raft/LogEntry.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import { bytes, text } from "./fixture.js"

export interface Machine {
  applied: number
  commands: Array<string>
  readonly installs: Array<number>
}

export const encode = (commands: ReadonlyArray<string>) => bytes(JSON.stringify(commands))

const apply = (m: Machine, c: Committed): void => {
  const index = committedIndex(c)
  if (index <= m.applied) return
  switch (c._tag) {
    case "Install":
      m.commands = JSON.parse(text(c.snapshot.state)) as Array<string>
      m.installs.push(index)
      break
    case "Entry":
      m.commands.push(text(c.entry.command))
      break
    case "Internal":
      break
  }
  m.applied = index
}

/** Starts a machine on `node` (replaying from index 1); it runs until the node closes or the scope ends. */
export const machine = (node: RaftNodeShape) =>
  Effect.gen(function*() {
    const m: Machine = { applied: 0, commands: [], installs: [] }
    yield* node.committedFrom(1).pipe(Stream.runForEach((c) => Effect.sync(() => apply(m, c))), Effect.forkScoped)
    yield* Effect.yieldNow()
    return m
  })

/** The machine's state as bytes. */
export const stateOf = (m: Machine) => encode(m.commands)

/** Publishes the machine's current state as a snapshot through its applied index. */
export const publish = (node: RaftNodeShape, m: Machine) => node.publishSnapshot({ throughIndex: m.applied, state: stateOf(m) })
