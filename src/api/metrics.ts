/**
 * Prometheus text exposition (format 0.0.4): a tiny registry of counters and gauges with labels.
 * Subsystems register collectors that fill in current values when /metrics is scraped, so nothing on
 * the packet path touches the registry.
 *
 * Names keep Weave's (`weave_connections`, …) for drop-in dashboards and add conforming `meshnet_` aliases.
 *
 * @module
 */

/** A metric family's kind. */
export type MetricType = "counter" | "gauge";

/** One sample: label values and a number. */
export interface Sample {
  /** Label name → value. */
  labels?: Record<string, string>;
  /** The value (counters only grow). */
  value: number;
}

/** One metric family with its samples at scrape time. */
export interface Family {
  /** Metric name, e.g. `meshnet_connections`. */
  name: string;
  /** One-line help text. */
  help: string;
  /** counter or gauge. */
  type: MetricType;
  /** Current samples. */
  samples: Sample[];
}

/** A gauge family; a bare number is one unlabelled sample. */
export function gauge(name: string, help: string, samples: Sample[] | number): Family {
  return { name, help, type: "gauge", samples: typeof samples === "number" ? [{ value: samples }] : samples };
}

/** A counter family; a bare number is one unlabelled sample. */
export function counter(name: string, help: string, samples: Sample[] | number): Family {
  return {
    name,
    help,
    type: "counter",
    samples: typeof samples === "number" ? [{ value: samples }] : samples,
  };
}

/** A function that reports metric families when /metrics is scraped. */
export type Collector = () => Family[] | Promise<Family[]>;

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/**
 * Renders metric families as Prometheus text.
 *
 * @example
 * ```ts
 * render([{ name: "meshnet_peers", help: "Peers known", type: "gauge", samples: [{ value: 3 }] }]);
 * // "# HELP meshnet_peers Peers known\n# TYPE meshnet_peers gauge\nmeshnet_peers 3\n"
 * ```
 */
export function render(families: Family[]): string {
  let out = "";
  for (const f of families) {
    out += `# HELP ${f.name} ${
      f.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")
    }\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
      out += `${f.name}${l} ${formatValue(s.value)}\n`;
    }
  }
  return out;
}

/** Collectors registered by subsystems, rendered together on scrape. */
export class MetricsRegistry {
  #collectors: Collector[] = [];

  /** Adds a collector; it is called on every scrape. */
  register(c: Collector): void {
    this.#collectors.push(c);
  }

  /** All families of all collectors as Prometheus text. */
  async scrape(): Promise<string> {
    return render((await Promise.all(this.#collectors.map((c) => c()))).flat());
  }
}
