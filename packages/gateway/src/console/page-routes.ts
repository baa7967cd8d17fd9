/**
 * The console's pages as routes: each GET renders from ConsoleService, each POST acts through it and
 * redirects (303) to a page that shows the outcome, so a reload never repeats an action (a new
 * grant's token is the one answer that is not a redirect: it is shown once).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConsoleAuth, ConsoleSession } from './auth.js';
import { html } from './html.js';
import { type Router, redirect, sendHtml } from './http.js';
import { page } from './layout.js';
import {
  approvalPage,
  approvalsPage,
  countersPage,
  decisionsPage,
  feedRows,
  grantsPage,
  pendingFragment,
  pinsPage,
} from './pages.js';
import type { ConsoleService } from './service.js';

/** What an action did, by a fixed code in the redirect's query (never text from the URL itself). */
export const NOTICES: Readonly<Record<string, { kind: 'ok' | 'error'; text: string }>> = {
  approved: { kind: 'ok', text: 'Approved: the call goes on.' },
  denied: { kind: 'ok', text: 'Denied: the agent is told.' },
  accepted: { kind: 'ok', text: 'Accepted: the tool is back for the agents.' },
  revoked: { kind: 'ok', text: 'Revoked: the grant is refused from now on.' },
  gone: { kind: 'error', text: 'That was already decided, has expired, or does not exist.' },
  invalid: { kind: 'error', text: 'That request was not understood.' },
  'bad-token': { kind: 'error', text: 'That is not the admin token.' },
};

export type Form = Record<string, string | string[]>;

type PageHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
  url: URL,
  session: ConsoleSession,
) => Promise<void>;

/** What the gate in front of the pages established for a request: its session, and a POST's form. */
export const signedIn = new WeakMap<IncomingMessage, { session: ConsoleSession; form: Form }>();
const formOf = (req: IncomingMessage): Form => signedIn.get(req)?.form ?? {};

export interface PageRouteOptions {
  service: ConsoleService;
  auth: ConsoleAuth;
  servers: ReadonlyArray<string>;
}

/** What an action's redirect says, from its fixed code. */
export const noticeOf = (url: URL) => NOTICES[url.searchParams.get('notice') ?? ''];

export function pageRoutes(pages: Router, o: PageRouteOptions): void {
  const { service, auth } = o;
  // Who decided, in the audit rows: the admin the session belongs to.
  const by = (session: ConsoleSession) => `${session.admin} (console)`;
  const notice = noticeOf;
  // Pages: each GET renders from the service; each POST acts through it and redirects (303).
  const pageRoute = (method: string, path: string, handler: PageHandler) =>
    pages.on(method, path, async (req, res, params, url) => {
      const state = signedIn.get(req);
      if (state !== undefined) await handler(req, res, params, url, state.session);
    });
  const csrf = (session: ConsoleSession) => auth.csrfToken(session);
  // What the page frame needs of the session: its forms' CSRF token, and who is signed in.
  const signed = (session: ConsoleSession) => ({ csrf: csrf(session), admin: session.admin });
  pageRoute('GET', '/console', async (_req, res, _p, url, session) =>
    sendHtml(
      res,
      200,
      approvalsPage(await service.approvals(), {
        title: 'Approvals',
        section: 'approvals',
        ...signed(session),
        notice: notice(url),
      }),
    ),
  );
  pageRoute('GET', '/console/fragments/pending', async (_req, res, _p, _url, session) =>
    sendHtml(res, 200, pendingFragment(await service.approvals(), csrf(session))),
  );
  pageRoute('GET', '/console/approvals/:id', async (_req, res, { id = '' }, url, session) => {
    const approval = await service.approval(id);
    if (approval === undefined)
      return sendHtml(
        res,
        404,
        page(
          { title: 'No such approval', section: 'approvals', ...signed(session) },
          html`<p>No approval ${id} is on record (finished ones are kept for an hour).</p>`,
        ),
      );
    sendHtml(
      res,
      200,
      approvalPage(approval, {
        title: `Approval for ${approval.tool}`,
        section: 'approvals',
        ...signed(session),
        notice: notice(url),
      }),
    );
  });
  pageRoute('POST', '/console/approvals/:id', async (req, res, { id = '' }, _url, session) => {
    const form = formOf(req);
    const reason = form.reason === '' ? undefined : form.reason;
    const outcome = await service.decide(id, form.decision, reason, by(session));
    const code = outcome.ok
      ? form.decision === 'approve'
        ? 'approved'
        : 'denied'
      : outcome.status === 400
        ? 'invalid'
        : 'gone';
    redirect(res, `/console/approvals/${encodeURIComponent(id)}?notice=${code}`);
  });
  pageRoute('GET', '/console/decisions', async (_req, res, _p, _url, session) =>
    sendHtml(
      res,
      200,
      decisionsPage(service.decisions(), { title: 'Decisions', section: 'decisions', ...signed(session) }),
    ),
  );
  pageRoute('GET', '/console/fragments/decisions', async (_req, res) =>
    sendHtml(res, 200, feedRows(service.decisions())),
  );
  pageRoute('GET', '/console/pins', async (_req, res, _p, url, session) =>
    sendHtml(
      res,
      200,
      pinsPage(await service.pinChanges(), {
        title: 'Tool pins',
        section: 'pins',
        ...signed(session),
        notice: notice(url),
      }),
    ),
  );
  pageRoute('POST', '/console/pins/accept', async (req, res, _p, _url, session) => {
    const form = formOf(req);
    const outcome = await service.acceptPin(form.server, form.tool, by(session));
    redirect(
      res,
      `/console/pins?notice=${outcome.ok ? 'accepted' : outcome.status === 400 ? 'invalid' : 'gone'}`,
    );
  });
  const grants = (
    session: ConsoleSession,
    extra: { notice?: (typeof NOTICES)[string]; created?: { label: string; token: string } } = {},
  ) =>
    grantsPage(service.grants(), o.servers, {
      title: 'Grants',
      section: 'grants',
      ...signed(session),
      ...extra,
    });
  pageRoute('GET', '/console/grants', async (_req, res, _p, url, session) =>
    sendHtml(res, 200, grants(session, { notice: notice(url) })),
  );
  pageRoute('POST', '/console/grants', async (req, res, _p, _url, session) => {
    const form = formOf(req);
    const outcome = await service.createGrant(form.label, form.servers ?? [], by(session));
    // The token is shown in this answer and never again, so it is not a redirect.
    if (outcome.ok)
      sendHtml(
        res,
        200,
        grants(session, { created: { label: outcome.value.grant.label, token: outcome.value.token } }),
      );
    else sendHtml(res, outcome.status, grants(session, { notice: { kind: 'error', text: outcome.error } }));
  });
  pageRoute('POST', '/console/grants/:label/revoke', async (_req, res, { label = '' }, _url, session) => {
    const outcome = await service.revokeGrant(label, by(session));
    redirect(res, `/console/grants?notice=${outcome.ok ? 'revoked' : 'gone'}`);
  });
  pageRoute('GET', '/console/counters', async (_req, res, _p, _url, session) =>
    sendHtml(
      res,
      200,
      countersPage(await service.counters(), { title: 'Counters', section: 'counters', ...signed(session) }),
    ),
  );
}
