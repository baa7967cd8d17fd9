import type { Requirement } from './types.js';

export const sshRequirements: Requirement[] = [];
