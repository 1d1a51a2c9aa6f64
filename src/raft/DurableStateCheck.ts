/**
 * The engine's start-up check of loaded durable state: an inconsistent log or hard state fails
 * the node with `CorruptDurableState` before it can vote or acknowledge anything.
 */
import { Effect } from "effect"
import type { CorruptDurableState } from "../../services/raft/RaftErrors.js"
import type { DurableState } from "../../services/raft/RaftStorage.js"
import { validateDurableState } from "../../services/raft/validateDurableState.js"

export const checkDurableState = (d: DurableState): Effect.Effect<DurableState, CorruptDurableState> =>
  validateDurableState(d)
