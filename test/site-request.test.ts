import { describe, expect, it } from 'vitest';
import { parseRange, parseTarget } from '../src/site/request.js';

describe('the site reads a request target strictly', () => {
  it('takes plain paths, drops "." segments (apt asks for apt/./InRelease), keeps the query', () => {
    expect(parseTarget('/apt/./InRelease')).toMatchObject({ ok: true, path: 'apt/InRelease' });
    expect(parseTarget('/simple/vb-alpha/')).toMatchObject({ ok: true, path: 'simple/vb-alpha/' });
    expect(parseTarget('/')).toMatchObject({ ok: true, path: '' });
    const t = parseTarget('/hf/api/models/a/b/tree/main?recursive=true');
    expect(t.ok && t.query.get('recursive')).toBe('true');
    expect(parseTarget('/files/a%20b.txt')).toMatchObject({ ok: true, path: 'files/a b.txt' });
  });

  it('refuses .., encoded dots and slashes, NUL, backslashes, bad encoding, absolute and overlong targets', () => {
    for (const t of ['/../x', '/a/%2e%2e/x', '/a/%2E%2E', '/a/..%2fb', '/a%00b', '/a\\b', '/%ff', 'http://h/x', '*', '//x', '/a//b', '']) {
      expect(parseTarget(t).ok, t).toBe(false);
    }
    expect(parseTarget(`/${'a'.repeat(5000)}`)).toMatchObject({ ok: false, status: 414 });
    // Double encoding is one decode: the literal text "%2e%2e", a name that is in no site.
    expect(parseTarget('/%252e%252e/x')).toMatchObject({ ok: true, path: '%2e%2e/x' });
  });

  it('reads one byte range; a range past the end is unsatisfiable; other forms are ignored (whole body)', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=95-200', 100)).toEqual({ start: 95, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=5-2', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRange('items=0-1', 100)).toBeUndefined();
    expect(parseRange(undefined, 100)).toBeUndefined();
  });
});
