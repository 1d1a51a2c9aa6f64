/**
 * `kuilt/testing`: the test kit for users testing their own state machines and codecs — the pure
 * core cluster harness and the codec property/fuzz harness.
 */
export * from "./codec/testing.js"
export * from "./testing/CoreCluster.js"
