/**
 * `bastion test`: runs the harness's suites on its own environment, or points the MQTT contract, the
 * gateway checks or the official conformance suite at someone else's server or gateway.
 *
 *   bastion test [--suite mqtt|ssh|gateway|reconnect|conformance|fuzz|all] [--tiers ...] [--report DIR]
 *   bastion test --suite mqtt --server-url URL [--broker mqtt://host:port]
 *   bastion test --suite gateway --gateway-url URL --token T --policy FILE [--upstream URL | --upstream-command CMD] [--max-window S]
 *   bastion test --suite conformance --server-url URL [--set 2025-11-25|2026-07-28 [--baseline FILE]]
 *   bastion test --suite fuzz
 *
 * The targets given here reach the tests as environment variables (see src/suites/env.ts).
 */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { REQUIREMENT_SETS } from '../conformance/sets.js';
import { parseSuites, SUITES, type SuiteName, suiteFiles, suitePrefixes } from '../suites/catalog.js';
import { CONTRACT_ENV } from '../suites/env.js';
import { HARNESS_ROOT, testTargets } from '../suites/paths.js';
import { runSuites } from '../suites/run.js';
import { TIERS } from '../testing/tiers.js';
import type { CliContext } from './context.js';

interface TestFlags {
  suite: string;
  tiers?: string;
  requireTiers?: string;
  report?: string;
  grep?: string;
  serverUrl?: string;
  transport: 'auto' | 'streamable' | 'sse';
  serverToken?: string;
  broker?: string;
  baseline?: string;
  set?: string;
  gatewayUrl?: string;
  token?: string;
  policy?: string;
  upstream?: string;
  upstreamToken?: string;
  upstreamCommand?: string;
  maxWindow?: string;
}

function url(value: string): string {
  try {
    const parsed = new URL(value);
    if (!['http:', 'https:'].includes(parsed.protocol)) throw new Error('not http');
    return value;
  } catch {
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  }
}

function brokerUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'mqtt:' || parsed.port === '') throw new Error('not mqtt');
    return value;
  } catch {
    throw new InvalidArgumentError('expected mqtt://host:port');
  }
}

function seconds(value: string): string {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds');
  return value;
}

function tierList(value: string): string {
  for (const tier of value.split(',').map((t) => t.trim())) {
    if (!(TIERS as readonly string[]).includes(tier)) {
      throw new InvalidArgumentError(`unknown tier '${tier}' (known: ${TIERS.join(', ')})`);
    }
  }
  return value;
}

export interface TestPlan {
  suites: SuiteName[];
  files: string[];
  env: Record<string, string>;
  target: Record<string, string>;
}

/** Works out what to run from the flags; throws an Error whose message is for the user. */
export function planTestRun(flags: TestFlags, cwd: string): TestPlan {
  const suites = parseSuites(flags.suite);
  const env: Record<string, string> = {};
  const target: Record<string, string> = {};
  if (flags.tiers !== undefined) env.BASTION_TIERS = flags.tiers;
  if (flags.requireTiers !== undefined) env.BASTION_REQUIRE_TIERS = flags.requireTiers;
  const external: SuiteName[] = [];

  if (flags.serverUrl !== undefined) {
    const forMqtt = suites.includes('mqtt');
    const forConformance = suites.includes('conformance');
    if (!forMqtt && !forConformance)
      throw new Error('--server-url goes with --suite mqtt or --suite conformance');
    target.serverUrl = flags.serverUrl;
    if (forMqtt) {
      external.push('mqtt');
      env[CONTRACT_ENV.mqttServerUrl] = flags.serverUrl;
      env[CONTRACT_ENV.mqttServerTransport] = flags.transport;
      if (flags.serverToken !== undefined) env[CONTRACT_ENV.mqttServerToken] = flags.serverToken;
    }
    if (forConformance) {
      external.push('conformance');
      env[CONTRACT_ENV.conformanceUrl] = flags.serverUrl;
      if (flags.set !== undefined) {
        env[CONTRACT_ENV.conformanceSet] = flags.set;
        target.set = flags.set;
      }
      if (flags.baseline !== undefined) {
        // Each requirement set has its own scenarios (and CLI): a baseline is written for one.
        if (flags.set === undefined)
          throw new Error(
            '--baseline belongs to one requirement set: add --set 2025-11-25 or --set 2026-07-28',
          );
        const baseline = resolve(cwd, flags.baseline);
        env[CONTRACT_ENV.conformanceBaseline] = baseline;
        target.baseline = baseline;
      }
    }
  } else if (flags.baseline !== undefined || flags.set !== undefined) {
    throw new Error('--baseline and --set go with --suite conformance --server-url URL');
  }
  if (flags.broker !== undefined) {
    if (!suites.includes('mqtt')) throw new Error('--broker goes with --suite mqtt');
    env[CONTRACT_ENV.mqttBrokerUrl] = flags.broker;
    target.broker = flags.broker;
  }

  if (flags.gatewayUrl !== undefined) {
    if (!suites.includes('gateway')) throw new Error('--gateway-url goes with --suite gateway');
    if (flags.policy === undefined)
      throw new Error('--gateway-url needs --policy FILE (the policy it enforces)');
    external.push('gateway');
    env[CONTRACT_ENV.gatewayUrl] = flags.gatewayUrl;
    env[CONTRACT_ENV.gatewayTransport] = flags.transport;
    const policy = resolve(cwd, flags.policy);
    env[CONTRACT_ENV.gatewayPolicy] = policy;
    target.gatewayUrl = flags.gatewayUrl;
    target.policy = policy;
    if (flags.token !== undefined) env[CONTRACT_ENV.gatewayToken] = flags.token;
    if (flags.upstream !== undefined) {
      env[CONTRACT_ENV.upstreamUrl] = flags.upstream;
      target.upstream = flags.upstream;
    }
    if (flags.upstreamToken !== undefined) env[CONTRACT_ENV.upstreamToken] = flags.upstreamToken;
    if (flags.maxWindow !== undefined) {
      env[CONTRACT_ENV.gatewayMaxWindow] = flags.maxWindow;
      target.maxWindow = `${flags.maxWindow} s`;
    }
    if (flags.upstreamCommand !== undefined) {
      if (flags.upstream === undefined) {
        throw new Error('--upstream-command needs --upstream URL (where the command serves MCP)');
      }
      env[CONTRACT_ENV.upstreamCommand] = flags.upstreamCommand;
      target.upstreamCommand = flags.upstreamCommand;
    }
  } else {
    for (const [flag, value] of [
      ['--token', flags.token],
      ['--policy', flags.policy],
      ['--upstream', flags.upstream],
      ['--upstream-command', flags.upstreamCommand],
      ['--max-window', flags.maxWindow],
    ] as const) {
      if (value !== undefined) throw new Error(`${flag} goes with --suite gateway --gateway-url URL`);
    }
  }

  // A suite pointed at someone else's target runs its contract file only; the others run as usual.
  const files = new Set<string>();
  const own = suites.filter((s) => !external.includes(s));
  for (const file of suiteFiles(own, testTargets.testDir)) files.add(file);
  for (const suite of external) {
    const file = testTargets.externalFile(suite);
    if (file !== undefined) files.add(file);
  }
  if (Object.keys(target).length === 0) target.environment = "the harness's own";
  return { suites, files: [...files].sort(), env, target };
}

export function testCommand(ctx: CliContext): Command {
  return new Command('test')
    .description('run the conformance suites, on our own environment or against your server or gateway')
    .option(
      '--suite <names>',
      `comma-separated: ${Object.values(SUITES)
        .map((s) => s.name)
        .join(', ')}`,
      'all',
    )
    .option('--tiers <list>', `real-service tiers to run (${TIERS.join(',')})`, tierList)
    .option('--require-tiers <list>', 'tiers whose absence fails the run instead of skipping', tierList)
    .option('--report <dir>', 'write junit.xml and report.json there')
    .option('--grep <pattern>', 'only tests whose name matches this regular expression')
    .option('--server-url <url>', 'mqtt/conformance: the MCP server under test (Streamable HTTP or SSE)', url)
    .addOption(
      new Option('--transport <kind>', 'how to reach --server-url / --gateway-url')
        .choices(['auto', 'streamable', 'sse'])
        .default('auto'),
    )
    .option('--server-token <token>', 'mqtt: bearer token for --server-url')
    .option(
      '--broker <url>',
      'mqtt: the broker the server under test should reach (default: started here)',
      brokerUrl,
    )
    .addOption(
      new Option('--set <revision>', 'conformance: run only this requirement set (default: both)').choices([
        ...REQUIREMENT_SETS,
      ]),
    )
    .option('--baseline <file>', "conformance: expected failures for --set (the suite's YAML format)")
    .option('--gateway-url <url>', "gateway: the gateway's MCP endpoint for one upstream", url)
    .option('--token <token>', 'gateway: the grant token the checks use')
    .option('--policy <file>', 'gateway: the policy the gateway claims to enforce (JSON)')
    .option(
      '--upstream <url>',
      'gateway: the upstream MCP server it fronts, listed directly for comparison',
      url,
    )
    .option('--upstream-token <token>', 'gateway: bearer token for --upstream')
    .option(
      '--upstream-command <command>',
      'gateway: start the upstream (serving at --upstream) here, so its restart can be checked',
    )
    .option(
      '--max-window <seconds>',
      'gateway: the longest limit window watched from start to end (default 60; longer ones are skipped)',
      seconds,
    )
    .action(async (flags: TestFlags) => {
      let plan: TestPlan;
      try {
        plan = planTestRun(flags, ctx.cwd);
      } catch (err) {
        ctx.stderr.write(`bastion test: ${(err as Error).message}\n`);
        ctx.setExitCode(2);
        return;
      }
      const { report } = await runSuites({
        suites: plan.suites,
        requirementPrefixes: suitePrefixes(plan.suites),
        files: plan.files,
        harnessRoot: HARNESS_ROOT,
        env: plan.env,
        target: plan.target,
        ...(flags.report === undefined ? {} : { reportDir: resolve(ctx.cwd, flags.report) }),
        ...(flags.grep === undefined ? {} : { testNamePattern: flags.grep }),
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        signal: ctx.signal,
      });
      // 130, as for any command stopped by Ctrl-C; the report says what ran before.
      ctx.setExitCode(ctx.signal.aborted ? 130 : report.exitCode);
    });
}
