import { describe, expect, it } from 'vitest';
import { ConfigError, parseNodeConfig, selfEndpoints } from '../src/config/node-config.js';

const valid = `
cluster:
  id: lab
  members:
    - { name: hub1, peer: "127.0.0.1:7001", client: "127.0.0.1:7101" }
    - { name: hub2, peer: "127.0.0.1:7002", client: "127.0.0.1:7102" }
    - { name: witness, peer: "127.0.0.1:7003", client: "127.0.0.1:7103" }
node:
  name: hub1
  dataDir: data/hub1
`;

function problems(text: string): string[] {
  try {
    parseNodeConfig(text, '/etc/hubha/node.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain('/etc/hubha/node.yaml');
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected the config to be refused');
}

describe('node config', () => {
  it('fills defaults and resolves the data directory against the file', () => {
    const config = parseNodeConfig(valid, '/etc/hubha/node.yaml');
    expect(config.node.dataDir).toBe('/etc/hubha/data/hub1');
    expect(config.raft.tickMs).toBe(50);
    expect(config.raft.electionTimeoutTicks).toBe(8);
    expect(selfEndpoints(config)).toEqual({ peer: '127.0.0.1:7001', client: '127.0.0.1:7101' });
  });

  it('names the key and the problem', () => {
    expect(problems(valid.replace('127.0.0.1:7002', 'nowhere'))).toEqual(['cluster.members.1.peer: must be "host:port"']);
    expect(problems(valid.replace('name: hub1\n', 'name: hub9\n'))).toEqual([
      'node.name: node "hub9" is not in cluster.members (set node.join: true to add it to a running cluster)',
    ]);
    expect(problems(`${valid}raft:\n  heartbeatIntervalTicks: 5\n`)[0]).toMatch(/^raft.heartbeatIntervalTicks: must be at most a third/);
    expect(problems(`${valid}surprise: 1\n`)[0]).toMatch(/surprise/);
    expect(problems(valid.replace('name: hub2', 'name: hub1'))[0]).toBe('cluster.members.1.name: duplicate member name "hub1"');
  });

  it('reports YAML syntax errors and duplicate keys', () => {
    expect(problems('cluster: [')[0]).toMatch(/^YAML: /);
    expect(problems(`${valid}node:\n  name: x\n`)[0]).toMatch(/^YAML: .*[Uu]nique|duplicate/);
  });
});
