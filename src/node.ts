/**
 * `kuilt/node`: Node-only pieces. Everything platform-neutral is re-exported too, so a Node app
 * can import from one place. (The WebSocket host and SQLite storage land here.)
 */
export * from "./index.js"
