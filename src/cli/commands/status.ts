/**
 * `kuilt status`: a table of every node — id, role, term, commit index, applied index, leader,
 * lag (the leader's commit minus what the node applied), health — gathered from the `/api/status`
 * of each endpoint and of the servers they name as peers. An endpoint that cannot be reached shows
 * as such; `--check` makes the exit code 1 unless every node is up and healthy.
 */
import { Command, Options } from "@effect/cli"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Console, Duration, Effect, Either, Schema } from "effect"
import * as S from "../../dashboard/ApiSchema.js"
import * as ApiClient from "../client/ApiClient.js"
import { CliError, ExitCode } from "../errors.js"
import * as O from "../options.js"

interface Row {
  readonly id: string
  readonly role: string
  readonly term: string
  readonly commit: string
  readonly applied: string
  readonly leader: string
  readonly lag: string
  readonly health: string
  readonly server: string
}

const HEAD: Row = { id: "ID", role: "ROLE", term: "TERM", commit: "COMMIT", applied: "APPLIED", leader: "LEADER", lag: "LAG", health: "HEALTH", server: "SERVER" }
const COLUMNS = ["id", "role", "term", "commit", "applied", "leader", "lag", "health", "server"] as const

/** Renders rows as an aligned text table. */
export const table = (rows: ReadonlyArray<Row>): string => {
  const all = [HEAD, ...rows]
  const width = COLUMNS.map((c) => Math.max(...all.map((r) => r[c].length)))
  return all.map((r) => COLUMNS.map((c, i) => r[c].padEnd(width[i]!)).join("  ").trimEnd()).join("\n")
}

const rowOf = (n: S.NodeStatus, server: string): Row =>
  n.up
    ? {
      id: n.id,
      role: n.role ?? "?",
      term: String(n.term),
      commit: String(n.commit),
      applied: String(n.applied),
      leader: n.leader ?? "-",
      lag: String(n.lag),
      health: n.healthy ? "ok" : n.problems.join("; "),
      server
    }
    : { id: n.id, role: "down", term: "-", commit: "-", applied: "-", leader: "-", lag: "-", health: n.down ?? "down", server }

const StatusJson = Schema.parseJson(S.ClusterStatus)

export const command = Command.make(
  "status",
  {
    endpoints: O.endpoints,
    timeout: O.timeout,
    json: O.json,
    check: Options.boolean("check").pipe(Options.withDescription("Exit with code 1 unless every node is up and healthy."))
  },
  (o) =>
    Effect.gen(function*() {
      const list = ApiClient.parseEndpoints(o.endpoints)
      if (Either.isLeft(list)) return yield* list.left
      const http = yield* HttpClient.HttpClient
      const fetchStatus = (endpoint: string) =>
        http.execute(HttpClientRequest.get(`${endpoint}/api/status`)).pipe(
          Effect.flatMap((r) => r.text),
          Effect.flatMap((t) => Schema.decodeUnknown(StatusJson)(t)),
          Effect.timeout(Duration.millis(Math.max(100, o.timeout))),
          Effect.either,
          Effect.map((r) => [endpoint, r] as const)
        )
      const asked = new Set<string>()
      const answers = new Map<string, S.ClusterStatus>()
      const failures = new Map<string, string>()
      let wave: ReadonlyArray<string> = list.right
      while (wave.length > 0) {
        for (const e of wave) asked.add(e)
        const got = yield* Effect.forEach(wave, fetchStatus, { concurrency: "unbounded" })
        const more = new Set<string>()
        for (const [endpoint, r] of got) {
          if (Either.isLeft(r)) {
            failures.set(endpoint, r.left._tag === "TimeoutException" ? "no answer in time" : r.left.message.split("\n")[0] ?? "unreachable")
            continue
          }
          answers.set(endpoint, r.right)
          for (const p of r.right.peers) {
            const e = ApiClient.normalizeEndpoint(p.url)
            if (!asked.has(e)) more.add(e)
          }
        }
        wave = [...more]
      }
      if (answers.size === 0) {
        return yield* new CliError({
          code: ExitCode.Unreachable,
          message: `no endpoint reachable: ${[...failures].map(([e, why]) => `${e} (${why})`).join(", ")}`
        })
      }
      // Each node as its own server reports it; nodes only named as peers of a server that did not answer show as unreachable.
      const rows = new Map<string, Row>()
      const statuses: Array<S.NodeStatus> = []
      for (const [endpoint, s] of answers) {
        for (const n of s.nodes) {
          rows.set(n.id, rowOf(n, endpoint.replace(/^https?:\/\//, "")))
          statuses.push(n)
        }
      }
      for (const s of answers.values()) {
        for (const p of s.peers) {
          const e = ApiClient.normalizeEndpoint(p.url)
          if (!rows.has(p.id) && failures.has(e)) {
            rows.set(p.id, { id: p.id, role: "unreachable", term: "-", commit: "-", applied: "-", leader: "-", lag: "-", health: failures.get(e)!, server: e.replace(/^https?:\/\//, "") })
          }
        }
      }
      for (const [e, why] of failures) {
        if (![...rows.values()].some((r) => `http://${r.server}` === e)) {
          rows.set(`?${e}`, { id: "?", role: "unreachable", term: "-", commit: "-", applied: "-", leader: "-", lag: "-", health: why, server: e.replace(/^https?:\/\//, "") })
        }
      }
      const sorted = [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      if (o.json) yield* Console.log(JSON.stringify({ nodes: statuses, unreachable: [...failures].map(([endpoint, reason]) => ({ endpoint, reason })) }))
      else yield* Console.log(table(sorted))
      if (o.check && (failures.size > 0 || sorted.some((r) => r.health !== "ok"))) {
        return yield* new CliError({ code: ExitCode.Failed, message: "not every node is up and healthy" })
      }
    }).pipe(Effect.provide(FetchHttpClient.layer))
).pipe(Command.withDescription("Show every node: id, role, term, commit, applied, leader, lag, health."))
