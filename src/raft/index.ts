/**
 * The Raft part of the public API. `RaftNode` is both the service interface (a type) and a
 * namespace of constructors: `RaftNode.make(options)` (bound to a Scope), `RaftNode.layer(options)`
 * (transport and storage from context) and `RaftNode.Tag` (the service tag for Layers).
 */
import { RaftNode as Tag } from "../../services/raft/RaftNode.js"
import type { RaftNode as RaftNodeService } from "../../services/raft/RaftNode.js"
import { awaitRead } from "./awaitRead.js"
import { changeMembershipWithRetry } from "./changeMembershipWithRetry.js"
import { layer, make } from "./RaftNode.js"

export type RaftNode = RaftNodeService
export const RaftNode = { Tag, make, layer, awaitRead, changeMembershipWithRetry } as const

export type { RaftNodeOptions, RaftNodeStartError } from "./RaftNode.js"
export { awaitRead } from "./awaitRead.js"
export { changeMembershipWithRetry } from "./changeMembershipWithRetry.js"
export type { ChangeMembershipRetryOptions } from "./changeMembershipWithRetry.js"
export { ClientSessionTable, ClientSessionTableDecodeError } from "./ClientSessionTable.js"
