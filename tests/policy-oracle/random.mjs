// Randomized differential test: generates seeded, deterministic requests from small pools of
// condition operators/values, principals, actions and resources, evaluates each with
// `strait policy simulate` and with iam-simulate, and reports every disagreement. Generation avoids
// the areas where iam-simulate knowingly deviates from AWS (known-deviations.json, spec §9):
// policy variables, 2008-10-17, BinaryEquals, epoch dates, case of ARN segments, empty arrays.
//
// usage: node random.mjs STRAIT_BINARY [COUNT] [SEED]
import { execFileSync } from 'node:child_process'
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate'
import { createValidatedPolicy } from '@cloud-copilot/iam-policy'

const [strait, countArg, seedArg] = process.argv.slice(2)
const COUNT = Number(countArg || 2000)
let seed = Number(seedArg || 1) >>> 0
const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296)
const pick = (a) => a[Math.floor(rnd() * a.length)]
const some = (a, min, max) => {
  const n = min + Math.floor(rnd() * (max - min + 1))
  return Array.from({ length: n }, () => pick(a))
}

const families = {
  String: {
    ops: ['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike'],
    policy: ['abc', 'a*', 'A?c', 'xyz', 'ab*c', '*', '${aws:username}', 'a${aws:username}'],
    request: ['abc', 'ABC', 'xyz', 'abbc', 'a', 'Abc']
  },
  Numeric: {
    ops: ['NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals'],
    policy: ['1', '10', '-2.5', '3.0'],
    request: ['1', '10', '2', '-2.5', '3', '100']
  },
  Date: {
    ops: ['DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals'],
    policy: ['2026-01-01T00:00:00Z', '2025-06-30T12:00:00Z'],
    request: ['2026-01-01T00:00:00Z', '2025-01-01T00:00:00Z', '2027-03-04T05:06:07Z', '2025-06-30T12:00:00Z']
  },
  Bool: { ops: ['Bool'], policy: ['true', 'false'], request: ['true', 'false'] },
  Ip: {
    ops: ['IpAddress', 'NotIpAddress'],
    // Bare IPv4 policy addresses are left to the fixtures: iam-simulate mishandles them with IPv6
    // requests under NotIpAddress (known-deviations.json).
    policy: ['10.0.0.0/8', '192.168.1.1/32', '2001:db8::/32', '192.168.0.0/16'],
    request: ['10.1.2.3', '192.168.1.1', '192.168.1.2', '2001:db8::5', '11.0.0.1']
  },
  Arn: {
    ops: ['ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'],
    policy: ['arn:aws:iam::111122223333:role/*', 'arn:aws:iam::*:user/a*', 'arn:aws:kafka:*:*:cluster/c/*'],
    request: ['arn:aws:iam::111122223333:role/r', 'arn:aws:iam::999999999999:user/alice', 'arn:aws:kafka:us-east-1:111122223333:cluster/c/u']
  },
  Null: { ops: ['Null'], policy: ['true', 'false'], request: ['v', 'w'] }
}
const keys = ['k:a', 'k:b']

function genCondition(ctx) {
  const famName = pick(Object.keys(families))
  const fam = families[famName]
  let op = pick(fam.ops)
  const setOp = famName === 'Null' ? '' : pick(['', '', 'ForAllValues:', 'ForAnyValue:'])
  // ForAnyValue:...IfExists with the key absent: strait follows IfExists (true), iam-simulate
  // returns false (known-deviations.json); not generated.
  if (famName !== 'Null' && setOp !== 'ForAnyValue:' && rnd() < 0.25) op += 'IfExists'
  const key = pick(keys)
  const vals = some(fam.policy, 1, 2)
  // Context for this key, unless another condition already set it.
  ctx.__fam = ctx.__fam || {}
  if (!(key in ctx.__fam)) {
    const shape = rnd()
    if (shape < 0.25) {
      /* absent */
    } else if (shape < 0.7 || setOp === '') {
      ctx[key] = pick(fam.request)
    } else {
      ctx[key] = some(fam.request, 1, 3)
    }
    ctx.__fam[key] = famName
  } else if (ctx.__fam[key] !== famName) {
    return null // keep one value family per key
  }
  if (setOp === '' && Array.isArray(ctx[key])) return null
  return [setOp + op, key, vals.length === 1 ? vals[0] : vals]
}

const principals = [
  'arn:aws:iam::111122223333:user/alice',
  'arn:aws:sts::111122223333:assumed-role/reader/s1',
  'arn:aws:iam::444455556666:user/bob',
  'arn:aws:sts::444455556666:assumed-role/client/s9',
  'firehose.amazonaws.com',
  'arn:aws:sts::111122223333:federated-user/alice'
]
const rpPrincipals = [
  '*', { AWS: '111122223333' }, { AWS: 'arn:aws:iam::444455556666:root' },
  { AWS: 'arn:aws:iam::111122223333:role/reader' }, { AWS: 'arn:aws:iam::444455556666:user/bob' },
  { AWS: ['444455556666', 'arn:aws:iam::111122223333:user/alice'] },
  { AWS: 'arn:aws:sts::444455556666:assumed-role/client/s9' },
  { Service: 'firehose.amazonaws.com' }
]
const actions = ['kafka-cluster:Connect', 'kafka-cluster:WriteData', 'kafka-cluster:DescribeTopic', 'kafka:CreateVpcConnection']
const actionPatterns = ['kafka-cluster:*', 'kafka-cluster:*Topic', 'kafka-cluster:Write*', 'KAFKA-CLUSTER:connect', 'kafka:*', '*', 'kafka-cluster:?onnect']
const resources = [
  'arn:aws:kafka:us-east-1:111122223333:cluster/c/u-1',
  'arn:aws:kafka:us-east-1:111122223333:topic/c/u-1/orders',
  'arn:aws:kafka:eu-west-1:111122223333:topic/c/u-2/orders_test'
]
const resourcePatterns = ['*', 'arn:aws:kafka:us-east-1:111122223333:*', 'arn:aws:kafka:*:*:topic/c/*', 'arn:aws:kafka:us-east-1:111122223333:topic/c/*/*_test',
  'arn:aws:kafka:*:111122223333:cluster/c/*', 'arn:aws:kafka:us-east-1:*:topic/c/u-1/orders',
  // Policy variables: aws:username is always present and single-valued in generated requests
  // (missing variables are a known deviation).
  'arn:aws:kafka:*:*:topic/c/*/${aws:username}', 'arn:aws:kafka:*:*:topic/c/*/${aws:username}_test']

function genStatement(ctx, effect, resourcePolicy) {
  const st = { Effect: effect }
  if (resourcePolicy) {
    // strait accepts NotPrincipal only with Deny (spec §4.1).
    if (effect === 'Deny' && rnd() < 0.3) st.NotPrincipal = pick(rpPrincipals.filter((p) => p !== '*'))
    else st.Principal = pick(rpPrincipals)
  }
  if (rnd() < 0.15) st.NotAction = some(actionPatterns, 1, 2)
  else st.Action = some(actionPatterns, 1, 2)
  if (rnd() < 0.15) st.NotResource = some(resourcePatterns.filter((r) => r !== '*'), 1, 2)
  else st.Resource = some(resourcePatterns, 1, 2)
  if (rnd() < 0.6) {
    const cond = {}
    for (let i = 0; i < 1 + Math.floor(rnd() * 2); i++) {
      const c = genCondition(ctx)
      if (!c) continue
      cond[c[0]] = cond[c[0]] || {}
      cond[c[0]][c[1]] = c[2]
    }
    if (Object.keys(cond).length) st.Condition = cond
  }
  return st
}

function genCase() {
  const ctx = {}
  const id = []
  const nId = Math.floor(rnd() * 3)
  for (let i = 0; i < nId; i++) {
    const sts = [genStatement(ctx, 'Allow', false)]
    if (rnd() < 0.3) sts.push(genStatement(ctx, 'Deny', false))
    id.push({ Version: '2012-10-17', Statement: sts })
  }
  let rp = null
  if (rnd() < 0.6) {
    const sts = [genStatement(ctx, 'Allow', true)]
    if (rnd() < 0.3) sts.push(genStatement(ctx, 'Deny', true))
    rp = { Version: '2012-10-17', Statement: sts }
  }
  delete ctx.__fam
  ctx['aws:username'] = pick(['orders', 'orders_test', 'abc', 'bc'])
  return { identityPolicies: id, resourcePolicy: rp, principal: pick(principals), action: pick(actions), resource: pick(resources), context: ctx }
}

const names = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' }
function oracle(req) {
  try {
    return names[runUnsafeSimulation({
      identityPolicies: req.identityPolicies.map((p, i) => ({ name: `identityPolicies[${i}]`, policy: p })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: req.resourcePolicy ? createValidatedPolicy(req.resourcePolicy, () => [], { name: 'resourcePolicy' }) : undefined,
      request: { action: req.action, principal: req.principal, resource: { resource: req.resource, accountId: req.resource.split(':')[4] }, contextVariables: req.context }
    }, {})]
  } catch (e) {
    return `error:${e.message}`
  }
}

const cases = Array.from({ length: COUNT }, genCase)
const out = JSON.parse(execFileSync(strait, ['policy', 'simulate', '--input', '-', '--output', 'json'],
  { input: JSON.stringify(cases), maxBuffer: 1 << 30 }).toString())
let diffs = 0
const tally = {}
cases.forEach((c, i) => {
  const mine = out[i].decision || `error:${out[i].error}`
  tally[mine] = (tally[mine] || 0) + 1
  const theirs = oracle(c)
  if (mine !== theirs) {
    diffs++
    if (diffs <= 10) console.log(`DIFF case ${i}: strait ${mine}, iam-simulate ${theirs}\n${JSON.stringify(c)}\n${out[i].explanation || ''}\n`)
  }
})
console.log(`${COUNT} random cases (seed ${seedArg || 1}): decisions ${JSON.stringify(tally)}; ${diffs} differences`)
process.exit(diffs ? 1 : 0)
