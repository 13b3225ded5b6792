import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../src/util/suggest.js';

describe('closest', () => {
  it('counts a swap of neighbours as one edit, and _ as -', () => {
    expect(editDistance('sigend-by', 'signed-by')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('', 'ab')).toBe(2);
    expect(closest('find_links', ['find-links', 'index-url'])).toBe('find-links');
    expect(closest('Packages', ['packages', 'exclude'])).toBe('packages');
  });
  it('says nothing when no candidate is close (a third of the word may differ)', () => {
    expect(closest('zzz', ['packages', 'sources'])).toBeUndefined();
    expect(closest('srcs', ['sources'])).toBeUndefined();
    expect(closest('sourcs', ['sources'])).toBe('sources');
    expect(closest('x', [])).toBeUndefined();
  });
});
