// Control plane end to end with the AWS SDK for JavaScript v3 (@aws-sdk/client-kafka, client-sts)
// against a real straitd: the MSK multi-VPC walkthrough across two accounts (provider 111122223333
// owns the cluster, client 444455556666 connects), every refusal raising its exception by name,
// STS AssumeRole/GetCallerIdentity, SigV4 negatives (tampered body, wrong secret, expired date,
// unknown key, missing headers), and a restart that loses no state.
//
// Environment: ST_BUILD_DIR (straitd, strait), ST_SOURCE_DIR. Every wait is bounded; nothing
// asserts on wall-clock time.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const h = require('./harness');
const { BUILD_DIR, interop, REGION, log, check, waitFor, clusterState, waitActive, connState, waitConn } = h;

const K = interop('@aws-sdk/client-kafka');
const STS = interop('@aws-sdk/client-sts');
interop('@smithy/signature-v4'); // h.signedRequest
const { Kafka, logLevel } = interop('kafkajs');
interop('@aws-crypto/sha256-js');

const PROVIDER = '111122223333';
const CLIENT = '444455556666';
const KEYS = {
  admin: { accessKeyId: 'AKIAPROVIDERADMIN001', secretAccessKey: 'providerAdminSecret/0000000000000000000001' },
  dev: { accessKeyId: 'AKIACLIENTDEV0000001', secretAccessKey: 'clientDevSecret/000000000000000000000000001' },
  nobody: { accessKeyId: 'AKIACLIENTNOBODY0001', secretAccessKey: 'clientNobodySecret/000000000000000000000001' },
};

// Loopback addresses no other test uses: 127.A.B.{1..6}.
const ip = h.loopbackIps();

let failures = 0;

async function expectError(name, promise, re) {
  try {
    await promise;
  } catch (e) {
    if (e.name !== name) throw new Error(`expected ${name}, got ${e.name}: ${e.message}`);
    if (re && !re.test(e.message)) throw new Error(`${name} message "${e.message}" does not match ${re}`);
    log(`  ok: ${name}: ${e.message.slice(0, 140)}`);
    return e;
  }
  throw new Error(`expected ${name}, but the call succeeded`);
}

function tcpOpen(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(2000);
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
    s.on('timeout', () => { s.destroy(); resolve(false); });
  });
}

// The legacy (pre-multi-VPC) bootstrap is the embedded cluster's upstream; a new log per start.
class Straitd extends h.Straitd {
  constructor(dir) { super(dir, { endpoint: ip(1), perStartLog: true }); }
  async start() {
    const ready = await super.start();
    this.legacyBootstrap = ready.upstream.bootstrap;
    log(`straitd pid ${ready.pid}, API ${this.api}`);
    return ready;
  }
}

const kafka = h.mskClient;
function sts(d, creds) {
  return new STS.STSClient({ region: REGION, endpoint: d.api, credentials: creds, maxAttempts: 1 });
}

function applyDoc() {
  const kafkaClientActions = ['kafka:CreateVpcConnection', 'kafka:DescribeVpcConnection', 'kafka:ListVpcConnections',
    'kafka:DeleteVpcConnection', 'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2'];
  return {
    region: REGION,
    accounts: [
      { id: PROVIDER, name: 'provider',
        scramSecrets: [{ name: 'AmazonMSK_alice', username: 'alice', password: 'alice-secret' }],
        users: [{ name: 'admin', accessKeys: [{ id: KEYS.admin.accessKeyId, secret: KEYS.admin.secretAccessKey }],
          managedPolicies: ['AmazonMSKFullAccess'], inlinePolicies: { p1: { Version: '2012-10-17', Statement: [] } } }],
        roles: [{ name: 'reader', trustPolicy: {}, managedPolicies: ['AmazonMSKReadOnlyAccess'], inlinePolicies: {} },
          // Trusted by the client account: its principals may assume it if their own policies allow.
          { name: 'auditor', managedPolicies: ['AmazonMSKReadOnlyAccess'],
            trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CLIENT}:root` }, Action: 'sts:AssumeRole' }] } }],
        vpcs: [{ id: 'vpc-provider', cidr: '10.0.0.0/16',
          subnets: [{ id: 'subnet-p1', azId: 'use1-az1', endpointAddress: ip(2), endpointAddresses: [ip(9)] },
            { id: 'subnet-p2', azId: 'use1-az2', endpointAddress: ip(3), endpointAddresses: [ip(10)] }],
          securityGroups: [{ id: 'sg-p', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.1/32' }],
            egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] }] },
      { id: CLIENT, name: 'client',
        users: [
          { name: 'dev', accessKeys: [{ id: KEYS.dev.accessKeyId, secret: KEYS.dev.secretAccessKey }],
            inlinePolicies: { mvpc: { Version: '2012-10-17', Statement: [
              { Effect: 'Allow', Action: kafkaClientActions.concat(['kafka-cluster:*']), Resource: '*' },
              { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: [`arn:aws:iam::${CLIENT}:role/connector`, `arn:aws:iam::${PROVIDER}:role/auditor`] }] } } },
          { name: 'nobody', accessKeys: [{ id: KEYS.nobody.accessKeyId, secret: KEYS.nobody.secretAccessKey }] }],
        roles: [{ name: 'connector',
          trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${CLIENT}:user/dev` }, Action: 'sts:AssumeRole' }] },
          inlinePolicies: { list: { Version: '2012-10-17', Statement: [
            { Effect: 'Allow', Action: ['kafka:ListVpcConnections', 'kafka:DescribeVpcConnection'], Resource: '*' }] } } }],
        vpcs: [{ id: 'vpc-client', cidr: '10.1.0.0/16',
          subnets: [{ id: 'subnet-c1', azId: 'use1-az1', endpointAddress: ip(4), endpointAddresses: [ip(7)] },
            { id: 'subnet-c2', azId: 'use1-az2', endpointAddress: ip(5), endpointAddresses: [ip(8)] },
            { id: 'subnet-c3', azId: 'use1-az3', endpointAddress: ip(6) }],
          securityGroups: [
            { id: 'sg-c', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }], egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] },
            { id: 'sg-closed', ingress: [], egress: [{ protocol: 'tcp', ports: '443', cidr: '0.0.0.0/0' }] }] },
        { id: 'vpc-client2', cidr: '10.3.0.0/16',
          subnets: [{ id: 'subnet-d1', azId: 'use1-az1', endpointAddress: ip(11) },
            { id: 'subnet-d2', azId: 'use1-az2', endpointAddress: ip(12) }],
          // Admits only 127.0.0.1: a client from another address is refused at accept.
          securityGroups: [{ id: 'sg-d', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.1/32' }], egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] },
        // Endpoint addresses this host does not have (TEST-NET-1): binding fails -> FAILED.
        { id: 'vpc-unroutable', cidr: '10.2.0.0/16',
          subnets: [{ id: 'subnet-u1', azId: 'use1-az1', endpointAddress: '192.0.2.10' },
            { id: 'subnet-u2', azId: 'use1-az2', endpointAddress: '192.0.2.11' }],
          securityGroups: [{ id: 'sg-u', ingress: [], egress: [{ protocol: '-1', ports: 'all', cidr: '0.0.0.0/0' }] }] }] },
    ],
  };
}

function strait(d, args, input) {
  return execFileSync(path.join(BUILD_DIR, 'strait'), ['admin', '--data-dir', d.data].concat(args),
    { encoding: 'utf8', input });
}

function basicPolicy(clusterArn) {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${CLIENT}:root`] },
    Action: ['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2'],
    Resource: clusterArn }] });
}
function advancedPolicy(clusterArn) {
  const [, , , , , res] = clusterArn.split(':');
  const name = res.split('/')[1];
  const uuid = res.split('/')[2];
  const base = clusterArn.slice(0, clusterArn.indexOf(':cluster/'));
  return JSON.stringify({ Version: '2012-10-17', Statement: [
    { Effect: 'Allow', Principal: { AWS: CLIENT }, Action: ['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers',
      'kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka-cluster:*'], Resource: clusterArn },
    { Effect: 'Allow', Principal: { AWS: CLIENT }, Action: 'kafka-cluster:*', Resource: `${base}:topic/${name}/${uuid}/*` },
    { Effect: 'Allow', Principal: { AWS: CLIENT }, Action: 'kafka-cluster:*', Resource: `${base}:group/${name}/${uuid}/*` }] });
}

// Raw signed request (for the SigV4 negatives the SDK will not produce).
async function rawRequest(d, { method, pathname, body, creds, date, tamper, dropAuth, signedHeadersOverride, dropHeader }) {
  const headers = { 'content-type': 'application/json' };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return h.signedRequest(d, { method, pathname, headers, body, sendBody: tamper ? body.replace('demo', 'dem0') : body, creds,
    signingDate: date, signerOptions: { applyChecksum: true },
    edit: (signed) => {
      if (dropAuth) delete signed.authorization;
      if (dropHeader) delete signed[dropHeader];
      if (signedHeadersOverride) signed.authorization = signed.authorization.replace(/SignedHeaders=[^,]*/, `SignedHeaders=${signedHeadersOverride}`);
    } });
}

async function main() {
  const dir = h.tempDir('st_ctl_');
  const d = new Straitd(dir);
  await d.start();
  try {
    // ---- admin apply: idempotent, prints what it created
    const applyFile = path.join(dir, 'apply.json');
    fs.writeFileSync(applyFile, JSON.stringify(applyDoc()));
    const first = strait(d, ['apply', applyFile]);
    check(/created account 111122223333 \(provider\)/.test(first), `apply output: ${first}`);
    check(/created access key AKIACLIENTDEV0000001/.test(first), 'apply created the dev key');
    const second = strait(d, ['apply', applyFile]);
    check(/nothing to create/.test(second), `second apply is a no-op: ${second}`);
    log('admin apply: created, then nothing to create');

    let admin = kafka(d, KEYS.admin);
    let dev = kafka(d, KEYS.dev);
    const nobody = kafka(d, KEYS.nobody);

    // ---- provider: an unauthenticated cluster
    const created = await admin.send(new K.CreateClusterV2Command({ ClusterName: 'demo', Tags: { env: 'test' },
      Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: 2,
        BrokerNodeGroupInfo: { ClientSubnets: ['subnet-p1', 'subnet-p2'], InstanceType: 'kafka.m5.large', SecurityGroups: ['sg-p'] } } }));
    const arn = created.ClusterArn;
    check(created.State === 'CREATING' && created.ClusterType === 'PROVISIONED', `create response ${JSON.stringify(created)}`);
    check(arn.startsWith(`arn:aws:kafka:${REGION}:${PROVIDER}:cluster/demo/`), `cluster ARN ${arn}`);
    await expectError('ConflictException', admin.send(new K.CreateClusterV2Command({ ClusterName: 'demo',
      Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: 2, BrokerNodeGroupInfo: { ClientSubnets: ['subnet-p1', 'subnet-p2'], InstanceType: 'kafka.m5.large' } } })), /already exists/);
    await expectError('BadRequestException', admin.send(new K.CreateClusterV2Command({ ClusterName: 'other',
      Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: 2, BrokerNodeGroupInfo: { ClientSubnets: ['subnet-c1'], InstanceType: 'kafka.m5.large' } } })), /subnet-c1 is not a subnet of account/);
    let info = await waitActive(admin, arn);
    check(info.Provisioned.ClientAuthentication.Unauthenticated.Enabled === true, 'unauthenticated by default');
    check(info.CreationTime instanceof Date && !isNaN(info.CreationTime), 'creationTime is an ISO-8601 date');
    check(info.Tags.env === 'test', 'tags on the cluster');
    const v1 = (await admin.send(new K.DescribeClusterCommand({ ClusterArn: arn }))).ClusterInfo;
    check(v1.NumberOfBrokerNodes === 2 && v1.CurrentBrokerSoftwareInfo.KafkaVersion === '3.6.0', 'DescribeCluster (v1)');
    log(`cluster ${arn} ACTIVE`);

    // ---- Kafka traffic through the new cluster's in-VPC endpoint (unauthenticated cluster):
    // metadata names only strait's endpoint, a message goes in and comes back out.
    const own = (await admin.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }))).BootstrapBrokerString || '';
    check(own.split(',').sort().join() === [`${ip(2)}:14001`, `${ip(3)}:14002`].join(), `in-VPC bootstrap ${own}`);
    const kjs = new Kafka({ brokers: own.split(','), clientId: 'ctl-test', logLevel: logLevel.NOTHING,
      retry: { retries: 8 } });
    const kadmin = kjs.admin();
    await kadmin.connect();
    const kbrokers = (await kadmin.describeCluster()).brokers;
    await kadmin.disconnect();
    check(kbrokers.length === 2 && kbrokers.every((b) => b.host.startsWith(ip.prefix) && b.port >= 14001 && b.port <= 14002),
      `brokers as the client sees them: ${JSON.stringify(kbrokers)}`);
    const producer = kjs.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic: 'walkthrough', messages: [{ key: 'k', value: 'through strait' }] });
    await producer.disconnect();
    const consumer = kjs.consumer({ groupId: 'ctl-test' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'walkthrough', fromBeginning: true });
    const consumed = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message consumed within 30 s')), 30000);
      consumer.run({ eachMessage: async ({ message }) => { clearTimeout(t); resolve(message.value.toString()); } });
    });
    await consumer.disconnect();
    check(consumed === 'through strait', `consumed ${consumed}`);
    log('produce/consume through the in-VPC endpoint');
    // The cluster's security group (sg-p) guards its in-VPC endpoints as well: it admits
    // 127.0.0.1 (where the clients above came from), not 127.0.0.2.
    const inVpcOutsider = net.connect({ host: ip(2), port: 14001, localAddress: '127.0.0.2' });
    let inVpcOutsiderClosed = false;
    inVpcOutsider.on('close', () => { inVpcOutsiderClosed = true; });
    inVpcOutsider.on('error', () => {});
    await waitFor(() => inVpcOutsiderClosed, 'a client outside the cluster security group refused at the in-VPC endpoint', 10000);
    const inVpcInsider = net.connect({ host: ip(2), port: 14001, localAddress: '127.0.0.1' });
    inVpcInsider.on('error', () => {});
    await waitFor(() => inVpcInsider.readyState === 'open', 'a client inside the cluster security group connects', 10000);
    await new Promise((r) => setTimeout(r, 300));
    check(!inVpcInsider.destroyed && inVpcInsider.readyState === 'open', 'the admitted client stays connected');
    inVpcInsider.destroy();
    log('the cluster security group admits 127.0.0.1 and refuses 127.0.0.2 at its in-VPC endpoint');

    // ---- multi-VPC refused on an unauthenticated cluster, then turned on
    await expectError('BadRequestException', admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Iam: { Enabled: true } } } } } })), /unauthenticated/);
    await admin.send(new K.UpdateSecurityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } }, Unauthenticated: { Enabled: false } } }));
    info = await waitActive(admin, arn);
    await expectError('BadRequestException', admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: 'KSTALE0000000',
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Iam: { Enabled: true } } } } } })), /stale/);
    await expectError('BadRequestException', admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Scram: { Enabled: true } } } } } })), /SASL\/SCRAM client authentication is not enabled/);
    const op = await admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Scram: { Enabled: false }, Iam: { Enabled: true } }, Tls: { Enabled: false } } } } }));
    check(op.ClusterOperationArn && op.ClusterOperationArn.includes(':cluster-operation/demo/'), `operation ARN ${op.ClusterOperationArn}`);
    const updating = await clusterState(admin, arn);
    check(['UPDATING', 'ACTIVE'].includes(updating.State), `state after UpdateConnectivity: ${updating.State}`);
    info = await waitActive(admin, arn);
    check(info.Provisioned.BrokerNodeGroupInfo.ConnectivityInfo.VpcConnectivity.ClientAuthentication.Sasl.Iam.Enabled === true, 'vpc iam on');
    log('multi-VPC SASL/IAM on');

    // ---- before the cluster policy: the client is refused
    await expectError('NotFoundException', admin.send(new K.GetClusterPolicyCommand({ ClusterArn: arn })), /no cluster policy/);
    await expectError('NotFoundException', admin.send(new K.DeleteClusterPolicyCommand({ ClusterArn: arn })));
    const connReq = { TargetClusterArn: arn, Authentication: 'SASL_IAM', VpcId: 'vpc-client',
      ClientSubnets: ['subnet-c1', 'subnet-c2'], SecurityGroups: ['sg-c'], Tags: { team: 'payments' } };
    await expectError('ForbiddenException', dev.send(new K.CreateVpcConnectionCommand(connReq)), /not authorized to perform: kafka:CreateVpcConnection.*cluster policy/);
    await expectError('ForbiddenException', dev.send(new K.DescribeClusterV2Command({ ClusterArn: arn })));
    await expectError('ForbiddenException', dev.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn })));

    // ---- Basic cluster policy
    await expectError('BadRequestException', admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn,
      Policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kafka:*","Resource":"*"}]}' })), /not valid/);
    await expectError('BadRequestException', admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: 'x'.repeat(20481) })), /20480/);
    const put1 = await admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: basicPolicy(arn) }));
    check(/^[A-Z0-9]+$/.test(put1.CurrentVersion), `policy version ${put1.CurrentVersion}`);
    await expectError('BadRequestException', admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: basicPolicy(arn) })), /currentVersion/);
    const got = await admin.send(new K.GetClusterPolicyCommand({ ClusterArn: arn }));
    check(got.CurrentVersion === put1.CurrentVersion && JSON.parse(got.Policy).Statement.length === 1, 'GetClusterPolicy returns the basic policy');
    await expectError('ForbiddenException', dev.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: basicPolicy(arn) })));
    log('basic cluster policy in place');

    // ---- the client connects
    const cinfo = (await dev.send(new K.DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo;
    check(cinfo.ClusterArn === arn, 'client can describe the cluster');
    await expectError('ForbiddenException', nobody.send(new K.CreateVpcConnectionCommand(connReq)), /no identity-based policy/);
    await expectError('BadRequestException', dev.send(new K.CreateVpcConnectionCommand({ ...connReq, ClientSubnets: ['subnet-c1', 'subnet-c3'] })), /AZ IDs must match/);
    await expectError('BadRequestException', dev.send(new K.CreateVpcConnectionCommand({ ...connReq, ClientSubnets: ['subnet-c1'] })), /exactly 2 client subnets/);
    await expectError('BadRequestException', dev.send(new K.CreateVpcConnectionCommand({ ...connReq, SecurityGroups: ['sg-closed'] })), /egress/);
    await expectError('BadRequestException', dev.send(new K.CreateVpcConnectionCommand({ ...connReq, Authentication: 'SASL_SCRAM' })), /SASL_SCRAM is off/);
    await expectError('BadRequestException', dev.send(new K.CreateVpcConnectionCommand({ ...connReq, Authentication: 'PLAINTEXT' })), /SASL_IAM, SASL_SCRAM or TLS/);
    const conn = await dev.send(new K.CreateVpcConnectionCommand(connReq));
    const connArn = conn.VpcConnectionArn;
    check(conn.State === 'CREATING' && conn.ClientSubnets.length === 2 && conn.Tags.team === 'payments', `create response ${JSON.stringify(conn)}`);
    check(connArn.startsWith(`arn:aws:kafka:${REGION}:${CLIENT}:vpc-connection/${PROVIDER}/demo/`), `connection ARN ${connArn}`);
    await expectError('BadRequestException', dev.send(new K.DeleteVpcConnectionCommand({ Arn: connArn })), /CREATING/);
    await waitConn(dev, connArn, 'AVAILABLE');
    const desc = await dev.send(new K.DescribeVpcConnectionCommand({ Arn: connArn }));
    check(desc.Subnets.length === 2 && desc.TargetClusterArn === arn && desc.VpcId === 'vpc-client', 'DescribeVpcConnection uses `subnets`');
    check(await tcpOpen(ip(4), 14001), 'endpoint listens on the client subnet address');
    await expectError('BadRequestException', dev.send(new K.CreateVpcConnectionCommand(connReq)), /already has a SASL_IAM connection/);
    log(`connection ${connArn} AVAILABLE`);

    const bb = await dev.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    const s = bb.BootstrapBrokerStringVpcConnectivitySaslIam || '';
    check(s.split(',').length === 2 && s.includes(`${ip(4)}:`) && s.includes(`${ip(5)}:`), `client bootstrap string ${s}`);
    const bbOwner = await admin.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    check(/^b-\d+\.iam\.demo\.[a-z0-9]{6}\.c1\.kafka\.us-east-1\.amazonaws\.com:1400\d/.test(bbOwner.BootstrapBrokerStringVpcConnectivitySaslIam || ''),
      `owner bootstrap string ${bbOwner.BootstrapBrokerStringVpcConnectivitySaslIam}`);
    log(`bootstrap: ${s}`);

    // ---- a second cluster reached from the same client subnets gets the subnets' next
    // endpoint addresses (every cluster uses the same per-broker ports)
    const armB = (await admin.send(new K.CreateClusterV2Command({ ClusterName: 'demo-b',
      Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: 2, ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
        BrokerNodeGroupInfo: { ClientSubnets: ['subnet-p1', 'subnet-p2'], InstanceType: 'kafka.m5.large' } } }))).ClusterArn;
    let infoB = await waitActive(admin, armB);
    await admin.send(new K.UpdateConnectivityCommand({ ClusterArn: armB, CurrentVersion: infoB.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Iam: { Enabled: true } } } } } }));
    await admin.send(new K.PutClusterPolicyCommand({ ClusterArn: armB, Policy: basicPolicy(armB) }));
    await waitActive(admin, armB);
    const connB = (await dev.send(new K.CreateVpcConnectionCommand({ ...connReq, TargetClusterArn: armB }))).VpcConnectionArn;
    await waitConn(dev, connB, 'AVAILABLE');
    const sB = (await dev.send(new K.GetBootstrapBrokersCommand({ ClusterArn: armB }))).BootstrapBrokerStringVpcConnectivitySaslIam || '';
    check(sB.includes(`${ip(7)}:`) && sB.includes(`${ip(8)}:`), `second cluster on the subnets' next addresses: ${sB}`);
    check(await tcpOpen(ip(7), 14001) && await tcpOpen(ip(4), 14001), 'both clusters listen');
    await dev.send(new K.DeleteVpcConnectionCommand({ Arn: connB }));
    await waitConn(dev, connB, 'GONE');
    await admin.send(new K.DeleteClusterCommand({ ClusterArn: armB }));
    await waitFor(async () => { try { await clusterState(admin, armB); return false; } catch (e) { return e.name === 'NotFoundException'; } }, 'demo-b gone');
    log(`second cluster through the same client subnets: ${sB}`);

    // ---- Advanced cluster policy (update with currentVersion)
    await expectError('BadRequestException', admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: advancedPolicy(arn), CurrentVersion: 'KWRONG' })), /currentVersion/);
    const put2 = await admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: advancedPolicy(arn), CurrentVersion: put1.CurrentVersion }));
    check(put2.CurrentVersion !== put1.CurrentVersion, 'a new policy version');
    check(JSON.parse((await admin.send(new K.GetClusterPolicyCommand({ ClusterArn: arn }))).Policy).Statement.length === 3, 'advanced policy stored');

    // ---- restart: nothing lost
    const r = await d.stop();
    check(r.code === 0, `straitd exited cleanly (${JSON.stringify(r)})`);
    // While straitd is down, plant an STS session that expired a minute ago (as if issued long
    // ago): after the restart its use must be answered as expired (UnauthorizedException).
    execFileSync('python3', ['-c', 'import sqlite3,sys,time\n' +
      'db=sqlite3.connect(sys.argv[1])\n' +
      'db.execute("INSERT INTO sessions (id, secret, token, arn, role, expires) VALUES (?,?,?,?,?,?)", ' +
      '("ASIAEXPIRED000000001", "expiredSecret/0000000000000000000000000001", "expired-token", ' +
      '"arn:aws:sts::444455556666:assumed-role/connector/old", "arn:aws:iam::444455556666:role/connector", int(time.time()) - 60))\n' +
      'db.commit()', path.join(d.data, 'strait.db')]);
    await d.start();
    admin = kafka(d, KEYS.admin);
    await expectError('UnauthorizedException', kafka(d, { accessKeyId: 'ASIAEXPIRED000000001',
      secretAccessKey: 'expiredSecret/0000000000000000000000000001', sessionToken: 'expired-token' })
      .send(new K.ListVpcConnectionsCommand({})), /expired/);
    dev = kafka(d, KEYS.dev);
    check((await admin.send(new K.GetClusterPolicyCommand({ ClusterArn: arn }))).CurrentVersion === put2.CurrentVersion, 'policy version survives a restart');
    await waitActive(admin, arn);
    check((await connState(dev, connArn)) === 'AVAILABLE', 'connection AVAILABLE after restart');
    await waitFor(() => tcpOpen(ip(4), 14001), 'the endpoint listening again after restart');
    log('restart: cluster, policy, connection and endpoint restored');

    // ---- STS: AssumeRole and GetCallerIdentity
    const id = await sts(d, KEYS.dev).send(new STS.GetCallerIdentityCommand({}));
    check(id.Arn === `arn:aws:iam::${CLIENT}:user/dev` && id.Account === CLIENT, `caller identity ${JSON.stringify(id)}`);
    await expectError('AccessDenied', sts(d, KEYS.nobody).send(new STS.AssumeRoleCommand({ RoleArn: `arn:aws:iam::${CLIENT}:role/connector`, RoleSessionName: 'x1' })));
    const ar = await sts(d, KEYS.dev).send(new STS.AssumeRoleCommand({ RoleArn: `arn:aws:iam::${CLIENT}:role/connector`, RoleSessionName: 'ci-session' }));
    const temp = { accessKeyId: ar.Credentials.AccessKeyId, secretAccessKey: ar.Credentials.SecretAccessKey, sessionToken: ar.Credentials.SessionToken };
    check(temp.accessKeyId.startsWith('ASIA') && ar.Credentials.Expiration instanceof Date, 'temporary credentials');
    const id2 = await sts(d, temp).send(new STS.GetCallerIdentityCommand({}));
    check(id2.Arn === `arn:aws:sts::${CLIENT}:assumed-role/connector/ci-session`, `assumed identity ${id2.Arn}`);
    const roleClient = kafka(d, temp);
    const lv = await roleClient.send(new K.ListVpcConnectionsCommand({}));
    check(lv.VpcConnections.some((c) => c.VpcConnectionArn === connArn), 'role lists the connection');
    await expectError('ForbiddenException', roleClient.send(new K.DeleteVpcConnectionCommand({ Arn: connArn })));
    await expectError('UnrecognizedClientException', kafka(d, { ...temp, sessionToken: 'forged' }).send(new K.ListVpcConnectionsCommand({})));
    // Cross-account: the provider's role trusts the client account, and dev's policy allows it;
    // `nobody` (same account, no identity policy) is refused; `reader` trusts nobody.
    const aud = (await sts(d, KEYS.dev).send(new STS.AssumeRoleCommand({ RoleArn: `arn:aws:iam::${PROVIDER}:role/auditor`, RoleSessionName: 'audit' }))).Credentials;
    const audKafka = kafka(d, { accessKeyId: aud.AccessKeyId, secretAccessKey: aud.SecretAccessKey, sessionToken: aud.SessionToken });
    check((await audKafka.send(new K.DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo.ClusterArn === arn, 'the assumed provider role reads the cluster');
    await expectError('ForbiddenException', audKafka.send(new K.DeleteClusterPolicyCommand({ ClusterArn: arn })), /assumed-role\/auditor\/audit/);
    await expectError('AccessDenied', sts(d, KEYS.nobody).send(new STS.AssumeRoleCommand({ RoleArn: `arn:aws:iam::${PROVIDER}:role/auditor`, RoleSessionName: 'x2' })));
    await expectError('AccessDenied', sts(d, KEYS.dev).send(new STS.AssumeRoleCommand({ RoleArn: `arn:aws:iam::${PROVIDER}:role/reader`, RoleSessionName: 'x3' })));
    log('STS ok');

    // ---- owner side: list, reject
    const lc = await admin.send(new K.ListClientVpcConnectionsCommand({ ClusterArn: arn }));
    check(lc.ClientVpcConnections.length === 1 && lc.ClientVpcConnections[0].Owner === CLIENT && lc.ClientVpcConnections[0].State === 'AVAILABLE', 'ListClientVpcConnections');
    await expectError('ForbiddenException', admin.send(new K.DeleteVpcConnectionCommand({ Arn: connArn })));
    await expectError('ForbiddenException', dev.send(new K.RejectClientVpcConnectionCommand({ ClusterArn: arn, VpcConnectionArn: connArn })));
    // A second client VPC connects to the same cluster; rejecting the first connection must not
    // disturb clients that entered through the second.
    const conn2b = (await dev.send(new K.CreateVpcConnectionCommand({ ...connReq, VpcId: 'vpc-client2',
      ClientSubnets: ['subnet-d1', 'subnet-d2'], SecurityGroups: ['sg-d'] }))).VpcConnectionArn;
    await waitConn(dev, conn2b, 'AVAILABLE');
    const other = net.connect({ host: ip(11), port: 14001 });
    let otherClosed = false;
    other.on('close', () => { otherClosed = true; });
    other.on('error', () => {});
    await waitFor(() => other.readyState === 'open', 'a live client connection through the second VPC', 10000);
    // Security-group ingress is enforced when a client connects: sg-d admits 127.0.0.1 only.
    const outsider = net.connect({ host: ip(11), port: 14001, localAddress: '127.0.0.2' });
    let outsiderClosed = false;
    outsider.on('close', () => { outsiderClosed = true; });
    outsider.on('error', () => {});
    await waitFor(() => outsiderClosed, 'a client outside the security group refused', 10000);
    // No unauthenticated Kafka traffic through a VPC connection: Metadata v1 before SASL closes it.
    const md = net.connect({ host: ip(11), port: 14001 });
    let mdClosed = false;
    let mdBytes = 0;
    md.on('data', (b) => { mdBytes += b.length; });
    md.on('close', () => { mdClosed = true; });
    md.on('error', () => {});
    await waitFor(() => md.readyState === 'open', 'a raw connection through the second VPC', 10000);
    const mdBody = Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0, 1, 0x74, 0xff, 0xff, 0xff, 0xff]);
    md.write(Buffer.concat([Buffer.from([0, 0, 0, mdBody.length]), mdBody]));
    await waitFor(() => mdClosed, 'an unauthenticated Metadata request closes its connection', 10000);
    check(mdBytes === 0, 'no Metadata answer before authentication');
    log('security-group ingress and the authentication gate hold on a VPC connection endpoint');
    // A client connected through the endpoint is cut off when the owner rejects the connection.
    const live = net.connect({ host: ip(4), port: 14001 });
    let liveClosed = false;
    live.on('close', () => { liveClosed = true; });
    live.on('error', () => {});
    await waitFor(() => live.readyState === 'open', 'a live client connection through the endpoint', 10000);
    await admin.send(new K.RejectClientVpcConnectionCommand({ ClusterArn: arn, VpcConnectionArn: connArn }));
    await waitConn(dev, connArn, 'REJECTED');
    await waitFor(() => liveClosed, 'the live client connection closed after the reject', 10000);
    check(!otherClosed && other.readyState === 'open', 'the other VPC connection\'s client is untouched');
    other.destroy();
    await dev.send(new K.DeleteVpcConnectionCommand({ Arn: conn2b }));
    await waitConn(dev, conn2b, 'GONE');
    await expectError('BadRequestException', admin.send(new K.RejectClientVpcConnectionCommand({ ClusterArn: arn, VpcConnectionArn: connArn })), /only AVAILABLE/);
    check(!(await tcpOpen(ip(4), 14001)), 'a rejected connection stops listening');
    const del = await dev.send(new K.DeleteVpcConnectionCommand({ Arn: connArn }));
    check(del.State === 'DELETING', 'delete answers DELETING');
    await waitConn(dev, connArn, 'GONE');
    await expectError('NotFoundException', dev.send(new K.DescribeVpcConnectionCommand({ Arn: connArn })));
    log('reject -> REJECTED -> delete -> gone');

    // ---- a new connection, then the owner turns the scheme off -> INACTIVE
    const conn2 = (await dev.send(new K.CreateVpcConnectionCommand(connReq))).VpcConnectionArn;
    await waitConn(dev, conn2, 'AVAILABLE');
    info = await clusterState(admin, arn);
    await admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Iam: { Enabled: false } } } } } }));
    await waitActive(admin, arn);
    await waitConn(dev, conn2, 'INACTIVE');
    const bb2 = await dev.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    check(!bb2.BootstrapBrokerStringVpcConnectivitySaslIam, 'no multi-VPC IAM string once the scheme is off');
    await dev.send(new K.DeleteVpcConnectionCommand({ Arn: conn2 }));
    await waitConn(dev, conn2, 'GONE');
    log('scheme off -> INACTIVE -> deleted');

    // ---- a connection whose endpoints cannot be bound goes FAILED, with a reason
    info = await clusterState(admin, arn);
    await admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Iam: { Enabled: true } } } } } }));
    await waitActive(admin, arn);
    const bad = (await dev.send(new K.CreateVpcConnectionCommand({ ...connReq, VpcId: 'vpc-unroutable',
      ClientSubnets: ['subnet-u1', 'subnet-u2'], SecurityGroups: ['sg-u'] }))).VpcConnectionArn;
    await waitConn(dev, bad, 'FAILED');
    const raw = await rawRequest(d, { method: 'GET', pathname: `/v1/vpc-connection/${encodeURIComponent(bad)}`, creds: KEYS.dev });
    check(raw.status === 200 && /cannot listen/.test(JSON.parse(raw.body).straitStateReason || ''), `failure reason: ${raw.body}`);
    await dev.send(new K.DeleteVpcConnectionCommand({ Arn: bad }));
    await waitConn(dev, bad, 'GONE');
    log('unbindable endpoints -> FAILED (with a reason) -> deleted');

    // ---- SCRAM secrets (salted in the store, associated through the API)
    const secretArn = `arn:aws:secretsmanager:${REGION}:${PROVIDER}:secret:AmazonMSK_alice`;
    info = await clusterState(admin, arn);
    await expectError('BadRequestException', admin.send(new K.BatchAssociateScramSecretCommand({ ClusterArn: arn, SecretArnList: [secretArn] })), /SASL\/SCRAM client authentication is not enabled/);
    await admin.send(new K.UpdateSecurityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ClientAuthentication: { Sasl: { Scram: { Enabled: true } } } }));
    await waitActive(admin, arn);
    const assoc = await admin.send(new K.BatchAssociateScramSecretCommand({ ClusterArn: arn,
      SecretArnList: [secretArn, `arn:aws:secretsmanager:${REGION}:${PROVIDER}:secret:AmazonMSK_nobody`] }));
    check(assoc.UnprocessedScramSecrets.length === 1 && /AmazonMSK_nobody/.test(assoc.UnprocessedScramSecrets[0].SecretArn), `unprocessed ${JSON.stringify(assoc)}`);
    const ls = await admin.send(new K.ListScramSecretsCommand({ ClusterArn: arn }));
    check(ls.SecretArnList.length === 1 && ls.SecretArnList[0] === secretArn, 'ListScramSecrets');
    const status = JSON.parse(strait(d, ['ctl-status']));
    check(status.scramCredentials === 1, `snapshot carries the SCRAM credential: ${JSON.stringify(status)}`);
    const db = fs.readFileSync(path.join(d.data, 'strait.db')).toString('latin1') +
      (fs.existsSync(path.join(d.data, 'strait.db-wal')) ? fs.readFileSync(path.join(d.data, 'strait.db-wal')).toString('latin1') : '');
    check(!db.includes('alice-secret'), 'the SCRAM password is not stored');
    const dis = await admin.send(new K.BatchDisassociateScramSecretCommand({ ClusterArn: arn, SecretArnList: [secretArn, secretArn + 'x'] }));
    check(dis.UnprocessedScramSecrets.length === 1, `disassociate reports the unknown one: ${JSON.stringify(dis)}`);
    check((await admin.send(new K.ListScramSecretsCommand({ ClusterArn: arn }))).SecretArnList.length === 0, 'no secret left');
    check(JSON.parse(strait(d, ['ctl-status'])).scramCredentials === 0, 'the snapshot drops the credential');
    check((fs.statSync(path.join(d.data, 'strait.db')).mode & 0o777) === 0o600, 'the database is 0600');
    log('SCRAM secrets ok');

    // ---- listing, pagination, tags
    const c2 = (await admin.send(new K.CreateClusterV2Command({ ClusterName: 'demo2',
      Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: 1, BrokerNodeGroupInfo: { ClientSubnets: ['subnet-p1'], InstanceType: 'kafka.m5.large' } } }))).ClusterArn;
    const p1 = await admin.send(new K.ListClustersV2Command({ MaxResults: 1 }));
    check(p1.ClusterInfoList.length === 1 && p1.NextToken, 'first page with a nextToken');
    const p2 = await admin.send(new K.ListClustersV2Command({ MaxResults: 1, NextToken: p1.NextToken }));
    check(p2.ClusterInfoList.length === 1 && !p2.NextToken && p2.ClusterInfoList[0].ClusterArn !== p1.ClusterInfoList[0].ClusterArn, 'second page');
    await expectError('BadRequestException', admin.send(new K.ListClustersV2Command({ NextToken: 'garbage' })), /nextToken/);
    const onlyDemo2 = await admin.send(new K.ListClustersV2Command({ ClusterNameFilter: 'demo2' }));
    check(onlyDemo2.ClusterInfoList.length === 1, 'clusterNameFilter');
    await expectError('ForbiddenException', dev.send(new K.ListClustersV2Command({})), /kafka:ListClustersV2/);
    await expectError('BadRequestException', admin.send(new K.TagResourceCommand({ ResourceArn: arn, Tags: { 'aws:owner': 'x' } })), /aws:/);
    await admin.send(new K.TagResourceCommand({ ResourceArn: arn, Tags: { owner: 'platform' } }));
    await admin.send(new K.UntagResourceCommand({ ResourceArn: arn, TagKeys: ['env'] }));
    const tags = (await admin.send(new K.ListTagsForResourceCommand({ ResourceArn: arn }))).Tags;
    check(tags.owner === 'platform' && !('env' in tags), `tags ${JSON.stringify(tags)}`);
    await waitActive(admin, c2);
    const dc = await admin.send(new K.DeleteClusterCommand({ ClusterArn: c2 }));
    check(dc.State === 'DELETING', 'DeleteCluster answers DELETING');
    await waitFor(async () => { try { await clusterState(admin, c2); return false; } catch (e) { return e.name === 'NotFoundException'; } }, 'demo2 gone');
    await expectError('NotFoundException', admin.send(new K.DescribeClusterCommand({ ClusterArn: c2 })));
    await expectError('BadRequestException', admin.send(new K.GetBootstrapBrokersCommand({ ClusterArn: c2 })), /does not exist/);
    log('listing, pagination, tags, delete ok');

    // ---- an existing Kafka cluster registered through the strait extension member
    // (`straitUpstream`; SDKs drop unknown members, so this is a raw signed request)
    const extBody = JSON.stringify({ clusterName: 'external', straitUpstream: { bootstrapServers: d.legacyBootstrap },
      provisioned: { kafkaVersion: '3.6.0', numberOfBrokerNodes: 1,
        brokerNodeGroupInfo: { clientSubnets: ['subnet-p1'], instanceType: 'kafka.m5.large' } } });
    const ext = await rawRequest(d, { method: 'POST', pathname: '/api/v2/clusters', body: extBody, creds: KEYS.admin });
    check(ext.status === 200, `register an external cluster: ${ext.status} ${ext.body}`);
    const extArn = JSON.parse(ext.body).clusterArn;
    const extInfo = await waitActive(admin, extArn);
    check(extInfo.Provisioned.NumberOfBrokerNodes === 1, 'external cluster described');
    await admin.send(new K.DeleteClusterCommand({ ClusterArn: extArn }));
    await waitFor(async () => { try { await clusterState(admin, extArn); return false; } catch (e) { return e.name === 'NotFoundException'; } }, 'external gone');
    log('external upstream registered, ACTIVE, deleted');

    // ---- SigV4 negatives
    const body = JSON.stringify({ clusterName: 'demo3', provisioned: { kafkaVersion: '3.6.0', numberOfBrokerNodes: 1,
      brokerNodeGroupInfo: { clientSubnets: ['subnet-p1'], instanceType: 'kafka.m5.large' } } });
    let res = await rawRequest(d, { method: 'POST', pathname: '/api/v2/clusters', body, creds: KEYS.admin, tamper: true });
    check(res.status === 403 && res.type === 'InvalidSignatureException', `tampered body: ${res.status} ${res.type}`);
    res = await rawRequest(d, { method: 'POST', pathname: '/api/v2/clusters', body, creds: { ...KEYS.admin, secretAccessKey: 'wrong-secret-000000000000000000000000000' } });
    check(res.status === 403 && res.type === 'InvalidSignatureException', `wrong secret: ${res.status} ${res.type}`);
    res = await rawRequest(d, { method: 'GET', pathname: '/v1/vpc-connections', creds: KEYS.admin, date: new Date(Date.now() - 3600 * 1000) });
    check(res.status === 403 && res.type === 'InvalidSignatureException' && /expired/i.test(res.body), `expired date: ${res.status} ${res.type} ${res.body}`);
    res = await rawRequest(d, { method: 'GET', pathname: '/v1/vpc-connections', creds: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x'.repeat(40) } });
    check(res.status === 403 && res.type === 'UnrecognizedClientException', `unknown key: ${res.status} ${res.type}`);
    res = await rawRequest(d, { method: 'GET', pathname: '/v1/vpc-connections', creds: KEYS.admin, dropAuth: true });
    check(res.status === 403 && res.type === 'MissingAuthenticationTokenException', `no Authorization: ${res.status} ${res.type}`);
    res = await rawRequest(d, { method: 'GET', pathname: '/v1/vpc-connections', creds: KEYS.admin, signedHeadersOverride: 'x-amz-date' });
    check(res.status >= 400 && res.status < 500 && /Signature|Incomplete/.test(res.type), `host not signed: ${res.status} ${res.type}`);
    res = await rawRequest(d, { method: 'GET', pathname: '/v1/vpc-connections', creds: KEYS.admin, dropHeader: 'x-amz-date' });
    check(res.status >= 400 && res.status < 500 && /Signature|Incomplete/.test(res.type || ''), `signed x-amz-date missing: ${res.status} ${res.type}`);
    res = await rawRequest(d, { method: 'POST', pathname: '/api/v2/clusters', body, creds: KEYS.admin, dropHeader: 'x-amz-content-sha256' });
    check(res.status === 403 || res.status === 400, `signed x-amz-content-sha256 missing: ${res.status} ${res.type}`);
    res = await rawRequest(d, { method: 'GET', pathname: '/v1/no-such-thing', creds: KEYS.admin });
    check(res.status === 404 && res.type === 'UnknownOperationException', `unknown path: ${res.status} ${res.type}`);
    check((await admin.send(new K.ListClustersV2Command({ ClusterNameFilter: 'demo3' }))).ClusterInfoList.length === 0, 'no rejected request had an effect');
    await expectError('UnrecognizedClientException', kafka(d, { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x'.repeat(40) }).send(new K.ListClustersV2Command({})));
    await expectError('InvalidSignatureException', kafka(d, { ...KEYS.admin, secretAccessKey: 'wrong' }).send(new K.ListClustersV2Command({})));
    log('SigV4 negatives rejected');
  } catch (e) {
    failures++;
    console.error(`FAIL: ${e.stack || e}`);
    d.printLog();
  } finally {
    const r = await d.stop();
    if (r && r.code !== 0) {
      failures++;
      console.error(`straitd did not stop cleanly: ${JSON.stringify(r)}`);
      d.printLog();
    }
    h.removeTempDir(dir);
  }
  if (failures) process.exit(1);
  log('PASS');
}

main().catch((e) => { console.error(e); process.exit(1); });
