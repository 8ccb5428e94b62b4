/**
 * The one answer while the database is unreachable (API-5, issue 13 item 2): 503 with
 * Retry-After; an OAuth error body (`temporarily_unavailable`) for APIs, a friendly page for
 * people. Used by the host's error boundary and around the engine.
 */
import { DATABASE_RETRY_AFTER_SECONDS } from '../db/unavailable.js';
import { sendPage } from '../interactions/respond.js';
import { errorPage } from '../interactions/views/pages.js';

interface Answerable {
  status: number;
  type: string;
  body: unknown;
  set(name: string, value: string): void;
}

export function answerUnavailable(ctx: Answerable, asPage: boolean): void {
  ctx.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  ctx.set('Cache-Control', 'no-store');
  if (asPage) {
    sendPage(
      ctx,
      errorPage({
        title: 'Back in a moment',
        message: `Gatehouse cannot reach its database just now. Nothing was lost; please try again in ${DATABASE_RETRY_AFTER_SECONDS} seconds.`,
      }),
      { status: 503 },
    );
    return;
  }
  ctx.status = 503;
  ctx.body = { error: 'temporarily_unavailable', error_description: `The service is temporarily unavailable. Retry in ${DATABASE_RETRY_AFTER_SECONDS} seconds.` };
}
