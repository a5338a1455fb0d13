/**
 * `/rotate-key` (issue 15.1): switches the app's signing key to the configured next key now, instead of on
 * KEY_ROTATION_DATE. It needs admin permission on the packages repository where it is written, and when the
 * operator lists KEY_ADMINS (an app installed by several accounts signs all their repositories with one key), the
 * commenter must be one of them too. The re-signing runs in the background (the reconciler continues it if this
 * process dies); the reply says what happened.
 */
import type { Context } from "probot";
import { invalidRotateKeyReply, type RotateKeyCommand, rotateKeyReply } from "../github/comments.js";
import { acceptComment } from "./command-preamble.js";
import type { AppRuntime } from "./runtime.js";

export async function handleRotateKey(
  context: Context<"issue_comment.created">,
  runtime: AppRuntime,
  command: RotateKeyCommand,
): Promise<void> {
  const accepted = await acceptComment(context, runtime, command, {
    invalid: (invalid) => invalidRotateKeyReply(invalid.problems),
    request: () => "rotate the signing key",
    permission: "admin",
  });
  if (!accepted) return;
  const { owner, repo, issue, login, reply } = accepted;
  const rotation = runtime.deps.keyRotation;
  if (!rotation) {
    await reply(rotateKeyReply({ kind: "no-signing-key" }));
    return;
  }
  if (rotation.admins !== undefined && !rotation.admins.includes(login.toLowerCase())) {
    await reply(
      `Sorry @${login}, the signing key is shared by every repository this app serves; only the app's key admins (KEY_ADMINS) can rotate it.`,
    );
    return;
  }
  const outcome = await rotation.rotateNow(login);
  context.log.info({ owner, repo, issue, login, outcome: outcome.kind }, "/rotate-key");
  await reply(rotateKeyReply(outcome));
  if (outcome.kind === "switched")
    runtime.tasks.run(`re-signing after /rotate-key in ${owner}/${repo}#${issue}`, async () => {
      await rotation.pass();
    });
}
