/**
 * Engine glue for membership changes and snapshots, kept out of `Engine.ts`: how the core's
 * `MembershipOutcome` becomes the caller's typed result, and how a turn's installed snapshot and
 * committed entries become the consumer's ordered `Committed` items.
 */
import { Effect } from "effect"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { Committed } from "../../../services/raft/LogEntry.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import {
  InvalidMembership,
  LeadershipLost,
  MembershipChangeInProgress,
  NotLeader
} from "../../../services/raft/RaftErrors.js"
import type { MembershipOutcome } from "../core/Membership.js"
import type { Ready } from "../core/Ready.js"
import { installOf } from "../core/Snapshots.js"

/** What `changeMembership` returns: the configuration in force once the final entry committed. */
export type ChangeResult = Effect.Effect<
  ClusterConfig,
  NotLeader | MembershipChangeInProgress | LeadershipLost | InvalidMembership
>

export const changeResult = (o: MembershipOutcome): ChangeResult => {
  switch (o._tag) {
    case "Changed":
      return Effect.succeed(o.config)
    case "NotLeader":
      return Effect.fail(new NotLeader({ leader: o.leader, reason: o.reason }))
    case "InProgress":
      return Effect.fail(new MembershipChangeInProgress())
    case "LeadershipLost":
      return Effect.fail(new LeadershipLost({ reason: o.reason }))
    case "Invalid":
      return Effect.fail(new InvalidMembership({ reason: o.reason }))
  }
}

// Read once: every property read of a `Data.taggedEnum` builds a fresh constructor.
const CommittedEntry = Committed.Entry
const CommittedInternal = Committed.Internal

/** `asCommitted` (LogEntry.ts) with the constructors read once: it runs for every committed entry. */
const toCommitted = (entry: LogEntry): Committed =>
  entry._tag === "Command" ? CommittedEntry({ entry }) : CommittedInternal({ index: entry.index })

/** The turn's items for the committed stream, in order: an installed snapshot first, then entries. */
export const committedItems = (ready: Ready): Array<Committed> => {
  const committed = ready.committed
  const out: Array<Committed> = []
  if (ready.install !== undefined) out.push(installOf(ready.install))
  for (let i = 0; i < committed.length; i++) out.push(toCommitted(committed[i]!))
  return out
}
