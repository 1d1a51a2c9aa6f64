/**
 * The shared RaftStorage conformance suite (reopen included) against IndexedDbRaftStorage, run
 * inside headless Chromium by `IndexedDbRaftStorage.test.ts` (the suite's `@effect/vitest` is
 * swapped for the in-page runner).
 */
import { raftStorageConformance } from "../../../../conformance/RaftStorageConformance.js"
import { indexedDbHarness } from "./indexedDbHarness.js"

raftStorageConformance("IndexedDbRaftStorage", indexedDbHarness)
