import { Effect } from "effect"
import { freshFile, openFile, reopen, tempDir } from "../layers/raft/storage/sql/sqliteHarness.js"
import { raftStorageConformance } from "./RaftStorageConformance.js"

// Each test opens a fresh SQLite file in its own temp directory (removed with the test's Scope);
// reopening closes the database and opens the same file again — a node restart. Both places the
// driver can run: a worker thread (the default) and the main thread.
for (const thread of ["worker", "main"] as const) {
  raftStorageConformance(`SqlRaftStorage (SQLite file, driver on the ${thread} thread)`, {
    make: () => Effect.flatMap(tempDir(), (dir) => openFile(freshFile(dir), { thread })),
    reopen
  })
}
