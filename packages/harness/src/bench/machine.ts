/** What the figures were measured on; every result file carries it. */
import { cpus, freemem, loadavg, type as osType, release, totalmem } from 'node:os';

export interface MachineDescription {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  freeMemoryBytes: number;
  /** 1, 5 and 15 minute load averages when the run started: a busy machine gives noisy figures. */
  loadAverage: number[];
  node: string;
  os: string;
  platform: string;
  arch: string;
}

export function describeMachine(): MachineDescription {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    os: `${osType()} ${release()}`,
    platform: process.platform,
    arch: process.arch,
  };
}

/** One line for tables and logs, e.g. `Intel Xeon (2 cores), 24.0 GiB, Linux 6.1, Node v20.20.2`. */
export function machineLine(machine: MachineDescription): string {
  const gib = (machine.memoryBytes / 1024 ** 3).toFixed(1);
  return `${machine.cpuModel} (${machine.cores} cores), ${gib} GiB RAM, ${machine.os}, Node ${machine.node}`;
}
