/**
 * The WebSocket fabric's platform-neutral half: the client loom, the wire protocol and the
 * reject codes. The host is Node-only (`kuilt/node`).
 */
export { HostUnreachable, JoinRefused } from "../WebSocketErrors.js"
export { CLOSE_MESSAGE_TOO_BIG, isRetryable, RejectCode, rejectCodeName } from "../RejectCode.js"
export type { ClientCounters } from "./ClientSession.js"
export { join as joinWebSocket, WebSocketLoom } from "./WebSocketLoom.js"
export type { WebSocketAdvertisement, WebSocketRoom } from "./WebSocketLoom.js"
