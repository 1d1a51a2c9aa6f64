/**
 * `kuilt/node`: Node-only pieces. Everything platform-neutral is re-exported too, so a Node app
 * can import from one place. (The WebSocket host and SQLite storage land here.)
 */
export * from "./index.js"
export * as SqlRaftStorage from "../layers/raft/storage/sql/SqlRaftStorage.js"
export { SqliteDriverMissing } from "../layers/raft/storage/sql/SqliteDriverMissing.js"
// WebSocket fabric: the host (standalone, or as an HttpApp to mount), its identity options and
// metrics, and Node's WebSocket constructor for `WebSocketLoom.join`.
export { WebSocketHost } from "../layers/seam/websocket/node/WebSocketHost.js"
export type { WebSocketHostShape } from "../layers/seam/websocket/node/WebSocketHost.js"
export type { LocalMemberOptions } from "../layers/seam/websocket/node/LocalMember.js"
export { WebSocketRelay } from "../layers/seam/websocket/node/WebSocketRelay.js"
export type { WebSocketRelayShape } from "../layers/seam/websocket/node/WebSocketRelay.js"
export * as WebSocketHostMetrics from "../layers/seam/websocket/node/HostMetrics.js"
export { HostIdentity } from "../layers/seam/websocket/node/HostIdentity.js"
export { AuthRejected } from "../layers/seam/websocket/node/WebSocketHostOptions.js"
export type {
  HelloInfo,
  HostCounters,
  MemberStats,
  Principal,
  RateLimit,
  RoomStats,
  TlsOptions,
  WebSocketHostOptions,
  WebSocketRelayOptions
} from "../layers/seam/websocket/node/WebSocketHostOptions.js"
export { ServerCluster, serverCluster } from "./cluster/node/serverCluster.js"
export type { ClusterVoter, ServerClusterOptions } from "./cluster/node/serverCluster.js"
export { layerWebSocketConstructor as WebSocketConstructorNode } from "@effect/platform-node/NodeSocket"
