import pkg from '../package.json' with { type: 'json' };

export const TOOL = { name: 'vault-bundle', version: pkg.version } as const;
