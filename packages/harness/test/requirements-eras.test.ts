/**
 * Requirements verified per protocol era: a test cites one (id, era) pair in the form
 * `verifies(id, { era })`, which the coverage test reads back from the source; `verifies(id)` is
 * unchanged for every other requirement.
 */
import { describe, expect, it } from 'vitest';
import { readCitation } from '../src/requirements/citations.js';
import { ERAS, REQUIREMENTS, requirement, verifies } from '../src/requirements/index.js';

describe('requirements verified per era', () => {
  it('are cited with their era, which the title names', () => {
    expect(verifies('conformance.mqtt.set', { era: '2026-07-28' })).toBe(
      `[conformance.mqtt.set] (2026-07-28) ${requirement('conformance.mqtt.set').statement}`,
    );
  });

  it('cannot be cited without an era, nor a requirement without eras with one', () => {
    expect(() => verifies('conformance.mqtt.set')).toThrow(
      "'conformance.mqtt.set' is verified per era: cite it as verifies('conformance.mqtt.set', { era })",
    );
    expect(() => verifies('conformance.baseline.reasons', { era: '2025-11-25' })).toThrow(
      "'conformance.baseline.reasons' is not verified per era '2025-11-25'",
    );
    expect(() => verifies('conformance.mqtt.set', { era: '2024-11-05' as never })).toThrow(
      "is not verified per era '2024-11-05'",
    );
  });

  it('leave verifies(id) as it was for a requirement without eras', () => {
    expect(verifies('http.auth.bearer')).toBe(
      `[http.auth.bearer] ${requirement('http.auth.bearer').statement}`,
    );
    expect(verifies('http.auth.bearer', 'http.body.limit')).toMatch(
      /^\[http\.auth\.bearer, http\.body\.limit\] /,
    );
  });

  it('name only known eras', () => {
    for (const r of REQUIREMENTS) for (const era of r.eras ?? []) expect(ERAS, r.id).toContain(era);
  });

  it('are read back from a test source with their era, which is not taken for an id', () => {
    expect(readCitation("'conformance.mqtt.set', { era: '2026-07-28' }")).toEqual({
      ids: ['conformance.mqtt.set'],
      era: '2026-07-28',
    });
    expect(readCitation("'http.auth.bearer', 'http.body.limit'")).toEqual({
      ids: ['http.auth.bearer', 'http.body.limit'],
    });
  });
});
