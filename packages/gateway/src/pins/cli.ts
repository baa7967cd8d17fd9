/**
 * `bastion-gateway pin --config F [--accept] [--server NAME] [--tool NAME]`: reaches every upstream
 * once (as the gateway does at start), pins the tools of servers not pinned yet, and writes the lock
 * file the config names. A tool whose definition changed, or a new one, is listed with its diff and
 * left withheld (exit status 1), unless `--accept` accepts it (only those of `--server`/`--tool`,
 * when given). A gateway running with the same lock file picks the change up at once.
 *
 * It never opens the audit log (a running gateway writes it; two writers would break its chain):
 * the running gateway records what it takes from the lock file, and who accepted it.
 */
import { userInfo } from 'node:os';
import { pino } from 'pino';
import { loadConfigFile } from '../config.js';
import { createGateway } from '../gateway.js';
import { definitionDiff, type PinnedDefinition } from './definition.js';

export interface PinFlags {
  config: string;
  accept?: boolean;
  server?: string[];
  tool?: string[];
}

export async function runPin(flags: PinFlags, out: (text: string) => void): Promise<number> {
  const config = await loadConfigFile(flags.config, process.env);
  if (config.pinsPath === undefined) {
    out(`${flags.config} names no pins file: add "pins": { "file": "pins.json" } to it first.\n`);
    return 2;
  }
  const unknown = flags.server?.find((s) => !config.servers.has(s));
  if (unknown !== undefined) {
    out(`no server named '${unknown}' in ${flags.config}\n`);
    return 2;
  }
  const gateway = await createGateway({
    config: { ...config, audit: undefined },
    logger: pino({ level: 'silent' }),
    watchPolicies: false,
  });
  try {
    const only = flags.server;
    const checks = await gateway.checkUpstreams(only);
    let failed = false;
    for (const check of checks) {
      if (check.error === undefined) continue;
      out(`server '${check.server}': not reachable: ${check.error}\n`);
      failed = true;
    }
    const pins = gateway.oversight.pins;
    const chosen = (await pins.pending()).filter(
      (p) =>
        (only === undefined || only.includes(p.server)) &&
        (flags.tool === undefined || flags.tool.includes(p.tool)),
    );
    const by = `${userInfo().username} (bastion-gateway pin --accept)`;
    for (const change of chosen) {
      const what = change.kind === 'new' ? 'new tool' : 'changed definition';
      const renamed = change.renamedFrom === undefined ? '' : ` (a rename of '${change.renamedFrom}')`;
      out(`server '${change.server}', tool '${change.tool}': ${what}${renamed}\n`);
      out(
        definitionDiff(
          change.pinned?.definition as PinnedDefinition | undefined,
          change.definition as PinnedDefinition,
        ),
      );
      if (flags.accept) {
        await pins.accept(change.server, change.tool, by);
        out('  accepted\n\n');
      } else out('  withheld: run again with --accept to accept it\n\n');
    }
    const all = await pins.all();
    const counted = Object.entries(all)
      .filter(([server]) => only === undefined || only.includes(server))
      .map(
        ([server, set]) => `${server}: ${Object.keys(set.tools).length} tool(s), revision ${set.revision}`,
      );
    out(`${config.pinsPath}\n${counted.map((c) => `  ${c}\n`).join('')}`);
    return failed || (!flags.accept && chosen.length > 0) ? 1 : 0;
  } finally {
    await gateway.close();
  }
}
