import { describe, expect, it } from 'vitest';
import { lacksFrom, needsDecision, type TargetProvider, tierSelection } from '../src/testing/tiers.js';

describe('tier selection', () => {
  it('selects every tier and requires none by default', () => {
    const s = tierSelection({});
    expect([...s.selected]).toEqual(['embedded', 'process', 'container', 'browser', 'external']);
    expect(s.required.size).toBe(0);
  });

  it('always selects a required tier, even when BASTION_TIERS leaves it out', () => {
    const s = tierSelection({ BASTION_TIERS: 'embedded', BASTION_REQUIRE_TIERS: 'process' });
    expect([...s.selected].sort()).toEqual(['embedded', 'process']);
    expect([...s.required]).toEqual(['process']);
  });

  it('refuses an unknown tier name instead of ignoring it', () => {
    expect(() => tierSelection({ BASTION_TIERS: 'embeded' })).toThrow(/unknown tier 'embeded'/);
  });
});

describe('a test that needs more than the basics (itWith)', () => {
  type Need = 'newEnough' | 'impossible';
  const provider: TargetProvider<{ stop(): Promise<void> }, Need> = {
    kind: 'thing',
    tier: 'container',
    availability: () => ({ available: true }),
    start: async () => ({ stop: async () => {} }),
    lacks: lacksFrom('thing', { newEnough: false, impossible: false }, { newEnough: 'the image is old' }),
    mustHaveWhenRequired: (need) => need === 'newEnough',
  };
  const optional = tierSelection({});
  const required = tierSelection({ BASTION_REQUIRE_TIERS: 'container' });

  it('skips with the reason where the tier is not required', () => {
    expect(needsDecision(provider, ['newEnough'], optional)).toEqual({
      outcome: 'skip',
      reason: 'the image is old',
    });
  });

  it('fails with the reason where a required tier lacks what its setup must provide', () => {
    expect(needsDecision(provider, ['newEnough'], required)).toEqual({
      outcome: 'fail',
      reason: 'the image is old',
    });
    expect(needsDecision(provider, ['impossible', 'newEnough'], required)).toMatchObject({ outcome: 'fail' });
  });

  it('still skips, even when required, what the kind of target can never do', () => {
    expect(needsDecision(provider, ['impossible'], required)).toEqual({
      outcome: 'skip',
      reason: 'thing has no impossible',
    });
    expect(needsDecision({ ...provider, lacks: () => undefined }, ['newEnough'], required)).toEqual({
      outcome: 'run',
    });
  });
});
