/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went: self time per function
 * and per package, the figures needed to decide what to make faster.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  selfPercent: number;
}

export interface ProfileSummary {
  file: string;
  /** Sampled time, ms (idle excluded from the percentages). */
  totalMs: number;
  idleMs: number;
  functions: ProfileEntry[];
  packages: ProfileEntry[];
  /**
   * Self time charged to the nearest frame outside Node core (the file whose call made Node do
   * the work: a fetch, a web stream, a socket write), which says more than Node core's own share.
   */
  owners: ProfileEntry[];
}

/** `node_modules/.pnpm/zod@4.1.0/node_modules/zod/...` -> `zod`; workspace sources -> `gateway/src/...`. */
export function packageOf(url: string): string {
  if (url === '') return '(native/V8)';
  if (url.startsWith('node:')) return 'node core';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const pkg = /\/packages\/([^/]+)\/src\//.exec(url);
  if (pkg) return `@bastion/${pkg[1]}`;
  return url;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const pkg = url.indexOf('/packages/');
  return pkg >= 0 ? url.slice(pkg + 1) : url.replace(/^file:\/\//, '');
}

export function summarizeProfile(profile: CpuProfile, file: string, top = 25): ProfileSummary {
  const self = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    // Each sample's time is the delta to the next sample.
    const us = deltas[i + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + us);
  }
  let idleUs = 0;
  let totalUs = 0;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const ownerOf = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
      const url = byId.get(cur)?.callFrame.url ?? '';
      if (url !== '' && !url.startsWith('node:')) return shortUrl(url);
    }
    const frame = byId.get(id)?.callFrame;
    return `(Node core, from the event loop) ${frame?.url.startsWith('node:') ? frame.url : (frame?.functionName ?? '')}`;
  };
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)') {
      if (functionName === '(idle)') idleUs += us;
      const key = functionName;
      byFunction.set(key, (byFunction.get(key) ?? 0) + us);
      if (functionName !== '(idle)') byPackage.set(functionName, (byPackage.get(functionName) ?? 0) + us);
      continue;
    }
    const owner = ownerOf(node.id);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const pkg = packageOf(url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const entries = (map: Map<string, number>) =>
    [...map.entries()]
      .filter(([name]) => name !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        selfMs: Math.round(us / 100) / 10,
        selfPercent: Math.round((us / busyUs) * 1000) / 10,
      }));
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    functions: entries(byFunction),
    packages: entries(byPackage),
    owners: entries(byOwner),
  };
}

export async function summarizeProfileFile(file: string, top = 25): Promise<ProfileSummary> {
  return summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, file, top);
}

export function renderProfileMarkdown(summary: ProfileSummary): string {
  const lines = [
    `#### CPU profile ${summary.file}`,
    '',
    `${summary.totalMs} ms sampled, ${summary.idleMs} ms idle; percentages are of the busy time.`,
    '',
    '| package | self ms | self % |',
    '| --- | ---: | ---: |',
    ...summary.packages.slice(0, 12).map((e) => `| ${e.name} | ${e.selfMs} | ${e.selfPercent} |`),
    '',
    '| charged to (nearest caller outside Node core) | self ms | self % |',
    '| --- | ---: | ---: |',
    ...summary.owners.slice(0, 15).map((e) => `| ${e.name} | ${e.selfMs} | ${e.selfPercent} |`),
    '',
    '| function | self ms | self % |',
    '| --- | ---: | ---: |',
    ...summary.functions.map((e) => `| \`${e.name}\` | ${e.selfMs} | ${e.selfPercent} |`),
    '',
  ];
  return lines.join('\n');
}
