/**
 * A voter process of the nemesis harness: joins the host's room with the shared secret's peer
 * tokens, runs a `RaftNode` on its SQLite file over `SeamRaftTransport.fromSeam`, and applies the
 * committed log to a `KvStateMachine`. A restart (after SIGKILL) comes back on the same file.
 *
 * Commands (IPC, see bench/processes/child.ts): `op` (a client request: writes are proposed and
 * answered once applied; reads wait for a read fence, then read), `status`, `transfer` (hand
 * leadership to a voter), `final` (what it applied, for the after-healing checks).
 *
 * `plant` (a deliberately wrong variant, for showing the checker's teeth; never used by CI's
 * passing runs): `stale-read` serves reads from local state without a read fence;
 * `early-ack` acknowledges a put as soon as it is proposed, before it commits.
 */
import { Duration, Effect, Logger, LogLevel, Option, Schedule, Stream } from "effect"
import { join } from "node:path"
import { ClusterConfig, nodeId, PeerToken, RaftNode, SeamRaftTransport, SqlRaftStorage, WebSocketConstructorNode, WebSocketLoom } from "../../src/node.js"
import { runChild } from "../../bench/processes/child.js"
import type { KvOutput } from "../../src/testing/linearizability/KvModel.js"
import type { KvCommand } from "./kv.js"
import { encodeCommand, KvStateMachine } from "./kv.js"

export type Plant = "none" | "stale-read" | "early-ack"

export interface VoterArgs {
  readonly url: string
  readonly room: string
  readonly id: string
  readonly voters: ReadonlyArray<string>
  readonly secret: string
  readonly dataDir: string
  readonly plant: Plant
  /** Longest a request may take in this process before it gives up (the client retries). */
  readonly opTimeoutMs: number
}

export interface VoterStatus {
  readonly id: string
  readonly role: string
  readonly term: number
  readonly leader: string | null
  readonly commitIndex: number
  readonly appliedIndex: number
}

export interface VoterFinal extends VoterStatus {
  readonly digest: number
  readonly applied: ReadonlyArray<string>
  readonly duplicates: number
  readonly undecodable: number
  readonly store: ReadonlyArray<readonly [string, string]>
}

runChild((args: VoterArgs) =>
  Effect.gen(function*() {
    const credentials = yield* PeerToken.credentials(args.secret)
    const room = yield* WebSocketLoom.join({
      url: args.url,
      room: args.room,
      peerId: args.id,
      displayName: args.id,
      credentials,
      connectTimeout: Duration.seconds(5)
    }).pipe(
      // The host may be restarting (a nemesis fault): only an unreachable host is retried.
      Effect.retry({ while: (e) => e._tag === "HostUnreachable", schedule: Schedule.spaced(Duration.millis(100)), times: 600 }),
      Effect.provide(WebSocketConstructorNode)
    )
    const storage = yield* SqlRaftStorage.makeSqlite({ filename: join(args.dataDir, `${args.id}.sqlite`) })
    const node = yield* RaftNode.make({
      cluster: ClusterConfig.ofVoters(...args.voters),
      transport: SeamRaftTransport.fromSeam(room.seam),
      storage
    })
    const sm = new KvStateMachine()
    const waiters = new Set<{ readonly index: number; readonly wake: () => void }>()
    const advanced = () => {
      for (const w of waiters) {
        if (sm.appliedIndex >= w.index) {
          waiters.delete(w)
          w.wake()
        }
      }
    }
    yield* Effect.forkScoped(Stream.runForEach(node.committedFrom(1), (c) =>
      Effect.sync(() => {
        switch (c._tag) {
          case "Entry":
            sm.applyCommand(c.entry.index, c.entry.command)
            break
          case "Internal":
            sm.applyInternal(c.index)
            break
          case "Install":
            // This harness never publishes snapshots, so none can arrive.
            throw new Error(`unexpected snapshot through ${c.snapshot.throughIndex}`)
        }
        advanced()
      })))
    const awaitApplied = (index: number) =>
      Effect.async<void>((resume) => {
        if (sm.appliedIndex >= index) return resume(Effect.void)
        const w = { index, wake: () => resume(Effect.void) }
        waiters.add(w)
        return Effect.sync(() => void waiters.delete(w))
      })

    const status = Effect.gen(function*() {
      return {
        id: args.id,
        role: yield* node.role.get,
        term: yield* node.term.get,
        leader: Option.getOrNull(yield* node.leader.get),
        commitIndex: yield* node.commitIndex.get,
        appliedIndex: sm.appliedIndex
      } satisfies VoterStatus
    })

    const write = (command: KvCommand) =>
      Effect.gen(function*() {
        const proposal = node.propose(encodeCommand(command))
        if (args.plant === "early-ack" && command.op.type === "put") {
          // PLANTED FAULT: the answer does not wait for the commit.
          yield* Effect.forkDaemon(Effect.ignore(Effect.timeout(proposal, Duration.millis(args.opTimeoutMs))))
          return { type: "done" } as KvOutput
        }
        const entry = yield* proposal
        yield* awaitApplied(entry.index)
        const out = sm.resultOf(command.c, command.r)
        if (out === undefined) return yield* Effect.fail(`no result for ${command.c}:${command.r} at ${entry.index}`)
        return out
      })
    const read = (key: string) =>
      args.plant === "stale-read"
        // PLANTED FAULT: the local state, with no read fence.
        ? Effect.succeed(sm.read(key))
        : Effect.gen(function*() {
          const fence = yield* node.readFence
          yield* awaitApplied(fence)
          return sm.read(key)
        })

    return {
      info: { id: args.id },
      handlers: {
        status: () => status,
        op: (command: KvCommand) =>
          (command.op.type === "get" ? read(command.op.key) : write(command)).pipe(
            Effect.timeoutFail({ duration: Duration.millis(args.opTimeoutMs), onTimeout: () => "timed out in the voter" })
          ),
        transfer: ({ to }: { to: string }) => node.transferLeadership(nodeId(to)),
        final: () =>
          Effect.map(status, (s): VoterFinal => ({
            ...s,
            digest: sm.digest,
            applied: sm.applied,
            duplicates: sm.duplicates,
            undecodable: sm.undecodable,
            store: [...sm.store]
          }))
      }
    }
  }).pipe(
    // Slow-proposal and reconnect warnings are what a nemesis causes: only errors are worth a line.
    Logger.withMinimumLogLevel(LogLevel.Error)
  )
)
