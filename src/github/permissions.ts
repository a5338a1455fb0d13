/** Who may command the bot: people with write, maintain or admin permission on the packages repository. */
import { httpStatus, type Octokit } from "./octokit.js";

export interface CollaboratorPermission {
  /** Legacy field: admin, write, read or none. GitHub reports `maintain` as `write` and `triage` as `read` here. */
  readonly permission: string;
  /** The actual role: admin, maintain, write, triage, read, or a custom role name. */
  readonly roleName?: string;
}

const WRITE_ROLES = new Set(["admin", "maintain", "write"]);

/**
 * True for admin, maintain and write. A custom repository role (its own `role_name`) inherits from a base
 * role, which the legacy `permission` field reflects, so that field decides when the role name is unknown.
 */
export function grantsWrite(p: CollaboratorPermission): boolean {
  if (p.roleName !== undefined && WRITE_ROLES.has(p.roleName)) return true;
  return p.permission === "admin" || p.permission === "write";
}

/** Admin only: the role name when GitHub gives one, else the legacy field (which says `admin` for admins). */
export function grantsAdmin(p: CollaboratorPermission): boolean {
  if (p.roleName !== undefined && WRITE_ROLES.has(p.roleName)) return p.roleName === "admin";
  return p.permission === "admin";
}

/** `GET /repos/{owner}/{repo}/collaborators/{username}/permission`; a 404 (not a collaborator) is `none`. */
export async function getPermission(
  octokit: Octokit,
  owner: string,
  repo: string,
  username: string,
): Promise<CollaboratorPermission> {
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", {
      owner,
      repo,
      username,
    });
    return { permission: data.permission, roleName: data.role_name };
  } catch (error) {
    if (httpStatus(error) === 404) return { permission: "none" };
    throw error;
  }
}

export async function hasWriteAccess(
  octokit: Octokit,
  owner: string,
  repo: string,
  username: string,
): Promise<boolean> {
  return grantsWrite(await getPermission(octokit, owner, repo, username));
}
