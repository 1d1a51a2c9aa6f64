/**
 * The WebSocket fabric's platform-neutral half: the client loom, peer tokens (the default
 * identity, also for direct server links), the wire protocol and the reject codes. The host is
 * Node-only (`kuilt/node`).
 */
export { HostUnreachable, JoinRefused } from "../WebSocketErrors.js"
export { CLOSE_MESSAGE_TOO_BIG, isRetryable, RejectCode, rejectCodeName } from "../RejectCode.js"
export type { ClientCounters } from "./ClientSession.js"
export { LinkStatus } from "./Reconnect.js"
export type { ReconnectPolicy } from "./Reconnect.js"
export { join as joinWebSocket, WebSocketLoom } from "./WebSocketLoom.js"
export type { WebSocketAdvertisement, WebSocketLoomConfig, WebSocketLoomShape, WebSocketRoom } from "./WebSocketLoom.js"
export { InvalidPeerSecret, PeerToken, PeerTokenInvalid } from "../PeerToken.js"
export type { CredentialClaim, CredentialSource, PeerSecret, PeerTokenClaims, PeerTokenProblem } from "../PeerToken.js"
