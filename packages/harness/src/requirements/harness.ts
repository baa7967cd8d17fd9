import type { Requirement } from './types.js';

/** What the harness promises about itself: that its checks catch what they claim to. */
export const harnessRequirements: Requirement[] = [
  {
    id: 'harness.mutants.caught',
    statement:
      'fails every deliberately broken gateway (a proxy with one fault in front of the real bastion-gateway) with the check meant for that fault',
    source: 'issue 14, item 16 (mutation tests)',
  },
  {
    id: 'harness.mutants.control',
    statement: 'passes the same proxy without a fault on every gateway check, skipping none',
    source: 'issue 14, item 16 (mutation tests)',
  },
  {
    id: 'harness.requirements.one-per-test',
    statement:
      'has each test verify one requirement, so each passes or fails on its own evidence; the allow-list names every exception and why',
    source: 'issue 14, item 15 (one test per requirement)',
  },
];
