/**
 * `kuilt/browser`: browser-only pieces on top of the platform-neutral API. (IndexedDB storage and
 * the browser WebSocket constructor land here.)
 */
export * from "./index.js"
export * as IndexedDbRaftStorage from "../layers/raft/storage/indexeddb/IndexedDbRaftStorage.js"
export { WebSocketConstructorLive } from "../layers/seam/websocket/browser/WebSocketConstructor.js"
