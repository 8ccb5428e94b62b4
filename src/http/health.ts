/** Liveness and readiness (OPS-5): /healthz says the process answers; /readyz that it can serve. */
import Router from '@koa/router';
import type { Database } from '../db/index.js';
import { pendingMigrations } from '../db/migrate.js';

export function healthRoutes(db: Database, keysLoaded: () => boolean): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const checks: Record<string, boolean> = { database: false, migrations: false, keys: keysLoaded() };
    try {
      await db.knex.raw('SELECT 1');
      checks['database'] = true;
      checks['migrations'] = (await pendingMigrations(db)).length === 0;
    } catch {
      // reported below as not ready
    }
    const ready = Object.values(checks).every(Boolean);
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });
  return router;
}
