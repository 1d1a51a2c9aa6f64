/**
 * The RaftStorage builders (src/testing/conformance/RaftStorageFixtures.ts, `StorageFixtures` in
 * `kuilt/testing`), with `expectStorageError` bound to vitest's `expect`, for this repository's tests.
 */
import { expect } from "@effect/vitest"
import { storageErrorCheck } from "../../src/testing/conformance/RaftStorageFixtures.js"

export * from "../../src/testing/conformance/RaftStorageFixtures.js"

/** Asserts that an effect failed with a `StorageError`. */
export const expectStorageError = storageErrorCheck(expect)
