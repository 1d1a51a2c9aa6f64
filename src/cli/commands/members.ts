/**
 * `kuilt members [list | add <id> | promote <id> | remove <id>]` and `kuilt transfer [<id>]`:
 * membership changes and leadership transfer through the leader (a server that does not run it
 * names the one that does, and the client follows). `add` makes a learner (in `cluster` mode the
 * server also starts that node, which catches up); `promote` makes it a voter (joint consensus).
 */
import { Args, Command } from "@effect/cli"
import { Console, Effect } from "effect"
import * as S from "../../dashboard/ApiSchema.js"
import * as O from "../options.js"
import { withClient } from "./client.js"

const id = Args.text({ name: "id" }).pipe(Args.withDescription("The node id."))

const show = (m: S.Members, asJson: boolean) =>
  Console.log(
    asJson
      ? JSON.stringify(m)
      : [`voters:   ${m.voters.join(", ") || "-"}`, `learners: ${m.learners.join(", ") || "-"}`, ...(m.leader === null ? [] : [`leader:   ${m.leader}`])].join("\n")
  )

const common = { endpoints: O.endpoints, timeout: O.timeout, json: O.json }

const list = Command.make("list", common, (o) =>
  withClient(o.endpoints, o.timeout, (client) =>
    Effect.flatMap(client.request({ method: "GET", path: "/api/members", schema: S.Members }), (a) => show(a.value, o.json)))
).pipe(Command.withDescription("Show the voters and learners."))

const change = (action: "add" | "promote" | "remove", description: string) =>
  Command.make(action, { id, ...common }, (o) =>
    withClient(o.endpoints, Math.max(o.timeout, 20_000), (client) =>
      Effect.flatMap(
        client.request({ method: "POST", path: "/api/members", body: { action, id: o.id }, schema: S.Members, retryRefusals: true }),
        (a) => show(a.value, o.json)
      ))
  ).pipe(Command.withDescription(description))

export const members = Command.make("members", common, (o) =>
  withClient(o.endpoints, o.timeout, (client) =>
    Effect.flatMap(client.request({ method: "GET", path: "/api/members", schema: S.Members }), (a) => show(a.value, o.json)))
).pipe(
  Command.withDescription("Show or change the membership (list, add, promote, remove)."),
  Command.withSubcommands([
    list,
    change("add", "Add a node as a learner (cluster mode also starts it); it catches up from the leader."),
    change("promote", "Make a learner a voter."),
    change("remove", "Remove a node from the configuration.")
  ])
)

export const transfer = Command.make(
  "transfer",
  { target: Args.text({ name: "id" }).pipe(Args.withDescription("The voter to lead (default: the most caught-up one)."), Args.optional), ...common },
  (o) =>
    withClient(o.endpoints, Math.max(o.timeout, 20_000), (client) =>
      Effect.gen(function*() {
        const body = o.target._tag === "Some" ? { target: o.target.value } : {}
        const a = yield* client.request({ method: "POST", path: "/api/transfer", body, schema: S.TransferResponse, retryRefusals: true })
        yield* Console.log(o.json ? JSON.stringify(a.value) : `leader: ${a.value.leader}`)
      }))
).pipe(Command.withDescription("Hand leadership to a voter (thesis §3.10)."))
