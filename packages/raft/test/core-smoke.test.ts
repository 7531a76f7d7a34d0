import { describe, expect, it } from 'vitest';
import { TestCluster } from '../src/testing/cluster.js';

describe('core smoke', () => {
  it('elects a leader and commits a proposal on all nodes', () => {
    const c = new TestCluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.core('a').status().role).toBe('leader');
    expect(c.propose('a', 'x').ok).toBe(true);
    c.stabilize();
    for (const id of ['a', 'b', 'c']) expect(c.node(id).applied).toEqual(['8/2:x']);
  });
  it('elects a leader by ticking', () => {
    const c = new TestCluster(['a', 'b', 'c']);
    for (let i = 0; i < 50 && c.leader() === undefined; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.leader()).toBeDefined();
  });
});
