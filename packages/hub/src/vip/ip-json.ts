import { parseIpv4, formatIpv4 } from './address.js';

/** One IPv4 address configured on the interface. */
export interface InterfaceAddress {
  readonly address: string;
  readonly prefixLength: number;
}

/** What `ip -j addr show dev IFACE` says, reduced to what the VIP manager needs. */
export interface InterfaceState {
  readonly ifname: string;
  /** Administratively up (flag UP). A VIP on a down interface answers nobody; reported, not fixed. */
  readonly up: boolean;
  /** Carrier present (flag LOWER_UP). */
  readonly lowerUp: boolean;
  readonly ipv4: readonly InterfaceAddress[];
}

/**
 * Parses and validates the JSON of `ip -j addr show dev IFACE`: exactly one link object named
 * IFACE, with `flags` and an `addr_info` array whose `inet` entries carry a dotted-quad `local` and
 * an integer `prefixlen` 0..32. Anything else is an error message (string), never a guess.
 */
export function parseAddrShow(stdout: string, iface: string): InterfaceState | string {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (err) {
    return `not JSON (${(err as Error).message}): ${JSON.stringify(stdout.slice(0, 200))}`;
  }
  if (!Array.isArray(doc)) return 'expected a JSON array';
  // `ip -j addr show dev X` prints [] for X's addresses only when... never: X exists or it fails.
  if (doc.length !== 1) return `expected exactly one interface, got ${doc.length}`;
  const link: unknown = doc[0];
  if (!isObject(link)) return 'interface entry is not an object';
  if (link['ifname'] !== iface) return `interface entry is ${JSON.stringify(link['ifname'])}, expected ${JSON.stringify(iface)}`;
  const flags = link['flags'];
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === 'string')) return 'flags is not an array of strings';
  const info = link['addr_info'];
  if (!Array.isArray(info)) return 'addr_info is not an array';
  const ipv4: InterfaceAddress[] = [];
  for (const entry of info) {
    if (!isObject(entry)) return 'addr_info entry is not an object';
    if (typeof entry['family'] !== 'string') return 'addr_info entry without a family';
    if (entry['family'] !== 'inet') continue;
    const local = entry['local'];
    const prefixlen = entry['prefixlen'];
    if (typeof local !== 'string') return 'inet entry without a local address';
    const n = parseIpv4(local);
    if (n === undefined || formatIpv4(n) !== local) return `inet entry with a malformed address ${JSON.stringify(local)}`;
    if (typeof prefixlen !== 'number' || !Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > 32) {
      return `inet entry ${local} with a malformed prefixlen ${JSON.stringify(prefixlen)}`;
    }
    ipv4.push({ address: local, prefixLength: prefixlen });
  }
  return { ifname: iface, up: flags.includes('UP'), lowerUp: flags.includes('LOWER_UP'), ipv4 };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
