/**
 * The multi-host lab on network namespaces: {@link Lab} builds and removes it, {@link withLab} wraps it
 * for tests and benchmarks, {@link removeLab} cleans up from a prefix alone.
 *
 * @module
 */
export {
  CLOCK_TICKS,
  convergedAt,
  describe,
  type Exit,
  Fleet,
  parseMetrics,
  type ProcSample,
  sumFamily,
} from "./fleet.ts";
export { Lab, type LabHost, type LabOptions, type SpawnOptions } from "./lab.ts";
export { allNamespaces, labNamespaces, removeLab, removeNamespaces } from "./namespaces.ts";
export { labContainerAddress, launchMeshnet, meshnet, meshnetDataDir, startMeshnet } from "./meshnet.ts";
export { type LabState, readState } from "./state.ts";
export { TOPOLOGIES, type Topology } from "./topology.ts";
export { uniquePrefix, withLab } from "./with_lab.ts";
