// Differential test of strait's IAM policy engine against @cloud-copilot/iam-simulate, an
// independent open-source evaluator (AGPL-3.0: run here as an external test tool only; it is never
// vendored into or linked with strait). Every decision fixture in tests/data/policy is evaluated by
// `strait policy simulate` and by iam-simulate (unsafe mode: context keys passed through as given);
// decisions must agree except for the documented deviations in known-deviations.json
// (iam-policy-semantics.md §9 lists the simulator's known deviations from AWS).
//
// usage: node oracle.mjs STRAIT_BINARY FIXTURE_DIR   (run.sh supplies both)
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runUnsafeSimulation, anonymousPrincipal } from '@cloud-copilot/iam-simulate'
import { createValidatedPolicy } from '@cloud-copilot/iam-policy'

const here = dirname(fileURLToPath(import.meta.url))
const [strait, fixtureDir] = process.argv.slice(2)
if (!strait || !fixtureDir) {
  console.error('usage: node oracle.mjs STRAIT_BINARY FIXTURE_DIR')
  process.exit(2)
}
const known = JSON.parse(readFileSync(join(here, 'known-deviations.json'), 'utf8'))
const names = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' }

const toPolicy = (p) => (typeof p === 'string' ? JSON.parse(p) : p)
// Context values as iam-simulate takes them: strings or arrays of strings.
const str = (v) => (typeof v === 'string' ? v : JSON.stringify(v))
const contextOf = (ctx) =>
  Object.fromEntries(Object.entries(ctx || {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(str) : str(v)]))
const accountOf = (arn) => (arn.split(':').length >= 6 ? arn.split(':')[4] : '')

function oracle(req) {
  const principal = req.principal === '' ? anonymousPrincipal : req.principal
  const sim = {
    identityPolicies: (req.identityPolicies || []).map((p, i) => ({ name: `identityPolicies[${i}]`, policy: toPolicy(p) })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    // runUnsafeSimulation loads the resource policy without metadata; give it a name this way.
    resourcePolicy: req.resourcePolicy
      ? createValidatedPolicy(toPolicy(req.resourcePolicy), () => [], { name: 'resourcePolicy' })
      : undefined,
    request: {
      action: req.action,
      principal,
      // A resource ARN without an account (S3 buckets) belongs to the caller's account in strait.
      resource: { resource: req.resource, accountId: accountOf(req.resource) || accountOf(req.principal) },
      contextVariables: contextOf(req.context)
    }
  }
  try {
    const r = runUnsafeSimulation(sim, {})
    return names[r] || `error:${JSON.stringify(r)}`
  } catch (e) {
    return `error:${e.message}`
  }
}

let total = 0, agree = 0, deviations = 0, failures = 0
const seenKnown = new Set()
for (const file of readdirSync(fixtureDir).filter((f) => f.endsWith('.json')).sort()) {
  const fx = JSON.parse(readFileSync(join(fixtureDir, file), 'utf8'))
  const reqs = fx.cases.map((c) => {
    const r = { ...fx.defaults, ...c }
    delete r.name; delete r.expect; delete r.expectMatched
    return r
  })
  const out = JSON.parse(execFileSync(strait, ['policy', 'simulate', '--input', '-', '--output', 'json'],
    { input: JSON.stringify(reqs) }).toString())
  fx.cases.forEach((c, i) => {
    total++
    const mine = out[i].decision
    const theirs = oracle(reqs[i])
    const key = `${file}: ${c.name}`
    if (mine === theirs) {
      agree++
      if (known[key]) console.log(`NOTE  ${key}: listed as a deviation but now agrees (${mine})`)
      return
    }
    if (known[key] && known[key].oracle === theirs) {
      deviations++
      seenKnown.add(key)
      console.log(`KNOWN ${key}: strait ${mine}, iam-simulate ${theirs} -- ${known[key].reason}`)
      return
    }
    failures++
    console.log(`DIFF  ${key}: strait ${mine} (fixture ${c.expect}), iam-simulate ${theirs}`)
  })
}
console.log(`\n${total} cases: ${agree} agree, ${deviations} known deviations, ${failures} unexplained differences`)
process.exit(failures ? 1 : 0)
