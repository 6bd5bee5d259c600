import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigDocument, type SecretSource } from './config.js';

/** The part of @google-cloud/secret-manager this module uses (the package is optional: typed here, loaded only when needed). */
interface SecretManagerClient {
  accessSecretVersion(request: { name: string }): Promise<[{ payload?: { data?: Uint8Array | string | null } | null }, ...unknown[]]>;
  close(): Promise<void>;
}
type ClientConstructor = new (options: Record<string, unknown>) => SecretManagerClient;

/** How the client's errors say why: an HTTP status over REST, a gRPC status code over gRPC. */
const PERMISSION_DENIED = [403, 7];
const NOT_FOUND = [404, 5];
const UNAUTHENTICATED = [401, 16];

/**
 * Reads the configuration document from a Secret Manager version (the seed's production path),
 * through Google's own client library over HTTPS (its REST transport: no gRPC channel is opened).
 * Every failure stops the start with a ConfigError that says what to fix.
 */
export async function readSecretDocument(source: SecretSource): Promise<ConfigDocument> {
  const name = `Secret Manager ${source.version}`;
  const account = serviceAccountOf(source.keyFilename);
  let Client: ClientConstructor;
  try {
    ({ SecretManagerServiceClient: Client } = (await import('@google-cloud/secret-manager')) as unknown as {
      SecretManagerServiceClient: ClientConstructor;
    });
  } catch {
    throw new ConfigError([
      'TASKS_KEY_FILENAME and TASKS_VERSION are set, but the optional package @google-cloud/secret-manager is not installed (npm ci installs it unless --omit=optional)',
    ]);
  }
  const endpoint = new URL(source.endpoint);
  const client = new Client({
    keyFilename: source.keyFilename,
    fallback: true,
    apiEndpoint: endpoint.hostname,
    port: endpoint.port === '' ? (endpoint.protocol === 'http:' ? 80 : 443) : Number(endpoint.port),
    protocol: endpoint.protocol.slice(0, -1),
  });
  let data: Uint8Array | string | null | undefined;
  try {
    const [version] = await client.accessSecretVersion({ name: source.version });
    data = version.payload?.data;
  } catch (error) {
    throw new ConfigError([accessProblem(error, source, account)]);
  } finally {
    await client.close().catch(() => undefined);
  }
  if (data === null || data === undefined) throw new ConfigError([`${name}: the version holds no data`]);
  const text = typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data).toString('utf8');
  return { name, text };
}

/** The service account's email from its key file, checked before the library reads it (its own messages are obscure). */
function serviceAccountOf(keyFilename: string): string {
  let key: unknown;
  try {
    key = JSON.parse(readFileSync(keyFilename, 'utf8')) as unknown;
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not a readable JSON file';
    throw new ConfigError([`TASKS_KEY_FILENAME (environment): ${keyFilename}: ${why}`]);
  }
  const fields = key as { type?: unknown; client_email?: unknown; private_key?: unknown };
  if (fields.type !== 'service_account' || typeof fields.client_email !== 'string' || typeof fields.private_key !== 'string') {
    throw new ConfigError([
      `TASKS_KEY_FILENAME (environment): ${keyFilename} is not a service account key (a JSON file with type "service_account", client_email and private_key)`,
    ]);
  }
  return fields.client_email;
}

function accessProblem(error: unknown, source: SecretSource, account: string): string {
  const code = (error as { code?: unknown }).code as number;
  const said = errorMessage(error);
  if (PERMISSION_DENIED.includes(code)) {
    return `Secret Manager refused ${account} access to ${source.version}: grant it the role "Secret Manager Secret Accessor" on the secret (${said})`;
  }
  if (NOT_FOUND.includes(code))
    return `Secret Manager has no ${source.version}: check the project, the secret's name and the version (${said})`;
  if (UNAUTHENTICATED.includes(code)) {
    return `Secret Manager did not accept the credentials of ${account} (${source.keyFilename}): the key may be revoked or expired (${said})`;
  }
  return `Secret Manager could not be read at ${source.endpoint} for ${source.version}: ${said}`;
}

/** The API's own message: over REST the client's error message is the answer's JSON body. */
function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  try {
    const said = (JSON.parse(message) as { error?: { message?: unknown } }).error?.message;
    if (typeof said === 'string') return said;
  } catch {
    // Not JSON: the message as it is.
  }
  return message.split('\n')[0]!;
}
