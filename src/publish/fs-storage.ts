/**
 * The embedded default `RepoStorage`: a local folder (`DATA_DIR/repo`) that the app serves read-only.
 * Writes go to a temp file in the same folder and are renamed over the target: rename(2) is atomic on
 * one filesystem, so a pacman reading `REPO.db` meanwhile gets the old file or the new one.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  assertStorageKey,
  assertStoragePrefix,
  type ObjectInfo,
  type PutOptions,
  type RepoStorage,
  StorageError,
} from "./storage.js";

const tempMarker = ".arb-tmp-";

function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

function wrap(op: string, key: string, e: unknown): StorageError {
  return new StorageError(`fs storage: ${op} ${key}: ${(e as Error).message}`, false, { cause: e });
}

export class FsStorage implements RepoStorage {
  constructor(readonly root: string) {}

  #path(key: string): string {
    return join(this.root, ...assertStorageKey(key).split("/"));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const path = this.#path(key);
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      if (isNotFound(e) || (e as NodeJS.ErrnoException).code === "EISDIR") return undefined;
      throw wrap("get", key, e);
    }
  }

  async put(key: string, bytes: Uint8Array, _options?: PutOptions): Promise<void> {
    const path = this.#path(key);
    const temp = join(dirname(path), `${tempMarker}${randomBytes(6).toString("hex")}`);
    try {
      await mkdir(dirname(path), { recursive: true });
      const handle = await open(temp, "wx", 0o644);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
    } catch (e) {
      await rm(temp, { force: true });
      throw wrap("put", key, e);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await rm(path, { force: true });
    } catch (e) {
      throw wrap("delete", key, e);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.#path(key);
    try {
      const st = await stat(path);
      return st.isFile() ? { key, size: st.size } : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw wrap("head", key, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertStoragePrefix(prefix);
    const out: ObjectInfo[] = [];
    // Only walk the folder the prefix points into, not the whole tree.
    const slash = prefix.lastIndexOf("/");
    const baseKey = slash < 0 ? "" : prefix.slice(0, slash);
    const walk = async (dirKey: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(dirKey === "" ? this.root : join(this.root, ...dirKey.split("/")), {
          withFileTypes: true,
        });
      } catch (e) {
        if (isNotFound(e)) return;
        throw wrap("list", prefix, e);
      }
      for (const entry of entries) {
        if (entry.name.startsWith(tempMarker)) continue;
        const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
        if (entry.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const st = await stat(join(this.root, ...key.split("/")));
          out.push({ key, size: st.size });
        }
      }
    };
    await walk(baseKey);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
