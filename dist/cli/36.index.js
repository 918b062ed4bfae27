export const id = 36;
export const ids = [36];
export const modules = {

/***/ 73036:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  lockName: () => (/* binding */ lockName),
  productionLockPlaces: () => (/* binding */ productionLockPlaces)
});

// EXTERNAL MODULE: ./src/openstack/connection.ts + 1 modules
var connection = __webpack_require__(56633);
// EXTERNAL MODULE: ./src/openstack/network.ts
var network = __webpack_require__(66014);
// EXTERNAL MODULE: ./src/kube/index.ts + 886 modules
var kube = __webpack_require__(51942);
;// CONCATENATED MODULE: ./src/lock/lease.ts
/**
 * The lock as a Kubernetes Lease (coordination.k8s.io/v1) on the seed.
 * Every write carries the resourceVersion it read, so two runs racing for
 * a free or expired lease cannot both win: the API server refuses one (409).
 */

const LEASE_NAMESPACE = 'kube-system';
/** MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (d) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
class LeaseLock {
    name;
    namespace;
    description;
    kube;
    ref;
    constructor(kubeconfig, name, namespace = LEASE_NAMESPACE) {
        this.name = name;
        this.namespace = namespace;
        this.kube = typeof kubeconfig === 'string' ? (0,kube/* createKubeClient */.FD)(kubeconfig) : kubeconfig;
        this.ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name, namespace };
        this.description = `Lease ${namespace}/${name} on the seed`;
    }
    async read() {
        return (await this.kube.get(this.ref));
    }
    stateOf(l) {
        const holder = l.spec?.holderIdentity;
        if (!holder)
            return undefined;
        const renewed = Date.parse(l.spec?.renewTime ?? l.spec?.acquireTime ?? '') || 0;
        return { holder, expiresAt: new Date(renewed + (l.spec?.leaseDurationSeconds ?? 0) * 1000) };
    }
    body(holder, ttl, resourceVersion, acquired) {
        const now = microTime(new Date());
        return {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.name, namespace: this.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
            spec: { holderIdentity: holder, leaseDurationSeconds: ttl, acquireTime: acquired ?? now, renewTime: now },
        };
    }
    async tryAcquire(holder, ttlSeconds) {
        const lease = await this.read();
        try {
            if (!lease) {
                await this.kube.create(this.body(holder, ttlSeconds));
                return { ok: true };
            }
            const current = this.stateOf(lease);
            const ours = current?.holder === holder;
            if (current && !ours && current.expiresAt.getTime() > Date.now())
                return { ok: false, current };
            // Free, expired (a crashed run: take it over) or ours (renew); the resourceVersion makes it a compare-and-swap.
            await this.kube.replace(this.body(holder, ttlSeconds, lease.metadata.resourceVersion, ours ? lease.spec?.acquireTime : undefined));
            return { ok: true };
        }
        catch (e) {
            if ((0,kube/* isConflict */.dh)(e))
                return this.lost();
            throw e;
        }
    }
    /** Someone wrote between our read and our write: report them as the holder. */
    async lost() {
        const l = await this.read();
        const current = l && this.stateOf(l);
        return { ok: false, current: current ?? { holder: 'another run', expiresAt: new Date() } };
    }
    async renew(holder, ttlSeconds) {
        const r = await this.tryAcquire(holder, ttlSeconds);
        if (!r.ok)
            throw new Error(`${this.description} was taken over by ${r.current.holder}`);
    }
    async release(holder) {
        const lease = await this.read();
        if (!lease || lease.spec?.holderIdentity !== holder)
            return;
        try {
            // Gone already (404) is fine: delete reports false.
            await this.kube.delete(this.ref, { resourceVersion: lease.metadata.resourceVersion });
        }
        catch (e) {
            // Changed since we read it: taken over after expiry, so no longer ours to delete.
            if (!(0,kube/* isConflict */.dh)(e))
                throw e;
        }
    }
}

// EXTERNAL MODULE: ./src/util/wait.ts
var wait = __webpack_require__(91643);
// EXTERNAL MODULE: ./src/lock/types.ts
var types = __webpack_require__(41254);
;// CONCATENATED MODULE: ./src/lock/openstack-marker.ts


const PREFIX = 'capi-mgmt lock ';
function parse(g) {
    if (!g.description.startsWith(PREFIX))
        return undefined;
    try {
        const v = JSON.parse(g.description.slice(PREFIX.length));
        if (typeof v.holder !== 'string' || typeof v.expiresAt !== 'string')
            return undefined;
        return { id: g.id, holder: v.holder, expiresAt: new Date(v.expiresAt) };
    }
    catch {
        return undefined;
    }
}
class OpenStackMarkerLock {
    store;
    name;
    description;
    constructor(store, name) {
        this.store = store;
        this.name = name;
        this.description = `lock marker (security group ${name}) on OpenStack`;
    }
    async markers() {
        const all = (await this.store.listSecurityGroups({ name: this.name })).filter((g) => g.name === this.name);
        const live = [];
        for (const g of all) {
            const m = parse(g);
            if (!m)
                continue;
            // A crashed run's marker: take it over by removing it.
            if ((0,types/* isExpired */._)(m))
                await this.store.deleteSecurityGroup(m.id);
            else
                live.push(m);
        }
        return live;
    }
    async create(holder, ttlSeconds) {
        const expiresAt = new Date(Date.now() + ttlSeconds * 1000).toISOString();
        const g = await this.store.createSecurityGroup({
            name: this.name,
            description: `${PREFIX}${JSON.stringify({ holder, expiresAt })}`,
            tags: [],
        });
        return g.id;
    }
    async tryAcquire(holder, ttlSeconds) {
        const before = await this.markers();
        const other = before.find((m) => m.holder !== holder);
        if (other)
            return { ok: false, current: other };
        if (before.length > 0)
            return { ok: true }; // already ours
        const id = await this.create(holder, ttlSeconds);
        const rival = (await this.markers()).find((m) => m.holder !== holder);
        if (!rival)
            return { ok: true };
        await this.store.deleteSecurityGroup(id);
        // Both racers may have backed off: a random pause lets one go first next time.
        await (0,wait/* sleep */.yy)(Math.random() * 2000);
        return { ok: false, current: rival };
    }
    /** Description cannot be edited through the small interface: add a fresh marker, drop the old ones. */
    async renew(holder, ttlSeconds) {
        const mine = (await this.markers()).filter((m) => m.holder === holder);
        if (mine.length === 0)
            throw new Error(`${this.description} is no longer ours`);
        await this.create(holder, ttlSeconds);
        for (const m of mine)
            await this.store.deleteSecurityGroup(m.id);
    }
    async release(holder) {
        for (const m of await this.markers())
            if (m.holder === holder)
                await this.store.deleteSecurityGroup(m.id);
    }
}

;// CONCATENATED MODULE: ./src/lock/backends.ts
/** The production lock places: Neutron markers through src/openstack, a Lease on the seed. */




const lockName = (environment) => `capi-mgmt-${environment}-lock`;
function openStackLock(ctx) {
    // The run's session: the lock and seed-infra share one Keystone login.
    const session = (0,connection/* runSession */.Ie)(ctx.desired.config.openstack, ctx.desired.dir, { log: (m) => ctx.log.debug(m) });
    const neutron = new network/* NeutronApi */.Q(session);
    return new OpenStackMarkerLock(neutron, lockName(ctx.desired.name));
}
function seedLease(seedKubeconfig, ctx) {
    return new LeaseLock(seedKubeconfig, lockName(ctx.desired.name));
}
/** Where changing runs lock an environment: a Neutron marker until the seed exists, then a Lease on the seed. */
const productionLockPlaces = { preSeed: openStackLock, onSeed: seedLease };


/***/ })

};
