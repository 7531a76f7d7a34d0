/**
 * Reads the Prometheus text format the members serve at /metrics, as far as the tests need it:
 * every sample line as `name{label="value",…}` (labels in the order written) → its value.
 * Comment lines (# HELP, # TYPE) are skipped.
 */
export function prometheusSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    if (cut <= 0) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** GET http://<address>/metrics, parsed. */
export async function scrapeMetrics(address: string, timeoutMs = 5000): Promise<Map<string, number>> {
  const res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`GET /metrics on ${address}: HTTP ${res.status}`);
  return prometheusSamples(await res.text());
}
