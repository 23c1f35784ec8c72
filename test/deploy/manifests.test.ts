// The deployment files (Dockerfile, docker-compose*.yml, deploy/kubernetes, deploy/kserve) agree
// with the app they deploy: every probe path is a real route, every env var is one loadConfig
// reads and accepts with the value given, ports line up from EXPOSE to the Service, and every
// grace period outlasts the server's own drain deadline. No Docker or cluster needed.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { buildApp } from '../../src/app.js';
import { loadConfig, testConfig } from '../../src/config.js';
import { hardDeadlineMs } from '../../src/shutdown.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML manifests, walked by known paths
type Obj = Record<string, any>;

const ROOT = new URL('../../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ROOT), 'utf8');
const yamlDocs = (file: string): Obj[] =>
  parseAllDocuments(read(file))
    .map((d) => d.toJSON() as Obj)
    .filter(Boolean);

const K8S_DIR = 'deploy/kubernetes/';
const k8sFiles = readdirSync(new URL(K8S_DIR, ROOT)).filter(
  (f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml',
);
const k8s = k8sFiles.flatMap((f) => yamlDocs(K8S_DIR + f));
const kustomization = parse(read(`${K8S_DIR}kustomization.yaml`)) as Obj;
const byKind = (kind: string) => {
  const found = k8s.filter((d) => d.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in ${K8S_DIR}, found ${found.length}`);
  return found[0];
};
const deployment = byKind('Deployment');
const service = byKind('Service');
const hpa = byKind('HorizontalPodAutoscaler');
const pdb = byKind('PodDisruptionBudget');
const podSpec = deployment.spec.template.spec as Obj;
const container = podSpec.containers[0] as Obj;

const isvc = parse(read('deploy/kserve/inferenceservice.yaml')) as Obj;
const isvcContainer = isvc.spec.predictor.containers.find((c: Obj) => c.name === 'kserve-container') as Obj;

const compose = parse(read('docker-compose.yml')) as Obj;
const composeService = compose.services['convnet-serve'] as Obj;
const composeHost = parse(read('docker-compose.host.yml')) as Obj;

/** Dockerfile instructions with continuation lines joined and comments dropped. */
const dockerfile = read('Dockerfile')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [, op, rest] = /^(\S+)\s*(.*)$/.exec(l)!;
    return { op: op.toUpperCase(), rest: rest.trim() };
  });
const instructions = (op: string) => dockerfile.filter((i) => i.op === op).map((i) => i.rest);
/** The runtime stage: instructions after the last FROM. */
const lastFrom = dockerfile.map((i) => i.op).lastIndexOf('FROM');
const runtimeStage = dockerfile.slice(lastFrom);
const dockerEnv: Record<string, string> = {};
for (const i of runtimeStage.filter((i) => i.op === 'ENV')) {
  for (const m of i.rest.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g))
    dockerEnv[m[1]] = m[2].replace(/^"|"$/g, '');
}

const envOf = (c: Obj): Record<string, string> =>
  Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, String(e.value)]));
const deploymentEnv = envOf(container);
const isvcEnv = envOf(isvcContainer);
const composeEnv: Record<string, string> = Object.fromEntries(
  Object.entries(composeService.environment ?? {}).map(([k, v]) => [k, String(v)]),
);

/** Variables the platform, not the service, reads: KServe takes a custom predictor's protocol from PROTOCOL. */
const PLATFORM_VARS: Record<string, string> = {
  PROTOCOL: 'KServe controller',
  NODE_ENV: 'Node.js libraries',
};

/** Every variable name loadConfig reads, observed rather than parsed out of the source. */
function namesLoadConfigReads(): Set<string> {
  const seen = new Set<string>();
  const recordRead = (_target: object, key: string | symbol) => {
    if (typeof key === 'string') seen.add(key);
    return undefined;
  };
  loadConfig(new Proxy({}, { get: recordRead }));
  return seen;
}

/** "45s", "1m30s", "500ms" (compose durations) in seconds. */
function durationSeconds(s: string): number {
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const [, n, u] of String(s).matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * unit[u];
  return total;
}

const app = await buildApp(testConfig());
t.teardown(() => app.close());

t.test('every manifest file is listed in the kustomization and parses', async (t) => {
  t.same([...kustomization.resources].sort(), [...k8sFiles].sort());
  t.same(k8s.map((d) => d.kind).sort(), [
    'Deployment',
    'HorizontalPodAutoscaler',
    'PodDisruptionBudget',
    'Service',
  ]);
  t.equal(isvc.apiVersion, 'serving.kserve.io/v1beta1');
  t.equal(isvc.kind, 'InferenceService');
});

t.test('every env var in the manifests is one loadConfig reads, and the values are accepted', async (t) => {
  const reads = namesLoadConfigReads();
  t.ok(reads.has('PORT') && reads.has('DRAIN_TIMEOUT_MS'), 'the probe sees what loadConfig reads');
  const sources: [string, Record<string, string>][] = [
    ['deployment', deploymentEnv],
    ['inferenceservice', isvcEnv],
    ['docker-compose.yml', composeEnv],
    ['Dockerfile ENV', dockerEnv],
  ];
  for (const [where, env] of sources) {
    t.ok(Object.keys(env).length > 0, `${where} sets variables`);
    for (const name of Object.keys(env)) {
      t.ok(
        reads.has(name) || name in PLATFORM_VARS,
        `${where}: ${name} is read by loadConfig${PLATFORM_VARS[name] ? ` (or by the ${PLATFORM_VARS[name]})` : ''}`,
      );
    }
    const serviceEnv = Object.fromEntries(Object.entries(env).filter(([k]) => reads.has(k)));
    t.doesNotThrow(
      () => loadConfig(serviceEnv),
      `${where}: loadConfig accepts ${JSON.stringify(serviceEnv)}`,
    );
  }
  t.equal(isvcEnv.PROTOCOL, 'v2', 'KServe is told the predictor speaks the v2 protocol');
  t.notOk('PORT' in isvcEnv, 'Knative reserves PORT and sets it to the containerPort');
});

t.test('probe paths are real routes: liveness 200, readiness exists', async (t) => {
  const probes: [string, Obj | undefined, boolean][] = [
    ['deployment startupProbe', container.startupProbe, false],
    ['deployment readinessProbe', container.readinessProbe, false],
    ['deployment livenessProbe', container.livenessProbe, true],
    ['inferenceservice readinessProbe', isvcContainer.readinessProbe, false],
    ['inferenceservice livenessProbe', isvcContainer.livenessProbe, true],
  ];
  for (const [what, probe, mustBe200] of probes) {
    t.ok(probe?.httpGet?.path, `${what} is an HTTP probe`);
    const res = await app.inject({ method: 'GET', url: probe!.httpGet.path });
    if (mustBe200) t.equal(res.statusCode, 200, `${what} ${probe!.httpGet.path} answers 200`);
    else
      t.ok(
        [200, 503].includes(res.statusCode),
        `${what} ${probe!.httpGet.path} exists (got ${res.statusCode})`,
      );
  }
  t.equal(container.readinessProbe.httpGet.path, '/health/ready');
  t.equal(container.livenessProbe.httpGet.path, '/health/live');
  t.equal(container.startupProbe.httpGet.path, '/health/ready', 'started = models loaded and warmed up');
  t.match(isvcContainer.readinessProbe.httpGet.path, /^\/v2\/health\/ready$/);
  const healthcheck = instructions('HEALTHCHECK').join(' ');
  // the URL is built as 'http://127.0.0.1:' + PORT + '/health/ready': take the quoted path
  const path = /['"](\/[\w/-]+)['"]/.exec(healthcheck)?.[1];
  t.equal(path, '/health/ready', 'the Dockerfile HEALTHCHECK asks readiness');
  t.equal((await app.inject('/health/ready')).statusCode, 200, 'and an app with nothing to load is ready');
});

t.test('ports line up: EXPOSE = PORT = containerPort = Service targetPort = compose', async (t) => {
  const defaultPort = loadConfig({}).port;
  const imagePort = Number(dockerEnv.PORT ?? defaultPort);
  t.same(instructions('EXPOSE').map(Number), [imagePort], 'EXPOSE is the image PORT');
  t.equal(imagePort, 3000);

  const http = container.ports.find((p: Obj) => p.name === 'http');
  t.ok(http, 'the Deployment names its port http');
  t.equal(
    http.containerPort,
    Number(deploymentEnv.PORT ?? imagePort),
    'containerPort is the PORT the server listens on',
  );
  for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
    const p = probe.httpGet.port;
    t.ok(p === http.name || p === http.containerPort, `probe port ${p} is the container port`);
  }
  const target = service.spec.ports[0].targetPort;
  t.ok(
    target === http.name || target === http.containerPort,
    `Service targetPort ${target} reaches containerPort ${http.containerPort}`,
  );
  t.same(service.spec.selector, deployment.spec.selector.matchLabels, 'Service selects the Deployment pods');
  t.match(deployment.spec.template.metadata.labels, deployment.spec.selector.matchLabels);

  const isvcPorts = isvcContainer.ports as Obj[];
  t.equal(isvcPorts.length, 1, 'Knative allows one port');
  t.equal(
    isvcPorts[0].containerPort,
    imagePort,
    'the predictor listens on the image default (Knative sets PORT to it)',
  );
  t.ok(['http1', 'h2c', undefined].includes(isvcPorts[0].name), 'a port name Knative accepts');
  for (const probe of [isvcContainer.readinessProbe, isvcContainer.livenessProbe])
    t.equal(probe.httpGet.port, imagePort);

  const [published, inside] = String(composeService.ports[0]).split(':').map(Number);
  t.equal(inside, Number(composeEnv.PORT ?? imagePort), 'compose publishes the PORT the server listens on');
  t.equal(published, 3000);
  t.equal(
    composeHost.services['convnet-serve'].network_mode,
    'host',
    'the host override switches to host networking',
  );
});

t.test('grace periods outlast the drain', async (t) => {
  const defaults = loadConfig({});
  const secondsOf = (env: Record<string, string>, name: string, fallback: number) =>
    (env[name] !== undefined ? Number(env[name]) : fallback) / 1000;
  /** When the server itself gives up on a drain and exits 1, in seconds after its signal. */
  const serverDeadline = (delay: number, drain: number) =>
    hardDeadlineMs({ shutdownDelayMs: delay * 1000, drainTimeoutMs: drain * 1000 }) / 1000;

  const drain = secondsOf(deploymentEnv, 'DRAIN_TIMEOUT_MS', defaults.drainTimeoutMs);
  const delay = secondsOf(deploymentEnv, 'SHUTDOWN_DELAY_MS', defaults.shutdownDelayMs);
  const preStop = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
  t.same(preStop?.slice(0, 1), ['sleep'], 'preStop sleeps (the image has sleep)');
  const sleep = Number(preStop?.[1]);
  t.ok(sleep > 0, `preStop sleeps ${sleep} s`);
  const grace = podSpec.terminationGracePeriodSeconds as number;
  t.ok(
    grace > sleep + delay + drain,
    `terminationGracePeriodSeconds ${grace} > preStop ${sleep} + delay ${delay} + drain ${drain}`,
  );
  const deadline = serverDeadline(delay, drain);
  t.ok(
    grace >= sleep + deadline,
    `and covers preStop ${sleep} + the server's own deadline ${deadline} s, so a drain is never SIGKILLed`,
  );

  const composeDrain = secondsOf(composeEnv, 'DRAIN_TIMEOUT_MS', defaults.drainTimeoutMs);
  const composeDelay = secondsOf(composeEnv, 'SHUTDOWN_DELAY_MS', defaults.shutdownDelayMs);
  const stopGrace = durationSeconds(composeService.stop_grace_period);
  t.ok(
    stopGrace > composeDrain,
    `compose stop_grace_period ${stopGrace} s > DRAIN_TIMEOUT_MS ${composeDrain} s`,
  );
  const composeDeadline = serverDeadline(composeDelay, composeDrain);
  t.ok(stopGrace >= composeDeadline, `and covers the server's own deadline, ${composeDeadline} s`);
});

t.test('the Dockerfile: slim Node 20 stages, tini, a non-root user, models at /models', async (t) => {
  const froms = instructions('FROM');
  t.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms) t.match(f, /^node:20-bookworm-slim\b/, `stage ${f}`);
  const users = runtimeStage.filter((i) => i.op === 'USER').map((i) => i.rest);
  t.ok(users.length > 0, 'the runtime stage sets USER');
  const user = users.at(-1)!;
  const [uid, gid] = user.split(':');
  t.notOk(['root', '0'].includes(uid), `USER ${user} is not root`);
  t.match(uid, /^\d+$/, 'numeric, so runAsNonRoot can verify it');
  t.equal(podSpec.securityContext.runAsNonRoot, true);
  t.equal(podSpec.securityContext.runAsUser, Number(uid), 'the Deployment runs as the image user');
  if (gid) t.equal(podSpec.securityContext.runAsGroup, Number(gid));
  t.equal(isvcContainer.securityContext.runAsUser, Number(uid), 'so does the predictor');
  t.match(instructions('ENTRYPOINT').at(-1), /tini/, 'tini forwards signals to node');
  t.ok(
    runtimeStage.some((i) => i.op === 'COPY' && /\/app\/proto\b/.test(i.rest)),
    'the runtime has proto/, which the ONNX importer reads',
  );
  t.equal(dockerEnv.MODELS_DIR, '/models');
  t.ok(
    instructions('VOLUME').some((v) => v.includes('/models')),
    'VOLUME /models',
  );
  t.equal(deploymentEnv.MODELS_DIR ?? dockerEnv.MODELS_DIR, '/models');
  t.ok(
    composeService.volumes.some((v: string) => /^models:\/models\b/.test(v)),
    'compose mounts the named volume at /models',
  );
});

t.test('.dockerignore keeps what the build copies', async (t) => {
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const copied = instructions('COPY')
    .filter((c) => !c.startsWith('--from'))
    .flatMap((c) => c.split(/\s+/).slice(0, -1));
  t.ok(copied.includes('src') && copied.includes('package-lock.json'));
  for (const path of copied) t.notOk(ignored.includes(path), `${path} is copied, so not ignored`);
  for (const must of ['**/node_modules', 'dist', '.git', 'test'])
    t.ok(ignored.includes(must), `${must} is ignored`);
});

t.test('scaling and disruption policy', async (t) => {
  t.equal(hpa.apiVersion, 'autoscaling/v2');
  t.same(hpa.spec.scaleTargetRef, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: deployment.metadata.name,
  });
  t.match(hpa.spec.metrics, [
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
  ]);
  t.ok(hpa.spec.minReplicas >= 2, 'at least two replicas, so the PDB can allow a disruption');
  t.equal(pdb.spec.minAvailable, 1);
  t.same(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  t.ok(container.resources.requests.cpu, 'a CPU request, which the HPA utilisation is measured against');
  const cpuLimit =
    Number(String(container.resources.limits.cpu).replace(/m$/, '')) /
    (String(container.resources.limits.cpu).endsWith('m') ? 1000 : 1);
  t.ok(
    Number(deploymentEnv.WORKERS) <= Math.max(1, cpuLimit),
    `WORKERS ${deploymentEnv.WORKERS} fits the CPU limit ${cpuLimit}`,
  );
  t.ok(
    Number(composeEnv.WORKERS) <= Math.max(1, Number(composeService.cpus)),
    `compose WORKERS fits cpus ${composeService.cpus}`,
  );
  t.ok(composeService.mem_limit, 'compose sets mem_limit');
  t.equal(composeService.init, true);
  t.equal(composeService.restart, 'unless-stopped');
});
