import { type Command, Option } from 'commander';
import { type Cli, examples, fraction, positiveInt, rendered, shown } from '../common.js';
import { printErr } from '../out.js';

interface SmokeFlags {
  bundle?: string;
  out?: string;
  only?: string;
  saveBaseline?: string;
  baseline?: string;
  tolerance: number;
  netns?: boolean;
  expectGpus?: number;
  expectModel?: string;
  python?: string;
  imageVersion?: string;
}

export function register(program: Command, cli: Cli): void {
  program
    .command('smoke')
    .description(
      'smoke-test this box with no network: GPUs, torch, bandwidth, NCCL, bundled models, inference; writes results.json, junit.xml, thermal.csv/svg',
    )
    .option('--bundle <dir>', 'bundle folder: its models are loaded and run, its NVIDIA driver branch is expected')
    .option('-o, --out <dir>', 'results folder (default: smoke-results here, or beside the bundle folder when run inside one)')
    .option('--only <checks>', 'comma-separated check ids or areas (gpu, nccl, models, inference, gpu.matmul, …); what they need runs too')
    .option('--save-baseline <file>', "save this run's metrics as a baseline (only when nothing failed; each metric measured 3 times, its spread recorded)")
    .option('--baseline <file>', 'compare with a saved baseline (same GPU, driver, CUDA, torch, vLLM); a regression fails')
    .addOption(
      new Option(
        '--tolerance <fraction>',
        'allowed regression against --baseline: the floor; a metric that spread more when the baseline was saved gets twice its spread, token rates and timings at least 0.25',
      )
        .argParser(fraction)
        .default(0.1),
    )
    .option('--netns', 'run inside a new network namespace with no interfaces (unshare -n; root)')
    .addOption(new Option('--expect-gpus <n>', 'number of GPUs this box must have').argParser(positiveInt))
    .option('--expect-model <name>', "GPU model every GPU must be (part of nvidia-smi's name, e.g. H200)")
    .option('--image-version <file>', "the box's version stamp put into results.json (default: /etc/vault-ai/image-version.json)")
    .option('--python <path>', 'python for the probes (default: /opt/vault-ai/venv/bin/python when it imports torch, else python3)')
    .addHelpText(
      'after',
      examples(
        'vault-bundle smoke --bundle /media/stick/my-box --expect-gpus 8 --expect-model H200',
        'vault-bundle smoke --only gpu,nccl --save-baseline baseline.json',
        'vault-bundle smoke --netns --baseline baseline.json --tolerance 0.05',
      ),
    )
    .action(async (o: SmokeFlags) => {
      if (o.netns) {
        const { reexecInNetns } = await import('../../checks/netns.js');
        const code = await reexecInNetns({ warn: (m) => printErr(`warning: ${m}\n`) });
        if (code !== undefined) {
          cli.exit(code);
          return;
        }
      }
      const { runSmoke } = await import('../../smoke/smoke.js');
      const res = await rendered(cli, (report) =>
        runSmoke({
          bundle: o.bundle,
          ...(o.out ? { out: o.out } : {}),
          only: o.only
            ?.split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          options: {
            expect: { ...(o.expectGpus !== undefined ? { count: o.expectGpus } : {}), ...(o.expectModel ? { model: o.expectModel } : {}) },
            ...(o.python ? { python: o.python } : {}),
          },
          ...(o.imageVersion ? { imageVersion: o.imageVersion } : {}),
          saveBaseline: o.saveBaseline,
          baseline: o.baseline,
          tolerance: o.tolerance,
          report,
          signal: cli.signal,
        }),
      );
      const where = shown(res.outDir);
      cli.emit(`${res.summary.trimEnd()}\nresults in ${where}${res.savedBaseline ? `; baseline saved to ${shown(res.savedBaseline)}` : ''}`, {
        ...res.report,
        outDir: res.outDir,
        files: res.files,
      });
      cli.exit(res.exitCode);
    });
}
