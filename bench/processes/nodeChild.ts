/**
 * A Raft node process: one `RaftNode` over `SeamRaftTransport.fromSeam` on a `WebSocketLoom.join`
 * seam to the host process, with in-memory or SQLite storage and the default `RaftConfig`. It is a
 * voter or — when its id is among `learners` — a learner, so a fan-out benchmark can start learner
 * processes with this same file.
 *
 * Commands: `status`, `phaseStart` / `phaseReport` (a measurement window: event-loop lag, GC, RSS,
 * CPU, role transitions), `drive` (proposals from inside this process), `awaitLeaderCommit` /
 * `cancelAwait` (re-election trials: become leader, commit one proposal, say when).
 */
import { Effect, Fiber, Option, Runtime, Stream } from "effect"
import { join } from "node:path"
import { ClusterConfig, InMemoryRaftStorage, RaftNode, SeamRaftTransport, SqlRaftStorage } from "../../src/node.js"
import type { RaftRole, RaftStorageShape } from "../../src/node.js"
import { round } from "../stats.js"
import { runChild } from "./child.js"
import { COMMAND_BYTES, drive } from "./driver.js"
import type { DriveOptions } from "./driver.js"
import { joinRoom } from "./fabric.js"
import type { HostInfo } from "./fabric.js"
import { Probes } from "./probes.js"
import { wallMs } from "./protocol.js"

export type StorageKind = "mem" | "sqlite"

export interface NodeArgs {
  readonly host: HostInfo
  readonly room: string
  readonly id: string
  readonly voters: ReadonlyArray<string>
  readonly learners: ReadonlyArray<string>
  readonly storage: StorageKind
  /** Where a SQLite node keeps its file (`<id>.sqlite`). */
  readonly dataDir: string
  /** Publish a snapshot through the commit index this often (ms), as an application would; 0: never. */
  readonly compactEveryMs: number
}

export interface NodeStatus {
  readonly id: string
  readonly role: RaftRole
  readonly term: number
  readonly leader: string | null
  readonly commitIndex: number
}

export interface RoleTransition {
  /** Wall-clock ms. */
  readonly at: number
  readonly from: RaftRole
  readonly to: RaftRole
  readonly term: number
  /** A leader that became follower without a new term: it stepped down by CheckQuorum. */
  readonly lostQuorum: boolean
}

export interface NodeReport {
  readonly id: string
  readonly role: RaftRole
  readonly probes: ReturnType<Probes["report"]>
  readonly transitions: ReadonlyArray<RoleTransition>
  /** Terms started during the window (as seen by this node). */
  readonly terms: number
  readonly commitIndex: number
  /** `process.hrtime` (µs) at the window's start and end: the time base of a `--cpu-prof` profile. */
  readonly mono_start_us: number
  /** Wall-clock ms at the same instant as `mono_start_us` (maps stalls onto the profile). */
  readonly wall_start_ms: number
  readonly mono_end_us: number
  /** Frames this node's transport dropped during the window (peer absent, over budget, seam torn). */
  readonly dropped: number
}

export interface LeaderCommit {
  readonly id: string
  /** Wall-clock ms when this node became leader, and when its proposal committed. */
  readonly leaderAt: number
  readonly committedAt: number
}

const monoUs = () => Number(process.hrtime.bigint() / 1000n)

const SNAPSHOT_STATE = new Uint8Array(8)

runChild((args: NodeArgs) =>
  Effect.gen(function*() {
    const probes = new Probes()
    const seam = yield* joinRoom(args.host, args.room, args.id)
    const storage: RaftStorageShape = args.storage === "mem"
      ? yield* InMemoryRaftStorage.make()
      : yield* SqlRaftStorage.makeSqlite({ filename: join(args.dataDir, `${args.id}.sqlite`) }).pipe(Effect.orDie)
    const transport = SeamRaftTransport.fromSeam(seam)
    const node = yield* RaftNode.make({ cluster: ClusterConfig.of(args.voters, args.learners), transport, storage }).pipe(Effect.orDie)
    // Where in the log each stall happened (the public API offers the commit index).
    const commitIndex = node.commitIndex.get
    const runtime = yield* Effect.runtime<never>()
    probes.annotate = () => Runtime.runSync(runtime)(commitIndex)

    let transitions: Array<RoleTransition> = []
    let termAtStart = 0
    let monoStart = monoUs()
    let wallStart = wallMs()
    let droppedAtStart = 0
    let role: RaftRole = yield* node.role.get
    let leaderTerm = -1
    yield* node.role.changes.pipe(
      Stream.drop(1),
      Stream.runForEach((to) =>
        Effect.gen(function*() {
          const term = yield* node.term.get
          const at = round(wallMs())
          transitions.push({ at, from: role, to, term, lostQuorum: role === "Leader" && to === "Follower" && term === leaderTerm })
          if (to === "Leader") leaderTerm = term
          role = to
        })
      ),
      Effect.forkScoped
    )
    if (args.compactEveryMs > 0) {
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(
        Effect.sleep(args.compactEveryMs),
        Effect.flatMap(node.commitIndex.get, (throughIndex) =>
          throughIndex > 0 ? node.publishSnapshot({ throughIndex, state: SNAPSHOT_STATE }) : Effect.void)
      )))
    }

    const status = Effect.gen(function*() {
      const leader = yield* node.leader.get
      return {
        id: args.id,
        role: yield* node.role.get,
        term: yield* node.term.get,
        leader: Option.getOrNull(leader),
        commitIndex: yield* node.commitIndex.get
      } satisfies NodeStatus
    })
    const dropped = () => transport.stats.droppedNotConnected + transport.stats.droppedTooLarge + transport.stats.droppedTorn

    let awaiting: Fiber.RuntimeFiber<LeaderCommit> | undefined
    const awaitLeaderCommit = Effect.gen(function*() {
      yield* node.awaitLeadership
      const became = round(wallMs())
      yield* Effect.orDie(node.propose(new Uint8Array(COMMAND_BYTES)))
      return { id: args.id, leaderAt: became, committedAt: round(wallMs()) } satisfies LeaderCommit
    })

    return {
      info: { id: args.id },
      handlers: {
        status: () => status,
        phaseStart: () =>
          Effect.gen(function*() {
            probes.reset()
            transitions = []
            termAtStart = yield* node.term.get
            monoStart = monoUs()
            wallStart = wallMs()
            droppedAtStart = dropped()
            return yield* status
          }),
        phaseReport: () =>
          Effect.gen(function*() {
            const s = yield* status
            return {
              id: args.id,
              role: s.role,
              probes: probes.report(),
              transitions,
              terms: s.term - termAtStart,
              commitIndex: s.commitIndex,
              mono_start_us: monoStart,
              wall_start_ms: wallStart,
              mono_end_us: monoUs(),
              dropped: dropped() - droppedAtStart
            } satisfies NodeReport
          }),
        drive: (options: DriveOptions) => drive(node, options),
        awaitLeaderCommit: () =>
          Effect.gen(function*() {
            awaiting = yield* Effect.forkDaemon(awaitLeaderCommit)
            return yield* Fiber.join(awaiting)
          }),
        cancelAwait: () => (awaiting === undefined ? Effect.void : Fiber.interrupt(awaiting))
      }
    }
  })
)
