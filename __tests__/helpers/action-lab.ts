/** What action lab tests read from the lab: the seed's kubeconfig and OpenStack, for checking the lock. */
import fs from 'node:fs';
import path from 'node:path';
import { parseCloud } from '../../src/openstack/cloud-config.js';
import { NeutronApi } from '../../src/openstack/network.js';
import { Session } from '../../src/openstack/session.js';
import { createKubeClient, type KubeClient } from '../../src/kube/index.js';
import { labEnv } from '../../test/lab/mirror/lab.js';
import { labCloudsYamlPath } from './action-fixture.js';

/** Path of the lab `seed` cluster's kubeconfig; the test layers hand it on as the seed's API. */
export function labSeedKubeconfigPath(): string {
  const p = process.env.CAPI_LAB_KUBECONFIG_SEED ?? labEnv().CAPI_LAB_KUBECONFIG_SEED;
  if (!p || !fs.existsSync(p)) throw new Error('the Kubernetes lab is not up: run test/lab/k8s/up.sh');
  return p;
}

export function labKube(): KubeClient {
  return createKubeClient(fs.readFileSync(labSeedKubeconfigPath(), 'utf8'));
}

export function labNeutron(): NeutronApi {
  if (!fs.existsSync(labCloudsYamlPath)) throw new Error('the OpenStack lab is not up: run test/lab/openstack/up.sh');
  const cloud = parseCloud(fs.readFileSync(labCloudsYamlPath, 'utf8'), 'lab', {
    baseDir: path.dirname(labCloudsYamlPath),
  });
  return new NeutronApi(new Session(cloud));
}
