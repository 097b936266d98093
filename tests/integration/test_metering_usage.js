// Metering, cost and metrics end to end against a real straitd (control-plane-only mode):
// a provider cluster with multi-VPC SASL/IAM and SASL/SCRAM, two client accounts each with a VPC
// connection of one scheme, known traffic through each connection's endpoint (kafkajs producing N
// messages of known size, authenticated with AWS_MSK_IAM through one connection and
// SCRAM-SHA-512 through the other; later raw ApiVersions requests of known size), then:
//   - GET /strait/v1/usage (SDK-signed) and `strait usage`: bytes within protocol overhead of the
//     payload, requests = N, requests by API (requestsByApi: N Produce requests, the set-up's
//     ApiVersions/SASL/Metadata, later exactly the raw ApiVersions sent), connection-hours from the recorded AVAILABLE transition (as of a
//     later `now`), cost = MSK's price table, each account seeing only its own (the provider as
//     cluster owner sees both, each client only its connection);
//   - a clean restart keeps the counts; prices are configurable (--price-per-gb);
//   - /metrics passes `promtool check metrics`, and a real Prometheus server (loopback, temp dir)
//     scrapes it and its query API shows the byte counter of a connection moving with the traffic.
//
// Environment: ST_BUILD_DIR, ST_SOURCE_DIR. Every wait is bounded; nothing asserts on wall time.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const tls = require('tls');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');

const SOURCE_DIR = process.env.ST_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const BUILD_DIR = process.env.ST_BUILD_DIR || path.join(SOURCE_DIR, 'build');
const interop = createRequire(path.join(SOURCE_DIR, 'tests', 'interop', 'package.json'));
const K = interop('@aws-sdk/client-kafka');
const { SignatureV4 } = interop('@smithy/signature-v4');
const { Sha256 } = interop('@aws-crypto/sha256-js');
const { Kafka, logLevel } = interop('kafkajs');
const { createMechanism } = interop('@jm18457/kafkajs-msk-iam-authentication-mechanism');
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const REGION = 'us-east-1';
const PROVIDER = '111122223333';
const CLIENT1 = '444455556666';
const CLIENT2 = '777788889999';
const KEYS = {
  admin: { accessKeyId: 'AKIAMETERPROVIDER001', secretAccessKey: 'meterProviderSecret/00000000000000000000001' },
  c1: { accessKeyId: 'AKIAMETERCLIENTONE01', secretAccessKey: 'meterClientOneSecret/0000000000000000000001' },
  c2: { accessKeyId: 'AKIAMETERCLIENTTWO01', secretAccessKey: 'meterClientTwoSecret/0000000000000000000001' },
};
const GIB = 1073741824;
const PRICE_GB = 0.006;
const PRICE_HOUR = 0.0225;

const A = 100 + Math.floor(Math.random() * 150);
const B = Math.floor(Math.random() * 250) + 1;
const ip = (n) => `127.${A}.${B}.${n}`;

function log(msg) { console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`); }
function check(cond, msg) { if (!cond) throw new Error(`check failed: ${msg}`); }
const round6 = (v) => Math.round(v * 1e6) / 1e6;
const round9 = (v) => Math.round(v * 1e9) / 1e9;
const near = (a, b) => Math.abs(a - b) <= 2e-6;
const near9 = (a, b) => Math.abs(a - b) <= 2e-9;

async function waitFor(pred, what, timeoutMs = 30000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

class Straitd {
  constructor(dir) { this.dir = dir; this.data = path.join(dir, 'data'); this.ready = path.join(dir, 'ready.json'); }
  async start(extra = []) {
    try { fs.unlinkSync(this.ready); } catch (e) { /* first start */ }
    this.logFile = path.join(this.dir, `straitd.${Date.now()}.log`);
    const out = fs.openSync(this.logFile, 'w');
    this.proc = spawn(path.join(BUILD_DIR, 'straitd'), ['--data-dir', this.data, '--api-listen', '127.0.0.1:0',
      '--metrics-listen', '127.0.0.1:0', '--ready-file', this.ready, '--log-format', 'json',
      '--log-level', process.env.ST_LOG_LEVEL || 'info',
      // Metering is under test here, not authorization (test_authz_*): the SCRAM user is a Kafka
      // super user, so it needs no ACLs.
      '--kafka-super-users', 'User:meter'].concat(extra), { stdio: ['ignore', out, out] });
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r({ code, sig })));
    const ready = await waitFor(() => {
      try { return JSON.parse(fs.readFileSync(this.ready, 'utf8')); } catch (e) { return null; }
    }, 'the ready file');
    this.api = `http://${ready.apiEndpoint}`;
    this.metrics = ready.metricsEndpoint;
    log(`straitd pid ${ready.pid}, API ${this.api}, metrics ${this.metrics}`);
  }
  async stop() {
    if (!this.proc) return null;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 15000);
    const r = await this.exited;
    clearTimeout(t);
    this.proc = null;
    return r;
  }
  printLog() { try { process.stdout.write(fs.readFileSync(this.logFile, 'utf8')); } catch (e) { /* none */ } }
}

function kafka(d, creds) {
  return new K.KafkaClient({ region: REGION, endpoint: d.api, credentials: creds, maxAttempts: 1 });
}

function sg(id) {
  return { id, ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }],
    egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] };
}

function applyDoc() {
  const clientPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kafka:*', 'kafka-cluster:*'], Resource: '*' }] };
  return {
    region: REGION,
    accounts: [
      { id: PROVIDER, name: 'provider',
        scramSecrets: [{ name: 'AmazonMSK_meter', username: 'meter', password: 'meter-secret' }],
        users: [{ name: 'admin', accessKeys: [{ id: KEYS.admin.accessKeyId, secret: KEYS.admin.secretAccessKey }],
          managedPolicies: ['AmazonMSKFullAccess'] }],
        vpcs: [{ id: 'vpc-p', cidr: '10.0.0.0/16',
          subnets: [{ id: 'subnet-p1', azId: 'use1-az1', endpointAddress: ip(1) },
            { id: 'subnet-p2', azId: 'use1-az2', endpointAddress: ip(2) }],
          securityGroups: [sg('sg-p')] }] },
      { id: CLIENT1, name: 'client-one',
        users: [{ name: 'dev', accessKeys: [{ id: KEYS.c1.accessKeyId, secret: KEYS.c1.secretAccessKey }],
          inlinePolicies: { all: clientPolicy } }],
        vpcs: [{ id: 'vpc-c1', cidr: '10.1.0.0/16',
          subnets: [{ id: 'subnet-c1a', azId: 'use1-az1', endpointAddress: ip(3) },
            { id: 'subnet-c1b', azId: 'use1-az2', endpointAddress: ip(4) }],
          securityGroups: [sg('sg-c1')] }] },
      { id: CLIENT2, name: 'client-two',
        users: [{ name: 'dev', accessKeys: [{ id: KEYS.c2.accessKeyId, secret: KEYS.c2.secretAccessKey }],
          inlinePolicies: { all: clientPolicy } }],
        vpcs: [{ id: 'vpc-c2', cidr: '10.2.0.0/16',
          subnets: [{ id: 'subnet-c2a', azId: 'use1-az1', endpointAddress: ip(5) },
            { id: 'subnet-c2b', azId: 'use1-az2', endpointAddress: ip(6) }],
          securityGroups: [sg('sg-c2')] }] },
    ],
  };
}

// N ApiVersions v0 requests on one connection, each carrying a client id of `size` bytes (the
// payload); waits for every response. Returns {payload, responses}.
function apiVersionsTraffic(host, port, n, size) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca: [endpointCa] });
    let buf = Buffer.alloc(0);
    let got = 0;
    const t = setTimeout(() => { s.destroy(); reject(new Error(`only ${got}/${n} ApiVersions responses from ${host}:${port}`)); }, 30000);
    s.on('secureConnect', () => {
      for (let i = 0; i < n; i++) {
        const clientId = Buffer.alloc(size, 'm');
        const body = Buffer.alloc(2 + 2 + 4 + 2 + size);
        body.writeInt16BE(18, 0); // ApiVersions
        body.writeInt16BE(0, 2); // v0
        body.writeInt32BE(i + 1, 4);
        body.writeInt16BE(size, 8);
        clientId.copy(body, 10);
        const len = Buffer.alloc(4);
        len.writeInt32BE(body.length, 0);
        s.write(Buffer.concat([len, body]));
      }
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const fl = buf.readInt32BE(0);
        const corr = buf.readInt32BE(4);
        const errorCode = buf.readInt16BE(8);
        if (corr !== got + 1 || errorCode !== 0) {
          clearTimeout(t);
          s.destroy();
          reject(new Error(`ApiVersions response ${got + 1}: correlation ${corr}, error ${errorCode}`));
          return;
        }
        buf = buf.subarray(4 + fl);
        got++;
      }
      if (got === n) { clearTimeout(t); s.end(); resolve({ payload: n * size, responses: got }); }
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

// Produces n messages of `size` bytes (one request each, acks=1) through `brokers`.
// VPC-connection endpoints are TLS, issued by the installation CA (DATA/tls/ca.pem).
let endpointCa = null;
async function produceMessages(brokers, sasl, topic, n, size) {
  const k = new Kafka({ brokers: brokers.split(','), clientId: `meter-${topic}`, sasl, ssl: { ca: [endpointCa] }, logLevel: logLevel.NOTHING,
    retry: { retries: 5 }, connectionTimeout: 5000, authenticationTimeout: 5000 });
  const producer = k.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  for (let i = 0; i < n; i++) await producer.send({ topic, acks: 1, messages: [{ value: Buffer.alloc(size, 'p') }] });
  await producer.disconnect();
  return { payload: n * size };
}

async function signedGet(d, creds, pathname, query) {
  const url = new URL(d.api);
  const signer = new SignatureV4({ credentials: creds, region: REGION, service: 'kafka', sha256: Sha256, uriEscapePath: true });
  const signed = await signer.sign({ method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port),
    path: pathname, query, headers: { host: url.host } });
  const qs = new URLSearchParams(query).toString();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method: 'GET', path: `${pathname}${qs ? '?' + qs : ''}`,
      headers: signed.headers }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['x-amzn-errortype'], body: data }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function usage(d, creds, query) {
  const r = await signedGet(d, creds, '/strait/v1/usage', query);
  check(r.status === 200, `usage ${JSON.stringify(query)}: HTTP ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

function httpGet(u) {
  return new Promise((resolve, reject) => {
    http.get(u, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    }).on('error', reject);
  });
}

// Sum of a metric over the endpoints (client subnets) of one VPC connection; null when absent.
function metricValue(text, name, conn) {
  let sum = null;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(`vpc_connection="${conn}"`)) sum = (sum || 0) + Number(line.split(' ').pop());
  }
  return sum;
}

async function waitActive(c, arn) {
  return waitFor(async () => {
    const i = (await c.send(new K.DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo;
    return i.State === 'ACTIVE' ? i : null;
  }, `cluster ${arn} ACTIVE`);
}
async function waitAvailable(c, arn) {
  return waitFor(async () => (await c.send(new K.DescribeVpcConnectionCommand({ Arn: arn }))).State === 'AVAILABLE',
    `connection ${arn} AVAILABLE`);
}

function checkCost(item, prices, what) {
  const gb = (item.bytesIn + item.bytesOut) / GIB;
  check(near9(item.dataProcessedGB, round9(gb)), `${what}: dataProcessedGB ${item.dataProcessedGB} vs ${gb}`);
  check(item.cost.dataProcessing > 0 && near9(item.cost.dataProcessing, round9(gb * prices.gb)),
    `${what}: data cost ${item.cost.dataProcessing} vs ${gb * prices.gb}`);
  // connectionHours is reported rounded to 1e-6 h; its cost is priced on the exact value
  check(Math.abs(item.cost.connectionHours - item.connectionHours * prices.hour) <= 1e-6 * prices.hour + 2e-9,
    `${what}: hour cost ${item.cost.connectionHours} vs ${item.connectionHours * prices.hour}`);
  check(near9(item.cost.total, item.cost.dataProcessing + item.cost.connectionHours), `${what}: total`);
}

async function startPrometheus(dir, target) {
  const port = await freePort();
  const cfg = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(cfg, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n` +
    `  - job_name: strait\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['${target}']\n`);
  const out = fs.openSync(path.join(dir, 'prometheus.log'), 'w');
  const proc = spawn('prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1h'], { stdio: ['ignore', out, out] });
  const exited = new Promise((r) => proc.on('exit', () => r()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => { try { return (await httpGet(`${base}/-/ready`)).status === 200; } catch (e) { return false; } },
    'prometheus ready', 60000, 250);
  return { proc, base, exited };
}

async function promQuery(base, q) {
  const r = await httpGet(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  if (r.status !== 200) return null;
  const j = JSON.parse(r.body);
  const res = j.data && j.data.result;
  return res && res.length ? Number(res[0].value[1]) : null;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st_meter_'));
  const d = new Straitd(dir);
  let prom = null;
  await d.start();
  try {
    const applyFile = path.join(dir, 'apply.json');
    fs.writeFileSync(applyFile, JSON.stringify(applyDoc()));
    execFileSync(path.join(BUILD_DIR, 'strait'), ['admin', '--data-dir', d.data, 'apply', applyFile], { encoding: 'utf8' });
    const admin = kafka(d, KEYS.admin);
    const c1 = kafka(d, KEYS.c1);
    let c2 = kafka(d, KEYS.c2);

    // ---- provider: a cluster with SASL/IAM and SASL/SCRAM, multi-VPC on for both
    const arn = (await admin.send(new K.CreateClusterV2Command({ ClusterName: 'metered',
      Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: 2,
        ClientAuthentication: { Sasl: { Iam: { Enabled: true }, Scram: { Enabled: true } } },
        BrokerNodeGroupInfo: { ClientSubnets: ['subnet-p1', 'subnet-p2'], InstanceType: 'kafka.m5.large', SecurityGroups: ['sg-p'] } } }))).ClusterArn;
    let info = await waitActive(admin, arn);
    await admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Iam: { Enabled: true }, Scram: { Enabled: true } } } } } }));
    info = await waitActive(admin, arn);
    await admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: JSON.stringify({ Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${CLIENT1}:root`, `arn:aws:iam::${CLIENT2}:root`] },
        Action: ['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2',
          'kafka-cluster:*'], Resource: [arn, `${arn.replace(':cluster/', ':topic/')}/*`, `${arn.replace(':cluster/', ':group/')}/*`] }] }) }));
    await admin.send(new K.BatchAssociateScramSecretCommand({ ClusterArn: arn,
      SecretArnList: [`arn:aws:secretsmanager:${REGION}:${PROVIDER}:secret:AmazonMSK_meter`] }));
    log(`cluster ${arn} with multi-VPC SASL/IAM + SASL/SCRAM`);

    // ---- two client accounts, one connection each, different schemes
    const before = Date.now() / 1000;
    const conn1 = (await c1.send(new K.CreateVpcConnectionCommand({ TargetClusterArn: arn, Authentication: 'SASL_IAM',
      VpcId: 'vpc-c1', ClientSubnets: ['subnet-c1a', 'subnet-c1b'], SecurityGroups: ['sg-c1'] }))).VpcConnectionArn;
    const conn2 = (await c2.send(new K.CreateVpcConnectionCommand({ TargetClusterArn: arn, Authentication: 'SASL_SCRAM',
      VpcId: 'vpc-c2', ClientSubnets: ['subnet-c2a', 'subnet-c2b'], SecurityGroups: ['sg-c2'] }))).VpcConnectionArn;
    await waitAvailable(c1, conn1);
    await waitAvailable(c2, conn2);
    const after = Date.now() / 1000;
    log(`connections AVAILABLE: ${conn1} (SASL_IAM), ${conn2} (SASL_SCRAM)`);
    endpointCa = fs.readFileSync(path.join(d.data, 'tls', 'ca.pem'), 'utf8');

    // ---- Prometheus: scrapes strait from now on
    const m0 = await httpGet(`http://${d.metrics}/metrics`);
    check(m0.status === 200 && metricValue(m0.body, 'strait_client_received_bytes_total', conn1) === 0,
      'the connection endpoint is exported, 0 bytes so far');
    prom = await startPrometheus(dir, d.metrics);
    const q1 = `sum(strait_client_received_bytes_total{vpc_connection="${conn1}"})`;
    await waitFor(async () => (await promQuery(prom.base, q1)) === 0, 'prometheus scraped the connection at 0 bytes', 60000, 250);
    log('prometheus scraping: 0 bytes before traffic');

    // ---- known traffic: N messages of S bytes, one produce request each, authenticated
    const N1 = 40, S1 = 1000, N2 = 25, S2 = 700;
    const t1 = await produceMessages(`${ip(3)}:14001,${ip(4)}:14002`, createMechanism({ region: REGION, credentials: KEYS.c1 }),
      'metered-iam', N1, S1);
    const t2 = await produceMessages(`${ip(5)}:14001,${ip(6)}:14002`, { mechanism: 'scram-sha-512', username: 'meter', password: 'meter-secret' },
      'metered-scram', N2, S2);
    log(`traffic: ${N1} x ${S1} B produced through the SASL_IAM connection, ${N2} x ${S2} B through the SASL_SCRAM one`);

    const nowQ = Math.floor(after) + 2 * 3600; // two hours later
    const fromQ = Math.floor(before / 3600) * 3600 - 3600;
    const toQ = nowQ + 3600;
    const q = { from: String(fromQ), to: String(toQ), now: String(nowQ), granularity: 'month' };
    const prov = await usage(d, KEYS.admin, q);
    const u1 = await usage(d, KEYS.c1, q);
    const u2 = await usage(d, KEYS.c2, q);
    const prices = { gb: prov.prices.perGBProcessed, hour: prov.prices.perConnectionHour };
    check(prices.gb === PRICE_GB && prices.hour === PRICE_HOUR, `MSK's prices by default: ${JSON.stringify(prov.prices)}`);

    // each account sees only its own
    const provItems = prov.asClusterOwner.items;
    check(provItems.length === 2 && prov.asConnectionOwner.items.length === 0, `provider view: ${JSON.stringify(prov)}`);
    check(u1.asConnectionOwner.items.length === 1 && u1.asConnectionOwner.items[0].vpcConnectionArn === conn1 &&
      u1.asClusterOwner.items.length === 0, `client one sees only its connection: ${JSON.stringify(u1)}`);
    check(u2.asConnectionOwner.items.length === 1 && u2.asConnectionOwner.items[0].vpcConnectionArn === conn2 &&
      u2.asClusterOwner.items.length === 0, `client two sees only its connection: ${JSON.stringify(u2)}`);
    const forbidden = await usage(d, KEYS.c1, { ...q, vpcConnectionArn: conn2 });
    check(forbidden.asConnectionOwner.items.length === 0 && forbidden.asClusterOwner.items.length === 0,
      'client one cannot read client two\'s connection by naming it');

    for (const [item, n, size, scheme, conn] of [[u1.asConnectionOwner.items[0], N1, S1, 'SASL_IAM', conn1],
      [u2.asConnectionOwner.items[0], N2, S2, 'SASL_SCRAM', conn2]]) {
      const payload = n * size;
      check(item.authentication === scheme, `${conn} scheme ${item.authentication}`);
      // overhead: per produce request headers and record-batch framing (< 256 B), plus the
      // connection set-up (ApiVersions, SASL, Metadata: < 16 KiB)
      check(item.bytesIn >= payload && item.bytesIn <= payload + n * 256 + 16384,
        `${scheme}: bytesIn ${item.bytesIn} within protocol overhead of the ${payload}-byte payload`);
      check(item.bytesOut > 0 && item.bytesOut <= n * 256 + 16384, `${scheme}: bytesOut ${item.bytesOut} (responses only)`);
      check(item.requests >= n && item.requests <= n + 40, `${scheme}: requests ${item.requests} ~ ${n} produce requests + set-up`);
      // requests by API: one Produce request per message (a retry at most), the connection set-up
      // (ApiVersions, SASL, Metadata), and nothing left out of the total
      const rba = item.requestsByApi;
      check(rba && rba.Produce >= n && rba.Produce <= n + 2, `${scheme}: ${n} Produce requests: ${JSON.stringify(rba)}`);
      check(rba.ApiVersions >= 1 && rba.SaslHandshake >= 1 && rba.SaslAuthenticate >= 1 && rba.Metadata >= 1,
        `${scheme}: set-up requests by API: ${JSON.stringify(rba)}`);
      check(Object.values(rba).reduce((a, v) => a + v, 0) === item.requests, `${scheme}: requestsByApi adds up to requests`);
      const lo = (nowQ - after) / 3600, hi = (nowQ - before) / 3600;
      check(item.connectionHours >= lo - 1e-5 && item.connectionHours <= hi + 1e-5,
        `${scheme}: connectionHours ${item.connectionHours} in [${lo}, ${hi}]`);
      checkCost(item, prices, scheme);
      const same = provItems.find((x) => x.vpcConnectionArn === conn);
      check(same && same.bytesIn === item.bytesIn && same.bytesOut === item.bytesOut && near(same.connectionHours, item.connectionHours) &&
        JSON.stringify(same.requestsByApi) === JSON.stringify(item.requestsByApi), `${scheme}: the cluster owner sees the same numbers`);
    }
    const tot = prov.asClusterOwner.total;
    const by = prov.asClusterOwner.byAuthentication;
    check(tot.bytesIn === provItems[0].bytesIn + provItems[1].bytesIn &&
      tot.requests === provItems[0].requests + provItems[1].requests &&
      tot.requestsByApi.Produce === provItems[0].requestsByApi.Produce + provItems[1].requestsByApi.Produce, 'provider total');
    check(by.SASL_SCRAM.requestsByApi.Produce === u2.asConnectionOwner.items[0].requestsByApi.Produce, 'per-scheme requests by API');
    check(by.SASL_IAM && by.SASL_SCRAM && by.SASL_IAM.bytesIn === provItems.find((x) => x.vpcConnectionArn === conn1).bytesIn &&
      near(by.SASL_IAM.connectionHours + by.SASL_SCRAM.connectionHours, tot.connectionHours), `per-scheme totals: ${JSON.stringify(by)}`);
    log(`usage: ${JSON.stringify(u1.asConnectionOwner.items[0])}`);

    // hourly buckets split the same hours and bytes
    const hourly = await usage(d, KEYS.c1, { ...q, granularity: 'hour' });
    const hs = hourly.asConnectionOwner.items;
    check(hs.length >= 3, `hourly items: ${hs.length}`);
    check(near(hourly.asConnectionOwner.total.connectionHours, u1.asConnectionOwner.total.connectionHours),
      'hourly connection-hours add up to the monthly');
    check(hs.reduce((a, x) => a + x.bytesIn, 0) === u1.asConnectionOwner.items[0].bytesIn, 'hourly bytes add up');
    check(hs.reduce((a, x) => a + (x.requestsByApi.Produce || 0), 0) === u1.asConnectionOwner.items[0].requestsByApi.Produce,
      'hourly Produce requests add up');
    check(hs.every((x) => x.connectionHours <= 1 + 1e-9), 'no hour holds more than one connection-hour');

    // errors
    const bad = await signedGet(d, KEYS.c1, '/strait/v1/usage', { granularity: 'week' });
    check(bad.status === 400 && bad.type === 'BadRequestException', `bad granularity: ${bad.status} ${bad.body}`);
    const unsigned = await httpGet(`${d.api}/strait/v1/usage`);
    check(unsigned.status === 403, `unsigned usage request refused: ${unsigned.status}`);

    // the CLI, as each account
    const cliEnv = (k) => ({ ...process.env, AWS_ACCESS_KEY_ID: k.accessKeyId, AWS_SECRET_ACCESS_KEY: k.secretAccessKey,
      AWS_REGION: REGION, STRAIT_ENDPOINT_URL: d.api });
    const csv = execFileSync(path.join(BUILD_DIR, 'strait'), ['usage', '--from', String(fromQ), '--to', String(toQ), '--now', String(nowQ),
      '--granularity', 'day', '--output', 'csv'], { encoding: 'utf8', env: cliEnv(KEYS.c2) });
    const rows = csv.trim().split('\n');
    check(rows[0].startsWith('view,periodStart') && rows.slice(1).every((r) => r.includes(conn2) && !r.includes(conn1)),
      `strait usage --output csv as client two:\n${csv}`);
    const table = execFileSync(path.join(BUILD_DIR, 'strait'), ['usage', '--from', String(fromQ), '--to', String(toQ), '--now', String(nowQ),
      '--view', 'cluster-owner'], { encoding: 'utf8', env: cliEnv(KEYS.admin) });
    check(table.includes('TOTAL') && table.includes('SASL_IAM') && table.includes('SASL_SCRAM') && table.includes('TOP APIS') &&
      table.includes(`Produce:${tot.requestsByApi.Produce}`), `strait usage table:\n${table}`);
    check(rows[0].endsWith(',requestsByApi') && rows.slice(1).every((r) => r.includes(`Produce=${u2.asConnectionOwner.items[0].requestsByApi.Produce}`)),
      `strait usage --output csv: requests by API:\n${csv}`);
    const byApi = execFileSync(path.join(BUILD_DIR, 'strait'), ['usage', '--from', String(fromQ), '--to', String(toQ), '--now', String(nowQ),
      '--granularity', 'month', '--output', 'csv', '--by', 'api'], { encoding: 'utf8', env: cliEnv(KEYS.c1) }).trim().split('\n');
    const produceRow = byApi.find((r) => r.endsWith(`,Produce,${u1.asConnectionOwner.items[0].requestsByApi.Produce}`));
    check(byApi[0] === 'view,periodStart,periodEnd,vpcConnectionArn,clusterArn,authentication,clientAccount,clusterAccount,api,requests' &&
      produceRow && produceRow.startsWith('connection-owner,') && produceRow.includes(conn1) && byApi.every((r) => !r.includes(conn2)) &&
      byApi.length - 1 === Object.keys(u1.asConnectionOwner.items[0].requestsByApi).length,
      `strait usage --by api --output csv as client one:\n${byApi.join('\n')}`);
    const cj = JSON.parse(execFileSync(path.join(BUILD_DIR, 'strait'), ['usage', '--from', String(fromQ), '--to', String(toQ),
      '--now', String(nowQ), '--granularity', 'month', '--output', 'json', '--vpc-connection-arn', conn1], { encoding: 'utf8', env: cliEnv(KEYS.c1) }));
    check(cj.asConnectionOwner.items[0].bytesIn === u1.asConnectionOwner.items[0].bytesIn, 'strait usage --output json');
    log('strait usage: csv, table and json per account');

    // strait status (admin socket): the managed cluster, its brokers and ports, both connections
    const status = execFileSync(path.join(BUILD_DIR, 'strait'), ['status', '--data-dir', d.data], { encoding: 'utf8' });
    check(status.includes(`cluster metered ${arn} (ACTIVE) health ok`) && /broker 1 +port 14001/.test(status) &&
      /broker 2 +port 14002/.test(status) && status.includes(`connection ${conn1} SASL_IAM AVAILABLE`) &&
      status.includes(`connection ${conn2} SASL_SCRAM AVAILABLE`), `strait status:\n${status}`);
    const sj = JSON.parse(execFileSync(path.join(BUILD_DIR, 'strait'), ['status', '--data-dir', d.data, '--output', 'json'], { encoding: 'utf8' }));
    const mc = sj.managedClusters.find((c) => c.clusterArn === arn);
    const ep3 = mc.endpoints.find((e) => e.address === ip(3));
    check(ep3 && ep3.vpcConnectionArn === conn1 && ep3.counters.authOk >= 1 && ep3.counters.bytesFromClients > 0,
      `status endpoint ${JSON.stringify(ep3)}`);
    log('strait status: cluster health, brokers and ports, connections, endpoint counters');

    // ---- metrics: promtool, and Prometheus sees the counter move with the traffic
    const m1 = await httpGet(`http://${d.metrics}/metrics`);
    const mfile = path.join(dir, 'metrics.txt');
    fs.writeFileSync(mfile, m1.body);
    const exported = metricValue(m1.body, 'strait_client_received_bytes_total', conn1);
    check(exported >= t1.payload, `exported bytes ${exported} >= payload ${t1.payload}`);
    check(metricValue(m1.body, 'strait_requests_total', conn2) >= N2, 'requests by VPC connection');
    check(/strait_store_write_duration_seconds_count \d+/.test(m1.body) && /strait_snapshot_generation \d+/.test(m1.body),
      'store write latency and snapshot generation exported');
    // SASL on the data plane: kafkajs authenticated through both connections
    const authOk = (conn) => m1.body.split('\n').filter((l) => l.startsWith('strait_client_authentications_total{') &&
      l.includes(`vpc_connection="${conn}"`) && l.includes('result="success"')).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    check(authOk(conn1) >= 1 && authOk(conn2) >= 1, `SASL successes by connection: ${authOk(conn1)}, ${authOk(conn2)}`);
    execFileSync('sh', ['-c', `promtool check metrics < ${mfile}`], { stdio: 'inherit' });
    log('promtool check metrics: ok');
    await waitFor(async () => (await promQuery(prom.base, q1)) === exported,
      `prometheus query ${q1} = ${exported}`, 60000, 250);
    log(`prometheus: ${q1} moved 0 -> ${exported}`);
    // requests by API: the Produce counter of each connection (absent before the traffic: keys
    // never seen are left out) equals the metered Produce requests
    const apiLine = (name, conn, api) => m1.body.split('\n').filter((l) => l.startsWith(`${name}{`) &&
      l.includes(`vpc_connection="${conn}"`) && l.includes(`api="${api}"`)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    check(metricValue(m0.body, 'strait_api_requests_total', conn1) === null, 'no API counters before the traffic');
    for (const [conn, item] of [[conn1, u1.asConnectionOwner.items[0]], [conn2, u2.asConnectionOwner.items[0]]]) {
      check(apiLine('strait_api_requests_total', conn, 'Produce') === item.requestsByApi.Produce &&
        apiLine('strait_api_request_bytes_total', conn, 'Produce') >= (conn === conn1 ? t1.payload : t2.payload),
        `strait_api_requests_total{api="Produce"} of ${conn} = metered ${item.requestsByApi.Produce}`);
      const qp = `sum(strait_api_requests_total{vpc_connection="${conn}",api="Produce"})`;
      await waitFor(async () => (await promQuery(prom.base, qp)) === item.requestsByApi.Produce,
        `prometheus query ${qp} = ${item.requestsByApi.Produce}`, 60000, 250);
      log(`prometheus: ${qp} moved to ${item.requestsByApi.Produce}`);
    }
    // closes by reason add up to the closes (kafkajs disconnected its producers)
    const closedBy = (conn) => m1.body.split('\n').filter((l) => l.startsWith('strait_client_connections_closed_total{') &&
      l.includes(`vpc_connection="${conn}"`));
    check(closedBy(conn1).length > 0 && closedBy(conn1).every((l) => / reason="[a-z_]+"|,reason="[a-z_]+"/.test(l)) &&
      closedBy(conn1).reduce((a, l) => a + Number(l.split(' ').pop()), 0) >= 1, `closes by reason:\n${closedBy(conn1).join('\n')}`);
    prom.proc.kill('SIGTERM');
    await prom.exited;
    prom = null;

    // ---- a clean restart keeps the counts; prices are configurable
    const r = await d.stop();
    check(r && r.code === 0, `straitd exited cleanly: ${JSON.stringify(r)}`);
    await d.start(['--price-per-gb', '1000', '--price-per-connection-hour', '0.5', '--usage-flush-seconds', '1']);
    const re1 = await usage(d, KEYS.c1, q);
    const it1 = re1.asConnectionOwner.items[0];
    const old1 = u1.asConnectionOwner.items[0];
    check(it1.bytesIn === old1.bytesIn && it1.bytesOut === old1.bytesOut && it1.requests === old1.requests &&
      JSON.stringify(it1.requestsByApi) === JSON.stringify(old1.requestsByApi),
      `counts after restart: ${JSON.stringify(it1)} vs ${JSON.stringify(old1)}`);
    check(near(it1.connectionHours, old1.connectionHours), 'connection-hours after restart');
    check(re1.prices.perGBProcessed === 1000 && re1.prices.perConnectionHour === 0.5, 'configured prices');
    checkCost(it1, { gb: 1000, hour: 0.5 }, 'after restart');
    // a crash loses at most one flush interval: with --usage-flush-seconds 1, traffic is written
    // by the periodic flush (no usage query in between), then straitd is killed with SIGKILL
    const flushes = async () => {
      const m = await httpGet(`http://${d.metrics}/metrics`);
      return Number((/^strait_usage_flushes_total (\d+)$/m.exec(m.body) || [])[1]);
    };
    const f0 = await flushes();
    await apiVersionsTraffic(ip(4), 14002, 10, 500);
    await waitFor(async () => (await flushes()) > f0, 'a periodic usage flush', 30000, 200);
    d.proc.kill('SIGKILL');
    await d.exited;
    d.proc = null;
    await d.start();
    const re2 = await usage(d, KEYS.c1, q);
    check(re2.asConnectionOwner.items[0].bytesIn >= old1.bytesIn + 5000 && re2.asConnectionOwner.items[0].requests === old1.requests + 10 &&
      re2.asConnectionOwner.items[0].requestsByApi.ApiVersions === old1.requestsByApi.ApiVersions + 10 &&
      re2.asConnectionOwner.items[0].requestsByApi.Produce === old1.requestsByApi.Produce,
      `traffic flushed before a crash survives it: ${JSON.stringify(re2.asConnectionOwner.items[0])}`);
    check(re2.prices.perGBProcessed === PRICE_GB, 'default prices again without the flags');
    // a clean stop loses nothing: traffic, SIGTERM at once (the periodic flush is 60 s away)
    await apiVersionsTraffic(ip(3), 14001, 5, 300);
    const r2 = await d.stop();
    check(r2 && r2.code === 0, 'clean stop');
    await d.start();
    const re3 = await usage(d, KEYS.c1, q);
    check(re3.asConnectionOwner.items[0].requests === old1.requests + 15 &&
      re3.asConnectionOwner.items[0].requestsByApi.ApiVersions === old1.requestsByApi.ApiVersions + 15 &&
      re3.asConnectionOwner.items[0].bytesIn >= re2.asConnectionOwner.items[0].bytesIn + 1500,
      `traffic right before a clean stop is kept: ${JSON.stringify(re3.asConnectionOwner.items[0])}`);
    log('restart: counts kept, prices configurable, periodic flush survives SIGKILL, clean stop loses nothing');

    // ---- deleting a connection stops its hours (a later `now` adds nothing)
    c2 = kafka(d, KEYS.c2);
    await c2.send(new K.DeleteVpcConnectionCommand({ Arn: conn2 }));
    await waitFor(async () => { try { await c2.send(new K.DescribeVpcConnectionCommand({ Arn: conn2 })); return false; } catch (e) { return e.name === 'NotFoundException'; } },
      'connection two deleted');
    const gone1 = await usage(d, KEYS.c2, { ...q, now: String(nowQ + 3600), to: String(toQ + 3600) });
    const gone2 = await usage(d, KEYS.c2, { ...q, now: String(nowQ + 7200), to: String(toQ + 7200) });
    check(gone1.asConnectionOwner.items.length === 1 && gone1.asConnectionOwner.items[0].bytesIn === u2.asConnectionOwner.items[0].bytesIn,
      'a deleted connection keeps its usage');
    check(near(gone1.asConnectionOwner.total.connectionHours, gone2.asConnectionOwner.total.connectionHours),
      'a deleted connection accrues no more hours');
    log('deleted connection: usage kept, hours stopped');

    const stopped = await d.stop();
    check(stopped && stopped.code === 0, 'straitd stopped cleanly');
    log('PASS');
  } catch (e) {
    if (prom) prom.proc.kill('SIGKILL');
    d.printLog();
    await d.stop();
    throw e;
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
