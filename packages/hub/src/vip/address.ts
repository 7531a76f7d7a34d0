/**
 * Validation of what the VIP manager is configured with: an IPv4 address with prefix length
 * (`10.77.0.100/24`), a Linux interface name and, optionally, a network namespace name. These
 * strings end up as arguments of `ip` and `arping` (argument arrays, never a shell), so the checks
 * are also what keeps an option-like value (`-f`) or a path out of those argument lists.
 */

export interface VipAddress {
  /** Dotted quad, canonical (no leading zeros). */
  readonly address: string;
  readonly prefixLength: number;
  /** `address/prefixLength`, the form `ip addr add|del` takes. */
  readonly cidr: string;
}

/** Parses a canonical dotted quad into a 32-bit unsigned integer; undefined if it is not one. */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    if (part.length > 1 && part.startsWith('0')) return undefined; // no octal-looking octets
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/**
 * Parses and validates `A.B.C.D/N`. Refused: prefix lengths outside 8..32, the network and
 * broadcast addresses of the prefix (for N <= 30), 0.0.0.0/8, loopback, link-local, multicast
 * and reserved ranges. Returns an error message instead of throwing.
 */
export function parseVipAddress(text: string): VipAddress | string {
  if (typeof text !== 'string') return 'address must be a string like 10.77.0.100/24';
  const slash = text.indexOf('/');
  if (slash < 0) return `address ${JSON.stringify(text)} needs a prefix length, like 10.77.0.100/24`;
  const addrText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const addr = parseIpv4(addrText);
  if (addr === undefined) return `address ${JSON.stringify(addrText)} is not an IPv4 dotted quad`;
  if (!/^\d{1,2}$/.test(prefixText)) return `prefix length ${JSON.stringify(prefixText)} is not a number`;
  const prefixLength = Number(prefixText);
  if (prefixLength < 8 || prefixLength > 32) return `prefix length ${prefixLength} is outside 8..32`;
  const first = addr >>> 24;
  if (first === 0) return `address ${addrText} is in 0.0.0.0/8`;
  if (first === 127) return `address ${addrText} is a loopback address`;
  if (first >= 224) return `address ${addrText} is multicast or reserved`;
  if (first === 169 && ((addr >>> 16) & 255) === 254) return `address ${addrText} is link-local`;
  if (prefixLength <= 30) {
    const hostBits = 32 - prefixLength;
    const hostMask = hostBits === 32 ? 0xffffffff : (2 ** hostBits - 1);
    const host = addr % (hostMask + 1);
    if (host === 0) return `address ${addrText} is the network address of /${prefixLength}`;
    if (host === hostMask) return `address ${addrText} is the broadcast address of /${prefixLength}`;
  }
  const address = formatIpv4(addr);
  return { address, prefixLength, cidr: `${address}/${prefixLength}` };
}

/**
 * Linux interface names: 1..15 bytes (IFNAMSIZ - 1), no '/', ':' or whitespace, not '.' or '..'.
 * We are stricter than the kernel: letters, digits, '_', '.', '-', and no leading '-'.
 * Alias labels (`eth0:1`) are refused: `ip addr add … dev` wants the device itself.
 */
export function validateInterfaceName(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'interface name is empty';
  if (name.length > 15) return `interface name ${JSON.stringify(name)} is longer than 15 characters`;
  if (name === '.' || name === '..') return `interface name ${JSON.stringify(name)} is not allowed`;
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/.test(name)) return `interface name ${JSON.stringify(name)} may only contain letters, digits, '_', '.', '-' (not first)`;
  return undefined;
}

/** Network namespace names (files under /run/netns): same alphabet, up to 64 characters. */
export function validateNetnsName(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'network namespace name is empty';
  if (name.length > 64) return `network namespace name ${JSON.stringify(name)} is longer than 64 characters`;
  if (name === '.' || name === '..') return `network namespace name ${JSON.stringify(name)} is not allowed`;
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/.test(name)) return `network namespace name ${JSON.stringify(name)} may only contain letters, digits, '_', '.', '-' (not first)`;
  return undefined;
}
