/**
 * The host process of the nemesis harness: a `WebSocketHost` on loopback that binds peer ids to
 * the shared secret's tokens (`HostIdentity.sharedSecret`). Restarted after a SIGKILL on the same
 * port, with no memory of its rooms: the voters rejoin on their own (the client's reconnect).
 * Reports its counters on `counters`.
 */
import { Effect, Logger, LogLevel } from "effect"
import { HostIdentity, WebSocketHost } from "../../src/node.js"
import { runChild } from "../../bench/processes/child.js"

export interface HostArgs {
  /** 0 for a free port (the first start); the same port again on a restart. */
  readonly port: number
  readonly secret: string
}

export interface HostInfo {
  readonly url: string
  readonly port: number
}

runChild((args: HostArgs) =>
  Effect.gen(function*() {
    const host = yield* WebSocketHost.make({
      host: "127.0.0.1",
      port: args.port,
      identity: HostIdentity.sharedSecret({ secret: args.secret })
    })
    return {
      info: { url: host.url, port: host.port } satisfies HostInfo,
      handlers: {
        counters: () => Effect.succeed({ ...host.counters })
      }
    }
  }).pipe(Logger.withMinimumLogLevel(LogLevel.Error))
)
