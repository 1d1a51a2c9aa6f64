/**
 * A turn's persistence, as the storage contract's `WriteBatch`: one write per turn (group commit),
 * carrying only what the turn changed.
 */
import type { WriteBatch } from "../../../services/raft/RaftStorage.js"
import type { PersistBatch } from "../core/Ready.js"

/** Drops the fields a turn did not set (the storage contract uses optional properties). */
export const toWriteBatch = (p: PersistBatch): WriteBatch => {
  const b: { -readonly [K in keyof WriteBatch]: WriteBatch[K] } = {}
  if (p.snapshot !== undefined) b.snapshot = p.snapshot
  if (p.truncateFrom !== undefined) b.truncateFrom = p.truncateFrom
  if (p.append.length > 0) b.append = p.append
  if (p.hardState !== undefined) b.hardState = p.hardState
  if (p.leaderForTerm !== undefined) b.leaderForTerm = p.leaderForTerm
  if (p.discardThrough !== undefined) b.discardThrough = p.discardThrough
  return b
}
