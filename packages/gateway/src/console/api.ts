/**
 * The console's JSON API, under `/console/api/`, for scripts and chat-ops: everything the pages do,
 * with `Authorization: Bearer <admin token>` (never a grant token, never the page cookie, so a
 * page's CSRF protection has nothing to defend here).
 *
 *   GET  /console/api/status
 *   GET  /console/api/approvals                     { approvals: [{ id, status, grant, server, tool, arguments, rule, expiresAt, … }] }
 *   GET  /console/api/approvals/{id}
 *   POST /console/api/approvals/{id}                { decision: "approve" | "deny", reason? }
 *   GET  /console/api/pins                          { changes: [{ server, tool, kind, diff, … }] }
 *   POST /console/api/pins/accept                   { server, tool }
 *   GET  /console/api/grants                        { grants: [...] }
 *   POST /console/api/grants                        { label, servers }  -> { token, grant } (the token once)
 *   POST /console/api/grants/{label}/revoke
 *   GET  /console/api/counters                      { counters: [...] }
 *   GET  /console/api/decisions?after=N             { decisions: [{ seq, entry }] }
 */
import type { IncomingMessage } from 'node:http';
import type { Handler, Router } from './http.js';
import { jsonBody, sendApiJson } from './http.js';
import type { ConsoleService, Outcome } from './service.js';

function answer<T>(res: Parameters<Handler>[1], outcome: Outcome<T>, key?: string) {
  if (outcome.ok) sendApiJson(res, 200, key === undefined ? outcome.value : { [key]: outcome.value });
  else sendApiJson(res, outcome.status, { error: outcome.error });
}

/** `by(req)`: who made the request, for the audit rows (the admin its bearer token belongs to). */
export function apiRoutes(
  router: Router,
  service: ConsoleService,
  by: (req: IncomingMessage) => string,
): void {
  router
    .on('GET', '/console/api/status', async (_req, res) => sendApiJson(res, 200, await service.status()))
    .on('GET', '/console/api/approvals', async (_req, res) =>
      sendApiJson(res, 200, { approvals: await service.approvals() }),
    )
    .on('GET', '/console/api/approvals/:id', async (_req, res, { id = '' }) => {
      const approval = await service.approval(id);
      if (approval === undefined) sendApiJson(res, 404, { error: `no approval ${id}` });
      else sendApiJson(res, 200, { approval });
    })
    .on('POST', '/console/api/approvals/:id', async (req, res, { id = '' }) => {
      const body = await jsonBody(req);
      answer(res, await service.decide(id, body.decision, body.reason, by(req)), 'approval');
    })
    .on('GET', '/console/api/pins', async (_req, res) =>
      sendApiJson(res, 200, { changes: await service.pinChanges() }),
    )
    .on('POST', '/console/api/pins/accept', async (req, res) => {
      const body = await jsonBody(req);
      answer(res, await service.acceptPin(body.server, body.tool, by(req)), 'pin');
    })
    .on('GET', '/console/api/grants', async (_req, res) =>
      sendApiJson(res, 200, { grants: service.grants() }),
    )
    .on('POST', '/console/api/grants', async (req, res) => {
      const body = await jsonBody(req);
      answer(res, await service.createGrant(body.label, body.servers, by(req)));
    })
    .on('POST', '/console/api/grants/:label/revoke', async (req, res, { label = '' }) =>
      answer(res, await service.revokeGrant(label, by(req)), 'grant'),
    )
    .on('GET', '/console/api/counters', async (_req, res) =>
      sendApiJson(res, 200, { counters: await service.counters() }),
    )
    .on('GET', '/console/api/decisions', async (_req, res, _params, url) => {
      const after = Number(url.searchParams.get('after') ?? 0);
      sendApiJson(res, 200, { decisions: service.decisions(Number.isFinite(after) ? after : 0) });
    });
}
