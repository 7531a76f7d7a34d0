import { LabError } from './errors.js';

/**
 * Naming and addressing of a lab. Everything the lab creates is named from its prefix:
 *
 *   namespaces      `${prefix}.${host}` for each host, `${prefix}.br` for the bridge
 *   bridge          `br0` inside `${prefix}.br`
 *   veth pair       `p-${host}` (bridge side, in `${prefix}.br`) <-> `eth0` (in the host namespace)
 *
 * The '.' separator cannot occur in a prefix or a host name, so `${prefix}.` matches exactly one
 * lab's namespaces: cleaning up `hubha-lab` never touches `hubha-lab-2`'s.
 */

/** Every lab prefix starts with this: nothing outside it is ever created or deleted. */
export const LAB_PREFIX_ROOT = 'hubha-';
export const BRIDGE_HOST = 'br';
export const HOST_IFACE = 'eth0';
export const BRIDGE_IFACE = 'br0';
/** Host i (0-based, in the order given) gets network + HOST_OFFSET + i. */
export const HOST_OFFSET = 11;

export function validatePrefix(prefix: string): void {
  if (typeof prefix !== 'string' || !/^hubha-[a-z0-9]+(?:-[a-z0-9]+)*$/.test(prefix) || prefix.length > 40) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `lab prefix ${JSON.stringify(prefix)} must start with "${LAB_PREFIX_ROOT}", use only a-z, 0-9 and single '-', and be at most 40 characters`,
    );
  }
}

export function validateHostName(host: string): void {
  // `p-${host}` must fit in 15 characters (IFNAMSIZ - 1).
  if (typeof host !== 'string' || !/^[a-z][a-z0-9-]{0,12}$/.test(host) || host.endsWith('-') || host === BRIDGE_HOST) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `host name ${JSON.stringify(host)} must be 1..13 characters of a-z, 0-9, '-' (starting with a letter, not ending with '-'), and not "${BRIDGE_HOST}"`,
    );
  }
}

export function namespaceName(prefix: string, host: string): string {
  return `${prefix}.${host}`;
}

export function bridgePort(host: string): string {
  return `p-${host}`;
}

/** Locally administered, unique within a lab: 02:68:62 ("hb") then the host's 1-based index. */
export function hostMac(index: number): string {
  const n = index + 1;
  return `02:68:62:00:${hex(n >> 8)}:${hex(n & 255)}`;
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export interface Subnet {
  readonly network: number;
  readonly prefixLength: number;
  readonly size: number;
  readonly text: string;
}

export function ipv4ToInt(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

export function intToIpv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/**
 * The lab subnet: an IPv4 network (host bits zero), /16../28, inside a private range (10/8,
 * 172.16/12, 192.168/16) or the benchmarking range 198.18/15. It exists only inside the lab
 * (no route leads there from the host, and none leads out), but a private range keeps even a
 * mistake from ever addressing someone else's network.
 */
export function parseSubnet(text: string): Subnet {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const net = m ? ipv4ToInt(m[1] as string) : undefined;
  const pl = m ? Number(m[2]) : NaN;
  if (!m || net === undefined || !(pl >= 16 && pl <= 28)) {
    throw new LabError('INVALID_ARGUMENT', `subnet ${JSON.stringify(text)} must be an IPv4 network A.B.C.D/N with N in 16..28`);
  }
  const size = 2 ** (32 - pl);
  if (net % size !== 0) throw new LabError('INVALID_ARGUMENT', `subnet ${text} has host bits set (network address expected)`);
  const inRange = (base: string, len: number): boolean => {
    const b = ipv4ToInt(base) as number;
    const s = 2 ** (32 - len);
    return net >= b && net + size <= b + s;
  };
  if (!(inRange('10.0.0.0', 8) || inRange('172.16.0.0', 12) || inRange('192.168.0.0', 16) || inRange('198.18.0.0', 15))) {
    throw new LabError('INVALID_ARGUMENT', `subnet ${text} is not inside 10/8, 172.16/12, 192.168/16 or 198.18/15`);
  }
  return { network: net, prefixLength: pl, size, text: `${intToIpv4(net)}/${pl}` };
}

/** The address at `offset` inside the subnet (1..size-2). */
export function subnetAddress(subnet: Subnet, offset: number): string {
  if (!Number.isInteger(offset) || offset < 1 || offset > subnet.size - 2) {
    throw new LabError('INVALID_ARGUMENT', `offset ${offset} is outside 1..${subnet.size - 2} of ${subnet.text}`);
  }
  return intToIpv4(subnet.network + offset);
}
