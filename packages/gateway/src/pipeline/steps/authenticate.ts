/**
 * Step 1: the call must come from someone. HTTP sessions are authenticated by the host before the
 * session exists and stdio sessions belong to the local operator, so this is a second lock that holds
 * if a transport is ever wired without the first.
 */
import type { CallStep } from '../context.js';
import { deny } from '../denial.js';

export const authenticateStep: CallStep = {
  name: 'authenticate',
  run: async (ctx, next) => {
    if (ctx.principal === undefined) {
      return deny(ctx, { rule: '(unauthenticated)', reason: 'no valid grant token was presented' });
    }
    return next();
  },
};
