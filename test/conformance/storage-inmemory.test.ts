import { Effect } from "effect"
import * as InMemoryRaftStorage from "../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { raftStorageConformance } from "./RaftStorageConformance.js"

// Reopening = a new instance over the same disk, i.e. a node restart after a clean stop.
raftStorageConformance("InMemoryRaftStorage", {
  make: () => InMemoryRaftStorage.make(),
  reopen: (handle) => InMemoryRaftStorage.make({ disk: handle.disk })
})

// With `onSync` durability, reads see pending writes and a crash that keeps every pending batch
// must leave exactly what was read: the pending layer must never change what a reader observes.
raftStorageConformance("InMemoryRaftStorage (onSync, reopened by a crash keeping all pending)", {
  make: () => InMemoryRaftStorage.make({ durability: "onSync" }),
  reopen: (handle) =>
    Effect.suspend(() => {
      handle.disk.crash({ keep: "all" })
      return InMemoryRaftStorage.make({ disk: handle.disk })
    })
})
