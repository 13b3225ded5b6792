import type { Limits } from '../util/limits.js';
import { type Getter, NativeHttpClient } from './native-http.js';

export { type Getter } from './native-http.js';

const PROXY_VARS = ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy'];

/**
 * The client for pulling a served bundle: node's own http/https (its native llhttp parser: no WebAssembly
 * compile at the first request, which undici's parser costs every CLI run), unless a proxy is set in the
 * environment: then HttpClient (undici), whose HTTPS_PROXY / HTTP_PROXY / NO_PROXY handling stays the one place
 * proxies are spoken to.
 */
export async function pullClient(limits: Limits): Promise<Getter> {
  if (PROXY_VARS.some((k) => process.env[k])) {
    const { HttpClient } = await import('./http.js');
    return new HttpClient(limits);
  }
  return new NativeHttpClient(limits);
}
