/*
 * A local stand-in for Google's OAuth token endpoint and Secret Manager's REST API, on 127.0.0.1,
 * for the real @google-cloud/secret-manager client to talk to. It checks credentials as Google
 * does: a bearer token is either an access token it issued at `/token` (for a JWT assertion signed
 * by the service account's key) or a self-signed JWT (RS256, signed by that key, not expired).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type KeyObject, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export interface StoredSecret {
  /** The version's data; null for a version the account may not read (403). */
  data: string | null;
}

/** What the stand-in saw: each API request's path and how it was authenticated. */
export interface SeenRequest {
  path: string;
  auth: 'self-signed-jwt' | 'access-token' | 'refused';
}

export class SecretManagerStandIn {
  readonly seen: SeenRequest[] = [];
  readonly versions = new Map<string, StoredSecret>();
  private readonly publicKey: KeyObject;
  private readonly privateKeyPem: string;
  private readonly issued = new Set<string>();
  private server: Server | null = null;
  origin = '';

  constructor(readonly clientEmail = 'kuueri-tasks@test-project.iam.gserviceaccount.com') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.publicKey = publicKey;
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Writes a service account key file for this stand-in's account (signed by its key) at `path`. */
  writeKeyFile(path: string, overrides: Record<string, unknown> = {}): void {
    const key = {
      type: 'service_account',
      project_id: 'test-project',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: this.privateKeyPem,
      client_email: this.clientEmail,
      client_id: '100000000000000000001',
      auth_uri: `${this.origin}/auth`,
      token_uri: `${this.origin}/token`,
      ...overrides,
    };
    writeFileSync(path, JSON.stringify(key), { mode: 0o600 });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const url = new URL(request.url ?? '/', this.origin);
    if (request.method === 'POST' && url.pathname === '/token') return this.token(body, response);
    const match = /^\/v1\/(projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/:]+):access$/.exec(url.pathname);
    if (request.method !== 'GET' || !match) return answer(response, 404, googleError(404, 'NOT_FOUND', `no route ${url.pathname}`));
    const auth = this.authenticate(request.headers.authorization);
    this.seen.push({ path: url.pathname, auth: auth ?? 'refused' });
    if (auth === null) return answer(response, 401, googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'));
    const name = match[1]!;
    const version = this.versions.get(name);
    if (!version) return answer(response, 404, googleError(404, 'NOT_FOUND', `Secret Version [${name}] not found or has no versions.`));
    if (version.data === null) {
      return answer(
        response,
        403,
        googleError(403, 'PERMISSION_DENIED', `Permission 'secretmanager.versions.access' denied for resource '${name}'.`),
      );
    }
    return answer(response, 200, { name, payload: { data: Buffer.from(version.data).toString('base64') } });
  }

  /** The JWT bearer grant: an assertion signed by the account's key buys an access token. */
  private token(body: string, response: ServerResponse): void {
    const form = new URLSearchParams(body);
    const claims = this.verifiedClaims(form.get('assertion') ?? '');
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || claims === null) {
      return answer(response, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    }
    const token = `ya29.${randomBytes(24).toString('base64url')}`;
    this.issued.add(token);
    answer(response, 200, { access_token: token, token_type: 'Bearer', expires_in: 3599 });
  }

  private authenticate(header: string | undefined): SeenRequest['auth'] | null {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    if (token === undefined) return null;
    if (this.issued.has(token)) return 'access-token';
    return this.verifiedClaims(token) === null ? null : 'self-signed-jwt';
  }

  /** The claims of a JWT signed with RS256 by this account's key, issued by it and not expired; null otherwise. */
  private verifiedClaims(jwt: string): Record<string, unknown> | null {
    const [header, payload, signature] = jwt.split('.');
    if (header === undefined || payload === undefined || signature === undefined) return null;
    try {
      const alg = (JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string }).alg;
      if (alg !== 'RS256') return null;
      const signed = verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, 'base64url'));
      if (!signed) return null;
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      if (claims.iss !== this.clientEmail || typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return null;
      return claims;
    } catch {
      return null;
    }
  }
}

function googleError(code: number, status: string, message: string): unknown {
  return { error: { code, message, status } };
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  response.end(JSON.stringify(body));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}
