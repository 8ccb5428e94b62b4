/**
 * `npm run example:spa`: the demo API on SPA_API_PORT and the BFF (serving the SPA) on SPA_PORT,
 * both on localhost, against the Gatehouse at ISSUER.
 */
import { startDemoApi } from './api/server.js';
import { startBff } from './bff/app.js';
import { exampleConfig, type ExampleConfig } from './config.js';

let config: ExampleConfig;
try {
  config = exampleConfig(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(78);
}

const spaOrigin = `http://localhost:${config.spaPort}`;
const api = await startDemoApi({
  port: config.apiPort,
  host: 'localhost',
  issuer: config.issuer,
  audience: config.resource,
  algorithms: [config.signingAlg],
  requiredScopes: [config.requiredScope],
  allowedOrigins: [spaOrigin],
});
const bff = await startBff({
  port: config.spaPort,
  host: 'localhost',
  issuer: config.issuer,
  clientId: config.clientId,
  clientSecret: config.clientSecret,
  cookieSecret: config.cookieSecret,
  publicOrigin: spaOrigin,
  apiUrl: `${api.url}/api/hello`,
  resource: config.resource,
  scope: config.scope,
});
console.log(`Demo API:    ${api.url}/api/hello`);
console.log(`SPA and BFF: ${bff.url}  <- open this in a browser (issuer ${config.issuer})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void Promise.all([bff.close(), api.close()]).then(() => process.exit(0)));
}
