/**
 * The ordered, append-only list of migrations. Listing them here (instead of letting knex
 * scan a folder) makes the same list work from TypeScript sources and the compiled build.
 */
import type { Knex } from 'knex';
import * as initialSchema from './20261122000100_initial_schema.js';
import * as sessionActivity from './20261122000200_session_activity.js';
import * as rateLimits from './20261122000300_rate_limits.js';
import * as recordFunctions from './20261122000400_record_functions.js';
import * as introspectAnyToken from './20261129000400_introspect_any_token.js';
import * as standardClaims from './20261129000600_standard_claims.js';
import * as clientRegistration from './20261129000700_client_registration.js';
import * as secondFactors from './20261129000800_second_factors.js';

export interface Migration {
  readonly name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

export const migrations: readonly Migration[] = [
  { name: '20261122000100_initial_schema', ...initialSchema },
  { name: '20261122000200_session_activity', ...sessionActivity },
  { name: '20261122000300_rate_limits', ...rateLimits },
  { name: '20261122000400_record_functions', ...recordFunctions },
  { name: '20261129000400_introspect_any_token', ...introspectAnyToken },
  { name: '20261129000600_standard_claims', ...standardClaims },
  { name: '20261129000700_client_registration', ...clientRegistration },
  { name: '20261129000800_second_factors', ...secondFactors },
];
