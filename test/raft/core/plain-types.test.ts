/**
 * The core is plain TypeScript (docs/ARCHITECTURE.md, "Parts"): it owns its types, and the public
 * Schemas and tagged unions describe exactly the same types, so values cross between the core and
 * the API with no conversion. These assertions are checked by the type checker (`npm test` runs
 * it over test/): a field added on one side only fails the build.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import type * as Wire from "../../../src/codec/raft/RaftMessage.js"
import type * as CoreDurable from "../../../src/raft/core/Durable.js"
import type * as CoreEntries from "../../../src/raft/core/Entries.js"
import type * as CoreEvents from "../../../src/raft/core/Events.js"
import type * as CoreIds from "../../../src/raft/core/Ids.js"
import type * as CoreMessages from "../../../src/raft/core/Messages.js"
import type * as CoreReady from "../../../src/raft/core/Ready.js"
import type * as CoreTuning from "../../../src/raft/core/Tuning.js"
import type * as PublicClientId from "../../../services/raft/ClientId.js"
import type * as PublicCluster from "../../../services/raft/ClusterConfig.js"
import type * as PublicEntries from "../../../services/raft/LogEntry.js"
import type * as PublicNodeId from "../../../services/raft/NodeId.js"
import type * as PublicConfig from "../../../services/raft/RaftConfig.js"
import type * as PublicErrors from "../../../services/raft/RaftErrors.js"
import type * as PublicRole from "../../../services/raft/RaftRole.js"
import type * as PublicStorage from "../../../services/raft/RaftStorage.js"
import type * as PublicTrace from "../../../services/raft/RaftTrace.js"
import { MAX_ID_BYTES as CORE_MAX_ID_BYTES } from "../../../src/raft/core/Ids.js"
import { MAX_ID_BYTES } from "../../../services/IdLimit.js"
import { expect } from "@effect/vitest"

describe("the core's plain types are the public types", () => {
  it("ids and dedup keys", () => {
    expectTypeOf<CoreIds.NodeId>().toEqualTypeOf<PublicNodeId.NodeId>()
    expectTypeOf<CoreIds.ClientId>().toEqualTypeOf<PublicClientId.ClientId>()
    expectTypeOf<CoreIds.DedupKey>().toEqualTypeOf<PublicClientId.DedupKey>()
    // Distinct brands: a node id is not a client id.
    expectTypeOf<CoreIds.NodeId>().not.toMatchTypeOf<CoreIds.ClientId>()
    expect(CORE_MAX_ID_BYTES).toBe(MAX_ID_BYTES)
  })

  it("entries, membership and committed items", () => {
    expectTypeOf<CoreEntries.Members>().toEqualTypeOf<PublicCluster.Members>()
    expectTypeOf<CoreEntries.ConfigPayload>().toEqualTypeOf<PublicCluster.ConfigPayload>()
    expectTypeOf<CoreEntries.CommandEntry>().toEqualTypeOf<PublicEntries.CommandEntry>()
    expectTypeOf<CoreEntries.NoOpEntry>().toEqualTypeOf<PublicEntries.NoOpEntry>()
    expectTypeOf<CoreEntries.ConfigEntry>().toEqualTypeOf<PublicEntries.ConfigEntry>()
    expectTypeOf<CoreEntries.LogEntry>().toEqualTypeOf<PublicEntries.LogEntry>()
    expectTypeOf<CoreEntries.Snapshot>().toEqualTypeOf<PublicEntries.Snapshot>()
    expectTypeOf<CoreEntries.Committed>().toEqualTypeOf<PublicEntries.Committed>()
    // The class applications build configurations with is a `Members`.
    expectTypeOf<PublicCluster.ClusterConfig>().toMatchTypeOf<CoreEntries.Members>()
  })

  it("durable state", () => {
    expectTypeOf<CoreDurable.HardState>().toEqualTypeOf<PublicStorage.HardState>()
    expectTypeOf<CoreDurable.LeaderForTerm>().toEqualTypeOf<PublicStorage.LeaderForTerm>()
    expectTypeOf<CoreDurable.SnapshotMeta>().toEqualTypeOf<PublicStorage.SnapshotMeta>()
    expectTypeOf<CoreDurable.StoredSnapshot>().toEqualTypeOf<PublicStorage.StoredSnapshot>()
    expectTypeOf<CoreDurable.DurableState>().toEqualTypeOf<PublicStorage.DurableState>()
  })

  it("trace and metric events, and their reasons", () => {
    expectTypeOf<CoreEvents.RaftTraceEvent>().toEqualTypeOf<PublicTrace.RaftTraceEvent>()
    expectTypeOf<CoreEvents.RaftMetric>().toEqualTypeOf<PublicTrace.RaftMetric>()
    expectTypeOf<CoreEvents.StepDownReason>().toEqualTypeOf<PublicTrace.StepDownReason>()
    expectTypeOf<CoreEvents.DenyReason>().toEqualTypeOf<PublicTrace.DenyReason>()
    expectTypeOf<CoreEvents.RefusalGate>().toEqualTypeOf<PublicTrace.RefusalGate>()
    expectTypeOf<CoreEvents.WedgeReason>().toEqualTypeOf<PublicTrace.WedgeReason>()
    expectTypeOf<CoreMessages.RaftMessageType>().toEqualTypeOf<PublicTrace.RaftMessageType>()
  })

  it("wire messages: the codec's Schemas describe the core's messages", () => {
    expectTypeOf<CoreMessages.RaftMessage>().toEqualTypeOf<Wire.RaftMessage>()
    expectTypeOf<CoreMessages.AppendEntries>().toEqualTypeOf<Wire.AppendEntries>()
    expectTypeOf<CoreMessages.InstallSnapshot>().toEqualTypeOf<Wire.InstallSnapshot>()
    expectTypeOf<CoreMessages.Forward>().toEqualTypeOf<Wire.Forward>()
    expectTypeOf<CoreMessages.ForwardResponse>().toEqualTypeOf<Wire.ForwardResponse>()
    expectTypeOf<CoreMessages.Vouch>().toEqualTypeOf<Wire.Vouch>()
  })

  it("roles, tuning and transfer failures", () => {
    expectTypeOf<CoreTuning.RaftRole>().toEqualTypeOf<PublicRole.RaftRole>()
    expectTypeOf<CoreTuning.RaftConfig>().toEqualTypeOf<PublicConfig.RaftConfig>()
    expectTypeOf<CoreReady.TransferFailureReason>().toEqualTypeOf<PublicErrors.TransferFailureReason>()
  })
})
