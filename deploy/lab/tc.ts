/**
 * The `tc` commands of the fault primitives. This kernel family may lack sch_netem, cls_flower,
 * cls_matchall and act_gact (no `action drop`); what is always there is HTB, pfifo, u32 and cls_bpf.
 * So a "drop" is a classification: every bridge port (and, for loss without netem, a host's eth0)
 * gets an HTB root whose unclassified traffic takes HTB's direct path (unshaped), plus one class
 * 1:99 whose leaf is `pfifo limit 0`, a queue that drops every packet offered to it. A filter
 * that sends a packet to 1:99 drops it, silently, like a partitioned switch would.
 */

export const DROP_CLASS = '1:99';

/** HTB root + the dropping class on `dev` (run inside the namespace that owns dev). */
export function dropQdiscCommands(tc: readonly string[], dev: string): string[][] {
  return [
    [...tc, 'qdisc', 'replace', 'dev', dev, 'root', 'handle', '1:', 'htb'],
    [...tc, 'class', 'replace', 'dev', dev, 'parent', '1:', 'classid', DROP_CLASS, 'htb', 'rate', '8bit', 'quantum', '1514'],
    [...tc, 'qdisc', 'replace', 'dev', dev, 'parent', DROP_CLASS, 'handle', '99:', 'pfifo', 'limit', '0'],
  ];
}

/** u32 matches on the source MAC: 4 bytes at network-header-8, 2 bytes at -4 (Ethernet header). */
export function srcMacMatch(mac: string): string[] {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  if (b.length !== 6 || b.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad MAC ${mac}`);
  const hi = ((((b[0] as number) << 24) >>> 0) + ((b[1] as number) << 16) + ((b[2] as number) << 8) + (b[3] as number)) >>> 0;
  const lo = ((b[4] as number) << 8) + (b[5] as number);
  return ['match', 'u32', `0x${hi.toString(16).padStart(8, '0')}`, '0xffffffff', 'at', '-8', 'match', 'u16', `0x${lo.toString(16).padStart(4, '0')}`, '0xffff', 'at', '-4'];
}

/**
 * Drop, on `dev`'s egress, frames whose source MAC is `mac`. `protocol` 'ip' (one-way cuts: ARP
 * still passes, so the reverse direction keeps resolving addresses and stays open) or 'all'.
 */
export function dropFromMacFilter(tc: readonly string[], dev: string, pref: number, mac: string, protocol: 'ip' | 'all'): string[] {
  return [...tc, 'filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', protocol, 'pref', String(pref), 'u32', ...srcMacMatch(mac), 'flowid', DROP_CLASS];
}

/** Drop everything on `dev`'s egress. */
export function dropAllFilter(tc: readonly string[], dev: string, pref: number): string[] {
  return [...tc, 'filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'all', 'pref', String(pref), 'u32', 'match', 'u32', '0', '0', 'flowid', DROP_CLASS];
}

/**
 * Drop a random `lossPct` percent of `dev`'s egress: a classic-BPF classifier that loads a random
 * 32-bit number (SKF_AD_RANDOM) and matches when it is below lossPct% of 2^32.
 */
export function randomLossFilter(tc: readonly string[], dev: string, pref: number, lossPct: number): string[] {
  if (lossPct >= 100) return dropAllFilter(tc, dev, pref);
  const threshold = Math.min(0xffffffff, Math.max(0, Math.round((lossPct / 100) * 2 ** 32)));
  const SKF_AD_RANDOM = (0x100000000 - 0x1000 + 56) >>> 0; // SKF_AD_OFF + SKF_AD_RANDOM, as u32
  const program = [
    `32 0 0 ${SKF_AD_RANDOM}`, // ld  #rand
    `53 0 1 ${threshold}`, //     jge #threshold, keep, drop
    '6 0 0 0', //                 keep: ret #0   (no match)
    '6 0 0 4294967295', //        drop: ret #-1  (match: the filter's flowid)
  ];
  return [...tc, 'filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'all', 'pref', String(pref), 'bpf', 'bytecode', `${program.length},${program.join(',')}`, 'flowid', DROP_CLASS];
}
