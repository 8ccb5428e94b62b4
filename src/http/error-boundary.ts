/**
 * The one place errors from Gatehouse's own routes become HTTP answers. Enforces: 4xx for bad
 * input with a plain explanation, a generic 500 otherwise, never a stack trace or SQL text to
 * the client; the detail goes to the log (redacted). The engine renders its own errors.
 */
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { ValidationError } from '../validation.js';
import { loggablePath } from '../observability/logger.js';
import { errorPage } from '../interactions/views/pages.js';
import { sendPage } from '../interactions/respond.js';
import { isDatabaseUnavailable, outageReporter } from '../db/unavailable.js';
import { answerUnavailable } from './unavailable.js';
import { BodyTooLarge } from '../security/request-body.js';

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
}

// Paths people open in a browser; errors the edge raises elsewhere (token, introspection …) are
// answered with an OAuth error body whatever the Accept header says.
const PAGE_PATHS = /^\/(interaction|account|auth|session)(\/|$)/i;

/** Whether an error answer is JSON (APIs, admin) rather than a page (paths people open in a browser). */
export function wantsJson(accept: string, path: string): boolean {
  return path.startsWith('/admin/') || !PAGE_PATHS.test(path) || (accept.includes('application/json') && !accept.includes('text/html'));
}

export function errorBoundary(logger: Logger): Middleware {
  const reportOutage = outageReporter(logger);
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      if (isDatabaseUnavailable(caught)) {
        reportOutage({ path: loggablePath(ctx.path), reason: (caught as Error).message });
        answerUnavailable(ctx, !wantsJson(ctx.get('accept'), ctx.path));
        return;
      }
      const error = caught as HttpLikeError;
      let status = error.status ?? error.statusCode ?? 500;
      if (caught instanceof ValidationError) status = 400;
      if (status < 400 || status > 599) status = 500;
      const clientError = status < 500;
      const message = status === 413
        ? new BodyTooLarge().message // one wording for every body parser's refusal
        : caught instanceof ValidationError || (clientError && error.expose !== false && error.message)
          ? String(error.message)
          : 'Something went wrong on our side. Please try again in a moment.';
      if (clientError) logger.info({ status, path: loggablePath(ctx.path), reason: error.message }, 'request rejected');
      else logger.error({ err: caught, path: loggablePath(ctx.path), requestId: ctx.state['requestId'] }, 'request failed');

      // A body over the limit may be partly unread: the connection cannot carry another request.
      if (status === 413) ctx.set('Connection', 'close');
      if (wantsJson(ctx.get('accept'), ctx.path)) {
        ctx.status = status;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = {
          error: status === 404 ? 'not_found' : clientError ? 'invalid_request' : 'server_error',
          error_description: message,
          ...(caught instanceof ValidationError ? { problems: caught.problems } : {}),
        };
        return;
      }
      const signedIn = ctx.path.startsWith('/account') && status !== 401;
      sendPage(ctx, errorPage({ title: clientError ? 'This request cannot be completed' : 'Something went wrong', message, signedIn }), { status });
    }
  };
}
