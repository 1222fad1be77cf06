/**
 * A reader for the block-style YAML subset the deploy manifests are written in, for tests only (the project
 * has no YAML dependency): `---` documents, block mappings and sequences by indentation, `|` literal blocks,
 * flow sequences of scalars, `{}`, plain and quoted scalars, `#` comments. Anything else throws, so a
 * manifest cannot silently drift outside what the test reads.
 */

/** A parsed YAML value. */
export type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

interface Line {
  indent: number;
  text: string;
  n: number;
}

function scalar(s: string, n: number): Yaml {
  if (s === "{}") return {};
  if (s.startsWith("[") && s.endsWith("]")) {
    const inner = s.slice(1, -1).trim();
    return inner === "" ? [] : inner.split(",").map((x) => scalar(x.trim(), n));
  }
  if (/^".*"$/.test(s)) return JSON.parse(s);
  if (/^'.*'$/.test(s)) return s.slice(1, -1).replaceAll("''", "'");
  if (/^[{\[&*!|>%@`]/.test(s)) throw new Error(`Line ${n}: '${s}' is outside the YAML subset`);
  if (s === "true" || s === "false") return s === "true";
  if (s === "null" || s === "~") return null;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  return s;
}

const KEY = /^([A-Za-z0-9_.\/-]+|"[^"]*"):(?: (.*))?$/;

/** The body of a `|` block whose header sits at `indent`: lines indented deeper, joined, one final newline. */
function literal(lines: Line[], at: { i: number }, indent: number): string {
  const body: string[] = [];
  const base = lines[at.i]?.indent ?? 0;
  while (at.i < lines.length && lines[at.i].indent >= base && base > indent) {
    body.push(" ".repeat(lines[at.i].indent - base) + lines[at.i].text);
    at.i++;
  }
  return body.join("\n") + "\n";
}

function parseBlock(lines: Line[], at: { i: number }, indent: number): Yaml {
  const first = lines[at.i];
  if (first.text.startsWith("- ") || first.text === "-") {
    const out: Yaml[] = [];
    while (at.i < lines.length && lines[at.i].indent === indent && lines[at.i].text.startsWith("-")) {
      const l = lines[at.i];
      const rest = l.text.slice(1).trimStart();
      if (rest === "|") {
        at.i++;
        out.push(literal(lines, at, indent));
      } else if (!KEY.test(rest)) {
        at.i++;
        out.push(scalar(rest, l.n));
      } else {
        // "- key: value" opens a mapping whose keys sit at the item's content column.
        lines[at.i] = { indent: indent + (l.text.length - rest.length), text: rest, n: l.n };
        out.push(parseBlock(lines, at, lines[at.i].indent));
      }
    }
    return out;
  }
  const out: Record<string, Yaml> = {};
  while (at.i < lines.length && lines[at.i].indent === indent) {
    const l = lines[at.i];
    const m = KEY.exec(l.text);
    if (!m) throw new Error(`Line ${l.n}: expected 'key: value', got '${l.text}'`);
    const key = m[1].startsWith('"') ? JSON.parse(m[1]) : m[1];
    const value = (m[2] ?? "").trim();
    at.i++;
    if (value === "|") out[key] = literal(lines, at, indent);
    else if (value !== "") out[key] = scalar(value, l.n);
    else if (at.i < lines.length && lines[at.i].indent > indent) {
      out[key] = parseBlock(lines, at, lines[at.i].indent);
    } else if (at.i < lines.length && lines[at.i].indent === indent && lines[at.i].text.startsWith("-")) {
      out[key] = parseBlock(lines, at, indent);
    } else out[key] = null;
  }
  return out;
}

/**
 * Parses every `---`-separated document of `text`.
 *
 * @throws {Error} naming the line for anything outside the subset
 */
export function parseYamlDocuments(text: string): Yaml[] {
  return text.split(/^---$/m).map((doc) => {
    const lines: Line[] = [];
    let inLiteral = -1;
    for (const [i, raw] of doc.split("\n").entries()) {
      const indent = raw.length - raw.trimStart().length;
      if (inLiteral >= 0 && (raw.trim() === "" || indent > inLiteral)) {
        if (raw.trim() !== "") lines.push({ indent, text: raw.trimStart(), n: i + 1 });
        continue;
      }
      inLiteral = -1;
      const text = raw.trim();
      if (text === "" || text.startsWith("#")) continue;
      if (raw.includes("\t")) throw new Error(`Line ${i + 1}: tabs are outside the YAML subset`);
      lines.push({ indent, text, n: i + 1 });
      if (/(^-|:) \|$/.test(text)) inLiteral = indent;
    }
    const at = { i: 0 };
    const value = lines.length ? parseBlock(lines, at, lines[0].indent) : null;
    if (at.i !== lines.length) throw new Error(`Line ${lines[at.i].n}: unexpected indentation`);
    return value;
  }).filter((d) => d !== null);
}
