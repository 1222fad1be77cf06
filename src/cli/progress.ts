/**
 * Progress for commands that may wait (attach waiting for IPAM, prime, launch, stop): when the wait passes
 * {@link PROGRESS_AFTER_MS} and stderr is a terminal, a spinner line with the elapsed seconds appears on
 * stderr and is erased when the wait ends. In scripts (stderr not a terminal) nothing is written.
 *
 * @module
 */

/** How long a wait runs before its progress line appears, in milliseconds. */
export const PROGRESS_AFTER_MS = 1_000;
/** How often the progress line is redrawn, in milliseconds. */
const FRAME_MS = 100;
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Where progress goes; the default is stderr, drawn only when it is a terminal. */
export interface ProgressSink {
  /** True when progress should be drawn. */
  terminal: boolean;
  /** Writes raw text. */
  write(text: string): void;
}

function stderrSink(): ProgressSink {
  const enc = new TextEncoder();
  return { terminal: Deno.stderr.isTerminal(), write: (t) => Deno.stderr.writeSync(enc.encode(t)) };
}

/**
 * Awaits `work`, showing `label` with a spinner on a terminal once it takes longer than
 * {@link PROGRESS_AFTER_MS}.
 *
 * @returns what `work` resolves to
 * @throws whatever `work` throws (the line is erased first)
 * @example
 * ```ts ignore
 * const body = await withProgress("waiting for the address ring", apiCall("GET", "/ring"));
 * ```
 */
export async function withProgress<T>(
  label: string,
  work: Promise<T>,
  sink: ProgressSink = stderrSink(),
): Promise<T> {
  if (!sink.terminal) return await work;
  const start = Date.now();
  let frame = 0;
  let shown = false;
  const draw = () => {
    if (Date.now() - start < PROGRESS_AFTER_MS) return;
    shown = true;
    const secs = Math.floor((Date.now() - start) / 1000);
    sink.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label}… ${secs} s`);
  };
  const timer = setInterval(draw, FRAME_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    if (shown) sink.write("\r\x1b[2K");
  }
}
