/**
 * Headless Chromium driven over the DevTools protocol for the dashboard's lab test. Chromium runs inside a
 * lab host's network namespace (so 127.0.0.1:6784 is that host's API) and talks to the test over two FIFOs
 * given to it as fds 3 and 4 (`--remote-debugging-pipe`): the control channel needs no port in any
 * namespace. Messages are JSON, each ended by a NUL byte.
 *
 * Flow: {@link Chromium.open} makes the FIFOs, starts Chromium and opens a page on one target with a flat
 * session; `evaluate` and `screenshot` are requests on that session, matched to their replies by id by a
 * single reader loop. {@link Chromium.close} kills the process and removes the FIFOs.
 */
import type { Lab } from "../../src/lab/mod.ts";

/** The Chromium binary of Debian's `chromium` package (scripts/install_chromium.sh installs it). */
export const CHROMIUM = "/usr/bin/chromium";

interface Reply {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** A headless Chromium with one page. */
export class Chromium {
  #child: Deno.ChildProcess;
  #dir: string;
  #in: Deno.FsFile;
  #out: Deno.FsFile;
  #next = 1;
  #waiting = new Map<number, (r: Reply) => void>();
  #session = "";
  #reader: Promise<void>;
  /** Chromium's exit, after the FIFO it may have left blocked is unblocked. */
  #exited: Promise<unknown> = Promise.resolve();

  private constructor(child: Deno.ChildProcess, dir: string, input: Deno.FsFile, output: Deno.FsFile) {
    this.#child = child;
    this.#dir = dir;
    this.#in = input;
    this.#out = output;
    this.#reader = this.#read();
  }

  /**
   * Starts Chromium in lab host `host`'s namespace and opens `url` in a page of `width`×`height`.
   *
   * @throws {Error} when Chromium is missing or does not answer
   */
  static async open(lab: Lab, host: string, url: string, width = 1400, height = 1000): Promise<Chromium> {
    try {
      await Deno.stat(CHROMIUM);
    } catch {
      throw new Error(
        `${CHROMIUM} is missing; run 'bash scripts/install_chromium.sh' (the test script does)`,
      );
    }
    const dir = await Deno.makeTempDir({ prefix: "mnt-chromium-" });
    for (const f of ["in", "out"]) {
      const r = await new Deno.Command("mkfifo", { args: [`${dir}/${f}`] }).output();
      if (!r.success) throw new Error(`Cannot make a FIFO in ${dir}`);
    }
    const child = lab.spawn(host, [
      "bash",
      "-c",
      'exec 3<"$0/in" 4>"$0/out"; exec "$@"',
      dir,
      CHROMIUM,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      "--no-first-run",
      "--remote-debugging-pipe",
      `--user-data-dir=${dir}/profile`,
      `--window-size=${width},${height}`,
      "about:blank",
    ]);
    // Opening a FIFO blocks until its other end is opened: `in` is opened read-write (which never blocks);
    // `out` waits for Chromium, and if Chromium's shell exits first, our own writer unblocks it.
    const input = await Deno.open(`${dir}/in`, { read: true, write: true });
    const exited = child.status.then(async (s) => {
      (await Deno.open(`${dir}/out`, { read: true, write: true })).close();
      return s;
    });
    const output = await Deno.open(`${dir}/out`, { read: true });
    const c = new Chromium(child, dir, input, output);
    c.#exited = exited;
    try {
      const died = exited.then((s) => Promise.reject(new Error(`Chromium exited with code ${s.code}`)));
      died.catch(() => {});
      const { targetId } = await Promise.race([c.#send("Target.createTarget", { url }), died]);
      const { sessionId } = await c.#send("Target.attachToTarget", { targetId, flatten: true });
      c.#session = sessionId as string;
      return c;
    } catch (err) {
      await c.close();
      throw err;
    }
  }

  /** Evaluates `expression` in the page and returns its value (JSON-serialisable). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.#send("Runtime.evaluate", { expression, returnByValue: true }, true);
    if (r.exceptionDetails) throw new Error(`Page script failed: ${JSON.stringify(r.exceptionDetails)}`);
    return (r.result as { value: T }).value;
  }

  /** A PNG of the page's viewport. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.#send("Page.captureScreenshot", { format: "png" }, true);
    return Uint8Array.from(atob(r.data as string), (ch) => ch.charCodeAt(0));
  }

  /**
   * Closes the browser (Browser.close, so its helper processes exit with it; SIGKILL of the main process if it
   * does not exit within 5 s) and removes its FIFOs and profile.
   */
  async close(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.#send("Browser.close", {});
    } catch {
      // the pipe is gone already: the kill below ends it
    }
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 5_000)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
      await this.#child.status;
    }
    await this.#exited.catch(() => {});
    for (const f of [this.#in, this.#out]) {
      try {
        f.close();
      } catch {
        // closed already
      }
    }
    await this.#reader.catch(() => {});
    await Deno.remove(this.#dir, { recursive: true });
  }

  async #send(
    method: string,
    params: Record<string, unknown>,
    onPage = false,
  ): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const msg = { id, method, params, ...(onPage ? { sessionId: this.#session } : {}) };
    const reply = new Promise<Reply>((resolve) => this.#waiting.set(id, resolve));
    await this.#in.write(new TextEncoder().encode(JSON.stringify(msg) + "\0"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Chromium did not answer ${method} within 30 s`)), 30_000);
    });
    try {
      const r = await Promise.race([reply, timeout]);
      if (r.error) throw new Error(`Chromium ${method}: ${r.error.message}`);
      return r.result ?? {};
    } finally {
      clearTimeout(timer);
    }
  }

  async #read(): Promise<void> {
    const dec = new TextDecoder();
    let pending = "";
    const buf = new Uint8Array(1 << 16);
    for (;;) {
      const n = await this.#out.read(buf);
      if (n === null) return;
      pending += dec.decode(buf.subarray(0, n), { stream: true });
      let end;
      while ((end = pending.indexOf("\0")) >= 0) {
        const r = JSON.parse(pending.slice(0, end)) as Reply;
        pending = pending.slice(end + 1);
        if (r.id !== undefined) this.#waiting.get(r.id)?.(r);
        this.#waiting.delete(r.id!);
      }
    }
  }
}
