/**
 * `kuilt`: the platform-neutral entry point. It must bundle for browsers, so nothing reachable
 * from here may import `node:*` or a Node built-in (test/browser-guard.test.ts enforces it).
 */

// The transport contract.
export { DEFAULT_DELIVERY_CAPACITY, DeliveryPolicy } from "../services/seam/DeliveryPolicy.js"
export { Loom } from "../services/seam/Loom.js"
export type { LoomShape } from "../services/seam/Loom.js"
export { DEFAULT_MAX_PEERS } from "../services/seam/Pattern.js"
export type { Pattern, Tag } from "../services/seam/Pattern.js"
export { freshPeerId, PeerId } from "../services/seam/PeerId.js"
export { Seam } from "../services/seam/Seam.js"
export type { SeamShape } from "../services/seam/Seam.js"
export {
  FrameOverflow,
  IncomingAlreadyCollected,
  PayloadTooLarge,
  PeerNotConnected,
  SeamTorn,
  WeaveFailed
} from "../services/seam/SeamErrors.js"
export type { SendError } from "../services/seam/SeamErrors.js"
export { CloseReason, isTorn, SeamState } from "../services/seam/SeamState.js"
export { Swatch } from "../services/seam/Swatch.js"

// Fabrics and channel splitters.
export { InMemoryLoom, PERFECT_LINK } from "../layers/seam/inmemory/InMemoryLoom.js"
export type {
  DropCounts,
  InMemoryLoomOptions,
  InMemoryLoomShape,
  LinkConditions,
  LoomFaults,
  LoomStats,
  LoomTrace,
  TraceEntry
} from "../layers/seam/inmemory/InMemoryLoom.js"
export * from "./seam/index.js"

// Raft contracts.
export { ClientId, ClientIdentity, DedupKey, sameDedupKey } from "../services/raft/ClientId.js"
export { AUTO_PREFIX, autoFamily } from "./raft/core/Ids.js"
export { ClusterConfig, ConfigPayload, isJoint, Members, sameMembers } from "../services/raft/ClusterConfig.js"
export {
  asCommitted,
  CommandEntry,
  Committed,
  committedIndex,
  ConfigEntry,
  Index,
  LogEntry,
  NoOpEntry,
  Snapshot,
  Term
} from "../services/raft/LogEntry.js"
export { NodeId, nodeId } from "../services/raft/NodeId.js"
export { DEFAULT_RAFT_CONFIG, RaftConfig } from "../services/raft/RaftConfig.js"
export {
  ClientIdCollision,
  CorruptDurableState,
  InvalidMembership,
  LeadershipLost,
  LeadershipTransferFailed,
  MembershipChangeInProgress,
  NotLeader,
  Overloaded,
  RaftConfigError,
  StorageError
} from "../services/raft/RaftErrors.js"
export type { TransferFailureReason } from "../services/raft/RaftErrors.js"
export type { ProposeFailFastOptions, ProposeOptions, RaftNodeFailure, RaftNodeShape } from "../services/raft/RaftNode.js"
export type { RaftRole } from "../services/raft/RaftRole.js"
export { EMPTY_DURABLE_STATE, RaftStorage } from "../services/raft/RaftStorage.js"
export type {
  DurableState,
  HardState,
  LeaderForTerm,
  RaftStorageShape,
  SnapshotMeta,
  StoredSnapshot,
  WriteBatch
} from "../services/raft/RaftStorage.js"
export { RaftMetric, RaftTraceEvent } from "../services/raft/RaftTrace.js"
export type { DenyReason, RaftMessageType, RefusalGate, StepDownReason } from "../services/raft/RaftTrace.js"
export { RaftTransport } from "../services/raft/RaftTransport.js"
export type { RaftEnvelope, RaftTransportShape } from "../services/raft/RaftTransport.js"

// Raft implementation.
export * from "./raft/index.js"
export * as InMemoryRaftStorage from "../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
export { ManagedRaftTransport } from "../layers/raft/transport/ManagedRaftTransport.js"
export type { ManagedRaftTransportShape } from "../layers/raft/transport/ManagedRaftTransport.js"
export { SeamRaftTransport } from "../layers/raft/transport/SeamRaftTransport.js"
export type { SeamRaftTransportStats } from "../layers/raft/transport/SeamRaftTransport.js"
export { validateDurableState } from "../services/raft/validateDurableState.js"
export { validateWriteBatch } from "../services/raft/validateWriteBatch.js"

// Game facade.
export * from "./game/index.js"

// Wire formats.
export * from "./codec/index.js"
export * as RaftWire from "./codec/raft/RaftMessage.js"
export { decodeRaftMessage, encodeRaftMessage, entryWireSize, RaftCodec } from "./codec/raft/RaftCodec.js"

// WebSocket fabric: the client loom and the wire protocol (the host is in `kuilt/node`).
export * from "../layers/seam/websocket/client/index.js"
export * as WebSocketWire from "../layers/seam/websocket/Protocol.js"
