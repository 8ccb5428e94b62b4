/**
 * oidc-provider's Adapter over PostgreSQL, one instance per model name. Enforces: clients come
 * from the client store (cached) and are written through the provider only by its registration
 * endpoints (FLOW-11, handed to a ClientWriter), a second redemption
 * of a code or refresh token — even one racing the first across replicas — is invalid_grant
 * and revokes the whole grant, and a JWT id (client assertion, DPoP proof) or pushed
 * request_uri is used once, however many replicas race for it.
 */
import Provider, { errors, type Adapter, type AdapterFactory, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import type { SessionMetadata } from '../sessions/store.js';
import { HANDLE_PREFIX } from '../provider/structured-tokens.js';
import { REDEEMABLE_MODELS, isUnstorableText, payloadHasUnstorableText, type OidcRecords } from './records.js';

export interface ClientSource {
  find(clientId: string): Promise<AdapterPayload | undefined>;
}

/** Stores what the registration endpoints (RFC 7591 / 7592) register, update and delete. */
export interface ClientWriter {
  save(ctx: KoaContextWithOIDC, clientId: string, metadata: AdapterPayload): Promise<void>;
  remove(clientId: string): Promise<void>;
}

export interface SessionSink {
  save(id: string, payload: Record<string, unknown>, expiresIn: number | undefined, metadata: SessionMetadata): Promise<unknown>;
  endSession(id: string): Promise<void>;
}

export interface StructuredTokenSource {
  find(model: string, handle: string): Promise<Record<string, unknown> | undefined>;
  destroy(jti: string): Promise<boolean>;
}

export interface AdapterDependencies {
  readonly records: OidcRecords;
  readonly clients: ClientSource;
  readonly sessions: SessionSink;
  readonly structuredTokens?: StructuredTokenSource;
  /** Absent while dynamic registration is off: the provider then never writes clients. */
  readonly clientWriter?: ClientWriter;
  /** Models kept somewhere other than `oidc_records` (e.g. initial access tokens). */
  readonly ownAdapters?: ReadonlyMap<string, Adapter>;
}

const STRUCTURED_MODELS = new Set(['AccessToken', 'ClientCredentials']);

/** A JWT id (DPoP proof, client assertion) another request stored first: a replay that lost a race. */
export class JwtAlreadyUsed extends errors.InvalidRequest {}

/** The request being served, if any: oidc-provider keeps it in async local storage. */
function currentRequestMetadata(): SessionMetadata {
  // oidc-provider's static `ctx` getter is not in its type definitions.
  const ctx = (Provider as unknown as { ctx?: { get(name: string): string; ip: string } }).ctx;
  if (!ctx) return {};
  return { userAgent: ctx.get('user-agent'), ip: ctx.ip };
}

interface EngineContext {
  readonly oidc?: { readonly provider: Provider; readonly entities: Record<string, { readonly grantId?: string; destroy?(): Promise<void> } | undefined> };
}

/** The engine's context of the token request being served (async local storage), if any. */
function currentEngineContext(): EngineContext | undefined {
  return (Provider as unknown as { ctx?: EngineContext }).ctx;
}

// The engine's own words for a second redemption (lib/actions/grants, lib/helpers/grant_source.js).
const REUSE_MESSAGES: Record<string, string> = {
  RefreshToken: 'refresh token already used',
  AuthorizationCode: 'authorization code already consumed',
  DeviceCode: 'device code already consumed',
  BackchannelAuthenticationRequest: 'backchannel authentication request already consumed',
  PreAuthorizedCode: 'pre-authorized code already consumed',
};

class ClientAdapter implements Adapter {
  constructor(
    private readonly clients: ClientSource,
    private readonly writer: ClientWriter | undefined,
  ) {}
  find(id: string) {
    return this.clients.find(id);
  }
  async upsert(id: string, metadata: AdapterPayload): Promise<void> {
    // oidc-provider's static `ctx` getter (the request being served) is not in its type definitions.
    const ctx = (Provider as unknown as { ctx?: KoaContextWithOIDC }).ctx;
    if (!this.writer || !ctx) throw new Error('clients are managed by the CLI and admin API, not through the provider');
    await this.writer.save(ctx, id, metadata);
  }
  async destroy(id: string): Promise<void> {
    if (!this.writer) throw new Error('clients are managed by the CLI and admin API, not through the provider');
    await this.writer.remove(id);
  }
  async findByUid() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
  async consume(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

class RecordAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly records: OidcRecords,
    private readonly sessions: SessionSink,
    private readonly structured: StructuredTokenSource | undefined,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
    if (isUnstorableText(id) || payloadHasUnstorableText(payload)) {
      throw new errors.InvalidRequest('request parameters must not contain NUL characters or unpaired surrogates');
    }
    if (this.model === 'ReplayDetection') {
      // The engine checks for a seen JWT id and then stores it: two parallel requests with the
      // same assertion or DPoP proof would both pass. The insert decides atomically.
      if (!(await this.records.insertOnce(this.model, id, payload as Record<string, unknown>, expiresIn))) {
        throw new JwtAlreadyUsed('this JWT was already used');
      }
      return;
    }
    if (this.model === 'Session') {
      await this.sessions.save(id, payload as Record<string, unknown>, expiresIn, currentRequestMetadata());
      return;
    }
    await this.records.upsert(this.model, id, payload as Record<string, unknown>, expiresIn);
  }
  // A session past its expiry is gone at once: its expiry is the idle timeout, which must not
  // stretch by the engine's clock tolerance or the grace period other records get.
  find(id: string) {
    if (this.structured && STRUCTURED_MODELS.has(this.model) && id.startsWith(HANDLE_PREFIX)) {
      return this.structured.find(this.model, id) as Promise<AdapterPayload | undefined>;
    }
    if (this.model === 'Session') return this.records.findLive(this.model, 'id', id) as Promise<AdapterPayload | undefined>;
    return this.records.find(this.model, id) as Promise<AdapterPayload | undefined>;
  }
  // The engine looks only sessions up by uid.
  async findByUid(uid: string) {
    if (this.model !== 'Session') return undefined;
    return this.records.findLive(this.model, 'uid', uid) as Promise<AdapterPayload | undefined>;
  }
  findByUserCode(userCode: string) {
    return this.records.findByUserCode(this.model, userCode) as Promise<AdapterPayload | undefined>;
  }
  async destroy(id: string) {
    if (this.structured && STRUCTURED_MODELS.has(this.model) && (await this.structured.destroy(id))) return;
    // A destroyed session (logout, or the old id after sign-in) must stay gone.
    if (this.model === 'Session') await this.sessions.endSession(id);
    await this.records.destroy(this.model, id);
  }
  revokeByGrantId(grantId: string) {
    return this.records.revokeByGrantId(this.model, grantId);
  }

  async consume(id: string) {
    if (await this.records.consume(this.model, id)) return;
    // The engine checks `consumed` before it consumes: two authorization responses racing for one
    // pushed request would both pass. RFC 9126 makes a request_uri single-use; the loser fails.
    if (this.model === 'PushedAuthorizationRequest') {
      throw new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
    }
    if (!REDEEMABLE_MODELS.has(this.model)) return;
    // oidc-provider reads, checks `consumed`, then consumes: two parallel redemptions both pass
    // the check. The conditional update lets exactly one win, on any replica; the loser takes the
    // engine's own reuse path (FLOW-4): a refresh token is destroyed (`refresh_token.destroyed`),
    // the grant is revoked (`grant.revoked`), and the error is the engine's, so logs, metrics and
    // audit listeners see a race exactly as they see a reuse.
    // The engine's entity knows its grant even when a parallel loser already deleted the row.
    const ctx = currentEngineContext();
    const redeemed = ctx?.oidc?.entities[this.model];
    const grantId = redeemed?.grantId ?? (await this.records.grantIdOf(this.model, id));
    await Promise.all([
      this.model !== 'RefreshToken' ? undefined : redeemed?.destroy ? redeemed.destroy() : this.records.destroy(this.model, id),
      grantId ? this.records.revokeGrant(grantId) : undefined,
    ]);
    if (grantId && ctx?.oidc) ctx.oidc.provider.emit('grant.revoked', ctx, grantId);
    throw new errors.InvalidGrant(REUSE_MESSAGES[this.model] ?? 'grant already used');
  }
}

export function createAdapterFactory({ records, clients, sessions, structuredTokens, clientWriter, ownAdapters }: AdapterDependencies): AdapterFactory {
  const clientAdapter = new ClientAdapter(clients, clientWriter);
  const byModel = new Map<string, Adapter>();
  return (model: string) => {
    if (model === 'Client') return clientAdapter;
    const own = ownAdapters?.get(model);
    if (own) return own;
    let adapter = byModel.get(model);
    if (!adapter) {
      adapter = new RecordAdapter(model, records, sessions, structuredTokens);
      byModel.set(model, adapter);
    }
    return adapter;
  };
}
