// The action's entry: no logic here (see main.ts).
import { run } from "./main.js";

void run();
