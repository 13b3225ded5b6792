import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../../util/errors.js';
import { escapeName } from '../../util/escape.js';
import { type Cli, examples } from '../common.js';

function listenAddr(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v) ?? /^()()(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError('expected HOST:PORT (0.0.0.0:8080, [::]:8080) or a port');
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

export function register(program: Command, d: Cli): void {
  program
    .command('serve')
    .description(
      "verify a bundle, then serve it read-only to the site's apt, pip and huggingface_hub (the same URLs as an exported site), straight from its blobs",
    )
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder (read in place, never copied)')
    .addOption(
      new Option('--listen <host:port>', 'where to listen (a LAN address or 0.0.0.0 to serve other machines)')
        .argParser(listenAddr)
        .default({ host: '127.0.0.1', port: 8080 }, '127.0.0.1:8080'),
    )
    .option('--key <file>', 'release public key: the signature must verify before anything is served')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; with --tls-key)')
    .option('--tls-key <file>', "the certificate's private key (PEM)")
    .option('--token <token>', 'require this token: "Authorization: Bearer <token>" (HF_TOKEN) or basic auth with it as the password')
    .option('--token-file <file>', 'the token, from the first line of a file (kept out of the process list)')
    .addOption(new Option('--max-connections <n>', 'open connections at most').argParser(positive).default(256))
    .option('--access-log <file>', 'append the JSON-lines access log here (default: stderr)')
    .addHelpText(
      'after',
      examples(
        'vault-bundle serve bundles/my-box',
        'vault-bundle serve /media/stick/my-box --listen 0.0.0.0:8080 --key release.asc',
        'vault-bundle serve my-box.tar --listen 10.0.0.5:8443 --tls-cert site.pem --tls-key site.key --token-file token',
      ),
    )
    .action(
      async (
        bundle: string,
        o: {
          listen: { host: string; port: number };
          key?: string;
          tlsCert?: string;
          tlsKey?: string;
          token?: string;
          tokenFile?: string;
          maxConnections: number;
          accessLog?: string;
        },
      ) => {
        if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) {
          throw new UsageError({ code: 'BAD_FLAG', message: '--tls-cert and --tls-key go together', hint: 'give both files (PEM), or neither for plain HTTP' });
        }
        const token = o.tokenFile ? (await readFile(o.tokenFile, 'utf8')).split(/\r?\n/)[0]!.trim() : o.token;
        if (token !== undefined && token.length < 8)
          throw new UsageError({ code: 'BAD_FLAG', message: '--token: at least 8 characters', hint: 'use a long random token, e.g. openssl rand -hex 16' });
        const { verifiedBundle, clientLines, sitePlan } = await import('../../site/build.js');
        const { serveSite } = await import('../../site/server.js');
        const { lineBatch } = await import('../../site/access-log.js');
        const { createWriteStream } = await import('node:fs');
        const b = await verifiedBundle(bundle, { ...(o.key ? { key: o.key } : {}), signal: d.signal });
        const plan = await sitePlan(b);
        const logTo = o.accessLog ? createWriteStream(o.accessLog, { flags: 'a' }) : process.stderr;
        const access = lineBatch((chunk) => logTo.write(chunk));
        const tls = o.tlsCert && o.tlsKey ? { cert: await readFile(o.tlsCert), key: await readFile(o.tlsKey) } : undefined;
        const site = await serveSite(b, plan, {
          ...o.listen,
          maxConnections: o.maxConnections,
          ...(token ? { token } : {}),
          ...(tls ? { tls } : {}),
          log: (l) => access.add(l),
        });
        const lines = clientLines(plan, site.url, o.key ? { keyPath: '<the release key as a binary keyring>' } : {});
        d.emit(
          [
            `serving ${escapeName(plan.name)} ${escapeName(plan.version)} (verified${o.key ? ', signature valid' : ''}) on ${site.url}; Ctrl-C stops`,
            ...lines.map((l) => `  ${escapeName(l)}`),
          ].join('\n'),
          { url: site.url, name: plan.name, version: plan.version, clients: lines },
        );
        if (!d.signal.aborted) await new Promise((r) => d.signal.addEventListener('abort', r, { once: true }));
        await site.drain();
        access.flush();
        if (logTo !== process.stderr) await new Promise<void>((r) => (logTo as NodeJS.WritableStream).end(() => r()));
      },
    );
}
