import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientConfigError, loadClientConfig } from '../src/commands/client-config.js';
import { resolveEndpoints } from '../src/commands/endpoints.js';

let dir: string;
const saved = { endpoints: process.env.HUBHA_ENDPOINTS, config: process.env.HUBHA_CLIENT_CONFIG };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hubha-client-config-'));
  delete process.env.HUBHA_ENDPOINTS;
});

afterEach(() => {
  for (const [key, value] of [['HUBHA_ENDPOINTS', saved.endpoints], ['HUBHA_CLIENT_CONFIG', saved.config]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

describe('the client configuration file', () => {
  it('gives the endpoints when neither the flag nor the environment does', async () => {
    const file = join(dir, 'client.yaml');
    await writeFile(file, 'endpoints: [10.0.0.11:7101, "[::1]:7101"]\n');
    process.env.HUBHA_CLIENT_CONFIG = file;
    expect(resolveEndpoints(undefined)).toEqual(['10.0.0.11:7101', '[::1]:7101']);
    process.env.HUBHA_ENDPOINTS = '127.0.0.1:1';
    expect(resolveEndpoints(undefined)).toEqual(['127.0.0.1:1']);
    expect(resolveEndpoints('127.0.0.1:2,127.0.0.1:3')).toEqual(['127.0.0.1:2', '127.0.0.1:3']);
  });

  it('a file that is wrong is an error naming the file and the key, never skipped', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'endpoints: [not-an-endpoint]\nextra: 1\n');
    expect(() => loadClientConfig([bad])).toThrow(ClientConfigError);
    expect(() => loadClientConfig([bad])).toThrow(/bad\.yaml: .*endpoints\.0: must be host:port/);
    const notYaml = join(dir, 'broken.yaml');
    await writeFile(notYaml, 'endpoints: [a:1\n');
    expect(() => loadClientConfig([notYaml])).toThrow(/not YAML/);
  });

  it('no file at all: null, and resolveEndpoints says where it looked', () => {
    expect(loadClientConfig([join(dir, 'absent.yaml')])).toBeNull();
    process.env.HUBHA_CLIENT_CONFIG = join(dir, 'absent.yaml');
    expect(() => resolveEndpoints(undefined)).toThrow(/absent\.yaml/);
  });
});
