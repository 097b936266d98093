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
//  l. condition keys on data-plane requests: aws:SourceVpc, aws:SourceIp, aws:SecureTransport;
//  m. the same keys when connecting (kafka-cluster:Connect), and the cluster's tags
//     (aws:ResourceTag/<key>) after TagResource / UntagResource.
//
// Environment: ST_BUILD_DIR (straitd, strait), ST_SOURCE_DIR, ST_AUTHZ_STEPS, ST_KEEP (keep the
// temp dir), ST_LOG_LEVEL. Exit 77 (skip) only when the node modules are missing. Every wait is
// bounded; nothing asserts on wall-clock time.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const h = require('./harness');
const { BUILD_DIR, REGION, log, check, errText, waitFor, track, closeAll, expectKafkaError, produce, consumeValues, consumerFailure } = h;

const { K, createMechanism } = h.requireInteropOrSkip((interop) => {
  const sdk = interop('@aws-sdk/client-kafka');
  interop('kafkajs'); // h.endpointKafka
  return { K: sdk, createMechanism: interop('@jm18457/kafkajs-msk-iam-authentication-mechanism').createMechanism };
});

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

const ip = h.loopbackIps();
const RUN = Math.random().toString(36).slice(2, 8); // makes message values unique per run

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

// ---- kafkajs helpers
let caPem = null;
// A kafkajs client whose TCP/TLS sockets are counted (to prove "no reconnect").
function client(brokers, creds, id) {
  return h.endpointKafka({ brokers, clientId: id, ca: caPem, sasl: createMechanism({ region: REGION, credentials: creds }),
    retry: { retries: 0 }, requestTimeout: 15000, countSockets: true });
}

// ---- steps
const { selected, step, finish } = h.stepRunner('abcdefghijlm', process.env.ST_AUTHZ_STEPS);

async function main() {
  const dir = h.tempDir('st_authz_iam_');
  const d = new h.Straitd(dir, { endpoint: ip(1) });
  let failed = false;
  try {
    await d.start();
    // ---- setup (always): accounts, cluster, connectivity, cluster policy, VPC connection, topics
    h.adminApply(d, applyDoc());
    const admin = h.mskClient(d, KEYS.admin);
    const devApi = h.mskClient(d, KEYS.dev);
    const { arn } = await h.createCluster(admin, { name: CLUSTER_NAME, brokers: 1, subnets: ['subnet-p1'], securityGroups: ['sg-p'],
      clientAuthentication: { Sasl: { Iam: { Enabled: true } }, Unauthenticated: { Enabled: false } },
      vpcConnectivity: { Sasl: { Iam: { Enabled: true } } } });
    C = clusterArns(arn);
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
    await h.waitConn(devApi, conn);
    const bb = await devApi.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    const brokers = (bb.BootstrapBrokerStringVpcConnectivitySaslIam || '').split(',').filter(Boolean);
    check(brokers.length === 1, `SASL_IAM bootstrap string ${JSON.stringify(bb)}`);
    caPem = d.endpointCa();
    log(`cluster ${arn}; SASL_IAM VPC connection ${conn} at ${brokers}`);

    const dev = client(brokers, KEYS.dev, 'dev');
    const topics = ['orders', 'orders-archive', 'payments-eu', 'live-topic', 'ro-topic', 'txn-topic', 'own-topic', 'ctx-topic'];
    // Topics are auto-created by a Metadata request (kafkajs admin asks with AllowAutoTopicCreation,
    // which needs kafka-cluster:CreateTopic): kafkajs admin.createTopics cannot be used on the
    // embedded (librdkafka mock) cluster, whose Metadata names controller 0, a broker that does not
    // exist, and kafkajs sends CreateTopics to the controller.
    const dadm = track(dev.admin());
    await dadm.connect();
    await h.autoCreateTopics(dadm, topics);
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
      const ownApi = h.mskClient(d, KEYS.own);
      // The owner's applications in another VPC of the same account connect through a SASL_IAM VPC
      // connection of that account. (The cluster's own in-VPC endpoint, BootstrapBrokerStringSaslIam,
      // is a plaintext unauthenticated port in this build, so it cannot carry an IAM principal.)
      const ownConn = (await ownApi.send(new K.CreateVpcConnectionCommand({ TargetClusterArn: arn, VpcId: 'vpc-provider-apps',
        ClientSubnets: ['subnet-pa1'], SecurityGroups: ['sg-pa'], Authentication: 'SASL_IAM' }))).VpcConnectionArn;
      await h.waitConn(ownApi, ownConn);
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

    // ---- m
    await step('m', 'kafka-cluster:Connect conditions: aws:SourceVpc, aws:SourceIp, aws:ResourceTag', async () => {
      const denyConnect = (sid, cond) => ({ Sid: sid, Effect: 'Deny', Principal: { AWS: CLIENT },
        Action: 'kafka-cluster:Connect', Resource: C.arn, Condition: cond });
      const connects = async (id) => {
        const adm = client(brokers, KEYS.dev, id).admin();
        try { await adm.connect(); await adm.disconnect(); return 'connected'; } catch (e) { return errText(e); }
      };
      // Negated operators match when the key is missing: these Denies only stay out of the way
      // if Connect knows the client's VPC and address.
      await putPolicy(clusterPolicy([
        denyConnect('OnlyFromVpcClient', { StringNotEquals: { 'aws:SourceVpc': 'vpc-client' } }),
        denyConnect('OnlyFromLoopback', { NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } })]),
      'Deny Connect unless from vpc-client and 127.0.0.0/8');
      const got1 = await connects('m-vpc');
      check(got1 === 'connected', `Connect from vpc-client, 127.0.0.0/8: ${got1}`);
      // The cluster's tags: a Deny on a quarantine tag applies once the cluster carries it.
      await putPolicy(clusterPolicy([denyConnect('Quarantine', { StringEquals: { 'aws:ResourceTag/quarantine': 'true' } })]),
        'Deny Connect when the cluster is tagged quarantine=true');
      const got2 = await connects('m-untagged');
      check(got2 === 'connected', `Connect to the untagged cluster: ${got2}`);
      await admin.send(new K.TagResourceCommand({ ResourceArn: arn, Tags: { quarantine: 'true', team: 'payments' } }));
      const got3 = await connects('m-tagged');
      check(/SASL_AUTHENTICATION_FAILED|Access denied/.test(got3) && /Connect/.test(got3),
        `Connect to the cluster tagged quarantine=true is refused: ${got3}`);
      log(`  ok: tagged quarantine=true: ${got3.slice(0, 200)}`);
      await admin.send(new K.UntagResourceCommand({ ResourceArn: arn, TagKeys: ['quarantine'] }));
      const got4 = await connects('m-untagged-again');
      check(got4 === 'connected', `Connect once the tag is removed: ${got4}`);
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
  }
  await finish('test_authz_iam', d, dir, failed);
}

main().catch((e) => { console.error(e); process.exit(1); });
