/**
 * The status page in a real browser: Debian's headless Chromium driven by playwright-core, loading the page
 * from a real server over the file StateStore. Checks what a visitor sees (desktop and phone widths), that a
 * hostile package name stays text (no dialog, no injected element), and saves screenshots to a temp folder.
 */

import { existsSync } from "node:fs";
import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { type Browser, chromium } from "playwright-core";
import { startWebFixture, TOKEN, type WebFixture } from "../helpers/web-fixture.js";

const CHROMIUM = "/usr/bin/chromium";

describe("status page in headless Chromium", () => {
  let fx: WebFixture;
  let browser: Browser;
  let shots: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} missing: run scripts/setup-test-env.sh (apt-get install chromium)`);
    fx = await startWebFixture({ STATUS_PAGE_TOKEN: TOKEN, STATUS_PAGE: "public" });
    shots = await mkdtemp(join(tmpdir(), "arb-status-shots-"));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await fx?.close();
  });

  it("shows repositories, builds in flight and failures to an anonymous visitor on a desktop", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${fx.baseUrl}/`);
    expect(await page.title()).toBe("arch-repo-bot");
    await expect(page.locator("h2").allTextContents()).resolves.toEqual([
      "Builds in flight",
      "Repositories",
      "Recent failures",
    ]);
    const text = (await page.locator("body").textContent()) ?? "";
    expect(text).toContain("alice/pkgs → alicerepo on main (2222222)");
    expect(text).toContain("private repository");
    expect(text).not.toContain("secret-pkgs");
    // The hostile name is shown as text; it created no element and ran nothing.
    expect(text).toContain("evil<img-src=x-onerror=alert(1)>");
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator("script").count()).toBe(0);
    expect(dialogs).toEqual([]);
    const paruLink = page.getByRole("link", { name: "paru" });
    expect(await paruLink.getAttribute("href")).toBe("https://github.com/alice/pkgs/actions/runs/2/job/21");
    const file = join(shots, "status-desktop.png");
    await page.screenshot({ path: file, fullPage: true });
    expect((await stat(file)).size).toBeGreaterThan(1000);
    console.log(`status page screenshot: ${file}`);
    await page.close();
  });

  it("is one readable column on a phone, and shows everything with the token", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${fx.baseUrl}/?token=${encodeURIComponent(TOKEN)}`);
    expect(await page.locator("body").textContent()).toContain("alice/secret-pkgs");
    // Table cells stack (display: block) and nothing scrolls sideways.
    // String expressions: they run in the page (the test's tsconfig has no DOM types).
    const cellDisplay = await page.evaluate("getComputedStyle(document.querySelector('td')).display");
    expect(cellDisplay).toBe("block");
    const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
    expect(overflow).toBeLessThanOrEqual(0);
    const file = join(shots, "status-phone.png");
    await page.screenshot({ path: file, fullPage: true });
    expect((await stat(file)).size).toBeGreaterThan(1000);
    console.log(`status page screenshot (phone): ${file}`);
    await page.close();
  });
});
