/**
 * The Raft part of the public API: the `RaftNode` service tag with its constructors
 * (`RaftNode.make`, `RaftNode.layer`), the read and membership helpers, and the session table.
 */
export { RaftNode } from "./RaftNode.js"
export type { RaftNodeOptions, RaftNodeStartError } from "./RaftNode.js"
export { awaitRead } from "./awaitRead.js"
export { changeMembershipWithRetry } from "./changeMembershipWithRetry.js"
export type { ChangeMembershipRetryOptions } from "./changeMembershipWithRetry.js"
export { ClientSessionTable, ClientSessionTableDecodeError } from "./ClientSessionTable.js"
