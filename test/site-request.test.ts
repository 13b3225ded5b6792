import { describe, expect, it } from 'vitest';
import { simpleForm } from '../src/site/negotiate.js';
import { parseRange, parseTarget } from '../src/site/request.js';

describe('the site reads a request target strictly', () => {
  it('takes plain paths, drops "." segments (apt asks for apt/./InRelease), keeps the query', () => {
    expect(parseTarget('/apt/./InRelease')).toMatchObject({ ok: true, path: 'apt/InRelease' });
    expect(parseTarget('/simple/vb-alpha/')).toMatchObject({ ok: true, path: 'simple/vb-alpha/' });
    expect(parseTarget('/')).toMatchObject({ ok: true, path: '' });
    const t = parseTarget('/hf/api/models/a/b/tree/main?recursive=true');
    expect(t.ok && t.query.get('recursive')).toBe('true');
    expect(parseTarget('/files/a%20b.txt')).toMatchObject({ ok: true, path: 'files/a b.txt' });
    // The fast path (plain names) and the full one agree.
    expect(parseTarget('/a/b-c_d~e.f/')).toMatchObject({ ok: true, path: 'a/b-c_d~e.f/' });
    expect(parseTarget('/x/.hidden/...')).toMatchObject({ ok: true, path: 'x/.hidden/...' });
    expect(parseTarget('/x/./y/.')).toMatchObject({ ok: true, path: 'x/y/' });
    for (const t of ['/x/..', '/../', '/a//b', '//']) expect(parseTarget(t).ok, t).toBe(false);
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

describe('PEP 691 negotiation of the simple index', () => {
  it('gives pip JSON, a browser or curl HTML, and honours q=0 and ?format=', () => {
    expect(simpleForm('application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01')).toBe('json');
    expect(simpleForm(undefined)).toBe('html');
    expect(simpleForm('*/*')).toBe('html');
    expect(simpleForm('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).toBe('html');
    expect(simpleForm('application/vnd.pypi.simple.latest+json')).toBe('json');
    expect(simpleForm('application/vnd.pypi.simple.v1+html')).toBe('v1html');
    expect(simpleForm('application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.5')).toBe('html');
    expect(simpleForm('text/html;q=0.2, application/vnd.pypi.simple.v1+json;q=0.9')).toBe('json');
    expect(simpleForm('application/json')).toBe('html');
    expect(simpleForm('text/html', 'application/vnd.pypi.simple.v1+json')).toBe('json');
    expect(simpleForm(`${'x/y;q=1,'.repeat(5000)}`)).toBe('html');
  });
});
