export { type CachedDependency, DependencyCache, DependencyContentError } from "./cache.js";
export { isUpdated, type PinRequest, pinDependency } from "./pin.js";
export {
  checkDependencyTrust,
  type Dependency,
  type DependencyKind,
  type OpenedDependency,
  openDependency,
  resolveDependency,
} from "./remote.js";
