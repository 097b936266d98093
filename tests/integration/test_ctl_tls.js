// The MSK API over HTTPS (straitd --api-tls-cert/--api-tls-key, control plane only): the AWS SDK
// (custom CA through NodeHttpHandler) and `strait kafka --ca-bundle` sign and succeed; a client
// that does not trust the certificate, and plain HTTP to the TLS port, get nothing.
// Environment: ST_BUILD_DIR, ST_SOURCE_DIR. Every wait is bounded.
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const h = require('./harness');
const { BUILD_DIR, interop, check } = h;

const K = interop('@aws-sdk/client-kafka');
const { NodeHttpHandler } = interop('@smithy/node-http-handler');

const KEY = { accessKeyId: 'AKIATLSADMIN00000001', secretAccessKey: 'tlsAdminSecret/00000000000000000000000001' };

// The MSK API over HTTPS only (no embedded cluster).
class Straitd extends h.Straitd {
  args() {
    return ['--data-dir', this.data, '--api-listen', '127.0.0.1:0',
      '--api-tls-cert', path.join(this.dir, 'cert.pem'), '--api-tls-key', path.join(this.dir, 'key.pem'),
      '--ready-file', this.ready];
  }
}

async function main() {
  const dir = h.tempDir('st_ctl_tls_');
  const d = new Straitd(dir);
  let failed = false;
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const ready = await d.start();
    check(ready.apiUrl === `https://${ready.apiEndpoint}`, `apiUrl ${ready.apiUrl}`);
    const doc = { region: 'us-east-1', accounts: [{ id: '111122223333', name: 'p',
      users: [{ name: 'admin', accessKeys: [{ id: KEY.accessKeyId, secret: KEY.secretAccessKey }], managedPolicies: ['AmazonMSKFullAccess'] }] }] };
    execFileSync(path.join(BUILD_DIR, 'strait'), ['admin', '--data-dir', d.data, 'apply', '-'], { input: JSON.stringify(doc) });

    const ca = fs.readFileSync(path.join(dir, 'cert.pem'));
    const client = h.mskClient(d, KEY, { endpoint: ready.apiUrl,
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }) });
    const list = await client.send(new K.ListClustersV2Command({}));
    check(Array.isArray(list.ClusterInfoList) && list.ClusterInfoList.length === 0, 'ListClustersV2 over HTTPS');

    const untrusting = h.mskClient(d, KEY, { endpoint: ready.apiUrl });
    let err = null;
    try { await untrusting.send(new K.ListClustersV2Command({})); } catch (e) { err = e; }
    check(err && /certificate/i.test(String(err.message || err.code)), `an untrusted certificate is refused: ${err && err.message}`);

    const plain = await new Promise((resolve) => {
      const [host, port] = ready.apiEndpoint.split(':');
      const req = http.request({ host, port, path: '/api/v2/clusters', method: 'GET', timeout: 3000 }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${e.code}`));
      req.on('timeout', () => { req.destroy(); resolve('timeout'); });
      req.end();
    });
    check(!plain.startsWith('HTTP 2'), `plain HTTP on the TLS port: ${plain}`);

    const env = { ...process.env, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey };
    const r1 = spawnSync(path.join(BUILD_DIR, 'strait'), ['kafka', '--endpoint-url', ready.apiUrl, '--ca-bundle',
      path.join(dir, 'cert.pem'), 'list-clusters-v2'], { env, encoding: 'utf8' });
    check(r1.status === 0 && JSON.parse(r1.stdout).ClusterInfoList.length === 0, `strait kafka over HTTPS: ${r1.stderr}`);
    const r2 = spawnSync(path.join(BUILD_DIR, 'strait'), ['kafka', '--endpoint-url', ready.apiUrl, 'list-clusters-v2'],
      { env: { ...env, AWS_CA_BUNDLE: '' }, encoding: 'utf8' });
    check(r2.status !== 0, 'strait kafka refuses an untrusted certificate');
    const { code } = await d.stop();
    check(code === 0, `straitd exit status ${code}`);
    console.log('PASS');
  } catch (e) {
    failed = true;
    console.error(`FAIL: ${e.stack || e}`);
    d.printLog();
  } finally {
    if (d.proc) d.proc.kill('SIGKILL');
    h.removeTempDir(dir);
  }
  process.exit(failed ? 1 : 0);
}
main();
