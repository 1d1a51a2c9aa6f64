/**
 * The Seam conformance suite (src/testing/conformance, exported from `kuilt/testing`) bound to
 * `@effect/vitest`, for this repository's fabric tests: `seamConformance(name, factory)`.
 */
import * as vitest from "@effect/vitest"
import type { FabricFactory } from "../../src/testing/conformance/SeamConformance.js"
import { seamConformance as register } from "../../src/testing/conformance/SeamConformance.js"

export type { Fabric, FabricFactory, FabricOptions } from "../../src/testing/conformance/SeamConformance.js"

export const seamConformance = (name: string, factory: FabricFactory): void => register(vitest, name, factory)
