/**
 * Helpers of the cluster tests: reading a committed stream as commands, and applying it through a
 * `ClientSessionTable` (what an exactly-once state machine does).
 */
import { Effect, Option, Stream } from "effect"
import type { Committed } from "../../services/raft/LogEntry.js"
import { ClientSessionTable } from "../../src/raft/ClientSessionTable.js"

const dec = new TextDecoder()
export const enc = new TextEncoder()

/** The commands of a committed stream, in order (no-ops and config entries skipped). */
export const commands = (committed: Stream.Stream<Committed>): Stream.Stream<string> =>
  Stream.filterMap(committed, (c) => (c._tag === "Entry" ? Option.some(dec.decode(c.entry.command)) : Option.none()))

/** The first `n` commands of a committed stream. */
export const firstCommands = (committed: Stream.Stream<Committed>, n: number): Effect.Effect<ReadonlyArray<string>> =>
  Effect.map(Stream.runCollect(Stream.take(commands(committed), n)), (c) => [...c])

/**
 * Applies a committed stream as a state machine would: every command whose dedup key the table
 * has not applied yet, in order. Returns the live list of applied commands (and the raw list of
 * every command entry, duplicates included), filled by a fiber in the caller's scope.
 */
export const applyExactlyOnce = (committed: Stream.Stream<Committed>) =>
  Effect.gen(function*() {
    const table = ClientSessionTable.empty()
    const applied: Array<string> = []
    const raw: Array<string> = []
    yield* Effect.forkScoped(Stream.runForEach(committed, (c) =>
      Effect.sync(() => {
        if (c._tag !== "Entry") return
        const command = dec.decode(c.entry.command)
        raw.push(command)
        if (table.shouldApply(c.entry.dedupKey)) applied.push(command)
      })))
    return { applied, raw }
  })
