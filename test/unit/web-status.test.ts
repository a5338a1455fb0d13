import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { writeRepoDb } from "../../src/archive/repo-db.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { keyExpiryNotice } from "../../src/publish/key-expiry.js";
import { KeyRotation, type RotationStatus } from "../../src/publish/rotation.js";
import { generateSigningKey, OpenPgpSigner } from "../../src/publish/signer.js";
import type { SigningKeyInfo } from "../../src/services/ports.js";
import { repoFileUrl } from "../../src/web/repo-setup.js";
import { tokenMatches } from "../../src/web/routes.js";
import { InvalidWebSettingError, webSettingsFromEnv } from "../../src/web/settings.js";
import { escapeHtml } from "../../src/web/status-page.js";
import { maskSecrets, type StatusView } from "../../src/web/status-view.js";
import { descEntry, packageEntry } from "../helpers/desc-entry.js";
import { rawRequest } from "../helpers/raw-http.js";
import {
  addBuild,
  HOSTILE_ERROR,
  planned,
  startWebFixture,
  T0,
  TOKEN,
  type WebFixture,
} from "../helpers/web-fixture.js";

describe("status page, public mode (default without a token)", () => {
  let fx: WebFixture;
  beforeAll(async () => {
    fx = await startWebFixture();
  });
  afterAll(async () => fx.close());

  it("renders packages, builds in flight and failures as escaped HTML that refreshes while builds run", async () => {
    const res = await fetch(`${fx.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<meta http-equiv="refresh" content="15">');
    expect(html).toContain("alice/pkgs");
    expect(html).toContain("paru");
    expect(html).toContain("2.0.4-1");
    // yay's last build is the open one (planned 12.4.3-1), not the older published 12.4.2-1.
    expect(html).toMatch(/yay<\/td><td data-label="version">12\.4\.3-1/);
    // Hostile package name and error text are escaped; no markup from them survives.
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script>");
    expect(html).toContain(escapeHtml("evil<img-src=x-onerror=alert(1)>"));
    expect(html).toContain("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;");
    // The javascript: log URL is not turned into a link; tokens in errors are masked.
    expect(html).not.toContain("javascript:");
    expect(html).not.toContain("ghs_abcdefghijklmnop1234");
    expect(html).not.toContain("ghs_zzzzzzzzzzzz");
    expect(html).toContain('href="https://github.com/alice/pkgs/actions/runs/1/job/12"');
  });

  it("hides private repository names, their log links and errors from anonymous visitors", async () => {
    const html = await (await fetch(`${fx.baseUrl}/`)).text();
    const json = await (await fetch(`${fx.baseUrl}/api/status`)).text();
    for (const body of [html, json]) {
      expect(body).not.toContain("secret-pkgs");
      expect(body).not.toContain("git@github.com");
      expect(body).toContain("private repository");
    }
    const view = JSON.parse(json) as StatusView;
    expect(view.authenticated).toBe(false);
    const hidden = view.repositories.find((r) => r.hidden);
    expect(hidden?.packages.map((p) => p.pkgbase)).toEqual(["internal-tool"]);
    expect(hidden?.packages[0]?.logUrl).toBeUndefined();
    const failure = view.recentFailures.find((f) => f.pkgbase === "internal-tool");
    expect(failure).toMatchObject({ repository: "private repository", state: "failed" });
    expect(failure?.error).toBeUndefined();
  });

  it("serves builds as JSON and answers 404 for private or unknown builds", async () => {
    const res = await fetch(`${fx.baseUrl}/api/builds/b0000000002-bbbbbb`);
    expect(res.status).toBe(200);
    const build = (await res.json()) as {
      id: string;
      state: string;
      jobs: { pkgbase: string; state: string }[];
    };
    expect(build).toMatchObject({ id: "b0000000002-bbbbbb", state: "open" });
    expect(build.jobs.map((j) => [j.pkgbase, j.state])).toEqual([
      ["paru", "running"],
      ["yay", "planned"],
    ]);
    expect((await fetch(`${fx.baseUrl}/api/builds/b0000000003-cccccc`)).status).toBe(404);
    expect((await fetch(`${fx.baseUrl}/api/builds/nope`)).status).toBe(404);
    expect((await rawRequest(fx.baseUrl, "/api/builds/..%2f..%2fetc")).status).toBe(404);
  });

  it("leaves other paths and methods to the next handler (Probot's webhook route, its 404)", async () => {
    expect(await (await fetch(`${fx.baseUrl}/api/github/webhooks`)).text()).toBe("fallthrough");
    expect(await (await fetch(`${fx.baseUrl}/`, { method: "POST", body: "x" })).text()).toBe("fallthrough");
  });
});

describe("status page, token mode", () => {
  let fx: WebFixture;
  beforeAll(async () => {
    fx = await startWebFixture({ STATUS_PAGE_TOKEN: TOKEN });
  });
  afterAll(async () => fx.close());

  it("refuses visitors without the token and leaks nothing", async () => {
    for (const path of ["/", "/api/status", "/api/builds/b0000000002-bbbbbb", `/?token=wrong`]) {
      const res = await fetch(`${fx.baseUrl}${path}`);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
      const body = await res.text();
      expect(body).not.toContain("alice");
      expect(body).not.toContain("yay");
    }
    const wrong = await fetch(`${fx.baseUrl}/`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(401);
  });

  it("shows everything, private repositories included, with the token in a header or the query", async () => {
    const viaHeader = await fetch(`${fx.baseUrl}/api/status`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(viaHeader.status).toBe(200);
    const view = (await viaHeader.json()) as StatusView;
    expect(view.authenticated).toBe(true);
    expect(view.repositories.map((r) => r.label)).toEqual(["alice/pkgs", "alice/secret-pkgs"]);
    expect(view.recentFailures[0]).toMatchObject({
      pkgbase: "internal-tool",
      error: "clone of git@github.com:alice/secret-pkgs.git failed",
    });
    const viaQuery = await fetch(`${fx.baseUrl}/?token=${encodeURIComponent(TOKEN)}`);
    expect(viaQuery.status).toBe(200);
    expect(await viaQuery.text()).toContain("alice/secret-pkgs");
    const priv = await fetch(`${fx.baseUrl}/api/builds/b0000000003-cccccc`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(priv.status).toBe(200);
  });

  it("still serves /healthz without a token", async () => {
    expect((await fetch(`${fx.baseUrl}/healthz`)).status).toBe(200);
  });
});

describe("status page off", () => {
  let fx: WebFixture;
  beforeAll(async () => {
    fx = await startWebFixture({ STATUS_PAGE: "off" });
  });
  afterAll(async () => fx.close());

  it("answers 404 for the page and the API", async () => {
    expect((await fetch(`${fx.baseUrl}/`)).status).toBe(404);
    expect((await fetch(`${fx.baseUrl}/api/status`)).status).toBe(404);
  });
});

describe("no builds running", () => {
  let fx: WebFixture;
  beforeAll(async () => {
    fx = await startWebFixture();
    const open = await fx.store.getBuild("b0000000002-bbbbbb");
    if (!open) throw new Error("seed missing");
    await fx.store.updateBuild(open.id, open.revision, { state: "closed", conclusion: "cancelled" });
  });
  afterAll(async () => fx.close());

  it("does not refresh itself", async () => {
    const html = await (await fetch(`${fx.baseUrl}/`)).text();
    expect(html).toContain("No builds running.");
    expect(html).not.toContain('http-equiv="refresh"');
  });
});

describe("the signing key and 'Add this repository' (issue 15.1)", () => {
  const DAY = 86_400_000;
  /** The fixture's clock. */
  const NOW = T0 + 300_000;
  const KEYRING = "alicerepo-keyring-20261120.120000-1-any.pkg.tar.zst";
  const HOSTILE_REPO = "evil<script>repo";
  let signer: OpenPgpSigner;
  /** The real key's public side, made to expire 5 days after the fixture's clock. */
  let expiring: SigningKeyInfo;
  const fixtures: WebFixture[] = [];

  beforeAll(async () => {
    signer = await OpenPgpSigner.fromArmored((await generateSigningKey()).privateKeyArmored);
    expiring = {
      fingerprint: signer.fingerprint,
      expiresAt: NOW + 5 * DAY,
      publicKeyArmored: () => signer.publicKeyArmored(),
    };
  });
  afterAll(async () => {
    await Promise.all(fixtures.map((fx) => fx.close()));
  });

  /** The fixture's builds plus one to a hostile pacman repository name; alicerepo's x86_64 DB holds its keyring. */
  async function start(
    signingKey: SigningKeyInfo | undefined,
    repoUrl: (repoName: string) => string = () => "https://repo.example/$arch",
    rotation?: () => Promise<RotationStatus>,
  ): Promise<WebFixture> {
    const fx = await startWebFixture(
      { REPO_NAMES: "alicerepo,otherrepo" },
      { publishing: { repoUrl, ...(signingKey ? { signingKey } : {}), ...(rotation ? { rotation } : {}) } },
    );
    fixtures.push(fx);
    await addBuild(
      fx.store,
      {
        id: "b0000000004-dddddd",
        repository: { owner: "alice", name: "pkgs", installationId: 1 },
        branch: "main",
        repo: HOSTILE_REPO,
        headSha: "4444444444444444444444444444444444444444",
        createdAt: T0 + 220_000,
        updatedAt: T0 + 230_000,
        state: "closed",
        conclusion: "success",
        plan: [planned("zsh-thing", "1.0-1")],
      },
      [{ state: "published", finishedAt: T0 + 225_000 }],
    );
    const keyring = descEntry("alicerepo-keyring", "20261120.120000-1", { filename: KEYRING });
    await fx.storage.put(
      "x86_64/alicerepo.db",
      await writeRepoDb([keyring, packageEntry("yay", "12.4.2-1")], { compression: "gzip" }),
    );
    return fx;
  }

  /** The HTML of the "Add this repository" section (up to the next section). */
  function addSection(html: string): string {
    const start = html.indexOf('<h2 id="add-this-repository">');
    expect(start).toBeGreaterThan(0);
    return html.slice(start, html.indexOf("<h2>Recent failures</h2>"));
  }

  it("warns at the top while the key expires within 30 days, and says which key signs", async () => {
    const fx = await start(expiring);
    const html = await (await fetch(`${fx.baseUrl}/`)).text();
    const notice = keyExpiryNotice(expiring, NOW) as string;
    expect(notice).toContain("(in 5 days)");
    const warning = `<div class="warn" role="alert"><strong>Signing key:</strong> ${escapeHtml(notice)}</div>`;
    expect(html).toContain(warning);
    expect(html.indexOf(warning)).toBeLessThan(html.indexOf("<h2>Builds in flight</h2>"));
    expect(signer.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(addSection(html)).toContain(
      `signed with the key <code>${signer.fingerprint}</code> (expires on <time datetime="${new Date(NOW + 5 * DAY).toISOString()}">`,
    );
    expect(addSection(html)).toContain(`<pre>${escapeHtml(signer.publicKeyArmored().trim())}</pre>`);
    const view = (await (await fetch(`${fx.baseUrl}/api/status`)).json()) as StatusView;
    expect(view.keyNotice).toBe(notice);
    expect(view.signingKey).toEqual({
      fingerprint: signer.fingerprint,
      expiresAt: NOW + 5 * DAY,
      publicKey: signer.publicKeyArmored(),
    });
  });

  it("gives each pacman repository its pacman.conf lines, the key's fingerprint, the commands and its keyring link", async () => {
    const fx = await start(expiring);
    const section = addSection(await (await fetch(`${fx.baseUrl}/`)).text());
    const fpr = signer.fingerprint;
    const url = `https://repo.example/x86_64/${KEYRING}`;
    expect(section).toContain("<h3><code>[alicerepo]</code></h3>");
    expect(section).toContain(`<a href="${url}" rel="noopener noreferrer">${KEYRING}</a>`);
    expect(section).toContain(
      `<pre>curl -fLO ${url}\nbsdtar -xOf ${KEYRING} usr/share/pacman/keyrings/alicerepo-trusted   # must print ${fpr}:4:\nsudo pacman -U ./${KEYRING}</pre>`,
    );
    expect(section).toContain(
      `<pre>sudo pacman-key --add alicerepo.asc\nsudo pacman-key --lsign-key ${fpr}</pre>`,
    );
    expect(section).toContain(
      "<pre>[alicerepo]\nSigLevel = Required\nServer = https://repo.example/$arch</pre>",
    );
    // A repository of REPO_NAMES without builds or a DB yet: the lines, and that its keyring is still to come.
    expect(section).toContain(
      "<pre>[otherrepo]\nSigLevel = Required\nServer = https://repo.example/$arch</pre>",
    );
    expect(section).toContain("no <code>otherrepo-keyring</code> package yet");
    expect(section).toContain(
      `<pre>sudo pacman-key --add otherrepo.asc\nsudo pacman-key --lsign-key ${fpr}</pre>`,
    );
    const view = (await (await fetch(`${fx.baseUrl}/api/status`)).json()) as StatusView;
    expect(view.addRepository).toEqual([
      {
        repo: "alicerepo",
        server: "https://repo.example/$arch",
        keyrings: [{ arch: "x86_64", filename: KEYRING, url }],
      },
      { repo: "otherrepo", server: "https://repo.example/$arch", keyrings: [{ arch: "x86_64" }] },
    ]);
  });

  it("during a rotation says which key signs, which comes next or goes, and when; then lists the revoked key", async () => {
    const next = await OpenPgpSigner.fromArmored((await generateSigningKey()).privateKeyArmored);
    const dir = mkdtempSync(join(tmpdir(), "arb-web-rotation-"));
    let now = NOW;
    const rotation = new KeyRotation({
      store: new FileStateStore(join(dir, "state")),
      storage: new FsStorage(join(dir, "repo")),
      current: signer,
      next,
      settings: { switchAt: NOW + 10 * DAY, revokeAfterMs: 30 * DAY },
      clock: () => now,
      cacheMs: 0,
    });
    try {
      const fx = await start(expiring, undefined, () => rotation.status());
      const announced = addSection(await (await fetch(`${fx.baseUrl}/`)).text());
      expect(announced).toContain(
        `<strong>Key rotation:</strong> the next signing key <code>${next.fingerprint}</code> is announced; it signs from <time datetime="${new Date(NOW + 10 * DAY).toISOString()}">`,
      );
      expect(announced).toContain(`<pre>${escapeHtml(next.publicKeyArmored().trim())}</pre>`);

      now = NOW + 11 * DAY;
      const switched = addSection(await (await fetch(`${fx.baseUrl}/`)).text());
      expect(switched).toContain(
        `<strong>Key rotation:</strong> <code>${next.fingerprint}</code> signs since <time datetime="${new Date(NOW + 10 * DAY).toISOString()}">`,
      );
      expect(switched).toContain(
        `The old key <code>${signer.fingerprint}</code> stays trusted by the keyring package until <time datetime="${new Date(NOW + 40 * DAY).toISOString()}">`,
      );

      now = NOW + 41 * DAY;
      const revoked = addSection(await (await fetch(`${fx.baseUrl}/`)).text());
      expect(revoked).not.toContain("Key rotation:");
      expect(revoked).toContain(`Revoked keys (no longer trust them): <code>${signer.fingerprint}</code>.`);
      const view = (await (await fetch(`${fx.baseUrl}/api/status`)).json()) as StatusView;
      expect(view.keyRotation).toEqual({
        phase: "revoked",
        active: next.fingerprint,
        revoked: [signer.fingerprint],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("escapes a hostile repository name and gives it no pacman.conf section", async () => {
    const fx = await start(expiring);
    const html = await (await fetch(`${fx.baseUrl}/`)).text();
    expect(html).not.toContain("<script>");
    expect(html).toContain(`<code>[${escapeHtml(HOSTILE_REPO)}]</code>`);
    expect(addSection(html)).not.toContain("evil");
    const view = (await (await fetch(`${fx.baseUrl}/api/status`)).json()) as StatusView;
    expect(view.addRepository?.map((s) => s.repo)).toEqual(["alicerepo", "otherrepo"]);
  });

  it("links only http(s) keyring URLs: a javascript: Server gives the file name as text", async () => {
    const fx = await start(expiring, () => "javascript:alert(1)//$arch");
    const section = addSection(await (await fetch(`${fx.baseUrl}/`)).text());
    expect(section).not.toContain("<a ");
    expect(section).not.toContain("curl");
    expect(section).toContain(`<li>${KEYRING} <span class="muted">alicerepo (x86_64)</span></li>`);
  });

  it("says nothing about expiry for a key that never expires", async () => {
    const fx = await start(signer);
    const html = await (await fetch(`${fx.baseUrl}/`)).text();
    expect(html).not.toContain('class="warn"');
    expect(addSection(html)).toContain(`<code>${signer.fingerprint}</code> (never expires)`);
    expect(
      ((await (await fetch(`${fx.baseUrl}/api/status`)).json()) as StatusView).keyNotice,
    ).toBeUndefined();
  });

  it("without a signing key: SigLevel = Optional TrustAll and no key commands", async () => {
    const fx = await start(undefined);
    const section = addSection(await (await fetch(`${fx.baseUrl}/`)).text());
    expect(section).toContain("published unsigned");
    expect(section).toContain(
      "<pre>[alicerepo]\nSigLevel = Optional TrustAll\nServer = https://repo.example/$arch</pre>",
    );
    expect(section).not.toContain("pacman-key");
    expect(section).not.toContain("keyring");
  });
});

describe("settings and helpers", () => {
  it("rejects bad settings with a typed error", () => {
    expect(() => webSettingsFromEnv({ STATUS_PAGE: "token" })).toThrow(InvalidWebSettingError);
    expect(() => webSettingsFromEnv({ STATUS_PAGE: "sometimes" })).toThrow(InvalidWebSettingError);
    expect(() => webSettingsFromEnv({ STATUS_PAGE_TOKEN: "short" })).toThrow(InvalidWebSettingError);
    expect(() => webSettingsFromEnv({ REPO_NAMES: "ok,../bad" })).toThrow(InvalidWebSettingError);
    expect(webSettingsFromEnv({ STATUS_PAGE_TOKEN: TOKEN }).statusPage).toBe("token");
    expect(webSettingsFromEnv({}).statusPage).toBe("public");
  });

  it("fills pacman's $repo and $arch into a Server for a repository file's URL", () => {
    expect(
      repoFileUrl("https://r.example/$repo/$arch/", "myrepo", "x86_64", "a-keyring-1:2-1-any.pkg.tar.zst"),
    ).toBe("https://r.example/myrepo/x86_64/a-keyring-1%3A2-1-any.pkg.tar.zst");
  });

  it("compares tokens of any length", () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches("", TOKEN)).toBe(false);
    expect(tokenMatches(`${TOKEN}${TOKEN}`, TOKEN)).toBe(false);
  });

  it("masks GitHub tokens and URL credentials", () => {
    const masked = maskSecrets(HOSTILE_ERROR);
    expect(masked).toContain("ghs_***");
    expect(masked).toContain("https://***@github.com/o/r");
    expect(masked).not.toMatch(/ghs_[a-z0-9]{4}/);
    expect(maskSecrets("github_pat_11ABCDEFG0123456789_xyz")).toBe("github_pat_***");
  });
});
