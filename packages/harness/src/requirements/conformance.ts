import { ERAS, type Requirement } from './types.js';

const issue = 'issue #9 item 6 (the official MCP conformance suite, both requirement sets)';
const suite = '@modelcontextprotocol/conformance (0.1.16 for 2025-11-25, 0.2.0-alpha.12 for 2026-07-28)';

export const conformanceRequirements: Requirement[] = [
  {
    id: 'conformance.fixture.set',
    statement:
      "the harness's conformance fixture server passes the official requirement set, but for what its baseline lists with the reason",
    source: `${issue}; ${suite}`,
    eras: ERAS,
  },
  {
    id: 'conformance.mqtt.set',
    statement:
      'bastion-mqtt over HTTP fails no scenario (or check) of the official requirement set that its baseline does not list with the reason',
    source: issue,
    eras: ERAS,
  },
  {
    id: 'conformance.ssh.set',
    statement:
      'bastion-ssh over HTTP fails no scenario (or check) of the official requirement set that its baseline does not list with the reason',
    source: issue,
    eras: ERAS,
  },
  {
    id: 'conformance.run.complete',
    statement: 'a run of a requirement set runs every scenario the set requires, and scores only those',
    source: `${suite}: requirements/<revision>.yaml`,
    eras: ERAS,
  },
  {
    id: 'conformance.baseline.unexpected',
    statement: "a failure the baseline does not list fails the run, in the harness's judgement and the CLI's",
    source: `${suite}: --expected-failures`,
    eras: ERAS,
  },
  {
    id: 'conformance.baseline.stale',
    statement: "a baseline entry that passes fails the run (stale), in the harness's judgement and the CLI's",
    source: `${suite}: --expected-failures`,
    eras: ERAS,
  },
  {
    id: 'conformance.baseline.reasons',
    statement: 'every entry of a checked-in baseline says why it is expected to fail',
    source: issue,
  },
];
