import type { Probot } from "probot";

/** The Probot app: wires webhook entrances to the layers. */
export default function app(robot: Probot): void {
  robot.log.info("arch-repo-bot loaded");
}
