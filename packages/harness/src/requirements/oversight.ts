import type { Requirement } from './types.js';

const issue = 'issue #12 (approvals and tool pinning, with a console)';
const better = 'POLICY.md, where users of such gateways are let down';

/** Approvals, tool pinning and the console (issue 12). */
export const oversightRequirements: Requirement[] = [
  {
    id: 'gateway.approval.retry',
    statement:
      'an agent without elicitation gets a tool error starting [APPROVAL REQUIRED] that names the rule and the console URL, and the same call retried succeeds once approved (v1 and v2 clients, both eras)',
    source: issue,
    eras: ['2025-11-25', '2026-07-28'],
  },
  {
    id: 'gateway.approval.input-required',
    statement:
      'a 2026-07-28 agent that declares elicitation gets an input_required result carrying an elicitation (URL mode to the console, or a form when its user may decide), and its retry completes once approved',
    source: issue,
  },
  {
    id: 'gateway.approval.elicitation',
    statement:
      'a 2025-era agent that declares elicitation is sent elicitation/create within the call (form mode to approve or deny, URL mode with a console link), and the call completes once approved (v1 and v2 clients)',
    source: issue,
  },
  {
    id: 'gateway.approval.bound',
    statement:
      'an approval is bound to grant, server, tool, canonical argument hash and policy version: presented with other arguments or by another grant it is denied',
    source: better,
  },
  {
    id: 'gateway.approval.single-use',
    statement: 'an approval lets exactly one call through; the same call made again needs a new one',
    source: better,
  },
  {
    id: 'gateway.approval.expiry',
    statement: 'an approval nobody decided on in time expires: the call is denied (on_timeout "deny")',
    source: issue,
  },
  {
    id: 'gateway.approval.deny',
    statement: 'a denied approval denies the call, with who denied it and why',
    source: issue,
  },
  {
    id: 'gateway.approval.quota',
    statement:
      'rate limits are reserved when a call is admitted for approval, kept once it ran, and rolled back on a denial or a timeout',
    source: issue,
  },
  {
    id: 'gateway.approval.condition',
    statement: 'require_approval_if asks for approval only when one of its conditions holds (as deny_if)',
    source: issue,
  },
  {
    id: 'gateway.approval.webhook',
    statement:
      'each new pending approval is POSTed to the configured webhook as JSON with an HMAC-SHA256 signature',
    source: issue,
  },
  {
    id: 'gateway.approval.audit',
    statement: 'every approval or pin decision is an audit row naming who decided',
    source: issue,
  },
  {
    id: 'gateway.pins.withheld',
    statement:
      'tool definitions are pinned on first sight; a changed definition or a new tool (a rename included) is left out of tools/list and its calls denied with TOOL_CHANGED',
    source: issue,
  },
  {
    id: 'gateway.pins.accept',
    statement:
      'a withheld tool comes back once accepted, in the console (which shows the diff) or with bastion-gateway pin --accept',
    source: issue,
  },
  {
    id: 'gateway.pins.persist',
    statement:
      'pins survive a restart (the lock file written by bastion-gateway pin and kept by the gateway)',
    source: issue,
  },
  {
    id: 'gateway.pins.replicas',
    statement:
      'pins are shared by replicas (through the state store): a changed tool is withheld by every replica, and accepted through one it comes back on the others',
    source: issue,
  },
  {
    id: 'gateway.approval.replicas',
    statement:
      'an approval is shared by replicas (through the state store): a call held by one replica is listed and decided through another, and the same call retried on another replica goes through once, as on the first',
    source: issue,
  },
  {
    id: 'gateway.console.auth',
    statement:
      'the console and its API take the admin token only (never a grant token); the pages use a cookie session with CSRF tokens, behind the same Host/Origin checks as the MCP endpoints',
    source: issue,
  },
  {
    id: 'gateway.console.admins',
    statement:
      'several admins ("admin": { "accounts" }) each sign in to the console and its API with a token of their own, and each decision names the admin who made it',
    source: issue,
  },
  {
    id: 'gateway.console.api',
    statement:
      'GET /console/api/approvals lists approvals (id, status, grant, server, tool, redacted arguments, rule, expiresAt) and POST /console/api/approvals/{id} decides one',
    source: issue,
  },
  {
    id: 'gateway.console.grants',
    statement: 'grants are created in the console (the token shown once) and revoked, taking effect at once',
    source: issue,
  },
  {
    id: 'gateway.console.counters',
    statement: "the console shows each grant's current rate-limit counters",
    source: issue,
  },
  {
    id: 'gateway.console.landing',
    statement: 'the landing page at / shows status and links to the console, and no secret, to anyone',
    source: issue,
  },
  {
    id: 'gateway.console.browser-approve',
    statement:
      "in a real browser: an agent's call waits, Approve is clicked in the console, and the call completes",
    source: issue,
  },
  {
    id: 'gateway.console.browser-deny',
    statement: 'in a real browser: Deny with a reason, and the agent is denied with it',
    source: issue,
  },
  {
    id: 'gateway.console.browser-expiry',
    statement: 'in a real browser: an approval nobody decides on expires, and the console shows it expired',
    source: issue,
  },
  {
    id: 'gateway.console.browser-replay',
    statement:
      'in a real browser: an approval given in the console, replayed with changed arguments, is denied',
    source: issue,
  },
  {
    id: 'gateway.console.browser-pins',
    statement:
      "in a real browser: an upstream changes a tool's description, the tool disappears for the agent, the console shows the diff, and Accept brings it back",
    source: issue,
  },
  {
    id: 'gateway.console.browser-landing',
    statement: 'in a real browser: the landing page without a token shows status and no secret',
    source: issue,
  },
  {
    id: 'sandbox.console',
    statement:
      'pnpm start prints the console URL and its admin token, and its policy has a tool that needs approval (uploadFile), so a new user sees the whole loop',
    source: issue,
  },
];
