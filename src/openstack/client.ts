/**
 * The REST implementation of `OpenStackClient`, and the factory that builds
 * one on the run's shared session (src/openstack/connection.ts).
 */
import type { CloudConfig } from './cloud-config.js';
import { openSession, runSession, type OpenStackSettings } from './connection.js';
import { NovaApi } from './compute.js';
import { OctaviaApi } from './load-balancer.js';
import { NeutronApi } from './network.js';
import { Session, type ServiceType, type SessionOptions } from './session.js';
import { CinderApi, GlanceApi } from './storage.js';
import type { OpenStackClient } from './types.js';

export class RestOpenStackClient implements OpenStackClient {
  readonly session: Session;
  readonly network: NeutronApi;
  readonly compute: NovaApi;
  readonly image: GlanceApi;
  readonly volume: CinderApi;
  readonly loadBalancer: OctaviaApi;

  /** On a session of its own for `cloud`, or on a session it shares (the run's). */
  constructor(cloud: CloudConfig | Session, opts: SessionOptions = {}) {
    this.session = cloud instanceof Session ? cloud : openSession(cloud, opts);
    this.network = new NeutronApi(this.session);
    this.compute = new NovaApi(this.session);
    this.image = new GlanceApi(this.session);
    this.volume = new CinderApi(this.session);
    this.loadBalancer = new OctaviaApi(this.session);
  }

  hasService = (t: ServiceType) => this.session.hasService(t);
  stats = () => this.session.transport.stats();
  resetStats = () => this.session.transport.resetStats();

  listSecurityGroups: OpenStackClient['listSecurityGroups'] = (f) => this.network.listSecurityGroups(f);
  createSecurityGroup: OpenStackClient['createSecurityGroup'] = (x) => this.network.createSecurityGroup(x);
  deleteSecurityGroup: OpenStackClient['deleteSecurityGroup'] = (id) => this.network.deleteSecurityGroup(id);
  createSecurityGroupRule: OpenStackClient['createSecurityGroupRule'] = (g, r) =>
    this.network.createSecurityGroupRule(g, r);
  deleteSecurityGroupRule: OpenStackClient['deleteSecurityGroupRule'] = (id) =>
    this.network.deleteSecurityGroupRule(id);
  listNetworks: OpenStackClient['listNetworks'] = (f) => this.network.listNetworks(f);
  createNetwork: OpenStackClient['createNetwork'] = (x) => this.network.createNetwork(x);
  updateNetwork: OpenStackClient['updateNetwork'] = (id, p) => this.network.updateNetwork(id, p);
  deleteNetwork: OpenStackClient['deleteNetwork'] = (id) => this.network.deleteNetwork(id);
  listSubnets: OpenStackClient['listSubnets'] = (f) => this.network.listSubnets(f);
  createSubnet: OpenStackClient['createSubnet'] = (x) => this.network.createSubnet(x);
  updateSubnet: OpenStackClient['updateSubnet'] = (id, p) => this.network.updateSubnet(id, p);
  deleteSubnet: OpenStackClient['deleteSubnet'] = (id) => this.network.deleteSubnet(id);
  listRouters: OpenStackClient['listRouters'] = (f) => this.network.listRouters(f);
  createRouter: OpenStackClient['createRouter'] = (x) => this.network.createRouter(x);
  setRouterGateway: OpenStackClient['setRouterGateway'] = (id, n) => this.network.setRouterGateway(id, n);
  deleteRouter: OpenStackClient['deleteRouter'] = (id) => this.network.deleteRouter(id);
  addRouterInterface: OpenStackClient['addRouterInterface'] = (r, s) => this.network.addRouterInterface(r, s);
  removeRouterInterface: OpenStackClient['removeRouterInterface'] = (r, s) => this.network.removeRouterInterface(r, s);
  listPorts: OpenStackClient['listPorts'] = (f) => this.network.listPorts(f);
  listFloatingIps: OpenStackClient['listFloatingIps'] = (f) => this.network.listFloatingIps(f);
  createFloatingIp: OpenStackClient['createFloatingIp'] = (x) => this.network.createFloatingIp(x);
  getFloatingIp: OpenStackClient['getFloatingIp'] = (id) => this.network.getFloatingIp(id);
  associateFloatingIp: OpenStackClient['associateFloatingIp'] = (id, p) => this.network.associateFloatingIp(id, p);
  deleteFloatingIp: OpenStackClient['deleteFloatingIp'] = (id) => this.network.deleteFloatingIp(id);
  setTags: OpenStackClient['setTags'] = (c, id, t) => this.network.setTags(c, id, t);

  listFlavors: OpenStackClient['listFlavors'] = () => this.compute.listFlavors();
  getKeypair: OpenStackClient['getKeypair'] = (n) => this.compute.getKeypair(n);
  createKeypair: OpenStackClient['createKeypair'] = (n, k) => this.compute.createKeypair(n, k);
  deleteKeypair: OpenStackClient['deleteKeypair'] = (n) => this.compute.deleteKeypair(n);
  listServers: OpenStackClient['listServers'] = (f) => this.compute.listServers(f);
  listServersByPrefix: OpenStackClient['listServersByPrefix'] = (p) => this.compute.listServersByPrefix(p);
  computeLimits: OpenStackClient['computeLimits'] = () => this.compute.computeLimits();
  getServer: OpenStackClient['getServer'] = (id) => this.compute.getServer(id);
  createServer: OpenStackClient['createServer'] = (x) => this.compute.createServer(x);
  deleteServer: OpenStackClient['deleteServer'] = (id) => this.compute.deleteServer(id);
  setServerTags: OpenStackClient['setServerTags'] = (id, t) => this.compute.setServerTags(id, t);
  listVolumeAttachments: OpenStackClient['listVolumeAttachments'] = (id) => this.compute.listVolumeAttachments(id);
  attachVolume: OpenStackClient['attachVolume'] = (s, v) => this.compute.attachVolume(s, v);
  detachVolume: OpenStackClient['detachVolume'] = (s, v) => this.compute.detachVolume(s, v);

  findImages: OpenStackClient['findImages'] = (r) => this.image.findImages(r);
  listImageNames: OpenStackClient['listImageNames'] = () => this.image.listImageNames();

  listVolumes: OpenStackClient['listVolumes'] = (f) => this.volume.listVolumes(f);
  getVolume: OpenStackClient['getVolume'] = (id) => this.volume.getVolume(id);
  createVolume: OpenStackClient['createVolume'] = (x) => this.volume.createVolume(x);
  extendVolume: OpenStackClient['extendVolume'] = (id, n) => this.volume.extendVolume(id, n);
  deleteVolume: OpenStackClient['deleteVolume'] = (id) => this.volume.deleteVolume(id);
  volumeLimits: OpenStackClient['volumeLimits'] = () => this.volume.volumeLimits();

  floatingIpQuota: OpenStackClient['floatingIpQuota'] = () => this.network.floatingIpQuota();
  loadBalancerQuota: OpenStackClient['loadBalancerQuota'] = () => this.loadBalancer.loadBalancerQuota();
}

/** A client on the run's shared session: `settings` is the environment's `openstack` section, `envDir` its directory. */
export function createOpenStackClient(
  settings: OpenStackSettings,
  envDir: string,
  opts: SessionOptions = {},
): RestOpenStackClient {
  return new RestOpenStackClient(runSession(settings, envDir, opts));
}
