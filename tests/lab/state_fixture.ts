/** A valid lab state shared by the state tests. */
import type { LabState } from "../../src/lab/state.ts";

/** Three hosts on a line with one cut and one lossy pair. */
export const valid: LabState = {
  prefix: "mnt9f9f-",
  hosts: 3,
  containers: 2,
  topology: "line",
  cuts: [{ a: 1, b: 2 }],
  losses: [{ a: 2, b: 3, percent: 30 }],
};
