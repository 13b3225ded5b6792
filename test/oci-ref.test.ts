import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCredentials, parseChallenge } from '../src/oci/auth.js';
import { readBundleManifest } from '../src/oci/pull.js';
import { isLayoutRef, isLoopback, parseLayoutRef, parseRef } from '../src/oci/ref.js';
import { tempDir } from './helpers/tmp.js';

describe('OCI references', () => {
  it('parses registry, repository, tag and digest', () => {
    expect(parseRef('oci://reg.example:5000/team/ai-box:2026.12')).toEqual({ registry: 'reg.example:5000', repository: 'team/ai-box', tag: '2026.12' });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseRef(`localhost/x@${d}`)).toEqual({ registry: 'localhost', repository: 'x', digest: d });
    for (const bad of ['oci://nohost', 'oci://reg/UPPER:1', 'oci://reg/x:bad/tag', `oci://reg/x@sha256:${'z'.repeat(64)}`, 'oci://re g/x']) {
      expect(() => parseRef(bad), bad).toThrow(expect.objectContaining({ code: 'OCI_REF' }));
    }
    expect(isLoopback('127.0.0.1:5000')).toBe(true);
    expect(isLoopback('[::1]:5000')).toBe(true);
    expect(isLoopback('registry.example')).toBe(false);
    expect(isLayoutRef('oci:/media/stick/layout:1.0')).toBe(true);
    expect(isLayoutRef('oci://reg/x')).toBe(false);
    expect(parseLayoutRef('oci:/media/stick/layout:1.0')).toEqual({ dir: '/media/stick/layout', tag: '1.0' });
    expect(parseLayoutRef('oci:layout')).toEqual({ dir: 'layout' });
  });

  it('reads credentials from $REGISTRY_AUTH_FILE, then $DOCKER_CONFIG, and parses challenges', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'auth.json'), JSON.stringify({ auths: { 'reg.example:5000': { auth: Buffer.from('u1:p:w').toString('base64') } } }));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { 'https://other.example/v1/': { username: 'u2', password: 'p2' } } }));
    const env = { HOME: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json'), DOCKER_CONFIG: dir };
    expect(loadCredentials('reg.example:5000', env)).toEqual({ username: 'u1', password: 'p:w' });
    expect(loadCredentials('other.example', env)).toEqual({ username: 'u2', password: 'p2' });
    expect(loadCredentials('nowhere.example', env)).toBeUndefined();
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
    });
    expect(parseChallenge('Basic realm="x"')?.scheme).toBe('basic');
    expect(parseChallenge('Negotiate')).toBeUndefined();
  });

  it('refuses a manifest whose file titles climb out, repeat or hold control characters', async () => {
    const layer = (title: string) => ({
      mediaType: 'x',
      digest: `sha256:${'b'.repeat(64)}`,
      size: 1,
      annotations: { 'org.opencontainers.image.title': title },
    });
    const src = (layers: unknown[]) => ({
      describe: 'test',
      manifest: async () => ({ bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, artifactType: 'application/vnd.vault-bundle.v1', config: {}, layers })) }),
      blob: async () => {
        throw new Error('not reached');
      },
    });
    for (const layers of [[layer('../etc/passwd')], [layer('/abs')], [layer('a'), layer('a')], [layer('bad\u001b[31mname')], [layer('.vault-bundle-pull/x')]]) {
      await expect(readBundleManifest(src(layers))).rejects.toMatchObject({ code: 'OCI_BAD_MANIFEST' });
    }
    await expect(
      readBundleManifest({
        ...src([]),
        manifest: async () => ({ bytes: Buffer.from('{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json"},"layers":[]}') }),
      }),
    ).rejects.toMatchObject({ code: 'OCI_NOT_A_BUNDLE' });
  });
});
