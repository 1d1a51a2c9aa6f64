/**
 * The RaftStorage conformance suite (src/testing/conformance, exported from `kuilt/testing`) bound
 * to `@effect/vitest`, for this repository's storage tests: `raftStorageConformance(name, harness)`.
 * The browser suites import it too: their bundle swaps `@effect/vitest` for the in-page runner.
 */
import * as vitest from "@effect/vitest"
import type { RaftStorageShape } from "../../services/raft/RaftStorage.js"
import type { RaftStorageHarness } from "../../src/testing/conformance/RaftStorageConformance.js"
import { raftStorageConformance as register } from "../../src/testing/conformance/RaftStorageConformance.js"

export type { RaftStorageHarness } from "../../src/testing/conformance/RaftStorageConformance.js"

export const raftStorageConformance = <H extends RaftStorageShape, E>(name: string, harness: RaftStorageHarness<H, E>): void =>
  register(vitest, name, harness)
