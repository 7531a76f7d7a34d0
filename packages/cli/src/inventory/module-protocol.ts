/**
 * CFEngine's variables-and-classes module protocol (what `usemodule()` and a `commands` promise
 * with `module => "true"` read), as written by CFEngine 3.6+:
 *
 *   ^context=hubha                                      variables go to bundle `hubha`
 *   ^meta=inventory,attribute_name=HA active hub IP     tags for the lines that follow
 *   =hubha_active_hub_ip=10.0.0.100                     a string
 *   @hubha_degraded_reasons= { "one", "two" }           a list of strings
 *
 * The agent reads one line at a time, so a value must hold no line break; it keeps at most 4095
 * bytes of a value and refuses a list element over 1024 bytes; a list element is everything
 * between two double quotes (there is no escape), and `{ }` — an empty list — does not parse. Tags
 * are split on commas. Everything here is made to fit those rules rather than trusted to.
 */

export interface ModuleVariable {
  /** Letters, digits and `_` (the protocol also allows `.-[]`, which we do not need). */
  readonly name: string;
  /** The inventory attribute it fills (tagged `inventory,attribute_name=…`); null: none. */
  readonly attribute: string | null;
  readonly value: string | readonly string[];
}

/** A value's bytes at most (CFEngine's CF_MAXVARSIZE is 1024; inventory values are short anyway). */
export const MAX_VALUE_BYTES = 1000;
/** A list's `{ … }` at most: the agent reads 4095 bytes of it. */
export const MAX_LIST_BYTES = 4000;

const NAME = /^[A-Za-z0-9_]+$/;
const CONTEXT = /^[A-Za-z0-9_]{1,50}$/;

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > maxBytes - 3) break;
    out += ch;
    bytes += size;
  }
  return `${out}...`;
}

/** A string value on one line: control characters (line breaks included) become spaces. */
export function scalarValue(text: string): string {
  // eslint-disable-next-line no-control-regex
  return truncateBytes(text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ').trim(), MAX_VALUE_BYTES);
}

/** A list element: as a scalar, and a double quote (which would end the element) becomes '. */
export function listElement(text: string): string {
  return scalarValue(text.replaceAll('"', "'"));
}

/**
 * `{ "a", "b" }` with as many elements as fit; when some do not, the last one says how many were
 * left out. Null for an empty list, which the protocol cannot express (the caller leaves it out).
 */
export function listValue(items: readonly string[]): string | null {
  if (items.length === 0) return null;
  const quoted = items.map((i) => `"${listElement(i)}"`);
  const render = (parts: readonly string[]): string => `{ ${parts.join(', ')} }`;
  for (let kept = quoted.length; kept > 0; kept--) {
    const parts = kept === quoted.length ? quoted : [...quoted.slice(0, kept), `"... and ${quoted.length - kept} more"`];
    const text = render(parts);
    if (Buffer.byteLength(text, 'utf8') <= MAX_LIST_BYTES) return text;
  }
  return render([`"${quoted.length} items, too long to list"`]);
}

/** An inventory attribute's name: it sits in a comma-separated tag list, so no commas. */
function attributeName(text: string): string {
  return scalarValue(text.replaceAll(',', ' '));
}

/** The module's output: a context line, then each variable (after its tags when it is inventory). */
export function formatModuleProtocol(context: string, variables: readonly ModuleVariable[]): string {
  if (!CONTEXT.test(context)) throw new RangeError(`module context ${JSON.stringify(context)} must be 1-50 letters, digits or _`);
  const lines = [`^context=${context}`];
  for (const v of variables) {
    if (!NAME.test(v.name)) throw new RangeError(`module variable name ${JSON.stringify(v.name)} must be letters, digits or _`);
    const value = typeof v.value === 'string' ? scalarValue(v.value) : listValue(v.value);
    // An empty list cannot be written: leaving the variable out is how "none" reads in inventory.
    if (value === null) continue;
    // Tags apply to every following line, so a variable without an attribute resets them.
    lines.push(v.attribute === null ? '^meta=source=hubha' : `^meta=inventory,attribute_name=${attributeName(v.attribute)}`);
    lines.push(typeof v.value === 'string' ? `=${v.name}=${value}` : `@${v.name}= ${value}`);
  }
  return `${lines.join('\n')}\n`;
}
