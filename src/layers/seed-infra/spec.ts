/**
 * What seed-infra wants, derived from the environment alone: names, the
 * ownership marks, the security group rules. Pure.
 */
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Desired } from '../../model/desired.js';
import type { RuleSpec } from '../../openstack/types.js';

/** Metadata key that marks Nova servers and Cinder volumes as ours (Cinder has no tags). */
export const ENV_METADATA_KEY = 'capi-mgmt-env';
/** Server metadata holding the fingerprint of the public key it was built with. */
export const KEY_METADATA_KEY = 'capi-mgmt-key';

export interface SeedSpec {
  tag: string;
  /** Description set at create time: marks a resource ours even before its tag is set. */
  marker: string;
  names: {
    securityGroup: string;
    network: string;
    subnet: string;
    router: string;
    keypair: string;
    volume: string;
    server: string;
  };
  rules: RuleSpec[];
  publicKey: string;
  keyFingerprint: string;
}

export function seedSpec(desired: Desired): SeedSpec {
  const n = desired.seedName;
  const publicKey = desired.config.seed.sshPublicKey.trim();
  return {
    tag: desired.tag,
    marker: `managed by capi-mgmt (${desired.tag})`,
    names: {
      securityGroup: n,
      network: n,
      subnet: n,
      router: n,
      keypair: n,
      volume: `${n}-data`,
      server: n,
    },
    rules: desiredRules(desired.config.seed.allowedSshCidrs),
    publicKey,
    keyFingerprint: keyFingerprint(publicKey),
  };
}

/** OpenSSH-style SHA256 fingerprint of the key blob (the comment does not count). */
export function keyFingerprint(publicKey: string): string {
  const blob = publicKey.trim().split(/\s+/)[1] ?? '';
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** Same key, whatever the comment. */
export function samePublicKey(a: string, b: string): boolean {
  const core = (k: string) => k.trim().split(/\s+/).slice(0, 2).join(' ');
  return core(a) === core(b);
}

/** SSH in from each allowed CIDR, all egress; nothing else (the cloud's default rules go). */
export function desiredRules(allowedSshCidrs: readonly string[]): RuleSpec[] {
  const rules: RuleSpec[] = [];
  const families = new Set<'IPv4' | 'IPv6'>(['IPv4']);
  for (const c of allowedSshCidrs) {
    const ethertype = ipaddr.parseCIDR(c)[0].kind() === 'ipv6' ? 'IPv6' : 'IPv4';
    families.add(ethertype);
    rules.push({
      direction: 'ingress',
      ethertype,
      protocol: 'tcp',
      portRangeMin: 22,
      portRangeMax: 22,
      remoteIpPrefix: c,
    });
  }
  for (const ethertype of families) {
    rules.push({
      direction: 'egress',
      ethertype,
      protocol: null,
      portRangeMin: null,
      portRangeMax: null,
      remoteIpPrefix: null,
    });
  }
  return rules;
}

const PROTOCOL_NAMES: Record<string, string> = { '1': 'icmp', '6': 'tcp', '17': 'udp', '58': 'ipv6-icmp' };

/**
 * A rule's identity for comparison. Neutron may keep "0.0.0.0/0" or drop it
 * to null, and protocols may be numbers; both mean the same rule.
 */
export function ruleKey(r: RuleSpec): string {
  const any = r.remoteIpPrefix === '0.0.0.0/0' || r.remoteIpPrefix === '::/0' || r.remoteIpPrefix === null;
  const proto = r.protocol === null || r.protocol === 'any' ? 'any' : (PROTOCOL_NAMES[r.protocol] ?? r.protocol);
  return [
    r.direction,
    r.ethertype,
    proto,
    r.portRangeMin ?? '*',
    r.portRangeMax ?? '*',
    any ? 'any' : r.remoteIpPrefix,
  ].join(' ');
}

/** A short human form: "ingress IPv4 tcp 22 from 10.0.0.0/8". */
export function describeRule(r: RuleSpec): string {
  const ports =
    r.portRangeMin === null
      ? ''
      : r.portRangeMin === r.portRangeMax
        ? ` ${r.portRangeMin}`
        : ` ${r.portRangeMin}-${r.portRangeMax}`;
  const where = r.direction === 'ingress' ? ` from ${r.remoteIpPrefix ?? 'any'}` : ` to ${r.remoteIpPrefix ?? 'any'}`;
  return `${r.direction} ${r.ethertype} ${r.protocol ?? 'any'}${ports}${where}`;
}
