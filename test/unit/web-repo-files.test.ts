import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { contentTypeOf, parseRepoFilePath } from "../../src/web/repo-files.js";
import { rawRequest } from "../helpers/raw-http.js";
import { startWebFixture, type WebFixture } from "../helpers/web-fixture.js";

describe("/repo/REPO/ARCH/FILE", () => {
  let fx: WebFixture;
  const pkg = new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
  const db = new TextEncoder().encode("not really a db, but bytes");
  beforeAll(async () => {
    fx = await startWebFixture({ REPO_NAMES: "alicerepo" });
    await fx.storage.put("x86_64/alicerepo.db", db);
    await fx.storage.put("x86_64/yay-1:12.4.2-1-x86_64.pkg.tar.zst", pkg);
    await fx.storage.put("x86_64/yay-1:12.4.2-1-x86_64.pkg.tar.zst.sig", new Uint8Array([1, 2, 3]));
    // A file outside the storage root that traversal attempts aim at.
    await writeFile(join(fx.dir, "secret.txt"), "top secret");
  });
  afterAll(async () => fx.close());

  it("serves repository files with their bytes, content type and length", async () => {
    const res = await rawRequest(fx.baseUrl, "/repo/alicerepo/x86_64/yay-1%3A12.4.2-1-x86_64.pkg.tar.zst");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/zstd");
    expect(res.headers["content-length"]).toBe("4096");
    expect(new Uint8Array(res.body)).toEqual(pkg);
    const raw = await rawRequest(fx.baseUrl, "/repo/alicerepo/x86_64/yay-1:12.4.2-1-x86_64.pkg.tar.zst.sig");
    expect(raw.status).toBe(200);
    expect(raw.headers["content-type"]).toBe("application/pgp-signature");
    const dbRes = await rawRequest(fx.baseUrl, "/repo/alicerepo/x86_64/alicerepo.db");
    expect(dbRes.status).toBe(200);
    expect(dbRes.headers["cache-control"]).toBe("no-cache");
    expect(dbRes.body.toString()).toBe("not really a db, but bytes");
  });

  it("answers HEAD with the length and no body", async () => {
    const res = await rawRequest(fx.baseUrl, "/repo/alicerepo/x86_64/alicerepo.db", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe(String(db.byteLength));
    expect(res.body.byteLength).toBe(0);
    expect(
      (await rawRequest(fx.baseUrl, "/repo/alicerepo/x86_64/missing.db", { method: "HEAD" })).status,
    ).toBe(404);
  });

  it("refuses traversal and malformed paths with 404", async () => {
    for (const path of [
      "/repo/x/x86_64/..%2f..%2fetc%2fpasswd",
      "/repo/alicerepo/x86_64/..%2f..%2fsecret.txt",
      "/repo/alicerepo/x86_64/..",
      "/repo/alicerepo/x86_64/%2e%2e",
      "/repo/alicerepo/../../secret.txt",
      "/repo/alicerepo/x86_64/a%5Cb",
      "/repo/alicerepo/x86_64/%00",
      "/repo/alicerepo/x86_64/%E0%A4%A",
      "/repo/alicerepo/x86_64/.hidden",
      "/repo/alicerepo/x86_64",
      "/repo/alicerepo/x86_64/sub/alicerepo.db",
      "/repo/alicerepo/..%2fx86_64/alicerepo.db",
      "/repo/otherrepo/x86_64/alicerepo.db",
      "/repo/alicerepo/x86_64/missing.pkg.tar.zst",
    ]) {
      const res = await rawRequest(fx.baseUrl, path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.body.toString()).not.toContain("top secret");
      expect(res.body.toString()).not.toContain("root:");
    }
  });

  it("is read-only", async () => {
    const res = await rawRequest(fx.baseUrl, "/repo/alicerepo/x86_64/alicerepo.db", { method: "PUT" });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("GET, HEAD");
    const del = await rawRequest(fx.baseUrl, "/repo/alicerepo/x86_64/alicerepo.db", { method: "DELETE" });
    expect(del.status).toBe(405);
    expect(await fx.storage.get("x86_64/alicerepo.db")).toEqual(db);
  });

  it("parses paths segment by segment", () => {
    expect(parseRepoFilePath("/repo/core/x86_64/core.db")).toEqual({
      repo: "core",
      arch: "x86_64",
      file: "core.db",
      key: "x86_64/core.db",
    });
    expect(parseRepoFilePath("/repo/core/x86_64/core.db", ["extra"])).toBeUndefined();
    expect(parseRepoFilePath("/repo/-bad/x86_64/core.db")).toBeUndefined();
    expect(parseRepoFilePath("/repo/core/x86-64/core.db")).toBeUndefined();
    expect(contentTypeOf("foo-1-1-any.pkg.tar.xz")).toBe("application/x-xz");
    expect(contentTypeOf("core.files")).toBe("application/octet-stream");
    expect(contentTypeOf("core.db.tar.gz")).toBe("application/gzip");
  });
});
