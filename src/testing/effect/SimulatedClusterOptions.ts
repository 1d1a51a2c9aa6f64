/**
 * The options of `SimulatedCluster.make` and of its methods. A leaf module: the implementation
 * (`makeCluster.ts`) and the public interface (`SimulatedCluster.ts`) both read it.
 */
import type { Durability } from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import type { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { StateMachine } from "./StateMachine.js"

/** How to build a simulated cluster. Give `ids` or `size`; only `seed` is required. */
export interface SimulatedClusterOptions<S> {
  /** Node ids (distinct). Default `n1 … n<size>`. */
  readonly ids?: ReadonlyArray<string>
  /** Number of nodes when `ids` is not given (1–15; 3–7 is what Raft clusters run). Default 3. */
  readonly size?: number
  /**
   * Seeds everything random: node `id`'s incarnation `k` draws from `Random.make("seed/id/k")`, the
   * loom (loss, duplication, jitter, reordering) from `seed`, the storage fault model from
   * `"seed/faults"`. The same seed and the same test steps replay the same run.
   */
  readonly seed: number
  /** The bootstrap membership every node starts with. Default: every id a voter. */
  readonly bootstrap?: ClusterConfig
  /** Raft tuning, over `SimulatedCluster.defaults` (elections 50–100 ms, heartbeats every 10 ms). */
  readonly config?: Partial<RaftConfig>
  /** The loom's per-link queue policy. Default `DeliveryPolicy.lossy(4096)`. */
  readonly policy?: DeliveryPolicy
  readonly maxPayloadBytes?: number
  /**
   * `immediate` (default): a write is durable when it returns, as the storage contract requires.
   * `onSync`: writes are acknowledged first and become durable only when flushed (every
   * `flushEveryMs`, or `flush`), so `crash(id, { lose: "unsynced" | "torn" })` can lose them: a
   * model of a disk that lies about fsync. See `CrashOptions`.
   */
  readonly storageDurability?: Durability
  /** With `onSync`: the virtual period at which every disk is flushed (default 50; 0 = only `flush`). */
  readonly flushEveryMs?: number
  /** The state machine each node feeds its committed log into. Default: none (indices only). */
  readonly machine?: StateMachine<S>
  /** Publish a snapshot (needs `machine.snapshot`/`restore`) every this many applied indices. */
  readonly snapshotEvery?: number
}

/**
 * What a crash loses. `none` (default): a process crash — everything written survives (the OS had
 * it). `unsynced`: a power loss — writes not yet flushed are lost. `torn`: a power loss mid-flush —
 * a seeded random prefix of the unflushed batches survives (each batch is atomic). The last two
 * only matter with `storageDurability: "onSync"`, and they break the contract the engine relies on
 * (an acknowledged write is durable): the node may forget a vote or an entry it acknowledged.
 * Raft tolerates that on one node of a healthy majority, not in general — use it on a single
 * minority node to check that the cluster still converges, not to check safety. Expect such a
 * follower to stay behind until leadership changes: its leader recorded what it acknowledged and
 * takes its rejections below that as stale frames; the next leader starts afresh and repairs it.
 */
export interface CrashOptions {
  readonly lose?: "none" | "unsynced" | "torn"
}

/** `within`: the bound of a wait, in virtual ms (default: 20 × `electionTimeoutMax`). */
export interface WithinOptions {
  readonly within?: number
}
