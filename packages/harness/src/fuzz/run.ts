/**
 * One bounded, seeded fuzz run against one endpoint: fast-check draws batches of requests
 * (requests.ts) and the property sends each batch at once (send.ts) and holds when nothing in it was
 * answered with a 5xx, dropped, or refused for want of a process. The first batch that breaks it ends
 * the run (no shrinking: a server that fell over answers nothing useful afterwards), and fast-check's
 * report names the seed and path that replay it.
 */
import fc from 'fast-check';
import { type EndpointKind, type FuzzRequest, fuzzRequests, type RequestContext } from './requests.js';
import { type Endpoint, type Outcome, problemWith, send } from './send.js';

export interface FuzzRunOptions {
  seed: number;
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** How long a request may wait for its answer's head. */
  timeoutMs: number;
}

export interface EndpointReport {
  endpoint: EndpointKind;
  sent: number;
  /** Outcome -> count: `200`, `404`, `dropped (oversized)`, `timeout`, ... */
  outcomes: Record<string, number>;
  /** fast-check's report of the first failing batch (seed, path, counterexample), if one failed. */
  failure: string | undefined;
}

function label(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'answered':
      return String(outcome.status);
    case 'dropped':
      return outcome.large ? 'hung up on a large body' : `dropped (${outcome.code})`;
    default:
      return outcome.kind;
  }
}

/** A failing request in a line: the bodies are descriptions, not megabytes. */
function describe(req: FuzzRequest, problem: string): string {
  const body = JSON.stringify(req.body).slice(0, 300);
  return `${req.method} +${JSON.stringify(req.suffix)} session=${req.session} headers=${JSON.stringify(req.headers).slice(0, 300)} body=${body}: ${problem}`;
}

export async function fuzzEndpoint(
  kind: EndpointKind,
  endpoint: Endpoint,
  context: RequestContext,
  options: FuzzRunOptions,
): Promise<EndpointReport> {
  const report: EndpointReport = { endpoint: kind, sent: 0, outcomes: {}, failure: undefined };
  let firstProblems: string[] | undefined;
  const batch = fc.array(fuzzRequests(kind, context), {
    minLength: options.concurrency,
    maxLength: options.concurrency,
  });
  const property = fc.asyncProperty(batch, async (requests) => {
    const outcomes = await Promise.all(requests.map((r) => send(endpoint, r, options.timeoutMs)));
    const problems: string[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      report.sent++;
      const key = label(outcome);
      report.outcomes[key] = (report.outcomes[key] ?? 0) + 1;
      const problem = problemWith(outcome);
      if (problem !== undefined) problems.push(describe(requests[i] as FuzzRequest, problem));
    }
    if (problems.length > 0) {
      firstProblems ??= problems;
      return false;
    }
    return true;
  });
  try {
    await fc.assert(property, {
      seed: options.seed,
      numRuns: Math.ceil(options.requests / options.concurrency),
      endOnFailure: true,
    });
  } catch (err) {
    // fast-check's first line and its replay hint; the requests themselves, shortened, below it.
    const [head, replay] = (err as Error).message.split('\n');
    // Without problems of ours, the property itself threw (fast-check keeps that as the cause).
    const cause = (err as Error).cause;
    const why = firstProblems ?? [
      `the property threw: ${cause instanceof Error ? cause.stack : String(cause)}`,
    ];
    report.failure = [head, replay, ...why].join('\n');
  }
  return report;
}
