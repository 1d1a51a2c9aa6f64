/**
 * `kuilt`: the platform-neutral entry point. It must bundle for browsers, so nothing reachable
 * from here may import `node:*` or a Node built-in (test/browser-guard.test.ts enforces it).
 */
export * from "./codec/index.js"
