import { closeSync, openSync, readSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { walk } from '../util/fs.js';
import type { HashJob } from './hashpool.js';

export interface BundleEntry {
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** Where the bytes are: a file, and a range in it. */
  job: HashJob;
}

/** A bundle as a list of entries, whether it is a folder or a tar file; reading never extracts. */
export interface BundleReader {
  readonly location: string;
  readonly entries: Map<string, BundleEntry>;
  read(path: string, maxBytes: number): Promise<Buffer>;
}

export async function openBundle(location: string): Promise<BundleReader> {
  let st;
  try {
    st = await stat(location);
  } catch {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${location}: no such bundle folder or tar file`,
      subject: location,
      hint: 'give the folder written by "vault-bundle build" (e.g. bundles/quickstart) or its .tar',
    });
  }
  return st.isDirectory() ? openDir(location) : openTar(location);
}

async function openDir(root: string): Promise<BundleReader> {
  const entries = new Map<string, BundleEntry>();
  for (const e of await walk(root)) {
    const file = join(root, e.path);
    const size = e.kind === 'file' ? (await stat(file)).size : 0;
    entries.set(e.path, { path: e.path, kind: e.kind, size, job: { file, offset: 0, length: size } });
  }
  return {
    location: root,
    entries,
    async read(path, maxBytes) {
      const e = entries.get(path);
      if (!e || e.size > maxBytes) throw new Error(`${path}: missing or larger than ${maxBytes} bytes`);
      return readFile(join(root, path));
    },
  };
}

/**
 * Lists a tar by walking its 512-byte headers and seeking past the data (POSIX ustar + pax `path`/`size`
 * records, GNU long names), so listing a 2 GiB tar reads a few kilobytes. A single top-level folder is
 * taken as the bundle root.
 */
export async function openTar(file: string): Promise<BundleReader> {
  const raw: BundleEntry[] = [];
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(512);
    let off = 0;
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    for (;;) {
      const n = readSync(fd, header, 0, 512, off);
      if (n < 512) throw notTar(file, `truncated header at byte ${off}`);
      if (header.every((b) => b === 0)) break;
      if (!checksumOk(header)) throw notTar(file, `bad header checksum at byte ${off}`);
      const type = String.fromCharCode(header[156]!) || '0';
      let size = parseNumber(header.subarray(124, 136));
      const dataAt = off + 512;
      const next = dataAt + Math.ceil(size / 512) * 512;
      if (type === 'x' || type === 'L') {
        const data = Buffer.alloc(size);
        readSync(fd, data, 0, size, dataAt);
        if (type === 'x') pax = parsePax(data);
        else longName = data.toString('utf8').replace(/\0+$/, '');
        off = next;
        continue;
      }
      if (type === 'g') {
        off = next;
        continue;
      }
      const prefix = cstr(header.subarray(345, 500));
      let path = pax.path ?? longName ?? (prefix ? `${prefix}/${cstr(header.subarray(0, 100))}` : cstr(header.subarray(0, 100)));
      if (pax.size !== undefined) size = Number(pax.size);
      path = path.replace(/\/+$/, '');
      const kind = type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : 'other';
      raw.push({ path, kind, size: kind === 'file' ? size : 0, job: { file, offset: dataAt, length: kind === 'file' ? size : 0 } });
      pax = {};
      longName = undefined;
      off = dataAt + Math.ceil(size / 512) * 512;
    }
  } finally {
    closeSync(fd);
  }
  // Bundles written with --tar sit under one top-level folder (name-version/): that folder is the root.
  const top = raw[0]?.path.split('/')[0] ?? '';
  const nested = top !== '' && raw.every((e) => e.path === top || e.path.startsWith(`${top}/`));
  const entries = new Map<string, BundleEntry>();
  for (const e of raw) {
    if (nested && e.path === top) continue;
    const p = nested ? e.path.slice(top.length + 1) : e.path;
    entries.set(p, { ...e, path: p });
  }
  return {
    location: file,
    entries,
    async read(path, maxBytes) {
      const e = entries.get(path);
      if (!e || e.size > maxBytes) throw new Error(`${path}: missing or larger than ${maxBytes} bytes`);
      const buf = Buffer.alloc(e.size);
      const fd2 = openSync(file, 'r');
      try {
        readSync(fd2, buf, 0, e.size, e.job.offset);
      } finally {
        closeSync(fd2);
      }
      return buf;
    },
  };
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

function parseNumber(b: Buffer): number {
  if (b[0]! & 0x80) {
    // GNU base-256 for sizes of 8 GiB and more.
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = cstr(b).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === parseNumber(h.subarray(148, 156));
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

function notTar(file: string, why: string): UsageError {
  return new UsageError({
    code: 'NOT_A_BUNDLE',
    message: `${file}: not a bundle folder or a readable tar (${why})`,
    subject: file,
    hint: 'give the folder written by "vault-bundle build" or the file written by "build --tar"; a damaged tar must be copied again',
  });
}
