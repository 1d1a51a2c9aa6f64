/**
 * Builds a `SimulatedCluster`. The interface and its documentation are in `SimulatedCluster.ts`,
 * which checks this implementation against it; this module does not import it, so the two do not
 * form an import cycle (hence the parameter types spelled out below).
 */
import { Effect, Either, Exit, Option, Random, Schema, Scope } from "effect"
import { InMemoryLoom } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import { RaftConfig, validate } from "../../../services/raft/RaftConfig.js"
import type { RaftRole } from "../../../services/raft/RaftRole.js"
import { advance, awaitTrue, drive } from "./Driver.js"
import type { Driver } from "./Driver.js"
import { dumpState } from "./Dump.js"
import { ChurnDetected, InvariantViolation } from "./errors.js"
import { History } from "./History.js"
import { currentViolations } from "./Invariants.js"
import { Network } from "./Network.js"
import type { NetworkSettings, Nodes } from "./Network.js"
import type { CrashOptions, SimulatedClusterOptions, WithinOptions } from "./SimulatedClusterOptions.js"
import { boot } from "./Slot.js"
import type { BootContext, Slot } from "./Slot.js"
import { Applier, NO_STATE_MACHINE } from "./StateMachine.js"
import type { StateMachine } from "./StateMachine.js"
import { VirtualTimers } from "./VirtualTimers.js"

const MAX_NODES = 15

/**
 * Timings for simulations: fast (elections settle in a few hundred virtual ms) yet with the
 * engine's ratios (heartbeat well under the election timeout, so a lossy network does not
 * cause spurious elections).
 */
export const SIMULATION_RAFT_CONFIG: Partial<RaftConfig> = {
  electionTimeoutMin: 50,
  electionTimeoutMax: 100,
  heartbeatInterval: 10
}

const nodeIds = (options: { readonly ids?: ReadonlyArray<string>; readonly size?: number }): Array<string> => {
  if (options.ids !== undefined) return [...options.ids]
  const size = options.size ?? 3
  return Array.from({ length: size }, (_, i) => `n${i + 1}`)
}

/** Option checks: a bad option is a bug in the test, so it is a defect with a plain message. */
const problems = <S>(options: SimulatedClusterOptions<S>, ids: ReadonlyArray<string>): string | undefined => {
  if (ids.length < 1 || ids.length > MAX_NODES) return `a cluster has 1 to ${MAX_NODES} nodes, got ${ids.length}`
  if (new Set(ids).size !== ids.length) return `node ids must be distinct: ${ids.join(", ")}`
  for (const id of ids) if (!Schema.is(NodeId)(id)) return `invalid node id "${id}"`
  if (!Number.isSafeInteger(options.seed)) return `seed must be a safe integer, got ${options.seed}`
  const flush = options.flushEveryMs ?? 50
  if (!(Number.isFinite(flush) && flush >= 0)) return `flushEveryMs must be ≥ 0, got ${flush}`
  const every = options.snapshotEvery
  if (every !== undefined && !(Number.isSafeInteger(every) && every >= 1)) {
    return `snapshotEvery must be a positive integer, got ${every}`
  }
  return undefined
}

/** See `SimulatedCluster.make`. */
export const make = <S = undefined>(options: SimulatedClusterOptions<S>) =>
  Effect.gen(function*() {
    const ids = nodeIds(options)
    const problem = problems(options, ids)
    if (problem !== undefined) return yield* Effect.dieMessage(`SimulatedCluster.make: ${problem}`)
    const checked = validate({ ...RaftConfig.defaults, ...SIMULATION_RAFT_CONFIG, ...options.config })
    if (Either.isLeft(checked)) return yield* Effect.dieMessage(`SimulatedCluster.make: ${checked.left.message}`)
    const config = checked.right
    const seed = options.seed
    const defaultWithin = 20 * config.electionTimeoutMax

    const timers = yield* VirtualTimers.make
    // From here on the caller's fiber (the test) lives on the cluster's time too; see VirtualTimers.
    yield* Effect.withClockScoped(timers.testClock)
    const loom = yield* InMemoryLoom.make({
      policy: options.policy ?? DeliveryPolicy.lossy(4096),
      seed,
      ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes })
    }).pipe(Effect.withClock(timers.clock))
    const history = new History()
    const faultRandom = Random.make(`${seed}/faults`)
    const ctx: BootContext = {
      seed,
      loom,
      timers,
      history,
      bootstrap: options.bootstrap ?? ClusterConfig.ofVoters(...ids),
      config
    }
    const machine = (options.machine ?? NO_STATE_MACHINE) as StateMachine<S>

    const slots: Array<Slot<S>> = []
    // The cluster's scope ends every incarnation still running (the loom's own finalizer runs
    // later); each is marked dead first, so nothing a paused node does while closing gets out.
    yield* Effect.addFinalizer(() =>
      Effect.forEach(slots, (s) => {
        if (s.status === "crashed") return Effect.void
        s.current.gate.kill()
        return Scope.close(s.current.scope, Exit.void)
      }, { discard: true })
    )

    for (const [i, raw] of ids.entries()) {
      const id = NodeId.make(raw)
      const disk = InMemoryRaftStorage.Disk.make({ durability: options.storageDurability ?? "immediate" })
      const applier = yield* Applier.make(id, machine, options.snapshotEvery, history)
      const current = yield* Effect.orDie(boot(ctx, { id, disk, applier }, 0, i === 0))
      slots.push({ id, disk, applier, status: "up", current })
    }

    const slotOf = (id: string): Slot<S> => {
      const slot = slots.find((s) => s.id === id)
      if (slot === undefined) throw new Error(`unknown node "${id}" (the cluster has ${ids.join(", ")})`)
      return slot
    }
    const network = new Network(loom, ids, (id) => void slotOf(id))

    const flushDisks = (only?: string) =>
      Effect.sync(() => {
        for (const s of slots) if (s.status !== "crashed" && (only === undefined || s.id === only)) s.disk.sync()
      })
    const flushEvery = options.flushEveryMs ?? 50
    if (options.storageDurability === "onSync" && flushEvery > 0) {
      // The OS writes back on its own schedule: paused processes' data included.
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(timers.sleep(flushEvery), flushDisks())))
    }

    const dump = (reason: string) => dumpState({ seed, slots, loom, timers, history, network: network.notes }, reason)
    const driver: Driver = { timers, dump }

    /** The leader among running `among` nodes: leading at their highest term, and alone in it. */
    const leaderAmong = (among: ReadonlyArray<Slot<S>>): Effect.Effect<Option.Option<NodeId>> =>
      Effect.gen(function*() {
        const running = among.filter((s) => s.status === "up")
        let top = -1
        const leaders: Array<NodeId> = []
        for (const s of running) {
          const term = yield* s.current.raw.term.get
          const leads = (yield* s.current.raw.role.get) === "Leader"
          if (term > top) {
            top = term
            leaders.length = 0
          }
          if (term === top && leads) leaders.push(s.id)
        }
        return leaders.length === 1 ? Option.some(leaders[0]!) : Option.none()
      })
    const leader = Effect.suspend(() => leaderAmong(slots))
    const within = (o: { readonly within?: number } | undefined) => o?.within ?? defaultWithin

    const crash = (id: string, crashOptions: CrashOptions = {}) =>
      Effect.gen(function*() {
        const slot = slotOf(id)
        if (slot.status === "crashed") return
        const pending = slot.disk.pendingBatches
        const lose = crashOptions.lose ?? "none"
        const keep = lose === "none" ? "all" : lose === "unsynced" ? "none" : yield* faultRandom.nextIntBetween(0, pending + 1)
        // In one step: no paused turn can write between the gate opening and the disk crashing,
        // and the crashed disk refuses the old instance's writes from here on.
        yield* Effect.sync(() => {
          slot.current.gate.kill()
          slot.disk.crash({ keep })
          slot.status = "crashed"
        })
        yield* Scope.close(slot.current.scope, Exit.void)
      })

    const restart = (id: string) =>
      Effect.gen(function*() {
        const slot = slotOf(id)
        if (slot.status !== "crashed") return yield* Effect.dieMessage(`restart(${id}): the node is running; crash it first`)
        slot.current = yield* Effect.catchTag(
          boot(ctx, slot, slot.current.number + 1, false),
          "WeaveFailed",
          (e) => Effect.die(e)
        )
        slot.status = "up"
      })

    const setPaused = (id: string, paused: boolean) =>
      Effect.suspend(() => {
        const slot = slotOf(id)
        if (slot.status === "crashed") return Effect.dieMessage(`${paused ? "pause" : "resume"}(${id}): the node is crashed`)
        if (paused) slot.current.gate.pause()
        else slot.current.gate.resume()
        slot.status = paused ? "paused" : "up"
        return Effect.void
      })

    const allUp = (on: ReadonlyArray<Slot<S>>, test: (n: RaftNodeShape, s: Slot<S>) => Effect.Effect<boolean>) =>
      Effect.gen(function*() {
        for (const s of on) if (!(yield* test(s.current.raw, s))) return false
        return true
      })

    const awaitLeader = (o?: WithinOptions & { readonly among?: ReadonlyArray<string> }) =>
      Effect.gen(function*() {
        const among = o?.among === undefined ? slots : o.among.map(slotOf)
        let found: Option.Option<NodeId> = Option.none()
        const what = o?.among === undefined ? "a leader" : `a leader among ${o.among.join(", ")}`
        yield* awaitTrue(driver, Effect.map(leaderAmong(among), (l) => Option.isSome(found = l)), within(o), what)
        return Option.getOrThrow(found)
      })

    const awaitRole = (id: string, role: RaftRole, o?: WithinOptions) =>
      Effect.suspend(() => {
        const slot = slotOf(id)
        const is = Effect.suspend(() => Effect.map(slot.current.raw.role.get, (r) => slot.status !== "crashed" && r === role))
        return awaitTrue(driver, is, within(o), `${id} to be ${role}`)
      })

    const awaitCommit = (index: number, o?: WithinOptions & { readonly on?: ReadonlyArray<string> }) =>
      Effect.suspend(() => {
        const on = o?.on === undefined ? slots.filter((s) => s.status === "up") : o.on.map(slotOf)
        const reached = allUp(on, (n, s) => Effect.map(n.commitIndex.get, (c) => c >= index && s.applier.index >= index))
        return awaitTrue(driver, reached, within(o), `index ${index} committed and applied on ${on.map((s) => s.id).join(", ")}`)
      })

    const awaitConverged = (o?: WithinOptions) =>
      Effect.gen(function*() {
        let found: NodeId | undefined
        const converged = Effect.gen(function*() {
          const l = yield* leaderAmong(slots)
          if (Option.isNone(l)) return false
          const lead = slotOf(l.value).current.raw
          const term = yield* lead.term.get
          const commit = yield* lead.commitIndex.get
          found = l.value
          return yield* allUp(slots.filter((s) => s.status === "up"), (n, s) =>
            Effect.gen(function*() {
              return (yield* n.term.get) === term && Option.contains(yield* n.leader.get, l.value) &&
                (yield* n.commitIndex.get) === commit && s.applier.index === commit
            }))
        })
        yield* awaitTrue(driver, converged, within(o), "the running nodes to converge on one leader and one commit index")
        return found!
      })

    return {
      ids: slots.map((s) => s.id),
      seed,
      config,
      loom,
      node: (id: string) => slotOf(id).current.view,
      status: (id: string) => slotOf(id).status,
      incarnation: (id: string) => slotOf(id).current.number,
      disk: (id: string) => slotOf(id).disk,
      appliedState: (id: string) => slotOf(id).applier.state,
      applied: (id: string) => slotOf(id).applier.applied,
      leader,
      followers: Effect.gen(function*() {
        const l = yield* leader
        return slots.filter((s) => s.status === "up" && !Option.contains(l, s.id)).map((s) => s.id)
      }),
      now: Effect.sync(() => timers.now()),
      elections: (id: string) => history.countsOf(slotOf(id).id),
      dumpState: dump,
      crash,
      restart,
      pause: (id: string) => setPaused(id, true),
      resume: (id: string) => setPaused(id, false),
      flush: (id?: string) => Effect.suspend(() => flushDisks(id === undefined ? undefined : slotOf(id).id)),
      partition: (a: Nodes, b?: Nodes) => network.partition(a, b),
      partitionOneWay: (from: Nodes, to: Nodes) => network.partitionOneWay(from, to),
      isolate: (id: string) => network.isolate(id),
      bridge: (bridgeId: string, a: Nodes, b: Nodes) => network.bridge(bridgeId, a, b),
      heal: network.heal,
      setNetwork: (c: NetworkSettings) => network.setConditions(c),
      setLink: (from: string, to: string, c: NetworkSettings) => network.setLink(from, to, c),
      resetNetwork: network.resetConditions,
      settle: (ms: number) => advance(driver, ms),
      drive: <A, E, R>(effect: Effect.Effect<A, E, R>, o?: WithinOptions & { readonly what?: string }) =>
        drive(driver, effect, within(o), o?.what ?? "the driven effect to complete"),
      awaitTrue: <E, R>(condition: Effect.Effect<boolean, E, R>, o: WithinOptions & { readonly what: string }) =>
        awaitTrue(driver, condition, within(o), o.what),
      awaitLeader,
      awaitRole,
      awaitCommit,
      awaitConverged,
      proposeOnLeader: (command: Uint8Array, o?: WithinOptions) =>
        Effect.gen(function*() {
          const l = yield* awaitLeader(o)
          return yield* drive(driver, slotOf(l).current.view.propose(command), within(o), `the proposal on ${l} to commit`)
        }),
      checkInvariants: Effect.gen(function*() {
        const violations = yield* currentViolations(slots, history)
        if (violations.length === 0) return
        return yield* new InvariantViolation({ violations, dump: yield* dump("invariant violated") })
      }),
      checkChurn: ({ maxElections, windowMs = Infinity }: { readonly maxElections: number; readonly windowMs?: number }) =>
        Effect.gen(function*() {
          const worst = history.worstWindow(windowMs)
          if (worst.elections <= maxElections) return
          const dump = yield* driver.dump("churn")
          return yield* new ChurnDetected({
            elections: worst.elections,
            maxElections,
            windowMs,
            windowStart: worst.start,
            dump
          })
        })
    }
  })
