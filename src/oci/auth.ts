import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Credentials {
  username: string;
  password: string;
}

/** Where credentials are looked for, first found wins: $REGISTRY_AUTH_FILE, $DOCKER_CONFIG, ~/.docker, containers' auth.json. */
export function authFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.DOCKER_CONFIG) out.push(join(env.DOCKER_CONFIG, 'config.json'));
  out.push(join(env.HOME || homedir(), '.docker', 'config.json'));
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  return out;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
}

function entryFor(auths: Record<string, AuthEntry>, registry: string): AuthEntry | undefined {
  for (const [k, v] of Object.entries(auths)) {
    const host = k.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (host === registry) return v;
  }
  return undefined;
}

/** The credentials for `registry` from the first auth file that names it (docker config.json format). */
export function loadCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  for (const file of authFiles(env)) {
    let doc: { auths?: Record<string, AuthEntry> };
    try {
      doc = JSON.parse(readFileSync(file, 'utf8')) as typeof doc;
    } catch {
      continue;
    }
    const e = doc.auths ? entryFor(doc.auths, registry) : undefined;
    if (!e) continue;
    if (e.username && e.password) return { username: e.username, password: e.password };
    if (e.auth) {
      const text = Buffer.from(e.auth, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i > 0) return { username: text.slice(0, i), password: text.slice(i + 1) };
    }
  }
  return undefined;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (or Basic). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme, params };
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
