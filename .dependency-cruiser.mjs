// Import rules for src/ (`npx depcruise src`, part of `npm run lint` and
// `npm test`). The layering, bottom up: util; the model (schema, versions,
// the source table); the adapters (kube, helm, ssh, openstack, tools); the
// engine (config, plan, engine, components, layers); the run session
// (run.ts, lock); the GitHub side (github, artifact); the faces (action, cli).

const ENGINE = '^src/(engine|layers|components|plan|model|config)/';
const ADAPTERS = '^src/(kube|helm|ssh|openstack|tools)/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle makes load order matter and the modules impossible to read or test one at a time.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'model-stands-alone',
      comment:
        'The model is plain data and its schema: the editor schema script and every layer read it without loading anything else.',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/model/' },
    },
    {
      name: 'util-stands-alone',
      comment: 'Helpers everyone uses cannot depend on anyone, or every import risks a cycle.',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'adapters-know-no-engine',
      comment:
        'Clients for Kubernetes, Helm, SSH, OpenStack and downloads serve any layer; they take settings, not layers or plans.',
      severity: 'error',
      from: { path: ADAPTERS },
      to: {
        path: '^src/',
        pathNot: [ADAPTERS, '^src/(util|model)/'],
      },
    },
    {
      name: 'adapters-through-their-index',
      comment: 'Each adapter has one public surface (its index.ts), so what it exposes is a decision, not an accident.',
      severity: 'error',
      from: { path: '^src/([^/]+)' },
      to: { path: '^src/(kube|helm|ssh|tools|components)/', pathNot: ['^src/$1/', '/index\\.ts$'] },
    },
    {
      name: 'engine-knows-no-github',
      comment:
        'The engine runs the same from the CLI and the action: GitHub, the artifact upload and the toolkit belong to the action side.',
      severity: 'error',
      from: { path: ENGINE },
      to: { path: ['^src/(github|action|artifact|cli|lock)/', '^src/run\\.ts$', '(^|/)node_modules/@actions/'] },
    },
    {
      name: 'actions-toolkit-in-action-side-only',
      comment: 'Only the action and its GitHub helpers run on a runner; the CLI bundle must not carry the toolkit.',
      severity: 'error',
      // Exception: the runner cache loads @actions/cache and tool-cache lazily,
      // only on a runner; it goes once the action passes its cache in (issue 9, item 5).
      from: { path: '^src/', pathNot: ['^src/(action|github|artifact)/', '^src/tools/cache\\.ts$'] },
      to: { path: '(^|/)node_modules/@actions/' },
    },
    {
      name: 'faces-are-leaves',
      comment:
        'The action and the CLI only translate to and from the run session; sharing goes through the session, not one face into another.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(action|cli)/' },
      to: { path: '^src/(action|cli)/' },
    },
    {
      name: 'faces-do-not-import-each-other',
      comment:
        'Each face is bundled alone (dist/index.js, dist/cli/index.js); importing the other would pull it into the bundle.',
      severity: 'error',
      from: { path: '^src/(action|cli)/' },
      to: { path: '^src/(action|cli)/', pathNot: '^src/$1/' },
    },
    {
      name: 'src-ships-no-dev-dependency',
      comment: 'src/ is what the bundles hold; a devDependency is missing from a production install.',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
