// Carves boxd's address pool (a /16) into /28 subnets, one per box: 4096 boxes per instance pool.

export const SUBNETS_PER_POOL = 4096;

export interface Subnet {
  cidr: string;
  gateway: string;
  boxIp: string;
}

export function subnetAt(pool: string, index: number): Subnet {
  if (index < 0 || index >= SUBNETS_PER_POOL) throw new Error(`subnet index ${index} out of range`);
  const [a, b] = pool.split(".").map(Number) as [number, number];
  const offset = index * 16;
  const c = Math.floor(offset / 256);
  const d = offset % 256;
  return {
    cidr: `${a}.${b}.${c}.${d}/28`,
    gateway: `${a}.${b}.${c}.${d + 1}`,
    boxIp: `${a}.${b}.${c}.${d + 2}`,
  };
}
