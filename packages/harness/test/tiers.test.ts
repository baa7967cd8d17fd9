import { describe, expect, it } from 'vitest';
import { tierSelection } from '../src/testing/tiers.js';

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
