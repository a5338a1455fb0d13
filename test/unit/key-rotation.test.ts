/** Issue 15.1: the rotation plan (pure) and its settings. The whole sequence with pacman: key-rotation-pacman.test.ts. */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import {
  announcedRecord,
  keyPlan,
  planTarget,
  type RotationRecord,
  rotationSettingsFromEnv,
} from "../../src/publish/key-rotation.js";
import { KeyRotation, rotationNotice } from "../../src/publish/rotation.js";
import { generateSigningKey, nextSignerFromEnv, OpenPgpSigner } from "../../src/publish/signer.js";

const A = { fingerprint: "A".repeat(40), armored: "key A" };
const B = { fingerprint: "B".repeat(40), armored: "key B" };
const C = { fingerprint: "C".repeat(40), armored: "key C" };
const DAY = 86_400_000;
const settings = { revokeAfterMs: 30 * DAY };
const t0 = Date.UTC(2027, 0, 1);

describe("keyPlan", () => {
  it("is steady with one key, and announces a configured next key before any record exists", () => {
    expect(keyPlan({ current: A }, undefined, settings, t0)).toEqual({
      phase: "steady",
      active: A.fingerprint,
      trusted: [A],
      revoked: [],
    });
    expect(keyPlan({ current: A, next: B }, undefined, settings, t0)).toEqual({
      phase: "announced",
      active: A.fingerprint,
      trusted: [A, B],
      revoked: [],
    });
  });

  it("switches on the record or on the date, and revokes the old key after the grace period", () => {
    const announced = announcedRecord(undefined, A, B, t0);
    expect(keyPlan({ current: A, next: B }, announced, settings, t0 + DAY).phase).toBe("announced");
    const switched: RotationRecord = { ...announced, switchedAt: t0 + 2 * DAY, switchedBy: "alice" };
    expect(keyPlan({ current: A, next: B }, switched, settings, t0 + 3 * DAY)).toEqual({
      phase: "switched",
      active: B.fingerprint,
      trusted: [A, B],
      revoked: [],
      revokeAt: t0 + 32 * DAY,
    });
    const byDate = { ...settings, switchAt: t0 + 5 * DAY };
    expect(keyPlan({ current: A, next: B }, announced, byDate, t0 + 5 * DAY - 1).phase).toBe("announced");
    expect(keyPlan({ current: A, next: B }, announced, byDate, t0 + 5 * DAY).active).toBe(B.fingerprint);
    expect(keyPlan({ current: A, next: B }, switched, settings, t0 + 32 * DAY)).toEqual({
      phase: "revoked",
      active: B.fingerprint,
      trusted: [B],
      revoked: [A.fingerprint],
    });
    // The operator made B the SIGNING_KEY: the same plan, from the record.
    expect(keyPlan({ current: B }, switched, settings, t0 + 3 * DAY)).toMatchObject({
      phase: "switched",
      trusted: [A, B],
    });
    expect(keyPlan({ current: B }, switched, settings, t0 + 40 * DAY)).toMatchObject({
      phase: "revoked",
      revoked: [A.fingerprint],
    });
  });

  it("keeps earlier revocations through the next rotation, and changes its target at every step", () => {
    const first: RotationRecord = { ...announcedRecord(undefined, A, B, t0), switchedAt: t0 };
    const second = announcedRecord(first, B, C, t0 + 100 * DAY);
    expect(second.revokedBefore).toEqual([A.fingerprint]);
    const plans = [
      keyPlan({ current: B, next: C }, second, settings, t0 + 100 * DAY),
      keyPlan({ current: B, next: C }, { ...second, switchedAt: t0 + 101 * DAY }, settings, t0 + 102 * DAY),
      keyPlan({ current: B, next: C }, { ...second, switchedAt: t0 + 101 * DAY }, settings, t0 + 140 * DAY),
    ];
    expect(plans.map((p) => [p.phase, p.active, p.revoked])).toEqual([
      ["announced", B.fingerprint, [A.fingerprint]],
      ["switched", C.fingerprint, [A.fingerprint]],
      ["revoked", C.fingerprint, [A.fingerprint, B.fingerprint]],
    ]);
    expect(new Set(plans.map(planTarget)).size).toBe(3);
    // A key that comes back (the operator re-configured a revoked one) is trusted again, not both.
    expect(keyPlan({ current: A }, first, settings, t0 + 200 * DAY)).toMatchObject({
      phase: "steady",
      trusted: [A],
      revoked: [],
    });
  });
});

describe("rotationNotice", () => {
  it("names the keys and the dates of each step, and says nothing for a steady key", () => {
    const switched: RotationRecord = { ...announcedRecord(undefined, A, B, t0), switchedAt: t0 };
    const report = (plan: ReturnType<typeof keyPlan>, resigned = 0) => ({
      plan,
      synced: [],
      resigned,
      keyrings: [],
    });
    expect(rotationNotice(report(keyPlan({ current: A }, undefined, settings, t0)))).toBeUndefined();
    expect(rotationNotice(report(keyPlan({ current: A, next: B }, undefined, settings, t0)))?.message).toBe(
      `The keyring package now trusts ${A.fingerprint} and the next key ${B.fingerprint}; machines pick it up with pacman -Syu. ${A.fingerprint} signs until KEY_ROTATION_DATE or /rotate-key.`,
    );
    expect(
      rotationNotice(report(keyPlan({ current: A, next: B }, switched, settings, t0 + DAY), 12))?.message,
    ).toBe(
      `${B.fingerprint} signs now; 12 package(s) were re-signed. ${A.fingerprint} stays trusted until 2027-01-31. Machines that never upgraded the keyring package need the new key.`,
    );
    expect(
      rotationNotice(report(keyPlan({ current: B }, switched, settings, t0 + 31 * DAY)))?.message,
    ).toContain(`trusts only ${B.fingerprint} and revokes ${A.fingerprint}`);
  });
});

describe("rotation settings", () => {
  it("reads KEY_ROTATION_DATE and KEY_REVOKE_AFTER_DAYS, and refuses what it cannot read", () => {
    expect(rotationSettingsFromEnv({})).toEqual({ revokeAfterMs: 30 * DAY });
    expect(rotationSettingsFromEnv({ KEY_ROTATION_DATE: "2027-01-15", KEY_REVOKE_AFTER_DAYS: "7" })).toEqual({
      switchAt: Date.UTC(2027, 0, 15),
      revokeAfterMs: 7 * DAY,
    });
    expect(rotationSettingsFromEnv({ KEY_ROTATION_DATE: "2027-01-15T12:00:00+02:00" }).switchAt).toBe(
      Date.UTC(2027, 0, 15, 10),
    );
    expect(() => rotationSettingsFromEnv({ KEY_ROTATION_DATE: "2027-01-15T12:00" })).toThrow(
      /KEY_ROTATION_DATE must be an ISO 8601 date/,
    );
    expect(() => rotationSettingsFromEnv({ KEY_ROTATION_DATE: "next week" })).toThrow(/KEY_ROTATION_DATE/);
    expect(() => rotationSettingsFromEnv({ KEY_REVOKE_AFTER_DAYS: "-1" })).toThrow(/KEY_REVOKE_AFTER_DAYS/);
  });

  it("NEXT_SIGNING_KEY needs a SIGNING_KEY, another key, and its own passphrase", async () => {
    const a = await generateSigningKey();
    const b = await generateSigningKey({ passphrase: "next one" });
    const current = await OpenPgpSigner.fromArmored(a.privateKeyArmored);
    await expect(nextSignerFromEnv({}, current)).resolves.toBeUndefined();
    await expect(nextSignerFromEnv({ NEXT_SIGNING_KEY: a.privateKeyArmored }, undefined)).rejects.toThrow(
      /no SIGNING_KEY to rotate away from/,
    );
    await expect(nextSignerFromEnv({ NEXT_SIGNING_KEY: a.privateKeyArmored }, current)).rejects.toThrow(
      /the same key as SIGNING_KEY/,
    );
    await expect(nextSignerFromEnv({ NEXT_SIGNING_KEY: b.privateKeyArmored }, current)).rejects.toThrow(
      "NEXT_SIGNING_KEY: the key is passphrase-protected and NEXT_SIGNING_KEY_PASSPHRASE is not set",
    );
    const next = await nextSignerFromEnv(
      { NEXT_SIGNING_KEY: b.privateKeyArmored, NEXT_SIGNING_KEY_PASSPHRASE: "next one" },
      current,
    );
    expect(next?.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(next?.fingerprint).not.toBe(current.fingerprint);
  });
});

describe("KeyRotation.rotateNow", () => {
  it("after KEY_ROTATION_DATE says the date switched it, before any pass stored that; before the date it switches", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arb-rotate-now-"));
    try {
      const [a, b] = await Promise.all([generateSigningKey(), generateSigningKey()]);
      const current = await OpenPgpSigner.fromArmored(a.privateKeyArmored);
      const next = await OpenPgpSigner.fromArmored(b.privateKeyArmored);
      let now = t0;
      const rotation = (state: string) =>
        new KeyRotation({
          store: new FileStateStore(join(dir, state)),
          storage: new FsStorage(join(dir, "repo")),
          current,
          next,
          settings: { switchAt: t0 + DAY, revokeAfterMs: 30 * DAY },
          clock: () => now,
          cacheMs: 0,
        });
      now = t0 + 2 * DAY;
      const late = await rotation("late").rotateNow("alice");
      expect(late).toMatchObject({
        kind: "already-switched",
        plan: { phase: "switched", active: next.fingerprint },
        record: { switchedAt: t0 + DAY, switchedBy: "date" },
      });
      now = t0 + DAY / 2;
      const early = rotation("early");
      expect(await early.rotateNow("alice")).toEqual({
        kind: "switched",
        from: current.fingerprint,
        to: next.fingerprint,
        revokeAt: t0 + DAY / 2 + 30 * DAY,
      });
      expect(await early.plan(true)).toMatchObject({ phase: "switched", revokeAt: t0 + DAY / 2 + 30 * DAY });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("KeyRotation.runnerKeys", () => {
  it("gives runners both keys while both are trusted, then only the new one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arb-runner-keys-"));
    try {
      const [a, b] = await Promise.all([generateSigningKey(), generateSigningKey()]);
      const current = await OpenPgpSigner.fromArmored(a.privateKeyArmored);
      const next = await OpenPgpSigner.fromArmored(b.privateKeyArmored);
      let now = t0;
      const rotation = new KeyRotation({
        store: new FileStateStore(join(dir, "state")),
        storage: new FsStorage(join(dir, "repo")),
        current,
        next,
        settings: { switchAt: t0 + DAY, revokeAfterMs: 30 * DAY },
        clock: () => now,
        cacheMs: 0,
      });
      const both = `${current.publicKeyArmored().trim()}\n${next.publicKeyArmored().trim()}`;
      expect(await rotation.runnerKeys()).toBe(both);
      now = t0 + 2 * DAY;
      expect(await rotation.runnerKeys()).toBe(both);
      now = t0 + 32 * DAY;
      expect(await rotation.runnerKeys()).toBe(next.publicKeyArmored().trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("KeyRotation.pass", () => {
  it("brings the other repositories to the plan when one DB is unreadable, and that one on a later pass", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arb-rotation-pass-"));
    try {
      const { RepositoryWriter } = await import("../../src/publish/repo-writer.js");
      const { synthesizePackage } = await import("../helpers/synthetic-package.js");
      const [a, b] = await Promise.all([generateSigningKey(), generateSigningKey()]);
      const current = await OpenPgpSigner.fromArmored(a.privateKeyArmored);
      const next = await OpenPgpSigner.fromArmored(b.privateKeyArmored);
      const store = new FileStateStore(join(dir, "state"));
      const storage = new FsStorage(join(dir, "repo"));
      const rotation = new KeyRotation({
        store,
        storage,
        current,
        next,
        settings,
        clock: () => t0,
        cacheMs: 0,
      });
      const writer = new RepositoryWriter({
        storage,
        leases: store,
        signer: rotation.signer,
        batchWaitMs: 0,
      });
      rotation.writer = writer;
      const pkg = await synthesizePackage({ name: "hello", version: "1.0-1" });
      for (const repo of ["good", "bad"])
        await writer.publish(repo, "x86_64", [{ packageFile: pkg.bytes, filename: pkg.filename }]);
      const badDb = (await storage.get("x86_64/bad.db")) as Uint8Array;
      await storage.put("x86_64/bad.files", new TextEncoder().encode("not a database"));

      const first = await rotation.pass();
      expect(first).toMatchObject({
        synced: ["x86_64/good"],
        failed: ["x86_64/bad"],
        keyrings: ["x86_64/good"],
      });
      expect(await storage.get("x86_64/bad.db")).toEqual(badDb);

      // Repaired (the DB as it was): the next pass takes it, and the one after finds nothing to do.
      await storage.delete("x86_64/bad.files");
      expect(await rotation.pass()).toMatchObject({ synced: ["x86_64/bad"], keyrings: ["x86_64/bad"] });
      const third = await rotation.pass();
      expect(third).toMatchObject({ synced: [], keyrings: [], resigned: 0 });
      expect(third.failed).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
