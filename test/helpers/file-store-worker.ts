/**
 * Child process for the cross-process test of the file store: increments a job's `attempt` N times through
 * the read-decide-write loop and takes a lease once. Usage: tsx file-store-worker.ts DIR BUILD PKGBASE N OWNER
 */
import { FileStateStore } from "../../src/build/file-state-store.js";
import { updateJobWith } from "../../src/build/state-store.js";

const [dir, buildId, pkgbase, count, owner] = process.argv.slice(2);
if (!dir || !buildId || !pkgbase || !count || !owner) throw new Error("usage: DIR BUILD PKGBASE N OWNER");
const store = new FileStateStore(dir);
for (let i = 0; i < Number(count); i++) {
  await updateJobWith(store, buildId, pkgbase, (job) => ({ attempt: job.attempt + 1 }), 1000);
}
const lease = await store.acquireLease("repo:x", owner, 600_000, 1);
process.stdout.write(JSON.stringify({ lease: lease?.token ?? null }));
