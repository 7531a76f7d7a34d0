import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { childLogger } from '../src/log/child-logger.js';

function capture(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { logger: pino({ base: { node: 'hub1', pid: 1 } }, stream), lines };
}

describe('childLogger', () => {
  it('binds each key once: what the parent already binds to the same value is left out', () => {
    const { logger, lines } = capture();
    childLogger(childLogger(logger, { node: 'hub1', cluster: 'c' }), { component: 'raft-transport', node: 'hub1' }).info('hello');
    expect(lines[0]!.match(/"node":/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ node: 'hub1', cluster: 'c', component: 'raft-transport', msg: 'hello' });
  });

  it('keeps a key bound to a different value (pino prints both; the child’s is the last)', () => {
    const { logger, lines } = capture();
    childLogger(logger, { node: 'hub2' }).info('x');
    expect(JSON.parse(lines[0]!).node).toBe('hub2');
  });
});
