/**
 * The processes of one nemesis run: a host and the voters, each an OS process (spawned through
 * bench/processes/children.ts: async spawn, IPC, killed with the run's scope or the controller).
 * Tracks which process is current for each voter, which are down (killed, restarting) or paused,
 * and whether the host is down, so the nemesis and the clients see one picture.
 */
import { Duration, Effect, Scope } from "effect"
import { start } from "./spawn.js"
import type { Proc, SpawnError } from "./spawn.js"
import type { HostInfo } from "./hostChild.js"
import type { Plant, VoterArgs, VoterFinal, VoterStatus } from "./voterChild.js"

export interface ProcsOptions {
  readonly voters: ReadonlyArray<string>
  readonly dataDir: string
  readonly secret: string
  readonly plant: Plant
  readonly opTimeoutMs: number
}

export class Procs {
  readonly voters: ReadonlyArray<string>
  private readonly current = new Map<string, Proc>()
  /** Voters killed and not yet ready again. */
  readonly down = new Set<string>()
  readonly paused = new Set<string>()
  hostDown = false
  /** Processes that exited without the nemesis killing them (name and exit). */
  readonly unexpectedExits: Array<string> = []
  private readonly killedByUs = new Set<Proc>()
  private host!: Proc
  hostInfo!: HostInfo

  constructor(readonly options: ProcsOptions, private readonly scope: Scope.Scope) {
    this.voters = options.voters
  }

  private watch(child: Proc): void {
    Effect.runFork(Effect.map(child.exited, (e) => {
      if (!this.killedByUs.has(child) && !this.closing) this.unexpectedExits.push(`${child.name} (code ${e.code}, ${e.signal})`)
    }))
  }

  closing = false

  startHost(port: number): Effect.Effect<void, SpawnError> {
    return Effect.gen(this, function*() {
      const host = yield* Scope.extend(
        start("host", "host", { port, secret: this.options.secret }, Duration.seconds(90)),
        this.scope
      )
      this.host = host
      this.hostInfo = host.info as HostInfo
      this.hostDown = false
      this.watch(host)
    })
  }

  startVoter(id: string): Effect.Effect<void, SpawnError> {
    return Effect.gen(this, function*() {
      const args: VoterArgs = {
        url: this.hostInfo.url,
        room: "kv",
        id,
        voters: this.voters,
        secret: this.options.secret,
        dataDir: this.options.dataDir,
        plant: this.options.plant,
        opTimeoutMs: this.options.opTimeoutMs
      }
      const child = yield* Scope.extend(start(id, "voter", args, Duration.seconds(90)), this.scope)
      this.current.set(id, child)
      this.down.delete(id)
      this.watch(child)
    })
  }

  /** SIGKILLs voter `id` (it is down until `startVoter` brings it back on its file). */
  killVoter(id: string): void {
    const child = this.current.get(id)
    if (child === undefined) return
    this.killedByUs.add(child)
    this.current.delete(id)
    this.down.add(id)
    this.paused.delete(id)
    child.kill("SIGKILL")
  }

  pause(id: string): void {
    this.current.get(id)?.kill("SIGSTOP")
    this.paused.add(id)
  }

  resume(id: string): void {
    this.current.get(id)?.kill("SIGCONT")
    this.paused.delete(id)
  }

  killHost(): void {
    this.killedByUs.add(this.host)
    this.hostDown = true
    this.host.kill("SIGKILL")
  }

  awaitHostExit(): Effect.Effect<void> {
    return Effect.asVoid(this.host.exited)
  }

  awaitExit(child: Proc): Effect.Effect<void> {
    return Effect.asVoid(child.exited)
  }

  /** The current process of voter `id` (also when paused), if it is up. */
  voter(id: string): Proc | undefined {
    return this.current.get(id)
  }

  /** Voters neither down nor paused. */
  healthy(): ReadonlyArray<string> {
    return this.voters.filter((id) => !this.down.has(id) && !this.paused.has(id) && this.current.has(id))
  }

  impaired(): number {
    return this.down.size + this.paused.size
  }

  hostCounters(): Effect.Effect<Record<string, number>, SpawnError> {
    return this.host.request("counters", null, Duration.seconds(10))
  }

  status(id: string, timeout: Duration.DurationInput = Duration.seconds(2)): Effect.Effect<VoterStatus, SpawnError> {
    const child = this.current.get(id)
    return child === undefined
      ? Effect.die(new Error(`${id} is down`))
      : child.request<VoterStatus>("status", null, timeout)
  }

  /** The leader every healthy voter that answers names, if they agree and it says it leads. */
  leader(): Effect.Effect<string | undefined> {
    return Effect.gen(this, function*() {
      const all = yield* Effect.forEach(this.healthy(), (id) => Effect.option(this.status(id)), { concurrency: "unbounded" })
      const leaders = all.flatMap((s) => (s._tag === "Some" && s.value.role === "Leader" ? [s.value.id] : []))
      return leaders.length === 1 ? leaders[0] : undefined
    })
  }

  final(id: string): Effect.Effect<VoterFinal, SpawnError> {
    return this.current.get(id)!.request<VoterFinal>("final", null, Duration.seconds(30))
  }
}
