/**
 * The lab tests' copy of the single file: built by scripts/dist/self_extracting.sh (what compile.sh runs
 * offline) into a temporary directory with its own runtime cache, removed again by {@link withDistFile}.
 *
 * @module
 */
import { runCommand } from "../../src/lab/runner.ts";

/** The checkout this test runs from. */
export const CHECKOUT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A built file in a temporary directory. */
export interface DistFile {
  /** The temporary directory, removed afterwards. */
  dir: string;
  /** The file, `DIR/bin/meshnet`; `DIR/bin/meshnet-cni` is a symlink to it. */
  file: string;
  /** Where the file unpacks its runtime (MESHNET_RUNTIME_DIR), inside `dir`. */
  runtimeDir: string;
}

/** Builds the file into a fresh temporary directory, runs `fn` with it, and always removes the directory. */
export async function withDistFile<T>(fn: (dist: DistFile) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "meshnet-dist-" });
  try {
    const file = `${dir}/bin/meshnet`;
    const built = await runCommand(["bash", `${CHECKOUT}/scripts/dist/self_extracting.sh`, file]);
    if (built.code !== 0) throw new Error(`self_extracting.sh failed (${built.code}): ${built.stderr}`);
    await Deno.symlink("meshnet", `${dir}/bin/meshnet-cni`);
    return await fn({ dir, file, runtimeDir: `${dir}/runtime` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
