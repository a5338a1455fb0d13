/**
 * The private folders a build runs in. makepkg refuses root, so when we are root the build user gets a
 * fresh temp folder of its own (mode 0700) holding a copy of the source: it never writes into the
 * caller's checkout, and nothing else on the machine can change the source under it.
 */
import {
  chmodSync,
  chownSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execChecked } from "./exec.js";

export interface UserIds {
  readonly uid: number;
  readonly gid: number;
}

export async function lookupUser(user: string): Promise<UserIds> {
  const uid = Number((await execChecked(["id", "-u", "--", user])).stdout.trim());
  const gid = Number((await execChecked(["id", "-g", "--", user])).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot resolve user ${user}`);
  return { uid, gid };
}

function chownTree(path: string, ids: UserIds): void {
  chownSync(path, ids.uid, ids.gid);
  const st = lstatSync(path);
  if (st.isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), ids);
}

export interface WorkDir {
  readonly root: string;
  /** Where the source is copied and makepkg runs. */
  readonly sourceDir: string;
  /** makepkg's PKGDEST: only the packages of this build land here. */
  readonly pkgDest: string;
  readonly remove: () => void;
}

/** A temp folder with `src/` (a copy of `source`, or empty) and `pkgdest/`, owned by `owner` when given. */
export function makeWorkDir(owner: UserIds | undefined, source?: string, baseDir = tmpdir()): WorkDir {
  const root = mkdtempSync(join(baseDir, "arb-build-"));
  const sourceDir = join(root, "src");
  const pkgDest = join(root, "pkgdest");
  if (source !== undefined) cpSync(source, sourceDir, { recursive: true, verbatimSymlinks: true });
  else mkdirSync(sourceDir);
  mkdirSync(pkgDest);
  chmodSync(root, 0o700);
  if (owner) chownTree(root, owner);
  return { root, sourceDir, pkgDest, remove: () => rmSync(root, { recursive: true, force: true }) };
}
