// Data-plane authorization of SASL_IAM principals (issue 6, msk-iam-access.md §8) with real
// clients over real sockets: a provider account's cluster with SASL/IAM multi-VPC connectivity,
// a client account with several IAM users (identity policies of different reach), one SASL_IAM
// VPC connection, kafkajs + @jm18457/kafkajs-msk-iam-authentication-mechanism over TLS
// (DATA/tls/ca.pem). Every Kafka request is decided by the caller's identity policies and, across
// accounts, the cluster policy too. Steps (ST_AUTHZ_STEPS=a,c,h runs a subset; setup always runs):
//  a. cross-account user with kafka-cluster:* and the MSK docs' cluster policy: list, produce, consume;
//  b. a cluster-policy Deny of WriteData on topic/<cluster>/*/payments-*: ONE Produce request to
//     'orders' and 'payments-eu' -> orders written, payments-eu TOPIC_AUTHORIZATION_FAILED;
//  c. read-only principal: consumes, produce -> TOPIC_AUTHORIZATION_FAILED;
//  d. group it may not use (AlterGroup denied on forbidden-*) -> GROUP_AUTHORIZATION_FAILED;
//  e. transactional producer without AlterTransactionalId -> TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
//     with it (and a cluster policy covering transactional ids) -> commits;
//  f. only kafka-cluster:Connect in the client account -> describe/produce denied although the
//     cluster policy allows everything;
//  g. same-account principal, no cluster-policy statement, identity policy alone -> produce + consume
//     through a SASL_IAM VPC connection of the owner account (from another of its VPCs);
//  h. cluster policy edited while a producer is connected: the next send on the same connection is
//     denied, then allowed again once the old policy is back (no reconnect);
//  i. Metadata for all topics lists only the topics the principal may describe (orders*);
//  j. DATA/audit.log has the DENY record of step b; `strait audit tail --denied --json` prints it;
//  l. condition keys on data-plane requests: aws:SourceVpc, aws:SourceIp, aws:SecureTransport.
//
// Environment: ST_BUILD_DIR (straitd, strait), ST_SOURCE_DIR, ST_AUTHZ_STEPS, ST_KEEP (keep the
// temp dir), ST_LOG_LEVEL. Exit 77 (skip) only when the node modules are missing. Every wait is
// bounded; nothing asserts on wall-clock time.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const tls = require('tls');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');

const SOURCE_DIR = process.env.ST_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const BUILD_DIR = process.env.ST_BUILD_DIR || path.join(SOURCE_DIR, 'build');
let K;
let Kafka;
let logLevel;
let createMechanism;
try {
  const interop = createRequire(path.join(SOURCE_DIR, 'tests', 'interop', 'package.json'));
  K = interop('@aws-sdk/client-kafka');
  ({ Kafka, logLevel } = interop('kafkajs'));
  ({ createMechanism } = interop('@jm18457/kafkajs-msk-iam-authentication-mechanism'));
} catch (e) {
  console.log(`SKIP: node modules missing (cd tests/interop && npm ci): ${e.message}`);
  process.exit(77);
}
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const REGION = 'us-east-1';
const PROVIDER = '111122223333';
const CLIENT = '444455556666';
const CLUSTER_NAME = 'authz';
const KEYS = {
  admin: { accessKeyId: 'AKIAPROVIDERADMIN001', secretAccessKey: 'providerAdminSecret/0000000000000000000001' },
  own: { accessKeyId: 'AKIAPROVIDEROWNAPP01', secretAccessKey: 'providerOwnAppSecret/000000000000000000001' },
  dev: { accessKeyId: 'AKIACLIENTDEV0000001', secretAccessKey: 'clientDevSecret/000000000000000000000000001' },
  reader: { accessKeyId: 'AKIACLIENTREADER0001', secretAccessKey: 'clientReaderSecret/0000000000000000000001' },
  txn: { accessKeyId: 'AKIACLIENTTXNNOALT01', secretAccessKey: 'clientTxnSecret/000000000000000000000000001' },
  conly: { accessKeyId: 'AKIACLIENTCONNECTON1', secretAccessKey: 'clientConnectOnlySecret/00000000000000001' },
  lister: { accessKeyId: 'AKIACLIENTLISTER0001', secretAccessKey: 'clientListerSecret/0000000000000000000001' },
};
const DEV_ARN = `arn:aws:iam::${CLIENT}:user/dev`;

const A = 100 + Math.floor(Math.random() * 150);
const B = Math.floor(Math.random() * 250) + 1;
const ip = (n) => `127.${A}.${B}.${n}`;
const RUN = Math.random().toString(36).slice(2, 8); // makes message values unique per run

function log(msg) { console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`); }
function check(cond, msg) { if (!cond) throw new Error(`check failed: ${msg}`); }

async function waitFor(pred, what, timeoutMs = 30000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

class Straitd {
  constructor(dir) { this.dir = dir; this.data = path.join(dir, 'data'); this.ready = path.join(dir, 'ready.json'); }
  async start(extra = []) {
    this.logFile = path.join(this.dir, 'straitd.log');
    const out = fs.openSync(this.logFile, 'a');
    this.proc = spawn(path.join(BUILD_DIR, 'straitd'), ['--data-dir', this.data, '--embedded-kafka', '1',
      '--insecure-endpoint', ip(1), '--api-listen', '127.0.0.1:0', '--ready-file', this.ready,
      '--metadata-refresh-ms', '1000', '--log-level', process.env.ST_LOG_LEVEL || 'info', ...extra],
    { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r({ code, sig })));
    const ready = await Promise.race([waitFor(() => {
      try { return JSON.parse(fs.readFileSync(this.ready, 'utf8')); } catch (e) { return null; }
    }, 'the ready file'), this.exited.then((r) => { throw new Error(`straitd exited early: ${JSON.stringify(r)}`); })]);
    this.api = `http://${ready.apiEndpoint}`;
  }
  async stop() {
    if (!this.proc) return null;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc && this.proc.kill('SIGKILL'), 15000);
    const r = await this.exited;
    clearTimeout(t);
    this.proc = null;
    return r;
  }
  text() { try { return fs.readFileSync(this.logFile, 'utf8'); } catch (e) { return ''; } }
}

// ---- IAM: two accounts, one user per kind of identity policy
function applyDoc() {
  const apiActions = ['kafka:CreateVpcConnection', 'kafka:DescribeVpcConnection', 'kafka:ListVpcConnections',
    'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2'];
  const user = (name, key, statements) => ({ name, accessKeys: [{ id: key.accessKeyId, secret: key.secretAccessKey }],
    inlinePolicies: { p: { Version: '2012-10-17', Statement: statements } } });
  const kc = (a) => a.map((x) => `kafka-cluster:${x}`);
  return {
    region: REGION,
    accounts: [
      { id: PROVIDER, name: 'provider',
        users: [
          { name: 'admin', accessKeys: [{ id: KEYS.admin.accessKeyId, secret: KEYS.admin.secretAccessKey }],
            managedPolicies: ['AmazonMSKFullAccess'] },
          // g: a principal of the cluster owner's account, allowed by its identity policy alone
          // (the MSK docs' identity policy example, §6).
          user('ownapp', KEYS.own, [
            { Effect: 'Allow', Action: apiActions, Resource: '*' },
            { Effect: 'Allow', Action: kc(['Connect', 'DescribeCluster']),
              Resource: `arn:aws:kafka:${REGION}:${PROVIDER}:cluster/${CLUSTER_NAME}/*` },
            { Effect: 'Allow', Action: kc(['*Topic*', 'WriteData', 'ReadData']),
              Resource: `arn:aws:kafka:${REGION}:${PROVIDER}:topic/${CLUSTER_NAME}/*` },
            { Effect: 'Allow', Action: kc(['AlterGroup', 'DescribeGroup']),
              Resource: `arn:aws:kafka:${REGION}:${PROVIDER}:group/${CLUSTER_NAME}/*` }])],
        vpcs: [{ id: 'vpc-provider', cidr: '10.0.0.0/16',
          subnets: [{ id: 'subnet-p1', azId: 'use1-az1', endpointAddress: ip(2) }],
          securityGroups: [{ id: 'sg-p', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }],
            egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] },
        // g: another VPC of the owner account, whose applications reach the cluster through a
        // VPC connection of their own account.
        { id: 'vpc-provider-apps', cidr: '10.2.0.0/16',
          subnets: [{ id: 'subnet-pa1', azId: 'use1-az1', endpointAddress: ip(9), endpointAddresses: [ip(10)] }],
          securityGroups: [{ id: 'sg-pa', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }],
            egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] }] },
      { id: CLIENT, name: 'client',
        users: [
          // a, b, e (with AlterTransactionalId), h: the MSK "Basic" identity policy.
          user('dev', KEYS.dev, [{ Effect: 'Allow', Action: apiActions.concat(['kafka-cluster:*']), Resource: '*' }]),
          // c, d: read-only, and a group it may not use.
          user('reader', KEYS.reader, [
            { Effect: 'Allow', Action: kc(['Connect', 'DescribeTopic', 'ReadData', 'DescribeGroup', 'AlterGroup']), Resource: '*' },
            { Effect: 'Deny', Action: 'kafka-cluster:AlterGroup',
              Resource: `arn:aws:kafka:${REGION}:${PROVIDER}:group/${CLUSTER_NAME}/*/forbidden-*` }]),
          // e: a transactional producer's actions except AlterTransactionalId.
          user('txn', KEYS.txn, [{ Effect: 'Allow', Action: kc(['Connect', 'DescribeCluster', 'WriteDataIdempotently',
            'DescribeTopic', 'WriteData', 'ReadData', 'DescribeGroup', 'AlterGroup', 'DescribeTransactionalId']), Resource: '*' }]),
          // f: Connect only (authentication needs it), nothing else.
          user('conly', KEYS.conly, [{ Effect: 'Allow', Action: 'kafka-cluster:Connect', Resource: '*' }]),
          // i: may describe orders* only.
          user('lister', KEYS.lister, [
            { Effect: 'Allow', Action: 'kafka-cluster:Connect', Resource: '*' },
            { Effect: 'Allow', Action: 'kafka-cluster:DescribeTopic',
              Resource: `arn:aws:kafka:${REGION}:${PROVIDER}:topic/${CLUSTER_NAME}/*/orders*` }])],
        vpcs: [{ id: 'vpc-client', cidr: '10.1.0.0/16',
          subnets: [{ id: 'subnet-c1', azId: 'use1-az1', endpointAddress: ip(4), endpointAddresses: [ip(7)] }],
          securityGroups: [{ id: 'sg-c', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }],
            egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] }] },
    ],
  };
}

// ARNs of this cluster's resources (msk-iam-access.md §4).
let C = null;
function clusterArns(clusterArn) {
  const base = clusterArn.slice(0, clusterArn.indexOf(':cluster/'));
  const [, name, uuid] = clusterArn.slice(clusterArn.indexOf(':cluster/') + 1).split('/');
  return { arn: clusterArn, base, name, uuid,
    topic: (t) => `${base}:topic/${name}/${uuid}/${t}`,
    group: (g) => `${base}:group/${name}/${uuid}/${g}`,
    txn: (x) => `${base}:transactional-id/${name}/${uuid}/${x}` };
}

// The basic cluster policy of the MSK docs (msk-iam-access.md §9) for the client account, plus
// `extra` statements.
function clusterPolicy(extra = []) {
  const st = [
    { Sid: 'Basic', Effect: 'Allow', Principal: { AWS: CLIENT }, Action: ['kafka:CreateVpcConnection',
      'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka-cluster:*'], Resource: C.arn },
    { Sid: 'Topics', Effect: 'Allow', Principal: { AWS: CLIENT }, Action: 'kafka-cluster:*',
      Resource: `${C.base}:topic/${C.name}/*` },
    { Sid: 'Groups', Effect: 'Allow', Principal: { AWS: CLIENT }, Action: 'kafka-cluster:*',
      Resource: `${C.base}:group/${C.name}/*` }];
  return JSON.stringify({ Version: '2012-10-17', Statement: st.concat(extra) });
}
const TXN_STATEMENT = { Sid: 'TransactionalIds', Effect: 'Allow', Principal: { AWS: CLIENT }, Action: 'kafka-cluster:*',
  Resource: () => `${C.base}:transactional-id/${C.name}/*` };
const txnStatement = () => ({ ...TXN_STATEMENT, Resource: TXN_STATEMENT.Resource() });
const denyWrite = (sid, topicPattern) => ({ Sid: sid, Effect: 'Deny', Principal: { AWS: CLIENT },
  Action: 'kafka-cluster:WriteData', Resource: `${C.base}:topic/${C.name}/*/${topicPattern}` });

async function waitActive(c, arn) {
  return waitFor(async () => {
    const i = (await c.send(new K.DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo;
    return i.State === 'ACTIVE' ? i : null;
  }, `cluster ${arn} ACTIVE`);
}
async function waitConn(c, arn) {
  return waitFor(async () => (await c.send(new K.DescribeVpcConnectionCommand({ Arn: arn }))).State === 'AVAILABLE',
    `connection ${arn} AVAILABLE`);
}

// ---- kafkajs helpers
let caPem = null;
// A kafkajs client whose TCP/TLS sockets are counted (to prove "no reconnect").
function client(brokers, creds, id) {
  const counter = { sockets: 0 };
  const socketFactory = ({ host, port, ssl, onConnect }) => {
    counter.sockets++;
    const s = ssl ? tls.connect(Object.assign({ host, port }, net.isIP(host) ? {} : { servername: host }, ssl), onConnect)
      : net.connect({ host, port }, onConnect);
    s.setKeepAlive(true, 60000);
    return s;
  };
  const kafka = new Kafka({ brokers, clientId: id, ssl: { ca: [caPem] },
    sasl: createMechanism({ region: REGION, credentials: creds }), logLevel: logLevel.NOTHING,
    retry: { retries: 0 }, connectionTimeout: 5000, authenticationTimeout: 5000, requestTimeout: 15000, socketFactory });
  kafka.counter = counter;
  return kafka;
}

// Everything a step opens, disconnected when the step ends (pass or fail).
let opened = [];
function track(x) { opened.push(x); return x; }
async function closeAll() {
  const list = opened;
  opened = [];
  await Promise.all(list.map((x) => withTimeout(x.disconnect(), 10000, 'disconnect').catch(() => {})));
}

// kafkajs wraps protocol errors: KafkaJSNonRetriableError / KafkaJSNumberOfRetriesExceeded
// (.cause), KafkaJSAggregateError (.errors), crash events (.error). Walk all of it.
function errChain(e) {
  const out = [];
  const seen = new Set();
  const walk = (x) => {
    if (!x || typeof x !== 'object' || seen.has(x)) return;
    seen.add(x);
    out.push(x);
    walk(x.cause);
    walk(x.originalError);
    walk(x.error);
    if (Array.isArray(x.errors)) x.errors.forEach(walk);
  };
  walk(e);
  return out;
}
const errText = (e) => errChain(e).map((x) => `${x.name}${x.type ? ` [${x.type}]` : ''}: ${x.message}`).join(' <- ');
const errTypes = (e) => errChain(e).flatMap((x) => [x.type, x.name]).filter(Boolean);

async function expectKafkaError(what, types, fn) {
  types = [].concat(types);
  let res;
  try {
    res = await withTimeout(Promise.resolve().then(fn), 40000, what);
  } catch (e) {
    check(errTypes(e).some((t) => types.includes(t)), `${what}: expected ${types.join(' or ')}, got ${errText(e)}`);
    log(`  ok: ${what}: ${errText(e).slice(0, 300)}`);
    return e;
  }
  throw new Error(`check failed: ${what}: succeeded (${JSON.stringify(res)}), expected ${types.join(' or ')}`);
}

async function produce(kafka, topic, values, opts = {}) {
  const p = track(kafka.producer({ allowAutoTopicCreation: false, ...opts }));
  await p.connect();
  await p.send({ topic, messages: values.map((value) => ({ value, partition: 0 })) });
  await p.disconnect();
}

// Consumes `topic` from the beginning with `groupId` until every value of `want` was seen. The
// tests write every message to partition 0, so a value written before the last wanted one has
// been seen too: the callers' "was not written" checks are sound.
async function consumeValues(kafka, topic, groupId, want, timeoutMs = 30000) {
  const consumer = track(kafka.consumer({ groupId, retry: { retries: 0, restartOnFailure: async () => false } }));
  const seen = new Set();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await withTimeout(new Promise((resolve, reject) => {
      consumer.on(consumer.events.CRASH, (ev) => reject(ev.payload.error));
      consumer.run({ eachMessage: async ({ message }) => {
        seen.add(message.value.toString());
        if (want.every((v) => seen.has(v))) resolve();
      } }).catch(reject);
    }), timeoutMs, `consuming ${want.join(', ')} from ${topic} (seen: ${[...seen].join(', ')})`);
  } finally {
    await withTimeout(consumer.disconnect(), 10000, 'consumer disconnect').catch(() => {});
  }
  return seen;
}

// Runs a consumer that is expected to fail: rejects with the error of subscribe, run or the crash
// event; resolves (a description) when a message is consumed after all.
async function consumerFailure(kafka, topic, groupId, timeoutMs = 30000) {
  const consumer = track(kafka.consumer({ groupId, retry: { retries: 0, restartOnFailure: async () => false } }));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    return await withTimeout(new Promise((resolve, reject) => {
      consumer.on(consumer.events.CRASH, (ev) => reject(ev.payload.error));
      consumer.run({ eachMessage: async ({ message }) => resolve(`consumed "${message.value}"`) }).catch(reject);
    }), timeoutMs, `the consumer of ${topic} (group ${groupId}) to fail`);
  } finally {
    await withTimeout(consumer.disconnect(), 10000, 'consumer disconnect').catch(() => {});
  }
}

// ---- steps
const ALL_STEPS = 'abcdefghijl'.split('');
const selected = new Set((process.env.ST_AUTHZ_STEPS || ALL_STEPS.join(',')).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
const results = [];

async function step(letter, title, fn) {
  if (!selected.has(letter)) { results.push({ letter, title, status: 'skipped' }); return; }
  log(`== step ${letter}: ${title}`);
  try {
    await fn();
    results.push({ letter, title, status: 'PASS' });
    log(`   step ${letter}: PASS`);
  } catch (e) {
    results.push({ letter, title, status: 'FAIL', error: e.message });
    console.error(`   step ${letter}: FAIL: ${e.stack || e}`);
  } finally {
    await closeAll();
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st_authz_iam_'));
  const d = new Straitd(dir);
  let failed = false;
  try {
    await d.start();
    // ---- setup (always): accounts, cluster, connectivity, cluster policy, VPC connection, topics
    const applyFile = path.join(dir, 'apply.json');
    fs.writeFileSync(applyFile, JSON.stringify(applyDoc()));
    execFileSync(path.join(BUILD_DIR, 'strait'), ['admin', '--data-dir', d.data, 'apply', applyFile], { encoding: 'utf8' });
    const admin = new K.KafkaClient({ region: REGION, endpoint: d.api, credentials: KEYS.admin, maxAttempts: 1 });
    const devApi = new K.KafkaClient({ region: REGION, endpoint: d.api, credentials: KEYS.dev, maxAttempts: 1 });
    const arn = (await admin.send(new K.CreateClusterV2Command({ ClusterName: CLUSTER_NAME,
      Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: 1,
        ClientAuthentication: { Sasl: { Iam: { Enabled: true } }, Unauthenticated: { Enabled: false } },
        BrokerNodeGroupInfo: { ClientSubnets: ['subnet-p1'], InstanceType: 'kafka.m5.large', SecurityGroups: ['sg-p'] } } }))).ClusterArn;
    C = clusterArns(arn);
    let info = await waitActive(admin, arn);
    await admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Iam: { Enabled: true } } } } } }));
    info = await waitActive(admin, arn);
    const putPolicy = async (policy, why) => {
      // Replacing a policy takes the current one's version (as MSK's PutClusterPolicy does).
      let cur;
      try { cur = (await admin.send(new K.GetClusterPolicyCommand({ ClusterArn: arn }))).CurrentVersion; } catch (e) {
        if (e.name !== 'NotFoundException') throw e;
      }
      await admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: policy, ...(cur ? { CurrentVersion: cur } : {}) }));
      const got = (await admin.send(new K.GetClusterPolicyCommand({ ClusterArn: arn }))).Policy;
      check(JSON.stringify(JSON.parse(got)) === JSON.stringify(JSON.parse(policy)), 'GetClusterPolicy returns the policy just put');
      log(`  PutClusterPolicy: ${why}`);
    };
    await putPolicy(clusterPolicy(), 'the basic policy of the MSK docs for the client account');
    const conn = (await devApi.send(new K.CreateVpcConnectionCommand({ TargetClusterArn: arn, VpcId: 'vpc-client',
      ClientSubnets: ['subnet-c1'], SecurityGroups: ['sg-c'], Authentication: 'SASL_IAM' }))).VpcConnectionArn;
    await waitConn(devApi, conn);
    const bb = await devApi.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    const brokers = (bb.BootstrapBrokerStringVpcConnectivitySaslIam || '').split(',').filter(Boolean);
    check(brokers.length === 1, `SASL_IAM bootstrap string ${JSON.stringify(bb)}`);
    caPem = fs.readFileSync(path.join(d.data, 'tls', 'ca.pem'), 'utf8');
    log(`cluster ${arn}; SASL_IAM VPC connection ${conn} at ${brokers}`);

    const dev = client(brokers, KEYS.dev, 'dev');
    const topics = ['orders', 'orders-archive', 'payments-eu', 'live-topic', 'ro-topic', 'txn-topic', 'own-topic', 'ctx-topic'];
    // Topics are auto-created by a Metadata request (kafkajs admin asks with AllowAutoTopicCreation,
    // which needs kafka-cluster:CreateTopic): kafkajs admin.createTopics cannot be used on the
    // embedded (librdkafka mock) cluster, whose Metadata names controller 0, a broker that does not
    // exist, and kafkajs sends CreateTopics to the controller.
    const dadm = track(dev.admin());
    await dadm.connect();
    await waitFor(async () => {
      try { await dadm.fetchTopicMetadata({ topics }); } catch (e) { return false; }
      const have = await dadm.listTopics();
      return topics.every((t) => have.includes(t));
    }, 'the topics to be auto-created and listed', 20000, 250);
    await closeAll();
    log(`setup: topics ${topics.join(', ')} auto-created by the client account's dev user (CreateTopic)`);

    // ---- a
    await step('a', 'cross-account user (kafka-cluster:*) + MSK basic cluster policy: list, produce, consume', async () => {
      const adm = track(dev.admin());
      await adm.connect();
      const listed = await adm.listTopics();
      check(topics.every((t) => listed.includes(t)), `listTopics ${JSON.stringify(listed)} has all of ${topics}`);
      log(`  listTopics: ${listed.sort().join(', ')}`);
      await produce(dev, 'orders', [`a-${RUN}`]);
      await consumeValues(dev, 'orders', 'a-group', [`a-${RUN}`]);
      log('  produced and consumed orders');
    });

    // ---- b
    await step('b', 'cluster policy denies WriteData on payments-*: one Produce to orders + payments-eu', async () => {
      await putPolicy(clusterPolicy([denyWrite('NoPayments', 'payments-*')]), `+ Deny kafka-cluster:WriteData on ${C.base}:topic/${C.name}/*/payments-*`);
      const p = track(dev.producer({ allowAutoTopicCreation: false }));
      const produceRequests = [];
      p.on(p.events.REQUEST, (ev) => { if (ev.payload.apiName === 'Produce') produceRequests.push(ev.payload); });
      await p.connect();
      // kafkajs sends one Produce request per broker (one broker here) and, in the produce
      // response parser, throws the first partition error: the allowed part of the request is
      // written by the broker even though sendBatch rejects as a whole.
      await expectKafkaError('sendBatch orders + payments-eu', 'TOPIC_AUTHORIZATION_FAILED', () => p.sendBatch({
        topicMessages: [{ topic: 'orders', messages: [{ value: `b-orders-${RUN}`, partition: 0 }] },
          { topic: 'payments-eu', messages: [{ value: `b-payments-${RUN}`, partition: 0 }] }] }));
      check(produceRequests.length === 1, `exactly one Produce request went out (${produceRequests.length})`);
      await consumeValues(dev, 'orders', `b-group-${RUN}`, [`b-orders-${RUN}`]);
      log('  the orders part of the same request was written (consumed it back)');
      const adm = track(dev.admin());
      await adm.connect();
      const offs = await adm.fetchTopicOffsets('payments-eu');
      check(offs.every((o) => o.high === '0'), `nothing written to payments-eu: ${JSON.stringify(offs)}`);
      log('  payments-eu high watermark is 0');
      // A producer of only payments-eu is denied as a whole (answered without going upstream).
      await expectKafkaError('send to payments-eu alone', 'TOPIC_AUTHORIZATION_FAILED',
        () => p.send({ topic: 'payments-eu', messages: [{ value: `b-payments2-${RUN}`, partition: 0 }] }));
    });

    // ---- c
    await step('c', 'read-only principal: consumes, cannot produce', async () => {
      await putPolicy(clusterPolicy(), 'basic policy');
      await produce(dev, 'ro-topic', [`c-${RUN}`]);
      const reader = client(brokers, KEYS.reader, 'reader');
      await consumeValues(reader, 'ro-topic', 'ro-group', [`c-${RUN}`]);
      log('  reader consumed ro-topic with group ro-group');
      const p = track(reader.producer({ allowAutoTopicCreation: false }));
      await p.connect();
      await expectKafkaError('reader produces to ro-topic', 'TOPIC_AUTHORIZATION_FAILED',
        () => p.send({ topic: 'ro-topic', messages: [{ value: `c-denied-${RUN}`, partition: 0 }] }));
    });

    // ---- d
    await step('d', 'a group the principal may not use (AlterGroup denied on forbidden-*)', async () => {
      await putPolicy(clusterPolicy(), 'basic policy');
      await produce(dev, 'ro-topic', [`d-${RUN}`]);
      const reader = client(brokers, KEYS.reader, 'reader-d');
      // JoinGroup needs AlterGroup: FindCoordinator (DescribeGroup) passes, JoinGroup is refused.
      await expectKafkaError('reader consumes with group forbidden-1', 'GROUP_AUTHORIZATION_FAILED',
        () => consumerFailure(reader, 'ro-topic', 'forbidden-1'));
      // the same principal still consumes with a group it may use
      await consumeValues(reader, 'ro-topic', `allowed-${RUN}`, [`d-${RUN}`]);
      log('  with another group the same principal consumes');
    });

    // ---- e
    await step('e', 'transactional producer needs AlterTransactionalId', async () => {
      // transactionalId without idempotent:true: kafkajs' connect() would otherwise send a
      // non-transactional InitProducerId to the controller, and the embedded (librdkafka mock)
      // cluster names controller 0, which no broker is. transaction() makes the producer
      // idempotent anyway (FindCoordinator + InitProducerId with the transactional id).
      const txnOpts = (id) => ({ transactionalId: id, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      // 1. identity policy without AlterTransactionalId (cluster policy allows transactional ids)
      await putPolicy(clusterPolicy([txnStatement()]), `+ Allow kafka-cluster:* on ${C.base}:transactional-id/${C.name}/*`);
      const noalt = client(brokers, KEYS.txn, 'txn-noalt');
      const p1 = track(noalt.producer(txnOpts(`txn-${RUN}`)));
      await p1.connect();
      await expectKafkaError('transaction() without AlterTransactionalId', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', async () => {
        const t = await p1.transaction();
        await t.send({ topic: 'txn-topic', messages: [{ value: `e-denied-${RUN}`, partition: 0 }] });
        await t.commit();
      });
      // 2. kafka-cluster:* identity policy, but the MSK basic cluster policy has no transactional-id
      // statement: cross-account, both must allow.
      await putPolicy(clusterPolicy(), 'basic policy (no transactional-id statement)');
      const p2 = track(dev.producer(txnOpts(`txn2-${RUN}`)));
      await p2.connect();
      // FindCoordinator for the transactional id already needs DescribeTransactionalId: strait
      // answers it with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which kafkajs' coordinator lookup
      // swallows per broker and reports as "Failed to find group coordinator". The audit log
      // shows the decision.
      await expectKafkaError('transaction() cross-account without a cluster-policy grant',
        ['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'KafkaJSGroupCoordinatorNotFound'], async () => {
          const t = await p2.transaction();
          await t.send({ topic: 'txn-topic', messages: [{ value: `e-denied2-${RUN}`, partition: 0 }] });
          await t.commit();
        });
      const txnArn = C.topic(`txn2-${RUN}`).replace(':topic/', ':transactional-id/');
      const audited = fs.readFileSync(path.join(d.data, 'audit.log'), 'utf8').split('\n').filter(Boolean)
        .map((l) => JSON.parse(l)).some((r) => r.decision === 'DENY' && r.resource === txnArn &&
          /TransactionalId$/.test(r.action) && r.principal === DEV_ARN);
      check(audited, `the audit log has the denial of ${txnArn}`);
      // 3. both allow: commits
      await putPolicy(clusterPolicy([txnStatement()]), '+ transactional ids');
      const p3 = track(dev.producer(txnOpts(`txn3-${RUN}`)));
      await p3.connect();
      const t = await p3.transaction();
      await t.send({ topic: 'txn-topic', messages: [{ value: `e-committed-${RUN}`, partition: 0 }] });
      await t.commit();
      log('  dev (kafka-cluster:*) committed a transaction');
      const seen = await consumeValues(dev, 'txn-topic', `e-group-${RUN}`, [`e-committed-${RUN}`]);
      check(!seen.has(`e-denied-${RUN}`) && !seen.has(`e-denied2-${RUN}`), `no denied transactional message was written: ${[...seen]}`);
    });

    // ---- f
    await step('f', 'client account grants only kafka-cluster:Connect: denied although the cluster policy allows', async () => {
      await putPolicy(clusterPolicy(), 'basic policy (allows kafka-cluster:* on every topic and group)');
      const conly = client(brokers, KEYS.conly, 'connect-only');
      const adm = track(conly.admin());
      await adm.connect();
      log('  connected (Connect allowed by both policies)');
      const listed = await adm.listTopics();
      check(listed.length === 0, `Metadata for all topics lists nothing describable: ${JSON.stringify(listed)}`);
      const p = track(conly.producer({ allowAutoTopicCreation: false }));
      await p.connect();
      // kafkajs asks Metadata for the topic first: DescribeTopic denied -> topic error 29.
      await expectKafkaError('connect-only user produces to orders', 'TOPIC_AUTHORIZATION_FAILED',
        () => p.send({ topic: 'orders', messages: [{ value: `f-${RUN}`, partition: 0 }] }));
      await expectKafkaError('connect-only user fetches topic offsets of orders', 'TOPIC_AUTHORIZATION_FAILED',
        () => adm.fetchTopicOffsets('orders'));
    });

    // ---- g
    await step('g', 'same-account principal allowed by its identity policy alone', async () => {
      await putPolicy(clusterPolicy(), 'basic policy (no statement for the owner account)');
      const ownApi = new K.KafkaClient({ region: REGION, endpoint: d.api, credentials: KEYS.own, maxAttempts: 1 });
      // The owner's applications in another VPC of the same account connect through a SASL_IAM VPC
      // connection of that account. (The cluster's own in-VPC endpoint, BootstrapBrokerStringSaslIam,
      // is a plaintext unauthenticated port in this build, so it cannot carry an IAM principal.)
      const ownConn = (await ownApi.send(new K.CreateVpcConnectionCommand({ TargetClusterArn: arn, VpcId: 'vpc-provider-apps',
        ClientSubnets: ['subnet-pa1'], SecurityGroups: ['sg-pa'], Authentication: 'SASL_IAM' }))).VpcConnectionArn;
      await waitConn(ownApi, ownConn);
      const obb = await ownApi.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
      const own = (obb.BootstrapBrokerStringVpcConnectivitySaslIam || '').split(',').filter(Boolean);
      check(own.length === 1 && own[0].startsWith(`${ip(9)}:`), `the owner account's SASL_IAM connection string: ${JSON.stringify(obb)}`);
      log(`  same-account VPC connection ${ownConn} at ${own}`);
      const ownapp = client(own, KEYS.own, 'ownapp');
      await produce(ownapp, 'own-topic', [`g-${RUN}`]);
      await consumeValues(ownapp, 'own-topic', 'own-group', [`g-${RUN}`]);
      log('  arn:aws:iam::111122223333:user/ownapp produced and consumed');
      // its identity policy covers this cluster name only: a topic write is still decided by it
      const adm = track(ownapp.admin());
      await adm.connect();
      check((await adm.listTopics()).includes('own-topic'), 'own-topic listed for the owner principal');
    });

    // ---- h
    await step('h', 'cluster policy edited while a producer is connected: decided at the next request', async () => {
      await putPolicy(clusterPolicy(), 'basic policy');
      const live = client(brokers, KEYS.dev, 'live');
      const p = track(live.producer({ allowAutoTopicCreation: false }));
      await p.connect();
      await p.send({ topic: 'live-topic', messages: [{ value: `h-1-${RUN}`, partition: 0 }] });
      const sockets = live.counter.sockets;
      log(`  send 1 OK (${sockets} socket(s) open so far)`);
      await putPolicy(clusterPolicy([denyWrite('NoLive', 'live-topic')]), '+ Deny WriteData on live-topic');
      await expectKafkaError('send 2 on the same producer after the Deny', 'TOPIC_AUTHORIZATION_FAILED',
        () => p.send({ topic: 'live-topic', messages: [{ value: `h-2-${RUN}`, partition: 0 }] }));
      await putPolicy(clusterPolicy(), 'the previous policy back');
      await p.send({ topic: 'live-topic', messages: [{ value: `h-3-${RUN}`, partition: 0 }] });
      log('  send 3 OK');
      check(live.counter.sockets === sockets, `no reconnect: ${live.counter.sockets} sockets, was ${sockets}`);
      const seen = await consumeValues(dev, 'live-topic', `h-group-${RUN}`, [`h-1-${RUN}`, `h-3-${RUN}`]);
      check(!seen.has(`h-2-${RUN}`), 'the denied message was not written');
      log('  same connection throughout; messages 1 and 3 written, 2 not');
    });

    // ---- i
    await step('i', 'Metadata for all topics lists only describable topics (DescribeTopic on orders*)', async () => {
      await putPolicy(clusterPolicy(), 'basic policy');
      const lister = client(brokers, KEYS.lister, 'lister');
      const adm = track(lister.admin());
      await adm.connect();
      const listed = (await adm.listTopics()).sort();
      check(JSON.stringify(listed) === JSON.stringify(['orders', 'orders-archive']), `listTopics: ${JSON.stringify(listed)}`);
      log(`  listTopics: ${listed.join(', ')}`);
      // a topic asked for by name that it may not describe comes back with error 29
      await expectKafkaError('fetchTopicMetadata payments-eu', 'TOPIC_AUTHORIZATION_FAILED',
        () => adm.fetchTopicMetadata({ topics: ['payments-eu'] }));
    });

    // ---- l
    await step('l', 'condition keys: aws:SourceVpc, aws:SourceIp, aws:SecureTransport', async () => {
      const topicRes = `${C.base}:topic/${C.name}/*/ctx-*`;
      const deny = (cond) => ({ Sid: 'CtxDeny', Effect: 'Deny', Principal: { AWS: CLIENT },
        Action: 'kafka-cluster:WriteData', Resource: topicRes, Condition: cond });
      // A Deny for another VPC does not apply; one for the connection's VPC does.
      await putPolicy(clusterPolicy([deny({ StringEquals: { 'aws:SourceVpc': 'vpc-elsewhere' } })]), 'Deny WriteData from vpc-elsewhere');
      await produce(dev, 'ctx-topic', [`l1-${RUN}`]);
      log('  produced through vpc-client (the Deny names vpc-elsewhere)');
      await putPolicy(clusterPolicy([deny({ StringEquals: { 'aws:SourceVpc': 'vpc-client' } })]), 'Deny WriteData from vpc-client');
      await expectKafkaError('produce from vpc-client', 'TOPIC_AUTHORIZATION_FAILED', () => produce(dev, 'ctx-topic', [`l2-${RUN}`]));
      // Source address and transport: clients come from 127.0.0.0/8 over TLS.
      await putPolicy(clusterPolicy([deny({ NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } })]), 'Deny WriteData from outside 127.0.0.0/8');
      await produce(dev, 'ctx-topic', [`l3-${RUN}`]);
      await putPolicy(clusterPolicy([deny({ Bool: { 'aws:SecureTransport': 'true' } })]), 'Deny WriteData over TLS');
      await expectKafkaError('produce over TLS', 'TOPIC_AUTHORIZATION_FAILED', () => produce(dev, 'ctx-topic', [`l4-${RUN}`]));
      await putPolicy(clusterPolicy(), 'basic policy');
    });

    // ---- j
    await step('j', 'audit log: the DENY of step b', async () => {
      if (!selected.has('b')) throw new Error('step j checks the records of step b: run it with b (ST_AUTHZ_STEPS=b,j)');
      const auditPath = path.join(d.data, 'audit.log');
      const want = (r) => r && String(r.decision).toUpperCase() === 'DENY' && r.principal === DEV_ARN && r.api === 'Produce' &&
        r.action === 'kafka-cluster:WriteData' && r.resource === C.topic('payments-eu');
      const records = () => {
        try {
          return fs.readFileSync(auditPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
        } catch (e) { return []; }
      };
      const rec = await waitFor(() => records().find(want), `a DENY record for ${C.topic('payments-eu')} in ${auditPath}`, 10000, 200);
      check(typeof rec.reason === 'string' && rec.reason.length > 0, `the record has a reason: ${JSON.stringify(rec)}`);
      check(!records().some((r) => r.action === 'kafka-cluster:WriteData' && r.resource === C.topic('orders') &&
        String(r.decision).toUpperCase() === 'DENY'), 'no DENY for orders');
      const text = fs.readFileSync(auditPath, 'utf8');
      check(!Object.values(KEYS).some((k) => text.includes(k.secretAccessKey)), 'no secret in the audit log');
      check((fs.statSync(auditPath).mode & 0o077) === 0, 'the audit log is private (0600)');
      log(`  ${auditPath}: ${JSON.stringify(rec)}`);
      const out = execFileSync(path.join(BUILD_DIR, 'strait'), ['audit', 'tail', '--data-dir', d.data, '--denied', '--json', '-n', '100000'],
        { encoding: 'utf8', timeout: 15000 });
      const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      check(lines.some(want), `strait audit tail --denied --json prints the record:\n${out}`);
      check(lines.every((r) => String(r.decision).toUpperCase() === 'DENY'), '--denied prints denials only');
      log('  `strait audit tail --denied --json` prints it');
    });
  } catch (e) {
    failed = true;
    console.error(`FAIL (setup): ${e.stack || e}`);
  } finally {
    await closeAll();
    const r = await d.stop();
    if (r && r.code !== 0) {
      failed = true;
      console.error(`straitd did not stop cleanly: ${JSON.stringify(r)}`);
    }
    if (failed || results.some((x) => x.status === 'FAIL')) process.stdout.write(d.text().split('\n').slice(-300).join('\n'));
    if (!process.env.ST_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
  console.log('\nsummary (test_authz_iam):');
  for (const x of results) console.log(`  ${x.letter}. ${x.status.padEnd(7)} ${x.title}${x.error ? `\n             ${x.error.split('\n')[0].slice(0, 300)}` : ''}`);
  if (failed || results.some((x) => x.status === 'FAIL')) process.exit(1);
  log('PASS');
}

main().catch((e) => { console.error(e); process.exit(1); });
