import type { Command } from 'commander';
import { type Cli, examples, shown } from '../common.js';
import { formatBytes } from '../../util/format.js';
import { printErr } from '../out.js';

export function register(program: Command, cli: Cli): void {
  program
    .command('probe')
    .description(
      'read this box (OS, dpkg status, Python and wheel tags, venv, GPUs, CUDA, models, installed bundles) into a file that lock and build take as the box to build for',
    )
    .option('-o, --out <file>', 'where to write the probe (default: box.json here, or beside the bundle folder when run inside one)')
    .option('--venv <dir>', 'the virtual environment pip installs into', '/opt/vault-ai/venv')
    .option('--hf-home <dir>', 'HF_HOME of the models (default: $HF_HOME, else /opt/vault-ai/models)')
    .option('--state-dir <dir>', 'where vault-bundle install keeps its journal (default: /var/lib/vault-bundle, then ~/.local/state/vault-bundle)')
    .option('--image-version <file>', 'the version stamp a complete install writes (default: /etc/vault-ai/image-version.json)')
    .addHelpText(
      'after',
      examples('vault-bundle probe', 'vault-bundle probe --out /media/stick/box.json', 'vault-bundle probe --venv /opt/ml/venv --hf-home /data/models'),
    )
    .action(async (o: { out?: string; venv: string; hfHome?: string; stateDir?: string; imageVersion?: string }) => {
      const { writeProbe } = await import('../../probe/write.js');
      const { execFile } = await import('../../util/exec.js');
      const res = await writeProbe({
        ...(o.out ? { out: o.out } : {}),
        venv: o.venv,
        ...(o.hfHome ? { hfHome: o.hfHome } : {}),
        ...(o.stateDir ? { stateDir: o.stateDir } : {}),
        ...(o.imageVersion ? { imageVersion: o.imageVersion } : {}),
        exec: execFile,
      });
      if (cli.mode !== 'quiet') for (const w of res.warnings) printErr(`warning: ${w}\n`);
      cli.emit(`${res.summary}\nwrote ${shown(res.path)} (${formatBytes(res.bytes)}); give it to "vault-bundle build <manifest> --target" on the build host`, {
        path: res.path,
        bytes: res.bytes,
        hostname: res.probe.hostname,
        absent: res.absent,
      });
    });
}
