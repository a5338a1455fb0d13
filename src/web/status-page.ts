/**
 * The status page: server-rendered HTML, a little inline CSS, no script, one column on a phone. Every text
 * that comes from outside (package names, versions, errors, repository names) goes through `escapeHtml`;
 * links are only emitted for http(s) URLs. It refreshes itself (meta refresh, 15 s) only while builds run.
 * Issue 15.1: the signing key's expiry warning comes first, and "Add this repository" says how to use each pacman
 * repository (its keyring package, the key, the `pacman.conf` lines).
 */
import type {
  BuildStatus,
  KeyRotationStatus,
  RepositorySetup,
  SigningKeyStatus,
  StatusView,
} from "./status-view.js";

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

/** The URL if it is http(s); a `javascript:` or malformed URL from a hostile source is dropped. */
function safeHref(url: string | undefined): string | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : undefined;
}

function link(url: string | undefined, text: string): string {
  const href = safeHref(url);
  if (href === undefined) return escapeHtml(text);
  return `<a href="${escapeHtml(href)}" rel="noopener noreferrer">${escapeHtml(text)}</a>`;
}

function time(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 16).replace("T", " ")} UTC</time>`;
}

function state(s: string): string {
  return `<span class="state s-${escapeHtml(s)}">${escapeHtml(s)}</span>`;
}

const CSS = `
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 12px 24px;color:#1b1f24;background:#fff}
h1{font-size:1.4em;margin:16px 0 4px}h2{font-size:1.15em;margin:22px 0 6px;border-bottom:1px solid #d0d7de}
h3{font-size:1em;margin:14px 0 4px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top;overflow-wrap:anywhere}
.state{padding:1px 6px;border-radius:8px;background:#eaeef2;white-space:nowrap}
.s-published{background:#dafbe1}.s-failed,.s-cancelled{background:#ffebe9}.s-running,.s-dispatched{background:#ddf4ff}
.muted{color:#59636e}.err{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.9em}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:12px 0}
pre{background:#f6f8fa;border-radius:6px;padding:8px 12px;overflow-x:auto}code{overflow-wrap:anywhere}
@media (max-width:600px){thead{display:none}tr{display:block;border-bottom:1px solid #d0d7de;padding:4px 0}
td{display:block;border:0;padding:1px 0}td[data-label]::before{content:attr(data-label) ": ";color:#59636e}}
`;

function buildSection(b: BuildStatus): string {
  const rows = b.jobs
    .map(
      (j) =>
        `<tr><td data-label="package">${link(j.logUrl, j.pkgbase)}</td><td data-label="version">${escapeHtml(j.version)}</td>` +
        `<td data-label="state">${state(j.state)}</td><td data-label="note">${escapeHtml(j.error ?? j.reason ?? "")}</td></tr>`,
    )
    .join("");
  const where = b.branch ? ` on ${escapeHtml(b.branch)} (${escapeHtml((b.headSha ?? "").slice(0, 7))})` : "";
  return (
    `<h3>${escapeHtml(b.repository)} → ${escapeHtml(b.repo)}${where} <span class="muted">build ${escapeHtml(b.id)}, started ${time(b.createdAt)}</span></h3>` +
    `<table><thead><tr><th>package</th><th>version</th><th>state</th><th>note</th></tr></thead><tbody>${rows}</tbody></table>`
  );
}

function keyLine(key: SigningKeyStatus | undefined): string {
  if (!key) {
    return `<p>The repositories are published unsigned: their <code>pacman.conf</code> section needs <code>SigLevel = Optional TrustAll</code>.</p>`;
  }
  const until = key.expiresAt === null ? "never expires" : `expires on ${time(key.expiresAt)}`;
  return (
    `<p>Packages and databases are signed with the key <code>${escapeHtml(key.fingerprint)}</code> (${until}). ` +
    `Compare it with the fingerprint you were given before you trust it.</p>` +
    `<details><summary>Public key</summary><pre>${escapeHtml(key.publicKey.trim())}</pre></details>`
  );
}

/**
 * How to add one pacman repository (issue 15.1): trust the key through the repository's keyring package (a local
 * file: Arch's pacman.conf has `LocalFileSigLevel = Optional`, while a URL given to `pacman -U` needs a key that is
 * trusted already) or by hand, then the `pacman.conf` section.
 */
function repositorySetup(setup: RepositorySetup, key: SigningKeyStatus | undefined): string {
  const repo = escapeHtml(setup.repo);
  const section = `<pre>[${repo}]\nSigLevel = ${key ? "Required" : "Optional TrustAll"}\nServer = ${escapeHtml(setup.server)}</pre>`;
  const head = `<h3><code>[${repo}]</code></h3>`;
  if (!key) return `${head}<p>Add to <code>/etc/pacman.conf</code>:</p>${section}`;
  const fpr = escapeHtml(key.fingerprint);
  const files = setup.keyrings
    .map((k) => {
      const where = `${repo} (${escapeHtml(k.arch)})`;
      // `link` shows the name without a link when the URL is not http(s).
      if (k.filename !== undefined)
        return `<li>${link(k.url, k.filename)} <span class="muted">${where}</span></li>`;
      if (k.unreadable) return `<li class="muted">${where}: the DB could not be read just now.</li>`;
      return `<li class="muted">${where}: no <code>${repo}-keyring</code> package yet; the app publishes it with the next package.</li>`;
    })
    .join("");
  const keyring = setup.keyrings.find((k) => k.filename !== undefined && safeHref(k.url) !== undefined);
  const withKeyring =
    keyring?.filename !== undefined && keyring.url !== undefined
      ? `<p>1. Trust the key with the repository's keyring package (download it, check that it names the key, install the file):</p>` +
        `<pre>curl -fLO ${escapeHtml(keyring.url)}\n` +
        `bsdtar -xOf ${escapeHtml(keyring.filename)} usr/share/pacman/keyrings/${repo}-trusted   # must print ${fpr}:4:\n` +
        `sudo pacman -U ./${escapeHtml(keyring.filename)}</pre>` +
        `<p>or by hand, with the public key above saved as <code>${repo}.asc</code>:</p>`
      : `<p>1. Trust the key by hand, with the public key above saved as <code>${repo}.asc</code>:</p>`;
  return (
    `${head}<p>Keyring package:</p><ul>${files}</ul>${withKeyring}` +
    `<pre>sudo pacman-key --add ${repo}.asc\nsudo pacman-key --lsign-key ${fpr}</pre>` +
    `<p>2. Add to <code>/etc/pacman.conf</code>:</p>${section}`
  );
}

/** Where a rotation stands, and what a user who trusts keys by hand must do (the keyring package does it itself). */
function rotationLine(rotation: KeyRotationStatus | undefined): string {
  if (!rotation) return "";
  const fpr = (f: string) => `<code>${escapeHtml(f)}</code>`;
  const other = rotation.other;
  const otherKey = other
    ? `<details><summary>Public key ${fpr(other.fingerprint)}</summary><pre>${escapeHtml(other.publicKey.trim())}</pre></details>`
    : "";
  const revoked =
    rotation.revoked.length > 0
      ? `<p>Revoked keys (no longer trust them): ${rotation.revoked.map(fpr).join(", ")}.</p>`
      : "";
  let text = "";
  if (rotation.phase === "announced" && other) {
    const when =
      rotation.switchAt !== undefined
        ? `from ${time(rotation.switchAt)} on`
        : "once an admin comments <code>/rotate-key</code>";
    text =
      `<p><strong>Key rotation:</strong> the next signing key ${fpr(other.fingerprint)} is announced; it signs ${when}. ` +
      `The keyring package trusts both keys: upgrade it before then (<code>pacman -Syu</code>). If you trust the key by hand, add and <code>--lsign-key</code> the next key too.</p>`;
  } else if (rotation.phase === "switched" && other) {
    const since = rotation.switchedAt !== undefined ? ` since ${time(rotation.switchedAt)}` : "";
    const until = rotation.revokeAt !== undefined ? ` until ${time(rotation.revokeAt)}` : "";
    text =
      `<p><strong>Key rotation:</strong> ${fpr(rotation.active)} signs${since}; every package was re-signed with it. ` +
      `The old key ${fpr(other.fingerprint)} stays trusted by the keyring package${until}, then it is revoked.</p>`;
  }
  return `${text}${text ? otherKey : ""}${revoked}`;
}

function addRepositorySection(view: StatusView): string {
  if (view.addRepository === undefined) return "";
  const body =
    view.addRepository.length === 0
      ? `<p class="muted">No pacman repository yet.</p>`
      : view.addRepository.map((s) => repositorySetup(s, view.signingKey)).join("");
  return `<h2 id="add-this-repository">Add this repository</h2>${keyLine(view.signingKey)}${rotationLine(view.keyRotation)}${body}`;
}

export function renderStatusPage(view: StatusView, options: { title?: string } = {}): string {
  const title = options.title ?? "arch-repo-bot";
  const refresh = view.inFlight.length > 0 ? `<meta http-equiv="refresh" content="15">` : "";
  const repos =
    view.repositories.length === 0
      ? `<p class="muted">No builds yet.</p>`
      : view.repositories
          .map((r) => {
            const rows = r.packages
              .map(
                (p) =>
                  `<tr><td data-label="package">${escapeHtml(p.pkgbase)}${
                    p.pkgnames.length > 1 || p.pkgnames[0] !== p.pkgbase
                      ? ` <span class="muted">(${p.pkgnames.map(escapeHtml).join(", ")})</span>`
                      : ""
                  }</td><td data-label="version">${escapeHtml(p.version)}</td><td data-label="source">${escapeHtml(p.source)}</td>` +
                  `<td data-label="last build">${state(p.state)} ${time(p.at)}</td><td data-label="log">${safeHref(p.logUrl) ? link(p.logUrl, "job log") : ""}</td></tr>`,
              )
              .join("");
            return (
              `<h3>${escapeHtml(r.label)} → <code>[${escapeHtml(r.repo)}]</code></h3>` +
              `<table><thead><tr><th>package</th><th>version</th><th>source</th><th>last build</th><th>log</th></tr></thead><tbody>${rows}</tbody></table>`
            );
          })
          .join("");
  const inFlight =
    view.inFlight.length === 0
      ? `<p class="muted">No builds running.</p>`
      : view.inFlight.map(buildSection).join("");
  const failures =
    view.recentFailures.length === 0
      ? `<p class="muted">No recent failures.</p>`
      : `<table><thead><tr><th>package</th><th>version</th><th>repository</th><th>when</th><th>error</th></tr></thead><tbody>${view.recentFailures
          .map(
            (f) =>
              `<tr><td data-label="package">${link(f.logUrl, f.pkgbase)}</td><td data-label="version">${escapeHtml(f.version)}</td>` +
              `<td data-label="repository">${escapeHtml(f.repository)}</td><td data-label="when">${state(f.state)} ${time(f.at)}</td>` +
              `<td data-label="error" class="err">${escapeHtml(f.error ?? "")}</td></tr>`,
          )
          .join("")}</tbody></table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${refresh}
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><h1>${escapeHtml(title)}</h1><p class="muted">Updated ${time(view.generatedAt)}${view.authenticated ? "" : " · public view"}</p>
${view.keyNotice ? `<div class="warn" role="alert"><strong>Signing key:</strong> ${escapeHtml(view.keyNotice)}</div>\n` : ""}<h2>Builds in flight</h2>${inFlight}
<h2>Repositories</h2>${repos}
${addRepositorySection(view)}<h2>Recent failures</h2>${failures}
</body></html>
`;
}
