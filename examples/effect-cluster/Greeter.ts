/**
 * The example's @effect/cluster entity: `Where` answers which runner serves the entity, so a
 * caller sees shards move between processes.
 */
import { Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Clock, Effect, Schema } from "effect"

export const Where = Rpc.make("Where", {
  success: Schema.Struct({ entity: Schema.String, servedBy: Schema.String, since: Schema.Number })
})

export const Greeter = Entity.make("Greeter", [Where])

/** The entity's behaviour on the runner `runnerId`: each instance remembers when it started. */
export const layer = (runnerId: string) =>
  Greeter.toLayer(Effect.gen(function*() {
    const address = yield* Entity.CurrentAddress
    const since = yield* Clock.currentTimeMillis
    return {
      Where: () => Effect.succeed({ entity: address.entityId, servedBy: runnerId, since })
    }
  }))
