/**
 * `kuilt/node`: Node-only pieces. Everything platform-neutral is re-exported too, so a Node app
 * can import from one place. (The WebSocket host and SQLite storage land here.)
 */
export * from "./index.js"
export * as SqlRaftStorage from "../layers/raft/storage/sql/SqlRaftStorage.js"
export { SqliteDriverMissing } from "../layers/raft/storage/sql/SqliteDriverMissing.js"
// WebSocket fabric: the host, and Node's WebSocket constructor for `WebSocketLoom.join`.
export * as WebSocketHost from "../layers/seam/websocket/node/WebSocketHost.js"
export { AuthRejected } from "../layers/seam/websocket/node/WebSocketHostOptions.js"
export type {
  HelloInfo,
  HostCounters,
  MemberStats,
  Principal,
  RoomStats,
  WebSocketHostOptions
} from "../layers/seam/websocket/node/WebSocketHostOptions.js"
export { layerWebSocketConstructor as WebSocketConstructorNode } from "@effect/platform-node/NodeSocket"
