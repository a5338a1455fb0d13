/**
 * The signing key's rotation, run (issue 15.1; the sequence is described in key-rotation.ts). `KeyRotation` holds
 * the configured keys and reads the stored record; its `signer` is what the repository writer signs with (the key
 * the plan says is active), `pass()` is one step of the reconciler (every tick, both deployments) and
 * `rotateNow()` is `/rotate-key`.
 *
 * A pass: announce a configured next key (store the record), switch on KEY_ROTATION_DATE, and then bring every
 * repository in storage to the plan: packages and DB signed by the active key (RepositoryWriter.resign), and the
 * REPO-keyring package holding the plan's key set, in that order, so a keyring that revokes a key goes out only
 * after nothing is signed by it any more. Which repositories are done is stored, so a pass that dies halfway is
 * continued by the next one, and a pass that finds everything done reads one record. Two processes' passes are
 * kept apart by a lease.
 */
import type { StateStore } from "../build/state-store.js";
import { ConflictError } from "../build/state-store.js";
import { type Logger, silentLogger } from "../logger.js";
import {
  announcedRecord,
  type KeyPlan,
  keyPlan,
  planTarget,
  type RotationRecord,
  type RotationSettings,
} from "./key-rotation.js";
import { type KeyringKey, keyringItemIfStale } from "./keyring-package.js";
import type { RepositoryWriter } from "./repo-writer.js";
import type { OpenPgpSigner, Signer } from "./signer.js";
import type { RepoStorage } from "./storage.js";

const ROTATION_KIND = "signing-key";
const ROTATION_KEY = "rotation";
const SYNC_KEY = "sync";
const SYNC_LEASE = "signing-key-sync";

interface SyncRecord {
  readonly target: string;
  readonly done: readonly string[];
  /** Every repository in storage was brought to `target` (ones created later are signed right from the start). */
  readonly complete: boolean;
}

export interface KeyRotationOptions {
  readonly store: Pick<
    StateStore,
    "getRecord" | "putRecord" | "acquireLease" | "releaseLease" | "renewLease"
  >;
  readonly storage: Pick<RepoStorage, "list" | "get">;
  readonly current: OpenPgpSigner;
  readonly next?: OpenPgpSigner;
  readonly settings: RotationSettings;
  readonly clock?: () => number;
  /** How long a read record is trusted before the signer reads it again (a switch in another process). */
  readonly cacheMs?: number;
  readonly log?: Logger;
  readonly owner?: string;
}

export interface RotationStatus {
  readonly phase: KeyPlan["phase"];
  readonly active: string;
  readonly trusted: readonly KeyringKey[];
  readonly revoked: readonly string[];
  /** KEY_ROTATION_DATE, while announced. */
  readonly switchAt?: number;
  readonly switchedAt?: number;
  /** When the old key will be revoked, while switched. */
  readonly revokeAt?: number;
}

export type RotateOutcome =
  | { readonly kind: "switched"; readonly from: string; readonly to: string; readonly revokeAt: number }
  | { readonly kind: "already-switched"; readonly plan: KeyPlan; readonly record: RotationRecord }
  | { readonly kind: "no-next-key"; readonly active: string };

export interface SyncReport {
  readonly plan: KeyPlan;
  /** Repositories brought to the plan by this pass (`ARCH/REPO`). */
  readonly synced: readonly string[];
  /** Packages re-signed by this pass, all repositories. */
  readonly resigned: number;
  /** Repositories whose keyring package this pass published. */
  readonly keyrings: readonly string[];
  /** Another process's pass holds the lease. */
  readonly busy?: boolean;
  /** Repositories this pass could not bring to the plan (logged; the next pass tries them again). */
  readonly failed?: readonly string[];
}

const DB_KEY = /^([A-Za-z0-9_]+)\/([A-Za-z0-9@_+][A-Za-z0-9@._+-]*)\.db$/;

export class KeyRotation {
  readonly signer: Signer;
  /** Set once the writer that signs with `signer` exists (it needs the signer first). */
  writer?: Pick<RepositoryWriter, "publish" | "resign">;
  /**
   * Called once when a pass finished bringing every repository to a new plan (the announcement, the switch, the
   * revocation): the app sends `rotationNotice` of it through Pushover. A failure here is the caller's to log.
   */
  onSynced?: (report: SyncReport) => Promise<void>;
  readonly #o: KeyRotationOptions & { clock: () => number; cacheMs: number; log: Logger };
  #cached?: { plan: KeyPlan; record?: RotationRecord; version: number; at: number };

  constructor(options: KeyRotationOptions) {
    this.#o = {
      ...options,
      clock: options.clock ?? Date.now,
      cacheMs: options.cacheMs ?? 30_000,
      log: options.log ?? silentLogger,
    };
    this.signer = new RotatingSigner(this);
  }

  #keys(): { current: KeyringKey; next?: KeyringKey } {
    const { current, next } = this.#o;
    return {
      current: publicKey(current),
      ...(next ? { next: publicKey(next) } : {}),
    };
  }

  /** The plan now; from the cache unless it is older than `cacheMs` or `fresh`. */
  async plan(fresh = false): Promise<KeyPlan> {
    return (await this.#read(fresh)).plan;
  }

  async #read(fresh: boolean) {
    const now = this.#o.clock();
    if (!fresh && this.#cached && now - this.#cached.at < this.#o.cacheMs) {
      // The date switch needs no record: recompute from the cached record so it happens on the second.
      const plan = keyPlan(this.#keys(), this.#cached.record, this.#o.settings, now);
      return { ...this.#cached, plan };
    }
    const stored = await this.#o.store.getRecord<RotationRecord>(ROTATION_KIND, ROTATION_KEY);
    const record = stored?.value;
    const plan = keyPlan(this.#keys(), record, this.#o.settings, now);
    this.#cached = { plan, ...(record ? { record } : {}), version: stored?.version ?? 0, at: now };
    return this.#cached;
  }

  /**
   * The public keys a build runner trusts (its `repo-key`): the keyring's, so during a rotation both, and a build
   * that starts before the switch and installs a dependency re-signed after it still verifies it.
   */
  async runnerKeys(): Promise<string> {
    return (await this.plan()).trusted.map((k) => k.armored.trim()).join("\n");
  }

  /** The key that signs now. */
  async activeSigner(): Promise<OpenPgpSigner> {
    return this.#signerOf((await this.plan()).active);
  }

  /** The key that signed last (SIGNING_KEY before the first read): for the signer's synchronous properties. */
  lastActiveSigner(): OpenPgpSigner {
    try {
      return this.#signerOf(this.#cached?.plan.active ?? this.#o.current.fingerprint);
    } catch {
      return this.#o.current;
    }
  }

  #signerOf(fingerprint: string): OpenPgpSigner {
    const { current, next } = this.#o;
    if (next && next.fingerprint === fingerprint) return next;
    if (current.fingerprint === fingerprint) return current;
    // The plan names a key we do not hold: the record says the switch went to a key that is not configured here
    // (another process's settings). Signing with a key users will not trust would break them: refuse.
    throw new Error(
      `the signing key ${fingerprint} is active, but neither SIGNING_KEY nor NEXT_SIGNING_KEY is that key`,
    );
  }

  /** `/rotate-key`: switch to the next key now (then `pass()` re-signs). */
  async rotateNow(by: string): Promise<RotateOutcome> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { plan, record, version } = await this.#read(true);
      const next = this.#o.next;
      if ((plan.phase === "switched" || plan.phase === "revoked") && next) {
        // Switched by KEY_ROTATION_DATE before any pass stored it: the record as the pass will store it.
        const switchedAt =
          plan.revokeAt !== undefined ? plan.revokeAt - this.#o.settings.revokeAfterMs : undefined;
        const shown =
          record?.switchedAt !== undefined
            ? record
            : {
                ...announcedRecord(record, publicKey(this.#o.current), publicKey(next), this.#o.clock()),
                ...(switchedAt !== undefined ? { switchedAt } : {}),
                switchedBy: "date",
              };
        return { kind: "already-switched", plan, record: shown };
      }
      if ((plan.phase === "switched" || plan.phase === "revoked") && record)
        return { kind: "already-switched", plan, record };
      if (!next || plan.phase !== "announced") return { kind: "no-next-key", active: plan.active };
      const now = this.#o.clock();
      const base =
        record &&
        record.from.fingerprint === this.#o.current.fingerprint &&
        record.to.fingerprint === next.fingerprint
          ? record
          : announcedRecord(record, publicKey(this.#o.current), publicKey(next), now);
      const switched: RotationRecord = { ...base, switchedAt: now, switchedBy: by };
      try {
        await this.#o.store.putRecord(ROTATION_KIND, ROTATION_KEY, switched, { ifVersion: version });
      } catch (error) {
        if (error instanceof ConflictError) continue;
        throw error;
      }
      await this.#read(true);
      this.#o.log.info({ from: base.from.fingerprint, to: base.to.fingerprint, by }, "signing key switched");
      return {
        kind: "switched",
        from: base.from.fingerprint,
        to: base.to.fingerprint,
        revokeAt: now + this.#o.settings.revokeAfterMs,
      };
    }
    throw new ConflictError("signing-key rotation", "the rotation record kept changing; try again");
  }

  /** Stores what the plan derives but the record does not say yet: the announcement, the date switch. */
  async #settleRecord(): Promise<KeyPlan> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { plan, record, version } = await this.#read(true);
      const next = this.#o.next;
      let wanted: RotationRecord | undefined;
      if (plan.phase === "announced" && next) {
        const matches =
          record?.from.fingerprint === this.#o.current.fingerprint &&
          record.to.fingerprint === next.fingerprint;
        if (!matches)
          wanted = announcedRecord(record, publicKey(this.#o.current), publicKey(next), this.#o.clock());
      } else if (
        (plan.phase === "switched" || plan.phase === "revoked") &&
        record &&
        record.switchedAt === undefined &&
        this.#o.settings.switchAt !== undefined
      ) {
        wanted = { ...record, switchedAt: this.#o.settings.switchAt, switchedBy: "date" };
      }
      if (!wanted) return plan;
      try {
        await this.#o.store.putRecord(ROTATION_KIND, ROTATION_KEY, wanted, { ifVersion: version });
        if (wanted.switchedAt === undefined)
          this.#o.log.info(
            { current: wanted.from.fingerprint, next: wanted.to.fingerprint },
            "next signing key announced: the keyring package now trusts both",
          );
        else this.#o.log.info({ to: wanted.to.fingerprint }, "signing key switched on KEY_ROTATION_DATE");
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    return this.plan(true);
  }

  /** One reconciler step: see the top of this file. */
  async pass(): Promise<SyncReport> {
    const writer = this.writer;
    if (!writer) throw new Error("KeyRotation: no repository writer attached");
    const plan = await this.#settleRecord();
    const target = planTarget(plan);
    const sync = (await this.#o.store.getRecord<SyncRecord>(ROTATION_KIND, SYNC_KEY))?.value;
    if (sync?.target === target && sync.complete) {
      return { plan, synced: [], resigned: 0, keyrings: [] };
    }
    const owner = this.#o.owner ?? `rotation:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    const ttl = 15 * 60_000;
    const lease = await this.#o.store.acquireLease(SYNC_LEASE, owner, ttl, this.#o.clock());
    if (!lease) return { plan, synced: [], resigned: 0, keyrings: [], busy: true };
    try {
      const repos = await this.#repositories();
      const done = new Set(sync?.target === target ? sync.done : []);
      const synced: string[] = [];
      const keyrings: string[] = [];
      const failed: string[] = [];
      let resigned = 0;
      for (const { arch, repo } of repos) {
        const id = `${arch}/${repo}`;
        if (done.has(id)) continue;
        try {
          const result = await writer.resign(repo, arch);
          resigned += result.resigned;
          if (result.missing.length > 0)
            this.#o.log.warn(
              { repo: id, missing: result.missing },
              "re-sign: package files the DB names are missing",
            );
          const item = await keyringItemIfStale(
            { storage: this.#o.storage, keys: plan, now: this.#o.clock },
            repo,
            arch,
          );
          if (item) {
            await writer.publish(repo, arch, [item]);
            keyrings.push(id);
          }
        } catch (error) {
          // One repository's trouble (an unreadable DB, storage down) does not hold the others back; it stays
          // not done, and the next pass tries it again.
          failed.push(id);
          this.#o.log.warn(
            { repo: id, err: error },
            "signing keys: this repository was not brought to the plan",
          );
          continue;
        }
        done.add(id);
        synced.push(id);
        await this.#o.store.putRecord<SyncRecord>(ROTATION_KIND, SYNC_KEY, {
          target,
          done: [...done].sort(),
          complete: false,
        });
        await this.#o.store.renewLease(SYNC_LEASE, owner, lease.token, ttl, this.#o.clock());
      }
      await this.#o.store.putRecord<SyncRecord>(ROTATION_KIND, SYNC_KEY, {
        target,
        done: [...done].sort(),
        complete: failed.length === 0,
      });
      const report = { plan, synced, resigned, keyrings, ...(failed.length > 0 ? { failed } : {}) };
      // Once per plan: the pass (under the lease) that completed it.
      if (failed.length === 0 && sync?.target !== target) await this.onSynced?.(report);
      if (synced.length > 0)
        this.#o.log.info(
          { phase: plan.phase, active: plan.active, synced, resigned, keyrings },
          "signing keys synced",
        );
      return report;
    } finally {
      await this.#o.store.releaseLease(SYNC_LEASE, owner, lease.token).catch(() => undefined);
    }
  }

  async #repositories(): Promise<{ arch: string; repo: string }[]> {
    const found: { arch: string; repo: string }[] = [];
    for (const o of await this.#o.storage.list("")) {
      const m = DB_KEY.exec(o.key);
      if (m) found.push({ arch: m[1] as string, repo: m[2] as string });
    }
    return found;
  }

  /** What the status page shows of the rotation (issue 15.1): the phase, both keys, the dates ahead. */
  async status(): Promise<RotationStatus> {
    const { plan } = await this.#read(false);
    const switchAt =
      plan.phase === "announced" && this.#o.settings.switchAt !== undefined
        ? this.#o.settings.switchAt
        : undefined;
    return {
      phase: plan.phase,
      active: plan.active,
      trusted: plan.trusted,
      revoked: plan.revoked,
      ...(switchAt !== undefined ? { switchAt } : {}),
      ...(plan.revokeAt !== undefined ? { revokeAt: plan.revokeAt } : {}),
      // The switch time, whether stored (`/rotate-key`, a pass after the date) or derived from KEY_ROTATION_DATE.
      ...(plan.revokeAt !== undefined ? { switchedAt: plan.revokeAt - this.#o.settings.revokeAfterMs } : {}),
    };
  }

  /**
   * The REPO-keyring package to publish with a build's packages when the repository's is not the plan's key set
   * (the publish port's `keyringFor`).
   */
  async keyringFor(repoName: string, arch: string) {
    const plan = await this.plan();
    return keyringItemIfStale({ storage: this.#o.storage, keys: plan, now: this.#o.clock }, repoName, arch);
  }
}

function publicKey(signer: OpenPgpSigner): KeyringKey {
  return { fingerprint: signer.fingerprint, armored: signer.publicKeyArmored() };
}

/** The writer's signer: whichever key the plan says is active (read at most every `cacheMs`). */
class RotatingSigner implements Signer {
  constructor(private readonly rotation: KeyRotation) {}
  get fingerprint(): string {
    return this.rotation.lastActiveSigner().fingerprint;
  }
  get expiresAt(): number | null {
    return this.rotation.lastActiveSigner().expiresAt;
  }
  publicKeyArmored(): string {
    return this.rotation.lastActiveSigner().publicKeyArmored();
  }
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return (await this.rotation.activeSigner()).sign(data);
  }
  async madeBy(signature: Uint8Array): Promise<boolean> {
    return (await this.rotation.activeSigner()).madeBy(signature);
  }
}

/** What Pushover says when a rotation step reached every repository (undefined for a steady key). */
export function rotationNotice(report: SyncReport): { title: string; message: string } | undefined {
  const { plan } = report;
  const other = plan.trusted.find((k) => k.fingerprint !== plan.active)?.fingerprint;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  switch (plan.phase) {
    case "announced":
      return {
        title: "arch-repo-bot: next signing key announced",
        message: `The keyring package now trusts ${plan.active} and the next key ${other}; machines pick it up with pacman -Syu. ${plan.active} signs until KEY_ROTATION_DATE or /rotate-key.`,
      };
    case "switched":
      return {
        title: "arch-repo-bot: signing key switched",
        message: `${plan.active} signs now; ${report.resigned} package(s) were re-signed. ${other} stays trusted${plan.revokeAt !== undefined ? ` until ${day(plan.revokeAt)}` : ""}. Machines that never upgraded the keyring package need the new key.`,
      };
    case "revoked":
      return {
        title: "arch-repo-bot: old signing key revoked",
        message: `The keyring package now trusts only ${plan.active} and revokes ${plan.revoked.join(", ")}. Make it SIGNING_KEY and drop NEXT_SIGNING_KEY if you have not yet.`,
      };
    default:
      return undefined;
  }
}
