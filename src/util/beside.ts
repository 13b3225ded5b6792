import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Where the bundle folder that holds `path` is, if any: the nearest folder at or above it with both
 * bundle.json and SHA256SUMS. Anything written there is a file verify does not know (and then refuses).
 */
export function bundleFolderOf(path: string): string | undefined {
  let dir = resolve(path);
  for (;;) {
    if (existsSync(join(dir, 'bundle.json')) && existsSync(join(dir, 'SHA256SUMS'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * A default output path for something run on the box (smoke's results, a probe): in the current folder, or,
 * when that is inside a bundle folder (the field tech runs ./vault-bundle from it), beside that folder.
 */
export function besideBundle(name: string, cwd = process.cwd()): string {
  const bundle = bundleFolderOf(cwd);
  return join(bundle ? dirname(bundle) : resolve(cwd), name);
}

/** A warning when a path given on purpose lies inside a bundle folder, else undefined. */
export function insideBundleWarning(path: string, what: string): string | undefined {
  const target = resolve(path);
  const bundle = bundleFolderOf(target);
  if (!bundle) return undefined;
  return `${what} ${path} is inside the bundle folder ${bundle}: verify and install then refuse that folder until it is moved out ("files not in the bundle"); write it beside the folder instead, e.g. ${join(dirname(bundle), basename(target))}`;
}
